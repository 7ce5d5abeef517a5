"""The agent hook handler: what an agent CLI runs on each of its hook events.

`python -m orchestra _hook --state-dir DIR NAME` reads the event JSON on stdin (Claude Code's
hook payload: `hook_event_name`, `session_id`, `transcript_path`, ...), appends it to the event
log and moves the agent's status. It runs on every event, so it starts with as little as it
can: a few standard modules and `orchestra.state`, working on the records as plain JSON
objects (no `orchestra.models`, whose dataclasses cost more to import than the rest of the
handler's work). It never blocks or fails the agent: any
problem is written to the event log and it exits 0. Notifier plugins, which take longer to
load, run in a detached `_notify` process when a status changed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from orchestra.state import State

if TYPE_CHECKING:
    from typing import Any, Optional

# Statuses, as stored (orchestra.models.Status values: not imported, to start fast).
STARTING, RUNNING, WAITING, DONE, FAILED, LOST = "starting", "running", "waiting", "done", "failed", "lost"
# Notification types that mean a person is asked something.
ASKING = {"permission_prompt", "elicitation_dialog"}
# Statuses a hook may move an agent out of: the agent's process is alive to send the event.
# `failed` is there because StopFailure leaves the agent at its prompt, where it can go on.
MOVABLE = {STARTING, RUNNING, WAITING, DONE, FAILED, LOST}
TEXT_LIMIT = 2000  # characters kept of each string in a logged payload


def now() -> str:
    """ISO 8601 in UTC with milliseconds, as `orchestra.models.now()` writes it."""
    stamp = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1000):03d}+00:00"


def transition(agent: dict[str, Any], event: dict[str, Any]) -> Optional[tuple[str, dict[str, Any]]]:
    """The status an event moves the agent to, and the record fields it sets; None: no change."""
    name = event.get("hook_event_name")
    status = agent.get("status")
    if name == "SessionStart":
        changes = {"session_id": event.get("session_id") or agent.get("session_id")}
        if event.get("transcript_path"):
            changes["transcript"] = event["transcript_path"]
        # A resumed conversation opens idle at its prompt; a new one gets its prompt next.
        if event.get("source") == "resume" and status in (STARTING, RUNNING, LOST):
            return DONE, changes
        return (RUNNING if status in (STARTING, LOST) else status), changes
    if name == "UserPromptSubmit":
        return RUNNING, {"waiting_for": None, "error": None}
    if name == "PermissionRequest":
        return WAITING, {"waiting_for": _permission_text(event)}
    if name == "Notification":
        kind = event.get("notification_type")
        if kind in ASKING:
            return WAITING, {"waiting_for": _short(event.get("message")) or "a question"}
        if kind == "idle_prompt" and status in (RUNNING, WAITING):
            return DONE, {"waiting_for": None}  # a turn ended without a Stop (interrupted)
        return None
    if name in ("PostToolUse", "PostToolUseFailure") and status == WAITING:
        return RUNNING, {"waiting_for": None}  # the person answered and the tool ran
    if name == "Stop":
        changes = {"waiting_for": None, "last_message": event.get("last_assistant_message") or None}
        if event.get("session_id"):
            # An agent CLI without a SessionStart (Codex) names its conversation only here.
            changes["session_id"] = event["session_id"]
        return DONE, changes
    if name == "StopFailure":
        # `error` is a category ("rate_limit", often just "unknown"); the message says what happened.
        shown = _short(event.get("last_assistant_message"))
        kind = _short(event.get("error"))
        error = f"{shown} ({kind})" if shown and kind else shown or kind or "the agent reported an error"
        return FAILED, {"waiting_for": None, "error": error,
                        "last_message": event.get("last_assistant_message") or None}  # fmt: skip
    return None  # SessionEnd and others: logged; the pane's death gives the exit code


def _permission_text(event: dict[str, Any]) -> str:
    tool = event.get("tool_name") or "a tool"
    details = event.get("tool_input") or {}
    detail = details.get("command") or details.get("file_path") or details.get("url") if isinstance(details, dict) else ""
    return f"permission to use {tool}" + (f": {_short(detail, 120)}" if detail else "")


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, dict):
        value = value.get("message") or value.get("type") or json.dumps(value)
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _trimmed(value: Any) -> Any:
    """The payload as logged: long strings cut (a Write's whole file content is not news)."""
    if isinstance(value, str):
        return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT] + "…"
    if isinstance(value, dict):
        return {k: _trimmed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trimmed(v) for v in value[:50]]
    return value


def _event(kind: str, agent: str, data: dict[str, Any], status: Optional[str] = None) -> dict[str, Any]:
    """An event-log line, as `orchestra.models.Event.to_dict()` writes it."""
    return {"type": kind, "agent": agent, "status": status, "data": data, "time": now()}


def handle(state: State, name: str, raw: bytes) -> Optional[dict[str, Any]]:
    """Log one hook event and apply it; returns the status event if the status changed."""
    try:
        event = json.loads(raw)
        if not isinstance(event, dict):
            raise ValueError("not a JSON object")
    except ValueError as error:
        state.append_events([_event("hook-error", name, {"message": f"unreadable hook event: {error}"})])
        return None
    hook = str(event.get("hook_event_name") or "unknown")
    logged = _event("hook", name, {"hook": hook, **_trimmed(event)})
    changed = None
    with state.update_raw() as agents:
        agent = agents.get(name)
        if agent is None:
            logged["data"]["problem"] = "no agent of this name is recorded"
        elif agent.get("status") in MOVABLE:
            agent["last_hook"] = hook
            agent["updated_at"] = logged["time"]
            move = transition(agent, event)
            if move is not None:
                status, changes = move
                before = agent.get("status")
                agent.update(changes)
                if status != before:
                    agent["status"] = status
                    changed = _event("status", name, {"from": before, "hook": hook}, status=status)
    state.append_events([logged] + ([changed] if changed else []))
    return changed


def main(argv: list[str]) -> int:
    """Entry point for `_hook`: always exits 0, so the agent is never held up or failed."""
    if len(argv) != 3 or argv[0] != "--state-dir":
        print("usage: python -m orchestra _hook --state-dir DIR NAME", file=sys.stderr)
        return 0
    state, name = State(Path(argv[1])), argv[2]
    try:
        changed = handle(state, name, sys.stdin.buffer.read())
        if changed is not None:
            notify_in_background(state, changed)
    except Exception as error:  # noqa: BLE001 - a hook handler must never fail the agent
        try:
            state.append_events([_event("hook-error", name, {"message": f"{type(error).__name__}: {error}"})])
        except Exception:  # noqa: BLE001
            pass
    return 0


def notify_in_background(state: State, event: dict[str, Any]) -> None:
    """Run the notifier plugins in a process of their own, so the agent does not wait for them.

    posix_spawn rather than subprocess, whose import alone costs this handler a few milliseconds.
    """
    argv = [sys.executable, "-m", "orchestra", "_notify", "--state-dir", str(state.dir), json.dumps(event)]
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRA_DEBUG"}
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)
    finally:
        os.close(devnull)


def notify(argv: list[str]) -> int:
    """Entry point for `_notify`: call the notifier plugins with one status event."""
    if len(argv) != 3 or argv[0] != "--state-dir":
        return 2
    state = State(Path(argv[1]))
    try:
        from orchestra.context import Context
        from orchestra.models import Event

        data = json.loads(argv[2])
        event = Event(**{k: data[k] for k in ("type", "agent", "status", "data", "time") if k in data})
        agent = state.read().get(event.agent or "")
        where = Path(agent.worktree) if agent is not None and Path(agent.worktree).is_dir() else state.dir.parent.parent
        ctx = Context.open(where)
        ctx.plugins.call("notifier", event=event, agent=agent, config=ctx.config)
        problems = ctx.plugins.problems
    except Exception as error:  # noqa: BLE001 - nobody watches this process
        problems = [f"notifiers could not run: {error}"]
    if problems:
        state.append_events([_event("plugin-error", None, {"message": p}) for p in problems])
    return 0
