"""An agent's life: the transitions, and the one path that applies them.

Every status change in orchestra goes through here, whoever sees it first: the hook handler
(the agent CLI's own events, translated into orchestra's hook events), the launcher (the CLI
started, its pane died), reconcile (a pane or a tmux server gone, a screen that asks), `send`,
`merge`, `resume` and `spawn`. Each says what it saw as a *signal*; `transition` (pure, no I/O)
says what that signal does to the record; `apply_to` changes a record under the caller's lock
and makes the status event; `publish` appends events to the log and hands status changes to
the notifier plugins, once each, in a detached process so nobody waits for a webhook.

The status vocabulary it speaks is `orchestra.statuses` (re-exported here). The hook handler
imports this module for every hook event, so it works on records as plain JSON objects and
imports nothing but the standard library (no dataclasses, no enum).
"""

from __future__ import annotations

import os
import sys

from orchestra import cjson, files
from orchestra.launch import launcher_argv
from orchestra.statuses import (  # the vocabulary, re-exported: lifecycle.RUNNING and so on
    DONE,
    EXITED,
    FAILED,
    HOOK_EVENTS,
    LIMITED,
    LIVE,
    LOST,
    MERGEABLE,
    MERGED,
    PHRASES,
    QUEUED,
    RUNNING,
    SENDABLE,
    SLOT_HOLDERS,
    STARTING,
    STATUSES,
    UNREACHABLE,
    URGENCY,
    WAITING,
    event,
    now,
)

# `typing.TYPE_CHECKING` without importing typing, on the hook handler's path (mypy reads it as True)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection
    from typing import Any

    from orchestra.state import State

__all__ = [
    "DONE",
    "EXITED",
    "FAILED",
    "HOOK_EVENTS",
    "LIMITED",
    "LIVE",
    "LOST",
    "MERGEABLE",
    "MERGED",
    "PHRASES",
    "QUEUED",
    "RUNNING",
    "SENDABLE",
    "SLOT_HOLDERS",
    "STARTING",
    "STATUSES",
    "UNREACHABLE",
    "URGENCY",
    "WAITING",
    "event",
    "now",
]

# Statuses a hook event may move an agent out of: its process is alive to send the event. `failed`
# is here because a failed turn leaves the agent at its prompt, where it can go on.
HOOK_MOVABLE = LIVE | {FAILED, LOST}

if TYPE_CHECKING:
    Change = tuple[str | None, dict[str, Any]]  # (new status, or None to keep it; record fields to set)


def transition(record: dict[str, Any], signal: str, data: dict[str, Any] | None = None) -> Change | None:
    """What `signal` does to an agent whose record is `record`; None: nothing changes.

    Pure: it reads the record and the signal's data and returns the change, which `apply_to`
    makes. Signals are orchestra's hook events (above) and these, from orchestra itself:
    `launched` (the launcher started the CLI; `idle` for a resumed conversation), `pane-died`
    (`code`), `pane-gone`, `server-gone`, `worktree-gone`, `pane-found` (`pane`, `window`: the
    pane that carries the agent's launch id, where the record lacks it or the agent was lost),
    `screen-asks` (`question`), `screen-clear` (`busy`), `sent` (`seen`: the record's
    `updated_at` when `send` read it), `merged`, `resuming` (`launch_id`), `resume-failed`,
    `admitted` (the schedule lets a queued agent start: `orchestra.schedule`), `requeued` (its
    start was cut short before its window opened: back in the queue, with `error` saying why),
    `limit-ended` (a `limited` agent's limit reset and orchestra tells it to go on:
    `orchestra.limits`), `screen-limited` (`line`, `until`, `on_limit`: the kind's limited
    pattern on the screen, a line not seen before). The hook event `limited` takes `on_limit`
    too (`[schedule] on_limit`).
    """
    data = data or {}
    status = record.get("status")
    if signal in ("launched", "pane-died") and data.get("launch_id") not in (None, record.get("launch_id")):
        return None  # said by the launcher of an earlier launch of this agent, which outlived a resume
    if signal in HOOK_EVENTS:
        return _hook_transition(record, status, signal, data) if status in HOOK_MOVABLE else None
    if signal == "launched":
        return ((DONE if data.get("idle") else RUNNING), {}) if status == STARTING else None
    if signal == "pane-died":
        if status not in LIVE:
            return None  # someone saw the death first
        code = record.get("exit_code") if record.get("exit_code") is not None else data.get("code")
        if status == LIMITED:  # it gave up on its limit (aider does, after its retries): not done
            return FAILED, {"exit_code": code, "error": f"it ended while limited: {record.get('error') or 'a limit'}"}
        if code == 0:
            return EXITED, {"exit_code": 0}
        error = record.get("error") if code is not None else "its process ended without an exit code"
        return FAILED, {"exit_code": code, "error": error}
    if signal == "screen-limited":  # a CLI without a hook for it shows a limit (`line`) on its screen
        if status not in (RUNNING, DONE) or data.get("line") == record.get("limit_seen"):
            return None
        change = _hook_transition(record, status, "limited", {**data, "error": data.get("line")})
        return change and (change[0], {**change[1], "limit_seen": data.get("line")})
    if signal == "limit-ended":  # its limit's reset came: orchestra tells it to go on (`orchestra.limits`)
        return (RUNNING, {"error": None}) if status == LIMITED else None
    if signal == "admitted":
        return (STARTING, {"started_at": now(), "error": None}) if status == QUEUED else None
    if signal == "requeued":
        if status != STARTING or record.get("pane") is not None:
            return None
        return QUEUED, {"error": data.get("error"), "window": None, "pane": None}
    if status == QUEUED:
        return None  # no worktree, window or process yet: nothing else applies to it
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
        if status == LIMITED and data.get("busy"):  # its CLI waited the limit out by itself
            return RUNNING, {"waiting_for": None, "error": None}
        if status == WAITING or (status == DONE and data.get("busy")):
            return RUNNING, {"waiting_for": None}
        return None
    if signal == "sent":
        if record.get("updated_at") != data.get("seen"):
            return None  # something moved it while the text was typed: the record knows better
        if status == WAITING:
            return RUNNING, {"waiting_for": None}
        if status == LIMITED:  # a person took over before the reset: the limit's timer finds it moved on
            return RUNNING, {"error": None}
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


FORGOTTEN = frozenset({"pane", "window"})  # what a loss clears, since a new tmux server reuses ids
LOSSES = {
    "server-gone": "its tmux server was not running",
    "pane-gone": "its tmux window was closed",
    "worktree-gone": "its worktree folder is gone",
}


def _hook_transition(record: dict[str, Any], status: Any, event: str, data: dict[str, Any]) -> Change | None:
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
    if event == "limited":
        error = data.get("error") or "a usage limit"
        changes = {"waiting_for": None, "error": error, "last_message": data.get("message") or None}
        if data.get("on_limit") == "fail":  # `[schedule] on_limit = "fail"`: the hook handler reads it
            return FAILED, changes
        return LIMITED, {**changes, "limited_until": data.get("until")}
    return None  # session-ended: logged; the pane's death gives the exit code


# -- applying a change ------------------------------------------------------------------------


def apply_to(
    records: dict[str, dict[str, Any]],
    name: str,
    signal: str,
    data: dict[str, Any] | None = None,
    note: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
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
    # Forgetting the ids of a pane that is gone, on an agent whose status stays (one that had
    # ended before a reboot), is bookkeeping: `ls` shows how long it has had its status.
    if status is not None or any(fields.values()) or fields.keys() - FORGOTTEN:
        record["updated_at"] = now()
    if status is None or status == before:
        return None
    record["status"] = status
    if before == LIMITED:
        record["limited_until"] = None
    details: dict[str, Any] = {"from": before}
    if status in (EXITED, FAILED) and record.get("exit_code") is not None:
        details["exit_code"] = record["exit_code"]
    details.update(note or {})
    return event("status", name, details, status=status)


def started(record: dict[str, Any], note: dict[str, Any] | None = None) -> dict[str, Any]:
    """The status event of a record that begins its life (`starting`), for `publish`."""
    return event("status", record["name"], {"from": None, **(note or {})}, status=record["status"])


def change(
    state: State,
    name: str,
    signal: str,
    data: dict[str, Any] | None = None,
    listened: Collection[str] | None = None,
    reap: bool = True,
    **note: Any,
) -> dict[str, Any] | None:
    """Apply one signal to one agent under the state lock, then log and notify: the whole path.
    `listened` and `reap`: as `publish` takes them."""
    with state.update_raw() as records:
        changed = apply_to(records, name, signal, data, note)
    publish(state, [changed] if changed else [], reap=reap, listened=listened)
    return changed


# Event types the notifiers hear: status changes, a conflict forecast between two agents for the
# first time (`orchestra.lookout`), and a conflict handed back to its agent (`orchestra.handback`).
NOTIFIED = ("status", "conflict", "handback")
# Statuses after which an agent's work may have changed: the conflict forecast is brought up to
# date in the background (`orchestra.lookout`). `merged` moves the target itself.
REFORECAST = frozenset({DONE, WAITING, EXITED, FAILED, MERGED})


def publish(
    state: State, events: list[dict[str, Any]], reap: bool = True, listened: Collection[str] | None = None
) -> None:
    """Append `events` to the log, then hand the status changes (and conflict events) among them
    to the notifiers; a status after which an agent's work may have changed also starts a
    refresh of the conflict forecast.

    `reap=False` is for a process that ends at once (the hook handler), whose notifier outlives it
    and is adopted and reaped by init, or becomes another program (the launcher, whose threads
    exec ends): no thread need wait for it. `listened`, where the
    caller knows them (`Plugins.notified`): the events some notifier may act on, so that no
    notifier process starts for the others; None: every one is told."""
    events = [e for e in events if e]
    state.append_events(events)
    changes = [e for e in events if e.get("type") in NOTIFIED and (listened is None or notified_as(e) in listened)]
    reforecast = any(e.get("type") == "status" and e.get("status") in REFORECAST for e in events)
    if changes:
        # A process that ends at once (the hook handler) starts one process, not two: the notifier
        # starts the refresh, once this one has had its core back and before the plugins load.
        notify_in_background(state, changes, reap, forecast=reforecast and not reap)
    if reforecast and (reap or not changes):
        forecast_in_background(state, reap)
    if any(_frees_slot(e) for e in events):
        start_queue(state, reap)
    for limited in (e for e in events if e.get("type") == "status" and e.get("status") == LIMITED):
        # Its limit's end is set as a tmux timer by `_limit` (orchestra.limits): no process waits.
        in_background(state, launcher_argv("_limit", "--state-dir", state.folder, limited["agent"]), reap)


def notified_key(paths: Collection[str]) -> list[list[Any]]:
    """What an answer of the notifier plugins (`Plugins.notified`) depends on, for `listened` to
    tell when it went stale: each file or folder with its time of change (None: absent)."""
    return [[path, files.changed_at(path)] for path in paths]


def listened(record: dict[str, Any]) -> list[str] | None:
    """The events some notifier plugin acts on, as the agent's spawn asked them (its `notified`),
    while every file that answer depends on is as it was then (a configuration edited, a plugin
    installed or removed changes one); None, every notifier told everything, otherwise."""
    notified = record.get("notified")
    if not isinstance(notified, dict):
        return None
    events, key = notified.get("events"), notified.get("key")
    if not isinstance(events, list) or not isinstance(key, list):
        return None
    for entry in key:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            return None
        if files.changed_at(entry[0]) != entry[1]:
            return None
    return [str(e) for e in events]


def notified_as(event: dict[str, Any]) -> str:
    """What a notifier plugin names an event by (`notifier_events`): a status change by its
    status, any other by its type (`conflict`, `handback`)."""
    return str(event.get("status")) if event.get("type") == "status" else str(event.get("type"))


def seen_on_hosts(state: State, changes: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Status changes of agents on hosts (`orchestra.remote`), as a look here saw them: each
    host's own lifecycle made them; here they are logged and told to the notifiers, as a local
    change is (the queue, the forecast and limits are the host's). Each is (name, status, data)."""
    events = [event("status", name, data, status) for name, status, data in changes]
    if events:
        state.append_events(events)
        notify_in_background(state, events)


def _frees_slot(event: dict[str, Any]) -> bool:
    """A slot freed, or a limit that held its kind's queued agents ended."""
    # Not back to `queued`: the starter that put it back goes on by itself, and a start that
    # fails again must not start the next starter.
    if event.get("type") != "status" or event.get("status") == QUEUED:
        return False
    before = (event.get("data") or {}).get("from")
    if before == LIMITED:
        return True
    return event.get("status") not in SLOT_HOLDERS and before in SLOT_HOLDERS


def start_queue(state: State, reap: bool = True) -> None:
    """A slot may have freed: if agents are queued, start the queue's starter (`_queue`, in
    `orchestra.schedule`) detached. It decides under the state lock, so any number of callers
    at once start each queued agent once; without queued agents this is one file read."""
    try:
        records = state.read_raw(complete=False)
    except Exception:  # noqa: BLE001 - a damaged state file is reported by the command that reads it
        return
    if any(r.get("status") == QUEUED for r in records.values()) and not starter_waiting(state):
        in_background(state, launcher_argv("_queue", "--state-dir", state.folder), reap)


QUEUE_NEXT_LOCK = "queue-next.lock"  # held by the one starter waiting for its turn (`orchestra.schedule`)


def starter_waiting(state: State) -> bool:
    """Whether a queue starter waits for its turn: it reads the records only once it has its
    turn, so it sees whatever change the caller made, and starting another would cost a process
    for nothing. (Taking the lock for a moment is harmless: a starter that finds it taken ends,
    and the caller, finding it free, starts one.)"""
    from orchestra import files

    try:
        fd = files.try_lock(os.path.join(state.folder, QUEUE_NEXT_LOCK))
    except OSError:
        return False
    if fd is None:
        return True
    os.close(fd)
    return False


def notify_in_background(
    state: State, changes: list[dict[str, Any]], reap: bool = True, forecast: bool = False
) -> None:
    """Run the notifier plugins in a process of their own (its own session), so no one waits for
    them; with `forecast`, that process first starts a refresh of the conflict forecast.

    The events travel on the command line: they hold statuses, names and paths, never secrets.
    """
    then = ["--forecast"] if forecast else []
    in_background(state, launcher_argv("_notify", "--state-dir", state.folder, cjson.dumps(changes), *then), reap)


def forecast_in_background(state: State, reap: bool = True) -> None:
    """Bring the stored conflict forecast up to date in a process of its own (`_forecast`, which
    runs one at a time and tells the notifiers of new conflicts)."""
    in_background(state, launcher_argv("_forecast", "--state-dir", state.folder), reap)


class problems_logged:  # lowercase: used as a function, `with lifecycle.problems_logged(...):`
    """For a process no one watches (the queue's starter, a limit's timer): an error is written
    to the event log as a `kind` event with its message, never raised. (A class: this module's
    importers start without contextlib.)"""

    def __init__(self, state: State, kind: str, agent: str | None = None):
        self.state, self.kind, self.agent = state, kind, agent

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, *rest: object) -> bool:
        if not isinstance(error, Exception):
            return False  # none, or KeyboardInterrupt and the like: on their way
        from orchestra.errors import OrchestraError

        message = str(error) if isinstance(error, OrchestraError) else f"{type(error).__name__}: {error}"
        try:
            self.state.append_events([event(self.kind, self.agent, {"message": message})])
        except Exception:  # noqa: BLE001 - nobody watches this process: nowhere else to say it
            pass
        return True


def in_background(state: State, argv: list[str], reap: bool = True) -> None:
    """Start orchestra's `argv` detached, in a session of its own, with this environment (a webhook
    variable travels in it), holding this process's `busy.lock` if it holds one.

    posix_spawn rather than subprocess, whose import alone costs the hook handler milliseconds;
    with `reap`, a daemon thread waits for it, so a long-lived process (the launcher, the board,
    the dashboard) collects no zombies.
    """
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRA_DEBUG"}
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        busy = state.busy_fd()
        if busy is not None:  # the child works on in this process's name: `State.wait_idle` waits for it
            actions.append((os.POSIX_SPAWN_DUP2, busy, 3))
        pid = os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)
    finally:
        os.close(devnull)
    if reap:
        import threading

        threading.Thread(target=os.waitpid, args=(pid, 0), daemon=True, name="orchestra-reaper").start()
