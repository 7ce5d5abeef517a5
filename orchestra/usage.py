"""Each agent's token usage and its estimated cost, kept in `usage.json` so that `ls`, `report`
and the dashboard read an agent CLI's records only when they changed.

The kind's plugin reads the records (the `agent_usage` hook) and names the files it read; an
entry is reused while the agent's record names the same conversation and every one of those
files has the size and modification time it had when it was read (`stat` calls, no parsing,
no plugin loaded). An agent whose kind keeps no records is kept as null the same way.

Concurrent writers need no lock: each entry holds its counts with the stamps they were read
under, so whichever write lands last, every entry is true for its own key.

The cost is an estimate from the user's own `[usage] prices` (per million tokens, per model);
nothing is fetched from the network.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra import files
from orchestra.config import PRICE_KEYS
from orchestra.models import USAGE_COUNTS, Agent, Usage, usage_count

if TYPE_CHECKING:
    from orchestra.context import Context

FILENAME = "usage.json"
VERSION = 1


@dataclass
class AgentUsage:
    """What `ls --json`, `report` and the dashboard show of one agent's usage."""

    usage: dict[str, int] | None  # the four counts summed over models; None: the kind records none
    cost: float | None  # None: no prices, or a model without a price
    models: dict[str, dict[str, int]]


def usage_of(ctx: Context, agents: list[Agent]) -> dict[str, AgentUsage]:
    """Every agent's usage and cost; the plugins are loaded and asked only for agents whose
    cache entry no longer holds."""
    return UsageCache(ctx.state.dir).read(ctx, agents)


class UsageCache:
    """The entries of `usage.json`, read once; a long-lived reader (the dashboard) keeps one."""

    def __init__(self, state_dir: Path | None) -> None:
        self.state_dir = state_dir
        self.entries = _read(state_dir) if state_dir is not None else {}

    def read(self, ctx: Context, agents: list[Agent]) -> dict[str, AgentUsage]:
        found: dict[str, AgentUsage] = {}
        fresh: dict[str, dict[str, Any]] = {}
        prices = ctx.config.usage.get("prices") or {}
        for agent in agents:
            entry = self.entries.get(agent.name)
            if entry is None or not _holds(entry, agent):
                entry = fresh[agent.name] = _ask(ctx, agent, _previous(entry, agent))
            models = entry["models"]
            found[agent.name] = AgentUsage(
                usage=None if models is None else Usage(models).totals(),
                cost=None if models is None else cost_of(models, prices),
                models=models or {},
            )
        if fresh:
            # Only the agents asked about: every caller asks about all of them, so a removed
            # agent's entry goes.
            names = {a.name for a in agents}
            self.entries = {n: e for n, e in {**self.entries, **fresh}.items() if n in names}
            if self.state_dir is not None:
                _write(self.state_dir, self.entries)
        return found


def _record_key(agent: Agent, with_activity: bool) -> list[Any]:
    """What the answer depends on in the agent's record; its last change only for an answer that
    read no file (a CLI that has not written its record yet names none)."""
    return [agent.kind, agent.worktree, agent.session_id, agent.transcript, agent.updated_at if with_activity else None]


def _holds(entry: dict[str, Any], agent: Agent) -> bool:
    if entry["key"] != _record_key(agent, not entry["stamps"]):
        return False
    return all(_stamp(path) == stamp for path, stamp in entry["stamps"].items())


def _previous(entry: dict[str, Any] | None, agent: Agent) -> Usage | None:
    """The last answer, for a plugin to read on from, while the record names the same conversation."""
    if entry is None or entry["models"] is None or entry["key"][:4] != _record_key(agent, False)[:4]:
        return None
    state = entry.get("state")
    return Usage(models=entry["models"], sources=list(entry["stamps"]), state=state if isinstance(state, dict) else {})


def _ask(ctx: Context, agent: Agent, previous: Usage | None) -> dict[str, Any]:
    """The plugin's answer, with the stamps of its sources taken before it read them: a change
    made while it reads then shows at the next look."""
    known = [*(previous.sources if previous else []), *([agent.transcript] if agent.transcript else [])]
    before = {path: _stamp(path) for path in known}
    plugins = ctx.plugins
    hook = getattr(plugins.manager.hook, "agent_usage", None)
    answer = (
        plugins.call_first("agent_usage", agent=agent, config=ctx.config, previous=previous)
        if hook is not None
        else None
    )
    if not isinstance(answer, Usage):
        return {"key": _record_key(agent, True), "stamps": {}, "models": None}
    stamps = {str(path): before[str(path)] if str(path) in before else _stamp(str(path)) for path in answer.sources}
    models = {str(model): _counts(counts) for model, counts in answer.models.items() if isinstance(counts, dict)}
    entry = {"key": _record_key(agent, not stamps), "stamps": stamps, "models": models}
    try:
        json.dumps(answer.state)
        entry["state"] = answer.state
    except (TypeError, ValueError):
        pass  # notes that are not JSON are not kept: the next read starts over
    return entry


def _counts(counts: dict[str, Any]) -> dict[str, int]:
    """The four counts, each a whole number 0 or more, whatever a plugin handed back."""
    found = {}
    for name in USAGE_COUNTS:
        found[name] = usage_count(counts.get(name, 0))
    return found


def _stamp(path: str) -> list[int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in a damaged entry's path
        return None
    return [info.st_size, info.st_mtime_ns]


def cost_of(models: dict[str, dict[str, int]], prices: dict[str, dict[str, float]]) -> float | None:
    """The estimated cost of the counts at `prices` (per million tokens), or None when there are
    no prices or a model that used tokens has none (a partial sum would mislead)."""
    if not prices:
        return None
    total = 0.0
    for model, counts in models.items():
        if not any(counts.values()):
            continue
        price = price_of(model, prices)
        if price is None:
            return None
        total += sum(counts.get(count, 0) * float(price.get(key, 0)) for key, count in PRICE_KEYS.items()) / 1e6
    return round(total, 6)


def price_of(model: str, prices: dict[str, dict[str, float]]) -> dict[str, float] | None:
    """The prices of `model`: its own entry, else the longest entry its name starts with (so
    `claude-sonnet-4-5` prices `claude-sonnet-4-5-20250929`)."""
    if model in prices:
        return prices[model]
    names = [name for name in prices if model.startswith(name)]
    return prices[max(names, key=len)] if names else None


def _read(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The cache as stored; what is damaged or of another version is left out (read again)."""
    try:
        data = json.loads((state_dir / FILENAME).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("agents"), dict):
        return {}
    return {name: e for name, e in data["agents"].items() if _sound(e)}


def _sound(entry: Any) -> bool:
    """An entry of the shape `_ask` writes: the key a list, each stamp a list or null, each model's
    counts whole numbers (a hand-edited or damaged entry is asked again, never summed)."""
    if not (isinstance(entry, dict) and isinstance(entry.get("key"), list) and isinstance(entry.get("stamps"), dict)):
        return False
    models = entry.get("models")
    return all(stamp is None or isinstance(stamp, list) for stamp in entry["stamps"].values()) and (
        models is None
        or (
            isinstance(models, dict)
            and all(
                isinstance(counts, dict) and all(usage_count(n) == n for n in counts.values())
                for counts in models.values()
            )
        )
    )


def _write(state_dir: Path, entries: dict[str, dict[str, Any]]) -> None:
    payload = json.dumps({"version": VERSION, "agents": entries}, separators=(",", ":"))
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs a read next time
        state_dir.mkdir(exist_ok=True)
        files.write_atomic(state_dir / FILENAME, payload)
