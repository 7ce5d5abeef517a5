"""The project's tmux session as a whole: bringing it up, and which agents it has lost."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestra.context import Context
from orchestra.models import Agent, Status
from orchestra.reconcile import observe
from orchestra.tmux import Tmux


@dataclass
class UpResult:
    session: str
    created: bool = False
    board_recreated: bool = False
    lost: list[Agent] = field(default_factory=list)


def bring_up(ctx: Context) -> UpResult:
    """Make sure the session and its board exist; report agents whose panes are gone."""
    Tmux.require()
    created = ctx.tmux.ensure_session(ctx.session, ctx.project.root, ctx.board_argv(), ctx.board_env())
    recreated = False if created else ctx.tmux.ensure_board(ctx.session, ctx.project.root, ctx.board_argv(), ctx.board_env())
    lost = [a for a in observe(ctx) if a.status == Status.LOST and a.error != "its worktree folder is gone"]
    return UpResult(session=ctx.session, created=created, board_recreated=recreated, lost=lost)
