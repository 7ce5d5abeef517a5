"""Typing into a running agent: an answer to its question, or its next piece of work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from orchestra import files, lifecycle, worktrees
from orchestra.context import Context
from orchestra.errors import OrchestraError
from orchestra.models import Agent, Status
from orchestra.reconcile import find, owned_pane

ADVICE = {
    Status.QUEUED: "it has not started yet; `orchestra ls` shows its place in the queue and what it waits for",
    Status.LOST: "run `orchestra resume {name}` to bring it back first",
    Status.EXITED: "its process has ended; start a new agent with `orchestra spawn`",
    Status.FAILED: "its process has ended; see `orchestra logs {name}`, or start a new agent with `orchestra spawn`",
    Status.MERGED: "its work is merged and its process has ended",
}


def send(ctx: Context, name: str, text: str) -> Agent:
    """Type `text` literally into the agent's pane, then Enter; the status follows at once.

    Works for an agent that is running, waiting for a person, done with its turn, or failed
    but still at its prompt (Claude Code stays open after an API error).
    """
    with _typing_into(ctx, name):
        agent = find(ctx, name)
        pane = owned_pane(ctx, agent)
        if agent.status == Status.STARTING and pane is None:
            raise OrchestraError(f"agent '{name}' is still starting: try again in a moment.")
        if pane is None or pane.dead or agent.status.value not in lifecycle.SENDABLE:
            advice = ADVICE.get(agent.status, "nothing is running in its window").format(name=name)
            raise OrchestraError(f"agent '{name}' is {agent.status.value}, so there is nothing to type into: {advice}.")
        ctx.tmux.send_text(pane.id, text)
    _follow(ctx, agent)
    return agent


@contextlib.contextmanager
def _typing_into(ctx: Context, name: str) -> Iterator[None]:
    """One `send` at a time per agent, across processes (the dashboard and the command line): a
    paste and its Enter are two tmux commands, and another paste between them would join the
    two texts into one line."""
    if not worktrees.NAME_PATTERN.match(name):  # no agent has such a name: `find` says so
        yield
        return
    folder = ctx.state.dir / "send"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with files.locked(folder / f"{name}.lock"):
        yield


def _follow(ctx: Context, agent: Agent) -> None:
    """An answered question means work goes on; so does a new prompt to an agent without hooks
    (one with hooks says itself whether a turn really started). Where anything moved the agent
    while the text was typed (its hooks, or its screen read by the board), the record already
    says more than `send` can, and the lifecycle leaves it as it is."""
    changed = lifecycle.change(ctx.state, agent.name, "sent", {"seen": agent.updated_at}, by="send")
    record = ctx.state.read().get(agent.name)
    if record is not None:
        agent.status = record.status
    elif changed is not None:
        agent.status = Status(changed["status"])
