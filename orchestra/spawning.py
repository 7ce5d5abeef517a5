"""Spawning agents: branch, worktree, tmux window and the agent CLI, one per task.

Everything that can be checked is checked before anything is made. After that, a failure
undoes what was made for that agent, so no half-made branch, worktree, window or record stays.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestra import files, lifecycle, remote, spawn_undo, worktrees
from orchestra import pool as warm_pool  # not `pool`: the word is too common a local name here
from orchestra.context import Context
from orchestra.errors import AgentKindError, OrchestraError
from orchestra.launch import exec_argv, hook_argv, launcher_argv, mcp_argv
from orchestra.lead import lead_task
from orchestra.models import Agent, AgentKind, AgentSettings, Event, Status, new_launch_id, now
from orchestra.reconcile import looking, observe, owned_pane
from orchestra.tmux import AgentWindow, Tmux


@dataclass
class TaskSpec:
    """One task as the user gave it, on the command line or in a tasks file."""

    task: str
    name: str | None = None
    agent: str | None = None
    base: str | None = None
    lead: bool = False  # told it may split the task among workers (`orchestra.lead`); named from the task alone
    no_worktree: bool = False  # run in the main checkout itself, for read-only work
    host: str | None = None  # the `[hosts.<name>]` to run on (`orchestra.remote`); None or "local": here
    parent: str | None = None  # the agent that asked for it (`orchestra mcp`); None: a person


class SpawnInterrupted(OrchestraError):
    """The spawn was interrupted (Ctrl-C, SIGTERM): what it had made for the agents it had not
    started is undone; the ones it started keep running."""

    exit_code = 130

    def __init__(self, started: list[str], undone: list[str]):
        self.started, self.undone = started, undone
        if not started:
            message = "interrupted: no agent was started, and nothing of this spawn is left."
        else:
            message = f"interrupted: started {', '.join(started)} (running: `orchestra ls`)" + (
                f"; {', '.join(undone)} not started and removed." if undone else "."
            )
        super().__init__(message)


@dataclass
class SpawnResult:
    agents: list[Agent] = field(default_factory=list)
    queued: list[Agent] = field(default_factory=list)  # recorded `queued`: they start as the schedule lets them
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    spec: TaskSpec
    kind: AgentKind
    settings: AgentSettings
    base: str
    agent: Agent = field(init=False)  # made when its name is reserved (_reserve)
    env: dict[str, str] = field(default_factory=dict)  # the agent's whole environment


Progress = Callable[[str, str], None]  # (agent name, what is happening)


def spawn(
    ctx: Context,
    specs: list[TaskSpec],
    env: dict[str, str],
    progress: Progress | None = None,
    parallel: int | None = None,
) -> SpawnResult:
    """Create one agent per task. Raises before creating anything if any task cannot start.

    The schedule (`orchestra.schedule`: `[schedule]`, and `parallel` for this spawn's own agents)
    decides under the reservation's lock which start now; the others are recorded `queued`,
    with their argument lists and environment, and start later as slots free.

    Interrupted (KeyboardInterrupt), it undoes what it made for every agent it had not started
    and raises `SpawnInterrupted` naming the ones it had. Killed outright, it leaves `starting`
    records whose spawn lock is free: `undo_interrupted` (the next spawn, `doctor --fix`) undoes them.
    """
    progress = progress or (lambda name, step: None)
    if not specs:
        raise OrchestraError('no task given: `orchestra spawn "what the agent should do"`.')
    Tmux.require()
    bases: dict[str, str] = {}  # each base named once is resolved once
    plans = [_plan(ctx, spec, bases) for spec in specs]
    result = SpawnResult()
    undone, _worked_in = spawn_undo.undo_interrupted(ctx)
    if undone:
        result.warnings.append(f"removed what a killed spawn left of {', '.join(undone)}, which it never started")
    later: list[_Plan] = []
    # Each agent's spawn lock, held until it starts or is undone; a queued one's until it is
    # recorded whole (its argument list and environment), so no starter takes it before.
    with contextlib.ExitStack() as spawning, contextlib.ExitStack() as waiting:
        try:
            result.warnings.extend(_reserve(ctx, plans, spawning, waiting, parallel))
            _prepare(ctx, plans, env)
            later = [p for p in plans if p.agent.status == Status.QUEUED]
            plans = [p for p in plans if p.agent.status != Status.QUEUED]
            if plans:
                ctx.tmux.ensure_session(ctx.session, ctx.project.root, ctx.board_argv(), ctx.board_env())
                _create_worktrees(ctx, plans, progress)
            _announce_queued(ctx, later, result)
            waiting.close()
        except BaseException as error:
            reserved = [p.agent for p in [*plans, *later] if hasattr(p, "agent")]
            for agent in reserved:
                spawn_undo.remove_fresh_worktree(ctx, agent)
            spawn_undo.forget(ctx, reserved)
            if isinstance(error, KeyboardInterrupt):
                raise SpawnInterrupted([], []) from None
            raise
        finally:
            result.warnings.extend(ctx.plugins.problems)
        if plans:
            _start(ctx, plans, result, progress)
    try:
        lifecycle.start_queue(ctx.state)  # its queued agents, or earlier ones whose slot freed meanwhile
    except KeyboardInterrupt:  # every agent is made and started or queued: nothing to undo
        raise SpawnInterrupted([a.name for a in [*result.agents, *result.queued]], []) from None
    return result


def _announce_queued(ctx: Context, later: list[_Plan], result: SpawnResult) -> None:
    """The queued agents' lives begin: `spawned` and their `queued` status, logged and notified."""
    events = []
    for plan in later:
        agent = plan.agent
        spawned = Event("spawned", agent=agent.name, status=agent.status.value, data={"task": agent.task[:200]})
        events += [spawned.to_dict(), lifecycle.started(agent.to_dict(), {"by": "spawn"})]
        spawn_undo.started(ctx, agent)  # recorded whole: its lock file goes, and a starter may take it
        result.queued.append(agent)
    lifecycle.publish(ctx.state, events, listened=_notified(ctx))


def _plan(ctx: Context, spec: TaskSpec, bases: dict[str, str]) -> _Plan:
    worktrees.check_task(spec.task)
    if spec.name is not None:
        worktrees.check_name(spec.name)
    kind = ctx.plugins.kind(spec.agent or ctx.config.orchestra["default_agent"])
    settings = ctx.config.agent_settings(
        kind.name, AgentSettings(list(kind.default_command), list(kind.default_args), dict(kind.default_env))
    )  # the hook command is added once the agent has its name
    if spec.no_worktree:
        _check_no_worktree(spec, kind)
    if spec.lead and not (kind.takes_mcp and settings.mcp):
        why = f"[agents.{kind.name}] mcp = false" if kind.takes_mcp else f"{kind.name} agents do not get it yet"
        raise OrchestraError(
            f"a lead needs orchestra's MCP server to start workers, and {why}: spawn the lead as a claude, "
            "codex or gemini agent (--agent claude) with its MCP server on."
        )
    ref = "HEAD" if spec.no_worktree else spec.base or ctx.config.orchestra["base"]
    if ref not in bases:
        bases[ref] = worktrees.resolve_commit(ctx.project, ref)
    return _Plan(spec=spec, kind=kind, settings=settings, base=bases[ref])


def _check_no_worktree(spec: TaskSpec, kind: AgentKind) -> None:
    if spec.base is not None:
        raise OrchestraError(
            "--base makes a new branch; an agent with --no-worktree works on the main checkout as it is."
        )
    if kind.prepare_worktree is not None:
        raise OrchestraError(
            f"agent kind '{kind.name}' writes its own files into its folder before it starts, "
            "so it cannot run in the main checkout: spawn it without --no-worktree."
        )


def _in_main_checkout(agents: dict[str, Agent]) -> list[str]:
    """The live agents that already run in the main checkout."""
    return [a.name for a in agents.values() if a.no_worktree and a.status.live]


def _reserve(
    ctx: Context,
    plans: list[_Plan],
    spawning: contextlib.ExitStack,
    waiting: contextlib.ExitStack,
    parallel: int | None = None,
) -> list[str]:
    """Choose unique names and free ports and record the agents as `starting`, under the lock;
    those the schedule does not let start now as `queued` (their spawn locks held in `waiting`).

    Each record is this spawn's intent: before it is written, the spawn takes the agent's spawn
    lock (held in `spawning`), so a record whose lock is free belongs to a spawn that died.
    Returns a warning for each name given with --name (or in a tasks file) that had to change."""
    renamed = []
    records, answer = looking(ctx)  # one tmux look, for the window names and for reconciling
    prefix = ctx.config.orchestra["branch_prefix"]
    root = worktrees.worktree_root(ctx.project, ctx.config.orchestra["worktree_root"])
    valid = worktrees.branch_namer(ctx.project, prefix)  # while tmux answers
    seen = answer()
    windows = {p.window_name for p in (seen[0] or {}).values() if p.session == ctx.session}
    windows |= remote.names(ctx)  # an agent on a host has its name too
    observe(ctx, seen, records)  # so that dead agents release their ports
    # A --no-worktree agent's branch is the main checkout's (never its own): asked only for one.
    main_branch = worktrees.current_branch(ctx.project) or "HEAD" if any(p.spec.no_worktree for p in plans) else "HEAD"
    # One write for the whole batch: the names and ports of every agent are chosen under one lock.
    batch = new_launch_id()
    with ctx.state.update() as agents:
        taken = worktrees.branches(ctx.project)  # under the lock, as the records are read
        used_ports = {a.port for a in agents.values() if a.status.live or a.status == Status.QUEUED}
        ticket = max((a.ticket or 0 for a in agents.values()), default=0)
        for plan in plans:
            wanted = plan.spec.name or worktrees.slugify(plan.spec.task)
            name = _unique_name(wanted, agents, windows, taken, prefix, root)
            if plan.spec.name and name != plan.spec.name:
                renamed.append(
                    f"the name '{plan.spec.name}' is taken (an agent, a branch {prefix}{plan.spec.name}, "
                    f"a window or a folder has it); the agent is called '{name}'"
                )
            branch = f"{prefix}{name}"
            if plan.spec.no_worktree:
                renamed.extend(_share_warning(name, _in_main_checkout(agents)))
            elif not valid(name):
                raise OrchestraError(
                    f"'{branch}' is not a valid branch name: change `branch_prefix` in orchestra.toml or the --name."
                )
            port = _free_port(ctx.config.ports["range"], used_ports)
            used_ports.add(port)
            ticket += 1
            plan.agent = Agent(
                name=name,
                task=lead_task(plan.spec.task) if plan.spec.lead else plan.spec.task,
                agent=plan.kind.name,
                branch=main_branch if plan.spec.no_worktree else branch,
                base=plan.base,
                worktree=str(ctx.project.root if plan.spec.no_worktree else root / name),
                no_worktree=plan.spec.no_worktree,
                session=ctx.session,
                port=port,
                session_id=new_session_id(agents, taken_by_plugins(ctx, plan.kind)) if plan.kind.session_ids else None,
                screen_patterns=screen_patterns(plan.kind),
                screen_after_hooks=plan.kind.screen_after_hooks,
                launch_id=new_launch_id(),
                status=Status.QUEUED,
                ticket=ticket,
                spawn_batch=batch,
                parallel=parallel,
                parent=plan.spec.parent,
            )
            agents[name] = plan.agent
        _admit(ctx, agents, plans, spawning, waiting)
    return renamed


def _share_warning(name: str, others: list[str]) -> list[str]:
    if not others:
        return []
    return [
        f"agent '{name}' runs in the main checkout, where {', '.join(others)} already "
        f"run{'s' if len(others) == 1 else ''}: each sees the other's changes"
    ]


def _admit(
    ctx: Context,
    agents: dict[str, Agent],
    plans: list[_Plan],
    spawning: contextlib.ExitStack,
    waiting: contextlib.ExitStack,
) -> None:
    """Under the reservation's lock: the schedule says which of the new agents start now
    (`starting`); the rest stay `queued`, behind any queued before them."""
    from orchestra import schedule

    records = {name: agent.to_dict() for name, agent in agents.items()}
    for plan in plans:
        records[plan.agent.name]["argv"] = ["(being prepared)"]  # its own spawn prepares it next
    admitted = set(schedule.look(ctx, records).admit)
    stamp = now()
    for plan in plans:
        agent = plan.agent
        if agent.name in admitted:
            agent.status, agent.started_at = Status.STARTING, stamp
            spawning.enter_context(spawn_undo.spawn_lock(ctx, agent.name))
        else:
            agent.queued_at = stamp
            waiting.enter_context(spawn_undo.spawn_lock(ctx, agent.name))


def _unique_name(
    wanted: str, agents: dict[str, Agent], windows: set[str], branches: set[str], prefix: str, root: Path
) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`...: never an existing agent's branch, folder or window.

    A branch is taken too where git could not make it beside the existing ones: `x` while `x/y`
    exists (git keeps branches as files, and `x` would have to be a file and a folder)."""
    name, n = wanted, 2
    while (
        name in agents
        or name in windows
        or name == "board"
        or (root / name).exists()
        or f"{prefix}{name}" in branches
        or any(b.startswith(f"{prefix}{name}/") for b in branches)
    ):
        name, n = f"{wanted}-{n}", n + 1
    return name


def _free_port(port_range: list[int], used: set[int | None]) -> int | None:
    low, high = port_range
    for port in range(low, high + 1):
        if port in used:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return None  # more agents than ports: they run without ORCHESTRA_PORT rather than share one


def new_session_id(agents: dict[str, Agent], taken: Callable[[str], bool] = lambda _id: False) -> str:
    """A conversation id that no recorded agent uses, and that `taken` (the agent CLI's own
    conversations on this machine, as its plugin knows them) does not refuse."""
    import uuid

    recorded = {a.session_id for a in agents.values()}
    while True:
        candidate = str(uuid.uuid4())
        if candidate not in recorded and not taken(candidate):
            return candidate


def taken_by_plugins(ctx: Context, kind: AgentKind) -> Callable[[str], bool]:
    """Asks the plugins' `session_id_taken` about an id of `kind`."""
    return lambda session_id: bool(ctx.plugins.call_first("session_id_taken", kind=kind, session_id=session_id))


def screen_patterns(kind: AgentKind) -> dict[str, list[str]]:
    patterns = {
        "waiting": list(kind.waiting_patterns),
        "busy": list(kind.busy_patterns),
        "limited": list(kind.limited_patterns),
        "limit_over": list(kind.limit_over_patterns),
    }
    return {key: value for key, value in patterns.items() if value}


def hook_command(ctx: Context, agent: Agent, kind: AgentKind) -> list[str]:
    """How the agent CLI reaches orchestra's hook handler: this interpreter, by absolute path,
    told which file reads the kind's own hook payloads (`orchestra.hook_start`)."""
    from orchestra.hook_handler import translator_file

    translator = []
    if kind.hook_translator:
        try:
            translator = ["--from-file", str(translator_file(kind.hook_translator))]
        except ImportError as error:
            raise AgentKindError(f"the {kind.name} agent's hook translator cannot be found: {error}") from None
    return hook_argv("--state-dir", str(ctx.state.dir), *translator, agent.name)


def mcp_command(ctx: Context, agent: Agent, kind: AgentKind, settings: AgentSettings) -> list[str]:
    """orchestra's MCP server for this agent (its relay to the project's server, which the relay
    starts when none answers), unless its kind's `[agents.<kind>] mcp = false`. For a CLI that holds
    its first request until its MCP servers answer (`mcp_early`), the server is started now,
    before its window."""
    if not settings.mcp:
        return []
    if kind.mcp_early:
        from orchestra.mcp_relay import start_soon

        start_soon(ctx.state.folder, str(ctx.project.root))  # one connect when it runs already
    return mcp_argv(ctx.state.folder, agent.name)


def _prepare(ctx: Context, plans: list[_Plan], env: dict[str, str]) -> None:
    """Build each argument list, let plugins adjust or veto, and check the CLIs are installed;
    then record the argument lists, in one write. The plugins run outside the state lock, which
    hook handlers of running agents wait for."""
    for plan in plans:
        agent = plan.agent
        plan.settings.hook_command = hook_command(ctx, agent, plan.kind)
        plan.settings.mcp_command = mcp_command(ctx, agent, plan.kind, plan.settings)
        agent.argv = plan.kind.build_argv(agent, plan.settings)
        plan.env = agent_environment(plan.kind, agent, plan.settings, env)
        ctx.plugins.pre_spawn(agent=agent, config=ctx.config, env=plan.env)
        check_installed(agent, plan.env)
        if agent.status == Status.QUEUED:  # kept for its start, which may come from another process
            ctx.state.write_launch_env(agent.name, {"env": plan.env, "setup": "", "idle": False})
    notified = _notified_record(ctx)
    with ctx.state.update() as agents:
        for plan in plans:
            plan.agent.notified = notified
            agents[plan.agent.name] = plan.agent


def _notified_record(ctx: Context) -> dict[str, Any] | None:
    """`_notified`'s answer as the agents' records keep it for their launchers and hook handlers
    (`lifecycle.listened`), with what it depends on: the user's and the project's configuration
    files, and the folders plugins are installed in (a distribution installed or removed changes
    its folder). None when every notifier is to be told everything."""
    from orchestra.config import FILENAME, USER_FILENAME, user_config_dir

    events = _notified(ctx)
    if events is None:
        return None
    read = [user_config_dir() / USER_FILENAME, ctx.project.root / FILENAME, *ctx.config.sources]
    folders = [entry for entry in sys.path if entry and os.path.isdir(entry)]
    return {"events": list(events), "key": lifecycle.notified_key(list(dict.fromkeys([*map(str, read), *folders])))}


def _create_worktrees(ctx: Context, plans: list[_Plan], progress: Progress) -> None:
    """All worktrees at once (git does the work in separate processes); all or none.

    Interrupted, it waits for the git commands under way (a Ctrl-C stops them too) and starts no
    more, so the caller's undo finds everything that was made."""

    def create(index: int, plan: _Plan, members: warm_pool.Claims) -> None:
        agent = plan.agent
        progress(agent.name, "creating worktree")
        if not members.claim(index, Path(agent.worktree), agent.branch, agent.base, new_branch=False):
            worktrees.add_worktree(ctx.project, Path(agent.worktree), agent.branch, agent.base, new_branch=False)
        worktrees.populate(
            ctx.project, Path(agent.worktree), ctx.config.worktree["copy"], ctx.config.worktree["symlink"]
        )
        if plan.kind.prepare_worktree is not None:
            plan.kind.prepare_worktree(agent, plan.settings)

    plans = [plan for plan in plans if not plan.spec.no_worktree]  # they run in the main checkout as it is
    if not plans:
        return
    worktrees.make_branches(ctx.project, {plan.agent.branch: plan.agent.base for plan in plans})
    # Plain threads, not concurrent.futures, whose import (with logging's) costs spawn more than
    # the thread pool saves. Interrupted, the main thread stops handing out plans and waits.
    queue = list(reversed(list(enumerate(plans))))
    errors: list[BaseException] = []

    def work(members: warm_pool.Claims) -> None:
        while queue and not errors:
            try:
                index, plan = queue.pop()
            except IndexError:
                return
            try:
                create(index, plan, members)
            except BaseException as error:  # noqa: BLE001 - handed to the main thread, raised there
                errors.append(error)

    with warm_pool.claims(ctx, [plan.agent.base for plan in plans]) as members:
        threads = [
            threading.Thread(target=work, args=(members,), name="orchestra-worktree") for _ in range(min(4, len(plans)))
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except KeyboardInterrupt:
            queue.clear()  # no more: the caller undoes what was made once the commands under way end
            for thread in threads:
                thread.join()
            raise
    if errors:
        raise errors[0]


def start_queued(
    ctx: Context, names: list[str], locks: dict[str, int], progress: Progress | None = None
) -> SpawnResult:
    """Start agents the schedule has just admitted (`starting`, with no worktree yet): what a
    spawn does for an agent after reserving it, with the argument list and environment it
    recorded. `locks` are their spawn locks, held until each has started or gone back to the
    queue (with why: a worktree that could not be made, a kind no longer installed)."""
    progress = progress or (lambda name, step: None)
    result = SpawnResult()
    records = ctx.state.read()
    plans = []
    try:
        for name in names:
            agent = records.get(name)
            if agent is None or agent.status != Status.STARTING or agent.pane is not None:
                continue
            try:
                kind = ctx.plugins.kind(agent.kind)
            except OrchestraError as error:
                spawn_undo.requeue(ctx, agent, str(error))
                continue
            plan = _Plan(
                spec=TaskSpec(agent.task, name, agent.kind, no_worktree=agent.no_worktree),
                kind=kind,
                settings=settings_for(ctx, kind, agent),
                base=agent.base,
            )
            plan.agent = agent
            launch = ctx.state.peek_launch_env(name)
            plan.env = launch["env"] if launch else spawn_environment()
            plans.append(plan)
        if not plans:
            return result
        try:
            ctx.tmux.ensure_session(ctx.session, ctx.project.root, ctx.board_argv(), ctx.board_env())
            _create_worktrees(ctx, plans, progress)
        except Exception as error:  # noqa: BLE001 - the agents go back to the queue with why
            for plan in plans:
                spawn_undo.requeue(ctx, plan.agent, f"could not start: {error}")
            return result
        _start(ctx, plans, result, progress, announce=False)
        return result
    finally:
        for fd in locks.values():
            os.close(fd)


def _start(ctx: Context, plans: list[_Plan], result: SpawnResult, progress: Progress, announce: bool = True) -> None:
    """Open every agent's window, in one tmux invocation, then record their panes in one write.

    Its life begins here for the event log and the notifiers (one notifier process for the
    batch): nothing after this is undone but an agent whose window fails to open; the windows
    after it are opened in another invocation. Interrupted, the agents whose windows are open
    (their panes' marks say which) keep running, and the rest is undone."""
    events = []
    for plan in plans if announce else []:  # a queued agent's life began when it was queued
        agent = plan.agent
        spawned = Event("spawned", agent=agent.name, status=agent.status.value, data={"task": agent.task[:200]})
        events += [spawned.to_dict(), lifecycle.started(agent.to_dict(), {"by": "spawn"})]
    lifecycle.publish(ctx.state, events, listened=_notified(ctx))
    opened: dict[str, tuple[str, str]] = {}

    def failed(plan: _Plan, error: Exception) -> None:
        spawn_undo.undo(ctx, plan.agent)
        result.failures.append(f"{plan.agent.name}: {error}")

    def began(plan: _Plan, ids: tuple[str, str]) -> None:
        opened[plan.agent.name] = ids
        spawn_undo.started(ctx, plan.agent)
        result.agents.append(plan.agent)
        progress(plan.agent.name, "started")

    # The launchers wait at a gate (`launch.GATE`) while tmux opens the batch's windows: ten
    # Pythons starting at once would keep tmux from the processors for three times as long.
    gate = str(ctx.state.dir / "windows.lock") if len(plans) > 1 and shutil.which("flock") else None
    pending: list[tuple[_Plan, AgentWindow]] = []
    try:
        for plan in plans:
            progress(plan.agent.name, "starting")
            try:
                window = _agent_window(ctx, plan.agent, plan.env, _setup(ctx, plan.agent), gate=gate)
                pending.append((plan, window))
            except Exception as error:  # noqa: BLE001 - one agent failing must not undo the others
                failed(plan, error)
        with files.locked(gate) if gate else contextlib.nullcontext():
            while pending:
                ids, stopped = ctx.tmux.new_agent_windows(ctx.session, [window for _plan, window in pending])
                for (plan, _window), pair in zip(pending, ids, strict=False):
                    began(plan, pair)
                pending = pending[len(ids) :]
                if stopped is not None:
                    (plan, _window), pending = pending[0], pending[1:]
                    failed(plan, stopped)
        # Off the clock: a detached process at a low priority, once the windows are open.
        warm_pool.refill_later(ctx)
    except KeyboardInterrupt:
        for plan, _window in pending:  # a Ctrl-C may have come while tmux was opening them
            pane = owned_pane(ctx, plan.agent) if plan.agent.name not in opened else None
            if pane is not None:
                opened[plan.agent.name] = (pane.window, pane.id)
                spawn_undo.started(ctx, plan.agent)
                result.agents.append(plan.agent)
        started = {a.name for a in result.agents}
        rest = [p.agent for p in plans if p.agent.name not in started]
        for agent in rest:
            spawn_undo.undo(ctx, agent)
        raise SpawnInterrupted([a.name for a in result.agents], [a.name for a in rest]) from None
    finally:
        _record_windows(ctx, [a for a in result.agents if a.name in opened], opened)


def _setup(ctx: Context, agent: Agent) -> str:
    """`[worktree] setup` runs in a new worktree, never in the main checkout."""
    return "" if agent.no_worktree else ctx.config.worktree["setup"]


def open_window(ctx: Context, agent: Agent, env: dict[str, str], setup: str = "", idle: bool = False) -> None:
    """Hand the environment to the launcher and open the agent's window; records its pane.

    The agent must be recorded as `starting` with no pane: until the pane is recorded,
    reconciling leaves it alone (or finds it by its mark). With `idle` (a conversation resumed
    without a new prompt) the launcher records it `done` rather than `running` as it starts the CLI.
    """
    window = _agent_window(ctx, agent, env, setup, idle)
    opened = ctx.tmux.new_agent_window(
        ctx.session, window.name, window.cwd, window.argv, window.on_death, window.launch
    )
    _record_windows(ctx, [agent], {agent.name: opened})


def _notified(ctx: Context) -> list[str] | None:
    """The events some notifier plugin may act on here (`Plugins.notified`), for the spawn's own
    events and, through the agents' records (`_notified_record`), their launchers' and hook
    handlers': no notifier process starts for an event no plugin wants."""
    return ctx.plugins.notified(ctx.config)


def _agent_window(
    ctx: Context, agent: Agent, env: dict[str, str], setup: str = "", idle: bool = False, gate: str | None = None
) -> AgentWindow:
    """Write the agent's launch file; returns the window that runs its launcher (behind `gate`)."""
    launch_env = dict(env)
    launch_env.update({"ORCHESTRA_AGENT": agent.name, "ORCHESTRA_PORT": str(agent.port or "")})
    launch_env.pop("TMUX", None)
    launch_env.pop("TMUX_PANE", None)
    ctx.state.write_launch_env(agent.name, {"env": launch_env, "setup": setup, "idle": idle})
    state_dir = str(ctx.state.dir)
    return AgentWindow(
        name=agent.name,
        cwd=Path(agent.worktree),
        argv=exec_argv(state_dir, agent.name, gate),
        on_death=launcher_argv("_pane-died", "--state-dir", state_dir),
        launch=agent.launch_id or "",
    )


def _record_windows(ctx: Context, agents: list[Agent], opened: dict[str, tuple[str, str]]) -> None:
    """Put each agent's window and pane ids into its record (and into `agents`), in one write."""
    if not agents:
        return
    with ctx.state.update() as records:
        for agent in agents:
            window, pane = opened[agent.name]
            record = records.get(agent.name)
            if record is not None and record.status == Status.STARTING and record.pane is None:
                record.window, record.pane = window, pane
                agent.window, agent.pane = window, pane
                record.updated_at = agent.updated_at
            elif record is not None:  # the launcher was faster and already moved it on
                record.window, record.pane = window, pane
                agent.status, agent.window, agent.pane = record.status, window, pane


def settings_for(ctx: Context, kind: AgentKind, agent: Agent) -> AgentSettings:
    """The kind's settings as orchestra.toml configures them, with this agent's hook command."""
    settings = ctx.config.agent_settings(
        kind.name, AgentSettings(list(kind.default_command), list(kind.default_args), dict(kind.default_env))
    )
    settings.hook_command = hook_command(ctx, agent, kind)
    settings.mcp_command = mcp_command(ctx, agent, kind, settings)
    return settings


def agent_environment(kind: AgentKind, agent: Agent, settings: AgentSettings, env: dict[str, str]) -> dict[str, str]:
    """The shell's environment, the kind's configured variables, and what the kind itself adds."""
    combined = {**env, **settings.env}
    if kind.build_env is not None:
        combined.update(kind.build_env(agent, settings))
    return combined


def check_installed(agent: Agent, env: dict[str, str]) -> None:
    program = agent.argv[0] if agent.argv else None
    if program is None:
        raise AgentKindError(f"the agent kind '{agent.kind}' produced an empty command line.")
    if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise AgentKindError(
            f"the agent CLI '{program}' for the kind '{agent.kind}' is not installed or not on PATH: "
            f"install it, or set `command` in the [agents.{agent.kind}] table of orchestra.toml."
        )


def spawn_environment() -> dict[str, str]:
    """The environment agents start with: the user's shell right now, not the tmux server's."""
    env = dict(os.environ)
    env.setdefault("PATH", os.defpath)
    return env
