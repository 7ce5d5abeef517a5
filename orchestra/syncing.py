"""Bringing agents up to date (`orchestra sync`): the target's new commits into each agent's branch.

The work happens in the agent's own worktree, on its own branch, while the agent is not working
(done, exited or waiting): its loose work is committed first (as `merge` does, leaving out the
files orchestra placed there), then the target is merged into the branch, or the branch rebased
onto it when `[merge] strategy` is rebase. A conflict is aborted at once, so the branch and the
files are as they were before the sync (but for that loose-work commit), and the conflicting
files are named: resolving them is the agent's job (`orchestra.handback`). The main checkout and
the target branch are never touched. It holds the repository's merge lock, so a merge never
reads a branch halfway through a sync.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestra import git, integrate, trash
from orchestra.context import Context
from orchestra.errors import OrchestraError, UnknownAgent
from orchestra.models import Agent, Event, Status
from orchestra.reconcile import observe
from orchestra.removal import in_main_checkout, merge_target
from orchestra.worktrees import branch_exists

SYNCABLE = (Status.DONE, Status.EXITED, Status.WAITING, Status.LIMITED)  # not working: nothing writes its files


@dataclass
class Synced:
    """What happened to one agent's branch."""

    name: str
    ok: bool
    message: str
    conflicts: list[str] = field(default_factory=list)  # files the merge or rebase conflicted in
    committed: str | None = None  # the commit made of its loose work, if any


class Refused(OrchestraError):
    """This agent's branch cannot be synced now; the message says why and what to do."""


def sync(
    ctx: Context, names: list[str], every: bool = False, waiting: Callable[[], None] | None = None
) -> list[Synced]:
    """Bring the named agents' branches (or, with `every`, those of every agent that is done,
    exited or waiting) up to date with the merge target, one at a time, under the merge lock.

    Unknown names and a missing target raise; an agent that cannot be synced, or whose sync
    conflicts, is reported in its `Synced` and the others still go on.
    """
    with integrate.merge_lock(ctx.project, waiting):
        integrate.remove_leftovers(ctx.project)
        target = merge_target(ctx)
        agents = _chosen(ctx, names, every)
        integrate.target_tip(ctx.project, target)  # a missing target is the command's error
        strategy = "rebase" if ctx.config.merge["strategy"] == "rebase" else "merge"
        results = []
        for agent in agents:
            committed: list[str | None] = [None]
            try:
                result = _sync_one(ctx, agent, target, strategy, committed)
            except Refused as refusal:
                result = Synced(agent.name, ok=False, message=str(refusal), committed=committed[0])
            results.append(result)
            data = {"target": target, "ok": result.ok, "message": result.message, "conflicts": result.conflicts}
            ctx.state.append_events([Event("synced", agent=agent.name, data=data)])
    return results


def _chosen(ctx: Context, names: list[str], every: bool) -> list[Agent]:
    agents = observe(ctx)
    if every:
        if names:
            raise OrchestraError("give agent names or --all, not both.")
        return [a for a in agents if a.status in SYNCABLE and not a.no_worktree]
    if not names:
        raise OrchestraError("name the agents to sync, or use --all for every agent that is not working.")
    by_name = {a.name: a for a in agents}
    unknown = [n for n in dict.fromkeys(names) if n not in by_name]
    if unknown:
        raise UnknownAgent.named(*unknown)
    for name in names:
        if by_name[name].no_worktree:
            raise OrchestraError(in_main_checkout(by_name[name], "sync"))
    return [by_name[n] for n in dict.fromkeys(names)]


def _sync_one(ctx: Context, agent: Agent, target: str, strategy: str, committed_out: list[str | None]) -> Synced:
    _refuse_status(agent)
    worktree = Path(agent.worktree)
    if not branch_exists(ctx.project, agent.branch):
        raise Refused(f"its branch {agent.branch} no longer exists, so there is nothing to bring up to date.")
    if not worktree.is_dir():
        raise Refused(f"its worktree {agent.worktree} is gone; `orchestra kill {agent.name}` removes the agent.")
    if problem := trash.half_made(worktree, agent.name):
        raise Refused(problem)  # committing "everything" there would delete every file
    _refuse_elsewhere(worktree, agent, target)
    _refuse_unfinished(worktree)
    placed = ctx.config.worktree["copy"] + ctx.config.worktree["symlink"]
    leave_out = integrate.placed_files(worktree, placed)
    subject = agent.task.strip().splitlines()[0][:72] if agent.task.strip() else agent.name
    committed = integrate.commit_all(worktree, f"{subject}\n\nWork of orchestra agent {agent.name}.", leave_out)
    committed_out[0] = committed
    if _contains(worktree, target):
        return Synced(agent.name, ok=True, message=f"already up to date with {target}", committed=committed)
    before = _head(worktree)
    env = git.identity_env(worktree)
    if strategy == "rebase":
        args = ["rebase", "--no-verify", f"refs/heads/{target}"]
    else:
        message = f"Merge {target} into {agent.branch}"
        args = ["merge", "--no-edit", "--no-verify", "-m", message, f"refs/heads/{target}"]
    result = git.run(args, worktree, check=False, env=env)
    if result.returncode == 0:
        tip = _head(worktree)
        done = f"rebased onto {target}" if strategy == "rebase" else f"merged {target} into its branch"
        return Synced(agent.name, ok=True, message=f"{done} ({tip[:10]})", committed=committed)
    conflicts = _conflicted(worktree)
    git.run([strategy, "--abort"], worktree, check=False)
    if _head(worktree) != before or _current_branch(worktree) != agent.branch:
        raise Refused(
            f"git could not undo the {strategy} it stopped in ({_last_line(result)}); look at its worktree "
            f"{agent.worktree}: `git -C {shlex.quote(agent.worktree)} status` says what is left."
        )
    doing = "rebasing onto" if strategy == "rebase" else "merging"
    if conflicts:
        return Synced(
            agent.name,
            ok=False,
            message=f"{doing} {target} conflicts in {_listing(conflicts)}; its branch and files are as they were "
            f"before the sync: resolve it in its worktree, or hand it back to the agent.",
            conflicts=conflicts,
            committed=committed,
        )
    return Synced(
        agent.name,
        ok=False,
        message=f"{doing} {target} failed ({_last_line(result)}); its branch and files are as they were.",
        committed=committed,
    )


def _refuse_status(agent: Agent) -> None:
    status = agent.status
    if status in SYNCABLE:
        return
    if status in (Status.STARTING, Status.RUNNING):
        raise Refused(
            f"it is {status.value}, so its files are changing: wait until it is done (`orchestra ls` shows when), "
            "then sync it."
        )
    if status == Status.QUEUED:
        raise Refused("it is queued and has not started yet, so it has no worktree to bring up to date.")
    if status == Status.MERGED:
        raise Refused("it is already merged, so there is nothing to bring up to date; `orchestra clean` removes it.")
    if status == Status.LOST:
        raise Refused(
            "it is lost, so orchestra cannot tell whether it is working: "
            f"`orchestra resume {agent.name}` brings it back; sync it once it is done."
        )
    raise Refused(
        f"it is {status.value}, so its work may be unfinished: look at it with `orchestra logs {agent.name}` "
        f"and `orchestra diff {agent.name}`; only done, exited or waiting agents are synced."
    )


def _refuse_elsewhere(worktree: Path, agent: Agent, target: str) -> None:
    """The sync works on the agent's branch; a worktree that has something else checked out (another
    branch, a detached HEAD) would take the target's commits onto that instead."""
    elsewhere = integrate.head_elsewhere(worktree, agent.branch, target)
    if elsewhere is None:
        return
    where, _, _ = elsewhere
    wt = shlex.quote(agent.worktree)
    raise Refused(
        f"its worktree is on {where}, not on its branch {agent.branch}: bring its work onto its branch "
        f"(`git -C {wt} checkout {agent.branch}`, merging in what it has there) and sync again."
    )


def _refuse_unfinished(worktree: Path) -> None:
    """A merge, rebase, cherry-pick or revert already under way in the worktree is someone's (the
    agent's, a person's): committing everything would conclude it with its conflict markers."""
    git_dir = Path(git.run(["rev-parse", "--absolute-git-dir"], worktree).stdout.strip())
    under_way = {
        "MERGE_HEAD": "a merge",
        "rebase-merge": "a rebase",
        "rebase-apply": "a rebase",
        "CHERRY_PICK_HEAD": "a cherry-pick",
        "REVERT_HEAD": "a revert",
    }
    for entry, what in under_way.items():
        if (git_dir / entry).exists():
            raise Refused(f"its worktree is in the middle of {what}: finish it there (or abort it) and sync again.")


def _contains(worktree: Path, target: str) -> bool:
    return git.succeeds(["merge-base", "--is-ancestor", f"refs/heads/{target}", "HEAD"], worktree)


def _head(worktree: Path) -> str:
    return git.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], worktree, check=False).stdout.strip()


def _current_branch(worktree: Path) -> str:
    found = git.run(["symbolic-ref", "--quiet", "--short", "HEAD"], worktree, check=False)
    return found.stdout.strip()


def _conflicted(worktree: Path) -> list[str]:
    out = git.run(["diff", "-z", "--name-only", "--diff-filter=U"], worktree, check=False).stdout
    return sorted({p for p in out.split("\0") if p})


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    detail = (result.stderr or result.stdout).strip().splitlines()
    return detail[-1] if detail else f"git exited {result.returncode}"


def _listing(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
