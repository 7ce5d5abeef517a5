"""What `logs` and `events` show, and following them: an agent's screen and the event log, read
again and again, with only what is new handed on. The face prints what the generators yield."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestra import lifecycle
from orchestra.context import Context
from orchestra.errors import OrchestraError, TmuxError, UnknownAgent

SCREEN_EVERY = 0.5  # seconds between two captures of a followed screen
EVENTS_EVERY = 0.2  # seconds between two looks at the event log's size
# Scrollback captured beyond the lines asked for: blank rows below the output are dropped first.
SPARE_LINES = 50


@dataclass
class Screen:
    pane: str
    lines: list[str]


def agent_screen(ctx: Context, name: str, lines: int | None = None) -> Screen:
    """Agent `name`'s screen with its scrollback: about the last `lines` lines, or its whole
    history (None), which is what following it starts from."""
    from orchestra.reconcile import find

    agent = find(ctx, name)
    if not agent.pane or agent.status.value == lifecycle.LOST:
        hint = f" `orchestra resume {name}` opens it again." if agent.status.value == lifecycle.LOST else ""
        raise OrchestraError(f"agent '{name}' has no screen to show (it is {agent.status.value}).{hint}")
    captured = ctx.tmux.capture(agent.pane, None if lines is None else lines + SPARE_LINES)
    return Screen(agent.pane, screen_lines(captured))


def screen_lines(text: str) -> list[str]:
    """A pane's lines without the blank rows below the output and tmux's 'Pane is dead' line."""
    lines = text.split("\n")
    while lines and (not lines[-1].strip() or lines[-1].startswith("Pane is dead (")):
        lines.pop()
    return lines


def follow_screen(
    ctx: Context, screen: Screen, every: float = SCREEN_EVERY, until: float | None = None
) -> Iterator[str]:
    """Each line added to the pane's history after `screen`, as it appears, until the agent's
    process ends or its pane is gone, or (for a caller that must not wait for ever) the
    `time.monotonic()` deadline `until` has passed."""
    seen = screen.lines
    while until is None or time.monotonic() < until:
        time.sleep(every)
        try:
            finished = ctx.tmux.pane_dead(screen.pane)
            current = screen_lines(ctx.tmux.capture(screen.pane, None))
        except TmuxError:
            return
        common = 0
        while common < min(len(seen), len(current)) and seen[common] == current[common]:
            common += 1
        yield from current[common:]
        seen = current
        if finished:
            return


@dataclass
class EventLog:
    """Events read from the log, and where in the file reading stopped (after the last whole line)."""

    events: list[dict[str, Any]]
    offset: int


def read_events(ctx: Context, agent: str | None = None) -> EventLog:
    """Every event in the log, or only agent `agent`'s; an error for a name the project never had
    (a removed agent's history is still there to read)."""
    path = ctx.state.events_path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    offset = data.rfind(b"\n") + 1  # whole lines only; the rest is still being written
    events = [e for e in map(_event, data[:offset].splitlines()) if e is not None and _of(e, agent)]
    if agent and not events and agent not in ctx.state.read_raw():
        raise UnknownAgent.named(agent, where="this project's log")
    return EventLog(events, offset)


def follow_events(
    path: Path, offset: int, agent: str | None = None, every: float = EVENTS_EVERY, until: float | None = None
) -> Iterator[dict[str, Any]]:
    """Each event appended to the log at `path` after byte `offset` (agent `agent`'s only, if
    given), as it is written, until the `time.monotonic()` deadline `until`, if any."""
    pending = b""
    while until is None or time.monotonic() < until:  # the log is append-only: read what was added
        time.sleep(every)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        if size < offset:  # the log was replaced: start again from its beginning
            offset, pending = 0, b""
        if size == offset:
            continue
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read(size - offset)
        offset = size
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()  # a line still being written
        yield from (e for e in map(_event, lines) if e is not None and _of(e, agent))


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None  # a torn or foreign line never stops the reader
    return event if isinstance(event, dict) else None


def _of(event: dict[str, Any], agent: str | None) -> bool:
    return not agent or event.get("agent") == agent
