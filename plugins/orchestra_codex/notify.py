"""Codex's `notify` program: `python -m orchestra_codex.notify HOOK_COMMAND... EVENT_JSON`.

Codex appends one JSON argument (`{"type": "agent-turn-complete", "thread-id": ...,
"last-assistant-message": ...}`) to the configured program. This turns it into the event
orchestra's hook handler reads on stdin (a `Stop` whose `session_id` is Codex's thread id) and
runs the handler. Standard library only, and it never fails the agent: any problem is
swallowed and it exits 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Optional

TIMEOUT = 10  # seconds; the handler takes milliseconds
# Codex (0.169) names each new conversation by asking the model in a thread of its own, whose
# turn reaches notify too, with a JSON answer ({"title": ...}), often before the agent's turn
# ends: it is not the agent's turn, nor its conversation.
TITLE_PROMPT = "Generate a concise, single-line task title"


def is_title_turn(event: dict[str, Any]) -> bool:
    messages = event.get("input-messages") or []
    return len(messages) == 1 and str(messages[0]).startswith(TITLE_PROMPT)


def translate(event: dict[str, Any]) -> Optional[dict[str, Any]]:
    """orchestra's hook event for one Codex notification; None for types it does not know."""
    if event.get("type") != "agent-turn-complete" or is_title_turn(event):
        return None
    translated = {"hook_event_name": "Stop", "last_assistant_message": event.get("last-assistant-message") or ""}
    if event.get("thread-id"):
        translated["session_id"] = event["thread-id"]
    if event.get("cwd"):
        translated["cwd"] = event["cwd"]
    return translated


def main(argv: list[str]) -> int:
    try:
        *hook_command, raw = argv
        event = translate(json.loads(raw))
        if hook_command and event is not None:
            subprocess.run(hook_command, input=json.dumps(event).encode(), timeout=TIMEOUT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    except Exception:  # noqa: BLE001 - a notify program must never fail the agent
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
