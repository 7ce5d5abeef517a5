"""Each agent's changes (`+/-`, untracked files) kept in `diffstat.json`, so that `ls`, the board
and the dashboard ask git only about worktrees that changed.

An entry is reused while its key still holds and it is younger than the time-to-live. The key is
what git's answer depends on and what changes when the worktree changes: the base commit, the
worktree's HEAD (the commit it names), its index file (commits, `git add`, checkouts and resets
rewrite it) and the modification times of the worktree's folders (creating, removing or renaming
a file changes its folder's), read with plain `stat` calls and no git. A file edited in place
changes no folder, so the time-to-live bounds how long such an edit can go unseen.

Folders git ignores as a whole (`node_modules/`, `.venv/`) are not watched: nothing in them is
counted. Which folders those are comes from the git call that fills the entry.

Concurrent writers need no lock: each entry holds its numbers with the key they were read under,
so whichever write lands last, every entry in the file is true for its own key; an entry a
concurrent writer dropped only costs one more git call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra import files, git
from orchestra.errors import GitError

if TYPE_CHECKING:
    from typing import Protocol

    class Agent(Protocol):  # what the cache reads of an agent (an `orchestra.models.Agent`, or `Place`)
        name: str
        worktree: str
        base: str
        updated_at: str

        @property
        def status(self) -> str: ...  # read only: a `Status` (a str) or the record's text


FILENAME = "diffstat.json"
VERSION = 2  # 2: the key holds the record's last change
# Seconds an entry is trusted while its key holds: the longest an edit in place goes unseen. The
# key holds the agent's record's last change too, so an agent's own edits show as soon as its
# hooks report the turn (or anything else); what waits up to this long is a person's edit in
# place in an idle agent's worktree. Shorter costs every look of `ls` and the board a git call
# per agent (on 5,000 files, 50 agents at 30 s kept the board at several percent of a core).
TTL = 60.0
Clock = Callable[[], float]
Changes = dict[str, int] | None
LINES = ("files", "added", "removed")
# An agent being set up (its worktree checked out, `[worktree] setup` running) or waiting in the
# queue (no worktree yet) has no changes of its own to count: git would read a half-made
# worktree, on the processors the spawn is checking worktrees out on.
UNCOUNTED = frozenset({"starting", "queued"})


class Place:
    """An agent's place as its stored record holds it: all `changes_of` needs, without the model."""

    __slots__ = ("base", "name", "status", "updated_at", "worktree")

    def __init__(self, record: dict[str, Any]) -> None:
        self.name, self.worktree, self.base = record["name"], record["worktree"], record["base"]
        self.updated_at = record.get("updated_at") or ""
        self.status = record.get("status") or ""


def changes_of(
    agents: Sequence[Agent], state_dir: Path | None = None, ttl: float = TTL, clock: Clock = time.time
) -> dict[str, Changes]:
    """Lines added/removed and untracked files per agent; git runs (several at once) only for
    agents whose entry in `state_dir`'s cache is missing, out of date or older than `ttl`. An
    agent being set up or queued (`UNCOUNTED`) has None, and no git call."""
    found: dict[str, Changes] = {a.name: None for a in agents if a.status in UNCOUNTED}
    agents = [a for a in agents if a.name not in found]
    if not agents:
        return found
    cache = _read(state_dir) if state_dir is not None else {"agents": {}, "dirsets": {}}
    stale: list[tuple[Agent, Worktree, list[str] | None]] = []
    now = clock()
    for agent in agents:
        tree = Worktree(agent.worktree, agent.base, agent.updated_at)
        entry = cache["agents"].get(agent.name)
        holds = entry is not None and entry["key"] == tree.key(cache["dirsets"], entry)
        if holds and now - entry["checked"] < ttl:
            found[agent.name] = entry["changes"]
        else:  # an entry that only aged keeps its folders: none was added or removed since
            stale.append((agent, tree, cache["dirsets"][entry["dirs"]] if holds else None))
    if not stale:
        return found

    def one(item: tuple[Agent, Worktree, list[str] | None]) -> tuple[str, dict[str, Any]]:
        agent, tree, folders = item
        previous = cache["agents"].get(agent.name) or {}
        known = (previous.get("changes") or {}) if folders is not None else {}
        try:
            return agent.name, tree.read(clock, previous.get("ignored") or [], folders, known)
        except GitError:
            if os.path.isdir(agent.worktree):
                raise
            return agent.name, {"changes": None, "checked": now, "key": None}  # removed meanwhile (a kill)

    from concurrent.futures import ThreadPoolExecutor  # only when git runs: it imports logging

    with ThreadPoolExecutor(max_workers=min(8, len(stale))) as pool:
        fresh = dict(pool.map(one, stale))
    for name, entry in fresh.items():
        found[name] = entry["changes"]
    if state_dir is not None:
        _write(state_dir, cache, fresh)
    return found


class Entry:
    """What a watcher needs of one agent's entry: where its worktree is, the folders its key
    stamps, and when git was last asked."""

    __slots__ = ("checked", "folders", "worktree")

    def __init__(self, worktree: str, folders: list[str], checked: float) -> None:
        self.worktree, self.folders, self.checked = worktree, folders, checked


def entries(state_dir: Path) -> dict[str, Entry]:
    """Every agent's entry as stored, by name."""
    cache = _read(state_dir)
    return {
        name: Entry(entry["key"][0], cache["dirsets"][entry["dirs"]], entry["checked"])
        for name, entry in cache["agents"].items()
        if entry["key"] and isinstance(entry["key"][0], str)
    }


def renew(state_dir: Path, checked: dict[str, float], now: float) -> None:
    """Mark the entries named in `checked` (with the time each was checked, as `entries` read it)
    as checked at `now`, for a watcher that saw nothing change in their worktrees' folders since
    (`orchestra.watch`): an entry's time-to-live only bounds how long an edit in place goes
    unseen, and the watcher sees those. An entry checked again meanwhile is left as it is."""
    cache = _read(state_dir)
    renewed = False
    for name, when in checked.items():
        entry = cache["agents"].get(name)
        if entry is not None and entry["checked"] == when:
            entry["checked"] = now
            renewed = True
    if renewed:
        _store(state_dir, cache["agents"], cache["dirsets"])


class Worktree:
    """One agent's worktree, as the cache sees it: where git keeps its HEAD and index."""

    def __init__(self, path: str, base: str, activity: str | None = None) -> None:
        self.path = path
        self.base = base
        self.activity = activity  # the agent record's last change
        self.gitdir = _gitdir(path)

    def key(self, dirsets: dict[str, list[str]], entry: dict[str, Any]) -> list[Any] | None:
        """What git's answer depends on, read with `stat` and small file reads; None when it
        cannot be read (then git is asked every time)."""
        if self.gitdir is None:
            return None
        head = _head(self.gitdir)
        if head is None:
            return None
        folders = dirsets.get(entry.get("dirs", ""))
        if folders is None:
            return None
        index = _stamp(os.path.join(self.gitdir, "index"))
        return [self.path, self.base, head, index, _folders(self.path, folders), self.activity]

    def read(
        self, clock: Clock, ignored: list[str], folders: list[str] | None = None, known: dict[str, int] | None = None
    ) -> dict[str, Any]:
        """Ask git, with the key taken before it: a change made while git runs then differs
        from the key at the next look. The folders are walked first without those git ignored
        last time (`ignored`), and those git ignores now are left out afterwards; `folders`, of
        an entry whose key still holds, are stamped as they are, with no walk and no git call
        for the ignored ones."""
        from orchestra.worktrees import changes, untracked_count

        checked = clock()
        head = _head(self.gitdir) if self.gitdir else None
        index = _stamp(os.path.join(self.gitdir, "index")) if self.gitdir else None
        if not head:
            stamps = {}
        elif folders is not None:
            stamps = {folder: _mtime(os.path.join(self.path, folder)) for folder in folders}
        else:
            stamps = _walk(self.path, set(ignored))
        found = changes(Path(self.path), self.base, untracked=known.get("untracked") if known else None)
        if found and known and [found.files, found.added, found.removed] != [known.get(k) for k in LINES]:
            # an edit in place, perhaps of a .gitignore: then the new files may have changed too
            found = dataclasses.replace(found, untracked=untracked_count(Path(self.path)))
        entry: dict[str, Any] = {"changes": found.to_dict() if found else None, "checked": checked, "key": None}
        if found and head and stamps:
            now_ignored = set(ignored) if folders is not None else _ignored_folders(self.path)
            folders = [f for f in stamps if not _under(f, now_ignored)]
            entry["folders"] = folders
            entry["ignored"] = sorted(now_ignored)
            entry["key"] = [self.path, self.base, head, index, _digest(stamps[f] for f in folders), self.activity]
        return entry


def _under(folder: str, ignored: set[str]) -> bool:
    parts = folder.split("/")
    return any("/".join(parts[: i + 1]) in ignored for i in range(len(parts)))


def _gitdir(worktree: str) -> str | None:
    """The worktree's own git folder: `.git` itself, or where its `.git` file points."""
    dotgit = os.path.join(worktree, ".git")
    if os.path.isdir(dotgit):
        return dotgit
    try:
        with open(dotgit, encoding="utf-8") as handle:
            pointer = handle.read().strip()
    except (OSError, ValueError):
        return None
    if not pointer.startswith("gitdir:"):
        return None
    return os.path.join(worktree, pointer.removeprefix("gitdir:").strip())


def _head(gitdir: str) -> str | None:
    """The commit HEAD names, read from git's files; None where only git can tell (a ref in
    `packed-refs` or a reftable), and then the entry is never reused."""
    text = _read_text(os.path.join(gitdir, "HEAD"))
    if text is None or not text.startswith("ref:"):
        return text  # detached: the commit id itself
    ref = text.removeprefix("ref:").strip()
    common = _read_text(os.path.join(gitdir, "commondir"))
    root = os.path.join(gitdir, common) if common else gitdir
    if os.path.exists(os.path.join(root, "reftable")):
        return None
    loose = _read_text(os.path.join(root, ref))
    if loose is not None:
        return f"{ref} {loose}"
    # Not a loose ref: packed (or an unborn branch). The packed-refs file's stamp stands for it.
    packed = _stamp(os.path.join(root, "packed-refs"))
    return f"{ref} packed {packed}" if packed else f"{ref} unborn"


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except (OSError, ValueError):
        return None


def _stamp(path: str) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size, info.st_ino]


def _folders(root: str, folders: list[str]) -> int:
    """One digest of every watched folder's modification time (a missing folder counts too).

    Each folder is looked up from the worktree's own (opened once), not from `/`: the key checks
    of a few hundred worktrees are most of what `ls` does, and a long path is walked at each."""
    try:
        top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return _digest(-1 for _ in folders)
    try:
        return _digest([_mtime_in(top, folder) for folder in folders])
    finally:
        os.close(top)


def _mtime_in(top: int, folder: str) -> int:
    try:
        return os.stat(folder, dir_fd=top).st_mtime_ns
    except OSError:
        return -1


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _digest(stamps: Iterable[int]) -> int:
    """A tuple of ints hashes the same in every process (only text hashing is salted), and
    hashlib's import would cost more than the hashing."""
    return hash(tuple(stamps))


def _ignored_folders(worktree: str) -> set[str]:
    """Folders git ignores as a whole (no tracked file in them), relative to the worktree."""
    out = git.run(["ls-files", "--others", "--ignored", "--exclude-standard", "--directory"], worktree, check=False)
    if out.returncode != 0:
        return set()
    return {line.rstrip("/") for line in out.stdout.splitlines() if line.endswith("/")}


def _walk(worktree: str, ignored: set[str]) -> dict[str, int]:
    """Every folder of the worktree whose files git may count, relative to it ("." first), with
    its modification time, each taken before the folder is listed; not `.git`, the folders in
    `ignored`, or the insides of repositories of their own."""
    stamps: dict[str, int] = {}
    stack = ["."]
    while stack:
        folder = stack.pop()
        path = os.path.join(worktree, folder)
        stamps[folder] = _mtime(path)
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.name == ".git" or not entry.is_dir(follow_symlinks=False):
                        continue
                    relative = entry.name if folder == "." else f"{folder}/{entry.name}"
                    if relative in ignored:
                        continue
                    if os.path.lexists(os.path.join(entry.path, ".git")):
                        stamps[relative] = _mtime(entry.path)  # another repository: its folder only
                        continue
                    stack.append(relative)
        except OSError:
            continue
    return stamps


def _read(state_dir: Path) -> dict[str, Any]:
    """The cache as stored; what is damaged or of another version is left out (asked of git again)."""
    try:
        data = json.loads((state_dir / FILENAME).read_bytes())
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {"agents": {}, "dirsets": {}}
    dirsets = data.get("dirsets")
    dirsets = {k: v for k, v in dirsets.items() if isinstance(v, list)} if isinstance(dirsets, dict) else {}
    agents = data.get("agents")
    agents = agents if isinstance(agents, dict) else {}
    return {"agents": {name: e for name, e in agents.items() if _sound(e, dirsets)}, "dirsets": dirsets}


def _sound(entry: Any, dirsets: dict[str, Any]) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("checked"), (int, float))
        and isinstance(entry.get("key"), list)
        and entry.get("dirs") in dirsets
        and isinstance(entry.get("changes"), (dict, type(None)))
    )


def _write(state_dir: Path, cache: dict[str, Any], fresh: dict[str, dict[str, Any]]) -> None:
    """The cache with the fresh entries; entries of worktrees that are gone are dropped, and
    folder lists shared by several worktrees (they usually are identical) are kept once."""
    agents = {name: e for name, e in cache["agents"].items() if e.get("key") and os.path.isdir(e["key"][0])}
    used = {e["dirs"] for e in agents.values()}
    dirsets = {key: folders for key, folders in cache["dirsets"].items() if key in used}
    known = {tuple(folders): key for key, folders in dirsets.items()}
    for name, entry in fresh.items():
        folders = entry.pop("folders", None)
        if entry["key"] is None or folders is None:
            agents.pop(name, None)
            continue
        key = known.get(tuple(folders))
        if key is None:
            key = known[tuple(folders)] = next(str(n) for n in range(len(dirsets) + 1) if str(n) not in dirsets)
            dirsets[key] = folders
        entry["dirs"] = key
        agents[name] = entry
    _store(state_dir, agents, dirsets)


def _store(state_dir: Path, agents: dict[str, Any], dirsets: dict[str, list[str]]) -> None:
    payload = json.dumps({"version": VERSION, "agents": agents, "dirsets": dirsets}, separators=(",", ":"))
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs git calls next time
        files.write_atomic(state_dir / FILENAME, payload)
