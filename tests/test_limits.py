"""Usage limits waited out: the real Claude Code against the stand-in API answering 429, then recovering."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import pytest

from claude_api import Error, Text
from orchestra import limits
from orchestra.state import State
from support import agents_json, git, screen, wait_for, wait_statuses

RATE_LIMITED = Error(429, "rate_limit_error", "This request would exceed your rate limit", (("retry-after", "1"),))


def by_name(orchestra) -> dict[str, dict]:
    return {a["name"]: a for a in agents_json(orchestra)}


def status_log(repo, name: str) -> list[str]:
    return [
        e["status"]
        for e in State(repo / ".git" / "orchestra").read_events()
        if e["type"] == "status" and e["agent"] == name
    ]


def configure(repo, schedule: str) -> None:
    text = (repo / "orchestra.toml").read_text()
    (repo / "orchestra.toml").write_text(text + f"[schedule]\n{schedule}\n")
    git(repo, "commit", "-qam", "schedule")


def test_a_limited_agent_holds_its_kind_and_goes_on_at_the_reset(orchestra, claude_home, claude_api, repo, monkeypatch):
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")  # the 429 reaches the hooks at once, not after ten retries
    configure(repo, 'limit_backoff = "12s"')
    claude_api.script([RATE_LIMITED, Text("Picked up again.")], prompt="write the parser")
    claude_api.script([Text("Tests written.")], prompt="write the tests")
    orchestra("spawn", "--no-attach", "write the parser")
    (agent,) = wait_statuses(orchestra, {"write-the-parser": "limited"}, timeout=60)
    assert "429" in agent["error"] and "rate_limit" in agent["error"]
    left = datetime.datetime.fromisoformat(agent["limited_until"]) - datetime.datetime.now(datetime.timezone.utc)
    assert 0 < left.total_seconds() <= 12, "no reset time given: the back-off from orchestra.toml"
    assert "until " in orchestra("ls").stdout

    # Another claude agent would only hit the same limit: it waits. Another kind starts.
    orchestra("spawn", "--no-attach", "write the tests")
    orchestra("spawn", "--no-attach", "--agent", "demo", "a demo")
    held = by_name(orchestra)["write-the-tests"]
    assert held["status"] == "queued" and "usage limit of claude agents" in held["waits_for"]
    assert by_name(orchestra)["a-demo"]["status"] != "queued"

    agents = wait_statuses(
        orchestra, {"write-the-parser": "done", "write-the-tests": "done", "a-demo": "exited"}, timeout=90
    )
    parser = next(a for a in agents if a["name"] == "write-the-parser")
    assert parser["last_message"] == "Picked up again." and parser["limited_until"] is None
    told = [r for r in claude_api.main_requests if limits.CONTINUE in json.dumps(r.body)]
    assert told, "told to go on"
    assert json.dumps(told[-1].body).count(limits.CONTINUE) == 1, "once"
    assert status_log(repo, "write-the-parser") == ["starting", "running", "limited", "running", "done"]
    tests_log = status_log(repo, "write-the-tests")
    assert tests_log[0] == "queued" and tests_log[-1] == "done"


def test_on_limit_fail_makes_a_limit_an_error(orchestra, claude_home, claude_api, repo, monkeypatch):
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")
    configure(repo, 'on_limit = "fail"\nlimit_backoff = "1s"')
    claude_api.script([RATE_LIMITED])
    orchestra("spawn", "--no-attach", "hit the limit")
    (agent,) = wait_statuses(orchestra, {"hit-the-limit": "failed"}, timeout=60)
    assert "429" in agent["error"] and agent["limited_until"] is None and agent["exit_code"] is None
    assert status_log(repo, "hit-the-limit") == ["starting", "running", "failed"]


WAITER = "#!/bin/sh\nwhile :; do sleep 1; done\n"


@pytest.fixture
def waiting(orchestra, repo, tmp_path) -> str:
    """An agent `wait` of a kind without hooks, running until killed."""
    tool = tmp_path / "waiter"
    tool.write_text(WAITER)
    tool.chmod(0o755)
    (repo / "orchestra.toml").write_text(f"[agents.waiter]\ncommand = [{json.dumps(str(tool))}]\n")
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "a waiting agent")
    orchestra("spawn", "--agent", "waiter", "--no-attach", "wait")
    wait_statuses(orchestra, {"wait": "running"})
    return "wait"


def test_a_limit_whose_timer_was_lost_ends_at_the_next_look(orchestra, repo, isolated, waiting):
    """A laptop asleep through the reset: the first command that reads the agents ends the limit,
    once, and types the prompt into the pane that is provably the agent's."""
    state = State(repo / ".git" / "orchestra")
    long_ago = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)).isoformat()
    with state.update_raw() as records:
        records["wait"].update(status="limited", limited_until=long_ago, error="a usage limit")
    for _ in range(3):
        orchestra("ls")
    (agent,) = wait_statuses(orchestra, {"wait": "running"})
    wait_for(lambda: limits.CONTINUE in " ".join(screen(isolated, agent["pane"]).split()), what="the prompt typed")
    assert agent["limited_until"] is None and agent["error"] is None
    assert status_log(repo, "wait") == ["starting", "running", "running"]
    assert " ".join(screen(isolated, agent["pane"]).split()).count(limits.CONTINUE) == 1, "typed once"


def test_a_limited_agent_is_not_merged_and_can_be_told_to_go_on_by_hand(orchestra, repo, isolated, waiting):
    payload = json.dumps({"event": "limited", "error": "usage limit", "until": "2999-01-01T00:00:00+00:00"})
    orchestra("_hook", "--state-dir", str(repo / ".git" / "orchestra"), "wait", payload)
    wait_statuses(orchestra, {"wait": "limited"})
    refused = orchestra("merge", "wait", check=False)
    assert refused.returncode == 1 and "is still limited" in refused.stderr
    assert "now running" in orchestra("send", "wait", "go on now").stdout
    (agent,) = wait_statuses(orchestra, {"wait": "running"})
    assert agent["limited_until"] is None


def orchestra_processes_with(word: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"orchestra" in argv and word.encode() in argv:
            found.append(pid)
    return found


def test_the_wait_is_a_tmux_timer_not_a_process(orchestra, repo, isolated, waiting):
    """A kind's translator reports `limited` with a reset time; until then no orchestra process
    runs, and at that time the agent is told to go on."""
    state_dir = repo / ".git" / "orchestra"
    reset = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=6)
    payload = json.dumps({"event": "limited", "error": "usage limit", "until": reset.isoformat()})
    orchestra("_hook", "--state-dir", str(state_dir), "wait", payload)
    (agent,) = wait_statuses(orchestra, {"wait": "limited"})
    assert agent["limited_until"] == reset.isoformat(timespec="seconds")
    State(state_dir).wait_idle(10)
    # `_limit`, started by the hook handler, ends once it has set the timer: long before the reset.
    wait_for(lambda: orchestra_processes_with("_limit") == [], timeout=5, what="`_limit` to end")
    assert datetime.datetime.now(datetime.timezone.utc) < reset, "the machine was too slow to look in time"
    assert orchestra_processes_with("_limit-end") == []
    (agent,) = wait_statuses(orchestra, {"wait": "running"}, timeout=30)
    assert datetime.datetime.now(datetime.timezone.utc) >= reset - datetime.timedelta(seconds=limits.EARLY)
    wait_for(lambda: limits.CONTINUE in " ".join(screen(isolated, agent["pane"]).split()), what="the prompt typed")
