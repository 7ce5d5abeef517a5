"""Orchestra's own memory with many idle agents: the proportional set size (PSS) of every process
orchestra started for them, the agents' own processes left out.

200 demo agents (`--agents`) are spawned in a small repository, 25 to a `spawn` command, with
ORCHESTRA_DEMO_DELAY=3600, so each starts, prints its first step and sits idle. Once every one is
`running` and a few seconds have passed (the notifiers of their `running` have ended), every process
is read from /proc: PSS from /proc/PID/smaps_rollup, which shares each page among the processes
that map it, so the figures add up to what the machine really spends. Orchestra's own is

  in each agent's pane   the pane's process and its descendants, except the agent CLI's process
                         tree (the pane process's children that are not orchestra's own)
  the board              window 0 (`ls --watch`) and its descendants
  elsewhere              any other orchestra process of this run (`-m orchestra` on its command line
                         and this run's tmux socket in its environment), e.g. a notifier

The agent CLIs and the tmux server are printed for context, not counted. `--against DIR` measures
another version of orchestra too, in a sandbox of its own (a checkout of an earlier commit, put
first on PYTHONPATH with its plugins, as `hooks_against.py` does), and prints both.
Target: orchestra's own under 100 MB in all with 200 agents.

Run: .venv/bin/python benchmarks/memory.py [--agents 200] [--against /work/main]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

TARGET_MB = 100
BATCH = 25


@dataclass
class Process:
    pid: int
    ppid: int
    argv: list[str]
    pss_kb: int
    rss_kb: int

    @property
    def orchestra(self) -> bool:
        """Started as `python -m orchestra ...` (the launcher, the board, notifiers, hooks)."""
        return any(a == "-m" and b == "orchestra" for a, b in zip(self.argv, self.argv[1:], strict=False)) or (
            "_exited" in " ".join(self.argv[:3])  # the waiting shell's script
        )


def processes() -> dict[int, Process]:
    """Every process of this user that /proc shows, with its PSS and RSS in kB."""
    table: dict[int, Process] = {}
    uid = os.getuid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            stat = Path(f"/proc/{pid}/stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
            sizes = {}
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in ("Pss", "Rss"):
                    sizes[key] = int(rest.split()[0])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or a kernel thread
        table[pid] = Process(pid, ppid, argv, sizes.get("Pss", 0), sizes.get("Rss", 0))
    return table


def descendants(root: int, table: dict[int, Process]) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in table and pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def in_this_run(pid: int, socket: str) -> bool:
    try:
        return f"ORCHESTRA_TMUX_SOCKET={socket}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def measure(label: str, agents: int, pythonpath: str | None) -> dict[str, float]:
    parent = c.memory_dir()
    with c.Sandbox("memory", demo_delay="3600", parent=parent) as sb:
        if pythonpath:
            sb.env["PYTHONPATH"] = pythonpath
        repo = sb.dir / "repo"
        c.make_repository(repo, files=20, total_bytes=20_000, env=sb.env)
        orchestra = [c.PYTHON, "-m", "orchestra"]
        began = time.perf_counter()
        for first in range(0, agents, BATCH):
            tasks = [f"idle agent {n}" for n in range(first, min(first + BATCH, agents))]
            sb.run([*orchestra, "spawn", "--agent", "demo", "--no-attach", *tasks], repo)
        deadline = time.monotonic() + 120 + agents
        while True:
            listed = json.loads(sb.run([*orchestra, "ls", "--json"], repo).stdout)
            running = sum(a["status"] == "running" for a in listed)
            if running == agents:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {running} of {agents} agents running: {[a['status'] for a in listed]}")
            time.sleep(1)
        print(f"  {label}: {agents} agents spawned and running in {time.perf_counter() - began:.0f} s")
        time.sleep(5)  # the notifiers of `running` end
        table = processes()
        panes = sb.run(
            [c.TMUX, "-L", sb.socket, "list-panes", "-a", "-F", "#{pane_pid}\t#{window_index}"], repo
        ).stdout.split("\n")
        server = int(sb.run([c.TMUX, "-L", sb.socket, "display-message", "-p", "#{pid}"], repo).stdout)
        board: set[int] = set()
        own: set[int] = set()
        agent_trees: set[int] = set()
        pane_roots = []
        for line in filter(None, panes):
            pid, index = map(int, line.split("\t"))
            if index == 0:
                board |= descendants(pid, table)
                continue
            pane_roots.append(pid)
            for child in (p for p in table.values() if p.ppid == pid and not p.orchestra):
                agent_trees |= descendants(child.pid, table)
            own |= descendants(pid, table) - agent_trees
        elsewhere = (
            {p.pid for p in table.values() if p.orchestra and in_this_run(p.pid, sb.socket)}
            - own
            - board
            - agent_trees
            - {server}
        )  # the server's command line is the client's that started it
        if len(pane_roots) != agents:
            raise RuntimeError(f"{len(pane_roots)} agent panes, not {agents}")

        def mb(pids: set[int], key: str = "pss_kb") -> float:
            return sum(getattr(table[p], key) for p in pids if p in table) / 1024

        kinds = sorted({os.path.basename(table[p].argv[0]) for p in pane_roots if p in table and table[p].argv})
        total = mb(own) + mb(board) + mb(elsewhere)
        rows = [
            (f"agent panes: {len(own)} processes ({', '.join(kinds)})", own),
            (f"the board: {len(board)} process(es)", board),
            (f"elsewhere: {len(elsewhere)} process(es)", elsewhere),
        ]
        for text, pids in rows:
            print(f"    {text:52} PSS {mb(pids):8.1f} MB   RSS {mb(pids, 'rss_kb'):8.1f} MB")
        print(
            f"    {'orchestra in all':52} PSS {total:8.1f} MB   ({mb(own) / agents * 1024:.0f} kB per agent in its pane)"
            f"   target < {TARGET_MB} MB: {c.verdict(total < TARGET_MB)}"
        )
        print(
            f"    for context, not counted: the agent CLIs ({len(agent_trees)} processes) PSS {mb(agent_trees):.1f} MB;"
            f" the tmux server PSS {mb({server}):.1f} MB"
        )
        return {"own": total, "panes": mb(own), "board": mb(board)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--against", type=Path, help="a checkout of another version, measured too")
    args = parser.parse_args()
    c.require_tools()
    print(c.machine())
    print(f"orchestra's own memory with {args.agents} idle demo agents (PSS from /proc/PID/smaps_rollup)")
    here = measure("this checkout", args.agents, None)
    if args.against:
        other = args.against.resolve()
        there = measure(f"{other}", args.agents, f"{other}{os.pathsep}{other / 'plugins'}")
        print(
            f"  this checkout / {other.name}: {here['own']:.1f} / {there['own']:.1f} MB"
            f" = {here['own'] / there['own']:.3f}x (agent panes alone {here['panes']:.1f} / {there['panes']:.1f} MB)"
        )


if __name__ == "__main__":
    main()
