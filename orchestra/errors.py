"""Errors the core raises; the CLI turns each into one sentence and a non-zero exit."""

from __future__ import annotations


class OrchestraError(Exception):
    """A problem the user can act on. The message says what is wrong and what to do."""

    exit_code = 1


class NotARepository(OrchestraError):
    """The current directory is not inside a usable git repository."""


class ConfigError(OrchestraError):
    """`orchestra.toml` cannot be read or does not validate."""


class UnknownAgent(OrchestraError):
    """No agent of that name is recorded for this project."""


class AgentKindError(OrchestraError):
    """The agent kind is unknown or its command-line tool is not installed."""


class GitError(OrchestraError):
    """A git command failed; the message carries git's own words."""


class TmuxError(OrchestraError):
    """tmux is missing or a tmux command failed."""


class WorkAtRisk(OrchestraError):
    """Removing an agent would lose uncommitted or unmerged work."""


class SpawnVetoed(OrchestraError):
    """A plugin's `pre_spawn` refused to start an agent. Plugins raise this to veto."""


class MergeFailed(OrchestraError):
    """An agent's branch could not be integrated: a conflict, a failing check, a refused push.
    Merge strategies raise this; the target branch and the main checkout stay as they were."""
