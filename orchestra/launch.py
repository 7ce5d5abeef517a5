"""How orchestra starts itself again: in a tmux window (the board, an agent's launcher), from a
tmux hook (`pane-died`), from an agent CLI's hooks. Only standard modules, so that any module can
import it without importing tmux's or the launcher's code."""

from __future__ import annotations

import sys

# `-P`: orchestra runs itself inside agents' worktrees, and `-m` would put the current folder first
# on the import path, so a repository with its own top-level `orchestra` package (this project's,
# for one) would run its code instead of the installed orchestra. Python 3.10 has no `-P`.
SAFE_PATH = ("-P",) if sys.version_info >= (3, 11) else ()


def launcher_argv(*args: str) -> list[str]:
    """`python -m orchestra ...` with this very interpreter, so it works without `orchestra` on PATH."""
    return [sys.executable, *SAFE_PATH, "-m", "orchestra", *args]


def mcp_argv(state_dir: str, agent: str) -> list[str]:
    """How an agent CLI starts orchestra's MCP tools for `agent`: the relay (`orchestra.mcp_relay`,
    standard library only, without the site module) to the project's one server, which the relay
    starts when none answers; the name makes the agent the parent of what it spawns."""
    from os.path import dirname, join

    return [
        sys.executable,
        "-I",
        "-S",
        join(dirname(__file__), "mcp_relay.py"),
        "--state-dir",
        state_dir,
        "--agent",
        agent,
    ]


def hook_argv(*args: str) -> list[str]:
    """The hook handler's start (`orchestra.hook_start`): this interpreter without its site module,
    running the file beside this one, so it works without `orchestra` on PATH and starts in about
    half the time `python -m orchestra` takes."""
    from os.path import dirname, join

    return [sys.executable, "-I", "-S", join(dirname(__file__), "hook_start.py"), *args]


# Run before a launcher that a spawn of several opens (`exec_argv`'s `gate`): wait for a shared
# lock on the file "$1" (held exclusively by the spawn while tmux opens its windows), let it go,
# then become the launcher. Constant: the file and the launcher come as arguments. With no
# `flock` program, or no file, it waits for nothing; a spawn that dies lets go of its lock.
GATE = '{ flock -s 9; } 2>/dev/null 9<"$1"; shift; exec "$@"'


def exec_argv(state_dir: str, name: str, gate: str | None = None) -> list[str]:
    """An agent's launcher as its tmux window runs it (`orchestra.launcher_start`): this
    interpreter without its site module, running the file beside this one (`python -m orchestra
    _exec` does the same work, for windows opened by earlier versions). With `gate`, a lock
    file: the launcher starts once no one holds it (`GATE`)."""
    from os.path import dirname, join

    argv = [sys.executable, "-I", "-S", join(dirname(__file__), "launcher_start.py"), "--state-dir", state_dir, name]
    return ["/bin/sh", "-c", GATE, "orchestra", gate, *argv] if gate else argv
