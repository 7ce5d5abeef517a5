"""Agents on a host over SSH: `spawn --host` and `ls --json` against the same work done by hand.

A real OpenSSH server on 127.0.0.1 for a second local user (tests/ssh_support.py's `running_sshd`;
needs root), with this checkout's orchestra installed there by `orchestra hosts setup` (untimed).
Then, taking turns in rotating order:

  spawn 10 on the host   `orchestra spawn --host box --agent demo` with ten tasks, until it returns
                         (every agent's window open on the host); the ten are killed, untimed,
                         before the next run
  floor (spawn)          a shell doing the same by hand: `git push` of the base to the host's
                         clone, then one `ssh` that runs, for each of ten tasks, `git worktree add`
                         and `tmux new-window` in the clone (the same master connection)
  ls, 10 + 10            `orchestra ls --json` with 10 local and 10 remote demo agents (half of
                         each exited, half running)
  floor (ls)             what that needs at least: the local `tmux list-panes` and the ten local
                         agents' `git diff --numstat` and `git ls-files --others`, then one
                         `ssh host true` over the reused connection

Run: sudo .venv/bin/python benchmarks/hosts.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import _common as c

from orchestra.tmux import PANE_FORMAT
from ssh_support import running_sshd

FLOOR_SPAWN = r"""
ssh_config="$1"; alias="$2"; clone="$3"; shift 3
export GIT_SSH_COMMAND="ssh -F $ssh_config -o ControlMaster=auto -o ControlPath=$CONTROL/%C -o ControlPersist=60"
git push --quiet "$alias:$clone" "HEAD:refs/orchestra/floor-base" --force
ssh -F "$ssh_config" -o ControlMaster=auto -o "ControlPath=$CONTROL/%C" -o ControlPersist=60 "$alias" sh -s "$clone" "$@" <<'EOF'
clone="$1"; shift
cd "$clone" || exit 1
for name in "$@"; do
  git worktree add --quiet -b "floor/$name" "../floor-$name" refs/orchestra/floor-base
  tmux new-session -d -s floor 2>/dev/null || true
  tmux new-window -d -t floor -n "$name" -c "../floor-$name" "sleep 600"
done
EOF
"""

CLEAN_FLOOR = r"""
clone="$1"; shift
cd "$clone" || exit 0
tmux kill-session -t floor 2>/dev/null
for name in "$@"; do
  git worktree remove --force "../floor-$name" 2>/dev/null
  git branch -q -D "floor/$name" 2>/dev/null
done
true
"""

FLOOR_LS = r"""
socket="$1"; ssh_config="$2"; alias="$3"; shift 3
tmux -L "$socket" list-panes -a -F "$PANE_FORMAT" >/dev/null
printf '%s\n' "$@" | xargs -d '\n' -n 2 -P 8 sh -c \
  'cd "$0" && git diff --numstat "$1" -- >/dev/null && git ls-files --others --exclude-standard >/dev/null'
ssh -F "$ssh_config" -o ControlMaster=auto -o "ControlPath=$CONTROL/%C" -o ControlPersist=60 "$alias" true
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    c.require_tools()
    print(f"machine: {c.machine()}")
    with c.Sandbox("hosts") as sb, running_sshd(sb.dir / "ssh") as host:
        from orchestra.hosts import control_dir

        repo = sb.dir / "bench"
        c.make_repository(repo, 20, 60_000, sb.env)
        path = f"projects/bench-{uuid.uuid4().hex[:8]}"
        table = host.toml("box", path=path, forward_env=["ORCHESTRA_DEMO_DELAY"])
        (repo / "orchestra.toml").write_text(table)
        sb.run(["git", "add", "orchestra.toml"], repo)
        sb.run(["git", "commit", "-qm", "hosts"], repo)
        started = time.perf_counter()
        sb.run([c.ORCHESTRA, "hosts", "setup", "box"], repo)
        print(f"hosts setup (untimed): {time.perf_counter() - started:.1f} s")
        env = {**sb.env, "CONTROL": str(control_dir()), "PANE_FORMAT": PANE_FORMAT, "ORCHESTRA_DEMO_DELAY": "600"}
        ssh = ["ssh", *host.ssh_args, "-o", "BatchMode=yes", host.alias]
        clone = f"{host.home}/{path}"
        tasks = [f"task {i}" for i in range(1, 11)]
        names = [f"task-{i}" for i in range(1, 11)]

        def spawn() -> tuple[float, float]:
            took = sb.timed_cpu([c.ORCHESTRA, "spawn", "--host", "box", "--agent", "demo", "--json", *tasks], repo, env)
            sb.run([c.ORCHESTRA, "kill", "--force", *names], repo, env)
            return took

        def floor_spawn() -> tuple[float, float]:
            argv = ["bash", "-c", FLOOR_SPAWN, "floor", str(host.config), host.alias, clone, *names]
            took = sb.timed_cpu(argv, repo, env)
            subprocess.run([*ssh, "sh", "-s", clone, *names], input=CLEAN_FLOOR, text=True, env=env, check=True)
            return took

        spawn()  # the clone made, the connection up, the caches warm
        wall, cpu = c.rotate({"spawn 10 on the host": spawn, "floor (spawn)": floor_spawn}, args.runs)
        report("spawn 10 agents on a host", wall, cpu, "spawn 10 on the host", "floor (spawn)")

        quick = {**env, "ORCHESTRA_DEMO_DELAY": "0"}
        for delay_env, word in ((quick, "quick"), (env, "slow")):
            batch = [f"{word} {i}" for i in range(1, 6)]
            sb.run([c.ORCHESTRA, "spawn", "--agent", "demo", "--no-attach", "--json", *batch], repo, delay_env)
            sb.run(
                [c.ORCHESTRA, "spawn", "--host", "box", "--agent", "demo", "--json", *[f"{t} far" for t in batch]],
                repo,
                delay_env,
            )
        deadline = time.monotonic() + 300
        while True:
            found = json.loads(sb.run([c.ORCHESTRA, "ls", "--json"], repo, env).stdout)
            settled = [a for a in found if a["status"] in ("exited", "running")]
            if len(found) == 20 and len(settled) == 20:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"agents did not settle: {sorted(a['status'] for a in found)}")
            time.sleep(1)
        local = [a for a in found if a["host"] is None]
        pairs = [x for a in local for x in (a["worktree"], a["base"])]

        def ls() -> tuple[float, float]:
            return sb.timed_cpu([c.ORCHESTRA, "ls", "--json"], repo, env)

        def floor_ls() -> tuple[float, float]:
            argv = ["bash", "-c", FLOOR_LS, "floor", sb.socket, str(host.config), host.alias, *pairs]
            return sb.timed_cpu(argv, repo, env)

        wall, cpu = c.rotate({"ls, 10 + 10": ls, "floor (ls)": floor_ls}, args.runs)
        report("ls --json, 10 local and 10 remote agents", wall, cpu, "ls, 10 + 10", "floor (ls)")
        sb.run([*ssh, "tmux", "kill-server"], repo, check=False)
        sb.run([*ssh, "rm", "-rf", path, f"{path}.worktrees"], repo, check=False)


def report(title: str, wall: dict, cpu: dict, ours: str, floor: str) -> None:
    print(f"\n{title}")
    print(f"  {'':24} {'wall':>9}  {'CPU':>9}  wall spread")
    for name in wall:
        print(
            f"  {name:24} {c.median_ms(wall[name]):6.0f} ms  {c.median_ms(cpu[name]):6.0f} ms  ({c.spread(wall[name])})"
        )
    print(f"  ratio to the floor (wall medians): {c.median_ms(wall[ours]) / c.median_ms(wall[floor]):.2f}x")


if __name__ == "__main__":
    main()
