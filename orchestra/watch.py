"""When the board (`orchestra ls --watch`, window 0) has to look again, without polling agents.

Everything that changes an agent's status writes the state file or the event log: hook events,
pane deaths, spawns, kills. Commits and staged edits touch the worktree's git index. So the
board watches those files, every half second (one read of inotify's queue where the system has
it, else a few `stat` calls), and only when one of them changed does it ask tmux and git. Two
things give no such signal and are looked at on a timer instead: the screens of agents without
hooks (one tmux call for all of them, every 2 s while a screen changes, backing off to every 8 s
while none does: a question appears at the end of output, while the board still looks often),
and the rest (a window closed by hand, edits in place: every 30 s; git only for worktrees whose
diff-stat cache entry no longer holds, or, where inotify watches them, that reported a change). The
conflict forecast is read again when its file changes (it is never refreshed from here: see
`poll`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra import git
from orchestra.lookout import Conflicts, look
from orchestra.models import Agent, Status
from orchestra.reconcile import screen_tells

if TYPE_CHECKING:
    from orchestra.context import Context

TICK = 0.5
SCREENS_EVERY = 2.0
SCREENS_IDLE = 8.0  # the longest wait between two looks at screens that have not changed
FULL_EVERY = 30.0
FORECAST_FILE = "forecast.json"  # where `orchestra.forecast` stores the last forecast
RENEW_AFTER = 15.0  # seconds: an entry of a quiet watched worktree is renewed at a full look once older than this
HOSTS_EVERY = 5.0  # how often the hosts of remote agents are asked (`orchestra.remote`), off the board's thread


class Watcher:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.agents: list[Agent] = []
        self.changes: dict[str, dict[str, Any] | None] = {}
        self.conflicts = Conflicts(None, False)
        self.queue: dict[str, dict[str, Any]] = {}  # queued agents' places and what they wait for
        self._signature: object = None
        self._next_full = 0.0
        self._next_screens = 0.0
        self._index_files: dict[str, Path | None] = {}
        # The files whose change sends the board to a full look, for these agents (all found?)
        self._signal_files: tuple[list[Agent] | None, bool, list[Path], dict[str, frozenset[str]]] = (
            None,
            False,
            [],
            {},
        )
        self._marks: dict[str, str] = {}
        self._watched: list[str] = []  # panes of agents whose screen tells their status
        self._seen: object = None  # what tmux showed last time: panes and those screens
        self._screens_every = SCREENS_EVERY
        self.away: list[Agent] = []  # agents on hosts, as their hosts last answered
        self._hosts_next = 0.0
        self._hosts_asking: Any = None  # the thread asking the hosts, while it does
        self._hosts_found: list[list[dict[str, Any]]] = []
        self.trees = Trees()

    def poll_hosts(self) -> bool:
        """The remote agents, asked of their hosts every `HOSTS_EVERY` in a thread of its own (a
        host that does not answer holds up nothing here); True when they changed."""
        from orchestra import remote

        changed = False
        if self._hosts_found:
            rows = self._hosts_found.pop()
            away = remote.agents_of(rows)
            changes = {**self.changes, **{row["name"]: row.get("changes") for row in rows}}
            if away != self.away or changes != self.changes:
                self.away, self.changes, changed = away, changes, True
        now = time.monotonic()
        asking = self._hosts_asking is not None and self._hosts_asking.is_alive()
        if asking or now < self._hosts_next:
            return changed
        self._hosts_next = now + HOSTS_EVERY  # the mirror itself is read only this often too
        if self.away or remote.records(self.ctx.state.dir):
            import threading

            self._hosts_asking = threading.Thread(
                target=lambda: self._hosts_found.append(remote.rows(self.ctx)), daemon=True
            )
            self._hosts_asking.start()
        return changed

    def poll(self) -> bool:
        """Look if anything may have changed; True when `agents` or `changes` are new.

        An idle look costs a few `stat` calls; every `SCREENS_EVERY`, while agents without hooks
        run, one tmux call, and the records are read again only when a screen or a pane differs
        from the last look. The full look (tmux, and git through the diff-stat cache for agents
        whose worktree changed) runs on a changed file and every `FULL_EVERY`.
        """
        from orchestra.reconcile import changes_of, observe
        from orchestra.schedule import waits_for

        hosts = self.poll_hosts()
        now = time.monotonic()
        signature = self._signature_now()
        full = signature != self._signature or now >= self._next_full
        if not full and not (self._watched and now >= self._next_screens):
            return hosts
        seen = self.ctx.tmux.panes_and_screens(self._watched)
        same = seen == self._seen
        self._screens_every = min(self._screens_every * 2, SCREENS_IDLE) if same else SCREENS_EVERY
        self._next_screens = now + self._screens_every
        if not full and same:
            return hosts
        first = self._seen is None
        self._seen = seen
        agents = observe(self.ctx, seen)
        changed = first or agents != self.agents  # the first look is news, even of no agents
        if changed:
            self.agents = agents
            self._watched = [a.pane for a in agents if a.pane and screen_tells(a)]
            self._mark_panes()
        queue = waits_for(self.ctx, self.agents)  # nothing queued: no work at all
        if queue != self.queue:
            self.queue, changed = queue, True
        if full:
            # The cache's own time-to-live: an edit in place, which changes no folder, no index
            # and no record, shows within it (and within FULL_EVERY after). Entries of worktrees
            # whose folders are watched and saw nothing are renewed instead (`Trees`).
            self.trees.renew(self.ctx.state.dir)
            changes = changes_of(self.agents, self.ctx.state.dir)
            self.trees.follow(self.ctx.state.dir, self.agents)
            changes.update({a.name: self.changes.get(a.name) for a in self.away})
            if changes != self.changes:
                self.changes, changed = changes, True
            self._next_full = now + FULL_EVERY
            # Read only: the board runs with the tmux server's environment, which keeps no secrets,
            # and the refresh that finds a new conflict tells the notifiers (a webhook variable) with
            # its own. Agents' status changes and commands run in a person's shell start refreshes.
            conflicts = look(self.ctx, self.agents, refresh=False)
            if _shown(conflicts, self.agents) != _shown(self.conflicts, self.agents):
                self.conflicts, changed = conflicts, True
        # The signature taken before reading: a write during the read (the launcher recording
        # an exit) must count as a change next time. One written by observe itself costs one
        # more read.
        self._signature = signature
        return changed or hosts

    def _mark_panes(self) -> None:
        """Each pane's status for its border in the tiled view; tmux is told only of changes."""
        marks = {a.pane: a.status.value for a in self.agents if a.pane and a.status.live}
        changed = {pane: status for pane, status in marks.items() if self._marks.get(pane) != status}
        if changed:
            self.ctx.tmux.mark_panes(changed)
        self._marks = marks

    def _signature_now(self) -> tuple[object, ...]:
        """What changes when the records, the events, the forecast or an agent's index do: with
        inotify, a count of those changes (one read of its queue, when empty); else their stamps."""
        # Worked out again only when the agents change (a look replaces the list), or while an
        # agent's index is not found yet.
        agents, complete, paths, folders = self._signal_files
        if agents is not self.agents or not complete:
            state = self.ctx.state
            live = [a for a in self.agents if a.status != Status.MERGED and not a.no_worktree]
            indexes = [self._index_of(a) for a in live]
            paths = [state.path, state.events_path, state.dir / FORECAST_FILE, *(p for p in indexes if p)]
            found: dict[str, set[str]] = {}
            for path in paths:
                found.setdefault(str(path.parent), set()).add(path.name)
            folders = {folder: frozenset(names) for folder, names in found.items()}
            self._signal_files = (self.agents, None not in indexes, paths, folders)
        if self.trees.signals(folders):
            self.trees.take_events()
            return ("pulse", self.trees.pulse)
        return tuple(_stamp(p) for p in paths)

    def _index_of(self, agent: Agent) -> Path | None:
        """The worktree's own index file (`<common dir>/worktrees/<id>/index`), found once."""
        if agent.name not in self._index_files:
            found = git.index_file(agent.worktree)
            if found is None:
                return None  # not there yet: try again next time
            self._index_files[agent.name] = found
        return self._index_files[agent.name]


class Trees:
    """What the board learns from inotify, where the system has it (`orchestra.inotify`).

    The folders of the agents' worktrees: the board need not ask git once a time-to-live
    (`diffstats.TTL`) about worktrees in which nothing happened; an entry whose worktree's
    folders reported nothing since it was checked is renewed. Which folders: those the entry's
    key stamps (`diffstats.entries`). A worktree whose folders cannot all be watched (the
    kernel's limit) keeps the time-to-live.

    And the files whose change sends the board to a full look (`signals`): a count of their
    changes stands for their `stat` calls every half second.
    """

    def __init__(self) -> None:
        self._inotify: Any = None
        self._unavailable = False
        self._watched: dict[
            str, tuple[str, tuple[str, ...], list[int], float]
        ] = {}  # name -> worktree, folders, ids, since
        self._owner: dict[int, str] = {}  # watch id -> agent name
        self._touched: dict[str, float] = {}  # agent name -> when a change in its folders was last read
        self._signal_folders: dict[str, int] = {}  # folder -> watch id
        self._signal_names: dict[int, frozenset[str]] = {}  # watch id -> the names in it that count
        self.pulse = 0  # changes of the signal files read so far
        self._signalled: dict[str, frozenset[str]] | None = None  # the folders `signals` watched last

    def _open(self) -> bool:
        if self._inotify is None and not self._unavailable:
            from orchestra.inotify import open_inotify

            self._inotify = open_inotify()
            self._unavailable = self._inotify is None
        return self._inotify is not None

    def take_events(self) -> None:
        """Read what the watches reported: signal files' changes counted, worktrees touched."""
        if self._inotify is None:
            return
        from orchestra.inotify import OVERFLOW

        changed = self._inotify.changed()
        if not changed:
            return
        now = time.time()
        ended: set[str] = set()
        for wd, name in changed:
            if wd == OVERFLOW:
                self.pulse += 1
                self._touched.update(dict.fromkeys(self._watched, now))
            elif wd in self._signal_names:
                if not name or name in self._signal_names[wd]:
                    self.pulse += 1
                if not name:  # the folder is gone (or its watch ended): watched again, or stat calls instead
                    self._forget_signal(wd)
            elif wd in self._owner:
                owner = self._owner[wd]
                self._touched[owner] = now
                if not name:  # a watched folder is gone: the worktree is watched afresh once its entry says how
                    ended.add(owner)
        for owner in ended:
            self._drop(owner, self._watched[owner][2] if owner in self._watched else [])

    def signals(self, files: dict[str, frozenset[str]]) -> bool:
        """Watch these folders for changes of the named files in them; False when they cannot all
        be watched (then the caller stamps them itself)."""
        if files is self._signalled:  # the same folders, all still watched: every tick but a few
            return True
        if not self._open():
            return False
        self._signalled = None
        for folder in [f for f in self._signal_folders if f not in files]:
            gone = self._signal_folders[folder]
            self._forget_signal(gone)
            self._inotify.unwatch(gone)
        for folder, names in files.items():
            known = self._signal_folders.get(folder)
            if known is None:
                known = self._inotify.watch(folder)
                if known is None:
                    return False
                self._signal_folders[folder] = known
                self.pulse += 1  # what changed before this watch began is not known
            self._signal_names[known] = names
        self._signalled = files
        return True

    def _forget_signal(self, wd: int) -> None:
        self._signalled = None
        self._signal_names.pop(wd, None)
        for folder, known in list(self._signal_folders.items()):
            if known == wd:
                del self._signal_folders[folder]

    def renew(self, state_dir: Path) -> None:
        """Renew the cache entries of watched worktrees that reported nothing since they were checked."""
        if not self._watched:
            return
        from orchestra import diffstats

        self.take_events()  # every event so far: one read after an entry's check is a change after it
        now = time.time()
        quiet: dict[str, float] = {}
        for name, entry in diffstats.entries(state_dir).items():
            watched = self._watched.get(name)
            if watched is None or (entry.worktree, tuple(entry.folders)) != watched[:2]:
                continue
            since = watched[3]
            if (
                entry.checked > since
                and self._touched.get(name, 0.0) < entry.checked
                and now - entry.checked > RENEW_AFTER
            ):
                quiet[name] = entry.checked
        if quiet:
            diffstats.renew(state_dir, quiet, now)

    def follow(self, state_dir: Path, agents: list[Agent]) -> None:
        """Watch the folders of every agent's entry (and no more those of agents gone or merged)."""
        if not self._open():
            return
        from orchestra import diffstats

        self.take_events()
        entries = diffstats.entries(state_dir)
        live = {a.name for a in agents if a.status != Status.MERGED and not a.no_worktree}
        for name, (worktree, folders, ids, _since) in list(self._watched.items()):
            entry = entries.get(name)
            if name not in live or entry is None or (entry.worktree, tuple(entry.folders)) != (worktree, folders):
                self._drop(name, ids)
        for name in sorted(live - set(self._watched)):
            entry = entries.get(name)
            if entry is not None:
                self._watch(name, entry.worktree, tuple(entry.folders))

    def _watch(self, name: str, worktree: str, folders: tuple[str, ...]) -> None:
        ids: list[int] = []
        for folder in folders:
            wd = self._inotify.watch(os.path.join(worktree, folder))
            if wd is None:  # gone since, or no watch left: this worktree keeps its time-to-live
                self._drop(name, ids)
                return
            ids.append(wd)
            self._owner[wd] = name
        # From now on every change is reported: an entry checked after this is renewed while none is.
        self._watched[name] = (worktree, folders, ids, time.time())

    def _drop(self, name: str, ids: list[int]) -> None:
        for wd in ids:
            self._owner.pop(wd, None)
            self._inotify.unwatch(wd)
        self._watched.pop(name, None)
        self._touched.pop(name, None)


def _shown(conflicts: Conflicts, agents: list[Agent]) -> object:
    return conflicts.by_agent(agents), conflicts.lines()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size
