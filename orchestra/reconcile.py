"""Reading agents as they are: state records checked against tmux panes and worktrees on disk.

State and reality drift (a crash, a reboot, a user's `tmux kill-server`). Every read goes
through `observe`, which shows such agents as `lost`, never as running, and records the change.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from orchestra.models import Agent, Event, Status, parse_time
from orchestra.tmux import Pane


def reconcile(agents: dict[str, Agent], panes: Optional[dict[str, Pane]]) -> list[Event]:
    """Bring records in line with what tmux and the disk show; returns the status changes."""
    events = []
    for agent in agents.values():
        before = agent.status
        if agent.status == Status.STARTING and agent.pane is None and not _stale(agent):
            continue  # a spawn is still creating its window; it records the pane in a moment
        if agent.status.live:
            pane = (panes or {}).get(agent.pane or "")
            if panes is None:
                agent.set_status(Status.LOST, error="the tmux server is not running")
            elif pane is None:
                agent.set_status(Status.LOST, error="its tmux pane is gone")
            elif pane.dead:
                # The launcher records the agent's exit code itself; tmux's own status can lag
                # (or, in tmux 3.3, never come), and without either the process was killed.
                code = agent.exit_code if agent.exit_code is not None else pane.dead_status
                if code == 0:
                    agent.set_status(Status.EXITED, exit_code=0)
                else:
                    error = None if code is not None else "its process ended without an exit code"
                    agent.set_status(Status.FAILED, exit_code=code, error=error)
        if agent.status not in (Status.MERGED, Status.LOST) and not Path(agent.worktree).is_dir():
            agent.set_status(Status.LOST, error="its worktree folder is gone")
        if agent.status != before:
            events.append(Event("status", agent=agent.name, status=agent.status.value, data={"from": before.value}))
    return events


STARTING_GRACE = 120.0  # seconds a spawn may take between recording an agent and opening its window


def _stale(agent: Agent) -> bool:
    age = datetime.now(timezone.utc) - parse_time(agent.updated_at)
    return age.total_seconds() > STARTING_GRACE


def observe(ctx) -> list[Agent]:
    """Every agent of the project, reconciled; drift is written back under the state lock."""
    panes = ctx.tmux.panes()
    snapshot = ctx.state.read()
    if reconcile({k: Agent.from_dict(v.to_dict()) for k, v in snapshot.items()}, panes):
        with ctx.state.update() as agents:
            events = reconcile(agents, panes)
            snapshot = agents
        ctx.state.append_events(events)
        _notify(ctx, events)
    return sorted(snapshot.values(), key=lambda a: a.created_at)


def _notify(ctx, events: list[Event]) -> None:
    if events and ctx._plugins is not None:
        for event in events:
            ctx.plugins.call("notifier", event=event)


def find(ctx, name: str) -> Agent:
    from orchestra.errors import UnknownAgent

    for agent in observe(ctx):
        if agent.name == name:
            return agent
    raise UnknownAgent(f"there is no agent named '{name}' in this project: `orchestra ls` lists them.")


def changes_of(agents: list[Agent]) -> dict[str, Optional[dict]]:
    """Lines added/removed per agent, git run for several agents at once."""
    from orchestra.worktrees import changes

    def one(agent: Agent):
        found = changes(Path(agent.worktree), agent.base)
        return agent.name, found.to_dict() if found else None

    if not agents:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(agents))) as pool:
        return dict(pool.map(one, agents))
