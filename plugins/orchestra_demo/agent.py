"""The scripted demo agent: `python .../orchestra_demo/agent.py -- TASK` (standard library only).

Ten start at once in a spawn of ten, while orchestra still opens their windows: `re` and
`subprocess` are imported once the agent has something to do with them, not at its start.
"""

from __future__ import annotations

import os
import sys
import time


def step(text: str, delay: float) -> None:
    print(f"  {text}", flush=True)
    time.sleep(delay)


def git(*args: str) -> None:
    import subprocess

    identity = []
    if subprocess.run(["git", "config", "user.email"], capture_output=True).returncode != 0:
        identity = ["-c", "user.name=orchestra demo", "-c", "user.email=demo@orchestra.invalid"]
    subprocess.run(["git", *identity, *args], check=True, stdout=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    args = argv[1:]
    if len(args) != 2 or args[0] != "--":  # so that `agent.py --help` is not taken for a task, and committed
        print("usage: python agent.py -- TASK", file=sys.stderr)
        return 2
    task = args[1]
    delay = float(os.environ.get("ORCHESTRA_DEMO_DELAY", "0.6"))
    name = os.environ.get("ORCHESTRA_AGENT") or "demo"
    print(f"demo agent {name} on port {os.environ.get('ORCHESTRA_PORT', '-')}", flush=True)
    print(f"task: {task[:200]}", flush=True)
    step("working... reading the repository", delay)
    import re

    if re.search(r"\bask\b", task, re.IGNORECASE):
        print("Shall I go ahead? [y/n] ", end="", flush=True)
        answer = sys.stdin.readline().strip().lower()
        if not answer.startswith("y"):
            print("  stopping: the answer was no", flush=True)
            return 0
    if re.search(r"\bfail\b", task, re.IGNORECASE):
        step("working... running the checks", delay)
        print("error: the checks failed (as the task asked)", file=sys.stderr, flush=True)
        return 1
    path = os.path.join("notes", f"{os.path.basename(name)}.md")  # the agent's name: unique in the project
    step(f"working... writing {path}", delay)
    os.makedirs("notes", exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(os.fsencode(task) + b"\n")
    step("working... committing", delay)
    git("add", path)
    git("commit", "--quiet", "-m", f"demo: {task.splitlines()[0][:60] if task.strip() else 'task'}")
    print("done: wrote and committed " + path, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
