"""The words of an agent's life, defined once: its statuses, what each allows, how a
notification says it, and orchestra's hook events. The ground every layer stands on
(`orchestra.models.Status` takes its values from here); the hook handler imports it for every
event, so it holds plain strings and imports nothing but the standard library.
"""

from __future__ import annotations

import time

# `typing.TYPE_CHECKING` without importing typing, on the hook handler's path (mypy reads it as True)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

QUEUED = "queued"  # waits for a free slot under the schedule's limits (`orchestra.schedule`)
STARTING = "starting"
RUNNING = "running"
WAITING = "waiting"  # needs a person: a permission prompt or a question
LIMITED = "limited"  # hit a usage or rate limit, at its prompt until the limit resets (`orchestra.limits`)
DONE = "done"  # finished its turn, idle at its prompt
EXITED = "exited"  # its process ended with code 0
FAILED = "failed"  # non-zero exit, or the agent reported an error
LOST = "lost"  # recorded as live, but its pane or tmux server is gone
MERGED = "merged"
# Not a status of a life but of a view: a remote agent whose host did not answer the last look
# (`orchestra.remote`). No record holds it; `ls` shows it instead of the agent's last known one.
UNREACHABLE = "unreachable"

STATUSES = (QUEUED, STARTING, RUNNING, WAITING, LIMITED, DONE, EXITED, FAILED, LOST, MERGED)  # in the order of a life
LIVE = frozenset({STARTING, RUNNING, WAITING, LIMITED, DONE})  # a process is expected in the agent's pane
MERGEABLE = frozenset({DONE, EXITED})  # finished: `merge` takes these
SENDABLE = LIVE | {FAILED}  # `send` types into these (Claude Code stays at its prompt after an API error)
# What `[schedule] max_running` and `spawn --parallel` count: agents at work, and lost ones, which
# were at work when their tmux went away and which `resume` runs again (so that resuming after a
# reboot never starts more than the limit), and `limited` ones, which go on by themselves once
# their limit resets. `done` (idle at its prompt) holds no slot.
SLOT_HOLDERS = frozenset({STARTING, RUNNING, WAITING, LIMITED, LOST})
URGENCY = (
    WAITING,
    FAILED,
    LOST,
    UNREACHABLE,
    DONE,
    LIMITED,
    EXITED,
    RUNNING,
    STARTING,
    QUEUED,
    MERGED,
)  # most urgent first, for the board and the page

# How a notification says each status after the agent's name: "fix-login is waiting for you".
PHRASES = {
    QUEUED: "is queued",
    STARTING: "is starting",
    RUNNING: "is working",
    WAITING: "is waiting for you",
    LIMITED: "hit a usage limit",
    DONE: "is done",
    EXITED: "exited",
    FAILED: "failed",
    LOST: "is lost",
    UNREACHABLE: "cannot be reached on its host",
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
    "turn-failed": ("error", "message"),  # the turn ended on an error (an API error)
    # The turn ended on a usage or rate limit; `until`: when it resets (ISO 8601), if the CLI said.
    "limited": ("error", "message", "until"),
    "idle": (),  # idle at its prompt without a turn-ended (an interrupted turn)
    "session-ended": (),  # the CLI is closing; the pane's death gives the exit code
}


def now() -> str:
    """ISO 8601 in UTC with milliseconds: the one format of state and events."""
    stamp = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1000):03d}+00:00"


def event(kind: str, agent: str | None, data: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    """An event-log line, as `orchestra.models.Event.to_dict()` writes it."""
    return {"type": kind, "agent": agent, "status": status, "data": data, "time": now()}
