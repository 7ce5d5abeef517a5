"""The queue: 100 tasks with `[schedule] max_running = 4`, run by demo agents, against starting
them by hand; and the CPU the project uses while 96 wait.

  orchestra   `orchestra spawn --agent demo --no-attach --json` with N tasks and max_running = 4:
              4 start, the rest are queued and started by the queue's starter as agents exit;
              timed from the spawn until every agent is `exited` (read from the state file, so
              the measuring starts nothing itself).
  by hand     the floor: 4 lanes (`xargs -P 4`), each running its tasks one after another with
              `git worktree add -b`, `tmux new-window` running the same demo agent, and
              `tmux wait-for` until that agent has ended.

Overhead per start = (orchestra - by hand) / (N / 4): what orchestra adds to each turn of a slot
(its launcher, the status changes, the starter's decision and its worktree and window).

CPU while waiting: N agents whose demo agents sleep (ORCHESTRA_DEMO_DELAY=600), 4 running and
N - 4 queued; the CPU time (user + system, from /proc) over `--idle` seconds of every process of
the sandbox (by its tmux socket in the environment): the tmux server, the board in window 0, the
agents and their shells, and any orchestra process (a queue starter would be one). The board is
shown apart: it runs whether or not anything is queued.

Run: .venv/bin/python benchmarks/queued.py [--tasks 100] [--max-running 4] [--delay 0.1] [--idle 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

FLOOR_SCRIPT = r"""
set -e
i="$1"; root="$2"; socket="$3"; python="$4"; agent="$5"
git worktree add -q -b "floor/task-$i" "$root/task-$i" HEAD >/dev/null 2>&1
tmux -L "$socket" new-window -d -t floor: -n "task-$i" -c "$root/task-$i" \
  "'$python' '$agent' -- 'task $i'; tmux -L $socket wait-for -S done-$i"
tmux -L "$socket" wait-for "done-$i"
"""


def demo_agent() -> str:
    """The demo agent's file, as the demo kind runs it (`orchestra_demo.AGENT`)."""
    probe = [c.PYTHON, "-c", "import orchestra_demo; print(orchestra_demo.AGENT)"]
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()


def make_project(sb: c.Sandbox, name: str, max_running: int) -> Path:
    repo = sb.dir / name
    repo.mkdir()
    sb.run([c.GIT, "init", "-q"], repo)
    (repo / "README.md").write_text("queue benchmark\n")
    (repo / "orchestra.toml").write_text(
        f'[orchestra]\ndefault_agent = "demo"\n[schedule]\nmax_running = {max_running}\n'
    )
    sb.run([c.GIT, "add", "."], repo)
    sb.run([c.GIT, "commit", "-qm", "start"], repo)
    return repo


def statuses(repo: Path) -> dict[str, str]:
    try:
        data = json.loads((repo / ".git" / "orchestra" / "state.json").read_bytes())
    except (FileNotFoundError, ValueError):
        return {}
    return {name: record.get("status", "") for name, record in data.get("agents", {}).items()}


def run_orchestra(sb: c.Sandbox, tasks: int, max_running: int, delay: str) -> tuple[float, int]:
    sb.new_socket()
    repo = make_project(sb, f"orch-{time.monotonic_ns()}", max_running)
    env = {**sb.env, "ORCHESTRA_DEMO_DELAY": delay}
    most = 0
    start = time.perf_counter()
    sb.run([c.ORCHESTRA, "spawn", "--no-attach", "--json", *(f"task {i}" for i in range(tasks))], repo, env=env)
    while True:
        shown = statuses(repo)
        most = max(most, sum(1 for s in shown.values() if s in ("starting", "running", "waiting")))
        if len(shown) == tasks and all(s in ("exited", "failed") for s in shown.values()):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    failed = [n for n, s in shown.items() if s != "exited"]
    if failed:
        raise RuntimeError(f"agents did not exit cleanly: {failed[:5]}")
    return elapsed, most


def run_floor(sb: c.Sandbox, tasks: int, lanes: int, delay: str) -> float:
    socket = sb.new_socket()
    repo = make_project(sb, f"floor-{time.monotonic_ns()}", 0)
    root = sb.dir / f"floor-worktrees-{time.monotonic_ns()}"
    root.mkdir()
    env = {**sb.env, "ORCHESTRA_DEMO_DELAY": delay}
    sb.run([c.TMUX, "-L", socket, "new-session", "-d", "-s", "floor"], repo, env=env)
    script = sb.dir / "floor.sh"
    script.write_text(FLOOR_SCRIPT)
    numbers = "\n".join(str(i) for i in range(tasks)) + "\n"
    agent = demo_agent()
    start = time.perf_counter()
    subprocess.run(
        ["xargs", "-P", str(lanes), "-I", "{}", "bash", str(script), "{}", str(root), socket, c.PYTHON, agent],
        cwd=repo,
        env=env,
        input=numbers,
        text=True,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


class CpuMeter:
    """CPU time of this process and everything it starts, detached processes included (a queue
    starter, notifiers, the tmux server and its panes), from a cgroup v1 `cpuacct` group of its
    own; None where the machine gives no such group (then only wall times are shown)."""

    def __init__(self) -> None:
        self.group: Path | None = None
        base = Path("/sys/fs/cgroup/cpuacct")
        if base.is_dir() and os.access(base, os.W_OK):
            group = base / f"orchestra-bench-queue-{os.getpid()}"
            try:
                group.mkdir()
                (group / "tasks").write_text(str(os.getpid()))
                self.group = group
            except OSError:
                self.group = None

    def read(self) -> float | None:
        if self.group is None:
            return None
        return int((self.group / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        if self.group is None:
            return
        Path("/sys/fs/cgroup/cpuacct/tasks").write_text(str(os.getpid()))
        for pid in (self.group / "tasks").read_text().split():  # anything left goes back too
            with contextlib.suppress(OSError):
                Path("/sys/fs/cgroup/cpuacct/tasks").write_text(pid)
        with contextlib.suppress(OSError):
            self.group.rmdir()


def socket_processes(socket: str) -> dict[int, str]:
    """Every process whose environment names this tmux socket, with its command line."""
    found = {}
    needle = f"ORCHESTRA_TMUX_SOCKET={socket}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def idle_cpu(sb: c.Sandbox, tasks: int, max_running: int, seconds: float) -> dict[str, object]:
    socket = sb.new_socket()
    repo = make_project(sb, f"idle-{time.monotonic_ns()}", max_running)
    env = {**sb.env, "ORCHESTRA_DEMO_DELAY": "600"}
    sb.run([c.ORCHESTRA, "spawn", "--no-attach", "--json", *(f"task {i}" for i in range(tasks))], repo, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = list(statuses(repo).values())
        if shown.count("running") == max_running and shown.count("queued") == tasks - max_running:
            break
        time.sleep(0.1)
    time.sleep(2)  # the spawn's notifiers and forecast settle
    before = {pid: cpu_ticks(pid) for pid in socket_processes(socket)}
    time.sleep(seconds)
    after = socket_processes(socket)
    hz = os.sysconf("SC_CLK_TCK")
    used = {pid: (cpu_ticks(pid) - before.get(pid, 0)) / hz for pid in after}
    board = sum(t for pid, t in used.items() if "ls --watch" in after[pid])
    starters = [cmd for cmd in after.values() if "_queue" in cmd]
    return {
        "queued": list(statuses(repo).values()).count("queued"),
        "processes": len(after),
        "cpu_all": sum(used.values()),
        "cpu_board": board,
        "cpu_rest": sum(used.values()) - board,
        "starters_alive": len(starters),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--max-running", type=int, default=4)
    parser.add_argument("--delay", default="0.1", help="ORCHESTRA_DEMO_DELAY: seconds between a demo agent's steps")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds over which the waiting CPU is measured")
    args = parser.parse_args()
    meter = CpuMeter()
    try:
        with c.Sandbox("queue", parent=c.memory_dir()) as sb:
            measure(sb, meter, args)
    finally:
        meter.close()


def measure(sb: c.Sandbox, meter: CpuMeter, args: argparse.Namespace) -> None:
    if True:
        cpu0 = meter.read()
        floor = run_floor(sb, args.tasks, args.max_running, args.delay)
        cpu1 = meter.read()
        ours, most = run_orchestra(sb, args.tasks, args.max_running, args.delay)
        time.sleep(3)  # the last notifiers and forecasts end, and count
        cpu2 = meter.read()
        free, _ = run_orchestra(sb, args.tasks, 0, args.delay)
        time.sleep(3)
        cpu3 = meter.read()
        turns = args.tasks / args.max_running
        print(
            f"{args.tasks} tasks, max_running = {args.max_running}, demo delay {args.delay}s; load {os.getloadavg()[0]:.1f}"
        )
        print(f"  by hand ({args.max_running} lanes): {floor:7.2f} s wall")
        print(f"  orchestra:          {ours:7.2f} s wall   (never more than {most} at once)")
        print(f"  overhead per start: {(ours - floor) / turns * 1000:7.0f} ms wall (per turn of a slot)")
        print(f"  orchestra, no limit: {free:6.2f} s wall (all {args.tasks} at once)")
        if cpu0 is not None and cpu1 is not None and cpu2 is not None:
            print(f"  CPU by hand:        {cpu1 - cpu0:7.2f} s ({(cpu1 - cpu0) / args.tasks * 1000:.0f} ms per agent)")
            print(f"  CPU orchestra:      {cpu2 - cpu1:7.2f} s ({(cpu2 - cpu1) / args.tasks * 1000:.0f} ms per agent)")
            print(f"  CPU overhead:       {((cpu2 - cpu1) - (cpu1 - cpu0)) / args.tasks * 1000:7.0f} ms per start")
        if cpu2 is not None and cpu3 is not None:
            print(f"  CPU no limit:       {cpu3 - cpu2:7.2f} s ({(cpu3 - cpu2) / args.tasks * 1000:.0f} ms per agent)")
            print(f"  CPU of the queue:   {((cpu2 - cpu1) - (cpu3 - cpu2)) / args.tasks * 1000:7.0f} ms per start")
        idle = idle_cpu(sb, args.tasks, args.max_running, args.idle)
        print(
            f"while {idle['queued']} wait ({idle['processes']} processes of the sandbox, {idle['seconds']:.0f} s): "
            f"CPU {idle['cpu_all']:.2f} s in all, the board {idle['cpu_board']:.2f} s, "
            f"everything else {idle['cpu_rest']:.2f} s; queue starters alive: {idle['starters_alive']}"
        )


if __name__ == "__main__":
    main()
