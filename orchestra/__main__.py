"""`python -m orchestra`. The launcher, its exit and the hook handlers are dispatched before click loads:
they run for every agent, every agent hook event and every pane death, so they start with as
little as possible."""

import sys

INTERNAL = {
    "_exec": ("orchestra.launcher", "exec_agent"),
    "_exited": ("orchestra.launcher", "exited"),
    "_pane-died": ("orchestra.launcher", "pane_died"),
    "_hook": ("orchestra.hook_handler", "main"),
    "_notify": ("orchestra.hook_handler", "notify"),
    "_pool-fill": ("orchestra.pool", "fill_main"),
    "_forecast": ("orchestra.lookout", "main"),
    "_queue": ("orchestra.schedule", "main"),
    "_limit": ("orchestra.limits", "arm_main"),
    "_limit-end": ("orchestra.limits", "end_main"),
    "_remote": ("orchestra.on_host", "main"),
    "_remote-attach": ("orchestra.on_host", "attach_main"),
    "_remote-follow": ("orchestra.on_host", "follow_main"),
    "_mcp-serve": ("orchestra.mcp_server", "serve_main"),
}

# Work no one waits for, below the agents from its first instruction: the pool's refill starts
# as a spawn's agents do, and its imports alone are a tenth of a second of a processor.
NICE = {"_pool-fill": 10}

if len(sys.argv) > 1 and sys.argv[1] in INTERNAL:
    import importlib

    if sys.argv[1] in NICE:
        import contextlib
        import os

        with contextlib.suppress(OSError):
            os.nice(NICE[sys.argv[1]])

    module, function = INTERNAL[sys.argv[1]]
    sys.exit(getattr(importlib.import_module(module), function)(sys.argv[2:]))

from orchestra.console import main  # noqa: E402

main()
