"""How long `orchestra ls --json` takes with 50 agents, against the tmux and git calls it needs.

50 demo agents are spawned: 25 with ORCHESTRA_DEMO_DELAY=0 (they write and commit a file at once
and exit, so their panes are dead and their diffs are not empty) and 25 with ORCHESTRA_DEMO_DELAY=600
(they stay running, their worktrees untouched). Once every agent has settled, `orchestra ls --json`
is run as a subprocess, as a user runs it, alternating with the floors:

  floor (diff)   one `tmux list-panes -a -F FORMAT` and 50 x `git diff --numstat BASE --`, in one
                 bash script, serially: the floor this benchmark was asked for
  floor (all)    the same plus 50 x `git ls-files --others --exclude-standard`, which ls also runs
                 per agent (to count untracked files): every command ls needs, serially
  floor (all,8)  floor (all) with the git commands run 8 at a time (xargs -P 8), as ls runs them

Two repositories: "small" (20 files, as in `orchestra demo`), where the figure is orchestra's own
cost, and "large" (5,000 files, 20 MB, as in spawn.py), where git's work dominates. In the large
one the measurement is repeated after one `git status` in every worktree: a fresh worktree's index
makes every `git diff` re-read files until some git command rewrites the index (see docs/performance.md).

Before the timings, the board (`orchestra ls --watch` in window 0, which runs the same git commands
every second) is watched for a few seconds to see how much CPU it takes, then closed so that it does
not weigh on the timings. `ls` is also run once with PATH wrappers for tmux and git that count
calls: how many tmux and git commands one `ls` runs.

The large repository gets half the runs (at least 5): each of its runs takes seconds.

Run: .venv/bin/python benchmarks/ls.py [--runs 15] [--agents 50] [--repo small|large|both] [--disk]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from orchestra.tmux import PANE_FORMAT

TARGET_MS = 250

FLOOR_DIFF = r"""
socket="$1"; shift
tmux -L "$socket" list-panes -a -F "$PANE_FORMAT" >/dev/null
while [ $# -gt 0 ]; do
  (cd "$1" && git diff --numstat "$2" -- >/dev/null)
  shift 2
done
"""

FLOOR_ALL = r"""
socket="$1"; shift
tmux -L "$socket" list-panes -a -F "$PANE_FORMAT" >/dev/null
while [ $# -gt 0 ]; do
  (cd "$1" && git diff --numstat "$2" -- >/dev/null && git ls-files --others --exclude-standard >/dev/null)
  shift 2
done
"""

FLOOR_PARALLEL = r"""
socket="$1"; shift
tmux -L "$socket" list-panes -a -F "$PANE_FORMAT" >/dev/null
printf '%s\n' "$@" | xargs -d '\n' -n 2 -P 8 sh -c \
  'cd "$0" && git diff --numstat "$1" -- >/dev/null && git ls-files --others --exclude-standard >/dev/null'
"""

SIZES = {"small": (20, 60_000), "large": (5000, 20_000_000)}


def ls_json(sb: c.Sandbox, repo: Path) -> list[dict]:
    return json.loads(sb.run([c.ORCHESTRA, "ls", "--json"], repo).stdout)


def settle(sb: c.Sandbox, repo: Path, agents: int, timeout: float = 120) -> list[dict]:
    """Wait until the quick agents have exited and the slow ones are running."""
    deadline = time.monotonic() + timeout
    while True:
        found = ls_json(sb, repo)
        statuses = [a["status"] for a in found]
        if statuses.count("exited") == agents - agents // 2 and statuses.count("running") == agents // 2:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"agents did not settle: {sorted(statuses)}")
        time.sleep(1)


def spawn_agents(sb: c.Sandbox, repo: Path, agents: int) -> None:
    quick, slow = agents - agents // 2, agents // 2
    for delay, count, word in (("0", quick, "quick"), ("600", slow, "slow")):
        env = {**sb.env, "ORCHESTRA_DEMO_DELAY": delay}
        tasks = [f"{word} task {i}" for i in range(1, count + 1)]
        for start in range(0, count, 10):  # batches of 10: spawn holds everything in one process otherwise
            sb.timed(
                [c.ORCHESTRA, "spawn", "--agent", "demo", "--no-attach", "--json", *tasks[start : start + 10]],
                repo,
                env,
            )


def measure(sb: c.Sandbox, repo: Path, agents: list[dict], runs: int, label: str) -> dict[str, list[float]]:
    pairs = [x for a in agents for x in (a["worktree"], a["base"])]
    env = {**sb.env, "PANE_FORMAT": PANE_FORMAT}
    commands = {
        "orchestra ls --json": [c.ORCHESTRA, "ls", "--json"],
        "floor (diff)": ["bash", "-c", FLOOR_DIFF, "floor", sb.socket, *pairs],
        "floor (all)": ["bash", "-c", FLOOR_ALL, "floor", sb.socket, *pairs],
        "floor (all,8)": ["bash", "-c", FLOOR_PARALLEL, "floor", sb.socket, *pairs],
    }
    for argv in commands.values():  # warm the page cache and Python's bytecode cache
        sb.timed(argv, repo, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for run in range(runs):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            samples[name].append(sb.timed(commands[name], repo, env))
    ls = c.median_ms(samples["orchestra ls --json"])
    print(f"\n[{label}] {len(agents)} agents, {runs} runs each")
    print(f"  {'':22} {'median':>9}  {'ls / this':>9}  spread")
    for name in names:
        median = c.median_ms(samples[name])
        ratio = "" if name.startswith("orchestra") else f"{ls / median:8.2f}x"
        print(f"  {name:22} {median:6.0f} ms  {ratio:>9}  ({c.spread(samples[name])})")
    print(f"  target: orchestra ls --json under {TARGET_MS} ms: {c.verdict(ls < TARGET_MS)}")
    return samples


def board_load(sb: c.Sandbox, repo: Path, session: str, seconds: float) -> int | None:
    """CPU used by the board (`orchestra ls --watch` in window 0, with the git commands it runs),
    as a share of one core over `seconds`; returns the board's pane process id."""
    out = sb.run([c.TMUX, "-L", sb.socket, "list-panes", "-t", f"={session}:0", "-F", "#{pane_pid}"], repo, check=False)
    if out.returncode != 0 or not out.stdout.strip():
        print("  (no board found in window 0)")
        return None
    pid = int(out.stdout.split()[0])

    def used() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime

    before, start = used(), time.perf_counter()
    time.sleep(seconds)
    share = (used() - before) / (time.perf_counter() - start)
    print(
        f"  the board (`ls --watch`, redrawing every second) used {share * 100:.0f}% of one core over {seconds:.0f} s"
    )
    return pid


def count(sb: c.Sandbox, repo: Path) -> None:
    path, log = c.counting_path(sb.dir / "wrappers", ["tmux", "git"], sb.env)
    sb.run([c.ORCHESTRA, "ls", "--json"], repo, env={**sb.env, "PATH": path})
    counts = c.count_calls(log)
    print(f"  one `orchestra ls --json` ran {c.describe_calls(counts, 'tmux')}")
    print(f"  and {c.describe_calls(counts, 'git')}")
    log.unlink()


def scenario(size: str, args, parent) -> None:
    files, total = SIZES[size]
    with c.Sandbox(f"ls-{size}", parent=parent) as sb:
        repo = sb.dir / "bench"
        started = time.perf_counter()
        c.make_repository(repo, files, total, sb.env)
        spawn_agents(sb, repo, args.agents)
        agents = settle(sb, repo, args.agents)
        counted, size_mb = c.repository_size(repo)
        print(
            f"\n== {size} repository: {counted} files, {size_mb / 1e6:.2f} MB; {args.agents} agents spawned and "
            f"settled in {time.perf_counter() - started:.0f} s (in {sb.dir.parent})"
        )
        count(sb, repo)
        board_load(sb, repo, agents[0]["session"], args.board_seconds)
        # The board polls git for every agent each second; it is closed so it does not weigh on the timings.
        sb.run([c.TMUX, "-L", sb.socket, "kill-window", "-t", f"={agents[0]['session']}:0"], repo, check=False)
        runs = args.runs if size == "small" else max(5, args.runs // 2)  # git's work makes large runs long
        measure(sb, repo, agents, runs, f"{size}, fresh worktrees")
        if size == "large":
            for agent in agents:
                sb.run(["git", "status", "--porcelain"], agent["worktree"])
            measure(sb, repo, agents, runs, f"{size}, after one `git status` in each worktree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--repo", choices=["small", "large", "both"], default="both")
    parser.add_argument("--board-seconds", type=float, default=8, help="how long to watch the board's CPU use")
    parser.add_argument("--disk", action="store_true", help="work on the real disk instead of /dev/shm")
    args = parser.parse_args()
    c.require_tools()
    started = time.perf_counter()
    print(f"machine: {c.machine()}")
    parent = None if args.disk else c.memory_dir()
    for size in ("small", "large") if args.repo == "both" else (args.repo,):
        scenario(size, args, parent)
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
