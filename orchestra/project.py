"""The project a command runs in, as plugins' own commands may see it (public, like `models`).

A plugin's command (`register_commands`) that needs the repository's checkouts or its agents
calls `open_project()` rather than reaching into orchestra's private modules, so the plugin
keeps working when they change. It only reads: nothing is reconciled with tmux or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestra.models import Agent


@dataclass
class ProjectView:
    """One repository as orchestra knows it."""

    root: Path  # the main checkout, absolute
    # The main checkout first, then every worktree git knows of; each with its branch (None: detached).
    checkouts: dict[Path, str | None]
    agents: dict[str, Agent]  # every agent by name, as last recorded (statuses not checked against tmux)


def open_project(cwd: Path | None = None) -> ProjectView:
    """The project of the git repository around `cwd` (default: the current folder).

    Raises `OrchestraError` (with a sentence saying what to do) outside a git repository, or
    when the project's orchestra.toml or state file cannot be read.
    """
    from orchestra.context import Context
    from orchestra.worktrees import registered_worktrees

    ctx = Context.open(cwd)
    branches = registered_worktrees(ctx.project)
    checkouts = {ctx.project.root: branches.get(ctx.project.root), **branches}
    return ProjectView(root=ctx.project.root, checkouts=checkouts, agents=ctx.state.read())
