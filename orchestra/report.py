"""Result aggregation (`orchestra report`): what each agent ended with and what it changed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestra import lineage, trash, worktrees
from orchestra.context import Context
from orchestra.errors import OrchestraError
from orchestra.lead import is_lead_task
from orchestra.models import USAGE_COUNTS, Agent, Status
from orchestra.reconcile import observe


@dataclass
class AgentReport:
    name: str
    agent: str
    task: str
    status: str
    branch: str
    base: str
    last_message: str | None
    error: str | None
    exit_code: int | None
    commits: list[dict[str, str]] = field(default_factory=list)
    files_changed: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    untracked_files: int = 0
    uncommitted: bool = False
    usage: dict[str, int] | None = None  # the four token counts; None where the kind records none
    cost: float | None = None  # estimated from `[usage] prices`; None without a price for its models
    host: str | None = None  # the host it runs on (`orchestra.remote`); None: this machine
    parent: str | None = None  # the agent that spawned it through `orchestra mcp`; None: a person
    lead: bool = False  # spawned with `--lead`: its last message is the summary of its workers' work

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def report(ctx: Context, warnings: list[str] | None = None) -> list[AgentReport]:
    """One report per agent, in the order they were spawned (then those on hosts, asked of their
    hosts; a host that does not answer adds a sentence to `warnings`); git runs for several at once."""
    from orchestra import remote
    from orchestra.usage import usage_of

    away, problems = remote.reports(ctx)
    if warnings is not None:
        warnings.extend(problems)
    known = set(AgentReport.__dataclass_fields__)
    remote_reports = [AgentReport(**{k: v for k, v in item.items() if k in known}) for item in away]
    agents = observe(ctx)
    if not agents:
        return remote_reports
    usage = usage_of(ctx, agents)
    with ThreadPoolExecutor(max_workers=min(8, len(agents))) as pool:
        reports = list(pool.map(lambda agent: report_of(ctx, agent), agents))
    for item in reports:
        item.usage, item.cost = usage[item.name].usage, usage[item.name].cost
    return [item for item, _level in lineage.ordered(reports + remote_reports)]  # children under their parent


def total_usage(reports: list[AgentReport]) -> tuple[dict[str, int] | None, float | None]:
    """The token counts summed over the agents that have them (None when none has), and the
    cost summed when every one of those has a cost."""
    counted = [r for r in reports if r.usage is not None]
    if not counted:
        return None, None
    total = {count: sum((r.usage or {}).get(count, 0) for r in counted) for count in USAGE_COUNTS}
    costs = [r.cost for r in counted if any((r.usage or {}).values())]
    cost = round(sum(c for c in costs if c is not None), 6) if costs and None not in costs else None
    return total, cost


def report_of(ctx: Context, agent: Agent) -> AgentReport:
    worktree = Path(agent.worktree)
    broken = trash.is_broken(worktree)
    readable = worktree.is_dir() and not broken and not trash.is_unpopulated(worktree)
    changes = worktrees.changes(worktree, agent.base) if readable else None
    committed = worktrees.branch_changes(ctx.project, agent.base, agent.branch)
    found = changes or committed
    uncommitted = bool(trash.uncommitted_changes(worktree, ctx.project)) if worktree.is_dir() else False
    return AgentReport(
        name=agent.name,
        agent=agent.kind,
        task=agent.task,
        status=agent.status.value,
        branch=agent.branch,
        base=agent.base,
        last_message=agent.last_message,
        error=worktrees.BROKEN.format(worktree=worktree, name=agent.name) if broken else agent.error,
        exit_code=agent.exit_code,
        commits=worktrees.commits_since(ctx.project, agent.base, agent.branch),
        files_changed=found.files if found else 0,
        lines_added=found.added if found else 0,
        lines_removed=found.removed if found else 0,
        untracked_files=found.untracked if found else 0,
        uncommitted=uncommitted,
        parent=agent.parent,
        lead=is_lead_task(agent.task),
    )


def agent_diff(ctx: Context, name: str, stat: bool = False) -> str:
    """Agent `name`'s changes against its base, uncommitted and untracked ones included, as
    `git diff` prints them (only the summary of changed files with `stat`)."""
    from orchestra.reconcile import find

    agent = find(ctx, name)
    if agent.status == Status.QUEUED:
        raise OrchestraError(f"agent '{name}' is queued and has not started yet, so it has no changes to show.")
    if trash.is_broken(Path(agent.worktree)):
        raise OrchestraError(worktrees.BROKEN.format(worktree=agent.worktree, name=agent.name))
    if trash.is_unpopulated(Path(agent.worktree)):
        raise OrchestraError(
            f"the worktree {agent.worktree} was never checked out (a spawn stopped part-way), so it has no "
            "changes to show: `orchestra doctor --fix` checks it out, or `orchestra kill "
            f"{agent.name}` removes the agent."
        )
    return worktrees.diff(Path(agent.worktree), agent.base, stat=stat)
