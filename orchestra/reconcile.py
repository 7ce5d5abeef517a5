"""Reading agents as they are: state records checked against tmux panes and worktrees on disk.

State and reality drift (a crash, a reboot, a user's `tmux kill-server`). Every read goes
through `observe`, which shows such agents as `lost`, never as running, and records the change.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from orchestra.models import Agent, Event, Status, parse_time
from orchestra.tmux import Pane


def reconcile(
    agents: dict[str, Agent], panes: Optional[dict[str, Pane]], screens: Optional[dict[str, str]] = None
) -> list[Event]:
    """Bring records in line with what tmux and the disk show; returns the status changes.

    Reality wins both ways: a live agent whose pane is gone is `lost`, and a `lost` agent
    whose pane is in fact there (it came back, or was read in a race) is live again.
    `screens` (pane id to what it shows) moves agents that report no hook events between
    `running` and `waiting` by their kind's screen patterns.
    """
    events = []
    for agent in agents.values():
        before = agent.status
        if agent.status == Status.STARTING and agent.pane is None and not _stale(agent):
            continue  # a spawn is still creating its window; it records the pane in a moment
        pane = _pane_of(agent, panes)
        if agent.status == Status.LOST and pane is not None and Path(agent.worktree).is_dir():
            agent.set_status(Status.RUNNING, error=None)
        if agent.status.live:
            if panes is None:
                agent.set_status(Status.LOST, error="its tmux server was not running")
            elif pane is None:
                agent.set_status(Status.LOST, error="its tmux window was closed")
            elif pane.dead:
                # The launcher records the agent's exit code itself; tmux's own status can lag
                # (or, in tmux 3.3, never come), and without either the process was killed.
                code = agent.exit_code if agent.exit_code is not None else pane.dead_status
                if code == 0:
                    agent.set_status(Status.EXITED, exit_code=0)
                else:
                    error = None if code is not None else "its process ended without an exit code"
                    agent.set_status(Status.FAILED, exit_code=code, error=error or agent.error)
        data = {"from": before.value}
        if agent.status in (Status.EXITED, Status.FAILED) and agent.exit_code is not None:
            data["exit_code"] = agent.exit_code
        if agent.pane in (screens or {}) and screen_tells(agent):
            seen = agent.status
            _read_screen(agent, screens[agent.pane])
            if agent.status != seen:
                data["by"] = "screen"
        if agent.status not in (Status.MERGED, Status.LOST) and not Path(agent.worktree).is_dir():
            agent.set_status(Status.LOST, error="its worktree folder is gone")
        if agent.status == Status.LOST and before != Status.LOST:
            data["by"] = agent.error or "reconcile"
        if agent.status != before:
            events.append(Event("status", agent=agent.name, status=agent.status.value, data=data))
    return events


SCREEN_STATUSES = (Status.RUNNING, Status.WAITING)
SCREEN_LINES = 15  # the bottom of the screen: a question scrolled away is no longer asked


def screen_tells(agent: Agent) -> bool:
    """Whether the agent's screen says more than its record: it has patterns and no hook events
    yet, or hooks that report only some events (then `done` can turn into work again)."""
    if not agent.screen_patterns:
        return False
    if agent.screen_after_hooks:  # hooks give a turn's end (done); the screen shows the rest
        return agent.status in (*SCREEN_STATUSES, Status.DONE)
    return agent.last_hook is None and agent.status in SCREEN_STATUSES


def _read_screen(agent: Agent, screen: str) -> None:
    """The fallback where an agent has no hooks: its kind's patterns against the screen's bottom."""
    lines = [line for line in screen.splitlines() if line.strip()][-SCREEN_LINES:]
    bottom = "\n".join(lines)
    for pattern in agent.screen_patterns.get("waiting", []):
        found = re.search(pattern, bottom, re.MULTILINE)
        if found:
            line = bottom[bottom.rfind("\n", 0, found.start()) + 1 :].split("\n", 1)[0]
            if agent.status != Status.WAITING:
                agent.set_status(Status.WAITING, waiting_for=" ".join(line.split())[:200])
            return
    busy = any(re.search(p, bottom, re.MULTILINE) for p in agent.screen_patterns.get("busy", []))
    if agent.status == Status.WAITING or (agent.status == Status.DONE and busy):
        agent.set_status(Status.RUNNING, waiting_for=None)


def _pane_of(agent: Agent, panes: Optional[dict[str, Pane]]) -> Optional[Pane]:
    """The agent's pane, if tmux still has it. Pane ids restart with a new tmux server, so the
    id must also sit in the agent's session and window to count."""
    pane = (panes or {}).get(agent.pane or "")
    if pane is None or (agent.session and pane.session != agent.session):
        return None
    return pane if pane.window_name == agent.name or pane.window == agent.window else None


STARTING_GRACE = 120.0  # seconds a spawn may take between recording an agent and opening its window


def _stale(agent: Agent) -> bool:
    age = datetime.now(timezone.utc) - parse_time(agent.updated_at)
    return age.total_seconds() > STARTING_GRACE


def observe(ctx) -> list[Agent]:
    """Every agent of the project, reconciled; drift is written back under the state lock.

    The records are read before tmux is asked, and asked again under the lock before anything
    is written: a spawn records a pane only after tmux has it, so neither read can see a
    recorded pane that tmux does not know yet.
    """
    snapshot = ctx.state.read()
    # Screens are read in the same tmux call as the panes, for the agents whose records say
    # the screen may tell more; reconcile uses them only where the pane turns out to be alive.
    watched = [a.pane for a in snapshot.values() if a.pane and screen_tells(a)]
    panes, screens = ctx.tmux.panes_and_screens(watched)
    screens = {p: screen for p, screen in screens.items() if p in (panes or {}) and not panes[p].dead}
    if reconcile({k: Agent.from_dict(v.to_dict()) for k, v in snapshot.items()}, panes, screens):
        with ctx.state.update() as agents:
            events = reconcile(agents, ctx.tmux.panes(), screens)
            snapshot = agents
        ctx.state.append_events(events)
        tell_notifiers(ctx.state, events)
    return sorted(snapshot.values(), key=lambda a: a.created_at)


def tell_notifiers(state, events: list[Event]) -> None:
    """Hand status changes to the notifier plugins, each in a detached process: a command (`ls`,
    the board, the dashboard) never waits for a webhook, and their problems reach the event log."""
    from orchestra.hook_handler import notify_in_background

    for event in events:
        notify_in_background(state, event.to_dict())


def find(ctx, name: str) -> Agent:
    from orchestra.errors import UnknownAgent

    for agent in observe(ctx):
        if agent.name == name:
            return agent
    raise UnknownAgent.named(name)


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
