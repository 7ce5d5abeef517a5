"""Agents working together: how soon orchestra's MCP server acts, spoken to with the MCP SDK's own client.

A project (a 20-file repository, `[mcp] max_children = 1000`) has one demo agent, `lead`, that
sits idle (ORCHESTRA_DEMO_DELAY=600). The lead's MCP command runs as Claude Code would start it
(the relay to the project's one server, `orchestra.launch.mcp_argv`, in the main checkout), and the
benchmark is its client, over stdio, through `mcp.ClientSession`. Each run:

1. spawn: `spawn(tasks=["worker N"], agent="demo")`, timed from the call to its result. spawn
   returns once the worker's window is open (the record it returns names the window; the benchmark
   checks that tmux has it), so this is the time from the tool call to the worker's window
   existing. Taking turns with it: `orchestra spawn --agent demo --no-attach --json` of one task
   from the command line (the same work, plus starting Python and orchestra), and the floor, the
   git and tmux work alone: `git worktree add -b BRANCH PATH HEAD` then `tmux new-window -d -c PATH`.
2. wait: the worker is marked running by a UserPromptSubmit hook event (untimed), `wait(["worker-N"])`
   is called and left blocking, and then the worker's Stop hook runs as Claude Code runs it:
   `/bin/sh -c '<python> -I -S .../hook_start.py --state-dir DIR --from-file TRANSLATOR worker-N'` with
   Claude Code's Stop JSON on stdin. Timed from starting the hook to `wait`'s result at the client
   (target: median under 300 ms). The floor is the hook handler's own run, start to exit: `wait`
   cannot answer before the handler has recorded the event. Also shown: from the handler's exit to
   the result, `wait`'s own part (it reads the event log as it grows, looking every 50 ms).

Afterwards each worker is removed (`orchestra kill --force`, untimed), so every run starts alike.

3. connect: from starting an agent's MCP command to the answers to `initialize` and `tools/list`,
   the relay (the project's server already up) in turns with a server of the agent's own
   (`orchestra mcp --agent lead`, what agents were given before), and each one's memory (PSS).

Run: .venv/bin/python benchmarks/mcp.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

# This file is called mcp.py, and Python puts its folder first on the import path: without it there,
# `import mcp` finds the SDK.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import anyio  # noqa: E402
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

sys.path.insert(0, str(HERE))

import _common as c  # noqa: E402

TARGET_WAIT_MS = 300
SETTLE_S = 0.3  # for `wait` to be blocking before the Stop hook runs


def stop_payload(worker: dict, event: str) -> bytes:
    """Claude Code's JSON for `event` (UserPromptSubmit or Stop), with the fields 2.1.328 sends."""
    common = {
        "session_id": worker.get("session_id") or "0",
        "cwd": worker["worktree"],
        "permission_mode": "acceptEdits",
    }
    if event == "Stop":
        body = {"hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": "Done."}
    else:
        body = {"hook_event_name": "UserPromptSubmit", "prompt": worker["task"]}
    return json.dumps({**common, **body}).encode()


def translator() -> str:
    """The file that reads Claude Code's hook payloads, as spawn names it to a claude agent's hooks."""
    probe = "from orchestra.hook_handler import translator_file; print(translator_file('orchestra_claude.hooks'))"
    return subprocess.run([c.PYTHON, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


def hook_argv(state_dir: str, translator: str, name: str) -> list[str]:
    command = c.hook_command("--state-dir", state_dir, "--from-file", translator, name)
    return ["/bin/sh", "-c", shlex.join(command)]  # as Claude Code runs a hook's command


def run_hook(argv: list[str], payload: bytes, cwd: Path, env: dict) -> float:
    """Runs the hook; returns the perf_counter time it exited."""
    subprocess.run(argv, input=payload, cwd=cwd, env=env, capture_output=True, check=True)
    return time.perf_counter()


def windows(sb: c.Sandbox) -> set[str]:
    listed = sb.run([c.TMUX, "-L", sb.socket, "list-windows", "-a", "-F", "#{window_id}"], cwd=sb.dir, check=False)
    return set(listed.stdout.split())


def floor_spawn(sb: c.Sandbox, repo: Path, n: int) -> float:
    """git worktree add + tmux new-window, the work a spawn cannot do without."""
    path = sb.dir / "floor" / f"f{n}"
    start = time.perf_counter()
    sb.run([c.GIT, "worktree", "add", "-q", "-b", f"floor/f{n}", str(path), "HEAD"], cwd=repo)
    sb.run([c.TMUX, "-L", sb.socket, "new-window", "-d", "-c", str(path), "-t", session_name(sb, repo)], cwd=repo)
    took = time.perf_counter() - start
    sb.run([c.GIT, "worktree", "remove", "--force", str(path)], cwd=repo)
    sb.run([c.GIT, "branch", "-q", "-D", f"floor/f{n}"], cwd=repo)
    return took


def session_name(sb: c.Sandbox, repo: Path) -> str:
    listed = sb.run([c.TMUX, "-L", sb.socket, "list-sessions", "-F", "#{session_name}"], cwd=repo)
    return listed.stdout.split()[0]


async def measure(sb: c.Sandbox, repo: Path, runs: int) -> dict[str, list[float]]:
    state_dir = sb.run([c.GIT, "rev-parse", "--git-common-dir"], cwd=repo).stdout.strip()
    state_dir = str((repo / state_dir / "orchestra").resolve())
    samples: dict[str, list[float]] = {k: [] for k in ("spawn tool", "spawn cli", "floor", "wait", "hook", "after")}
    reader = translator()
    relay = relay_argv(state_dir, "lead")
    params = StdioServerParameters(command=relay[0], args=relay[1:], cwd=repo, env=sb.env)
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()

            async def call(tool: str, **arguments) -> object:
                result = await session.call_tool(tool, arguments)
                if result.is_error:
                    raise RuntimeError(f"{tool} was refused: {result.content[0].text}")
                content = result.structured_content or {}
                return content.get("result", content)

            for n in range(-1, runs):  # run -1 warms the caches and is not counted
                name = f"worker-{n + 1}"
                start = time.perf_counter()
                (worker,) = await call("spawn", tasks=[f"worker {n + 1}"], agent="demo")
                took = time.perf_counter() - start
                assert worker["name"] == name and worker["window"] in windows(sb), worker
                hook = hook_argv(state_dir, reader, name)
                await anyio.to_thread.run_sync(run_hook, hook, stop_payload(worker, "UserPromptSubmit"), repo, sb.env)
                outcome: dict = {}

                async def waiting(outcome: dict = outcome, name: str = name) -> None:
                    outcome["result"] = await call("wait", names=[name], timeout_s=60)
                    outcome["at"] = time.perf_counter()

                async with anyio.create_task_group() as group:
                    group.start_soon(waiting)
                    await anyio.sleep(SETTLE_S)
                    begun = time.perf_counter()
                    exited = await anyio.to_thread.run_sync(run_hook, hook, stop_payload(worker, "Stop"), repo, sb.env)
                statuses = {a["name"]: a["status"] for a in outcome["result"]["agents"]}
                assert statuses == {name: "done"} and not outcome["result"]["timed_out"], outcome
                cli = sb.timed([c.ORCHESTRA, "spawn", "--agent", "demo", "--no-attach", "--json", f"cli {n + 1}"], repo)
                floor = floor_spawn(sb, repo, n + 1)
                for gone in (name, f"cli-{n + 1}"):
                    sb.run([c.ORCHESTRA, "kill", "--force", gone], cwd=repo)
                if n < 0:
                    continue
                samples["spawn tool"].append(took)
                samples["spawn cli"].append(cli)
                samples["floor"].append(floor)
                samples["wait"].append(outcome["at"] - begun)
                samples["hook"].append(exited - begun)
                samples["after"].append(outcome["at"] - exited)
    return samples


def relay_argv(state_dir: str, agent: str) -> list[str]:
    """What an agent CLI is given: the relay to the project's one server (orchestra.launch.mcp_argv)."""
    from orchestra.launch import mcp_argv

    return mcp_argv(state_dir, agent)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}


def connect_once(argv: list[str], repo: Path, env: dict) -> tuple[float, int]:
    """From starting an agent's MCP command to the answers to `initialize` and `tools/list` (what a
    CLI asks before it can offer the tools); and the command's resident memory then (KB, its PSS)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=repo, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
    proc.stdin.flush()
    assert b'"id":0' in proc.stdout.readline()
    for message in (
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    ):
        proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()
    assert b'"spawn"' in proc.stdout.readline()
    took = time.perf_counter() - start
    pss = 0
    with open(f"/proc/{proc.pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    proc.stdin.close()
    proc.wait(timeout=30)
    return took, pss


def measure_connect(sb: c.Sandbox, repo: Path, state_dir: str, runs: int) -> dict[str, list[float]]:
    """The relay (the project's server already running) against a server of the agent's own
    (`orchestra mcp --agent lead`, as agents had before), in turns."""
    own = [c.PYTHON, "-P", "-m", "orchestra", "mcp", "--agent", "lead"]
    samples: dict[str, list[float]] = {"relay": [], "own": [], "relay kb": [], "own kb": []}
    connect_once(relay_argv(state_dir, "lead"), repo, sb.env)  # starts the project's server: not counted
    for _ in range(runs):
        for key, argv in (("relay", relay_argv(state_dir, "lead")), ("own", own)):
            took, pss = connect_once(argv, repo, sb.env)
            samples[key].append(took)
            samples[f"{key} kb"].append(pss)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    c.require_tools()
    print(c.machine())
    with c.Sandbox("mcp", demo_delay="600") as sb:
        repo = sb.dir / "project"
        c.make_repository(repo, 20, 20_000, sb.env)
        (repo / "orchestra.toml").write_text("[mcp]\nmax_children = 1000\nmax_depth = 2\n")
        sb.run([c.GIT, "add", "orchestra.toml"], cwd=repo)
        sb.run([c.GIT, "commit", "-qm", "mcp limits for the benchmark"], cwd=repo)
        sb.run([c.ORCHESTRA, "spawn", "--agent", "demo", "--name", "lead", "--no-attach", "bench lead"], cwd=repo)
        samples = anyio.run(measure, sb, repo, args.runs)
        state_dir = str((repo / ".git" / "orchestra").resolve())
        samples.update(measure_connect(sb, repo, state_dir, args.runs))

    def line(label: str, key: str) -> str:
        return f"  {label:<52} median {c.median_ms(samples[key]):6.0f} ms  ({c.spread(samples[key])})"

    print("\n== spawn: from the tool call to its result, the worker's window open")
    print(line("spawn tool (orchestra mcp, one demo worker)", "spawn tool"))
    print(line("orchestra spawn --agent demo --no-attach --json", "spawn cli"))
    print(line("floor: git worktree add + tmux new-window", "floor"))
    print("\n== wait: from the worker's Stop hook starting to the lead's wait result")
    print(line("Stop hook -> wait result", "wait"))
    print(line("floor: the hook handler's own run (start to exit)", "hook"))
    print(line("handler exit -> wait result (wait's own part)", "after"))
    print("\n== an agent's MCP command: from its start to the answers to initialize and tools/list")
    print(line("relay to the project's server (what agents get)", "relay"))
    print(line("a server of its own (orchestra mcp --agent lead)", "own"))
    for key, label in (("relay kb", "relay"), ("own kb", "a server of its own")):
        values = sorted(samples[key])
        print(f"  memory of {label:<42} median {values[len(values) // 2] / 1024:6.1f} MB PSS")
    ok = c.median_ms(samples["wait"]) < TARGET_WAIT_MS
    print(f"\n  target: wait latency median under {TARGET_WAIT_MS} ms: {c.verdict(ok)}")


if __name__ == "__main__":
    main()
