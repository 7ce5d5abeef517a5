"""Codex's notifications, as orchestra's hook events.

Codex appends one JSON argument (`{"type": "agent-turn-complete", "thread-id": ...,
"last-assistant-message": ...}`) to its `notify` program, which is orchestra's hook handler
itself; the handler loads this module from its file (`hook_translator`) to read it, so it
imports only the standard library. A completed turn is `turn-ended`, whose `session_id` is
Codex's thread id.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for mypy alone: the hook handler imports this for every event

if TYPE_CHECKING:
    from typing import Any

    from orchestra.models import HookEvent

# Codex (0.169) names each new conversation by asking the model in a thread of its own, whose
# turn reaches notify too, with a JSON answer ({"title": ...}), often before the agent's turn
# ends: it is not the agent's turn, nor its conversation.
TITLE_PROMPT = "Generate a concise, single-line task title"


def is_title_turn(event: dict[str, Any]) -> bool:
    messages = event.get("input-messages") or []
    return len(messages) == 1 and str(messages[0]).startswith(TITLE_PROMPT)


def translate(payload: dict[str, Any]) -> HookEvent | None:
    """orchestra's hook event for one Codex notification (`event` None: only logged)."""
    found: HookEvent = {"hook": payload.get("type") or "unknown", "event": None}
    if payload.get("type") != "agent-turn-complete" or is_title_turn(payload):
        return found
    return {
        **found,
        "event": "turn-ended",
        "message": payload.get("last-assistant-message") or None,
        "session_id": payload.get("thread-id") or None,
    }
