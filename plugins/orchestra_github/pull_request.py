"""What a pull request for an agent says: its title from the task, its body from the agent's report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TITLE_LENGTH = 70
MAX_COMMITS = 50  # a longer list is cut; the pull request itself shows them all
MAX_FILES = 10  # files named per agent this one meets
MAX_MESSAGE = 60_000  # GitHub refuses a body longer than 65,536 characters


@dataclass
class PullRequest:
    number: int
    url: str
    existed: bool = False  # it was already open for this branch; nothing new was opened


def title(task: str, fallback: str) -> str:
    """The task's first non-empty line on one line, cut to about 70 characters."""
    first = next((line for line in task.splitlines() if line.strip()), "")
    text = " ".join(first.split()) or fallback
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1].rstrip() + "…"


def body(report: dict[str, Any]) -> str:
    """Markdown: the agent's final message, the task when the title does not hold all of it,
    its commits, the size of its change, and who opened the pull request."""
    name, branch, task = report.get("name", ""), report.get("branch", ""), report.get("task") or ""
    message = (report.get("last_message") or "").strip()
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE].rstrip() + "\n\n(cut; the full message is in `orchestra report`)"
    parts = [message or "_The agent left no final message._"]
    if title(task, name) != task.strip():
        parts.append("### Task\n\n" + "\n".join(f"> {line}".rstrip() for line in task.strip().splitlines()))
    commits = report.get("commits") or []
    if commits:
        lines = [f"- {c.get('id', '')[:10]} {_one_line(c.get('subject', ''))}" for c in commits[:MAX_COMMITS]]
        if len(commits) > MAX_COMMITS:
            lines.append(f"- … and {len(commits) - MAX_COMMITS} more")
        parts.append("### Commits\n\n" + "\n".join(lines))
    meets = _meets(report)
    if meets:
        parts.append("### Other agents' work\n\n" + "\n".join(meets))
    parts.append(
        f"**Changes:** {_count(report.get('files_changed', 0), 'file')} changed, "
        f"+{report.get('lines_added', 0)} −{report.get('lines_removed', 0)} lines."
    )
    parts.append(f"---\nOpened by orchestra for agent `{name}` (branch `{branch}`).")
    return "\n\n".join(parts) + "\n"


def _meets(report: dict[str, Any]) -> list[str]:
    """One line per other agent of the train whose work conflicts or overlaps with this one's
    (`merge --all` hands them over as `conflicts_with` and `overlaps_with`)."""
    lines = []
    for key, how in (("conflicts_with", "conflicts with"), ("overlaps_with", "overlaps with")):
        for other in report.get(key) or []:
            files = other.get("files") or []
            shown = ", ".join(f"`{_one_line(f)}`" for f in files[:MAX_FILES])
            more = f" and {len(files) - MAX_FILES} more" if len(files) > MAX_FILES else ""
            lines.append(f"- {how} agent `{_one_line(str(other.get('agent', '')))}` in {shown}{more}")
    return lines


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
