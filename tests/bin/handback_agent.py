"""A scripted agent that can take a conflict handed back to it, reporting its turns through
orchestra's hook handler as an agent CLI with hooks does.

    handback_agent.py LOG FILE CONTENT

Its first turn writes CONTENT to FILE in its worktree and commits it. Each line typed into it
afterwards is a prompt: it is appended to LOG; when it asks for `git merge X` or `git rebase X`,
that command runs, and every conflicted file is resolved by keeping both sides (the target's
lines, then its own), added and committed (or the rebase continued).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

log, path, content = sys.argv[1:4]
name = os.environ["ORCHESTRA_AGENT"]
common = subprocess.run(["git", "rev-parse", "--git-common-dir"], capture_output=True, text=True, check=True)
state_dir = Path(common.stdout.strip()).resolve() / "orchestra"


def report(event: str, **fields: str) -> None:
    payload = json.dumps({"event": event, **fields})
    subprocess.run([sys.executable, "-m", "orchestra", "_hook", "--state-dir", str(state_dir), name, payload])


def git(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=check, env=env)


def show(stage: int, file: str) -> str:
    return git("show", f":{stage}:{file}").stdout


def resolve(asked: str, target: str) -> None:
    result = git(asked, target, check=False)
    if result.returncode == 0:
        return
    conflicted = [f for f in git("diff", "-z", "--name-only", "--diff-filter=U").stdout.split("\0") if f]
    for file in conflicted:
        # In a merge stage 2 is its own side and 3 the target's; a rebase replays its commits on the target, the other way round.
        own, theirs = (2, 3) if asked == "merge" else (3, 2)
        Path(file).write_text(show(theirs, file) + show(own, file))
        git("add", "--", file)
    if asked == "merge":
        git("commit", "--quiet", "--no-edit")
    else:
        git("rebase", "--continue", env={**os.environ, "GIT_EDITOR": "true"})


Path(path).write_text(content + "\n")
git("add", "--", path)
git("commit", "--quiet", "-m", f"write {path}")
report("turn-ended", message=f"wrote {path}")
for line in sys.stdin:
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(line)
    report("prompt-submitted")
    asked = re.search(r"`git (merge|rebase) ([^`\s]+)`", line)
    if asked:
        resolve(asked.group(1), asked.group(2))
        report("turn-ended", message=f"brought my branch up to date with {asked.group(2)}")
    else:
        report("turn-ended", message="nothing asked")
