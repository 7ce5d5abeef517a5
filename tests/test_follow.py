"""What `logs` and `events` show and follow, in-process: an agent's screen and the event log read
again and again, only what is new yielded. The commands themselves run in test_commands.py and
test_results.py."""

from __future__ import annotations

import json
import time

import pytest

from orchestra.errors import OrchestraError, UnknownAgent
from orchestra.follow import agent_screen, follow_events, follow_screen, read_events, screen_lines
from support import spawn_demo, tmux, wait_observed


def test_screen_lines_drop_the_blank_rows_and_the_pane_is_dead_line():
    text = "one\n\n  two\n\nPane is dead (status 0, Thu Jan  1 00:00:00 2026)\n   \n"
    assert screen_lines(text) == ["one", "", "  two"]
    assert screen_lines("") == []


def test_following_a_screen_ends_when_the_agent_exits(project):
    spawn_demo(project, "follow me", delay="0.3")
    screen = agent_screen(project, "follow-me")
    deadline = time.monotonic() + 20
    followed = list(follow_screen(project, screen, every=0.05, until=deadline))
    assert time.monotonic() < deadline, "it stopped at the deadline, not when the agent exited"
    shown = screen.lines + followed
    assert shown[-1] == "done: wrote and committed notes/follow-me.md"
    assert "task: follow me" in shown and len(shown) == len(set(shown)), "each line once"
    assert not any(line.startswith("Pane is dead") for line in shown)
    assert agent_screen(project, "follow-me", 1).lines[-1] == shown[-1]


def test_a_lost_agent_has_no_screen_to_show(project, isolated):
    spawn_demo(project, "short lived", delay="60")
    wait_observed(project, {"short-lived": "running"})
    tmux(isolated, "kill-server")
    with pytest.raises(OrchestraError) as raised:
        agent_screen(project, "short-lived")
    assert str(raised.value) == (
        "agent 'short-lived' has no screen to show (it is lost). `orchestra resume short-lived` opens it again."
    )


def write(path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def line(**event) -> bytes:
    return json.dumps(event).encode() + b"\n"


def test_read_events_skips_damaged_lines_and_stops_before_a_torn_one(project):
    assert read_events(project).events == [] and read_events(project).offset == 0
    path = project.state.events_path
    path.parent.mkdir(parents=True, exist_ok=True)
    write(
        path, line(type="spawned", agent="a") + b"\xff garbage\n[1, 2]\n" + line(type="spawned", agent="b") + b'{"tru'
    )
    log = read_events(project)
    assert [e["agent"] for e in log.events] == ["a", "b"]
    assert log.offset == path.stat().st_size - len(b'{"tru')
    assert read_events(project, "b").events == [{"type": "spawned", "agent": "b"}]
    with pytest.raises(UnknownAgent, match=r"^there is no agent named 'c' in this project's log"):
        read_events(project, "c")


def test_following_the_log_yields_each_new_event_once_even_written_in_pieces(project):
    path = project.state.events_path
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, line(type="spawned", agent="old"))
    events = follow_events(path, read_events(project).offset, every=0.01, until=time.monotonic() + 20)
    write(path, line(type="status", agent="a", status="running") + b'{"type": "status", "ag')
    assert next(events) == {"type": "status", "agent": "a", "status": "running"}
    write(path, b'ent": "b"}\n')
    assert next(events) == {"type": "status", "agent": "b"}
    path.write_bytes(line(type="spawned", agent="new"))  # the log replaced by a shorter one
    assert next(events) == {"type": "spawned", "agent": "new"}
    events.close()


def test_following_one_agent_and_stopping_at_the_deadline(project):
    path = project.state.events_path
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, line(type="spawned", agent="a") + line(type="spawned", agent="b") + line(type="status", agent="a"))
    started = time.monotonic()
    assert list(follow_events(path, 0, "a", every=0.01, until=started + 0.3)) == [
        {"type": "spawned", "agent": "a"},
        {"type": "status", "agent": "a"},
    ]
    assert time.monotonic() - started < 5
