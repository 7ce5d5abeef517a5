"""`attach`: which agent window and pane to go to, by the agent's name or as the next agent in the
session's order. Putting the terminal there (switch-client or attach) is the face's part."""

from __future__ import annotations

from dataclasses import dataclass

from orchestra import lifecycle
from orchestra.context import Context
from orchestra.errors import OrchestraError

# Statuses whose agent may still have a pane to show: `lost` has none, `merged` has ended.
WITH_A_WINDOW = tuple(sorted(lifecycle.LIVE | {lifecycle.EXITED, lifecycle.FAILED}))  # a pane stays after an exit


@dataclass(frozen=True)
class Place:
    window: str
    pane: str | None


class NothingToGoTo(OrchestraError):
    """No agent fits `attach --next`. `summary` is the finding without the advice, for a tmux
    message: a key press that finds nothing is no error there."""

    def __init__(self, summary: str):
        super().__init__(f"{summary}: `orchestra ls` shows them all.")
        self.summary = summary


def place_of(ctx: Context, name: str) -> Place:
    """The window and pane of agent `name`; an error if it has none to go to."""
    from orchestra.reconcile import find

    agent = find(ctx, name)
    if not agent.window or agent.status.value == lifecycle.LOST:
        hint = f" `orchestra resume {name}` opens it again." if agent.status.value == lifecycle.LOST else ""
        raise OrchestraError(f"agent '{name}' has no window to go to: it is {agent.status.value}.{hint}")
    return Place(agent.window, agent.pane)


def next_place(ctx: Context, waiting: bool = False) -> Place:
    """The next agent's pane after the one this process runs in (the first one outside the
    session), cycling; with `waiting`, only agents waiting for a person. Raises NothingToGoTo."""
    from orchestra.reconcile import observe

    positions = ctx.tmux.pane_positions(ctx.session)
    wanted = (lifecycle.WAITING,) if waiting else WITH_A_WINDOW
    panes = [a.pane for a in observe(ctx) if a.pane and a.status.value in wanted]
    pane = next_pane(panes, positions, ctx.tmux.current_pane(ctx.session))
    if pane is None:
        none = "no agent is waiting for you" if waiting else "no agent has a window to go to"
        raise NothingToGoTo(f"{none} in {ctx.project.name}")
    return Place(positions[pane][0], pane)


def next_pane(panes: list[str], positions: dict[str, tuple[str, int, int]], current: str | None) -> str | None:
    """The first of `panes` in the session's order (window index, then pane index) after `current`,
    cycling round to the first. None when none of them is in the session."""
    ordered = sorted((positions[p][1:], p) for p in panes if p in positions)
    if not ordered:
        return None
    here = positions[current][1:] if current in positions else (-1, -1)
    return next((p for place, p in ordered if place > here), ordered[0][1])
