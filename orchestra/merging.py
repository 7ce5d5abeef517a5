"""The integration queue (`orchestra merge`): finished agents' branches into the target, one by one.

For each agent, in the order they were spawned: its uncommitted work is committed on its branch
(an agent like Claude Code edits files and leaves committing to you), then the `merge_strategy`
hook integrates the branch: a plugin's strategy (`pr`) or the core's `merge`, `squash` and
`rebase`, which run `[merge] check` on the merged result before the target moves. A conflict or
a failing check leaves the target branch and the main checkout as they were, records the reason
on the agent, and stops the queue unless told to keep going.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestra import integrate, lifecycle
from orchestra.context import Context
from orchestra.errors import MergeFailed, OrchestraError, UnknownAgent
from orchestra.models import Agent, Event, MergeResult, Repository, Status, now
from orchestra.reconcile import observe
from orchestra.removal import merge_target
from orchestra.worktrees import branch_exists

FINISHED = tuple(Status(s) for s in lifecycle.MERGEABLE)


@dataclass
class Merged:
    """What happened to one agent in the queue."""

    name: str
    ok: bool
    message: str
    url: str | None = None
    committed: str | None = None  # the commit made of its uncommitted work, if any
    skipped: bool = False  # nothing to merge, or not tried after an earlier failure


Progress = Callable[[str, str], None]


def merge(
    ctx: Context,
    names: list[str],
    every: bool = False,
    strategy: str | None = None,
    check: str | None = None,
    keep_going: bool = False,
    progress: Progress | None = None,
    waiting: Callable[[], None] | None = None,
) -> list[Merged]:
    """Integrate the named agents (or, with `every`, every finished agent with work).

    One merge runs at a time in a repository: while another holds the merge lock, `waiting` is
    called and this one waits for it. The scratch worktrees of a merge that was killed go first.
    """
    progress = progress or (lambda name, step: None)
    strategy = strategy or ctx.config.merge["strategy"]
    check = ctx.config.merge["check"] if check is None else check
    with integrate.merge_lock(ctx.project, waiting):
        integrate.remove_leftovers(ctx.project)
        target = merge_target(ctx)
        queue = _queue(ctx, names, every)  # read once the other merge is done, with what it merged
        integrate.target_tip(ctx.project, target)  # a missing target is the command's error, before any commit
        results: list[Merged] = []
        for position, agent in enumerate(queue):
            progress(agent.name, f"merging with {strategy}")
            committed: list[str | None] = [None]
            try:
                results.append(_merge_one(ctx, agent, target, strategy, check, committed))
            except MergeFailed as error:
                _record_failure(ctx, agent, str(error))
                results.append(Merged(agent.name, ok=False, message=str(error), committed=committed[0]))
                if not keep_going:
                    results += [
                        Merged(a.name, ok=False, message="not tried", skipped=True) for a in queue[position + 1 :]
                    ]
                    break
    return results


def _queue(ctx: Context, names: list[str], every: bool) -> list[Agent]:
    agents = observe(ctx)
    if every:
        if names:
            raise OrchestraError("give agent names or --all, not both.")
        return [a for a in agents if a.status in FINISHED]
    if not names:
        raise OrchestraError("name the agents to merge, or use --all for every finished one.")
    by_name = {a.name: a for a in agents}
    for name in names:
        agent = by_name.get(name)
        if agent is None:
            raise UnknownAgent.named(name)
        if agent.status not in FINISHED:
            raise OrchestraError(_not_finished(agent))
    return [by_name[n] for n in dict.fromkeys(names)]


def _not_finished(agent: Agent) -> str:
    if agent.status == Status.MERGED:
        return f"agent '{agent.name}' is already merged; `orchestra clean` removes it."
    if agent.status in (Status.STARTING, Status.RUNNING, Status.WAITING):
        return (
            f"agent '{agent.name}' is still {agent.status.value}: merge it once it is done "
            f"(`orchestra ls` shows when), or stop it with `orchestra kill {agent.name}`."
        )
    return (
        f"agent '{agent.name}' is {agent.status.value}, so its work may be unfinished: look at it with "
        f"`orchestra diff {agent.name}`; only done or exited agents are merged."
    )


def _merge_one(
    ctx: Context, agent: Agent, target: str, strategy: str, check: str, committed_out: list[str | None]
) -> Merged:
    subject = agent.task.strip().splitlines()[0][:72] if agent.task.strip() else agent.name
    worktree = Path(agent.worktree)
    placed = ctx.config.worktree["copy"] + ctx.config.worktree["symlink"]
    leave_out = integrate.placed_files(worktree, placed) if worktree.is_dir() else []
    _refuse_work_elsewhere(ctx, agent, target, leave_out)
    committed = integrate.commit_all(worktree, f"{subject}\n\nWork of orchestra agent {agent.name}.", leave_out)
    committed_out[0] = committed
    if integrate.commits_ahead(ctx.project, agent.branch, target) == 0:
        return Merged(agent.name, ok=True, message=f"nothing to merge: {target} has all of it", skipped=True)
    from orchestra.report import report_of

    repo = Repository(root=str(ctx.project.root), target=target)
    report = report_of(ctx, agent).to_dict()
    result = ctx.plugins.call_first(
        "merge_strategy", veto=MergeFailed, agent=agent, repo=repo, config=ctx.config, strategy=strategy, report=report
    )
    if result is None:
        if strategy not in integrate.STRATEGIES:
            raise MergeFailed(f"no plugin handles the merge strategy '{strategy}': use merge, squash or rebase.")
        message = f"Merge {agent.branch}: {subject}" if strategy == "merge" else subject
        tip = integrate.integrate(ctx.project, agent.branch, target, strategy, message, check)
        done = {"merge": "merged", "squash": "squashed", "rebase": "rebased"}[strategy]
        result = MergeResult(outcome="merged", message=f"{done} into {target} ({tip[:10]})", commit=tip)
    _record(ctx, agent, result)
    return Merged(agent.name, ok=True, message=result.message, url=result.url, committed=committed)


def _refuse_work_elsewhere(ctx: Context, agent: Agent, target: str, leave_out: list[str]) -> None:
    """Merging takes the agent's branch; work the agent left elsewhere in its worktree (another
    branch, a detached HEAD) is pointed to instead of being reported as "nothing to merge"."""
    if not branch_exists(ctx.project, agent.branch):
        raise MergeFailed(
            f"its branch {agent.branch} no longer exists, so there is nothing orchestra can merge; "
            f"its worktree {agent.worktree} still holds its files."
        )
    worktree = Path(agent.worktree)
    elsewhere = integrate.head_elsewhere(worktree, agent.branch, target) if worktree.is_dir() else None
    if elsewhere is None:
        return
    where, commits, ref = elsewhere
    loose = integrate.uncommitted(worktree, leave_out)
    if not commits and not loose:
        return  # nothing there that the branch or the target lacks
    held = " and ".join(
        ([f"{commits} commit{'s' if commits != 1 else ''} that {target} and its branch lack"] if commits else [])
        + ([f"{len(loose)} uncommitted file{'s' if len(loose) != 1 else ''}"] if loose else [])
    )
    wt = shlex.quote(str(worktree))
    raise MergeFailed(
        f"its work is not on its branch {agent.branch}: its worktree is on {where}, with {held}; "
        f"bring it onto its branch ({'commit the files, then ' if loose else ''}"
        f"`git -C {wt} checkout {agent.branch} && git -C {wt} merge {shlex.quote(ref)}`) and merge again."
    )


def _record(ctx: Context, agent: Agent, result: MergeResult) -> None:
    merged = None
    with ctx.state.update_raw() as records:
        record = records.get(agent.name)
        if record is None:
            return
        if result.outcome == "merged":
            merged = lifecycle.apply_to(records, agent.name, "merged", note={"by": "merge"})
        else:
            record.update(pull_request=result.url, error=None, updated_at=now())
    outcome = Event(
        "merged", agent=agent.name, data={"outcome": result.outcome, "message": result.message, "url": result.url}
    )
    lifecycle.publish(ctx.state, [outcome.to_dict()] + ([merged] if merged else []))


def _record_failure(ctx: Context, agent: Agent, reason: str) -> None:
    with ctx.state.update() as agents:
        if agent.name in agents:
            agents[agent.name].error = f"merge failed: {reason}"
    ctx.state.append_events([Event("merge-failed", agent=agent.name, data={"message": reason})])
