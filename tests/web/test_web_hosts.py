"""The dashboard's actions on an agent that runs on a host (`spawn --host`): send, diff and kill
reach the host as the commands do, against the real OpenSSH server of tests/ssh_support.py."""

from __future__ import annotations

import pytest

from support import git
from test_remote_agents import on_host, wait_remote  # noqa: F401 - the host fixture, shared

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_the_page_answers_sends_diffs_and_kills_an_agent_on_a_host(orchestra, repo, on_host, client):  # noqa: F811
    orchestra("spawn", "--host", "box", "--agent", "demo", "--name", "asker", "ask first, then work")
    wait_remote(orchestra, "asker", "waiting")
    sent = client.post("/api/agents/asker/send", json={"text": "yes"})
    assert sent.status_code == 200 and sent.json()["message"].startswith("sent to asker"), sent.text
    wait_remote(orchestra, "asker", "exited")
    diff = client.get("/api/agents/asker/diff").json()
    assert "notes/asker.md" in diff["diff"], diff
    refused = client.post("/api/agents/asker/kill", json={"force": False})
    assert refused.status_code >= 400 and "asker" in refused.json()["error"], refused.text
    removed = client.post("/api/agents/asker/kill", json={"force": True}).json()
    assert removed["saved_ref"].startswith("refs/orchestra/trash/"), removed
    assert "notes/asker.md" in git(repo, "ls-tree", "-r", "--name-only", removed["saved_ref"])
    assert "asker" not in {a["name"] for a in client.get("/api/agents").json()}
