"""STAND-IN for the forecast branch's module (same API); replaced when that branch is merged."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestra import git
from orchestra.context import Context
from orchestra.models import Agent, Status
from orchestra.reconcile import observe
from orchestra.removal import merge_target
from orchestra.worktrees import scratch_index


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
    spawned: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "target_commit": self.target_commit,
            "agents": {n: {"conflicts": s.conflicts, "overlaps": s.overlaps} for n, s in self.agents.items()},
            "pairs": [{"agents": list(p.agents), "conflicts": p.conflicts, "overlaps": p.overlaps} for p in self.pairs],
            "order": self.order,
        }

    def conflicts_with(self, name: str) -> list[str]:
        others = sorted(next(a for a in p.agents if a != name) for p in self.pairs if name in p.agents and p.conflicts)
        standing = self.agents.get(name)
        return others + ([self.target] if standing and standing.conflicts else [])


def _tip(project_root: Path, agent: Agent) -> str:
    worktree = Path(agent.worktree)
    branch = git.run(["rev-parse", f"refs/heads/{agent.branch}"], project_root).stdout.strip()
    if not worktree.is_dir():
        return branch
    with scratch_index(worktree) as env:
        git.run(["add", "--all"], worktree, env=env)
        tree = git.run(["write-tree"], worktree, env=env).stdout.strip()
    if git.run(["rev-parse", f"{branch}^{{tree}}"], project_root).stdout.strip() == tree:
        return branch
    env = git.identity_env(project_root)
    return git.run(["commit-tree", tree, "-p", branch, "-m", "forecast"], project_root, env=env).stdout.strip()


def _compare(root: Path, a: str, b: str) -> tuple[list[str], list[str]]:
    result = git.run(["merge-tree", "--write-tree", "--name-only", "--no-messages", a, b], root, check=False)
    conflicts = sorted(set(result.stdout.splitlines()[1:])) if result.returncode == 1 else []
    base = git.run(["merge-base", a, b], root, check=False).stdout.strip()
    if not base:
        return conflicts, []
    changed_a = set(git.run(["diff", "--name-only", base, a], root).stdout.splitlines())
    changed_b = set(git.run(["diff", "--name-only", base, b], root).stdout.splitlines())
    return conflicts, sorted((changed_a & changed_b) - set(conflicts))


def forecast(
    ctx: Context,
    names: list[str] | None = None,
    *,
    agents: list[Agent] | None = None,
    target: str | None = None,
    store: bool = True,
) -> Forecast:
    root = ctx.project.root
    agents = observe(ctx) if agents is None else agents
    chosen = [a for a in agents if (a.name in names if names is not None else a.status != Status.MERGED)]
    target = target or merge_target(ctx)
    target_commit = git.run(["rev-parse", f"refs/heads/{target}"], root).stdout.strip()
    tips = {a.name: _tip(root, a) for a in chosen}
    standings = {}
    for name, tip in tips.items():
        conflicts, overlaps = _compare(root, target_commit, tip)
        standings[name] = Standing(conflicts, overlaps)
    pairs = []
    for x, y in itertools.combinations(sorted(tips), 2):
        conflicts, overlaps = _compare(root, tips[x], tips[y])
        if conflicts or overlaps:
            pairs.append(Pair((x, y), conflicts, overlaps))
    fc = Forecast(target, target_commit, standings, pairs, [], spawned={a.name: a.created_at for a in chosen})
    fc.order = order_of(fc, list(tips))
    return fc


def stored(ctx: Context) -> Forecast | None:
    return None


def order_of(fc: Forecast, names: list[str]) -> list[str]:
    def key(name: str) -> tuple[int, int, str]:
        partners = [p for p in fc.pairs if name in p.agents and p.conflicts]
        standing = fc.agents.get(name)
        group = 2 if standing and standing.conflicts else (1 if partners else 0)
        return group, len(partners) if group == 1 else 0, fc.spawned.get(name, "")

    return sorted(names, key=key)
