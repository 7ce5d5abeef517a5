"""The dashboard's live view: what every connected browser is shown, and when it is pushed.

One `Watcher` (the board's: a few `stat` calls per tick, tmux and git only when the state
file, the event log or a worktree's index changed) is shared by every browser, and runs only
while at least one is connected. Screens are read for the live agents in one tmux call, at
most every `SCREENS_EVERY` seconds. A browser gets a message only when something in it changed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestra.errors import OrchestraError
from orchestra.follow import screen_lines
from orchestra.models import Agent, now
from orchestra.usage import AgentUsage, UsageCache
from orchestra.watch import SCREENS_EVERY, Watcher

if TYPE_CHECKING:
    from orchestra.context import Context

# Shorter than the board's half second: the stat calls cost microseconds, and a change should
# reach the page within 300 ms.
TICK = 0.2
SCREEN_LINES = 15
RETRY = 2.0  # seconds before looking again after the project could not be read


class View:
    """The agents, their changes and screens, read again only when something may have changed.
    Runs in a worker thread: everything here blocks on files, tmux and git."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.watcher = Watcher(ctx)
        self.screens: dict[str, list[str]] = {}
        self.error: str | None = None
        self._next_screens = 0.0
        self._final: set[str] = set()  # ended agents whose last screen has been read
        self._usage_cache: UsageCache | None = None
        self.usage: dict[str, AgentUsage] = {}

    def look(self) -> str | None:
        """The message to push (JSON text) if anything changed since the last look, else None."""
        changed = False
        try:
            if self.watcher.poll():
                changed, self.error = True, None
        except OrchestraError as problem:
            changed, self.error = str(problem) != self.error, str(problem)
        if changed or time.monotonic() >= self._next_screens:
            changed = self._read_usage() or changed  # a transcript grows between hook events too
        if time.monotonic() >= self._next_screens:
            self._next_screens = time.monotonic() + SCREENS_EVERY
            changed = self._capture() or changed
        return json.dumps(self.message()) if changed else None

    def _read_usage(self) -> bool:
        """Each agent's tokens, through the usage cache kept in memory (a few `stat` calls)."""
        if self._usage_cache is None:
            self._usage_cache = UsageCache(self.ctx.state.dir)
        try:
            found = self._usage_cache.read(self.ctx, self.watcher.agents)
        except OrchestraError:
            return False
        changed = found != self.usage
        self.usage = found
        return changed

    def _capture(self) -> bool:
        """The bottom of each live agent's screen; an ended agent's, once (it no longer changes)."""
        agents = self.watcher.agents
        wanted = [a for a in agents if a.pane and (a.status.live or a.name not in self._final)]
        names = {a.name for a in agents}
        self._final = {a.name for a in agents if not a.status.live} & self._final  # resumed agents end anew
        changed = any(name not in names for name in self.screens)
        self.screens = {name: lines for name, lines in self.screens.items() if name in names}
        if not wanted:
            return changed
        try:
            captured = self.ctx.tmux.capture_many([a.pane for a in wanted if a.pane])
        except OrchestraError:
            return changed  # the tmux server went away: reconcile says so on the next look
        for agent in wanted:
            if agent.pane in captured:
                if not agent.status.live:
                    self._final.add(agent.name)
                lines = bottom(captured[agent.pane])
                if self.screens.get(agent.name) != lines:
                    self.screens[agent.name] = lines
                    changed = True
        return changed

    def message(self) -> dict[str, Any]:
        return {
            "type": "agents",
            "project": self.ctx.project.name,
            "session": self.ctx.session,
            "time": now(),
            "error": self.error,
            "agents": [self.card(a) for a in [*self.watcher.agents, *self.watcher.away]],
        }

    def card(self, agent: Agent) -> dict[str, Any]:
        return {
            **agent.to_dict(),
            "changes": self.watcher.changes.get(agent.name),
            "conflicts_with": self.watcher.conflicts.of(agent.name),
            "usage": self.usage[agent.name].usage if agent.name in self.usage else None,
            "cost": self.usage[agent.name].cost if agent.name in self.usage else None,
            **self.watcher.queue.get(agent.name, {"queue_position": None, "waits_for": None}),
            "screen": self.screens.get(agent.name),
        }


def bottom(screen: str, count: int = SCREEN_LINES) -> list[str]:
    """The last `count` lines of a screen, without the blank rows below the output and tmux's
    'Pane is dead' line."""
    lines = screen_lines(screen)[-count:]
    while lines and not lines[0].strip():
        lines.pop(0)
    return lines


class Board:
    """Every connected browser's queue, and the loop that fills them while any is connected."""

    def __init__(self, open_context: Callable[[], Context]) -> None:
        self._open_context = open_context
        self._queues: set[asyncio.Queue[str]] = set()
        self._task: asyncio.Task[None] | None = None
        self.latest: str | None = None

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self._queues.add(queue)
        if self.latest is not None:
            queue.put_nowait(self.latest)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._queues.discard(queue)

    async def stop(self) -> None:
        self._queues.clear()
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        try:
            view: View | None = None
            while self._queues:
                try:
                    if view is None:
                        view = await asyncio.to_thread(lambda: View(self._open_context()))
                    message = await asyncio.to_thread(view.look)
                except Exception as problem:  # noqa: BLE001 - the page says so, and the loop tries again
                    message = json.dumps(
                        {"type": "error", "error": f"cannot read the agents: {problem}", "time": now()}
                    )
                    await asyncio.sleep(RETRY)
                if message is not None:
                    self.latest = message
                    for queue in list(self._queues):
                        _offer(queue, message)
                await asyncio.sleep(TICK)
        finally:
            self.latest = None  # nothing watches any more: the next browser gets a fresh look


def _offer(queue: asyncio.Queue[str], message: str) -> None:
    """A slow browser skips to the newest message: each one is the whole view."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)
