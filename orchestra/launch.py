"""How orchestra starts itself again: in a tmux window (the board, an agent's launcher), from a
tmux hook (`pane-died`), from an agent CLI's hooks. Only standard modules, so that any module can
import it without importing tmux's or the launcher's code."""

from __future__ import annotations

import sys


def launcher_argv(*args: str) -> list[str]:
    """`python -m orchestra ...` with this very interpreter, so it works without `orchestra` on PATH."""
    return [sys.executable, "-m", "orchestra", *args]
