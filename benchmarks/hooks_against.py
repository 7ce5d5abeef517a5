"""The hook handler of this checkout against another version's, side by side in one run.

Both run as Claude Code runs them (`/bin/sh -c '<python> -m orchestra _hook ...'`, the event JSON
on stdin) with this checkout's virtualenv, on 20 recorded agents, for UserPromptSubmit,
PermissionRequest and Stop, taking turns with each other and with the floor (`python -c pass`),
in an order that rotates, each after the notifier the one before started has ended, so that the
machine's load falls on all three alike. The other version is a checkout of an
earlier commit (`git worktree add /tmp/old <commit>`), put first on PYTHONPATH.

Run: .venv/bin/python benchmarks/hooks_against.py /tmp/old [--runs 30] [--old-style]
(`--old-style`: the other version predates `--from`, and its handler reads Claude Code's payload itself)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVENTS = [
    {"hook_event_name": "UserPromptSubmit", "prompt": "go"},
    {"hook_event_name": "PermissionRequest", "tool_name": "Bash", "tool_input": {"command": "make test"}},
    {"hook_event_name": "Stop", "last_assistant_message": "All tests pass."},
]


def make_state(folder: Path) -> Path:
    folder.mkdir(parents=True)
    stamp = "2026-01-01T00:00:00.000+00:00"
    agents = {
        f"a{i}": {"name": f"a{i}", "task": "t" * 200, "agent": "claude", "branch": f"orchestra/a{i}", "base": "0" * 40,
                  "worktree": str(folder), "status": "running", "created_at": stamp, "updated_at": stamp,
                  "argv": ["claude", "--settings", "x" * 2000]}
        for i in range(20)
    }  # fmt: skip
    (folder / "state.json").write_text(json.dumps({"version": 1, "agents": agents}))
    return folder


def timed(argv: list[str], payload: bytes, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU milliseconds of one run (CPU: the shell and everything it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    begun = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", " ".join(argv)], input=payload, env=env, check=True)
    wall = time.perf_counter() - begun
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall * 1000, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("other", type=Path, help="a checkout of the other version")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--old-style", action="store_true", help="the other version's handler takes no --from")
    args = parser.parse_args()
    python = sys.executable
    other_env = {**os.environ, "PYTHONPATH": f"{args.other}:{args.other / 'plugins'}"}
    here_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    results: dict[str, list[tuple[float, float]]] = {"python -c pass": [], "other": [], "this": []}
    with tempfile.TemporaryDirectory() as scratch:
        other_state, this_state = make_state(Path(scratch, "other")), make_state(Path(scratch, "this"))
        translator = ["--from", "orchestra_claude.hooks"]
        for run in range(args.runs):
            for event in EVENTS:
                payload, name = json.dumps(event).encode(), f"a{run % 20}"
                hook = [python, "-m", "orchestra", "_hook", "--state-dir"]
                old = [*hook, str(other_state), *([] if args.old_style else translator), name]
                turns = [
                    ("python -c pass", [python, "-c", "pass"], here_env),
                    ("other", old, other_env),
                    ("this", [*hook, str(this_state), *translator, name], here_env),
                ]
                shift = (run * len(EVENTS) + EVENTS.index(event)) % len(turns)  # none always follows another
                for label, argv, env in turns[shift:] + turns[:shift]:
                    results[label].append(timed(argv, payload, env))
                    time.sleep(0.2)  # the notifier process each event starts (~0.1 s of a processor) ends first
    floor = statistics.median(w for w, _ in results["python -c pass"])
    print(
        f"{args.runs} runs of each of {len(EVENTS)} events, each a status change, taking turns; load {os.getloadavg()[0]:.1f}"
    )
    for label, samples in results.items():
        wall, cpu = [w for w, _ in samples], [c for _, c in samples]
        ratio = statistics.median(wall) / floor
        print(f"  {label:16} wall median {statistics.median(wall):6.1f} ms ({ratio:.2f}x the floor; "
              f"min {min(wall):.0f} / max {max(wall):.0f})  CPU median {statistics.median(cpu):6.1f} ms  n={len(samples)}")  # fmt: skip


if __name__ == "__main__":
    main()
