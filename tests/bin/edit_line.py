"""A scripted agent that edits one line: `edit_line.py "PATH: TEXT"` makes TEXT the first line of
PATH in its worktree (creating it), commits it, and exits 0, as an agent that finished would."""

import subprocess
import sys

path, _, text = sys.argv[1].partition(": ")
try:
    with open(path, encoding="utf-8") as handle:
        rest = handle.read().splitlines()[1:]
except FileNotFoundError:
    rest = []
with open(path, "w", encoding="utf-8") as handle:
    handle.write("\n".join([text, *rest]) + "\n")
subprocess.run(["git", "add", path], check=True)
subprocess.run(["git", "commit", "-qm", f"edit {path}"], check=True)
print(f"edited {path}", flush=True)
