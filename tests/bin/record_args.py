"""A stand-in agent CLI: writes each argument after the output folder, byte for byte, then idles.

record_args.py OUT_DIR ARG...   ->   OUT_DIR/<ORCHESTRA_AGENT>.<n> holds ARG n's bytes
(and OUT_DIR/<ORCHESTRA_AGENT>.env a few variables, the ones named in RECORD_ENV=A,B too)
"""

import os
import sys

out = sys.argv[1]
name = os.environ.get("ORCHESTRA_AGENT", "agent")
env_probe = {
    k: os.environ.get(k, "")
    for k in ("ORCHESTRA_AGENT", "ORCHESTRA_PORT", "ORCHESTRA_TEST_SPAWN_ONLY", "TERM", "TMUX_PANE")
}
env_probe.update({k: os.environ.get(k, "") for k in os.environ.get("RECORD_ENV", "").split(",") if k})
for n, arg in enumerate(sys.argv[2:]):
    with open(os.path.join(out, f"{name}.{n}"), "wb") as handle:
        handle.write(os.fsencode(arg))
with open(os.path.join(out, f"{name}.env"), "w") as handle:
    for key, value in env_probe.items():
        handle.write(f"{key}={value}\n")
    handle.write(f"cwd={os.getcwd()}\n")
with open(os.path.join(out, f"{name}.done"), "w") as handle:
    handle.write(str(len(sys.argv) - 2))
print("recorded", len(sys.argv) - 2, "argument(s)", flush=True)
sys.exit(int(os.environ.get("RECORD_EXIT", "0")))
