"""The schedule: which queued agents may start now, and the starter that starts them.

`[schedule] max_running` caps the agents of the project that hold a slot (`starting`,
`running`, `waiting`, and `lost`, which `resume` runs again); `spawn --parallel N` caps those of
one spawn. Agents beyond a cap are recorded `queued` (name, branch, task, argument list and
environment reserved, no worktree or window yet) and start in the order of their `ticket`.

There is no daemon. The moments a slot frees are status changes orchestra sees anyway: the
lifecycle's `publish` (the hook handler, `_exited`, the pane-died hook, reconcile in any
command, the board) starts `_queue` detached when one frees a slot while agents are queued,
and `observe` does when a queued agent could start for another reason (disk freed, a limit
raised). `_queue` decides under the state lock (`plan`), so any number of starters at once
start each queued agent once, and only one runs at a time with at most one more waiting
behind it (`queue-run.lock`, `queue-next.lock`), so a change is never missed.

Guards before a start: `[schedule] min_free_disk` (free space on the worktree root's
filesystem) and `[schedule] stagger` (time between two starts). The stagger needs no daemon
either: the starter that finds it not yet elapsed sleeps out the rest, then looks again, and
ends when nothing more can start; it is the one process that waits, and only while a start is
due. A queued agent waiting for disk is started by the next look after space is freed (any
command that reads agents, the board's refresh, an agent's hook event).

`holds` are predicates consulted before each start, for reasons of their own to hold a queued
agent back (a usage limit of its kind): each returns why, or None.
"""

from __future__ import annotations

import datetime
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra import files, lifecycle
from orchestra.config import parse_duration, parse_size
from orchestra.errors import ConfigError
from orchestra.state import State

if TYPE_CHECKING:
    from orchestra.context import Context
    from orchestra.models import Agent

RUN_LOCK = "queue-run.lock"
NEXT_LOCK = lifecycle.QUEUE_NEXT_LOCK

Hold = Callable[[dict[str, Any]], "str | None"]  # a queued record -> why it must wait, or None


@dataclass(frozen=True)
class Limits:
    """`[schedule]` as numbers: 0 means no limit."""

    max_running: int = 0
    min_free_disk: int = 0  # bytes
    stagger: float = 0.0  # seconds

    @classmethod
    def of(cls, schedule: dict[str, Any]) -> Limits:
        return cls(
            max_running=int(schedule.get("max_running") or 0),
            min_free_disk=parse_size(schedule.get("min_free_disk") or ""),
            stagger=parse_duration(schedule.get("stagger") or ""),
        )


def human_size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count = count / 1000  # type: ignore[assignment]
    return f"{count:.1f} TB"


@dataclass
class Plan:
    """What the schedule says right now: the queued agents that may start (in order), why each
    of the others waits, their places in the queue, and how long until the stagger lets the
    next one start (None: no start is due to time alone)."""

    admit: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    wait: float | None = None


def queued_in_order(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    queued = [r for r in records.values() if r.get("status") == lifecycle.QUEUED]
    return sorted(queued, key=lambda r: (r.get("ticket") or 0, r.get("created_at") or "", r.get("name") or ""))


def plan(
    records: dict[str, dict[str, Any]],
    limits: Limits,
    free_disk: Callable[[], int | None],
    now: float,
    holds: Sequence[Hold] = (),
    skip: Sequence[str] = (),
) -> Plan:
    """Which queued agents (raw records) may start now; pure but for `free_disk`, asked at most once."""
    result = Plan()
    queued = queued_in_order(records)
    result.positions = {r["name"]: place for place, r in enumerate(queued, 1)}
    if not queued:
        return result
    holding = [r for r in records.values() if r.get("status") in lifecycle.SLOT_HOLDERS]
    running = len(holding)
    lost = sum(1 for r in holding if r.get("status") == lifecycle.LOST)
    lost_note = f", {lost} of them lost: `orchestra resume`, `kill` or `clean` frees theirs" if lost else ""
    per_spawn = Counter(r.get("spawn_batch") for r in holding if r.get("spawn_batch"))
    starts = [_seconds(r["started_at"]) for r in records.values() if r.get("started_at")]
    last = max((s for s in starts if s is not None), default=None)
    free: int | None = -1  # not asked yet
    for record in queued:
        name, batch, cap = record["name"], record.get("spawn_batch"), record.get("parallel")
        if name in skip:
            result.reasons[name] = record.get("error") or "its start failed"
        elif not record.get("argv"):
            result.reasons[name] = "its spawn is still preparing it"
        elif limits.max_running and running >= limits.max_running:
            result.reasons[name] = f"a free slot ({running} of max_running {limits.max_running} taken{lost_note})"
        elif cap and per_spawn[batch] >= cap:
            result.reasons[name] = f"a free slot of its spawn (--parallel {cap})"
        else:
            if limits.min_free_disk and free == -1:
                free = free_disk()
            held = next((why for why in (hold(record) for hold in holds) if why), None)
            if limits.min_free_disk and free is not None and free < limits.min_free_disk:
                result.reasons[name] = (
                    f"disk: {human_size(free)} free, min_free_disk is {human_size(limits.min_free_disk)}"
                )
            elif held:
                result.reasons[name] = held
            elif limits.stagger and last is not None and now - last < limits.stagger:
                remaining = limits.stagger - (now - last)
                result.reasons[name] = f"the stagger ({remaining:.1f}s)"
                result.wait = remaining if result.wait is None else min(result.wait, remaining)
            else:
                result.admit.append(name)
                running += 1
                if batch:
                    per_spawn[batch] += 1
                last = now
    return result


def _seconds(stamp: str) -> float | None:
    try:
        return datetime.datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def free_disk_of(path: Path) -> Callable[[], int | None]:
    """Free bytes on the filesystem that holds `path` (or its nearest existing folder)."""

    def free() -> int | None:
        where = path
        while not where.exists() and where != where.parent:
            where = where.parent
        try:
            found = os.statvfs(where)  # what shutil.disk_usage reads, without importing shutil
            return found.f_bavail * found.f_frsize
        except OSError:
            return None

    return free


def limits_of(ctx: Context) -> Limits:
    try:
        return Limits.of(ctx.config.schedule)
    except ValueError as error:  # config validation catches these first; a stale value still says so
        raise ConfigError(f"[schedule] in orchestra.toml: {error}.") from None


def holds_of(ctx: Context, records: dict[str, dict[str, Any]]) -> list[Hold]:
    """The predicates consulted before each start, beyond the limits: a usage limit of an agent
    kind holds the queued agents of that kind (`orchestra.limits`)."""
    from orchestra import limits

    return limits.holds(ctx, records)


def look(ctx: Context, records: dict[str, dict[str, Any]], skip: Sequence[str] = ()) -> Plan:
    """The schedule for `ctx`'s project, as `plan` says it for these records right now."""
    from orchestra import worktrees

    root = worktrees.worktree_root(ctx.project, ctx.config.orchestra["worktree_root"])
    return plan(records, limits_of(ctx), free_disk_of(root), time.time(), holds_of(ctx, records), skip)


def nudge(ctx: Context, records: dict[str, dict[str, Any]]) -> Plan | None:
    """From any look at the agents: if a queued agent could start (now, or after the stagger),
    start the starter. Returns the plan, None when nothing is queued."""
    if not any(r.get("status") == lifecycle.QUEUED for r in records.values()):
        return None
    found = look(ctx, records)
    if found.admit or found.wait is not None:
        lifecycle.start_queue(ctx.state)
    return found


def waits_for(ctx: Context, agents: list[Agent]) -> dict[str, dict[str, Any]]:
    """For `ls`, the board and the page: each queued agent's place in the queue
    (`queue_position`, from 1) and what it waits for (`waits_for`, a phrase)."""
    if not any(a.status.value == lifecycle.QUEUED for a in agents):
        return {}
    found = look(ctx, {a.name: a.to_dict() for a in agents})
    return {
        name: {"queue_position": place, "waits_for": found.reasons.get(name, "its start, which is under way")}
        for name, place in found.positions.items()
    }


# -- the starter: `python -m orchestra _queue --state-dir DIR` ---------------------------------


def main(argv: list[str]) -> int:
    """Entry point for `_queue`: one starter at a time, one more waiting at most; problems go to
    the event log (`queue-error`), since no one watches this process."""
    if len(argv) != 2 or argv[0] != "--state-dir":
        return 2
    state = State(Path(argv[1]))
    if not state.dir.is_dir():
        return 0  # the repository is gone
    state.hold_busy()
    with files.one_running_one_waiting(state.dir / NEXT_LOCK, state.dir / RUN_LOCK) as mine:
        if mine:
            _run(state)
    return 0


def _run(state: State) -> None:
    with lifecycle.problems_logged(state, "queue-error"):
        from orchestra.context import Context

        start_queued(Context.open(state.dir.parent.parent))


def start_queued(ctx: Context, sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Start queued agents while the schedule lets them: each admitted under the state lock
    (`queued` -> `starting`, its spawn lock taken), then given its worktree and window as
    `spawn` does. Sleeps out the stagger between starts; returns when nothing more can start."""
    from orchestra import spawn_undo, spawning

    started: list[str] = []
    failed: list[str] = []
    while True:
        locks: dict[str, int] = {}
        with ctx.state.update_raw() as records:
            found = look(ctx, records, failed)
            events = []
            for name in found.admit:
                fd = spawn_undo.try_spawn_lock(ctx, name)
                if fd is None:
                    continue  # its spawn has not let go of it yet; that spawn starts the queue when it does
                locks[name] = fd
                events.append(lifecycle.apply_to(records, name, "admitted", note={"by": "queue"}))
        lifecycle.publish(ctx.state, [e for e in events if e])
        if locks:
            result = spawning.start_queued(ctx, list(locks), locks)
            started += [a.name for a in result.agents]
            failed += [name for name in locks if name not in {a.name for a in result.agents}]
            continue
        if found.wait is None:
            return started
        sleep(found.wait)
