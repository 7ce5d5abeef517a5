"""`orchestra logs --follow` of an agent on a host (`spawn --host`): the host's own follow, its lines
passed through over ssh until the agent ends, against the real OpenSSH server of tests/ssh_support.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from orchestra.launch import SAFE_PATH
from test_remote_agents import on_host, wait_remote  # noqa: F401 - the host fixture, shared

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_following_a_remote_agent_shows_its_new_lines_and_ends_with_it(orchestra, repo, on_host):  # noqa: F811
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "asker", "ask first, then work")
    wait_remote(orchestra, "asker", "waiting")
    argv = [sys.executable, *SAFE_PATH, "-m", "orchestra", "logs", "--follow", "-n", "5", "asker"]
    with subprocess.Popen(argv, cwd=repo, env=dict(os.environ), stdout=subprocess.PIPE, text=True) as follow:
        assert follow.stdout is not None
        first = follow.stdout.readline()  # the screen as it is: the question is on it
        assert first.strip(), "the follow printed the screen first"
        orchestra("send", "asker", "yes")
        rest = follow.communicate(timeout=60)[0]
    shown = [first.rstrip("\n"), *rest.splitlines()]
    assert follow.returncode == 0, shown
    assert any("[y/n]" in line for line in shown), shown
    assert shown[-1] == "done: wrote and committed notes/asker.md", shown
    refused = orchestra("logs", "--follow", "nobody", check=False)
    assert refused.returncode == 1 and "nobody" in refused.stderr and "Traceback" not in refused.stderr
