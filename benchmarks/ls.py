"""How long `orchestra ls --json` takes with 50 (100, 200) agents, against the tmux and git calls it needs.

Demo agents are spawned: half with ORCHESTRA_DEMO_DELAY=0 (they write and commit a file at once
and exit, so their panes are dead and their diffs are not empty) and half with ORCHESTRA_DEMO_DELAY=600
(they stay running, their worktrees untouched). Once every agent has settled, `orchestra ls --json`
is run as a subprocess, as a user runs it, taking turns with the floors:

  ls, cache warm   `ls --json` right after another `ls` (untimed), every entry of the diff-stat
                   cache (diffstat.json) then marked as checked now (on a loaded machine the untimed
                   run alone can outlast the 5 s time-to-live): nothing changed, so every key is
                   checked and holds, and no git call; what is left is Python, imports, the state
                   file and one tmux call
  ls, no cache     `ls --json` with diffstat.json removed first: git for every agent, as before the cache
  python -c pass   the interpreter's start, the floor of any Python command
  floor (all,8)    one `tmux list-panes -a -F FORMAT`, then `git diff --numstat BASE --` and
                   `git ls-files --others --exclude-standard` for every agent, 8 at a time (xargs -P 8):
                   every command ls without a cache needs

Two repositories: "small" (20 files, as in `orchestra demo`) and "large" (5,000 files, 20 MB, as
in spawn.py). With several `--agents` sizes, agents are added up to each size in turn.

Before the timings, the board (`orchestra ls --watch` in window 0) is watched for `--board-seconds`
(default 35, so that one of its 30 s full looks falls inside) to see how much CPU it takes: right
after the spawns (its first looks at the new worktrees, and one git look at each entry `ls` made
before the board watched its worktree), and again once the diff-stat time-to-live (60 s) has
passed since (idle agents; `--no-board-idle` leaves this out). Then it is closed so that it does
not weigh on the timings. `ls` is also run once with PATH wrappers for tmux
and git that count calls, with the cache warm.

Run: .venv/bin/python benchmarks/ls.py [--runs 15] [--agents 50[,100,200]] [--repo small|large|both]
     [--board-seconds 35] [--no-board-idle] [--disk]
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

from orchestra.diffstats import TTL
from orchestra.tmux import PANE_FORMAT

TARGET_MS = 150

FLOOR_PARALLEL = r"""
socket="$1"; shift
tmux -L "$socket" list-panes -a -F "$PANE_FORMAT" >/dev/null
printf '%s\n' "$@" | xargs -d '\n' -n 2 -P 8 sh -c \
  'cd "$0" && git diff --numstat "$1" -- >/dev/null && git ls-files --others --exclude-standard >/dev/null'
"""

SIZES = {"small": (20, 60_000), "large": (5000, 20_000_000)}


def ls_json(sb: c.Sandbox, repo: Path) -> list[dict]:
    return json.loads(sb.run([c.ORCHESTRA, "ls", "--json"], repo).stdout)


def settle(sb: c.Sandbox, repo: Path, agents: int, timeout: float = 600) -> list[dict]:
    """Wait until the quick agents have exited and the slow ones are running."""
    deadline = time.monotonic() + timeout
    while True:
        found = ls_json(sb, repo)
        statuses = [a["status"] for a in found]
        if len(found) == agents and statuses.count("exited") + statuses.count("running") == agents:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"agents did not settle: {sorted(statuses)}")
        time.sleep(1)


def spawn_agents(sb: c.Sandbox, repo: Path, agents: int, have: int = 0) -> None:
    """Agents up to `agents` in all, half quick and half slow, `have` of them there already."""
    quick, slow = agents - agents // 2 - (have - have // 2), agents // 2 - have // 2
    for delay, count, word in (("0", quick, "quick"), ("600", slow, "slow")):
        env = {**sb.env, "ORCHESTRA_DEMO_DELAY": delay}
        first = (have - have // 2 if word == "quick" else have // 2) + 1
        tasks = [f"{word} task {i}" for i in range(first, first + count)]
        for start in range(0, count, 10):  # batches of 10: spawn holds everything in one process otherwise
            sb.timed(
                [c.ORCHESTRA, "spawn", "--agent", "demo", "--no-attach", "--json", *tasks[start : start + 10]],
                repo,
                env,
            )


def measure(sb: c.Sandbox, repo: Path, agents: list[dict], runs: int, label: str) -> dict[str, list[float]]:
    """Wall and CPU medians of each command, taking turns; CPU time (the process and the git and
    tmux commands it waited for) is far less disturbed by other jobs on a shared machine."""
    pairs = [x for a in agents for x in (a["worktree"], a["base"])]
    env = {**sb.env, "PANE_FORMAT": PANE_FORMAT}
    cache = repo / ".git" / "orchestra" / "diffstat.json"
    ls = [c.ORCHESTRA, "ls", "--json"]

    def warm() -> tuple[float, float]:
        sb.run(ls, repo)  # untimed: every entry holds its worktree's key now
        # and is made as young as can be, so that the timed run tests every entry's key and finds
        # it valid: on a loaded machine the untimed run alone can outlast the 5 s time-to-live.
        data = json.loads(cache.read_text())
        for entry in data["agents"].values():
            entry["checked"] = time.time()
        cache.write_text(json.dumps(data))
        return sb.timed_cpu(ls, repo, env)

    def cold() -> tuple[float, float]:
        cache.unlink(missing_ok=True)
        return sb.timed_cpu(ls, repo, env)

    commands = {
        "ls, cache warm": warm,
        "ls, no cache": cold,
        "python -c pass": lambda: sb.timed_cpu([c.PYTHON, "-c", "pass"], repo, env),
        "floor (all,8)": lambda: sb.timed_cpu(["bash", "-c", FLOOR_PARALLEL, "floor", sb.socket, *pairs], repo, env),
    }
    wall, cpu = c.rotate(commands, runs)  # warmed first: the page cache and Python's bytecode cache
    names = list(commands)
    key_checks(repo, agents)
    best = c.median_ms(wall["ls, cache warm"])
    print(f"\n[{label}] {len(agents)} agents, {runs} runs each")
    print(f"  {'':22} {'wall':>9}  {'CPU':>9}  {'warm / this':>11}  wall spread")
    for name in names:
        median = c.median_ms(wall[name])
        ratio = "" if name == "ls, cache warm" else f"{best / median:10.2f}x"
        print(f"  {name:22} {median:6.0f} ms  {c.median_ms(cpu[name]):6.0f} ms  {ratio:>11}  ({c.spread(wall[name])})")
    print(f"  target: ls --json, nothing changed, at most {TARGET_MS} ms: {c.verdict(best <= TARGET_MS)}")
    return wall


def key_checks(repo: Path, agents: list[dict]) -> None:
    """What a hit costs inside `ls`, whatever the time-to-live: every agent's cache key read (HEAD,
    index, each folder's `stat`) in this process, with a time-to-live no entry reaches."""
    from types import SimpleNamespace

    from orchestra import diffstats

    records = [
        SimpleNamespace(name=a["name"], worktree=a["worktree"], base=a["base"], updated_at=a.get("updated_at", ""))
        for a in agents
    ]
    state_dir = repo / ".git" / "orchestra"
    diffstats.changes_of(records, state_dir)  # fresh entries
    took = []
    for _ in range(5):
        start = time.perf_counter()
        diffstats.changes_of(records, state_dir, ttl=1e9)
        took.append(time.perf_counter() - start)
    median = c.median_ms(took)
    print(f"  in-process: the diff-stat cache's key checks for {len(records)} agents (all hits) {median:.1f} ms")


def board_load(sb: c.Sandbox, repo: Path, session: str, seconds: float, label: str = "") -> int | None:
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
    print(f"  the board (`ls --watch`){label} used {share * 100:.2f}% of one core over {seconds:.0f} s (target < 0.5%)")
    return pid


def count(sb: c.Sandbox, repo: Path) -> None:
    path, log = c.counting_path(sb.dir / "wrappers", ["tmux", "git"], sb.env)
    sb.run([c.ORCHESTRA, "ls", "--json"], repo)  # the cache warm: every entry fresh
    cache = repo / ".git" / "orchestra" / "diffstat.json"
    data = json.loads(cache.read_text())
    for entry in data["agents"].values():  # as young as can be, as in measure()
        entry["checked"] = time.time()
    cache.write_text(json.dumps(data))
    sb.run([c.ORCHESTRA, "ls", "--json"], repo, env={**sb.env, "PATH": path})
    counts = c.count_calls(log)
    print(f"  one `orchestra ls --json` ran {c.describe_calls(counts, 'tmux')}")
    print(f"  and {c.describe_calls(counts, 'git')}")
    log.unlink()


def scenario(size: str, args, parent) -> None:
    files, total = SIZES[size]
    with c.Sandbox(f"ls-{size}", parent=parent) as sb:
        repo = sb.dir / "bench"
        c.make_repository(repo, files, total, sb.env)
        counted, size_mb = c.repository_size(repo)
        print(f"\n== {size} repository: {counted} files, {size_mb / 1e6:.2f} MB (in {sb.dir.parent})")
        have = 0
        for agents_wanted in args.agents:
            started = time.perf_counter()
            spawn_agents(sb, repo, agents_wanted, have)
            have = agents_wanted
            agents = settle(sb, repo, agents_wanted)
            print(f"\n{agents_wanted} agents spawned and settled in {time.perf_counter() - started:.0f} s")
            sb.run([c.ORCHESTRA, "up", "--no-attach"], repo, check=False)  # the board, if a size closed it
            for agent in agents:  # as an agent's own `git status` or commit leaves it
                sb.run(["git", "status", "--porcelain"], agent["worktree"])
            sb.run([c.ORCHESTRA, "ls", "--json"], repo)  # entries for the new indexes, which the board then finds
            last_ls = time.monotonic()
            time.sleep(5)  # the board's look at the changed indexes, before its idle cost is measured
            if args.board_seconds:
                board_load(sb, repo, agents[0]["session"], args.board_seconds, ", right after the spawns,")
                if args.board_idle:
                    # Every diff-stat entry made before the board watched its worktree has had its
                    # one look from git by now: what is left is the board's cost with idle agents.
                    time.sleep(max(0.0, last_ls + TTL + 5 - time.monotonic()))
                    board_load(sb, repo, agents[0]["session"], args.board_seconds, ", idle,")
            # The board is closed so that neither its polling nor its writes of the cache weigh on the timings.
            sb.run([c.TMUX, "-L", sb.socket, "kill-window", "-t", f"={agents[0]['session']}:0"], repo, check=False)
            count(sb, repo)
            runs = args.runs if size == "small" else max(3, args.runs // 2)  # git's work makes large runs long
            measure(sb, repo, agents, runs, f"{size}, {agents_wanted} agents")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--agents", type=lambda text: sorted(int(n) for n in text.split(",")), default=[50], help="e.g. 50,100,200"
    )
    parser.add_argument("--repo", choices=["small", "large", "both"], default="both")
    parser.add_argument(
        "--board-seconds", type=float, default=35, help="how long to watch the board's CPU use (0: not at all)"
    )
    parser.add_argument(
        "--board-idle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the board once a time-to-live has passed since the spawns (about a minute more per size)",
    )
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
