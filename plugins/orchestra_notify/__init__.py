"""The `notify` plugin: tell the person at this machine when an agent needs them or finishes, or
when two agents are first forecast to conflict.

```toml
[plugins.notify]
events = ["waiting", "limited", "done", "exited", "failed", "conflict"]   # the statuses (and `conflict`) that notify
desktop = true                                     # a desktop notification with notify-send
tmux = true                                        # a message and a bell in the agent's tmux session
```

Desktop: `notify-send`, when it is on PATH and there is a display or a D-Bus session; it is
started and not waited for. tmux: a message in the status line of every client attached to the
agent's session, and a bell for the agent's window: a BEL written to the output side of the
agent's pane (never to its input), so tmux marks the window and applies the user's own
`bell-action` and `visual-bell`; once the pane is dead, a BEL to the attached clients' terminals.
Every command is an argument list; nothing passes through a shell. Where there is no display,
no tmux server or no client, there is nothing to do and nothing is reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.errors import OrchestraError, TmuxError
from orchestra.hookspecs import hookimpl

if TYPE_CHECKING:
    from orchestra.hookspecs import Config

from orchestra.models import STATUS_PHRASES, Agent, Event, Status, until_phrase
from orchestra.tmux import Tmux

NAME = "notify"
CONFLICT = "conflict"  # the event orchestra publishes when two agents are first forecast to conflict
STATUSES = [s.value for s in Status]
EVENTS = [*STATUSES, CONFLICT]
FILES_SHOWN = 5  # files of a conflict named in its headline
TASK_LIMIT = 200  # characters of the task in a desktop notification
TMUX_TIMEOUT = 2.0  # seconds; tmux answers in milliseconds unless its server is wedged
MESSAGE_MS = 5000  # how long the tmux message stays up
DESKTOP_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")  # a desktop to notify on


@dataclass(frozen=True)
class Settings:
    """`[plugins.notify]` in orchestra.toml."""

    events: tuple[str, ...] = (Status.WAITING, Status.LIMITED, Status.DONE, Status.EXITED, Status.FAILED, CONFLICT)
    desktop: bool = True
    tmux: bool = True

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> Settings:
        for key in table:
            if key not in ("events", "desktop", "tmux"):
                raise OrchestraError(
                    f"unknown key '{key}' in [plugins.notify] in orchestra.toml; the keys are events, desktop and tmux."
                )
        events = table.get("events", list(cls.events))
        if not isinstance(events, list) or not all(isinstance(e, str) and e in EVENTS for e in events):
            raise OrchestraError(
                f"[plugins.notify] events in orchestra.toml must be a list of statuses among {', '.join(STATUSES)}, "
                f"and {CONFLICT}."
            )
        for key in ("desktop", "tmux"):
            if not isinstance(table.get(key, True), bool):
                raise OrchestraError(f"[plugins.notify] {key} in orchestra.toml must be true or false.")
        return cls(events=tuple(events), desktop=table.get("desktop", True), tmux=table.get("tmux", True))


@hookimpl
def notifier_events(config: Config) -> list[str]:
    return list(Settings.from_table(config.plugin_settings(NAME)).events)


@hookimpl
def notifier(event: Event, agent: Agent | None, config: Config) -> None:
    settings = Settings.from_table(config.plugin_settings(NAME))
    if event.type == CONFLICT:
        if agent is not None and CONFLICT in settings.events:
            notify_conflict(event, agent, settings)
        return
    if event.type != "status" or agent is None or event.status not in settings.events:
        return
    headline = f"{agent.name} {STATUS_PHRASES.get(event.status, event.status)}"
    if event.status in (Status.EXITED, Status.FAILED) and agent.exit_code is not None:
        headline += f" (exit code {agent.exit_code})"
    if settings.tmux:
        alert_tmux(agent, f"orchestra: {headline}")
    if settings.desktop:
        notify_desktop(agent, event.status, headline)


def conflict_headline(event: Event, agent: Agent) -> str:
    """`api and tests would conflict in README.md, src/app.py`: the first few files."""
    paths = [str(p) for p in event.data.get("files") or []]
    shown = ", ".join(paths[:FILES_SHOWN]) + (
        f" and {len(paths) - FILES_SHOWN} more" if len(paths) > FILES_SHOWN else ""
    )
    return f"{agent.name} and {event.data.get('with') or 'another agent'} would conflict" + (
        f" in {shown}" if shown else ""
    )


def notify_conflict(event: Event, agent: Agent, settings: Settings) -> None:
    """In tmux on the first agent's session and window, and on the desktop: while both still work."""
    headline = conflict_headline(event, agent)
    if settings.tmux:
        alert_tmux(agent, f"orchestra: {headline}")
    if settings.desktop:
        _desktop(f"orchestra: {headline}", _cut(agent.task, TASK_LIMIT), "normal")


def notify_desktop(agent: Agent, status: str, headline: str) -> None:
    """A desktop notification, when there is a desktop to show it on; not waited for, since
    notify-send can hang for its D-Bus timeout where no notification service answers."""
    detail = (
        {
            Status.WAITING.value: agent.waiting_for,
            Status.FAILED.value: agent.error,
            Status.LIMITED.value: _limited(agent),
        }.get(status)
        or agent.last_message
        or ""
    )
    parts = (_cut(" ".join(detail.split()), TASK_LIMIT), _cut(agent.task, TASK_LIMIT))
    body = "\n".join(part for part in parts if part)
    urgency = "critical" if status in (Status.WAITING, Status.FAILED) else "normal"
    _desktop(f"orchestra: {headline}", body, urgency)


def _limited(agent: Agent) -> str:
    return f"{until_phrase(agent.limited_until)}, then orchestra tells it to go on: {agent.error or 'a usage limit'}"


def _desktop(summary: str, body: str, urgency: str) -> None:
    program = shutil.which("notify-send")
    if program is None or not any(os.environ.get(v) for v in DESKTOP_VARIABLES):
        return
    # `--` ends the options: a task starting with a dash is still the body.
    argv = [program, "--app-name=orchestra", f"--urgency={urgency}", "--", summary, body]
    subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def alert_tmux(agent: Agent, text: str) -> None:
    """The message on every client attached to the agent's session, and a bell for its window."""
    if not agent.session:
        return
    pane = _tmux("display-message", "-p", "-t", agent.pane, "#{pane_dead}\t#{pane_tty}") if agent.pane else None
    listed = _tmux("list-clients", "-F", "#{client_name}\t#{client_tty}\t#{session_name}")
    listing = [line.split("\t") for line in (listed or "").splitlines() if line.count("\t") == 2]
    clients = [(name, tty) for name, tty, session in listing if session == agent.session]
    if clients:
        commands: list[str] = []
        target = ["-t", agent.pane] if pane is not None and agent.pane else []
        for name, _tty in clients:
            # display-message expands formats, and `#(...)` would run a shell command: double every '#'.
            commands += [";", "display-message", "-c", name, *target, "-d", str(MESSAGE_MS), text.replace("#", "##")]
        _tmux(*commands[1:])
    dead, _, pane_tty = (pane or "").partition("\t")
    if dead == "0" and pane_tty:
        _ring(pane_tty)  # the pane's output side: tmux sees a bell in the agent's window
    else:
        for _name, tty in clients:
            _ring(tty)


def _tmux(*args: str) -> str | None:
    """Run one tmux command on orchestra's server; its output, or None if it failed."""
    try:
        return "\n".join(Tmux().cmd(*args, timeout=TMUX_TIMEOUT))
    except TmuxError:
        return None


def _ring(tty: str) -> None:
    """Write one BEL to a terminal. O_NOCTTY: never become that terminal's controlling process."""
    try:
        fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.write(fd, b"\a")
    except OSError:
        pass
    finally:
        os.close(fd)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
