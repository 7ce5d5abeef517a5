"""`orchestra attach --next [--waiting]` and shell/tmux.conf, pressed as a person presses them: a
tmux client attached to the test's server, running in a pane of a second private tmux server that
plays the terminal, gets the keys."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from support import statuses, tmux, wait_for, wait_statuses

SNIPPET = Path(__file__).parent.parent / "shell" / "tmux.conf"
SESSION = "orchestra-project"


@pytest.fixture
def terminal(isolated, monkeypatch):
    """Press keys in a client of the test's server: terminal.press("C-b", "W")."""
    # tmux's run-shell and #() commands find `orchestra` on the PATH the server started with.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    socket = f"orchestra-terminal-{uuid.uuid4().hex[:12]}"
    outer = Terminal(socket, isolated)
    yield outer
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


class Terminal:
    def __init__(self, socket: str, inner: str):
        self.socket, self.inner = socket, inner

    def attach(self, session: str) -> None:
        tmux(self.inner, "source-file", str(SNIPPET))
        tmux(
            self.socket,
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "160",
            "-y",
            "30",
            f"env -u TMUX tmux -L {self.inner} attach -t ={session}",
        )
        wait_for(lambda: self.where(), what="a client on the test's server")

    def press(self, *keys: str) -> None:
        tmux(self.socket, "send-keys", "-t", "=t:", *keys)

    def where(self) -> str:
        """session:window-name.pane-index the client shows."""
        return tmux(self.inner, "list-clients", "-F", "#{client_session}:#{window_name}.#{pane_index}").stdout.strip()

    def screen(self) -> str:
        return tmux(self.socket, "capture-pane", "-p", "-t", "=t:").stdout


def _spawn(orchestra, monkeypatch, delay: str, *tasks: str) -> None:
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", delay)  # 60: still running for the whole test
    orchestra("spawn", "--agent", "demo", "--no-attach", *tasks)


def test_keys_go_to_the_board_the_next_waiting_and_the_next_agent(orchestra, repo, isolated, terminal, monkeypatch):
    orchestra("up", "--no-attach")
    _spawn(orchestra, monkeypatch, "60", "first")
    _spawn(orchestra, monkeypatch, "0", "ask one")  # a demo task with "ask" waits for an answer
    _spawn(orchestra, monkeypatch, "60", "second")
    _spawn(orchestra, monkeypatch, "0", "ask two")
    wait_statuses(orchestra, {"first": "running", "ask-one": "waiting", "second": "running", "ask-two": "waiting"})
    terminal.attach(SESSION)
    # The status segment counts the agents of the pane's project.
    wait_for(lambda: "⚙2 ?2" in terminal.screen(), what="the status line to count the agents")

    def lands(keys: str, where: str) -> None:
        terminal.press("C-b", keys)
        wait_for(lambda: terminal.where() == f"{SESSION}:{where}", what=f"prefix {keys} to go to {where}")

    lands("W", "ask-one.0")
    lands("W", "ask-two.0")
    lands("W", "ask-one.0")  # round again
    lands("N", "second.0")
    lands("N", "ask-two.0")
    lands("B", "board.0")
    lands("N", "first.0")

    for name in ("ask-one", "ask-two"):
        orchestra("send", name, "yes")
    wait_for(
        lambda: statuses(orchestra)["ask-two"] == "exited" and statuses(orchestra)["ask-one"] == "exited",
        what="answers",
    )
    terminal.press("C-b", "W")
    wait_for(
        lambda: "orchestra: no agent is waiting for you in project" in tmux(isolated, "show-messages").stdout,
        what="a tmux message that no agent waits",
    )
    assert terminal.where() == f"{SESSION}:first.0"


def test_from_another_session_the_keys_switch_to_the_projects_session(orchestra, repo, isolated, terminal, monkeypatch):
    _spawn(orchestra, monkeypatch, "0", "ask me")
    wait_statuses(orchestra, {"ask-me": "waiting"})
    tmux(isolated, "new-session", "-d", "-s", "user", "-x", "120", "-y", "30", "-c", str(repo))
    terminal.attach("user")
    terminal.press("C-b", "B")  # not an orchestra session: B only says so
    wait_for(lambda: "not an orchestra session" in tmux(isolated, "show-messages").stdout, what="the message")
    terminal.press("C-b", "W")
    wait_for(lambda: terminal.where() == f"{SESSION}:ask-me.0", what="the switch to the waiting agent")


def test_next_needs_a_terminal_or_tmux_and_takes_no_name(orchestra, repo):
    result = orchestra("attach", "--next", check=False)
    assert result.returncode == 1 and "needs a terminal" in result.stderr
    for args, says in (
        ([], "give an agent's NAME, or --next"),
        (["some-name", "--next"], "not both"),
        (["some-name", "--waiting"], "--waiting goes with --next"),
    ):
        result = orchestra("attach", *args, check=False)
        assert result.returncode == 2 and says in result.stderr, result.stderr
