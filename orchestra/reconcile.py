"""Reading agents as they are: state records checked against tmux panes and worktrees on disk.

State and reality drift (a crash, a reboot, a user's `tmux kill-server`). Every read goes
through `observe`, which shows such agents as `lost`, never as running, and records the change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra import lifecycle
from orchestra.models import Agent, Event, parse_time
from orchestra.tmux import Pane

if TYPE_CHECKING:
    from orchestra.context import Context
    from orchestra.diffstats import Place

# What reconcile saw, for the lifecycle: (signal, its data, the note for the status event).
Signal = tuple[str, dict[str, Any] | None, dict[str, Any] | None]


def reconcile(
    agents: dict[str, Agent], panes: dict[str, Pane] | None, screens: dict[str, str] | None = None
) -> list[Event]:
    """`reconcile_records` on Agent objects, changed in place; returns the status changes."""
    records = {name: agent.to_dict() for name, agent in agents.items()}
    changes = reconcile_records(records, panes, screens)
    for name, agent in agents.items():
        vars(agent).update(vars(Agent.from_dict(records[name])))
    return [Event(**change) for change in changes]


def reconcile_records(
    records: dict[str, dict[str, Any]],
    panes: dict[str, Pane] | None,
    screens: dict[str, str] | None = None,
    schedule: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Bring records (raw JSON objects) in line with what tmux and the disk show, through the
    lifecycle; returns the status events.

    Reality wins both ways: a live agent whose pane is gone is `lost`, and a `lost` agent
    whose pane is in fact there (it came back, or was read in a race) is live again.
    `screens` (pane id to what it shows) moves agents that report no hook events between
    `running` and `waiting` by their kind's screen patterns, and shows a limit (`limited`
    patterns) as `limited`, as `schedule` (orchestra.toml's `[schedule]`) says.
    """
    events = []
    by_launch = {p.launch: p for p in (panes or {}).values() if p.launch}
    for name, record in records.items():
        for signal, data, note in _signals(record, panes, by_launch, screens or {}, schedule or {}):
            changed = lifecycle.apply_to(records, name, signal, data, note)
            if changed is not None:
                events.append(changed)
    return events


def _signals(
    record: dict[str, Any],
    panes: dict[str, Pane] | None,
    by_launch: dict[str, Pane],
    screens: dict[str, str],
    schedule: dict[str, Any],
) -> Iterator[Signal]:
    """What tmux, the screen and the disk say about one agent, as lifecycle signals, in order:
    each is taken against the record as the ones before it left it."""
    if record.get("status") == lifecycle.QUEUED:
        return  # no worktree, window or process yet: the schedule starts it
    pane = _pane_of(record, panes, by_launch)
    worktree = Path(record["worktree"]).is_dir()
    if pane is not None and worktree:
        yield "pane-found", {"pane": pane.id, "window": pane.window}, None
    elif record.get("status") == lifecycle.STARTING and record.get("pane") is None and not _stale(record):
        return  # a spawn is still creating its window; it records the pane in a moment
    if panes is None:
        yield "server-gone", None, {"by": lifecycle.LOSSES["server-gone"]}
    elif pane is None:
        yield "pane-gone", None, {"by": lifecycle.LOSSES["pane-gone"]}
    elif pane.dead:
        if record.get("status") == lifecycle.LIMITED and pane.id in screens and screen_tells(record):
            # A CLI that got its answer after all and then ended (aider) is not failed by its limit.
            read = _read_screen(record, screens[pane.id], schedule)
            if read is not None:
                yield (*read, {"by": "screen"})
        # The agent's shell records its exit code (`_exited`); tmux's own status can lag (or, in
        # tmux 3.3, never come), and without either the process was killed.
        yield "pane-died", {"code": pane.dead_status}, None
    if pane is not None and not pane.dead and pane.id in screens and screen_tells(record):
        read = _read_screen(record, screens[pane.id], schedule)
        if read is not None:
            yield (*read, {"by": "screen"})
    if not worktree:
        yield "worktree-gone", None, {"by": lifecycle.LOSSES["worktree-gone"]}


SCREEN_STATUSES = (lifecycle.RUNNING, lifecycle.WAITING)
BOX = "│┃║|"  # the sides of a dialog's frame
SCREEN_LINES = 15  # the bottom of the screen: a question scrolled away is no longer asked


def screen_tells(agent: Agent | dict[str, Any]) -> bool:
    """Whether the agent's screen says more than its record: a limit its hooks do not report
    (its kind has `limited` patterns), the end of a limit its CLI waits out by itself
    (`limit_over` patterns), or a question or work (`asks_by_screen`)."""
    # The board asks this of every agent on every look: read the fields, never copy the record.
    get = agent.get if isinstance(agent, dict) else lambda key: getattr(agent, key, None)
    patterns = get("screen_patterns")
    if not patterns:
        return False
    if patterns.get("limited") and get("status") in (lifecycle.RUNNING, lifecycle.DONE):
        return True
    if patterns.get("limit_over") and get("status") == lifecycle.LIMITED:
        return True
    return asks_by_screen(agent)


def asks_by_screen(agent: Agent | dict[str, Any]) -> bool:
    """Whether the screen says whether the agent waits or works: it has patterns and no hook
    events yet, or hooks that report only some events (then `done` can turn into work again)."""
    get = agent.get if isinstance(agent, dict) else lambda key: getattr(agent, key, None)
    if not get("screen_patterns"):
        return False
    if get("screen_after_hooks"):  # hooks give a turn's end (done); the screen shows the rest
        return get("status") in (*SCREEN_STATUSES, lifecycle.DONE)
    return get("last_hook") is None and get("status") in SCREEN_STATUSES


def _read_screen(record: dict[str, Any], screen: str, schedule: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Its kind's patterns against the screen's bottom: a limit not seen before, a question
    (where the agent has no hooks), or whether it is busy."""
    lines = [line for line in screen.splitlines() if line.strip()][-SCREEN_LINES:]
    bottom = "\n".join(lines)
    patterns = record.get("screen_patterns") or {}
    if record.get("status") == lifecycle.LIMITED:
        return _limit_over(lines, patterns)
    if record.get("status") in (lifecycle.RUNNING, lifecycle.DONE):
        for line in lines:
            shown = " ".join(line.strip().strip(BOX).split())[:300]  # a dialog's frame is not its text
            if shown != record.get("limit_seen") and any(re.search(p, line) for p in patterns.get("limited", [])):
                from orchestra import limits
                from orchestra.clock import reset_time

                return "screen-limited", {"line": shown, **limits.settle(schedule, reset_time(bottom))}
    if not asks_by_screen(record):
        return None
    for pattern in patterns.get("waiting", []):
        found = re.search(pattern, bottom, re.MULTILINE)
        if found:
            line = bottom[bottom.rfind("\n", 0, found.start()) + 1 :].split("\n", 1)[0]
            return "screen-asks", {"question": " ".join(line.split())[:200]}
    busy = any(re.search(p, bottom, re.MULTILINE) for p in patterns.get("busy", []))
    return "screen-clear", {"busy": busy}


def limit_over(record: dict[str, Any], screen: str) -> bool:
    """Whether a `limited` agent's screen shows that its CLI got through by itself (its kind's
    `limit_over` patterns below its last limit line): for `_exited`, before an end that would
    otherwise say it gave up."""
    if record.get("status") != lifecycle.LIMITED:
        return False
    return _read_screen(record, screen, {}) is not None


def _limit_over(lines: list[str], patterns: dict[str, list[str]]) -> tuple[str, dict[str, Any]] | None:
    """A limited CLI that retries by itself works again: its `limit_over` patterns match below
    its last limit line (the lines above it are history)."""
    if not patterns.get("limit_over"):
        return None
    limits = patterns.get("limited", [])
    last = max((i for i, line in enumerate(lines) if any(re.search(p, line) for p in limits)), default=-1)
    below = "\n".join(lines[last + 1 :])
    if any(re.search(p, below, re.MULTILINE) for p in patterns["limit_over"]):
        return "screen-clear", {"busy": True}
    return None


def _pane_of(
    record: dict[str, Any], panes: dict[str, Pane] | None, by_launch: dict[str, Pane] | None = None
) -> Pane | None:
    """The agent's pane, if tmux has it: the one that carries the agent's launch id. A new tmux
    server numbers panes and windows from the start again, so an id alone proves nothing."""
    if not panes:
        return None
    launch = record.get("launch_id")
    recorded = panes.get(record.get("pane") or "")
    if launch:
        if recorded is not None and recorded.launch == launch:
            return recorded
        if by_launch is None:
            by_launch = {p.launch: p for p in panes.values() if p.launch}
        return by_launch.get(launch)
    # A record from before launch ids: its own window, on a pane no launch has marked.
    if recorded is None or recorded.launch or (record.get("session") and recorded.session != record["session"]):
        return None
    return recorded if recorded.window_name == record["name"] or recorded.window == record.get("window") else None


def owned_pane(ctx: Context, agent: Agent) -> Pane | None:
    """The agent's pane as tmux shows it right now, only if it provably is the agent's: what
    `send`, `kill`, `attach` and `logs` act on."""
    return _pane_of(agent.to_dict(), ctx.tmux.panes())


STARTING_GRACE = 120.0  # seconds a spawn may take between recording an agent and opening its window


def _stale(record: dict[str, Any]) -> bool:
    age = datetime.now(timezone.utc) - parse_time(record["updated_at"])
    return age.total_seconds() > STARTING_GRACE


def observe(
    ctx: Context,
    seen: tuple[dict[str, Pane] | None, dict[str, str]] | None = None,
    records: dict[str, dict[str, Any]] | None = None,
) -> list[Agent]:
    """Every agent of the project, reconciled; drift is written back under the state lock.

    The records are read before tmux is asked, and asked again under the lock before anything
    is written: a spawn records a pane only after tmux has it, so neither read can see a
    recorded pane that tmux does not know yet. `seen` is a tmux look taken just before (the
    board's), which then stands for the first one; `records`, the records as read before that
    look (`read_raw`), stand for the first read (`looking` gives both).
    """
    snapshot = ctx.state.read_raw() if records is None else records
    panes, screens = seen if seen is not None else ctx.tmux.panes_and_screens(watched_panes(snapshot))
    trial = json.loads(json.dumps(snapshot))
    limits = ctx.config.schedule  # what a limit seen on a screen does
    reconcile_records(trial, panes, screens, limits)
    if trial != snapshot:
        with ctx.state.update_raw() as records:
            events = reconcile_records(records, ctx.tmux.panes(), screens, limits)
            snapshot = records
        lifecycle.publish(ctx.state, events)
    if any(r.get("status") == lifecycle.QUEUED for r in snapshot.values()):
        from orchestra import schedule  # a slot, disk or a raised limit may let a queued agent start

        schedule.nudge(ctx, snapshot)
    if any(r.get("status") == lifecycle.LIMITED for r in snapshot.values()):
        _end_overdue_limits(ctx, snapshot)
    _mourn(ctx, snapshot, panes)
    agents = ctx.state.agents_of(snapshot, checked=True)  # read_raw checked them; the lifecycle changed them
    return sorted(agents.values(), key=lambda a: a.created_at)


def watched_panes(records: dict[str, dict[str, Any]]) -> list[str]:
    """The panes whose screens are read with the panes: those of the agents whose records say
    the screen may tell more (reconcile uses a screen only where the pane turns out alive)."""
    return [r["pane"] for r in records.values() if r.get("pane") and screen_tells(r)]


def looking(
    ctx: Context,
) -> tuple[dict[str, dict[str, Any]], Callable[[], tuple[dict[str, Pane] | None, dict[str, str]]]]:
    """The records, and tmux asked about their panes: `observe(ctx, answer(), records)` once the
    caller has done its own work (reading worktrees) while tmux answers."""
    records = ctx.state.read_raw()
    return records, ctx.tmux.panes_and_screens_soon(watched_panes(records))


def _mourn(ctx: Context, records: dict[str, dict[str, Any]], panes: dict[str, Pane] | None) -> None:
    """An agent's pane that is dead while its end was never handled (tmux 3.3 sometimes fires no
    `pane-died`, and a killed shell never reaches `_exited`): run the pane-died handler for it, in
    the background. It claims the end under the state lock, so the `on_exit` hooks run once."""
    if not panes:
        return
    by_launch = {p.launch: p for p in panes.values() if p.launch and p.dead}
    for record in records.values():
        launch = record.get("launch_id")
        pane = by_launch.get(launch or "")
        if pane is None or record.get("death_handled") == launch:
            continue
        from orchestra.launch import launcher_argv

        status = "" if pane.dead_status is None else str(pane.dead_status)
        handler = launcher_argv("_pane-died", "--state-dir", str(ctx.state.dir))
        lifecycle.in_background(ctx.state, [*handler, pane.id, status, pane.window_name, launch or ""])


def _end_overdue_limits(ctx: Context, records: dict[str, dict[str, Any]]) -> None:
    """A limited agent whose reset passed long ago lost its timer: end its limit now, in the
    background (`_limit-end` does it once, however many looks ask)."""
    from orchestra import limits
    from orchestra.launch import launcher_argv

    for name in limits.overdue(records):
        argv = launcher_argv("_limit-end", "--state-dir", str(ctx.state.dir), name, records[name]["launch_id"] or "")
        lifecycle.in_background(ctx.state, argv)


def find(ctx: Context, name: str) -> Agent:
    from orchestra.errors import UnknownAgent

    for agent in observe(ctx):
        if agent.name == name:
            return agent
    raise UnknownAgent.named(name)


def changes_of(
    agents: Sequence[Agent | Place], state_dir: Path | None = None, ttl: float | None = None
) -> dict[str, dict[str, Any] | None]:
    """Lines added/removed per agent; with `state_dir`, through its cache (`orchestra.diffstats`),
    so git runs only for agents whose worktree changed or whose entry is older than `ttl`."""
    from orchestra import diffstats

    return diffstats.changes_of(agents, state_dir, diffstats.TTL if ttl is None else ttl)
