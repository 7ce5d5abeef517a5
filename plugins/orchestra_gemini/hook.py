"""Gemini CLI's hook events, as orchestra's hook events.

Gemini runs orchestra's hook handler for each hook event with the event as JSON on stdin; the
handler loads this module from its file (`hook_translator`) to read it, so it imports only the
standard library. The handler prints nothing (Gemini parses a hook's stdout).
"""

from __future__ import annotations

from orchestra import cjson  # json's own C half: `import json` is a third of the handler's start

TYPE_CHECKING = False  # typing is for mypy alone: the hook handler imports this for every event

if TYPE_CHECKING:
    from typing import Any

    from orchestra.models import HookEvent

TRANSCRIPT_TAIL = 1 << 20  # bytes read from the end of the transcript for the last reply

RENAMED = {
    "SessionStart": "session-started",
    "BeforeAgent": "prompt-submitted",
    "AfterTool": "answered",
    "SessionEnd": "session-ended",
}


def translate(payload: dict[str, Any]) -> HookEvent | None:
    """orchestra's hook event for one Gemini CLI hook payload (`event` None: only logged)."""
    hook = payload.get("hook_event_name")
    found: HookEvent = {"hook": hook, "event": None}
    if hook == "AfterAgent":
        said = last_reply(payload.get("transcript_path")) or payload.get("prompt_response") or ""
        return {**found, "event": "turn-ended", "message": said or None, "session_id": payload.get("session_id")}
    if hook == "Notification":
        if payload.get("notification_type") != "ToolPermission":
            return found
        message = payload.get("message") or "Gemini CLI asks for a permission"
        detail = _detail(payload.get("details"))
        return {**found, "event": "asked", "question": f"{message}: {detail}" if detail else message}
    if hook == "SessionStart":
        return {
            **found,
            "event": "session-started",
            "session_id": payload.get("session_id"),
            "transcript": payload.get("transcript_path"),
            "resumed": payload.get("source") == "resume",
        }
    if hook in RENAMED:
        return {**found, "event": RENAMED[hook]}
    return found


def _detail(details: Any) -> str:
    """What the tool would do: the command, the file, the MCP tool or the URLs ("Tool ... requires execution" says none)."""
    if not isinstance(details, dict):
        return ""
    urls = details["urls"] if isinstance(details.get("urls"), list) else []
    found = (
        details.get("command") or details.get("filePath") or details.get("toolDisplayName") or " ".join(map(str, urls))
    )
    return str(found or "")


def last_reply(transcript: str | None) -> str | None:
    """The model's last text since the last prompt, from the session's JSONL transcript.

    AfterAgent's own `prompt_response` joins the streamed chunks of the reply with spaces, and
    0.61 puts the whole text in the first of them ("Done. ne."), so the transcript says it better.
    """
    if not transcript:
        return None
    try:
        with open(transcript, "rb") as file:
            file.seek(0, 2)
            file.seek(max(0, file.tell() - TRANSCRIPT_TAIL))
            lines = file.read().splitlines()
    except OSError:
        return None
    reply = None
    for line in lines:
        try:
            record = cjson.loads(line)
        except ValueError:
            continue  # the first line of a cut-off tail
        if not isinstance(record, dict):
            continue
        text = _text(record.get("content"))
        if record.get("type") == "user" and text:
            reply = None  # a new prompt: what came before is an earlier turn's
        elif record.get("type") == "gemini" and text:
            reply = text
    return reply


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""
