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
    """orchestra's MCP server scoped to one agent (`orchestra mcp --agent NAME`), with this very
    interpreter. The agent CLI starts it in the agent's worktree, where it finds the project (and so
    `state_dir`, which is that project's); the name makes the agent the parent of what it spawns."""
    del state_dir  # found again from the worktree: kept in the signature for a server that takes it
    return launcher_argv("mcp", "--agent", agent)


def hook_argv(*args: str) -> list[str]:
    """The hook handler's start (`orchestra.hook_start`): this interpreter without its site module,
    running the file beside this one, so it works without `orchestra` on PATH and starts in about
    half the time `python -m orchestra` takes."""
    from os.path import dirname, join

    return [sys.executable, "-I", "-S", join(dirname(__file__), "hook_start.py"), *args]
