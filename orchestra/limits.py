"""Usage limits waited out: an agent that hit its account's usage or rate limit goes on by itself.

An agent CLI that reports a usage or rate limit (its translator's hook event `limited`: Claude
Code's StopFailure with `rate_limit`) is `limited`, not `failed`: it sits at its prompt with its
conversation intact. `[schedule] on_limit = "wait"` (the default) then:

- sets when it goes on (`limited_until`): the reset time its CLI gave, or now plus
  `[schedule] limit_backoff` when it gave none (`prepare`, in the hook handler);
- holds the queued agents of the same kind while any agent of that kind is limited (`holds`):
  they would only hit the same limit;
- leaves the waiting to tmux: `_limit` (started by the lifecycle's `publish` when an agent
  becomes limited) sets a `run-shell -d` timer on the agent's tmux server, so no process of
  orchestra waits, and the timer dies with the server, as the agent does;
- at that time, `_limit-end` moves the agent on (`limit-ended`, under the state lock, so it
  happens once however many timers fire) and types `CONTINUE` at its prompt through `send`
  (or its kind's `limit_continue`, an answer to the CLI's own dialog), which proves first that
  the pane is the agent's. The status change starts the queue again. A kind whose CLI retries
  by itself (`limit_over_patterns`: opencode, aider) is only moved on, and its screen may end
  the limit before then (`orchestra.reconcile`).

`on_limit = "fail"` makes the same report `failed`, as any other API error.
"""

from __future__ import annotations

import contextlib
import datetime
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra import lifecycle
from orchestra.launch import launcher_argv
from orchestra.models import until_phrase
from orchestra.state import State

if TYPE_CHECKING:
    from orchestra.context import Context
    from orchestra.schedule import Hold

# What orchestra types into a limited agent when its limit has reset: one line, in its words.
CONTINUE = "orchestra: the usage limit has reset. Continue the task where you left off."
DEFAULT_BACKOFF = 300.0  # seconds, when orchestra.toml cannot be read
EARLY = 1.0  # seconds a timer may fire before the reset and still count
LATE = 30.0  # seconds past the reset after which any look at the agents ends the limit itself


def prepare(state: State, data: dict[str, Any]) -> dict[str, Any]:
    """The hook event `limited` as the lifecycle takes it: with `on_limit` and `until` (the
    CLI's reset time if it gave one in the future, else now plus `limit_backoff`) from the
    project's orchestra.toml. Only the hook handler calls this, for this rare event."""
    schedule: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # a broken orchestra.toml must not lose the event
        from orchestra import config

        root = state.dir.parent.parent
        schedule = config.load(root, root).schedule
    return {**data, **settle(schedule, data.get("until"))}


def settle(schedule: dict[str, Any], until: Any = None) -> dict[str, Any]:
    """`on_limit` and `until` for a limit just seen: the reset time given, if it is to come,
    else now plus `[schedule] limit_backoff` (from `schedule`, orchestra.toml's table)."""
    from orchestra import config

    try:
        backoff = config.parse_duration(schedule.get("limit_backoff") or "") or DEFAULT_BACKOFF
    except ValueError:
        backoff = DEFAULT_BACKOFF
    now = datetime.datetime.now(datetime.timezone.utc)
    reset = _time(until)
    if reset is None or reset <= now:
        reset = now + datetime.timedelta(seconds=backoff)
    return {"on_limit": schedule.get("on_limit") or "wait", "until": reset.isoformat(timespec="seconds")}


def _time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        found = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.tzinfo else found.astimezone()


def seconds_left(record: dict[str, Any]) -> float:
    """Until the agent's limit ends (negative once it has)."""
    until = _time(record.get("limited_until"))
    if until is None:
        return 0.0
    return (until - datetime.datetime.now(datetime.timezone.utc)).total_seconds()


def holds(ctx: Context, records: dict[str, dict[str, Any]]) -> list[Hold]:
    """With `on_limit = "wait"`: hold a queued agent while an agent of its kind is limited."""
    if ctx.config.schedule.get("on_limit", "wait") != "wait":
        return []
    limited: dict[Any, dict[str, Any]] = {}
    for record in records.values():
        if record.get("status") == lifecycle.LIMITED:
            limited.setdefault(record.get("agent"), record)

    def hold(queued: dict[str, Any]) -> str | None:
        found = limited.get(queued.get("agent"))
        if found is None:
            return None
        return f"the usage limit of {found.get('agent')} agents ({found['name']} is limited {until_phrase(found.get('limited_until'))})"

    return [hold] if limited else []


def overdue(records: dict[str, dict[str, Any]]) -> list[str]:
    """Limited agents whose reset passed a while ago without their timer firing (a tmux timer
    lost, a machine asleep): any look at the agents ends their limit instead."""
    return [name for name, r in records.items() if r.get("status") == lifecycle.LIMITED and seconds_left(r) < -LATE]


# -- `python -m orchestra _limit --state-dir DIR NAME` and `_limit-end --state-dir DIR NAME LAUNCH` --


def arm_main(argv: list[str]) -> int:
    """Entry point for `_limit`: set the timer that ends the agent's limit. Problems go to the
    event log (`limit-error`), since no one watches this process."""
    if len(argv) != 3 or argv[0] != "--state-dir":
        return 2
    state = State(Path(argv[1]))
    with lifecycle.problems_logged(state, "limit-error", argv[2]):
        from orchestra.context import Context

        arm(Context.open(state.dir.parent.parent), argv[2])
    return 0


def arm(ctx: Context, name: str) -> bool:
    """Ask the agent's tmux server to run `_limit-end` for it when its limit resets; False when
    it is not limited or its pane is not its own (reconcile then calls it lost)."""
    from orchestra.reconcile import owned_pane

    record = ctx.state.read_raw().get(name)
    if record is None or record.get("status") != lifecycle.LIMITED or not record.get("launch_id"):
        return False
    agent = ctx.state.agents_of({name: record})[name]
    pane = owned_pane(ctx, agent)
    if pane is None or pane.dead:
        return False
    end = launcher_argv("_limit-end", "--state-dir", str(ctx.state.dir), name, record["launch_id"])
    delay = max(0.0, seconds_left(record))
    # run-shell expands formats, so a '#' (in a path) is doubled to stay literal.
    ctx.tmux.cmd("run-shell", "-b", "-d", f"{delay:.1f}", "-t", pane.id, shlex.join(end).replace("#", "##"))
    return True


def end_main(argv: list[str]) -> int:
    """Entry point for `_limit-end`, which the timer runs."""
    if len(argv) != 4 or argv[0] != "--state-dir":
        return 2
    state = State(Path(argv[1]))
    if not state.dir.is_dir():
        return 0  # the repository is gone
    state.hold_busy()
    with lifecycle.problems_logged(state, "limit-error", argv[2]):
        from orchestra.context import Context

        end(Context.open(state.dir.parent.parent), argv[2], argv[3])
    return 0


def end(ctx: Context, name: str, launch: str | None = None) -> bool:
    """End the agent's limit if it has reset: move it on under the state lock (once, however
    many timers fire) and type `CONTINUE` at its prompt. A timer that fired early (the limit was
    moved later meanwhile) sets a new one. True if this call moved it on."""
    from orchestra.errors import OrchestraError
    from orchestra.sending import send

    early = False
    with ctx.state.update_raw() as records:
        record = records.get(name)
        if record is None or record.get("status") != lifecycle.LIMITED:
            return False
        if launch is not None and record.get("launch_id") != launch:
            return False  # the timer of an earlier launch, which a resume replaced
        early = seconds_left(record) > EARLY
        changed = None if early else lifecycle.apply_to(records, name, "limit-ended", note={"by": "schedule"})
    if early:  # the limit was moved later since this timer was set: set one for the new time
        arm(ctx, name)
        return False
    lifecycle.publish(ctx.state, [changed] if changed else [])
    kind = ctx.plugins.kinds.get(str(record.get("agent")))
    if kind is not None and kind.limit_over_patterns:
        return True  # its CLI retries by itself: a prompt would only queue behind its retry
    try:
        send(ctx, name, (kind.limit_continue if kind else "") or CONTINUE)
    except OrchestraError as error:
        ctx.state.append_events([lifecycle.event("limit-error", name, {"message": str(error)})])
    return True
