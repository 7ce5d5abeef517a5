"""Spawn 10 agents until all run: orchestra beside a peer tool (agent-coral), against the serial floor.

Each measurement starts a fresh copy of a generated repository (5,000 files, 20 MB, one commit,
packed) and times from the command's start until all N agents run: every agent is the same fake
`claude` (a shell script on PATH that drops a marker file named after its folder and then sleeps), so
"running" means the same thing for every tool: N markers exist. The three take turns in a rotating
order, and medians are compared.

  floor      a bash loop, serially, N x `git worktree add -b BRANCH PATH HEAD` and
             `tmux new-window -d -c PATH claude` into a session created beforehand.
  orchestra  `orchestra spawn --agent claude --no-attach --json TASK...` after an untimed
             `orchestra up --no-attach` (the session is up, like the floor's), then the wait for
             the markers.
  coral      agent-coral's own way to start a task in a new worktree, as its scheduler does it
             (`git worktree add` then `coral.tools.session_manager.launch_claude_session`), for N
             tasks at once (asyncio.gather), run with the interpreter of a virtualenv where
             agent-coral is installed (`--coral-python`, or one this script makes with
             `pip install agent-coral` in the sandbox's parent folder). Skipped with a note when
             it cannot be installed. Its tmux server is private (`TMUX_TMPDIR` in the sandbox),
             and so is its data folder (`CORAL_DATA_DIR`).

Run: `.venv/bin/python benchmarks/peers.py [--repetitions 5] [--tasks 10] [--coral-python PATH]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import _common as c

FAKE_CLAUDE = """#!/bin/sh
: > "$ORCHESTRA_BENCH_MARKERS/$(basename "$PWD")"
exec sleep 600
"""

FLOOR_SCRIPT = r"""
set -e
root="$1"; socket="$2"; count="$3"
for i in $(seq 1 "$count"); do
  git worktree add -b "floor/task-$i" "$root/task-$i" HEAD >/dev/null 2>&1
  tmux -L "$socket" new-window -d -t floor: -n "task-$i" -c "$root/task-$i" claude
done
"""

CORAL_DRIVER = r"""
import asyncio, os, sys
from coral.tools.session_manager import launch_claude_session
from coral.tools.utils import run_cmd

repo, root, count = sys.argv[1], sys.argv[2], int(sys.argv[3])

async def one(i):
    path = f"{root}/task-{i}"
    rc, _, err = await run_cmd("git", "-C", repo, "worktree", "add", "-b", f"coral/task-{i}", path, "HEAD")
    if rc != 0:
        raise SystemExit(f"git worktree add failed: {err}")
    result = await launch_claude_session(path, "claude", prompt=f"task {i}")
    if result.get("error"):
        raise SystemExit(result["error"])

async def main():
    await asyncio.gather(*(one(i) for i in range(1, count + 1)))

asyncio.run(main())
os._exit(0)  # its store keeps a database thread that would hold the process open
"""


def wait_for_markers(markers: Path, count: int, started: float, limit: float = 120) -> float:
    """Seconds from `started` until `count` markers exist (checked every 5 ms)."""
    while True:
        if sum(1 for _ in markers.iterdir()) >= count:
            return time.perf_counter() - started
        if time.perf_counter() - started > limit:
            raise RuntimeError(
                f"only {sum(1 for _ in markers.iterdir())} of {count} agents started in {limit} s in {markers}"
            )
        time.sleep(0.005)


def timed_until_running(sb: c.Sandbox, argv: list[str], cwd: Path, env: dict, markers: Path, count: int) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        elapsed = wait_for_markers(markers, count, started)
    except RuntimeError:
        process.kill()
        print(process.communicate()[1][-2000:])
        raise
    _out, err = process.communicate(timeout=120)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)[:120]} failed ({process.returncode}): {err.strip()[:1000]}")
    return elapsed


def coral_python(args: argparse.Namespace, parent: Path) -> str | None:
    """An interpreter with agent-coral importable, or None (with the reason printed)."""
    if args.coral_python:
        return args.coral_python
    venv = parent / "orchestra-bench-coral-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "agent-coral"], capture_output=True, text=True
        )
        if install.returncode != 0:
            print(f"agent-coral skipped: `pip install agent-coral` failed: {install.stderr.strip()[-300:]}")
            shutil.rmtree(venv, ignore_errors=True)
            return None
    found = subprocess.run([str(python), "-c", "import coral"], capture_output=True, text=True)
    if found.returncode != 0:
        print(f"agent-coral skipped: it does not import: {found.stderr.strip()[-300:]}")
        return None
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--megabytes", type=float, default=20)
    parser.add_argument("--coral-python", help="a python with agent-coral installed")
    parser.add_argument("--disk", action="store_true", help="work on the real disk instead of /dev/shm")
    args = parser.parse_args()
    c.require_tools()
    print(f"machine: {c.machine()}")
    parent = None if args.disk else c.memory_dir()
    coral = coral_python(args, Path(parent or "/tmp"))
    if coral:
        version = subprocess.run(
            [coral, "-c", "import importlib.metadata as m; print(m.version('agent-coral'))"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"agent-coral {version} from {coral}")
    with c.Sandbox("peers", parent=parent) as sb:
        bin_dir = sb.dir / "bin"
        bin_dir.mkdir()
        (bin_dir / "claude").write_text(FAKE_CLAUDE)
        (bin_dir / "claude").chmod(0o755)
        sb.env["PATH"] = f"{bin_dir}{os.pathsep}{sb.env['PATH']}"
        template = sb.dir / "template" / "bench"
        c.make_repository(template, args.files, int(args.megabytes * 1_000_000), sb.env)
        files, size = c.repository_size(template)
        print(f"repository: {files} files, {size / 1e6:.1f} MB; {args.tasks} agents; until all run\n")

        kinds = ["floor", "orchestra"] + (["coral"] if coral else [])
        wall: dict[str, list[float]] = {k: [] for k in kinds}
        for rep in range(args.repetitions):
            order = kinds[rep % len(kinds) :] + kinds[: rep % len(kinds)]
            line = []
            for kind in order:
                run_dir = sb.dir / "runs" / f"{kind}-{rep}"
                repo = run_dir / "bench"
                markers = run_dir / "markers"
                markers.mkdir(parents=True)
                c.copy_repository(template, repo, sb.env)
                env = {**sb.env, "ORCHESTRA_BENCH_MARKERS": str(markers)}
                root = run_dir / "bench.worktrees"
                try:
                    if kind == "floor":
                        socket = sb.new_socket()
                        env["ORCHESTRA_TMUX_SOCKET"] = socket
                        sb.run(
                            [c.TMUX, "-L", socket, "new-session", "-d", "-s", "floor", "-c", str(repo)], repo, env=env
                        )
                        argv = ["bash", "-c", FLOOR_SCRIPT, "floor", str(root), socket, str(args.tasks)]
                    elif kind == "orchestra":
                        env["ORCHESTRA_TMUX_SOCKET"] = sb.new_socket()
                        sb.run([c.ORCHESTRA, "up", "--no-attach"], repo, env=env)
                        time.sleep(1.0)  # let the board start before the clock does
                        tasks = [f"task {i}" for i in range(1, args.tasks + 1)]
                        argv = [c.ORCHESTRA, "spawn", "--agent", "claude", "--no-attach", "--json", *tasks]
                    else:
                        env["TMUX_TMPDIR"] = str(run_dir / "tmux")
                        env["CORAL_DATA_DIR"] = str(run_dir / "coral-data")
                        (run_dir / "tmux").mkdir()
                        # Its tmux server up first, as a user of its dashboard has it (and as the floor's
                        # is): a server that `launch_claude_session` starts keeps its output pipes open.
                        sb.run([c.TMUX, "new-session", "-d", "-s", "bench", "-c", str(repo)], repo, env=env)
                        # Its agents are typed into a shell; a login shell would reset PATH from
                        # /etc/profile and lose the fake `claude`.
                        sb.run([c.TMUX, "set", "-g", "default-command", "bash --noprofile --norc"], repo, env=env)
                        argv = [coral, "-c", CORAL_DRIVER, str(repo), str(root), str(args.tasks)]
                    wall[kind].append(timed_until_running(sb, argv, repo, env, markers, args.tasks))
                    line.append(f"{kind} {wall[kind][-1] * 1000:.0f} ms")
                finally:
                    if kind == "coral":
                        subprocess.run([c.TMUX, "kill-server"], env=env, capture_output=True, check=False)
                    else:
                        sb.kill_server(env["ORCHESTRA_TMUX_SOCKET"])
                    time.sleep(0.3)
                    shutil.rmtree(run_dir, ignore_errors=True)
            print(f"  repetition {rep + 1}: " + ", ".join(line), flush=True)

    print()
    floor = c.median_ms(wall["floor"])
    for kind in kinds:
        print(
            f"{kind:10} {c.median_ms(wall[kind]):7.0f} ms  ({c.spread(wall[kind])})  "
            f"{c.median_ms(wall[kind]) / floor:.2f}x the floor"
        )
    if coral:
        print(f"orchestra / coral: {c.median_ms(wall['orchestra']) / c.median_ms(wall['coral']):.2f}x")


if __name__ == "__main__":
    main()
