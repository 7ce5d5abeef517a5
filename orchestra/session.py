"""The project's tmux session as a whole: bringing it up, and which agents it has lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestra.context import Context
from orchestra.errors import OrchestraError
from orchestra.launch import launcher_argv
from orchestra.models import Agent, Status
from orchestra.reconcile import observe
from orchestra.tmux import Tmux

if TYPE_CHECKING:
    from orchestra.resuming import ResumeResult

LAYOUTS = ("windows", "tiled")


@dataclass
class UpResult:
    session: str
    created: bool = False
    board_recreated: bool = False
    lost: list[Agent] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # agents whose panes changed layout
    window: str | None = None  # the window to go to (the tiled one, in that layout)


def bring_up(ctx: Context, layout: str | None = None) -> UpResult:
    """Make sure the session and its board exist, lay the agents out; report lost agents."""
    Tmux.require()
    layout = layout or ctx.config.tmux["layout"]
    observe(ctx)  # before making the session: agents of a server that is gone are lost for that reason
    created = ctx.tmux.ensure_session(ctx.session, ctx.project.root, ctx.board_argv(), ctx.board_env())
    recreated = (
        False if created else ctx.tmux.ensure_board(ctx.session, ctx.project.root, ctx.board_argv(), ctx.board_env())
    )
    result = UpResult(session=ctx.session, created=created, board_recreated=recreated)
    result.moved, result.window = arrange(ctx, layout)
    result.lost = [a for a in observe(ctx) if a.status == Status.LOST and a.error != "its worktree folder is gone"]
    return result


def resume_lost(ctx: Context, result: UpResult, env: dict[str, str], layout: str | None = None) -> ResumeResult:
    """Resume the agents `bring_up` found lost, with `env` as spawn's environment. In the tiled
    layout they join the tiled window, which becomes `result.window`. Returns resume's result."""
    from orchestra.resuming import resume

    resumed = resume(ctx, [a.name for a in result.lost], env)
    if (layout or ctx.config.tmux["layout"]) == "tiled":
        result.window = arrange(ctx, "tiled")[1]
    return resumed


def arrange(ctx: Context, layout: str) -> tuple[list[str], str | None]:
    """Put every agent that has a pane in one tiled window, or each in a window of its own.

    Panes move with their processes and scrollback, so nothing is restarted or lost; the
    records follow their panes' new windows. Returns the agents moved and the tiled window.
    """
    if layout not in LAYOUTS:
        raise OrchestraError(f"unknown layout '{layout}': use windows or tiled.")
    panes = ctx.tmux.panes() or {}
    agents = [
        (a, a.pane)
        for a in observe(ctx)
        if a.pane is not None and a.pane in panes and panes[a.pane].session == ctx.session
    ]
    on_death = launcher_argv("_pane-died", "--state-dir", str(ctx.state.dir))
    tiled = ctx.tmux.tiled_window(ctx.session)
    windows: dict[str, str] = {}  # pane id -> its new window
    if layout == "tiled":
        moving = [(a, pane) for a, pane in agents if panes[pane].window != tiled]
        if moving:
            tiled = window = ctx.tmux.tile(ctx.session, [(pane, a.name) for a, pane in moving], on_death)
            ctx.tmux.mark_panes({pane: a.status.value for a, pane in agents})
            windows = {pane: window for _, pane in moving}
    else:
        moving = [(a, pane) for a, pane in agents if tiled is not None and panes[pane].window == tiled]
        windows = ctx.tmux.untile([(pane, a.name) for a, pane in moving], on_death) if moving else {}
        tiled = None
    if windows:
        with ctx.state.update() as records:
            for agent, pane in moving:
                if agent.name in records and records[agent.name].pane == pane:
                    records[agent.name].window = windows[pane]
    return [a.name for a, _ in moving], tiled
