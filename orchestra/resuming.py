"""Bringing lost agents back: a new window in the same worktree, the same conversation.

An agent is `lost` when its pane or its whole tmux server is gone (a reboot, a
`tmux kill-server`) while its record says it was alive. Resuming opens its window again in its
worktree; an agent kind that can continue a conversation (Claude Code's `--resume <id>`) goes on
with the same one, any other kind starts again with its task. Nothing else is touched: not the
branch, not the worktree, not the other agents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from orchestra import lifecycle, trash
from orchestra.context import Context
from orchestra.errors import OrchestraError, UnknownAgent
from orchestra.models import Agent, Event, Status, new_launch_id
from orchestra.reconcile import observe
from orchestra.spawning import agent_environment, check_installed, open_window, settings_for
from orchestra.tmux import Tmux


@dataclass
class Resumed:
    agent: Agent
    continued: bool  # the same conversation (True) or the task again (False)


@dataclass
class ResumeResult:
    resumed: list[Resumed] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: why"
    warnings: list[str] = field(default_factory=list)


def resume(ctx: Context, names: list[str], env: dict[str, str]) -> ResumeResult:
    """Resume the named lost agents, or every lost agent when no name is given."""
    agents = {a.name: a for a in observe(ctx)}
    for name in names:
        if name not in agents:
            raise UnknownAgent.named(name)
        if agents[name].status != Status.LOST:
            status = agents[name].status.value
            raise OrchestraError(
                f"agent '{name}' is {status}, not lost: only an agent whose window or tmux server is gone "
                f"can be resumed (`orchestra attach {name}` goes to a live one)."
            )
    chosen = (
        [agents[n] for n in dict.fromkeys(names)] if names else [a for a in agents.values() if a.status == Status.LOST]
    )
    result = ResumeResult()
    if not chosen:
        return result
    Tmux.require()
    ctx.tmux.ensure_session(ctx.session, ctx.project.root, ctx.board_argv(), ctx.board_env())
    for agent in chosen:
        try:
            resumed = _resume_one(ctx, agent, env)
        except OrchestraError as error:
            result.skipped.append(f"{agent.name}: {error}")
            continue
        if resumed is not None:
            result.resumed.append(resumed)
    result.warnings.extend(ctx.plugins.problems)
    return result


def _resume_one(ctx: Context, agent: Agent, env: dict[str, str]) -> Resumed | None:
    if not Path(agent.worktree).is_dir():
        raise OrchestraError(f"its worktree {agent.worktree} is gone, so there is nowhere to resume it")
    if problem := trash.half_made(Path(agent.worktree), agent.name):
        raise OrchestraError(problem)  # its commits would delete every file, or land where git finds a repository
    kind = ctx.plugins.kind(agent.kind)
    settings = settings_for(ctx, kind, agent)
    if kind.prepare_worktree is not None:
        kind.prepare_worktree(agent, settings)
    build_resume_argv = kind.build_resume_argv if agent.session_id else None
    continued = build_resume_argv is not None
    argv = build_resume_argv(agent, settings) if build_resume_argv is not None else kind.build_argv(agent, settings)
    agent_env = agent_environment(kind, dataclasses.replace(agent, argv=argv), settings, env)
    check_installed(dataclasses.replace(agent, argv=argv), agent_env)
    with ctx.state.update_raw() as records:
        record = records.get(agent.name)
        if record is None or record.get("status") != lifecycle.LOST:
            return None  # another command resumed or removed it meanwhile
        # Claimed: `starting` with no pane is left alone by reconciling until the window opens.
        record["argv"] = argv
        starting = lifecycle.apply_to(records, agent.name, "resuming", {"launch_id": new_launch_id()}, {"by": "resume"})
        agent = Agent.from_dict(record)
    data = {"session_id": agent.session_id, "continued": continued}
    events = [Event("resumed", agent=agent.name, status=agent.status.value, data=data).to_dict()]
    if starting is not None:  # always, for a claimed lost agent
        events.insert(0, starting)
    lifecycle.publish(ctx.state, events)
    try:
        open_window(ctx, agent, agent_env, idle=continued)
    except OrchestraError:
        lifecycle.change(ctx.state, agent.name, "resume-failed")
        raise
    return Resumed(agent=agent, continued=continued)
