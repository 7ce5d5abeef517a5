"""Forecasting conflicts (`orchestra conflicts`): which agents' work would collide, with each other
and with the merge target, while they still work.

Each agent's side is its branch tip, or, when its worktree holds uncommitted or untracked work, a
commit of that work on top of the worktree's HEAD, made through a copy of its index: objects only,
no ref, no index, no checkout changes (the files `[worktree] copy` and `symlink` placed are left
out, as `orchestra merge` leaves them out). The snapshot's author, committer and dates are fixed,
so the same work always makes the same commit, and results are cached by commit ids.

Each pair of sides, and each side with the target, is merged in memory (`orchestra.mergetree`),
most without running a merge at all. The snapshot commits are cached by a stamp of the worktree's
`git status` and its changed files' sizes, modification and change times (none for files changed
within `RACY` of the forecast: see `_stamp`). The worktrees are read from the agents' records,
all at once (tmux is not asked). The last stored forecast lives in
`<state>/forecast.json`, the pair results and snapshots in `<state>/forecast-cache.json`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra import files, git, trash
from orchestra.context import Context
from orchestra.errors import OrchestraError, UnknownAgent
from orchestra.models import Agent, Status
from orchestra.worktrees import Project, scratch_index

if TYPE_CHECKING:  # imported where a forecast is made: `ls` reads the stored one without it
    from orchestra import mergetree

FILENAME = "forecast.json"  # the last stored forecast, small: `ls` reads it
CACHE = "forecast-cache.json"  # pair results by commit ids
VERSION = 1
MAX_CACHED = 2000  # pair results kept (or twice those of the last forecast); the least recently used go first
MAX_SNAPSHOTS = 500  # snapshot commits kept by stamp, the oldest go first
RACY = 3_000_000_000  # nanoseconds: a changed file's times must be older than this when it is stamped (`_stamp`)
_clock = time.time_ns  # the tests move it on, as if the work had been made a while before
# Fixed, so that the same uncommitted work always becomes the same commit (and cache key).
SNAPSHOT_ENV = {
    "GIT_AUTHOR_NAME": "orchestra",
    "GIT_AUTHOR_EMAIL": "orchestra@localhost",
    "GIT_AUTHOR_DATE": "@0 +0000",
    "GIT_COMMITTER_NAME": "orchestra",
    "GIT_COMMITTER_EMAIL": "orchestra@localhost",
    "GIT_COMMITTER_DATE": "@0 +0000",
}


@dataclass(frozen=True)
class Standing:
    """One agent against the merge target."""

    conflicts: list[str]  # paths whose merge with the target would conflict (sorted)
    overlaps: list[str]  # paths both changed that merge cleanly (sorted)


@dataclass(frozen=True)
class Pair:
    agents: tuple[str, str]  # the two names, sorted
    conflicts: list[str]
    overlaps: list[str]


@dataclass
class Forecast:
    target: str  # branch name
    target_commit: str
    agents: dict[str, Standing]  # every forecast agent (spawn order), even with empty lists
    pairs: list[Pair]  # only pairs with conflicts or overlaps, sorted by agents
    order: list[str]  # the train's order (`order_of`)
    new_conflicts: list[Pair] = field(default_factory=list)  # conflicting pairs the previous stored forecast lacked

    def to_dict(self) -> dict[str, Any]:
        """The `conflicts --json` object."""
        return {
            "target": self.target,
            "target_commit": self.target_commit,
            "agents": {n: {"conflicts": s.conflicts, "overlaps": s.overlaps} for n, s in self.agents.items()},
            "pairs": [{"agents": list(p.agents), "conflicts": p.conflicts, "overlaps": p.overlaps} for p in self.pairs],
            "order": self.order,
        }

    def conflicts_with(self, name: str) -> list[str]:
        """The agents `name` would conflict with (sorted), then the target's name if it conflicts with it."""
        others = sorted(
            p.agents[1] if p.agents[0] == name else p.agents[0] for p in self.pairs if p.conflicts and name in p.agents
        )
        standing = self.agents.get(name)
        return others + ([self.target] if standing is not None and standing.conflicts else [])


def order_of(fc: Forecast, names: list[str]) -> list[str]:
    """The train's order of `names`: first those that conflict with nothing (the target or one of
    `names`), in spawn order; then those that conflict only with others of `names`, fewest
    conflicting partners first, ties in spawn order; last those that conflict with the target, in
    spawn order. Names the forecast lacks come last, as given."""
    chosen = list(dict.fromkeys(names))
    spawned = {name: position for position, name in enumerate(fc.agents)}
    known = [n for n in chosen if n in spawned]
    partners: dict[str, set[str]] = {n: set() for n in known}
    for pair in fc.pairs:
        a, b = pair.agents
        if pair.conflicts and a in partners and b in partners:
            partners[a].add(b)
            partners[b].add(a)
    against_target = [n for n in known if fc.agents[n].conflicts]
    rest = [n for n in known if not fc.agents[n].conflicts]
    clean = sorted((n for n in rest if not partners[n]), key=spawned.__getitem__)
    grouped = sorted((n for n in rest if partners[n]), key=lambda n: (len(partners[n]), spawned[n]))
    return clean + grouped + sorted(against_target, key=spawned.__getitem__) + [n for n in chosen if n not in spawned]


def forecast(
    ctx: Context,
    names: list[str] | None = None,
    *,
    agents: list[Agent] | None = None,
    target: str | None = None,
    store: bool = True,
    sides: dict[str, str] | None = None,
) -> Forecast:
    """Forecast conflicts and overlaps of the named agents (None: every agent not merged that has a
    branch) with the target branch (None: merging's target) and with each other.

    `agents` are agents already observed (else their records are read as they stand: tmux is not
    asked). Touches no checkout, index, branch, ref or the worktree list. With `store`, the forecast is kept as the
    last one (for `stored`) and `new_conflicts` names the conflicting pairs the previous one lacked.

    `sides` gives the commit that stands for an agent's work where its worktree is not here (an
    agent on a host, `orchestra.remote.fetch_work`): such an agent's worktree is never read.
    """
    from orchestra import mergetree

    project = ctx.project
    sides = sides or {}
    # The records as they stand: tmux can tell whether an agent still works, but not whether it
    # was merged or where its worktree and branch are, which is all a forecast asks of them.
    every = sorted(ctx.state.read().values() if agents is None else agents, key=lambda a: a.created_at)
    wanted = _wanted(every, names)
    placed = ctx.config.worktree["copy"] + ctx.config.worktree["symlink"]
    state_dir = project.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    # One forecast at a time: a second one waits and then finds the first one's results cached.
    with files.locked(state_dir / "forecast.lock"):
        cache, snapshots = _read_cache(state_dir)
        # Every worktree is read at once, and, along with them, the branch tips, the target and
        # what the branches changed since they left it: reading the worktrees is most of a cold
        # forecast's time.
        lean = len(wanted) >= (os.cpu_count() or 1)
        known: mergetree.Known = {}  # the sides' changes, read once for `meeting` and `pair_results`
        reads: list[Callable[[], Any]] = [functools.partial(_branches, ctx, target, wanted, cache, known)]
        # An agent on a host has its worktree there: only the side given for it counts (none: its
        # branch as fetched here, if it is).
        reads += [
            functools.partial(_given, sides.get(a.name))
            if a.name in sides or a.host is not None
            else functools.partial(_look, a, placed, snapshots, lean)
            for a in wanted
        ]
        (tips, target, target_commit), *looks = mergetree.in_parallel(lambda read: read(), reads)
        chosen = _chosen(wanted, names, {**tips, **{a.branch: sides[a.name] for a in wanted if a.name in sides}})
        looked = dict(zip([a.name for a in wanted], looks, strict=True))
        agent_of = {a.name: a for a in chosen}
        side: dict[str, str | _Pending] = {}  # a commit, or uncommitted work with no snapshot yet
        stamps: dict[str, str] = {}  # the snapshot stamps of the sides found in the cache
        for a in chosen:
            _take(side, stamps, a, looked[a.name], tips)
        cached = {name: side[name] for name in stamps}
        gone = _missing(project, [commit for commit in cached.values() if isinstance(commit, str)])
        if gone:  # pruned by `git gc` since: made again
            snapshots = {stamp: commit for stamp, commit in snapshots.items() if commit not in gone}
            for name, commit in cached.items():
                if commit in gone:
                    del stamps[name]
                    _take(side, stamps, agent_of[name], _look(agent_of[name], placed, snapshots, lean), tips)
        pairs = [(a.name, other) for i, a in enumerate(chosen) for other in ["", *(b.name for b in chosen[i + 1 :])]]
        waiting = {name: work for name, work in side.items() if isinstance(work, _Pending)}
        if waiting:
            # A snapshot is made only for work that may meet another side's: every pair of the
            # others merges cleanly, with no file in common, whatever the snapshot would hold.
            sides_now = {name: work.overlay if isinstance(work, _Pending) else work for name, work in side.items()}
            needed = sorted(mergetree.meeting(project, target_commit, sides_now, pairs, known) & set(waiting))
            made = mergetree.in_parallel(lambda name: _snapshot(agent_of[name], waiting[name], lean), needed)
            for name, commit in zip(needed, made, strict=True):
                side[name] = commit
                stamp = waiting[name].stamp
                if stamp:
                    stamps[name] = stamp
        for name, stamp in stamps.items():  # moved to the end: the newest are kept
            snapshots.pop(stamp, None)
            snapshots[stamp] = str(side[name])
        jobs: dict[tuple[str, str], tuple[str, str]] = {}  # (name, name or "") -> (commit, commit)
        for x, y in pairs:
            one, other = side[x], side[y] if y else target_commit
            if isinstance(one, str) and isinstance(other, str):
                jobs[(x, y)] = (one, other)
        keys = {mergetree.pair_key(*commits) for commits in jobs.values()}
        cache.update(
            mergetree.pair_results(
                project, target_commit, [tuple(k.split(" ")) for k in sorted(keys - set(cache))], known
            )
        )
        used = time.time()
        for key in keys:
            cache[key]["used"] = used
        apart: dict[str, Any] = {"conflicts": [], "overlaps": []}  # a pair of which one side needed no snapshot
        results = {job: cache[mergetree.pair_key(*jobs[job])] if job in jobs else apart for job in pairs}
        fc = _assemble(target, target_commit, [a.name for a in chosen], results)
        if store:
            previous = _stored(state_dir)
            before = {p.agents for p in previous.pairs if p.conflicts} if previous else set()
            fc.new_conflicts = [p for p in fc.pairs if p.conflicts and p.agents not in before]
            _write(state_dir / FILENAME, {"version": VERSION, "last": fc.to_dict()})
        _write_cache(state_dir, cache, snapshots, max(MAX_CACHED, 2 * len(keys)))
    return fc


def _take(
    side: dict[str, str | _Pending],
    stamps: dict[str, str],
    agent: Agent,
    found: tuple[str | None, str | None] | _Pending,
    tips: dict[str, str],
) -> None:
    """Record what `_look` found for `agent` in `side` (and a cached snapshot's stamp in `stamps`)."""
    if isinstance(found, _Pending):
        side[agent.name] = found
        return
    commit, stamp = found
    side[agent.name] = commit or tips[agent.branch]
    if stamp:
        stamps[agent.name] = stamp


def _given(commit: str | None) -> tuple[str | None, str | None]:
    """A side given by the caller, as `_look` answers (no stamp: it is not a snapshot of here)."""
    return commit, None


def work_commit(ctx: Context, agent: Agent) -> str | None:
    """The commit that stands for the agent's work in a forecast: a snapshot of its uncommitted
    and untracked work on top of its worktree's HEAD (objects only: no ref, index or checkout is
    changed), else its branch tip; None when it has neither. A host answers with it for its
    agents (`orchestra.on_host`), so that the forecast here takes their work as it takes a local
    agent's."""
    placed = ctx.config.worktree["copy"] + ctx.config.worktree["symlink"]
    found = _look(agent, placed, {})
    if isinstance(found, _Pending):
        return _snapshot(agent, found)
    if found[0]:
        return found[0]
    tip = git.run(
        ["rev-parse", "--verify", "--quiet", f"refs/heads/{agent.branch}^{{commit}}"], ctx.project.root, check=False
    )
    return tip.stdout.strip() if tip.returncode == 0 else None


def stored(ctx: Context) -> Forecast | None:
    """The last stored forecast, read from the state folder without running git (for `ls`)."""
    return _stored(ctx.project.state_dir)


# -- choosing agents and their sides -------------------------------------------------------


def _branch_tips(project: Project) -> dict[str, str]:
    out = git.run(["for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/"], project.root)
    return dict(line.rsplit(" ", 1) for line in out.stdout.splitlines() if " " in line)


def _target_commit(project: Project, target: str, tips: dict[str, str]) -> str:
    if target in tips:
        return tips[target]
    found = git.run(["rev-parse", "--verify", "--quiet", f"{target}^{{commit}}", "--"], project.root, check=False)
    if target.startswith("-") or found.returncode != 0:
        raise OrchestraError(
            f"the merge target branch '{target}' does not exist: set [merge] target in orchestra.toml."
        )
    return found.stdout.strip()


def _branches(
    ctx: Context, target: str | None, wanted: list[Agent], cache: dict[str, Any], known: mergetree.Known
) -> tuple[dict[str, str], str, str]:
    """The branch tips, the target's name and commit; and, unless every pair of the wanted
    agents' tips is cached, what those tips changed since they left the target (into `known`)."""
    from orchestra import mergetree

    tips = _branch_tips(ctx.project)
    target = target or _merge_target(ctx)
    target_commit = _target_commit(ctx.project, target, tips)
    commits = sorted({tips[a.branch] for a in wanted if a.branch in tips})
    keys = {mergetree.pair_key(c, target_commit) for c in commits}
    keys |= {mergetree.pair_key(c, d) for i, c in enumerate(commits) for d in commits[i + 1 :]}
    if not keys <= set(cache):
        mergetree.changes_of(ctx.project, [c for c in commits if c != target_commit], target_commit, known)
    return tips, target, target_commit


def _merge_target(ctx: Context) -> str:
    """`orchestra.removal.merge_target`, without importing what removing agents needs."""
    from orchestra.worktrees import current_branch

    return ctx.config.merge["target"] or current_branch(ctx.project) or "HEAD"


def _wanted(every: list[Agent], names: list[str] | None) -> list[Agent]:
    """The agents to forecast, before their branches are known: `_chosen` then keeps those whose
    branch exists."""
    if names is None:
        # An agent in the main checkout (--no-worktree) has no work apart from the target's.
        return [a for a in every if a.status != Status.MERGED and not a.no_worktree]
    by_name = {a.name: a for a in every}
    unknown = [n for n in dict.fromkeys(names) if n not in by_name]
    if unknown:
        raise UnknownAgent.named(*unknown)
    for name in names:
        if by_name[name].no_worktree:
            from orchestra.removal import in_main_checkout

            raise OrchestraError(in_main_checkout(by_name[name], "forecast"))
    wanted = set(names)
    return [a for a in every if a.name in wanted]


def _chosen(wanted: list[Agent], names: list[str] | None, tips: dict[str, str]) -> list[Agent]:
    if names is None:
        return [a for a in wanted if a.branch in tips]
    for agent in wanted:
        if agent.branch not in tips:
            raise OrchestraError(
                f"agent '{agent.name}' has no branch {agent.branch} any more, so there is nothing to forecast."
            )
    return wanted


@dataclass(frozen=True)
class _Pending:
    """Uncommitted work found in a worktree whose snapshot commit is not made yet (`_snapshot`)."""

    head: str  # the worktree's HEAD commit
    overlay: mergetree.Overlay  # what the forecast knows of the work before the snapshot
    unstaged: list[str]  # the paths whose files differ from the index
    stamp: str | None  # the stamp the snapshot will be cached under (None: not cached)


def _side(agent: Agent, tips: dict[str, str], placed: list[str], snapshots: dict[str, str]) -> tuple[str, str | None]:
    """The commit that stands for the agent's work: its branch tip, or a snapshot commit of its
    worktree's uncommitted and untracked work on top of the worktree's HEAD; and for a snapshot,
    the stamp it is cached under in `snapshots`."""
    found = _look(agent, placed, snapshots)
    if isinstance(found, _Pending):
        return _snapshot(agent, found), found.stamp
    return found[0] or tips[agent.branch], found[1]


def _look(
    agent: Agent, placed: list[str], snapshots: dict[str, str], lean: bool = False
) -> tuple[str | None, str | None] | _Pending:
    """The agent's side as `_side` gives it, with None for the branch tip (the tips may not be
    known yet); or, for uncommitted work whose snapshot is not cached, what making it takes.

    `lean`: git reads the worktree's files in one thread (`core.preloadIndex` off), for when
    several worktrees are read at once and already keep every processor busy."""
    worktree = Path(agent.worktree)
    if not worktree.is_dir() or trash.is_broken(worktree) or trash.is_unpopulated(worktree):
        return None, None
    excluded = [f":(exclude,literal){p}" for p in _placed(worktree, placed)]
    spec = ["--", ".", *excluded] if excluded else []  # a pathspec costs git status a seventh of its time
    # --no-optional-locks: a plain `git status` may rewrite the worktree's index to refresh it.
    # --no-renames: the snapshot takes both paths of a rename anyway.
    options = ["--no-optional-locks", *(["-c", "core.preloadIndex=false"] if lean else [])]
    args = [*options, "status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all", "--no-renames", *spec]
    started = _clock()
    status = git.run(args, worktree, check=False)
    head, paths, unstaged = _read_status(status.stdout) if status.returncode == 0 else (None, [], [])
    if head is None or not paths:
        return None, None
    stamp = _stamp(worktree, status.stdout, paths, started)
    if stamp is not None and stamp in snapshots:
        return snapshots[stamp], stamp
    from orchestra import mergetree

    listed = frozenset(path.rstrip("/") for path in paths)  # a repository of its own is listed as "sub/"
    gone = frozenset(path for path in listed if not os.path.lexists(worktree / path))
    return _Pending(head, mergetree.Overlay(head, listed, gone), unstaged, stamp)


def _snapshot(agent: Agent, pending: _Pending, lean: bool = False) -> str:
    """The snapshot commit of the work `_look` found: a copy of the worktree's index, the files
    that differ from it added (as `add --all` would), its tree committed on top of HEAD."""
    worktree = Path(agent.worktree)
    with _scratch_index(worktree) as env:
        if pending.unstaged:  # only these differ from the index: `add --all`'s tree, without reading every file again
            env["GIT_LITERAL_PATHSPECS"] = "1"
            listed = "".join(f"{path}\0" for path in pending.unstaged)
            add = [*(["-c", "core.preloadIndex=false"] if lean else []), "add", "--all"]
            git.run([*add, "--pathspec-from-file=-", "--pathspec-file-nul"], worktree, env=env, input=listed)
        tree = git.output(["write-tree"], worktree, env=env)
    message = f"orchestra: forecast of the uncommitted work of agent {agent.name}"
    env = {**os.environ, **SNAPSHOT_ENV}
    return git.output(["commit-tree", tree, "-p", pending.head, "-m", message], worktree, env=env)


@contextlib.contextmanager
def _scratch_index(worktree: Path) -> Iterator[dict[str, str]]:
    """`worktrees.scratch_index`, without asking git where a linked worktree's index is."""
    index = git.index_file(worktree)
    if index is None:
        with scratch_index(worktree) as env:
            yield env
        return
    import shutil
    import tempfile  # here: random and its kin are imported only when a snapshot is made

    with tempfile.TemporaryDirectory() as tmp:
        scratch = os.path.join(tmp, "index")
        with contextlib.suppress(FileNotFoundError):
            shutil.copy2(index, scratch)
        yield {**os.environ, "GIT_INDEX_FILE": scratch}


def _missing(project: Project, commits: list[str]) -> set[str]:
    """Those of `commits` the repository no longer has."""
    if not commits:
        return set()
    out = git.run(["cat-file", "--batch-check"], project.root, input="".join(f"{c}\n" for c in commits)).stdout
    return {line.split()[0] for line in out.splitlines() if line.endswith(" missing")}


def _read_status(out: str) -> tuple[str | None, list[str], list[str]]:
    """From `git status --porcelain=v2 -z --branch`: HEAD's commit, every path it lists (both of a
    rename), and those whose files differ from the index (untracked ones included)."""
    head, paths, unstaged = None, [], []
    fields = iter(out.split("\0"))
    for entry in fields:
        kind, in_worktree = entry[:1], entry[3:4]
        if entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ")
            head = oid if oid != "(initial)" else None
        elif kind in ("1", "2", "u"):
            path = entry.split(" ", {"1": 8, "2": 9, "u": 10}[kind])[-1]
            paths += [path, next(fields, "")] if kind == "2" else [path]
            unstaged += [path] if in_worktree != "." else []
        elif kind in ("?", "!"):
            paths.append(entry[2:])
            unstaged.append(entry[2:])
    return head, paths, unstaged


def _stamp(worktree: Path, status: str, paths: list[str], started: int) -> str | None:
    """What a snapshot of the worktree depends on: git's status (HEAD, and index against HEAD and
    files for each changed path) and the size, modification and change times, inode and mode of
    every changed file, so an edit of a file that was already changed gives a new stamp too,
    even one that keeps its size and puts its modification time back (its change time moves).

    None (the snapshot is made, not cached) when a changed file's times are not older than
    `started` (when `git status` began, in nanoseconds) by `RACY`: a file system stores times
    in ticks (a second, two on FAT; the kernel's clock moves in steps of milliseconds), so a
    file written again within the tick its stamp was taken in could show the same times. As
    git does for its index, such a stamp is not trusted, and the snapshot is made again."""
    try:  # hashlib's import loads OpenSSL, which costs a cold forecast more than the hashing
        from _blake2 import blake2b
    except ImportError:  # not CPython
        from hashlib import blake2b

    digest = blake2b(digest_size=16)
    digest.update(f"{worktree}\0{status}\0".encode("utf-8", "surrogateescape"))
    newest = 0
    for path in paths:
        try:
            info = os.lstat(worktree / path)
        except OSError:
            digest.update(b"-\0")
            continue
        newest = max(newest, info.st_mtime_ns, info.st_ctime_ns)
        digest.update(f"{info.st_mtime_ns} {info.st_ctime_ns} {info.st_size} {info.st_ino} {info.st_mode}\0".encode())
    return digest.hexdigest() if newest < started - RACY else None


def _placed(worktree: Path, entries: list[str]) -> list[str]:
    present = [e for e in entries if os.path.lexists(worktree / e)]
    if not present:
        return []
    from orchestra.integrate import placed_files  # only now: its import pulls in tempfile and random

    return placed_files(worktree, present)


def _assemble(target: str, target_commit: str, names: list[str], results: dict[tuple[str, str], Any]) -> Forecast:
    standings = {n: Standing(results[(n, "")]["conflicts"], results[(n, "")]["overlaps"]) for n in names}
    pairs = []
    for (a, b), entry in results.items():
        if b and (entry["conflicts"] or entry["overlaps"]):
            pairs.append(Pair(tuple(sorted((a, b))), entry["conflicts"], entry["overlaps"]))  # type: ignore[arg-type]
    pairs.sort(key=lambda p: p.agents)
    fc = Forecast(target, target_commit, standings, pairs, [])
    fc.order = order_of(fc, names)
    return fc


# -- the file ------------------------------------------------------------------------------


def _stored(state_dir: Path) -> Forecast | None:
    data = _read(state_dir / FILENAME)
    return _parse(data.get("last")) if data is not None else None


def _read_cache(state_dir: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The pair results and the snapshot commits by stamp, as stored; what is damaged or of
    another version is left out (computed again)."""
    data = _read(state_dir / CACHE) or {}
    pairs, snapshots = data.get("pairs"), data.get("snapshots")
    pairs = {k: v for k, v in pairs.items() if _sound(v)} if isinstance(pairs, dict) else {}
    snapshots = {k: v for k, v in snapshots.items() if isinstance(v, str)} if isinstance(snapshots, dict) else {}
    return pairs, snapshots


def _write_cache(state_dir: Path, cache: dict[str, dict[str, Any]], snapshots: dict[str, str], most: int) -> None:
    if len(cache) > most:
        cache = dict(sorted(cache.items(), key=lambda item: item[1]["used"])[-most:])
    kept = dict(list(snapshots.items())[-MAX_SNAPSHOTS:])  # the newest last
    _write(state_dir / CACHE, {"version": VERSION, "pairs": cache, "snapshots": kept})


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == VERSION else None


def _write(path: Path, data: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # a file that cannot be written only costs git calls next time
        files.write_atomic(path, json.dumps(data, separators=(",", ":")))


def _sound(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("conflicts"), list)
        and isinstance(entry.get("overlaps"), list)
        and isinstance(entry.get("used"), (int, float))
    )


def _parse(data: Any) -> Forecast | None:
    try:
        agents = {n: Standing(list(s["conflicts"]), list(s["overlaps"])) for n, s in data["agents"].items()}
        pairs = [Pair(tuple(p["agents"]), list(p["conflicts"]), list(p["overlaps"])) for p in data["pairs"]]
        return Forecast(str(data["target"]), str(data["target_commit"]), agents, pairs, list(data["order"]))
    except (KeyError, TypeError, AttributeError, ValueError):
        return None
