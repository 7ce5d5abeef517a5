"""Everything a use case needs about the project it runs in, opened once per command."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestra import config as config_module
from orchestra.config import Config
from orchestra.launch import launcher_argv
from orchestra.state import State
from orchestra.tmux import Tmux
from orchestra.worktrees import Project, discover

if TYPE_CHECKING:
    from orchestra.plugins import Plugins


@dataclass
class Context:
    project: Project
    config: Config
    state: State
    tmux: Tmux
    _plugins: Plugins | None = field(default=None, repr=False)

    @classmethod
    def open(cls, cwd: Path | None = None) -> Context:
        project = discover(cwd)
        # An agent's worktree holds the base commit's copy of orchestra.toml: the project's
        # configuration is the main checkout's, wherever it is read from (a notifier, the
        # pane-died hook and any command run inside a worktree open the agent's worktree).
        start = project.cwd if _toplevel(project) == project.root else project.root
        config = config_module.load(start, project.root)
        return cls(project=project, config=config, state=State(project.state_dir), tmux=Tmux())

    @property
    def plugins(self) -> Plugins:
        """The plugin manager, loaded on first use (listing agents never needs it)."""
        if self._plugins is None:
            from orchestra import plugins

            custom = {kind: table.get("command", []) for kind, table in self.config.agents.items()}
            self._plugins = plugins.load(self.config.plugins.get("disabled", []), custom)
        return self._plugins

    @property
    def session(self) -> str:
        template: str = self.config.orchestra["session"]
        return session_name(template.format(repo=self.project.name))

    def board_env(self) -> dict[str, str]:
        """What the board and hook commands need to find this same tmux server and config."""
        env = {}
        for key in ("ORCHESTRA_TMUX_SOCKET", "ORCHESTRA_HOME"):
            if os.environ.get(key):
                env[key] = os.environ[key]
        return env

    def board_argv(self) -> list[str]:
        return launcher_argv("ls", "--watch")


def session_name(text: str) -> str:
    """`text` as a tmux session name that tmux keeps as given: tmux turns `.` and `:` into `_`,
    stores `$`, `\\` and control characters escaped, and expands `#` as a format (`#(...)` would
    run a shell command), so a session named with them could not be found again by its name.
    Each becomes `-`."""
    return "".join("-" if c in ".:$\\#" or not c.isprintable() else c for c in text)


def _toplevel(project: Project) -> Path:
    """The top of the checkout the command runs in: the main checkout, or a linked worktree."""
    for folder in [project.cwd, *project.cwd.parents]:
        if (folder / ".git").exists():
            return folder
    return project.root


def plugins_here() -> Plugins:
    """The plugins as the project in the current folder has them (its `[plugins] disabled`
    honoured); outside a repository, or in one that cannot be opened, every installed plugin."""
    from orchestra import plugins
    from orchestra.errors import OrchestraError

    try:
        return Context.open().plugins
    except OrchestraError:
        return plugins.load()
