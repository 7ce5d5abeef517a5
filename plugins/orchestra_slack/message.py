"""The Slack message for one status change, or one conflict forecast between two agents: a line
to notify with, and blocks to read.

Everything that came from a person or an agent (the task, its messages) is escaped, so that a
task containing `<!channel>` cannot ping a whole channel.
"""

from __future__ import annotations

from typing import Any

from orchestra.models import STATUS_PHRASES, Agent, Event, Status, until_phrase

TASK_LIMIT = 300  # characters of the task shown
SUMMARY_LIMIT = 500  # characters of what the agent asks, said or reported

FILES_LIMIT = 20  # files of a conflict named

PHRASES = {**STATUS_PHRASES, Status.LOST: "is lost: its pane or tmux server is gone"}


def build(event: Event, agent: Agent | None) -> dict[str, Any]:
    """Slack's `{"text": ..., "blocks": [...]}` for `event`; `agent` is None when it is gone."""
    if event.type == "conflict":
        return build_conflict(event, agent)
    name = agent.name if agent is not None else event.agent or "an agent"
    status = event.status or ""
    headline = f"{name} {PHRASES.get(status, status)}"
    if status in (Status.EXITED, Status.FAILED) and agent is not None and agent.exit_code is not None:
        headline += f" (exit code {agent.exit_code})"
    summary = summary_of(status, agent)
    before = event.data.get("from")
    lines = [f"*{escape(headline)}*" + (f" (was {escape(str(before))})" if before else "")]
    if summary:
        lines.append(escape(cut(summary, SUMMARY_LIMIT)))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]
    if agent is not None:
        details = [f"*Task:* {escape(cut(one_line(agent.task), TASK_LIMIT))}", f"*Branch:* `{escape(agent.branch)}`"]
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": d} for d in details]})
    text = headline + (f": {cut(one_line(summary), 150)}" if summary else "")
    return {"text": escape(text), "blocks": blocks}


def build_conflict(event: Event, agent: Agent | None) -> dict[str, Any]:
    """Two agents whose work is forecast to conflict, first seen: who, in which files, and
    where their work is to land (the event's data: `with`, `files`, `target`)."""
    first = agent.name if agent is not None else event.agent or "an agent"
    second = str(event.data.get("with") or "another agent")
    paths = [str(p) for p in event.data.get("files") or []]
    target = event.data.get("target")
    headline = f"{first} and {second} are heading for a conflict"
    shown = ", ".join(f"`{escape(p)}`" for p in paths[:FILES_LIMIT])
    if len(paths) > FILES_LIMIT:
        shown += f" and {len(paths) - FILES_LIMIT} more"
    lines = [f"*{escape(headline)}*"]
    if shown:
        lines.append(
            f"Their work would conflict in {shown}" + (f" when merged into `{escape(str(target))}`" if target else "")
        )
    lines.append(escape(f"See the files with: orchestra conflicts {first} {second}"))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]
    if agent is not None:
        details = [f"*Task of {escape(first)}:* {escape(cut(one_line(agent.task), TASK_LIMIT))}"]
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": d} for d in details]})
    text = headline + (f": {cut(', '.join(paths), 150)}" if paths else "")
    return {"text": escape(text), "blocks": blocks}


def summary_of(status: str, agent: Agent | None) -> str:
    """What a person wants to read first: the question, the final message, or the error."""
    if agent is None:
        return ""
    if status == Status.WAITING:
        return agent.waiting_for or ""
    if status == Status.FAILED:
        return agent.error or agent.last_message or ""
    if status == Status.LIMITED:
        return (
            f"{until_phrase(agent.limited_until)}, then orchestra tells it to go on: {agent.error or 'a usage limit'}"
        )
    if status in (Status.DONE, Status.EXITED):
        return agent.last_message or ""
    return ""


def escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as it is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str) -> str:
    return " ".join(text.split())


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
