"""Removing agents (`kill`, `clean`) without ever losing work.

An agent whose worktree has uncommitted files or whose branch has commits the merge target
lacks is removed only with `force`, and then its work is first kept on a ref under
`refs/orchestra/trash/`, from which one git command brings it back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from orchestra import worktrees
from orchestra.context import Context
from orchestra.errors import UnknownAgent, WorkAtRisk
from orchestra.models import Agent, Event, Status
from orchestra.reconcile import observe, owned_pane


@dataclass
class Work:
    """What removing an agent would lose."""

    uncommitted: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.uncommitted or self.commits)

    def describe(self, target: str) -> str:
        parts = []
        if self.uncommitted:
            parts.append(f"{_count(len(self.uncommitted), 'uncommitted file')} ({_listing(self.uncommitted)})")
        if self.commits:
            parts.append(f"{_count(len(self.commits), 'commit')} not in {target} ({_listing(self.commits)})")
        return " and ".join(parts)


@dataclass
class Removed:
    name: str
    saved_ref: str | None = None

    @property
    def restore_command(self) -> str | None:
        if not self.saved_ref:
            return None
        # Named after the ref (`name-2` for a second one), so each one restores under its own name.
        return f"git branch {self.saved_ref.rsplit('/', 1)[-1]}-restored {self.saved_ref}"


def merge_target(ctx: Context) -> str:
    """The branch agents' work is measured against: `[merge] target`, else the main checkout's."""
    return ctx.config.merge["target"] or worktrees.current_branch(ctx.project) or "HEAD"


def work_of(ctx: Context, agent: Agent, target: str) -> Work:
    """What removing the agent would lose. A merged agent's commits are in the target (squashed or
    rebased ones under other ids), so only what it changed since counts."""
    uncommitted = worktrees.uncommitted_changes(Path(agent.worktree))
    if agent.status == Status.MERGED:
        return Work(uncommitted=uncommitted)
    return Work(uncommitted=uncommitted, commits=worktrees.unmerged_commits(ctx.project, agent.branch, target))


def kill(ctx: Context, names: list[str], force: bool = False) -> list[Removed]:
    """Stop agents and remove their windows, worktrees and branches. Refuses all if one has work."""
    agents = {a.name: a for a in observe(ctx)}
    unknown = [n for n in names if n not in agents]
    if unknown:
        raise UnknownAgent.named(*unknown)
    chosen = [agents[n] for n in dict.fromkeys(names)]
    chosen.sort(key=lambda a: a.pane is not None and _runs_in(a.pane))  # its own pane's agent last: see `remove`
    target = merge_target(ctx)
    if not force:
        at_risk = [(a, work_of(ctx, a, target)) for a in chosen]
        at_risk = [(a, w) for a, w in at_risk if w]
        if at_risk:
            lines = "; ".join(f"agent '{a.name}' has {w.describe(target)}" for a, w in at_risk)
            names_text = " ".join(a.name for a, _ in at_risk)
            raise WorkAtRisk(
                f"{lines}. Merge it first, or run `orchestra kill {names_text} --force`, which keeps it on a ref "
                f"under refs/orchestra/trash/ before removing the agent."
            )
    return [remove(ctx, agent, target) for agent in chosen]


def clean(ctx: Context, force: bool = False) -> tuple[list[Removed], list[str]]:
    """Remove agents that have finished and whose work is merged or empty.

    Agents still running are never touched. With `force`, finished agents with work are removed
    too, their work kept under `refs/orchestra/trash/`. Returns what was removed and, for each
    agent left alone, why.
    """
    target = merge_target(ctx)
    removed, kept = [], []
    for agent in observe(ctx):
        if agent.status.live:
            continue
        work = work_of(ctx, agent, target)
        if work and not force:
            kept.append(f"{agent.name} ({agent.status.value}) has {work.describe(target)}")
            continue
        removed.append(remove(ctx, agent, target))
    return removed, kept


def remove(ctx: Context, agent: Agent, target: str) -> Removed:
    """Stop the agent, keep any work on a trash ref, then remove its window, worktree, branch, record."""
    pane = owned_pane(ctx, agent)  # never a pane whose id a new tmux server gave to another agent
    own = pane is not None and _runs_in(pane.id)
    if pane is not None and not own:
        ctx.tmux.kill_pane(pane.id)  # stop it first, so its files stop changing (not the window: it may be tiled)
    worktree = Path(agent.worktree)
    saved = None
    if work_of(ctx, agent, target):
        saved = worktrees.save_to_trash(ctx.project, agent.name, agent.branch, worktree)
    worktrees.remove_worktree(ctx.project, worktree)
    worktrees.delete_branch(ctx.project, agent.branch)
    with ctx.state.update() as agents:
        agents.pop(agent.name, None)
    ctx.state.discard_launch_env(agent.name)
    ctx.state.append_events([Event("removed", agent=agent.name, data={"saved_ref": saved})])
    if own and pane is not None:
        # This command runs in the agent's own pane (typed there, or run by the agent): killing
        # the pane ends this command too (a shell passes the hangup on to its jobs), so it goes last.
        ctx.tmux.kill_pane(pane.id)
    return Removed(name=agent.name, saved_ref=saved)


def _runs_in(pane: str) -> bool:
    """Whether this process runs in the tmux pane `pane` (tmux gives each pane's processes its id)."""
    return os.environ.get("TMUX_PANE") == pane


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listing(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", and {len(items) - limit} more" if len(items) > limit else "")
