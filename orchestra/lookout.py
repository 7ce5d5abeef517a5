"""Conflicts while agents work: what `ls`, the board and the dashboard show of the conflict
forecast, keeping it fresh in the background, and telling the notifiers of new conflicts.

`ls` must stay fast, so it only reads the stored forecast (`forecast.stored`, no git) and looks,
with a few `stat` calls, whether what the forecast was made of has moved since: the target
branch's tip, each agent's branch tip and its worktree's index, the set of agents. When it has,
it starts `python -m orchestra _forecast` detached and shows the last forecast meanwhile. The
lifecycle starts the same process when an agent's status says its work may have changed (done,
waiting, exited, failed, merged). `_forecast` runs one at a time (one more may wait behind it,
which then sees every change made while the first ran; any further one has nothing to add and
leaves), stores the forecast, and publishes one `conflict` event for each pair of agents that
conflicts for the first time, so a notifier (Slack) hears of it while both still work.

The key of what a forecast was made of is kept in `forecast-key.json` (written by `_forecast`,
with the key taken before it ran, so a change made meanwhile counts as a change); the key of
the last refresh asked for in `forecast-asked.json`, so that repeated looks at a stale forecast
start one refresh, not one each. Edits in place that touch no index show at the agent's next
status change (the end of its turn), not at the next `ls`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra import files, lifecycle
from orchestra.errors import OrchestraError
from orchestra.models import Agent, Event, Status
from orchestra.state import State

if TYPE_CHECKING:
    from orchestra.context import Context
    from orchestra.forecast import Forecast

KEY_FILE = "forecast-key.json"
ASKED_FILE = "forecast-asked.json"
RUN_LOCK = "forecast-run.lock"  # not `forecast.lock`, which each forecast itself takes
QUEUE_LOCK = "forecast-queue.lock"
ASK_AGAIN = 120.0  # seconds after which a refresh asked for and never done is asked for again


class Conflicts:
    """What the faces show: each agent's `conflicts_with` from the last stored forecast, and the
    files on request."""

    def __init__(self, forecast: Forecast | None, current: bool, merged: frozenset[str] = frozenset()) -> None:
        self.forecast = forecast
        self.current = current  # made of what the agents and the target are now
        self.merged = merged  # agents merged since, perhaps after the forecast: their work is in the target

    def of(self, name: str) -> list[str]:
        """The agents, then the target, that `name` is forecast to conflict with."""
        if self.forecast is None or name in self.merged:
            return []
        return [other for other in self.forecast.conflicts_with(name) if other not in self.merged]

    def files_of(self, name: str) -> dict[str, list[str]]:
        """For each name in `of(name)`: the files that would conflict."""
        if self.forecast is None:
            return {}
        found = {}
        for pair in self.forecast.pairs:
            if pair.conflicts and name in pair.agents:
                other = pair.agents[1] if pair.agents[0] == name else pair.agents[0]
                found[other] = list(pair.conflicts)
        standing = self.forecast.agents.get(name)
        if standing is not None and standing.conflicts:
            found[self.forecast.target] = list(standing.conflicts)
        return {other: found[other] for other in self.of(name) if other in found}

    def by_agent(self, agents: list[Agent]) -> dict[str, list[str]]:
        return {a.name: self.of(a.name) for a in agents}

    def lines(self) -> list[tuple[str, str, list[str]]]:
        """Every conflict of the forecast: (agent, the other agent or the target, files)."""
        if self.forecast is None:
            return []
        found = [(p.agents[0], p.agents[1], list(p.conflicts)) for p in self.forecast.pairs if p.conflicts]
        found += [(n, self.forecast.target, list(s.conflicts)) for n, s in self.forecast.agents.items() if s.conflicts]
        return sorted(line for line in found if not self.merged & {line[0], line[1]})

    def to_dict(self) -> dict[str, Any]:
        """What the dashboard's API serves: the stored forecast as `orchestra conflicts --json`
        prints it (null before the first), and whether it is current."""
        return {"forecast": self.forecast.to_dict() if self.forecast is not None else None, "current": self.current}


def look(ctx: Context, agents: list[Agent], refresh: bool = True, reap: bool = False) -> Conflicts:
    """The stored forecast, read without git; when it is out of date (and `refresh`), a refresh
    started in the background, once per change. `reap` for a long-lived caller (the board)."""
    from orchestra.forecast import stored

    forecast = stored(ctx)
    key = key_of(ctx, agents)
    current = forecast is not None and key is not None and _read(ctx.state.dir / KEY_FILE).get("key") == key
    if not current and refresh and any(a.status != Status.MERGED for a in agents):
        ask(ctx.state, key, reap)
    return Conflicts(forecast, current, frozenset(a.name for a in agents if a.status == Status.MERGED))


def ask(state: State, key: list[Any] | None, reap: bool = False) -> bool:
    """Start a refresh unless one was asked for this same key a short while ago; True if started."""
    path = state.dir / ASKED_FILE
    asked = _read(path)
    if key is not None and asked.get("key") == key and time.time() - asked.get("at", 0) < ASK_AGAIN:
        return False
    with contextlib.suppress(OSError):
        files.write_atomic(path, json.dumps({"key": key, "at": time.time()}))
    lifecycle.forecast_in_background(state, reap)
    return True


def key_of(ctx: Context, agents: list[Agent]) -> list[Any] | None:
    """What the forecast depends on, read with `stat` calls and small file reads and no git: the
    target and its tip, and per agent not merged its branch's tip and its worktree's index.
    None where a ref cannot be read from files (a reftable): then nothing is ever current, and
    refreshes are asked for at most every `ASK_AGAIN` seconds. Plain strings and `os` calls:
    `ls` runs this for every agent, and pathlib's objects cost more than the reads."""
    common = str(ctx.project.common_dir)
    if os.path.exists(os.path.join(common, "reftable")):
        return None
    target = ctx.config.merge.get("target") or _current_branch(common)
    key: list[Any] = [target, _ref(common, f"refs/heads/{target}") if target else None]
    for agent in sorted(agents, key=lambda a: a.name):
        if agent.status == Status.MERGED or agent.no_worktree:  # never in the forecast
            continue
        key.append([agent.name, agent.branch, _ref(common, f"refs/heads/{agent.branch}"), _index(agent.worktree)])
    return key


def _current_branch(common: str) -> str | None:
    text = _text(os.path.join(common, "HEAD"))
    return text.removeprefix("ref:").strip().removeprefix("refs/heads/") if text and text.startswith("ref:") else None


def _ref(common: str, ref: str) -> str | list[int] | None:
    """The commit a branch names, from its loose ref file; a packed one by the stamp of the
    packed-refs file (which every change to a packed ref rewrites)."""
    loose = _text(os.path.join(common, ref))
    if loose is not None:
        return loose
    return _stamp(os.path.join(common, "packed-refs"))


def _index(worktree: str) -> list[int] | None:
    """The stamp of the worktree's own index (`<common dir>/worktrees/<id>/index`), found from its
    `.git` file."""
    pointer = _text(os.path.join(worktree, ".git"))
    if pointer is None or not pointer.startswith("gitdir:"):
        return None
    return _stamp(os.path.join(worktree, pointer.removeprefix("gitdir:").strip(), "index"))


def _text(path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).decode("utf-8", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def _stamp(path: str) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size, info.st_ino]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- the refresh: `python -m orchestra _forecast --state-dir DIR` ------------------------------


def refresh(ctx: Context) -> Forecast:
    """Forecast every agent not merged, store it with the key it was made of, and tell the
    notifiers of each pair that conflicts for the first time."""
    from orchestra.forecast import forecast

    agents = [a for a in ctx.state.read().values() if a.status != Status.MERGED]
    key = key_of(ctx, agents)
    found = forecast(ctx, agents=agents, store=True)
    with contextlib.suppress(OSError):
        files.write_atomic(ctx.state.dir / KEY_FILE, json.dumps({"key": key}))
    announce(ctx.state, found)
    return found


def announce(state: State, found: Forecast) -> list[Event]:
    """One `conflict` event per pair in `found.new_conflicts`, logged and handed to the notifiers."""
    events = [
        Event(
            "conflict",
            agent=pair.agents[0],
            data={"with": pair.agents[1], "files": list(pair.conflicts), "target": found.target},
        )
        for pair in found.new_conflicts
    ]
    lifecycle.publish(state, [e.to_dict() for e in events])
    return events


def main(argv: list[str]) -> int:
    """Entry point for `_forecast`: one refresh at a time, one more waiting at most; problems go
    to the event log, since no one watches this process."""
    if len(argv) != 2 or argv[0] != "--state-dir":
        return 2
    state = State(Path(argv[1]))
    if not state.dir.is_dir():
        return 0  # the repository is gone
    state.hold_busy()
    # Not niced: a refresh reconciles, so it takes the state lock, and a holder the scheduler
    # starves on a busy machine would stall every agent's hooks and exits behind it.
    with files.one_running_one_waiting(state.dir / QUEUE_LOCK, state.dir / RUN_LOCK) as mine:
        if mine:
            _refresh_here(state)
    return 0


def _refresh_here(state: State) -> None:
    try:
        from orchestra.context import Context

        refresh(Context.open(state.dir.parent.parent))
    except Exception as error:  # noqa: BLE001 - nobody watches this process: the event log says why
        message = str(error) if isinstance(error, OrchestraError) else f"{type(error).__name__}: {error}"
        with contextlib.suppress(Exception):
            last = _read(state.dir / KEY_FILE)
            if last.get("error") != message:  # said once, not at every agent's turn
                state.append_events([lifecycle.event("forecast-error", None, {"message": message})])
            files.write_atomic(state.dir / KEY_FILE, json.dumps({"key": last.get("key"), "error": message}))
