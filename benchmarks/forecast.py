"""How long the conflict forecast (`orchestra conflicts --json`) takes for 20 agents (190 pairs) in
the 5,000-file repository, cold and cached, against a shell loop of the same `git merge-tree` calls.

The repository is spawn.py's (5,000 files, 20 MB, one commit, packed). 20 agents are made as
orchestra makes them (a worktree on its own branch `orchestra/agentNN`, recorded in the state), with
no tmux: the forecast reads git only. Each agent edits two files of its own folder; on top of that
agents 0, 1 and 2 change the same first line of one file (three conflicting pairs), agents 3 and 4
of another (one pair), agents 5 and 6 change one file at its two ends (an overlap that merges
cleanly), and agent 7 changes a line the target then changes too (a conflict with the target).
Agents 0 to 13 commit their work; 14 to 19 leave it uncommitted, 19 with an untracked file too.
Each worktree then gets one `git status`, as an agent's own git use leaves it (its index refreshed:
`conflicts` reads worktrees with `--no-optional-locks` and never writes their index).

Taking turns, in a rotating order:

  cold      `orchestra conflicts --json` with forecast-cache.json (pair results and snapshot
            commits) removed: every side read, every pair decided (by the prefilter, or by git
            merge-tree), as a first forecast does
  cached    `orchestra conflicts --json` again: the sides read (a cached snapshot commit for each
            worktree whose uncommitted work may meet another side's), every pair found in the cache
  floor     a bash loop running `git merge-tree --write-tree --name-only --no-messages A B`, one
            after the other, for the same sides: 190 pairs plus 20 agents against the target
  floor with sides
            the same loop after reading the sides the same way, serially: `git status` in each
            worktree, and a commit made through a copy of the index of each one with uncommitted work

It also prints what the command runs (counting `git` wrapper on PATH), cold and cached, and the
in-process time of `orchestra.forecast.stored()`, what `ls` pays for showing a forecast.
Targets (issue 12): cold under 0.5x the floor; a cached forecast adds under 20 ms to `ls`.

With `--baseline DIR` (a folder holding another version's `orchestra` package, such as
`git archive <commit> orchestra | tar -x -C DIR`), that version's cold forecast is timed too, in
the same rotation (PYTHONPATH=DIR), so that both versions meet the same load.

Run: .venv/bin/python benchmarks/forecast.py [--runs 7] [--agents 20] [--files 5000] [--disk] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

FLOOR = r"""
while read -r a b; do git merge-tree --write-tree --name-only --no-messages "$a" "$b" >/dev/null; done < "$1"; exit 0
"""

# The floor with the sides read too: each worktree's `git status`, and for those with uncommitted
# work a commit of it through a copy of its index, then the same merges.
FLOOR_WITH_SIDES = r"""
while read -r wt; do git -C "$wt" --no-optional-locks status --porcelain --untracked-files=all >/dev/null; done < "$2"
while read -r wt; do
  index=$(git -C "$wt" rev-parse --path-format=absolute --git-path index)
  cp "$index" "$3/index"
  tree=$(GIT_INDEX_FILE="$3/index" git -C "$wt" add --all && GIT_INDEX_FILE="$3/index" git -C "$wt" write-tree)
  git -C "$wt" commit-tree "$tree" -p HEAD -m snapshot >/dev/null
done < "$4"
while read -r a b; do git merge-tree --write-tree --name-only --no-messages "$a" "$b" >/dev/null; done < "$1"; exit 0
"""


def git(sb: c.Sandbox, cwd: Path, *args: str) -> str:
    return sb.run([c.GIT, *args], cwd).stdout


def edit(path: Path, text: str, at_end: bool = False) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if at_end:
        lines[-1] = text + "\n"
    else:
        lines[0] = text + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def make_agents(sb: c.Sandbox, repo: Path, count: int, files: int) -> list:
    """`count` agents with worktrees and state records, their work as the module docstring says."""
    from orchestra.models import Agent, Status
    from orchestra.state import State

    base = git(sb, repo, "rev-parse", "HEAD").strip()
    folders = files // 100  # the last four folders are the shared ones, each agent has one of the others
    last = [f"{folders - k:03d}" for k in (1, 2, 3, 4)]
    shared = {0: last[0], 1: last[0], 2: last[0], 3: last[1], 4: last[1], 5: last[2], 6: last[2], 7: last[3]}
    agents = []
    for n in range(count):
        name = f"agent{n:02d}"
        worktree = sb.dir / "worktrees" / name
        git(sb, repo, "worktree", "add", "-q", "-b", f"orchestra/{name}", str(worktree), base)
        for file in ("mod000", "mod001"):
            edit(worktree / "src" / f"pkg{n % (folders - 4):03d}" / f"{file}.py", f"# {name} was here")
        if n in shared:
            edit(worktree / "src" / f"pkg{shared[n]}" / "mod000.py", f"# {name}'s line", at_end=n == 6)
        if n == count - 1:
            (worktree / "src" / "new_module.py").write_text("# new\n", encoding="utf-8")
        if n < count - 6:
            git(sb, worktree, "commit", "-qam", f"work of {name}")
        agents.append(
            Agent(
                name=name,
                task=f"task {n}",
                agent="demo",
                branch=f"orchestra/{name}",
                base=base,
                worktree=str(worktree),
                status=Status.EXITED,
                created_at=f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}+00:00",
            )
        )
    state = State(repo / ".git" / "orchestra")
    with state.update() as records:
        for agent in agents:
            records[agent.name] = agent
    edit(repo / "src" / f"pkg{last[3]}" / "mod000.py", "# the target's line")  # the target moves
    git(sb, repo, "commit", "-qam", "the target moves")
    for agent in agents:  # as an agent's own `git status` or commit leaves its index: refreshed
        git(sb, Path(agent.worktree), "status", "--porcelain")
    return agents


def sides(repo: Path, agents: list) -> tuple[str, list[str]]:
    """The target's commit and each agent's side (its snapshot commit when its worktree holds
    uncommitted work), as the forecast takes them, for the floor's merges."""
    from orchestra import forecast
    from orchestra.context import Context

    ctx = Context.open(repo)
    tips = forecast._branch_tips(ctx.project)
    placed = ctx.config.worktree["copy"] + ctx.config.worktree["symlink"]
    return tips["main"], [forecast._side(a, tips, placed, {})[0] for a in agents]


def count(sb: c.Sandbox, repo: Path, cache: Path) -> None:
    path, log = c.counting_path(sb.dir / "wrappers", ["git"], sb.env)
    for label in ("cold", "cached"):
        if label == "cold":
            cache.unlink(missing_ok=True)
        sb.run([c.ORCHESTRA, "conflicts", "--json"], repo, env={**sb.env, "PATH": path})
        merges = sum(1 for line in log.read_text().splitlines() if line.startswith("git merge-tree"))
        print(f"  one {label} forecast ran {c.describe_calls(c.count_calls(log), 'git')}; merge-tree batches: {merges}")
        log.write_text("")


def stored_cost(repo: Path) -> float:
    from orchestra import forecast
    from orchestra.context import Context

    ctx = Context.open(repo)
    forecast.forecast(ctx)  # stored, as the background refresh stores it
    took = []
    for _ in range(50):
        start = time.perf_counter()
        assert forecast.stored(ctx) is not None
        took.append(time.perf_counter() - start)
    return c.median_ms(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--disk", action="store_true", help="work on the real disk instead of /dev/shm")
    parser.add_argument("--baseline", help="a folder with another version's orchestra package, timed cold too")
    args = parser.parse_args()
    c.require_tools()
    print(f"machine: {c.machine()}")
    started = time.perf_counter()
    with c.Sandbox("forecast", parent=None if args.disk else c.memory_dir()) as sb:
        os.environ.update(sb.env)  # this process's own git calls (the sides, stored()) in the sandbox too
        repo = sb.dir / "bench"
        c.make_repository(repo, args.files, args.files * 4000, sb.env)
        files, size = c.repository_size(repo)
        agents = make_agents(sb, repo, args.agents, args.files)
        pairs = args.agents * (args.agents - 1) // 2
        print(f"\n{files} files, {size / 1e6:.1f} MB (in {sb.dir.parent}); {args.agents} agents, {pairs} pairs")
        target, commits = sides(repo, agents)
        merges = [(commits[i], commits[j]) for i in range(len(commits)) for j in range(i + 1, len(commits))]
        merges += [(commit, target) for commit in commits]
        listing = sb.dir / "merges.txt"
        listing.write_text("".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
        worktrees, dirty = sb.dir / "worktrees.txt", sb.dir / "dirty.txt"
        worktrees.write_text("".join(f"{a.worktree}\n" for a in agents), encoding="utf-8")
        dirty.write_text("".join(f"{a.worktree}\n" for a in agents[len(agents) - 6 :]), encoding="utf-8")
        scratch = sb.dir / "scratch"
        scratch.mkdir()
        cache = repo / ".git" / "orchestra" / "forecast-cache.json"
        conflicts = [c.ORCHESTRA, "conflicts", "--json"]

        def cold() -> tuple[float, float]:
            cache.unlink(missing_ok=True)
            return sb.timed_cpu(conflicts, repo)

        def baseline() -> tuple[float, float]:
            cache.unlink(missing_ok=True)
            return sb.timed_cpu(conflicts, repo, env={**sb.env, "PYTHONPATH": str(Path(args.baseline).resolve())})

        commands = {
            "cold": cold,
            **({"cold, baseline": baseline} if args.baseline else {}),
            "cached": lambda: sb.timed_cpu(conflicts, repo),
            f"floor ({len(merges)} merge-trees)": lambda: sb.timed_cpu(
                ["bash", "-c", FLOOR, "floor", str(listing)], repo
            ),
            "floor with sides": lambda: sb.timed_cpu(
                ["bash", "-c", FLOOR_WITH_SIDES, "floor", str(listing), str(worktrees), str(scratch), str(dirty)], repo
            ),
            "python -c pass": lambda: sb.timed_cpu([c.PYTHON, "-c", "pass"], repo),
        }
        for run in commands.values():  # the page cache and Python's bytecode cache warm
            run()
        found = sb.run(conflicts, repo).stdout
        import json

        data = json.loads(found)
        conflicting = [p["agents"] for p in data["pairs"] if p["conflicts"]]
        against = [n for n, s in data["agents"].items() if s["conflicts"]]
        print(f"  forecast: conflicting pairs {conflicting}; against the target {against}")
        print(f"  overlaps only: {[p['agents'] for p in data['pairs'] if not p['conflicts']]}; order {data['order']}")
        count(sb, repo, cache)
        names = list(commands)
        wall: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        for n in range(args.runs):
            for name in names[n % len(names) :] + names[: n % len(names)]:
                took, used = commands[name]()
                wall[name].append(took)
                cpu[name].append(used)
        floor = c.median_ms(wall[next(name for name in names if name.startswith("floor ("))])
        print(f"\n  {'':26} {'wall':>9}  {'CPU':>9}  {'/ floor':>8}  wall spread")
        for name in names:
            median = c.median_ms(wall[name])
            print(
                f"  {name:26} {median:6.0f} ms  {c.median_ms(cpu[name]):6.0f} ms  {median / floor:7.2f}x"
                f"  ({c.spread(wall[name])})"
            )
        ratio = c.median_ms(wall["cold"]) / floor
        print(f"  target: cold forecast under 0.5x the floor: {ratio:.2f}x {c.verdict(ratio < 0.5)}")
        if args.baseline:
            against = c.median_ms(wall["cold"]) / c.median_ms(wall["cold, baseline"])
            cpu_against = c.median_ms(cpu["cold"]) / c.median_ms(cpu["cold, baseline"])
            print(f"  cold against the baseline's cold: {against:.2f}x wall, {cpu_against:.2f}x CPU")
        with_sides = c.median_ms(wall["cold"]) / c.median_ms(wall["floor with sides"])
        print(f"  cold against the floor with the sides read: {with_sides:.2f}x")
        stored = stored_cost(repo)
        print(f"  in-process: stored() (what ls reads) {stored:.2f} ms; target under 20 ms: {c.verdict(stored < 20)}")
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
