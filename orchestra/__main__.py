"""`python -m orchestra`. The launcher and the tmux hook handler are dispatched before click loads:
they run for every agent and every pane death, so they start with as little as possible."""

import sys

INTERNAL = {"_exec": "exec_agent", "_pane-died": "pane_died"}

if len(sys.argv) > 1 and sys.argv[1] in INTERNAL:
    from orchestra import launcher

    sys.exit(getattr(launcher, INTERNAL[sys.argv[1]])(sys.argv[2:]))

from orchestra.cli import main  # noqa: E402

main()
