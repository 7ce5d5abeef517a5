"""The `notify` plugin: a message and a bell in the agent's tmux session, and notify-send."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import orchestra_notify
from orchestra.config import Config
from orchestra.errors import OrchestraError
from orchestra.models import Agent, Event, Status
from support import git, tmux, wait_for

SESSION = "orchestra-project"
TRICKY_TASK = "say \"hi\" and 'bye'; $(touch pwned) `id` #(touch pwned)\n--second line & <b>bold</b>"


def config_with(**notify_table) -> Config:
    return Config(orchestra={}, worktree={}, ports={}, merge={}, plugins={"settings": {"notify": notify_table}})


def status_event(agent: Agent) -> Event:
    return Event("status", agent=agent.name, status=agent.status.value, data={"from": "running"})


@pytest.fixture
def session(isolated):
    """The agent's session on the private tmux server: the board in window 0, agents beside it."""
    tmux(isolated, "new-session", "-d", "-s", SESSION, "-n", "board", "-x", "120", "-y", "30", "cat")
    tmux(isolated, "set-option", "-g", "remain-on-exit", "on")
    return isolated


def agent_window(socket: str, name: str, command: str = "cat", **changes) -> Agent:
    """A window for an agent named `name` (not selected: the person looks at the board)."""
    made = tmux(
        socket, "new-window", "-d", "-P", "-F", "#{window_id} #{pane_id}", "-t", f"={SESSION}:", "-n", name, command
    )
    window, pane = made.stdout.split()
    fields = dict(
        name=name,
        task=TRICKY_TASK,
        agent="demo",
        branch=f"orchestra/{name}",
        base="abc",
        worktree="/w",
        status=Status.WAITING,
        session=SESSION,
        window=window,
        pane=pane,
        waiting_for="Shall I go ahead?",
    )
    fields.update(changes)
    return Agent(**fields)


@pytest.fixture
def client(session):
    """A person attached to the session: a tmux client running in a pane of a second server.

    Yields that outer server's socket: its pane shows the client's screen, status line included.
    """
    outer = f"orchestra-test-outer-{uuid.uuid4().hex[:12]}"
    attach = ["env", "-u", "TMUX", "tmux", "-L", session, "attach-session", "-t", f"={SESSION}"]
    tmux(outer, "new-session", "-d", "-s", "outer", "-x", "120", "-y", "30", *attach)
    wait_for(lambda: tmux(session, "list-clients", "-F", "#{client_name}").stdout.strip(), what="a client to attach")
    yield outer
    tmux(outer, "kill-server")


def messages(socket: str) -> str:
    return tmux(socket, "show-messages").stdout


def screen(outer: str) -> str:
    """What the attached person sees, status line included."""
    return tmux(outer, "capture-pane", "-p", "-t", "outer").stdout


def bell(socket: str, target: str) -> str:
    return tmux(socket, "display-message", "-p", "-t", target, "#{window_bell_flag}").stdout.strip()


def test_waiting_shows_a_message_and_rings_the_agents_window(session, client):
    agent = agent_window(session, "fix-login")
    orchestra_notify.notifier(event=status_event(agent), agent=agent, config=config_with(desktop=False))
    assert "message: orchestra: fix-login is waiting for you" in messages(session)
    shown = "orchestra: fix-login is waiting for you"
    wait_for(lambda: shown in screen(client), what="the message on the client's screen")
    wait_for(lambda: bell(session, agent.window) == "1", what="the bell flag on the agent's window")
    assert bell(session, f"={SESSION}:board") == "0"
    typed = tmux(session, "capture-pane", "-p", "-t", agent.pane).stdout.strip()
    assert typed == "", "nothing was typed into the agent (cat would show it)"


def test_a_finished_agents_dead_pane_rings_the_clients_terminal(session, client):
    agent = agent_window(session, "quick", "exit 3", status=Status.FAILED, exit_code=3, waiting_for=None)
    wait_for(lambda: tmux(session, "display-message", "-p", "-t", agent.pane, "#{pane_dead}").stdout.strip() == "1")
    assert bell(client, "outer") == "0"
    orchestra_notify.notifier(event=status_event(agent), agent=agent, config=config_with(desktop=False))
    assert "message: orchestra: quick failed (exit code 3)" in messages(session)
    # The client's terminal is the outer server's pane: a bell there marks the outer window.
    wait_for(lambda: bell(client, "outer") == "1", what="the bell in the client's terminal")


def test_the_message_is_never_expanded_by_tmux(session, client):
    agent = agent_window(session, "plain")
    agent.name = "x#{session_name}#(touch pwned)#[fg=red]"
    orchestra_notify.notifier(event=status_event(agent), agent=agent, config=config_with(desktop=False))
    shown = "orchestra: x#{session_name}#(touch pwned)#[fg=red] is waiting for you"
    wait_for(lambda: shown in screen(client), what="the message, literally, on the client's screen")


def test_without_clients_or_a_server_there_is_nothing_to_do(session):
    agent = agent_window(session, "alone")
    orchestra_notify.notifier(event=status_event(agent), agent=agent, config=config_with(desktop=False))
    wait_for(lambda: bell(session, agent.window) == "1", what="the bell flag, seen when the person comes back")
    tmux(session, "kill-server")
    lost = Agent(**{**agent.to_dict(), "status": Status.LOST})
    orchestra_notify.notifier(event=status_event(lost), agent=lost, config=config_with(events=["lost"], desktop=False))


@pytest.fixture
def fake_notify_send(tmp_path, monkeypatch):
    """A `notify-send` first on PATH that writes the arguments it got, as JSON, one line per call."""
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    log = tmp_path / "notify-send.ndjson"
    script = folder / "notify-send"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.delenv(variable, raising=False)
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_notify_send_gets_the_task_as_one_literal_argument(fake_notify_send, monkeypatch, tmp_path):
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.chdir(tmp_path)
    agent = Agent(
        name="fix-login",
        task=TRICKY_TASK,
        agent="demo",
        branch="b",
        base="x",
        worktree="/w",
        status=Status.WAITING,
        waiting_for="Shall I go ahead?",
    )
    orchestra_notify.notifier(event=status_event(agent), agent=agent, config=config_with(tmux=False))
    (argv,) = wait_for(lambda: calls(fake_notify_send), what="notify-send to run")
    assert argv == [
        "--app-name=orchestra",
        "--urgency=critical",
        "--",
        "orchestra: fix-login is waiting for you",
        f"Shall I go ahead?\n{TRICKY_TASK}",
    ]
    assert not (tmp_path / "pwned").exists()


@pytest.fixture
def started(monkeypatch) -> list[list[str]]:
    """The argument lists of the programs the plugin starts without waiting (notify-send)."""
    argvs, real_popen = [], subprocess.Popen

    def recording_popen(argv, **kwargs):
        argvs.append(argv)
        return real_popen(argv, **kwargs)

    monkeypatch.setattr(orchestra_notify.subprocess, "Popen", recording_popen)
    return argvs


def test_no_desktop_means_no_notify_send(fake_notify_send, started, monkeypatch, tmp_path):
    agent = Agent(name="a", task="t", agent="demo", branch="b", base="x", worktree="/w", status=Status.DONE)
    orchestra_notify.notifier(event=status_event(agent), agent=agent, config=config_with(tmux=False))
    monkeypatch.setenv("DISPLAY", ":99")
    without = tmp_path / "no-notify-send"
    without.mkdir()
    (without / "tmux").symlink_to(shutil.which("tmux"))  # for the test's own clean-up
    monkeypatch.setenv("PATH", str(without))
    orchestra_notify.notifier(event=status_event(agent), agent=agent, config=config_with(tmux=False))
    assert started == []


def test_only_the_configured_statuses_notify(fake_notify_send, started, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":99")
    for status in ("running", "done", "failed"):
        agent = Agent(name=status, task="t", agent="demo", branch="b", base="x", worktree="/w", status=Status(status))
        orchestra_notify.notifier(
            event=status_event(agent), agent=agent, config=config_with(events=["failed"], tmux=False)
        )
    assert [argv[4] for argv in started] == ["orchestra: failed failed"], "one call, and no exit code was recorded"


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"events": "waiting"}, "events in orchestra.toml must be a list of statuses"),
        ({"desktop": "yes"}, "desktop in orchestra.toml must be true or false"),
        ({"sound": True}, "unknown key 'sound' in \\[plugins.notify\\]"),
    ],
)
def test_wrong_settings_are_reported(table, problem):
    agent = Agent(name="a", task="t", agent="demo", branch="b", base="x", worktree="/w", status=Status.DONE)
    with pytest.raises(OrchestraError, match=problem):
        orchestra_notify.notifier(event=status_event(agent), agent=agent, config=config_with(**table))


def test_a_failed_agent_notifies_end_to_end(orchestra, repo, fake_notify_send, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":99")
    (repo / "orchestra.toml").write_text('[plugins.notify]\nevents = ["failed"]\n')
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "notify of failures only")
    orchestra("spawn", "--agent", "demo", "--no-attach", "fail on purpose")
    (argv,) = wait_for(lambda: calls(fake_notify_send), what="the failure to reach notify-send")
    assert argv == [
        "--app-name=orchestra",
        "--urgency=critical",
        "--",
        "orchestra: fail-on-purpose failed (exit code 1)",
        "fail on purpose",
    ]
