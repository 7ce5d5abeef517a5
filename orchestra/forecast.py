"""A throwaway stand-in for the conflict forecast (committed work only), replaced by the real one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestra import files, git

if TYPE_CHECKING:
    from orchestra.context import Context
    from orchestra.models import Agent

FILENAME = "forecast.json"


@dataclass(frozen=True)
class Standing:
    conflicts: list[str]
    overlaps: list[str]


@dataclass(frozen=True)
class Pair:
    agents: tuple[str, str]
    conflicts: list[str]
    overlaps: list[str]


@dataclass
class Forecast:
    target: str
    target_commit: str
    agents: dict[str, Standing]
    pairs: list[Pair]
    order: list[str]
    new_conflicts: list[Pair] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "target_commit": self.target_commit,
            "agents": {n: {"conflicts": s.conflicts, "overlaps": s.overlaps} for n, s in self.agents.items()},
            "pairs": [{"agents": list(p.agents), "conflicts": p.conflicts, "overlaps": p.overlaps} for p in self.pairs],
            "order": self.order,
        }

    def conflicts_with(self, name: str) -> list[str]:
        others = sorted({o for p in self.pairs if p.conflicts and name in p.agents for o in p.agents if o != name})
        standing = self.agents.get(name)
        return others + ([self.target] if standing and standing.conflicts else [])


def _from_dict(data: dict[str, Any]) -> Forecast:
    return Forecast(
        target=data["target"],
        target_commit=data["target_commit"],
        agents={n: Standing(list(s["conflicts"]), list(s["overlaps"])) for n, s in data["agents"].items()},
        pairs=[Pair(tuple(p["agents"]), list(p["conflicts"]), list(p["overlaps"])) for p in data["pairs"]],
        order=list(data["order"]),
    )


def _merge(root: str, a: str, b: str) -> list[str]:
    out = git.run(["merge-tree", "--write-tree", "--name-only", "--no-messages", a, b], root, check=False)
    return sorted(set(out.stdout.splitlines()[1:])) if out.returncode == 1 else []


def _changed(root: str, base: str, tip: str) -> set[str]:
    return set(git.run(["diff", "--name-only", f"{base}...{tip}"], root, check=False).stdout.splitlines())


def forecast(
    ctx: Context,
    names: list[str] | None = None,
    *,
    agents: list[Agent] | None = None,
    target: str | None = None,
    store: bool = True,
) -> Forecast:
    from orchestra.reconcile import observe
    from orchestra.removal import merge_target

    root = str(ctx.project.root)
    target = target or merge_target(ctx)
    every = agents if agents is not None else observe(ctx)
    chosen = [a for a in every if a.status.value != "merged" and (names is None or a.name in names)]
    tip = git.run(["rev-parse", target], root).stdout.strip()
    standings = {}
    for agent in chosen:
        conflicts = _merge(root, tip, agent.branch)
        standings[agent.name] = Standing(conflicts, [])
    pairs = []
    for i, a in enumerate(chosen):
        for b in chosen[i + 1 :]:
            conflicts = _merge(root, a.branch, b.branch)
            both = sorted((_changed(root, tip, a.branch) & _changed(root, tip, b.branch)) - set(conflicts))
            if conflicts or both:
                pairs.append(Pair(tuple(sorted((a.name, b.name))), conflicts, both))  # type: ignore[arg-type]
    pairs.sort(key=lambda p: p.agents)
    fc = Forecast(target, tip, standings, pairs, [a.name for a in chosen])
    if store:
        before = stored(ctx)
        old = {p.agents for p in before.pairs if p.conflicts} if before else set()
        fc.new_conflicts = [p for p in pairs if p.conflicts and p.agents not in old]
        files.write_atomic(ctx.state.dir / FILENAME, json.dumps({"last": fc.to_dict()}))
    return fc


def stored(ctx: Context) -> Forecast | None:
    try:
        data = json.loads((ctx.state.dir / FILENAME).read_bytes())
        return _from_dict(data["last"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def order_of(fc: Forecast, names: list[str]) -> list[str]:
    return [n for n in fc.order if n in names]
