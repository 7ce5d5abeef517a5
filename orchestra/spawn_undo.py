"""Undoing a spawn: what a failed, interrupted or killed `orchestra spawn` made, and the spawn
locks that tell a spawn at work from one that died.

A spawn removes only what it made itself, in that same command: fresh worktrees that hold no
one's work yet. Each agent's record is the spawn's intent, written under the agent's spawn lock
(`spawning/<name>.lock`, held until the spawn ends, the file removed once the agent started or
was undone), so a `starting` record whose lock file exists and is free was left by a spawn that
died: `undo_interrupted` (the next spawn, `doctor --fix`) undoes it unless it holds work.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from orchestra import files, git, worktrees
from orchestra.context import Context
from orchestra.errors import OrchestraError
from orchestra.models import Agent, Status
from orchestra.reconcile import owned_pane


def remove_fresh_worktree(ctx: Context, agent: Agent) -> None:
    """Undo a worktree this spawn just made; it holds no one's work yet. Its name was free when
    reserved (no folder, no branch), so whatever is there now this spawn made, perhaps half.
    An agent in the main checkout (`--no-worktree`) had nothing made for it."""
    if agent.no_worktree:
        return
    path = Path(agent.worktree)
    try:
        if path.exists() or path.is_symlink() or worktrees.branch_exists(ctx.project, agent.branch):
            with contextlib.suppress(OrchestraError):
                worktrees.remove_worktree(ctx.project, path)
            if path.exists() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)  # git gave up on a half-made one
                worktrees.prune_worktrees(ctx.project)
            worktrees.delete_branch(ctx.project, agent.branch)
    except OrchestraError:
        pass


def undo(ctx: Context, agent: Agent) -> None:
    """Undo one agent of this spawn: its window, its fresh worktree and branch, its record."""
    pane = owned_pane(ctx, agent)  # its window may be open even where the record has no pane yet
    if pane is not None:
        ctx.tmux.kill_window(pane.window)
    elif agent.window:
        ctx.tmux.kill_window(agent.window)
    remove_fresh_worktree(ctx, agent)
    forget(ctx, [agent])


def forget(ctx: Context, agents: Sequence[Agent]) -> None:
    """Remove the agents' records and launch files, in one write, and their spawn lock files."""
    with ctx.state.update() as records:
        for agent in agents:
            if agent.name in records:
                del records[agent.name]
                ctx.state.discard_launch_env(agent.name)
    for agent in agents:
        _lock_path(ctx, agent.name).unlink(missing_ok=True)  # undone: nothing left to find


# -- spawns that died ----------------------------------------------------------------------


def _lock_path(ctx: Context, name: str) -> Path:
    return ctx.state.dir / "spawning" / f"{name}.lock"


@contextlib.contextmanager
def spawn_lock(ctx: Context, name: str) -> Iterator[None]:
    """Held by the spawn from the agent's reservation until the spawn ends. The file is removed
    once the agent has started or been undone, so a lock file that exists and that no one holds
    was left by a spawn that died."""
    path = _lock_path(ctx, name)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with files.locked(path):
        yield


def started(ctx: Context, agent: Agent) -> None:
    _lock_path(ctx, agent.name).unlink(missing_ok=True)


def try_spawn_lock(ctx: Context, name: str) -> int | None:
    """The spawn lock of a queued agent the schedule admits, for the starter to hold while it
    makes its worktree and window (as a spawn does); None if someone holds it. Closing the
    descriptor releases it; `started` (or undoing it) removes the file."""
    path = _lock_path(ctx, name)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    return files.try_lock(path)


def requeue(ctx: Context, agent: Agent, error: str) -> None:
    """Put an admitted agent whose start was cut short back in the queue, its fresh worktree
    removed; the lifecycle's `requeued` keeps why."""
    from orchestra import lifecycle

    remove_fresh_worktree(ctx, agent)
    lifecycle.change(ctx.state, agent.name, "requeued", {"error": error}, by="queue")
    _lock_path(ctx, agent.name).unlink(missing_ok=True)


# After two minutes, reconcile calls a window never opened lost; a spawn killed before it had
# recorded a queued agent's argument list leaves it queued.
UNSTARTED = (Status.STARTING, Status.LOST, Status.QUEUED)


def undo_interrupted(ctx: Context, undo: bool = True) -> tuple[list[str], list[str]]:
    """Undo what spawns that died (SIGKILL, a second Ctrl-C during their own undo) left: agents
    `starting` (or, later, `lost`) with no window, whose spawn lock file is there and free.
    Returns their names, and those of such agents that hold work and were left as they are.

    Such an agent never ran. One whose branch or worktree nevertheless holds work (someone used
    it since) is left as it is, for `kill` and `clean` and their never-lose-work rules. With
    `undo` false, only finds them."""
    candidates = [name for name in ctx.state.read() if _lock_path(ctx, name).exists()]
    undone: list[str] = []
    kept: list[str] = []
    for name in candidates:
        fd = files.try_lock(_lock_path(ctx, name), create=False)
        if fd is None:
            continue  # its spawn is still at work, or went on just now (the file is gone)
        try:  # holding its lock: read the record again, as its spawn may have finished just now
            agent = ctx.state.read().get(name)
            if agent is None or agent.pane is not None or owned_pane(ctx, agent) is not None:
                _lock_path(ctx, name).unlink(missing_ok=True)  # its window opened: it did start
                continue
            if agent.status not in UNSTARTED:
                continue
            if agent.status == Status.QUEUED and agent.argv:
                _lock_path(ctx, name).unlink(missing_ok=True)  # fully queued: its spawn ended after that
                continue
            if agent.queued_at and agent.argv and agent.status == Status.STARTING:
                if undo:  # its starter died: back in the queue, not forgotten
                    requeue(ctx, agent, "its start was interrupted")
                undone.append(name)
                continue
            if _holds_work(ctx, agent):
                kept.append(name)
                continue
            if undo:
                remove_fresh_worktree(ctx, agent)
                forget(ctx, [agent])
            undone.append(name)
        finally:
            os.close(fd)
    return undone, kept


def _holds_work(ctx: Context, agent: Agent) -> bool:
    """Commits past its base, or a file in its worktree that git does not ignore and that a
    checkout did not put there (a worktree git made but did not fill shows only deletions)."""
    if agent.no_worktree:
        return False  # the main checkout's files are the user's; there is nothing of the agent's to undo
    branch = f"refs/heads/{agent.branch}"
    if (
        worktrees.branch_exists(ctx.project, agent.branch)
        and git.output(["rev-parse", branch], ctx.project.root) != agent.base
    ):
        return True
    worktree = Path(agent.worktree)
    if not (worktree / ".git").exists():
        return False
    try:
        status = git.run(["status", "--porcelain", "--untracked-files=all"], worktree).stdout
    except OrchestraError:
        return False  # not a usable worktree: nothing git could show as work
    lines = [line for line in status.splitlines() if line]
    if lines and not git.output(["ls-files"], worktree):  # never checked out: every file shows as deleted
        return any(line.startswith("??") for line in lines)
    return bool(lines)
