"""Figures for `orchestra sessions stats`: sessions, turns and tokens per day (UTC) and per agent.

A turn is a prompt a person typed; tokens are each API message's usage counted once (see
`conversation`). A session counts on each day it was active, and for its agent once.
"""

from __future__ import annotations

from typing import Any

from orchestra_claude.conversation import Usage, read_conversation
from orchestra_claude.sessions import Session


class _Row:
    def __init__(self) -> None:
        self.sessions: set[str] = set()
        self.turns = 0
        self.usage = Usage()

    def to_dict(self) -> dict[str, Any]:
        return {"sessions": len(self.sessions), "turns": self.turns, **self.usage.to_dict()}


def count(found: list[Session], since: str | None = None) -> dict[str, Any]:
    """`{"days": [...], "agents": [...], "total": {...}}`, counting only what happened at or
    after `since` (an ISO 8601 time in orchestra's format) when given. Days oldest first;
    agents by name, sessions that no agent owns last (`agent` null)."""
    days: dict[str, _Row] = {}
    agents: dict[str | None, _Row] = {}
    total = _Row()
    for session in found:
        conversation = read_conversation(session.transcript)
        rows = [agents.setdefault(session.agent, _Row()), total]
        for entry in conversation.entries:
            if entry.role == "prompt" and _counts(entry.time, since):
                for row in [*rows, days.setdefault(_day(entry.time), _Row())]:
                    row.turns += 1
                    row.sessions.add(session.id)
        for message in conversation.messages:
            if _counts(message.time, since):
                for row in [*rows, days.setdefault(_day(message.time), _Row())]:
                    row.usage.add(message.usage)
                    row.sessions.add(session.id)
    return {
        "days": [{"day": day, **days[day].to_dict()} for day in sorted(days)],
        "agents": [
            {"agent": name, **agents[name].to_dict()}
            for name in sorted(agents, key=lambda n: (n is None, n or ""))
            if agents[name].sessions
        ],
        "total": total.to_dict(),
    }


def _counts(time: str | None, since: str | None) -> bool:
    return since is None or (time is not None and time >= since)


def _day(time: str | None) -> str:
    return time[:10] if time else "unknown"
