"""The agents of a project counted by status, in one line for a tmux status bar (`orchestra ls --tmux`).

tmux runs the status command every few seconds for every client, so this reads the state file as
stored: it does not reconcile the records with tmux or git (the board and `orchestra ls` do that,
and write what they find back), loads no plugins, and imports only a few standard modules. The
project is found with one plain `git rev-parse` (`orchestra.git.common_dir`).
"""

from __future__ import annotations

from pathlib import Path

from orchestra import git, statuses
from orchestra.state import State

# (symbol, tmux style, the statuses it counts), in the order shown. Merged agents are not counted.
GROUPS = (
    ("⚙", "", (statuses.STARTING, statuses.RUNNING)),
    ("?", "fg=yellow,bold", (statuses.WAITING,)),
    ("✓", "fg=green", (statuses.DONE, statuses.EXITED)),
    ("✗", "fg=red", (statuses.FAILED, statuses.LOST)),
    ("…", "dim", (statuses.QUEUED,)),
)


def state_dir(cwd: Path) -> Path | None:
    """The project's state folder for a checkout or worktree at `cwd`; None outside a repository."""
    common = git.common_dir(cwd)
    return common / "orchestra" if common is not None else None


def count(cwd: Path) -> list[int]:
    """How many agents are in each of GROUPS, as last recorded. Raises OrchestraError on a damaged state file."""
    folder = state_dir(cwd)
    if folder is None:
        return [0] * len(GROUPS)
    recorded = [
        record.get("status") for record in State(folder).read_raw(complete=False).values() if isinstance(record, dict)
    ]
    return [sum(recorded.count(s) for s in group) for _symbol, _style, group in GROUPS]


def status_line(counts: list[int]) -> str:
    """`⚙2 ?1 ✓3` with tmux style codes; empty when there are no agents to count."""
    parts = []
    for (symbol, style, _group), number in zip(GROUPS, counts, strict=True):
        if number:
            parts.append(f"#[{style}]{symbol}{number}#[default]" if style else f"{symbol}{number}")
    return " ".join(parts)
