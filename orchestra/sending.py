"""Typing into a running agent: an answer to its question, or its next piece of work."""

from __future__ import annotations

from orchestra.context import Context
from orchestra.errors import OrchestraError
from orchestra.models import Agent, Event, Status
from orchestra.reconcile import find

ADVICE = {
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
    agent = find(ctx, name)
    pane = (ctx.tmux.panes() or {}).get(agent.pane or "")
    if agent.status == Status.STARTING and pane is None:
        raise OrchestraError(f"agent '{name}' is still starting: try again in a moment.")
    if pane is None or pane.dead or not (agent.status.live or agent.status == Status.FAILED):
        advice = ADVICE.get(agent.status, "nothing is running in its window").format(name=name)
        raise OrchestraError(f"agent '{name}' is {agent.status.value}, so there is nothing to type into: {advice}.")
    ctx.tmux.send_text(agent.pane, text)
    _follow(ctx, agent)
    return agent


def _follow(ctx: Context, agent: Agent) -> None:
    """An answered question means work goes on. A new prompt to an agent with hooks is left to
    its UserPromptSubmit hook, which says whether a turn really started. Where anything moved the
    agent while the text was typed (its hooks, or its screen read by the board), the record
    already says more than `send` can, and is left as it is."""
    with ctx.state.update() as agents:
        record = agents.get(agent.name)
        if record is None:
            return
        before = record.status
        untouched = record.updated_at == agent.updated_at
        answered = untouched and before == Status.WAITING
        prompted = (
            untouched
            and before in (Status.DONE, Status.FAILED)
            and (record.last_hook is None or record.screen_after_hooks)
        )
        if answered or prompted:
            record.set_status(Status.RUNNING, waiting_for=None, error=None if prompted else record.error)
        agent.status = record.status
        if not (answered or prompted):
            return
    event = Event("status", agent=agent.name, status=Status.RUNNING.value, data={"from": before.value, "by": "send"})
    ctx.state.append_events([event])
