"""The integration queue (`orchestra merge`): finished agents' branches into the target, one by one.

For each agent its uncommitted work is committed on its branch (an agent like Claude Code edits
files and leaves committing to you), then the `merge_strategy` hook integrates the branch: a
plugin's strategy (`pr`) or the core's `merge`, `squash` and `rebase`, which run `[merge] check`
on the merged result before the target moves. A conflict or a failing check leaves the target
branch and the main checkout as they were and records the reason on the agent.

Named agents are merged in the order given, and a failure stops the queue unless told to keep
going. `--all` is a train: the conflict forecast orders the finished agents so that the most
land (those that conflict with nothing first), the rest are forecast again against the target
after each merge, and an agent that would conflict is left out, named with its files, while the
others still land. `on_conflict` says what a conflict does to the train: `skip` leaves the agent
out and goes on, `stop` ends the train there, `handback` also asks each left-out agent that sits
at its prompt to bring its branch up to date and resolve; with `wait`, the train waits for those
agents to finish that turn and takes them again.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestra import forecast, integrate, lifecycle, trash
from orchestra.context import Context
from orchestra.errors import MergeConflict, MergeFailed, OrchestraError, UnknownAgent
from orchestra.handback import hand_back
from orchestra.models import Agent, Event, MergeResult, Repository, Status, now
from orchestra.reconcile import observe
from orchestra.removal import in_main_checkout, merge_target
from orchestra.worktrees import branch_exists

FINISHED = tuple(Status(s) for s in lifecycle.MERGEABLE)
ON_CONFLICT = ("skip", "stop", "handback")
WAIT_TIMEOUT = 600.0  # seconds `--wait` gives handed-back agents to finish their turn, by default
POLL_INTERVAL = 1.0  # seconds between looks at handed-back agents while waiting


@dataclass
class Merged:
    """What happened to one agent in the queue or the train."""

    name: str
    ok: bool
    message: str
    url: str | None = None
    committed: str | None = None  # the commit made of its uncommitted work, if any
    skipped: bool = False  # nothing to merge, or not tried after an earlier failure
    left_out: bool = False  # it would conflict (or did): the train went on without it
    files: list[str] = field(default_factory=list)  # the files it conflicts in, when left out
    handed_back: bool = False  # it was asked to bring its branch up to date and resolve

    @property
    def result(self) -> str:
        """merged, left out, not tried, failed, or nothing to merge."""
        if self.left_out:
            return "left out"
        if self.skipped:
            return "nothing to merge" if self.ok else "not tried"
        return "merged" if self.ok else "failed"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "result": self.result}


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
    on_conflict: str | None = None,
    wait: bool = False,
    timeout: float | None = None,
) -> list[Merged]:
    """Integrate the named agents in order, or, with `every`, every finished agent as a train.

    One merge runs at a time in a repository: while another holds the merge lock, `waiting` is
    called and this one waits for it. The scratch worktrees of a merge that was killed go first.
    The lock is let go while `wait` waits for handed-back agents, then taken again to retry them.
    """
    progress = progress or (lambda name, step: None)
    strategy = strategy or ctx.config.merge["strategy"]
    check = ctx.config.merge["check"] if check is None else check
    on_conflict = _on_conflict(ctx, on_conflict, every, wait, timeout)
    steps = _Steps(ctx, strategy, check, keep_going, on_conflict, progress)
    with integrate.merge_lock(ctx.project, waiting):
        integrate.remove_leftovers(ctx.project)
        target = merge_target(ctx)
        queue = _queue(ctx, names, every)  # read once the other merge is done, with what it merged
        integrate.target_tip(ctx.project, target)  # a missing target is the command's error, before any commit
        if not every:
            return steps.in_order(queue, target)
        results = steps.train(queue, target)
    if not (wait and steps.handed_at):
        return results
    return _retry(ctx, steps, results, WAIT_TIMEOUT if timeout is None else timeout, waiting)


def _on_conflict(ctx: Context, given: str | None, every: bool, wait: bool, timeout: float | None) -> str:
    choice = ctx.config.merge["on_conflict"] if given is None else given
    if choice not in ON_CONFLICT:
        raise OrchestraError(f"--on-conflict takes skip, stop or handback, not '{choice}'.")
    if not every and (given is not None or wait or timeout is not None):
        raise OrchestraError("--on-conflict, --wait and --timeout are for the train: use them with --all.")
    if wait and choice != "handback":
        raise OrchestraError("--wait waits for agents handed back: use it with --on-conflict handback.")
    if timeout is not None and not wait:
        raise OrchestraError("--timeout bounds --wait: give --wait too.")
    if timeout is not None and not timeout > 0:
        raise OrchestraError("--timeout must be a number of seconds greater than 0.")
    return choice


def _queue(ctx: Context, names: list[str], every: bool) -> list[Agent]:
    """The agents to merge, those on hosts included (as their hosts say now: a host that does not
    answer shows its agents unreachable, and they are not taken)."""
    from orchestra import remote

    agents = observe(ctx)
    away = remote.records(ctx.state.dir)
    if away and (every or any(name in away for name in names)):  # hosts are asked only when needed
        agents += remote.agents_of(remote.rows(ctx))
    if every:
        if names:
            raise OrchestraError("give agent names or --all, not both.")
        return [a for a in agents if a.status in FINISHED and not a.no_worktree]
    if not names:
        raise OrchestraError("name the agents to merge, or use --all for every finished one.")
    by_name = {a.name: a for a in agents}
    for name in names:
        agent = by_name.get(name)
        if agent is None:
            raise UnknownAgent.named(name)
        if agent.no_worktree:
            raise OrchestraError(in_main_checkout(agent, "merge"))
        if agent.status not in FINISHED:
            raise OrchestraError(not_finished(agent))
    return [by_name[n] for n in dict.fromkeys(names)]


def not_finished(agent: Agent) -> str:
    if agent.status == Status.UNREACHABLE:
        return (
            f"agent '{agent.name}' runs on host '{agent.host}', which does not answer now: merge it once "
            "`orchestra ls` shows it again."
        )
    if agent.status == Status.MERGED:
        return f"agent '{agent.name}' is already merged; `orchestra clean` removes it."
    if agent.status in (Status.QUEUED, Status.STARTING, Status.RUNNING, Status.WAITING, Status.LIMITED):
        return (
            f"agent '{agent.name}' is still {agent.status.value}: merge it once it is done "
            f"(`orchestra ls` shows when), or stop it with `orchestra kill {agent.name}`."
        )
    return (
        f"agent '{agent.name}' is {agent.status.value}, so its work may be unfinished: look at it with "
        f"`orchestra diff {agent.name}`; only done or exited agents are merged."
    )


class _Steps:
    """One run of `merge`: what it was told, and how it takes agents in order or as a train."""

    def __init__(
        self, ctx: Context, strategy: str, check: str, keep_going: bool, on_conflict: str, progress: Progress
    ) -> None:
        self.ctx, self.strategy, self.check = ctx, strategy, check
        self.keep_going, self.on_conflict, self.progress = keep_going, on_conflict, progress
        self.handed_at: dict[str, str] = {}  # agent name -> when it was handed back (`now()`)
        self.sides: dict[str, str] = {}  # agents on hosts: their work, fetched here (`remote.fetch_work`)

    def in_order(self, queue: list[Agent], target: str) -> list[Merged]:
        """The named agents, in the order given; a failure (a conflict too) stops the queue
        unless told to keep going."""
        results: list[Merged] = []
        for position, agent in enumerate(queue):
            results.append(self.one(agent, target))
            if not results[-1].ok and not self.keep_going:
                results += _not_tried(queue[position + 1 :])
                break
        return results

    def train(self, queue: list[Agent], target: str, retry: bool = False) -> list[Merged]:
        """Every agent of `queue`, in the forecast's order (the one `orchestra conflicts` shows);
        the rest are forecast again after each merge that moved the target, and one that would
        conflict with it is left out, not attempted."""
        if not queue:
            return []
        by_name = {a.name: a for a in queue}
        first = self.foresee(queue, target)
        latest = first
        remaining = forecast.order_of(first, list(by_name)) if first else list(by_name)
        landed: list[str] = []
        results: list[Merged] = []
        while remaining:
            agent = by_name[remaining.pop(0)]
            standing = latest.agents.get(agent.name) if latest else None
            after = _partners(first, agent, landed)
            if standing and standing.conflicts:
                results.append(self.leave_out(agent, target, standing.conflicts, after, retry))
            else:
                tip = integrate.target_tip(self.ctx.project, target)
                results.append(self.one(agent, target, _meets(first, agent.name), (after, retry)))
                if results[-1].result == "merged":
                    landed.append(agent.name)
                    if remaining and integrate.target_tip(self.ctx.project, target) != tip:
                        latest = self.foresee([by_name[n] for n in remaining], target)
            stop = results[-1].left_out and self.on_conflict == "stop"
            failed = results[-1].result == "failed" and not self.keep_going
            if stop or failed:
                results += _not_tried([by_name[n] for n in remaining])
                break
        return results

    def foresee(self, agents: list[Agent], target: str) -> forecast.Forecast | None:
        """The forecast of `agents` against the target; None where git cannot make one (then the
        train goes in spawn order and git's own merge finds the conflicts). One whose branch is
        gone is left out of it, for its merge to report; so is an agent on a host whose work
        could not be fetched."""
        from orchestra import remote

        away = [a for a in agents if a.host is not None and a.name not in self.sides]
        if away:
            found, _problems = remote.fetch_work(self.ctx, away)
            self.sides.update(found)
        agents = [
            a
            for a in agents
            if (a.name in self.sides if a.host is not None else branch_exists(self.ctx.project, a.branch))
        ]
        try:
            return forecast.forecast(
                self.ctx, [a.name for a in agents], agents=agents, target=target, store=False, sides=self.sides
            )
        except OrchestraError:
            return None

    def one(
        self,
        agent: Agent,
        target: str,
        meets: dict[str, Any] | None = None,
        train: tuple[list[str], bool] | None = None,
    ) -> Merged:
        """Merge one agent with the strategy; a failure is recorded on it and returned. In a
        train (`train`: the agents that landed before it, and whether this is a retry), a
        conflict leaves it out."""
        self.progress(agent.name, f"merging with {self.strategy}")
        committed: list[str | None] = [None]
        try:
            return _merge_one(self.ctx, agent, target, self.strategy, self.check, committed, meets)
        except MergeConflict as error:
            if train is None:
                _record_failure(self.ctx, agent, str(error))
                return Merged(agent.name, ok=False, message=str(error), committed=committed[0])
            return self.leave_out(agent, target, error.files, *train, committed=committed[0], tried=True)
        except MergeFailed as error:
            _record_failure(self.ctx, agent, str(error))
            return Merged(agent.name, ok=False, message=str(error), committed=committed[0])

    def leave_out(
        self,
        agent: Agent,
        target: str,
        files: list[str],
        after: list[str],
        retry: bool,
        committed: str | None = None,
        tried: bool = False,
    ) -> Merged:
        """Leave `agent` out of the train (it conflicts with the target in `files`), say so on
        it, and hand the conflict back to it when told to (not again on a retry)."""
        since = f" now that {_listing(after)} landed" if after else ""
        how = "its merge conflicted" if tried else "it would conflict"
        message = f"left out: {how} with {target} in {_listing(files)}{since}"
        handed = False
        if retry:
            message += ", also after it was handed back"
        elif self.on_conflict == "handback" and agent.host is not None:
            message += f"; not handed back, as it runs on host '{agent.host}'"
        elif self.on_conflict == "handback":
            moment = now()
            handed = hand_back(self.ctx, agent, target, files)
            if handed:
                self.handed_at[agent.name] = moment
            message += (
                "; handed back to the agent to bring its branch up to date"
                if handed
                else f"; not handed back, as it is not at its prompt (it is {agent.status.value})"
            )
        elif self.on_conflict == "stop":
            message += "; the train stopped here"
        _record_left_out(self.ctx, agent, target, files, message, handed)
        return Merged(
            agent.name,
            ok=False,
            message=message,
            committed=committed,
            left_out=True,
            files=list(files),
            handed_back=handed,
        )


def _not_tried(agents: list[Agent]) -> list[Merged]:
    return [Merged(a.name, ok=False, message="not tried", skipped=True) for a in agents]


def _meets(fc: forecast.Forecast | None, name: str) -> dict[str, Any]:
    """The other agents of the train whose work meets this one's (for a pull request's body):
    `conflicts_with` and `overlaps_with`, each a list of {"agent", "files"}."""
    meets: dict[str, Any] = {"conflicts_with": [], "overlaps_with": []}
    for pair in fc.pairs if fc else []:
        if name in pair.agents:
            other = pair.agents[1] if pair.agents[0] == name else pair.agents[0]
            if pair.conflicts:
                meets["conflicts_with"].append({"agent": other, "files": pair.conflicts})
            if pair.overlaps:
                meets["overlaps_with"].append({"agent": other, "files": pair.overlaps})
    return meets


def _partners(fc: forecast.Forecast | None, agent: Agent, landed: list[str]) -> list[str]:
    """The agents that landed in this train and that `agent` was forecast to conflict with."""
    met = {m["agent"] for m in _meets(fc, agent.name)["conflicts_with"]}
    return [name for name in landed if name in met]


def _listing(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _retry(
    ctx: Context,
    steps: _Steps,
    results: list[Merged],
    timeout: float,
    waiting: Callable[[], None] | None,
) -> list[Merged]:
    """Wait (without the merge lock) for the handed-back agents to finish their turn, then take
    those that did through the train again; the others stay left out, saying why."""
    turns = _wait_for_turns(ctx, steps.handed_at, timeout, steps.progress)
    with integrate.merge_lock(ctx.project, waiting):
        integrate.remove_leftovers(ctx.project)
        target = merge_target(ctx)
        agents = {a.name: a for a in observe(ctx)}
        again = [agents[n] for n, status in turns.items() if n in agents and agents[n].status in FINISHED and status]
        retried = steps.train(again, target, retry=True) if again else []
    taken = {r.name for r in retried}
    kept = []
    for item in results:
        if item.name in taken:
            continue
        if item.name in turns and turns[item.name] is None:
            item.message += f"; it did not finish its turn within {timeout:g} second{'' if timeout == 1 else 's'}"
        elif item.name in turns and item.name not in taken:
            item.message += f"; then it became {turns[item.name]}"
        kept.append(item)
    for item in retried:
        item.handed_back = True
    return kept + retried


def _wait_for_turns(
    ctx: Context, handed_at: dict[str, str], timeout: float, progress: Progress
) -> dict[str, str | None]:
    """Wait until each agent handed back at `handed_at[name]` has finished a turn since (its
    status became done or exited after that moment), or ended otherwise (failed, lost, gone),
    for at most `timeout` seconds. Each name's status then, None for those still at work."""
    for name in handed_at:
        progress(name, "waiting for it to finish its turn")
    deadline = time.monotonic() + timeout
    outcome: dict[str, str | None] = dict.fromkeys(handed_at)
    ended = (Status.FAILED, Status.LOST, Status.MERGED)
    while True:
        agents = {a.name: a for a in observe(ctx)}  # reconciled: a pane that died shows
        turned = {
            e.get("agent")
            for e in ctx.state.read_events()
            if e.get("type") == "status"
            and e.get("status") in lifecycle.MERGEABLE
            and e.get("agent") in handed_at
            and str(e.get("time") or "") >= handed_at[str(e.get("agent"))]
        }
        for name in handed_at:
            agent = agents.get(name)
            if agent is None:
                outcome[name] = "gone"
            elif (name in turned and agent.status in FINISHED) or agent.status in ended:
                outcome[name] = agent.status.value
        if all(outcome.values()) or time.monotonic() >= deadline:
            return outcome
        time.sleep(POLL_INTERVAL)


def _merge_one(
    ctx: Context,
    agent: Agent,
    target: str,
    strategy: str,
    check: str,
    committed_out: list[str | None],
    meets: dict[str, Any] | None = None,
) -> Merged:
    subject = _subject(agent)
    if agent.host is not None:
        from orchestra import remote

        # Committed on its branch there, as here; then its branch fetched onto the same branch here.
        committed, reported = remote.bring_to_merge(ctx, agent, target)
    else:
        committed, reported = prepare(ctx, agent, target), None
    committed_out[0] = committed
    if integrate.commits_ahead(ctx.project, agent.branch, target) == 0:
        return Merged(agent.name, ok=True, message=f"nothing to merge: {target} has all of it", skipped=True)
    from orchestra.report import report_of

    repo = Repository(root=str(ctx.project.root), target=target)
    report = {**(reported if reported is not None else report_of(ctx, agent).to_dict()), **(meets or {})}
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
    if agent.host is not None:
        from orchestra import remote

        remote.record_merge(ctx, agent, result)
    else:
        _record(ctx, agent, result)
    return Merged(agent.name, ok=True, message=result.message, url=result.url, committed=committed)


def _subject(agent: Agent) -> str:
    return agent.task.strip().splitlines()[0][:72] if agent.task.strip() else agent.name


def prepare(ctx: Context, agent: Agent, target: str) -> str | None:
    """Make the agent's branch hold all its work, as merging takes it: its uncommitted work
    committed there (the files orchestra placed left out); refused when its worktree is
    half-made or its work is on another branch. The new commit's id, or None. A host runs this
    for its agents when they are merged from the machine that spawned them (`orchestra.on_host`)."""
    worktree = Path(agent.worktree)
    if worktree.is_dir() and (problem := trash.half_made(worktree, agent.name)):
        raise MergeFailed(problem)  # committing "everything" there would delete every file
    placed = ctx.config.worktree["copy"] + ctx.config.worktree["symlink"]
    leave_out = integrate.placed_files(worktree, placed) if worktree.is_dir() else []
    _refuse_work_elsewhere(ctx, agent, target, leave_out)
    message = f"{_subject(agent)}\n\nWork of orchestra agent {agent.name}."
    return integrate.commit_all(worktree, message, leave_out)


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


def record(ctx: Context, name: str, result: MergeResult) -> None:
    """What a merge of agent `name` did, on its record: merged, or its pull request opened. A host
    records it so for its agents, merged from the machine that spawned them (`orchestra.on_host`)."""
    _record(ctx, Agent(name=name, task="", agent="", branch="", base="", worktree=""), result)


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


def _record_left_out(ctx: Context, agent: Agent, target: str, files: list[str], message: str, handed: bool) -> None:
    with ctx.state.update() as agents:
        if agent.name in agents:
            agents[agent.name].error = f"merge {message}"
    data = {"message": message, "target": target, "files": files, "handed_back": handed}
    ctx.state.append_events([Event("merge-left-out", agent=agent.name, data=data)])


def _record_failure(ctx: Context, agent: Agent, reason: str) -> None:
    with ctx.state.update() as agents:
        if agent.name in agents:
            agents[agent.name].error = f"merge failed: {reason}"
    ctx.state.append_events([Event("merge-failed", agent=agent.name, data={"message": reason})])
