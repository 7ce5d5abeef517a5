"""Gemini CLI's hook command: `python -m orchestra_gemini.hook HOOK_COMMAND...`.

Gemini passes each hook event as JSON on stdin. This turns it into the event orchestra's hook
handler reads (Claude Code's names) and runs the handler with it on stdin. Standard library
only; it prints nothing (Gemini parses a hook's stdout) and never fails the agent: any problem
is swallowed and it exits 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Optional

TIMEOUT = 8  # seconds, within the 10 s Gemini gives the hook
TRANSCRIPT_TAIL = 1 << 20  # bytes read from the end of the transcript for the last reply

RENAMED = {"BeforeAgent": "UserPromptSubmit", "AfterTool": "PostToolUse", "SessionStart": "SessionStart",
           "SessionEnd": "SessionEnd"}  # fmt: skip


def translate(event: dict[str, Any]) -> Optional[dict[str, Any]]:
    """orchestra's hook event for one Gemini CLI hook event; None for those it does not need."""
    name = event.get("hook_event_name")
    common = {k: event[k] for k in ("session_id", "transcript_path", "cwd") if event.get(k)}
    if name == "AfterAgent":
        said = last_reply(event.get("transcript_path")) or event.get("prompt_response") or ""
        return {**common, "hook_event_name": "Stop", "last_assistant_message": said}
    if name == "Notification":
        if event.get("notification_type") != "ToolPermission":
            return None
        message = event.get("message") or "Gemini CLI asks for a permission"
        detail = _detail(event.get("details"))
        return {**common, "hook_event_name": "Notification", "notification_type": "permission_prompt",
                "message": f"{message}: {detail}" if detail else message}  # fmt: skip
    if name in RENAMED:
        extra = {"source": event["source"]} if event.get("source") else {}
        return {**common, **extra, "hook_event_name": RENAMED[name]}
    return None


def _detail(details: Any) -> str:
    """What the tool would do: the command, the file, the MCP tool or the URLs ("Tool ... requires execution" says none)."""
    if not isinstance(details, dict):
        return ""
    urls = details.get("urls") if isinstance(details.get("urls"), list) else []
    found = details.get("command") or details.get("filePath") or details.get("toolDisplayName") or " ".join(map(str, urls))
    return str(found or "")


def last_reply(transcript: Optional[str]) -> Optional[str]:
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
            record = json.loads(line)
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


def main(argv: list[str]) -> int:
    try:
        event = translate(json.loads(sys.stdin.buffer.read() or b"{}"))
        if argv and event is not None:
            subprocess.run(argv, input=json.dumps(event).encode(), timeout=TIMEOUT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    except Exception:  # noqa: BLE001 - a hook must never fail the agent
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
