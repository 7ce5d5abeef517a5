"""Claude Code's hook payloads, as orchestra's hook events.

orchestra's hook handler loads this module from its file for every hook event of a claude agent
(`hook_translator`), so it imports only the standard library.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
from typing import Any

# Notification types that mean a person is asked something.
ASKING = {"permission_prompt", "elicitation_dialog"}


def translate(payload: dict[str, Any]) -> dict[str, Any] | None:
    """orchestra's hook event for one Claude Code hook payload (`event` None: only logged)."""
    hook = payload.get("hook_event_name")
    found: dict[str, Any] = {"hook": hook, "event": None}
    if hook == "SessionStart":
        found.update(
            event="session-started",
            session_id=payload.get("session_id"),
            transcript=payload.get("transcript_path"),
            resumed=payload.get("source") == "resume",
        )
    elif hook == "UserPromptSubmit":
        found["event"] = "prompt-submitted"
    elif hook == "PermissionRequest":
        found.update(event="asked", question=_permission_text(payload))
    elif hook == "Notification":
        kind = payload.get("notification_type")
        if kind in ASKING:
            found.update(event="asked", question=_short(payload.get("message")) or "a question")
        elif kind == "idle_prompt":
            found["event"] = "idle"  # a turn ended without a Stop (interrupted)
    elif hook in ("PostToolUse", "PostToolUseFailure"):
        found["event"] = "answered"  # while waiting: the person answered and the tool ran
    elif hook == "Stop":
        found.update(
            event="turn-ended",
            message=payload.get("last_assistant_message") or None,
            session_id=payload.get("session_id"),
        )
    elif hook == "StopFailure":
        # `error` is a category ("rate_limit", often just "unknown"); the message says what happened.
        shown, kind = _short(payload.get("last_assistant_message")), _short(payload.get("error"))
        error = f"{shown} ({kind})" if shown and kind else shown or kind or None
        found.update(event="turn-failed", error=error, message=payload.get("last_assistant_message") or None)
        if payload.get("error") == "rate_limit":  # an API rate limit (429) or the plan's usage limit
            found.update(event="limited", until=reset_time(str(payload.get("last_assistant_message") or "")))
    elif hook == "SessionEnd":
        found["event"] = "session-ended"
    return found


_CLOCK = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
_RESETS = re.compile(
    r"resets\s+(?:(?:at|on)\s+)?(?:([A-Z][a-z]{2})[a-z]*\.?\s+(\d{1,2}),?\s+(?:at\s+)?)?"
    + _CLOCK
    + r"(?:\s*\(([A-Za-z_]+(?:/[A-Za-z_+-]+)*)\))?",
    re.IGNORECASE,
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def reset_time(message: str, now: datetime.datetime | None = None) -> str | None:
    """When a usage limit resets, as Claude Code words it, in ISO 8601; None when it does not
    say. "usage limit reached|1733421600" (a Unix time), "resets 3pm", "resets 3:30pm
    (Europe/Paris)", "resets Dec 4, 3pm": a clock time is the next one to come, in the zone
    named or else this machine's."""
    epoch = re.search(r"\|(\d{10})\b", message)
    if epoch:
        return datetime.datetime.fromtimestamp(int(epoch.group(1)), datetime.timezone.utc).isoformat()
    found = _RESETS.search(message)
    if found is None:
        return None
    month, day, hour_text, minute_text, half, zone_name = found.groups()
    hour, minute = int(hour_text), int(minute_text or 0)
    if half:
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    if hour > 23 or minute > 59 or (not half and not minute_text and not month):
        return None  # "resets 3" says no time
    zone: datetime.tzinfo | None = None
    if zone_name:
        with contextlib.suppress(Exception):
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(zone_name)
    now = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(zone)
    try:
        if month:
            if month.lower() not in _MONTHS:
                return None
            at = now.replace(month=_MONTHS.index(month.lower()) + 1, day=int(day), hour=hour, minute=minute)
            at = at.replace(second=0, microsecond=0)
            if at < now - datetime.timedelta(days=1):
                at = at.replace(year=at.year + 1)
        else:
            at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if at <= now:
                at += datetime.timedelta(days=1)
    except ValueError:
        return None
    return at.astimezone(datetime.timezone.utc).isoformat()


def _permission_text(payload: dict[str, Any]) -> str:
    tool = payload.get("tool_name") or "a tool"
    details = payload.get("tool_input") or {}
    detail = (
        details.get("command") or details.get("file_path") or details.get("url") if isinstance(details, dict) else ""
    )
    return f"permission to use {tool}" + (f": {_short(detail, 120)}" if detail else "")


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, dict):
        value = value.get("message") or value.get("type") or json.dumps(value)
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
