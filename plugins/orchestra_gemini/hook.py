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

RENAMED = {"BeforeAgent": "UserPromptSubmit", "AfterTool": "PostToolUse", "SessionStart": "SessionStart",
           "SessionEnd": "SessionEnd"}  # fmt: skip


def translate(event: dict[str, Any]) -> Optional[dict[str, Any]]:
    """orchestra's hook event for one Gemini CLI hook event; None for those it does not need."""
    name = event.get("hook_event_name")
    common = {k: event[k] for k in ("session_id", "transcript_path", "cwd") if event.get(k)}
    if name == "AfterAgent":
        return {**common, "hook_event_name": "Stop", "last_assistant_message": event.get("prompt_response") or ""}
    if name == "Notification":
        if event.get("notification_type") != "ToolPermission":
            return None
        return {**common, "hook_event_name": "Notification", "notification_type": "permission_prompt",
                "message": event.get("message") or "Gemini CLI asks for a permission"}  # fmt: skip
    if name in RENAMED:
        extra = {"source": event["source"]} if event.get("source") else {}
        return {**common, **extra, "hook_event_name": RENAMED[name]}
    return None


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
