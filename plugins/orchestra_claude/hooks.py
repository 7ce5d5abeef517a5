"""Claude Code's hook payloads, as orchestra's hook events.

orchestra's hook handler loads this module from its file for every hook event of a claude agent
(`hook_translator`), so it imports only the standard library, and no more of it than the event
needs (`orchestra.clock`, with `re` and `datetime`, for a usage limit alone).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for mypy alone: the hook handler imports this for every event

if TYPE_CHECKING:
    from typing import Any

    from orchestra.models import HookEvent

# Notification types that mean a person is asked something.
ASKING = {"permission_prompt", "elicitation_dialog"}


def translate(payload: dict[str, Any]) -> HookEvent | None:
    """orchestra's hook event for one Claude Code hook payload (`event` None: only logged)."""
    hook = payload.get("hook_event_name")
    found: HookEvent = {"hook": hook, "event": None}
    if hook == "SessionStart":
        found.update(
            {
                "event": "session-started",
                "session_id": payload.get("session_id"),
                "transcript": payload.get("transcript_path"),
                "resumed": payload.get("source") == "resume",
            }
        )
    elif hook == "UserPromptSubmit":
        found["event"] = "prompt-submitted"
    elif hook == "PermissionRequest":
        found.update({"event": "asked", "question": _permission_text(payload)})
    elif hook == "Notification":
        kind = payload.get("notification_type")
        if kind in ASKING:
            found.update({"event": "asked", "question": _short(payload.get("message")) or "a question"})
        elif kind == "idle_prompt":
            found["event"] = "idle"  # a turn ended without a Stop (interrupted)
    elif hook in ("PostToolUse", "PostToolUseFailure"):
        found["event"] = "answered"  # while waiting: the person answered and the tool ran
    elif hook == "Stop":
        found.update(
            {
                "event": "turn-ended",
                "message": payload.get("last_assistant_message") or None,
                "session_id": payload.get("session_id"),
            }
        )
    elif hook == "StopFailure":
        # `error` is a category ("rate_limit", often just "unknown"); the message says what happened.
        shown, kind = _short(payload.get("last_assistant_message")), _short(payload.get("error"))
        error = f"{shown} ({kind})" if shown and kind else shown or kind or None
        found.update({"event": "turn-failed", "error": error, "message": payload.get("last_assistant_message") or None})
        if payload.get("error") == "rate_limit":  # an API rate limit (429) or the plan's usage limit
            from orchestra.clock import reset_time  # re and datetime: only for the rare limit

            found.update({"event": "limited", "until": reset_time(str(payload.get("last_assistant_message") or ""))})
    elif hook == "SessionEnd":
        found["event"] = "session-ended"
    return found


def _permission_text(payload: dict[str, Any]) -> str:
    tool = payload.get("tool_name") or "a tool"
    details = payload.get("tool_input") or {}
    detail = (
        details.get("command") or details.get("file_path") or details.get("url") if isinstance(details, dict) else ""
    )
    return f"permission to use {tool}" + (f": {_short(detail, 120)}" if detail else "")


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, dict):
        from orchestra import cjson

        value = value.get("message") or value.get("type") or cjson.dumps(value)
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
