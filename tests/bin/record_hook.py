"""A stand-in hook command for Claude Code: appends the event it got on stdin to a JSON-lines file.

record_hook.py LOG   ->   one line per event: {"event": <stdin JSON>, "env": <CLAUDE_* variables>}
"""

import json
import os
import sys

raw = sys.stdin.read()
try:
    event = json.loads(raw)
except ValueError:
    event = {"unparsed": raw}
env = {key: value for key, value in os.environ.items() if key.startswith("CLAUDE")}
# One write on an O_APPEND file: hooks run at the same time (Stop beside MessageDisplay) and must not interleave.
line = (json.dumps({"event": event, "env": env}) + "\n").encode()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
try:
    os.write(fd, line)
finally:
    os.close(fd)
