"""How long `orchestra spawn` of 10 agents takes in a large repository with a filled warm pool, against
doing it by hand (the serial floor) and against orchestra without the pool, in the same run.

Repository: 5,000 generated source files, about 20 MB, one commit (as benchmarks/spawn.py).

  orchestra (pool)  `[worktree] pool = 10`, `orchestra up --no-attach` and `orchestra pool fill`
                    beforehand (untimed), then `orchestra spawn --agent demo --no-attach --json` with
                    10 tasks: each agent claims a pooled worktree.
  orchestra (none)  the same spawn with no pool (`pool = 0`): 10 `git worktree add` checkouts.
  floor             a bash loop, serially, 10 x `git worktree add -b BRANCH PATH HEAD` and
                    `tmux new-window -d -c PATH` into a session created beforehand (untimed).

Timed: the command, start to exit. For orchestra, also until every agent's record says `running`
(state.json read every 10 ms). After a pool spawn the benchmark waits, untimed, for the background
refill to finish, so that it never runs during another measurement. Every measurement gets a fresh
copy of the repository and a fresh tmux server; the order rotates. Work happens in /dev/shm (see
benchmarks/spawn.py for why); `--disk` runs it on the real disk. Finally one untimed pool spawn runs
with PATH wrappers that count its git commands.

Run: .venv/bin/python benchmarks/pool.py [--repetitions 5] [--budget 200] [--tasks 10] [--files 5000] [--disk]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from spawn import run_floor

TARGET_RATIO = 0.2


def pool_members(sb: c.Sandbox, repo: Path) -> dict:
    return json.loads(sb.run([c.ORCHESTRA, "pool", "status", "--json"], repo).stdout)


def all_running(repo: Path, tasks: int, deadline: float) -> float:
    """The moment state.json first shows `tasks` agents, all running (or later); polled every 10 ms."""
    state = repo / ".git" / "orchestra" / "state.json"
    while time.perf_counter() < deadline:
        try:
            agents = json.loads(state.read_text())["agents"].values()
        except (OSError, ValueError, KeyError):
            agents = []
        if len(agents) == tasks and all(a["status"] != "starting" for a in agents):
            return time.perf_counter()
        time.sleep(0.01)
    raise RuntimeError("the agents did not all start within the deadline")


def run_orchestra(sb: c.Sandbox, repo: Path, tasks: int, size: int) -> tuple[float, float, float]:
    sb.new_socket()
    (repo / "orchestra.toml").write_text(f"[worktree]\npool = {size}\n")
    sb.run([c.ORCHESTRA, "up", "--no-attach"], repo)
    if size:
        sb.run([c.ORCHESTRA, "pool", "fill"], repo)
        if pool_members(sb, repo)["ready"] != size:
            raise RuntimeError("the pool did not fill")
    time.sleep(1.0)  # let the board start before the clock does
    names = [f"task {i}" for i in range(1, tasks + 1)]
    subprocess.run(["sync"], check=False)
    start = time.perf_counter()
    elapsed, cpu = sb.timed_cpu([c.ORCHESTRA, "spawn", "--agent", "demo", "--no-attach", "--json", *names], repo)
    running = all_running(repo, tasks, start + 120) - start
    if size:
        claimed = sum(1 for line in sb.run(["git", "worktree", "list"], repo).stdout.splitlines() if "/task-" in line)
        if claimed != tasks:
            raise RuntimeError(f"{claimed} agent worktrees, not {tasks}")
        deadline = time.monotonic() + 120
        while pool_members(sb, repo)["ready"] < size:  # the background refill, off the clock
            if time.monotonic() > deadline:
                raise RuntimeError("the pool did not refill itself")
            time.sleep(0.5)
    return elapsed, cpu, running


def worktree_step(sb: c.Sandbox, template: Path, tasks: int, reps: int) -> dict[str, list[float]]:
    """Only the step the pool replaces, in-process (orchestra's spawn around it left out): getting
    `tasks` agent worktrees with 4 threads, as spawn does, by `pool.claim` from a filled pool or by
    `worktrees.add_worktree`; `--tasks` fresh repositories each, taking turns."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    os.environ.update(sb.env)  # git's config and HOME of the sandbox, for the in-process git commands
    from orchestra import pool, worktrees
    from orchestra.context import Context

    timings: dict[str, list[float]] = {"claim": [], "add": []}
    for rep in range(reps):
        for kind in ("claim", "add") if rep % 2 == 0 else ("add", "claim"):
            run_dir = sb.dir / "runs" / f"step-{kind}-{rep}"
            run_dir.mkdir(parents=True)
            repo = run_dir / "bench"
            c.copy_repository(template, repo, sb.env)
            try:
                (repo / "orchestra.toml").write_text(f"[worktree]\npool = {tasks}\n")
                ctx = Context.open(repo)
                base = pool.base(ctx)
                if kind == "claim":
                    pool.fill(ctx)
                root = repo.parent / "bench.worktrees"

                def one(n: int, kind: str = kind, ctx: Context = ctx, base: str = base, root: Path = root) -> None:
                    path, branch = root / f"task-{n}", f"orchestra/task-{n}"
                    if kind == "add" or not pool.claim(ctx, path, branch, base):
                        if kind == "claim":
                            raise RuntimeError("a claim fell back to a checkout")
                        worktrees.add_worktree(ctx.project, path, branch, base)

                subprocess.run(["sync"], check=False)
                start = time.perf_counter()
                with ThreadPoolExecutor(max_workers=4) as threads:
                    list(threads.map(one, range(tasks)))
                timings[kind].append(time.perf_counter() - start)
            finally:
                shutil.rmtree(run_dir, ignore_errors=True)
    return timings


def count_git(sb: c.Sandbox, template: Path, tasks: int) -> None:
    run_dir = sb.dir / "runs" / "counted"
    run_dir.mkdir(parents=True)
    repo = run_dir / "bench"
    c.copy_repository(template, repo, sb.env)
    sb.new_socket()
    try:
        (repo / "orchestra.toml").write_text(f"[worktree]\npool = {tasks}\n")
        sb.run([c.ORCHESTRA, "up", "--no-attach"], repo)
        sb.run([c.ORCHESTRA, "pool", "fill"], repo)
        path, log = c.counting_path(sb.dir / "wrappers", ["git"], sb.env)
        wrapper = sb.dir / "wrappers" / "git"  # not counting the background refill that spawn starts
        lines = wrapper.read_text().splitlines()
        lines.insert(1, "grep -q _pool-fill /proc/$PPID/cmdline 2>/dev/null && exec " + lines[-1].split("exec ", 1)[1])
        wrapper.write_text("\n".join(lines) + "\n")
        names = [f"task {i}" for i in range(1, tasks + 1)]
        sb.run(
            [c.ORCHESTRA, "spawn", "--agent", "demo", "--no-attach", "--json", *names],
            repo,
            env={**sb.env, "PATH": path},
        )
        counts = c.count_calls(log)
        deadline = time.monotonic() + 120
        while pool_members(sb, repo)["ready"] < tasks and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        sb.kill_server()
        time.sleep(0.3)
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"one `orchestra spawn` of {tasks} claiming from the pool ran {c.describe_calls(counts, 'git')}")
    print("  (the background refill it starts is not counted)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=5, help="at most this many (default 5)")
    parser.add_argument("--min-repetitions", type=int, default=3)
    parser.add_argument("--budget", type=float, default=200, help="start no new repetition after this many seconds")
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--megabytes", type=float, default=20)
    parser.add_argument("--disk", action="store_true", help="work on the real disk instead of /dev/shm")
    parser.add_argument("--step-repetitions", type=int, default=5, help="of the in-process worktree step")
    args = parser.parse_args()
    c.require_tools()

    print(f"machine: {c.machine()}")
    started = time.perf_counter()
    parent = None if args.disk else c.memory_dir()
    with c.Sandbox("pool", demo_delay="600", parent=parent) as sb:
        print(f"working in {sb.dir.parent} ({'memory, tmpfs' if parent else 'disk'})")
        template = sb.dir / "template" / "bench"
        c.make_repository(template, args.files, int(args.megabytes * 1_000_000), sb.env)
        files, size = c.repository_size(template)
        print(f"repository: {files} files, {size / 1e6:.1f} MB, one commit, packed")
        print(f"{args.tasks} agents per spawn; demo agents stay idle (ORCHESTRA_DEMO_DELAY=600)\n")

        kinds = ["orchestra (pool)", "orchestra (none)", "floor"]
        wall: dict[str, list[float]] = {kind: [] for kind in kinds}
        cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
        running: dict[str, list[float]] = {kind: [] for kind in kinds}
        rep = 0
        while rep < args.repetitions and (rep < args.min_repetitions or time.perf_counter() - started < args.budget):
            order = kinds[rep % 3 :] + kinds[: rep % 3]
            line = []
            for kind in order:
                run_dir = sb.dir / "runs" / f"{kind.split()[-1].strip('()')}-{rep}"
                run_dir.mkdir(parents=True)
                repo = run_dir / "bench"
                c.copy_repository(template, repo, sb.env)
                try:
                    if kind == "floor":
                        elapsed, used = run_floor(sb, repo, args.tasks)
                    else:
                        pool_size = args.tasks if kind.endswith("(pool)") else 0
                        elapsed, used, until = run_orchestra(sb, repo, args.tasks, pool_size)
                        running[kind].append(until)
                finally:
                    sb.kill_server()
                    time.sleep(0.3)
                    shutil.rmtree(run_dir, ignore_errors=True)
                wall[kind].append(elapsed)
                cpu[kind].append(used)
                line.append(f"{kind} {elapsed * 1000:.0f} ms")
            rep += 1
            print(f"  repetition {rep}: " + ", ".join(line), flush=True)
        print()
        count_git(sb, template, args.tasks)
        step = worktree_step(sb, template, args.tasks, args.step_repetitions)

    print()
    print(f"{'':18} {'wall median':>12}  {'CPU median':>10}  {'all running':>11}  wall spread")
    for kind in kinds:
        until = f"{c.median_ms(running[kind]):8.0f} ms" if running[kind] else f"{'-':>11}"
        print(
            f"{kind:18} {c.median_ms(wall[kind]):9.0f} ms  {c.median_ms(cpu[kind]):7.0f} ms  {until}  ({c.spread(wall[kind])})"
        )
    print("(CPU: user + system time of the command and the git/tmux processes it waited for)")
    print()
    floor = c.median_ms(wall["floor"])
    for kind in kinds[:2]:
        ratio = c.median_ms(wall[kind]) / floor
        target = f"  (target <= {TARGET_RATIO}x: {c.verdict(ratio <= TARGET_RATIO)})" if kind.endswith("(pool)") else ""
        print(
            f"ratio {kind} / floor: {ratio:.2f}x wall, {c.median_ms(cpu[kind]) / c.median_ms(cpu['floor']):.2f}x CPU, "
            f"until all running {c.median_ms(running[kind]) / floor:.2f}x{target}"
        )
    claim, add = c.median_ms(step["claim"]), c.median_ms(step["add"])
    print(
        f"the worktree step alone, {args.tasks} agents in 4 threads: claim {claim:.0f} ms ({c.spread(step['claim'])}), "
        f"add_worktree {add:.0f} ms ({c.spread(step['add'])}): {claim / add:.2f}x, {claim / args.tasks:.1f} ms per agent"
    )
    print(f"total run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
