"""An agent is bound to a tmux pane by orchestra's own mark on it, never by a tmux id alone.

A new tmux server (after a reboot, or `tmux kill-server`) numbers windows and panes from the
start again: the ids of lost agents then name other agents' panes, and nothing may act on them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from support import agents_json, screen, statuses, tmux, wait_for, wait_statuses

pytestmark = pytest.mark.slow


@pytest.fixture
def slow(monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")


def restart_tmux_with_three_lost(orchestra, isolated) -> dict[str, dict]:
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "aaa", "first")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "bbb", "second")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "ccc", "third")
    before = {a["name"]: a for a in wait_statuses(orchestra, {"aaa": "running", "bbb": "running", "ccc": "running"})}
    tmux(isolated, "kill-server")
    return before


def check_nothing_acts_on_the_lost(orchestra, isolated, survivor: str) -> None:
    """`send`, `logs`, `attach` and `kill --force` of a lost agent never reach the pane that now
    has its old ids."""
    pane = next(a for a in agents_json(orchestra) if a["name"] == survivor)["pane"]
    refused = orchestra("send", "aaa", "MARKER-FOR-AAA", check=False)
    assert refused.returncode == 1 and "lost" in refused.stderr
    assert "MARKER-FOR-AAA" not in screen(isolated, pane)
    for command in (["logs", "aaa"], ["attach", "aaa"]):
        shown = orchestra(*command, check=False)
        assert shown.returncode == 1 and "lost" in shown.stderr and "task:" not in shown.stdout
    orchestra("kill", "--force", "aaa")
    assert statuses(orchestra)[survivor] == "running"
    alive = tmux(isolated, "display-message", "-p", "-t", pane, "#{pane_dead}").stdout.strip()
    assert alive == "0", f"kill aaa killed {survivor}'s pane"


def test_a_new_agent_on_a_new_server_is_not_taken_for_a_lost_one(orchestra, isolated, slow):
    before = restart_tmux_with_three_lost(orchestra, isolated)
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "ddd", "fourth")
    agents = {
        a["name"]: a for a in wait_statuses(orchestra, {"aaa": "lost", "bbb": "lost", "ccc": "lost", "ddd": "running"})
    }
    assert agents["ddd"]["pane"] == before["aaa"]["pane"], (
        "the new server reused the first pane id (the case under test)"
    )
    assert all(agents[n]["pane"] is None for n in ("aaa", "bbb", "ccc")), "a lost agent keeps no pane id"
    check_nothing_acts_on_the_lost(orchestra, isolated, "ddd")


def test_a_resumed_agent_on_a_new_server_is_not_taken_for_another(orchestra, isolated, slow):
    restart_tmux_with_three_lost(orchestra, isolated)
    orchestra("resume", "ccc")
    wait_statuses(orchestra, {"aaa": "lost", "bbb": "lost", "ccc": "running"})
    check_nothing_acts_on_the_lost(orchestra, isolated, "ccc")


KILLED_SPAWN = """
    import os, signal, sys
    from orchestra.tmux import Tmux
    from orchestra.cli import main

    opened = Tmux.new_agent_windows

    def open_then_die(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # the window is open; its pane is not recorded yet

    Tmux.new_agent_windows = open_then_die
    main(["spawn", "--agent", "demo", "--no-attach", "--name", "orphan", "a task"])
"""


def test_a_spawn_killed_right_after_opening_its_window_leaves_a_running_agent(orchestra, repo, isolated, slow):
    script = textwrap.dedent(KILLED_SPAWN)
    killed = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, timeout=60)
    assert killed.returncode == -9
    (record,) = json.loads((repo / ".git/orchestra/state.json").read_text())["agents"].values()
    assert record["pane"] is None, "the spawn died before recording the pane (the case under test)"
    (agent,) = wait_statuses(orchestra, {"orphan": "running"})
    assert agent["pane"] is not None and agent["window"] is not None
    refused = orchestra("resume", "orphan", check=False)
    assert refused.returncode == 1 and "not lost" in refused.stderr, "resume must not start a second copy"
    orchestra("send", "orphan", "hello")
    wait_for(lambda: "hello" in screen(isolated, agent["pane"]), what="the text on the agent's screen")
