"""The warm worktree pool (`[worktree] pool = N`): worktrees checked out ahead of time at the base,
so that a spawn claims one with reference operations instead of checking out the whole tree.

Members live in `<worktree_root>/.pool/<id>`, each on a detached HEAD, and are recorded in
`pool.json` in the state folder (changed only under `pool.lock`). A claim takes a member out of the
record, proves it holds exactly its recorded commit and nothing else (one `git status`), and then
only moves references: `git worktree move` to the agent's path, `update-ref` for the new branch,
`symbolic-ref` for HEAD. The fill, which does the checkouts, runs off the clock (a detached process
after a spawn, or `orchestra pool fill`), one at a time under `pool-fill.lock`, so fills never overfill.

A member never holds anyone's work: one found changed is set aside, never claimed, never deleted
while it holds anything; drain and tidy remove only members that hold nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orchestra import files, git, trash, worktrees
from orchestra.context import Context
from orchestra.errors import OrchestraError

FOLDER = ".pool"  # inside worktree_root; not a possible agent name (names start with a letter or digit)
NO_POOL = (
    "[worktree] pool is 0 in orchestra.toml, so there is no pool to {what}: "
    "set `pool = N` in its [worktree] table (N worktrees kept ready for spawns)."
)


@dataclass
class Member:
    id: str
    path: str
    commit: str  # what it was checked out at: a claim proves HEAD is exactly this
    made_at: str
    taken_by: int | None = None  # the process claiming, refreshing or removing it right now
    set_aside: str | None = None  # why it is never claimed: found changed, or a step failed

    @property
    def ready(self) -> bool:
        return self.taken_by is None and self.set_aside is None


def size(ctx: Context) -> int:
    wanted: int = ctx.config.worktree["pool"]
    return wanted


def folder(ctx: Context) -> Path:
    return worktrees.worktree_root(ctx.project, ctx.config.orchestra["worktree_root"]) / FOLDER


def base(ctx: Context) -> str:
    """The commit a spawn without --base starts from, so the one the pool is kept at."""
    return worktrees.resolve_commit(ctx.project, ctx.config.orchestra["base"])


# -- the record ---------------------------------------------------------------------------


def _record_path(ctx: Context) -> Path:
    return ctx.state.dir / "pool.json"


def read(ctx: Context) -> tuple[dict[str, Member], str | None]:
    """The members as recorded, and the last background fill's error. A damaged record counts as
    empty: its folders are then strays, which are checked before anything removes them."""
    try:
        data = json.loads(_record_path(ctx).read_text(encoding="utf-8"))
        members = {key: Member(**value) for key, value in data["members"].items()}
        return members, data.get("fill_error")
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}, None


@contextmanager
def _update(ctx: Context) -> Iterator[tuple[dict[str, Member], list[str | None]]]:
    """The record, changed under `pool.lock` and written back in one step."""
    ctx.state.dir.mkdir(parents=True, exist_ok=True)
    with files.locked(ctx.state.dir / "pool.lock"):
        members, error = read(ctx)
        box = [error]
        yield members, box
        data = {"version": 1, "members": {k: asdict(m) for k, m in members.items()}, "fill_error": box[0]}
        files.write_atomic(_record_path(ctx), json.dumps(data, indent=1))


# -- looking at a member ------------------------------------------------------------------


def contents(path: Path, expected: str | None) -> str | None:
    """Why the worktree at `path` is not exactly a clean checkout of `expected` on a detached HEAD
    (None when it is). One `git status`: its header gives HEAD, its entries every changed,
    untracked or ignored file (a fresh checkout has none of them)."""
    if not path.is_dir():
        return "its folder is gone"
    if trash.is_broken(path):
        return "it has lost its .git"
    result = git.run(
        ["status", "--porcelain=v2", "--branch", "--untracked-files=all", "--ignored=matching", "-z"],
        path,
        check=False,
    )
    if result.returncode != 0:
        return f"git cannot read it ({result.stderr.strip() or result.returncode})"
    head, entries = None, []
    fields = {"1": 8, "2": 9, "u": 10, "?": 1, "!": 1}  # spaces before the path, by entry kind
    for entry in result.stdout.split("\0"):
        if entry.startswith("# branch.oid "):
            head = entry.removeprefix("# branch.oid ")
        elif entry.startswith("# branch.head ") and entry != "# branch.head (detached)":
            return f"it is on the branch {entry.removeprefix('# branch.head ')}"
        elif entry[:1] in fields and entry[1:2] == " ":
            entries.append(entry.split(" ", fields[entry[0]])[-1])
    if entries:
        return f"it holds files not from its checkout ({', '.join(entries[:3])}{', ...' if len(entries) > 3 else ''})"
    if expected is not None and head != expected:
        return f"its HEAD is {(head or 'unborn')[:12]}, not {expected[:12]}"
    return None


def lone_commits(ctx: Context, path: Path, known: list[str]) -> list[str]:
    """Commits on the worktree's HEAD that no branch, tag or remote branch holds (nor `known`)."""
    head = trash.head_commit(path)
    if head is None:
        return []
    out = git.run(
        ["log", "--format=%h %s", head, "--not", "--branches", "--tags", "--remotes", *known, "--"],
        ctx.project.root,
        check=False,
    ).stdout
    return out.splitlines()


def _holds_work(ctx: Context, path: Path, commit: str | None) -> str | None:
    """What removing a member would lose, as a phrase (None: nothing). Unlike `contents`, a moved
    HEAD is no loss as long as a branch holds its commits."""
    if not path.exists():
        return None
    if trash.is_broken(path):
        return "it has lost its .git, so git cannot tell what it holds"
    if trash.is_unpopulated(path):  # a fill killed before its checkout: only files put there count
        changed = trash.uncommitted_changes(path, ctx.project)
        return f"it holds files ({', '.join(changed[:3])})" if changed else None
    problem = contents(path, None)
    lone = lone_commits(ctx, path, [commit] if commit else [])
    if lone:
        problem = (problem + " and " if problem else "") + f"commits on no branch ({', '.join(lone[:3])})"
    return problem


# -- claiming -----------------------------------------------------------------------------


def claim(ctx: Context, path: Path, branch: str, start: str, new_branch: bool = True) -> bool:
    """Give the agent a pool member as its worktree at `path` on `branch` at `start`: a new
    branch, or one made already at `start` (`worktrees.make_branches`) without `new_branch`.
    False when the pool has none that can be proved clean (the caller makes a fresh worktree).
    One agent's claim; a spawn claims for all its agents at once (`claims`)."""
    with claims(ctx, [start]) as batch:
        return batch.claim(0, path, branch, start, new_branch)


class Claims:
    """Members taken for a batch of agents, one per agent where the pool has one (`claims`)."""

    def __init__(self, ctx: Context, members: list[Member | None]):
        self.ctx = ctx
        self.members = members
        self.outcome: dict[str, str | None] = {}  # member id -> None once claimed, or why it was set aside

    def claim(self, index: int, path: Path, branch: str, start: str, new_branch: bool = True) -> bool:
        """Give agent `index` its member as its worktree at `path` on `branch` at `start`; False
        when it has none or its member cannot be proved clean (set aside). A member at another
        commit is brought to `start` first (`reset --keep`: only files that differ)."""
        member = self.members[index]
        if member is None:
            return False
        source = Path(member.path)
        try:
            problem = contents(source, member.commit)
            if problem is None and member.commit != start:
                git.run(["reset", "--quiet", "--keep", start], source)
                member.commit = start
            if problem is None:
                worktrees.move_worktree(self.ctx.project, source, path)
        except OrchestraError as error:
            problem = str(error)
        if problem is not None:
            self.outcome[member.id] = f"not claimed: {problem}"
            return False
        self.outcome[member.id] = None  # from here it is the agent's, undone with it if the spawn fails
        if new_branch:
            git.run(["update-ref", "-m", f"branch: Created from {start}", f"refs/heads/{branch}", start, ""], path)
        git.run(["symbolic-ref", "-m", "orchestra: claimed from the pool", "HEAD", f"refs/heads/{branch}"], path)
        return True


@contextmanager
def claims(ctx: Context, starts: list[str]) -> Iterator[Claims]:
    """Take a ready member for each agent (its base in `starts`) in one change of the record, one
    at that commit where there is one; on leaving, one more change forgets the members claimed
    (now agents' worktrees), sets aside those found changed, and puts back the ones not tried
    (an agent whose spawn stopped first)."""
    taken: list[Member | None] = [None] * len(starts)
    if size(ctx) > 0 and starts:
        with _update(ctx) as (members, _):
            ready = sorted((m for m in members.values() if m.ready), key=lambda m: m.made_at)
            for index, start in enumerate(starts):
                if not ready:
                    break
                chosen = next((m for m in ready if m.commit == start), ready[0])
                ready.remove(chosen)
                chosen.taken_by = os.getpid()
                taken[index] = Member(**asdict(chosen))
    batch = Claims(ctx, taken)
    try:
        yield batch
    finally:
        if any(taken):
            with _update(ctx) as (members, _):
                for member in filter(None, taken):
                    if member.id in batch.outcome and batch.outcome[member.id] is None:
                        members.pop(member.id, None)
                    else:
                        member.taken_by, member.set_aside = None, batch.outcome.get(member.id)
                        members[member.id] = member


def _put_back(ctx: Context, member: Member, set_aside: str | None = None) -> None:
    with _update(ctx) as (members, _):
        member.taken_by, member.set_aside = None, set_aside
        members[member.id] = member


def _forget(ctx: Context, member: Member) -> None:
    with _update(ctx) as (members, _):
        members.pop(member.id, None)


# -- filling ------------------------------------------------------------------------------


@dataclass
class FillResult:
    base: str
    made: int = 0
    refreshed: int = 0
    removed: int = 0
    set_aside: list[str] = field(default_factory=list)
    ready: int = 0


def fill(ctx: Context) -> FillResult:
    """Bring the pool to N ready members at the current base: refresh stale ones, make missing
    ones, remove extra ones. One fill at a time (`pool-fill.lock`); a second one waits, then finds
    the pool full. New checkouts get their index refreshed a second later, so that git (which
    trusts file times only when they are older than the index) can prove them clean cheaply."""
    wanted = size(ctx)
    if wanted <= 0:
        raise OrchestraError(NO_POOL.format(what="fill"))
    at = base(ctx)
    result = FillResult(base=at)
    ctx.state.dir.mkdir(parents=True, exist_ok=True)
    with files.locked(ctx.state.dir / "pool-fill.lock"):
        fresh: list[Member] = []  # checked out, offered once their index is refreshed
        try:
            for member in _take_all(ctx, lambda m, kept: m.commit != at or kept >= wanted):
                problem = contents(Path(member.path), member.commit)
                if problem is not None:
                    _put_back(ctx, member, set_aside=f"found changed: {problem}")
                    result.set_aside.append(f"{member.id}: {problem}")
                elif member.commit == at:  # more than N
                    worktrees.remove_clean_worktree(ctx.project, Path(member.path))
                    _forget(ctx, member)
                    result.removed += 1
                else:
                    git.run(["reset", "--quiet", "--keep", at], Path(member.path))
                    member.commit = at
                    fresh.append(member)
                    result.refreshed += 1
            while len(_ready(ctx)) + len(fresh) < wanted:
                fresh.append(_make(ctx, at))
                result.made += 1
            if fresh:
                _settle()
            for member in fresh:
                git.run(["update-index", "-q", "--refresh"], Path(member.path), check=False)
        finally:
            for member in fresh:  # also when a later step failed: each of these is a whole checkout
                _put_back(ctx, member)
        with _update(ctx) as (members, error):
            error[0] = None
            result.ready = sum(1 for m in members.values() if m.ready)
    return result


def _ready(ctx: Context) -> list[Member]:
    return [m for m in read(ctx)[0].values() if m.ready]


def _take_all(ctx: Context, chosen: Callable[[Member, int], bool]) -> list[Member]:
    """Ready members for which `chosen(member, ready members kept so far)` is true, taken at once."""
    taken = []
    with _update(ctx) as (members, _):
        kept = 0
        for member in sorted(members.values(), key=lambda m: m.made_at):
            if not member.ready:
                continue
            if chosen(member, kept):
                member.taken_by = os.getpid()
                taken.append(Member(**asdict(member)))
            else:
                kept += 1
    return taken


def _make(ctx: Context, at: str) -> Member:
    """A new member at `at`, recorded (as taken by this fill) before git makes it, so a fill killed
    half-way leaves a member that tidy finds rather than a folder no one knows."""
    name = os.urandom(5).hex()
    path = folder(ctx) / name
    member = Member(name, str(path), at, datetime.now(timezone.utc).isoformat(), taken_by=os.getpid())
    with _update(ctx) as (members, _):
        members[name] = member
    worktrees.add_unchecked_worktree(ctx.project, path, at)
    return member


def _settle() -> None:
    """Wait until the clock is in a later second than the last checkout's files (see `fill`)."""
    time.sleep(max(0.0, int(time.time()) + 1.05 - time.time()))


def refill_later(ctx: Context) -> None:
    """Start a fill in a detached process when the pool is below N: the spawn that called this
    does not wait for it (posix_spawn in a session of its own, like the notifiers)."""
    wanted = size(ctx)
    if wanted <= 0 or len(_ready(ctx)) >= wanted:
        return
    from orchestra.launch import launcher_argv

    argv = launcher_argv("_pool-fill", str(ctx.project.root))
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRA_DEBUG"}
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        pid = os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)
    finally:
        os.close(devnull)
    import threading

    threading.Thread(target=os.waitpid, args=(pid, 0), daemon=True, name="orchestra-pool-reaper").start()


def fill_main(argv: list[str]) -> int:
    """`python -m orchestra _pool-fill ROOT`: the background fill, at a low priority (set by
    `orchestra.__main__` before anything is imported) so that agents starting at the same time
    come first. Its error is kept in the record for `pool status`."""
    try:
        ctx = Context.open(Path(argv[0]))
    except OrchestraError:
        return 1  # the next command run there says what is wrong with the project
    ctx.state.hold_busy()  # `orchestra demo` waits for it before saying its folder can go
    try:
        fill(ctx)
    except Exception as error:  # noqa: BLE001 - no one watches this process: the record keeps why
        with _update(ctx) as (_, box):
            box[0] = str(error) if isinstance(error, OrchestraError) else f"{type(error).__name__}: {error}"
        return 1
    return 0


# -- looking, draining, tidying -----------------------------------------------------------


def status(ctx: Context) -> dict[str, Any]:
    """The pool as it is: each member with its commit, whether that is the base, and its state
    (`ready`, `taken`, `set aside`, `gone`: folder or git's record missing, `stray`: a folder in the
    pool folder that the record does not name). One `git worktree list`, no `git status`."""
    members, error = read(ctx)
    at = base(ctx)
    registered = {p.resolve(): p for p in worktrees.registered_worktrees(ctx.project)}
    rows = []
    for member in sorted(members.values(), key=lambda m: m.made_at):
        path = Path(member.path)
        state, problem = "ready" if member.ready else "set aside", member.set_aside
        if member.taken_by is not None:
            state = "taken" if _alive(member.taken_by) else "abandoned"
            problem = problem or (None if state == "taken" else "the process that took it ended part-way")
        elif not path.is_dir() or path.resolve() not in registered:
            state, problem = "gone", "its folder or git's record of it is missing"
        rows.append(_row(member.id, path, member.commit, at, state, problem))
    for path in _strays(ctx, members):
        rows.append(_row(path.name, path, trash.head_commit(path), at, "stray", "not in the pool's record"))
    ready = sum(1 for r in rows if r["state"] == "ready")
    return {"size": size(ctx), "base": at, "ready": ready, "members": rows, "fill_error": error}


def _row(name: str, path: Path, commit: str | None, at: str, state: str, problem: str | None) -> dict[str, Any]:
    return {
        "id": name,
        "path": str(path),
        "commit": commit,
        "current": commit == at,
        "state": state,
        "problem": problem,
    }


def _strays(ctx: Context, members: dict[str, Member]) -> list[Path]:
    where = folder(ctx)
    named = {Path(m.path).name for m in members.values()}
    try:
        return sorted(p for p in where.iterdir() if p.is_dir() and p.name not in named)
    except OSError:
        return []


@dataclass
class Drained:
    removed: list[str]
    kept: list[str]  # one sentence each: what it holds and what to do


def drain(ctx: Context, only_broken: bool = False) -> Drained:
    """Remove pool members that hold nothing (all of them, or with `only_broken` those that are set
    aside, gone, strays, or left taken by a process that died): each is proved clean first, and one
    that holds files or commits no branch has is kept, with what to do."""
    result = Drained([], [])
    ctx.state.dir.mkdir(parents=True, exist_ok=True)
    # Draining all waits for a fill under way (it would refill at once); tidying waits for nothing.
    lock = files.locked(ctx.state.dir / "pool-fill.lock") if not only_broken else contextlib.nullcontext()
    with lock:
        with _update(ctx) as (members, _):
            chosen = [
                m
                for m in members.values()
                if (m.taken_by is None or not _alive(m.taken_by))
                and (not only_broken or not m.ready or not Path(m.path).is_dir())
            ]
            for member in chosen:
                member.taken_by = os.getpid()
            chosen = [Member(**asdict(m)) for m in chosen]
            strays = _strays(ctx, members)
        for member in chosen:
            _drain_one(ctx, Path(member.path), member.commit, member.id, result, member)
        for path in strays:
            _drain_one(ctx, path, None, path.name, result, None)
    if result.removed:  # a member whose folder was gone leaves git's record of it
        worktrees.prune_worktrees(ctx.project)
    return result


def _drain_one(ctx: Context, path: Path, commit: str | None, name: str, result: Drained, member: Member | None) -> None:
    problem = _holds_work(ctx, path, commit)
    if problem is not None:
        result.kept.append(
            f"pool worktree {name} at {path}: {problem}; look at it and keep what you need (a branch for its "
            f"commits: `git -C {path} branch NAME`), then remove it with `git worktree remove --force {path}`"
        )
        if member is not None:
            _put_back(ctx, member, set_aside=problem)
        return
    if path.exists():
        if trash.is_broken(path) or trash.is_unpopulated(path):  # nothing in it, as just proved
            worktrees.remove_worktree(ctx.project, path, folder(ctx))
        else:  # git itself refuses, should a file have appeared since
            worktrees.remove_clean_worktree(ctx.project, path)
    if member is not None:
        _forget(ctx, member)
    result.removed.append(name)


def tidy(ctx: Context) -> Drained:
    """What `clean` and `doctor --fix` do: remove the broken members that hold nothing."""
    return drain(ctx, only_broken=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
