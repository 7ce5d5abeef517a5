"""How long `orchestra spawn` takes for 10 agents in a large repository, against doing it by hand.

Repository: 5,000 generated source files, about 20 MB, one commit.

  orchestra (cold)  `orchestra spawn --agent demo --no-attach --json` with 10 tasks, no tmux
                    server yet: spawn creates the session and the board, as on first use.
  orchestra (warm)  the same, after `orchestra up --no-attach` made the session and board
                    (untimed), like the floor, which also starts with the session there.
  floor             a bash loop, serially, 10 x `git worktree add -b BRANCH PATH HEAD` and
                    `tmux new-window -d -c PATH` into a session created beforehand (untimed).

The demo agents run with ORCHESTRA_DEMO_DELAY=600: each starts, prints, and sleeps, so it stays
idle (running) and does no git work while spawn is timed; the floor's windows run the default shell.
Every measurement gets a fresh copy of the repository and a fresh tmux server (so nothing is
reused between repetitions), `sync` runs before it so that earlier writes are not flushed inside
the timed part, and the order of the three is rotated from one repetition to the next.

Run: .venv/bin/python benchmarks/spawn.py [--repetitions 5] [--tasks 10] [--files 5000] [--megabytes 20]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

TARGET_RATIO = 1.3

FLOOR_SCRIPT = r"""
set -e
root="$1"; socket="$2"; count="$3"
for i in $(seq 1 "$count"); do
  git worktree add -b "floor/task-$i" "$root/task-$i" HEAD >/dev/null 2>&1
  tmux -L "$socket" new-window -d -t floor: -n "task-$i" -c "$root/task-$i"
done
"""


def run_orchestra(sb: c.Sandbox, repo: Path, tasks: int, warm: bool) -> float:
    sb.new_socket()
    if warm:
        sb.run([c.ORCHESTRA, "up", "--no-attach"], repo)
        time.sleep(1.0)  # let the board start before the clock does
    names = [f"task {i}" for i in range(1, tasks + 1)]
    subprocess.run(["sync"], check=False)
    elapsed = sb.timed([c.ORCHESTRA, "spawn", "--agent", "demo", "--no-attach", "--json", *names], repo)
    agents = sb.run([c.ORCHESTRA, "ls", "--json"], repo).stdout
    if agents.count('"name"') != tasks:
        raise RuntimeError(f"orchestra spawn made {agents.count(chr(34) + 'name' + chr(34))} agents, not {tasks}")
    return elapsed


def run_floor(sb: c.Sandbox, repo: Path, tasks: int) -> float:
    socket = sb.new_socket()
    sb.run([c.TMUX, "-L", socket, "new-session", "-d", "-s", "floor", "-x", "200", "-y", "50", "-c", str(repo)], repo)
    root = repo.parent / f"{repo.name}.worktrees"
    subprocess.run(["sync"], check=False)
    elapsed = sb.timed(["bash", "-c", FLOOR_SCRIPT, "floor", str(root), socket, str(tasks)], repo)
    windows = sb.run([c.TMUX, "-L", socket, "list-windows", "-t", "floor"], repo).stdout.splitlines()
    if len(windows) != tasks + 1:
        raise RuntimeError(f"the floor made {len(windows) - 1} windows, not {tasks}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--megabytes", type=float, default=20)
    args = parser.parse_args()
    c.require_tools()

    print(f"machine: {c.machine()}")
    with c.Sandbox("spawn", demo_delay="600") as sb:
        template = sb.dir / "template" / "bench"
        started = time.perf_counter()
        c.make_repository(template, args.files, int(args.megabytes * 1_000_000), sb.env)
        files, size = c.repository_size(template)
        print(f"repository: {files} files, {size / 1e6:.1f} MB, one commit (made in {time.perf_counter() - started:.1f} s)")
        print(f"{args.tasks} agents per spawn, {args.repetitions} repetitions, demo agents idle (ORCHESTRA_DEMO_DELAY=600)\n")

        samples: dict[str, list[float]] = {"orchestra (cold)": [], "orchestra (warm)": [], "floor": []}
        kinds = list(samples)
        for rep in range(args.repetitions):
            order = kinds[rep % 3 :] + kinds[: rep % 3]
            line = []
            for kind in order:
                run_dir = sb.dir / "runs" / f"{kind.split()[-1].strip('()')}-{rep}"
                run_dir.mkdir(parents=True)
                repo = run_dir / "bench"
                c.copy_repository(template, repo, sb.env)
                try:
                    if kind == "floor":
                        elapsed = run_floor(sb, repo, args.tasks)
                    else:
                        elapsed = run_orchestra(sb, repo, args.tasks, warm=kind.endswith("(warm)"))
                finally:
                    sb.kill_server()
                    time.sleep(0.3)
                    shutil.rmtree(run_dir, ignore_errors=True)
                samples[kind].append(elapsed)
                line.append(f"{kind} {elapsed * 1000:.0f} ms")
            print(f"  repetition {rep + 1}: " + ", ".join(line), flush=True)

    floor = c.median_ms(samples["floor"])
    print()
    print(f"{'':18} {'median':>9}  spread")
    for kind in kinds:
        print(f"{kind:18} {c.median_ms(samples[kind]):7.0f} ms  ({c.spread(samples[kind])})")
    print()
    for kind in kinds[:2]:
        ratio = c.median_ms(samples[kind]) / floor
        print(f"ratio {kind} / floor: {ratio:.2f}x  (target <= {TARGET_RATIO}x: {c.verdict(ratio <= TARGET_RATIO)})")


if __name__ == "__main__":
    main()
