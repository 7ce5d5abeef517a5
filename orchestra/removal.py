"""Removing agents (`kill`, `clean`) without ever losing work.

An agent whose worktree holds work (`orchestra.trash`: uncommitted or ignored files that are not
disposable, commits the merge target lacks on its branch or its worktree's HEAD) is removed only
with `force`, and then its work is first kept on a ref under `refs/orchestra/trash/`, from which
one git command brings it back. A git repository of its own inside the worktree stops the
removal even with `force`.
"""

from __future__ import annotations

import filecmp
import os
from dataclasses import dataclass, field
from pathlib import Path

from orchestra import lineage, trash, worktrees
from orchestra.context import Context
from orchestra.errors import OrchestraError, UnknownAgent, WorkAtRisk
from orchestra.models import Agent, Event, Status
from orchestra.reconcile import observe, owned_pane


@dataclass
class Work:
    """What removing an agent would lose."""

    uncommitted: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # git-ignored, not disposable
    commits: list[str] = field(default_factory=list)
    repositories: list[str] = field(default_factory=list)  # git repositories of their own inside the worktree
    placed: list[str] = field(default_factory=list)  # orchestra's unchanged copies and links: not work, never kept

    def __bool__(self) -> bool:
        return bool(self.uncommitted or self.ignored or self.commits or self.repositories)

    def describe(self, target: str) -> str:
        parts = []
        if self.uncommitted:
            parts.append(f"{_count(len(self.uncommitted), 'uncommitted file')} ({_listing(self.uncommitted)})")
        if self.ignored:
            noun = "git-ignored file"
            parts.append(f"{_count(len(self.ignored), noun)} not in [worktree] disposable ({_listing(self.ignored)})")
        if self.commits:
            parts.append(f"{_count(len(self.commits), 'commit')} not in {target} ({_listing(self.commits)})")
        return " and ".join(parts)


@dataclass
class Removed:
    name: str
    saved_ref: str | None = None
    not_kept: list[str] = field(default_factory=list)  # ignored files too big for the trash commit

    @property
    def restore_command(self) -> str | None:
        if not self.saved_ref:
            return None
        # Named after the ref (`name-2` for a second one), so each one restores under its own name.
        return f"git branch {self.saved_ref.rsplit('/', 1)[-1]}-restored {self.saved_ref}"


def merge_target(ctx: Context) -> str:
    """The branch agents' work is measured against: `[merge] target`, else the main checkout's."""
    return ctx.config.merge["target"] or worktrees.current_branch(ctx.project) or "HEAD"


def in_main_checkout(agent: Agent, what: str) -> str:
    """Why `what` (merge, sync, forecast) does not apply to an agent spawned with --no-worktree."""
    return (
        f"agent '{agent.name}' works in the main checkout (spawned with --no-worktree), on no branch of its own, "
        f"so there is nothing to {what}; its changes, if any, are already in the main checkout."
    )


def work_of(ctx: Context, agent: Agent, target: str) -> Work:
    """What removing the agent would lose. A merged agent's commits are in the target (squashed or
    rebased ones under other ids), so only what it changed since counts. An agent in the main
    checkout (`--no-worktree`) has none: the checkout and its branch are the user's, never removed."""
    if agent.no_worktree:
        return Work()
    worktree = Path(agent.worktree)
    start = _start(ctx, agent)
    copies = [*ctx.config.worktree["copy"], *worktrees.included_files(ctx.project)]
    changed = trash.uncommitted_changes(worktree, ctx.project, start)
    uncommitted = [p for p in changed if not _placed(ctx, worktree, p, copies)]
    ignored = [p for p in trash.ignored_files(worktree, _disposable(ctx)) if not _placed(ctx, worktree, p, copies)]
    repositories = trash.nested_repositories(worktree, uncommitted + ignored, agent.base or target)
    uncommitted = [p for p in uncommitted if p not in repositories]
    ignored = [p for p in ignored if p not in repositories]
    placed = [p for p in changed if p not in uncommitted]
    work = Work(uncommitted=uncommitted, ignored=ignored, repositories=repositories, placed=placed)
    if agent.status != Status.MERGED:
        work.commits = trash.unmerged_commits(ctx.project, agent.branch, target, worktree)
    return work


class HasChildren(OrchestraError):
    """A named agent has children (agents it spawned through `orchestra mcp`) that were not named."""

    def __init__(self, parents: list[str], children: list[str]):
        self.parents, self.children = parents, children
        them = ", ".join(children)
        super().__init__(
            f"{_listing_of('agent', parents)} spawned {them}, which would be left without a parent. "
            f"Name them too (`orchestra kill {' '.join(parents + children)}`), or use --force, "
            "which removes them with it, keeping any work first."
        )


def kill(ctx: Context, names: list[str], force: bool = False, children: bool | None = None) -> list[Removed]:
    """Stop agents and remove their windows, worktrees and branches. Refuses all if one has work.

    An agent's children (and theirs) that were not named: with `children` None, `HasChildren`
    is raised before anything is removed; True removes them too, under the same rules; False
    leaves them, without their parent."""
    agents = {a.name: a for a in observe(ctx)}
    unknown = [n for n in names if n not in agents]
    if unknown:
        raise UnknownAgent.named(*unknown)
    named = list(dict.fromkeys(names))
    extra = [a.name for a in lineage.descendants(list(agents.values()), named) if a.name not in named]
    if extra and children is None:
        parents = [n for n in named if any(agents[c].parent == n for c in extra)]
        raise HasChildren(parents, extra)
    chosen = [agents[n] for n in (extra if children else []) + named]  # children before their parent
    target = merge_target(ctx)
    found = [(a, work_of(ctx, a, target)) for a in chosen]  # before anything goes, a queued agent too
    nested = [(a, w) for a, w in found if w.repositories]
    if nested:
        raise WorkAtRisk("; ".join(_nested_refusal(a, w) for a, w in nested))
    at_risk = [(a, w) for a, w in found if w]
    if at_risk and not force:
        lines = "; ".join(f"agent '{a.name}' has {w.describe(target)}" for a, w in at_risk)
        names_text = " ".join(a.name for a, _ in at_risk)
        raise WorkAtRisk(
            f"{lines}. Merge it first, or run `orchestra kill {names_text} --force`, which keeps it on a ref "
            f"under refs/orchestra/trash/ before removing the agent."
        )
    dequeued = [r for r in (_remove_queued(ctx, a) for a in chosen if a.status == Status.QUEUED) if r]
    if dequeued:
        gone = {r.name for r in dequeued}
        fresh = {a.name: a for a in ctx.state.read().values()}  # one may have started meanwhile
        chosen = [fresh.get(a.name, a) for a in chosen if a.name not in gone]
    chosen.sort(key=lambda a: a.pane is not None and _runs_in(a.pane))  # its own pane's agent last: see `remove`
    return dequeued + [remove(ctx, agent, target) for agent in chosen]


def _remove_queued(ctx: Context, agent: Agent) -> Removed | None:
    """A queued agent has nothing but its record and launch file: removed under the state lock,
    unless the schedule started it meanwhile (None: it is then killed as any agent is)."""
    with ctx.state.update() as agents:
        record = agents.get(agent.name)
        if record is None or record.status != Status.QUEUED:
            return None
        del agents[agent.name]
    ctx.state.discard_launch_env(agent.name)
    ctx.state.append_events([Event("removed", agent=agent.name, data={"saved_ref": None, "queued": True})])
    return Removed(name=agent.name)


def clean(ctx: Context, force: bool = False) -> tuple[list[Removed], list[str]]:
    """Remove agents that have finished and whose work is merged or empty.

    Agents still running are never touched. With `force`, finished agents with work are removed
    too, their work kept under `refs/orchestra/trash/`. An agent that cannot be removed is left
    with the reason, and the others are still removed. Returns what was removed and, for each
    agent left alone, why.
    """
    target = merge_target(ctx)
    removed, kept = [], []
    for agent in observe(ctx):
        if agent.status.live or agent.status == Status.QUEUED:
            continue
        try:
            work = work_of(ctx, agent, target)
            if work.repositories:
                kept.append(f"{agent.name} ({agent.status.value}): {_nested_refusal(agent, work)}")
                continue
            if work and not force:
                advice = "use --force to remove it, keeping the work on a ref"
                kept.append(f"{agent.name} ({agent.status.value}) has {work.describe(target)} ({advice})")
                continue
            removed.append(remove(ctx, agent, target))
        except OrchestraError as error:
            kept.append(f"{agent.name} ({agent.status.value}), which could not be removed: {error}")
    return removed, kept


def remove(ctx: Context, agent: Agent, target: str) -> Removed:
    """Stop the agent, keep any work on a trash ref, then remove its window, worktree, branch, record."""
    pane = owned_pane(ctx, agent)  # never a pane whose id a new tmux server gave to another agent
    own = pane is not None and _runs_in(pane.id)
    if pane is not None and not own:
        ctx.tmux.kill_pane(pane.id)  # stop it first, so its files stop changing (not the window: it may be tiled)
    worktree = Path(agent.worktree)
    saved, not_kept = None, []
    work = work_of(ctx, agent, target)
    if work.repositories:  # made since the caller looked: never deleted with the worktree
        raise WorkAtRisk(_nested_refusal(agent, work))
    if work:
        not_kept = trash.too_big(worktree, work.ignored)
        ignored = [p for p in work.ignored if p not in not_kept]
        saved = trash.save_to_trash(
            ctx.project, agent.name, agent.branch, worktree, ignored, _start(ctx, agent), work.placed
        )
    if not agent.no_worktree:  # the main checkout and its branch stay exactly as they are
        root = worktrees.worktree_root(ctx.project, ctx.config.orchestra["worktree_root"])
        worktrees.remove_worktree(ctx.project, worktree, root)
        worktrees.delete_branch(ctx.project, agent.branch)
    with ctx.state.update() as agents:
        agents.pop(agent.name, None)
    ctx.state.discard_launch_env(agent.name)
    data = {"saved_ref": saved, "not_kept": not_kept} if not_kept else {"saved_ref": saved}
    ctx.state.append_events([Event("removed", agent=agent.name, data=data)])
    from orchestra import lifecycle

    lifecycle.start_queue(ctx.state)  # it may have held a slot
    if own and pane is not None:
        # This command runs in the agent's own pane (typed there, or run by the agent): killing
        # the pane ends this command too (a shell passes the hangup on to its jobs), so it goes last.
        ctx.tmux.kill_pane(pane.id)
    return Removed(name=agent.name, saved_ref=saved, not_kept=not_kept)


def _start(ctx: Context, agent: Agent) -> str | None:
    """What a broken worktree's remaining files are read against: its branch tip, else its base."""
    if worktrees.branch_exists(ctx.project, agent.branch):
        return f"refs/heads/{agent.branch}"
    return agent.base or None


def _disposable(ctx: Context) -> list[str]:
    disposable: list[str] = ctx.config.worktree.get("disposable", [])
    # What orchestra linked in is the main checkout's own file, never the agent's work.
    return [*disposable, *(f"/{entry.strip('/')}" for entry in ctx.config.worktree["symlink"])]


def _placed(ctx: Context, worktree: Path, path: str, copies: list[str]) -> bool:
    """Whether `path` is what orchestra placed in the worktree and still as placed: a file copied
    in (`[worktree] copy`, `.worktreeinclude`) the same as the main checkout's, or a link
    (`[worktree] symlink`) to it. Such a file is the main checkout's, never the agent's work."""
    source, here = ctx.project.root / path, worktree / path
    if _under(path, ctx.config.worktree["symlink"]) and here.is_symlink():
        return os.path.realpath(here) == os.path.realpath(source)
    if not _under(path, copies):
        return False
    try:
        return source.is_file() and filecmp.cmp(source, here, shallow=False)
    except OSError:
        return False


def _under(path: str, entries: list[str]) -> bool:
    return any(path == e.strip("/") or path.startswith(e.strip("/") + "/") for e in entries)


def _nested_refusal(agent: Agent, work: Work) -> str:
    where = ", ".join(work.repositories)
    return (
        f"agent '{agent.name}' has a git repository of its own in its worktree ({where}), whose commits "
        f"and files a trash ref cannot keep, so orchestra does not remove it even with --force: move it out "
        f"of {agent.worktree} (or push its commits somewhere), then run `orchestra kill {agent.name}` again"
    )


def _runs_in(pane: str) -> bool:
    """Whether this process runs in the tmux pane `pane` (tmux gives each pane's processes its id)."""
    return os.environ.get("TMUX_PANE") == pane


def _listing_of(noun: str, names: list[str]) -> str:
    quoted = ", ".join(f"'{n}'" for n in names)
    return f"{noun} {quoted}" if len(names) == 1 else f"{noun}s {quoted}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listing(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", and {len(items) - limit} more" if len(items) > limit else "")
