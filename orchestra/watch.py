"""When the board (`orchestra ls --watch`, window 0) has to look again, without polling agents.

Everything that changes an agent's status writes the state file or the event log: hook events,
pane deaths, spawns, kills. Commits and staged edits touch the worktree's git index. So the
board watches those files' metadata, a few `stat` calls every half second, and only when one
of them changed does it ask tmux and git. Two things give no such signal and are looked at on a
timer instead: the screens of agents without hooks (every 2 s, one tmux call for all of them),
and the rest (a window closed by hand, unstaged edits: every 30 s).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra import git
from orchestra.models import Agent, Status

if TYPE_CHECKING:
    from orchestra.context import Context

TICK = 0.5
SCREENS_EVERY = 2.0
FULL_EVERY = 30.0


class Watcher:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.agents: list[Agent] = []
        self.changes: dict[str, dict[str, Any] | None] = {}
        self._signature: object = None
        self._next_full = 0.0
        self._next_screens = 0.0
        self._index_files: dict[str, Path | None] = {}
        self._marks: dict[str, str] = {}

    def poll(self) -> bool:
        """Look if anything may have changed; True when `agents`/`changes` were read again."""
        from orchestra.reconcile import changes_of, observe, screen_tells

        now = time.monotonic()
        signature = self._signature_now()
        full = signature != self._signature or now >= self._next_full
        screens = any(screen_tells(a) for a in self.agents)
        if not full and not (screens and now >= self._next_screens):
            return False
        self.agents = observe(self.ctx)
        self._mark_panes()
        if full:
            self.changes = changes_of(self.agents)
            self._next_full = now + FULL_EVERY
        self._next_screens = now + SCREENS_EVERY
        # The signature taken before reading: a write during the read (the launcher recording
        # an exit) must count as a change next time. One written by observe itself costs one
        # more read.
        self._signature = signature
        return True

    def _mark_panes(self) -> None:
        """Each pane's status for its border in the tiled view; tmux is told only of changes."""
        marks = {a.pane: a.status.value for a in self.agents if a.pane and a.status.live}
        changed = {pane: status for pane, status in marks.items() if self._marks.get(pane) != status}
        if changed:
            self.ctx.tmux.mark_panes(changed)
        self._marks = marks

    def _signature_now(self) -> tuple[object, ...]:
        state = self.ctx.state
        paths = [state.path, state.events_path]
        paths += [p for p in (self._index_of(a) for a in self.agents if a.status != Status.MERGED) if p]
        return tuple(_stamp(p) for p in paths)

    def _index_of(self, agent: Agent) -> Path | None:
        """The worktree's own index file (`<common dir>/worktrees/<id>/index`), found once."""
        if agent.name not in self._index_files:
            found = git.index_file(agent.worktree)
            if found is None:
                return None  # not there yet: try again next time
            self._index_files[agent.name] = found
        return self._index_files[agent.name]


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size
