"""An agent's life: the status vocabulary, the transitions, and the one path that applies them.

Every status change in orchestra goes through here, whoever sees it first: the hook handler
(the agent CLI's own events, translated into orchestra's hook events), the launcher (the CLI
started, its pane died), reconcile (a pane or a tmux server gone, a screen that asks), `send`,
`merge`, `resume` and `spawn`. Each says what it saw as a *signal*; `transition` (pure, no I/O)
says what that signal does to the record; `apply_to` changes a record under the caller's lock
and makes the status event; `publish` appends events to the log and hands status changes to
the notifier plugins, once each, in a detached process so nobody waits for a webhook.

The hook handler imports this module for every hook event, so it works on records as plain
JSON objects and imports nothing but the standard library (no dataclasses, no enum).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from orchestra.state import State

# -- the vocabulary ---------------------------------------------------------------------------

STARTING = "starting"
RUNNING = "running"
WAITING = "waiting"  # needs a person: a permission prompt or a question
DONE = "done"  # finished its turn, idle at its prompt
EXITED = "exited"  # its process ended with code 0
FAILED = "failed"  # non-zero exit, or the agent reported an error
LOST = "lost"  # recorded as live, but its pane or tmux server is gone
MERGED = "merged"

STATUSES = (STARTING, RUNNING, WAITING, DONE, EXITED, FAILED, LOST, MERGED)  # in the order of a life
LIVE = frozenset({STARTING, RUNNING, WAITING, DONE})  # a process is expected in the agent's pane
MERGEABLE = frozenset({DONE, EXITED})  # finished: `merge` takes these
SENDABLE = LIVE | {FAILED}  # `send` types into these (Claude Code stays at its prompt after an API error)
ENDED = frozenset({EXITED, FAILED, MERGED})  # nothing more will happen without a person
URGENCY = (WAITING, FAILED, LOST, DONE, EXITED, RUNNING, STARTING, MERGED)  # most urgent first, for the board and the page

# How a notification says each status after the agent's name: "fix-login is waiting for you".
PHRASES = {
    STARTING: "is starting",
    RUNNING: "is working",
    WAITING: "is waiting for you",
    DONE: "is done",
    EXITED: "exited",
    FAILED: "failed",
    LOST: "is lost",
    MERGED: "was merged",
}

# -- orchestra's hook events ------------------------------------------------------------------
# What an agent kind's translator turns its CLI's own hook payload into (docs/plugins.md). Each is
# a JSON object with "event" (one of these) and the optional fields named beside it.

HOOK_EVENTS = {
    "session-started": ("session_id", "transcript", "resumed"),  # the CLI opened (resumed: an old conversation)
    "prompt-submitted": (),  # a turn began
    "asked": ("question",),  # a permission prompt or a question waits for a person
    "answered": (),  # the person answered and the tool ran
    "turn-ended": ("message", "session_id"),  # the turn finished; `message` is the agent's last words
    "turn-failed": ("error", "message"),  # the turn ended on an error (an API error, a usage limit)
    "idle": (),  # idle at its prompt without a turn-ended (an interrupted turn)
    "session-ended": (),  # the CLI is closing; the pane's death gives the exit code
}

# Statuses a hook event may move an agent out of: its process is alive to send the event. `failed`
# is here because a failed turn leaves the agent at its prompt, where it can go on.
HOOK_MOVABLE = LIVE | {FAILED, LOST}

Change = tuple[Optional[str], dict[str, Any]]  # (new status, or None to keep it; record fields to set)


def transition(record: dict[str, Any], signal: str, data: Optional[dict[str, Any]] = None) -> Optional[Change]:
    """What `signal` does to an agent whose record is `record`; None: nothing changes.

    Pure: it reads the record and the signal's data and returns the change, which `apply_to`
    makes. Signals are orchestra's hook events (above) and these, from orchestra itself:
    `launched` (the launcher started the CLI; `idle` for a resumed conversation), `pane-died`
    (`code`), `pane-gone`, `server-gone`, `worktree-gone`, `pane-found` (`pane`, `window`: the
    pane that carries the agent's launch id, where the record lacks it or the agent was lost),
    `screen-asks` (`question`), `screen-clear` (`busy`), `sent` (`seen`: the record's
    `updated_at` when `send` read it), `merged`, `resuming` (`launch_id`), `resume-failed`.
    """
    data = data or {}
    status = record.get("status")
    if signal in HOOK_EVENTS:
        return _hook_transition(record, status, signal, data) if status in HOOK_MOVABLE else None
    if signal == "launched":
        return ((DONE if data.get("idle") else RUNNING), {}) if status == STARTING else None
    if signal == "pane-died":
        if status not in LIVE:
            return None  # someone saw the death first
        code = record.get("exit_code") if record.get("exit_code") is not None else data.get("code")
        if code == 0:
            return EXITED, {"exit_code": 0}
        error = record.get("error") if code is not None else "its process ended without an exit code"
        return FAILED, {"exit_code": code, "error": error}
    if signal in LOSSES:
        # Its pane id is no longer its own (a new tmux server hands the same ids to others).
        forget = {"pane": None, "window": None} if signal != "worktree-gone" else {}
        if status in LIVE or (signal == "worktree-gone" and status not in (MERGED, LOST)):
            return LOST, {"error": LOSSES[signal], **forget}
        return (None, forget) if forget and (record.get("pane") or record.get("window")) else None
    if signal == "pane-found":
        found = {"pane": data.get("pane"), "window": data.get("window")}
        if status == LOST:
            return RUNNING, {"error": None, **found}
        return (None, found) if (record.get("pane"), record.get("window")) != tuple(found.values()) else None
    if signal == "screen-asks":
        return (WAITING, {"waiting_for": data.get("question")}) if status in (RUNNING, DONE) else None
    if signal == "screen-clear":
        if status == WAITING or (status == DONE and data.get("busy")):
            return RUNNING, {"waiting_for": None}
        return None
    if signal == "sent":
        if record.get("updated_at") != data.get("seen"):
            return None  # something moved it while the text was typed: the record knows better
        if status == WAITING:
            return RUNNING, {"waiting_for": None}
        # A new prompt to an agent with hooks is left to its prompt-submitted event.
        if status in (DONE, FAILED) and (record.get("last_hook") is None or record.get("screen_after_hooks")):
            return RUNNING, {"waiting_for": None, "error": None}
        return None
    if signal == "merged":
        return MERGED, {"error": None}
    if signal == "resuming":
        if status != LOST:
            return None
        cleared = dict.fromkeys(("window", "pane", "exit_code", "error", "waiting_for", "last_hook"))
        return STARTING, {**cleared, "launch_id": data.get("launch_id")}
    if signal == "resume-failed":
        return (LOST, {"error": "resuming it failed"}) if status == STARTING and record.get("pane") is None else None
    raise ValueError(f"unknown signal {signal!r}")


LOSSES = {
    "server-gone": "its tmux server was not running",
    "pane-gone": "its tmux window was closed",
    "worktree-gone": "its worktree folder is gone",
}


def _hook_transition(record: dict[str, Any], status: Any, event: str, data: dict[str, Any]) -> Optional[Change]:
    if event == "session-started":
        changes = {"session_id": data.get("session_id") or record.get("session_id")}
        if data.get("transcript"):
            changes["transcript"] = data["transcript"]
        # A resumed conversation opens idle at its prompt; a new one gets its prompt next.
        if data.get("resumed") and status in (STARTING, RUNNING, LOST):
            return DONE, changes
        return (RUNNING if status in (STARTING, LOST) else None), changes
    if event == "prompt-submitted":
        return RUNNING, {"waiting_for": None, "error": None}
    if event == "asked":
        return WAITING, {"waiting_for": data.get("question") or "a question"}
    if event == "answered":
        return (RUNNING, {"waiting_for": None}) if status == WAITING else None
    if event == "idle":
        return (DONE, {"waiting_for": None}) if status in (RUNNING, WAITING) else None
    if event == "turn-ended":
        changes = {"waiting_for": None, "last_message": data.get("message") or None}
        if data.get("session_id"):
            changes["session_id"] = data["session_id"]  # a CLI without session-started names it here
        return DONE, changes
    if event == "turn-failed":
        error = data.get("error") or "the agent reported an error"
        return FAILED, {"waiting_for": None, "error": error, "last_message": data.get("message") or None}
    return None  # session-ended: logged; the pane's death gives the exit code


# -- applying a change ------------------------------------------------------------------------


def now() -> str:
    """ISO 8601 in UTC with milliseconds: the one format of state and events."""
    stamp = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1000):03d}+00:00"


def event(kind: str, agent: Optional[str], data: dict[str, Any], status: Optional[str] = None) -> dict[str, Any]:
    """An event-log line, as `orchestra.models.Event.to_dict()` writes it."""
    return {"type": kind, "agent": agent, "status": status, "data": data, "time": now()}


def apply_to(
    records: dict[str, dict[str, Any]],
    name: str,
    signal: str,
    data: Optional[dict[str, Any]] = None,
    note: Optional[dict[str, Any]] = None,
) -> Optional[dict[str, Any]]:
    """Apply `signal` to the record `name` (raw JSON objects, held under the caller's lock).

    Returns the status event if the status changed (its data: `from`, the exit code of an
    ended process, and `note`); fields may change without a status change, and then it
    returns None. The caller hands the events to `publish` once its lock is released.
    """
    record = records.get(name)
    if record is None:
        return None
    change = transition(record, signal, data)
    if change is None:
        return None
    status, fields = change
    before = record.get("status")
    record.update(fields)
    record["updated_at"] = now()
    if status is None or status == before:
        return None
    record["status"] = status
    details: dict[str, Any] = {"from": before}
    if status in (EXITED, FAILED) and record.get("exit_code") is not None:
        details["exit_code"] = record["exit_code"]
    details.update(note or {})
    return event("status", name, details, status=status)


def started(record: dict[str, Any], note: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The status event of a record that begins its life (`starting`), for `publish`."""
    return event("status", record["name"], {"from": None, **(note or {})}, status=record["status"])


def change(state: State, name: str, signal: str, data: Optional[dict[str, Any]] = None, **note: Any) -> Optional[dict]:
    """Apply one signal to one agent under the state lock, then log and notify: the whole path."""
    with state.update_raw() as records:
        changed = apply_to(records, name, signal, data, note)
    publish(state, [changed] if changed else [])
    return changed


def publish(state: State, events: list[dict[str, Any]]) -> None:
    """Append `events` to the log, then hand the status changes among them to the notifiers."""
    events = [e for e in events if e]
    state.append_events(events)
    changes = [e for e in events if e.get("type") == "status"]
    if changes:
        notify_in_background(state, changes)


def notify_in_background(state: State, changes: list[dict[str, Any]]) -> None:
    """Run the notifier plugins in a process of their own, so no one waits for them.

    Started through a short-lived child, so the notifier is nobody's child (the launcher waits
    for its agent alone, and a process's children are what tests and tools take for its agent).
    posix_spawn rather than subprocess, whose import alone costs the hook handler milliseconds.
    The events travel on the command line: they hold statuses and names, never secrets.
    """
    argv = [sys.executable, "-m", "orchestra", "_notify", "--state-dir", str(state.dir), json.dumps(changes)]
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRA_DEBUG"}
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the short-lived child
            code = 0
            try:
                os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)
            except BaseException:
                code = 1
            os._exit(code)
        os.waitpid(child, 0)
    finally:
        os.close(devnull)


def notify(argv: list[str]) -> int:
    """Entry point for `_notify`: call the notifier plugins with each status event, in order."""
    if len(argv) != 3 or argv[0] != "--state-dir":
        return 2
    from pathlib import Path

    from orchestra.state import State

    state = State(Path(argv[1]))
    try:
        from orchestra.context import Context
        from orchestra.models import Event

        payload = json.loads(argv[2])
        events = [Event(**{k: e[k] for k in ("type", "agent", "status", "data", "time") if k in e})
                  for e in (payload if isinstance(payload, list) else [payload])]  # fmt: skip
        records = state.read()
        first = records.get(events[0].agent or "") if events else None
        where = Path(first.worktree) if first is not None and Path(first.worktree).is_dir() else state.dir.parent.parent
        ctx = Context.open(where)
        for one in events:
            ctx.plugins.call("notifier", event=one, agent=records.get(one.agent or ""), config=ctx.config)
        problems = ctx.plugins.problems
    except Exception as error:  # noqa: BLE001 - nobody watches this process
        problems = [f"notifiers could not run: {error}"]
    if problems:
        state.append_events([event("plugin-error", None, {"message": p}) for p in problems])
    return 0
