"""Errors the core raises; the CLI turns each into one sentence and a non-zero exit."""

from __future__ import annotations

TYPE_CHECKING = False  # `typing.TYPE_CHECKING` without importing typing (mypy reads it as True)
if TYPE_CHECKING:
    from collections.abc import Sequence


class OrchestraError(Exception):
    """A problem the user can act on. The message says what is wrong and what to do."""

    exit_code = 1


class NotARepository(OrchestraError):
    """The current directory is not inside a usable git repository."""


class ConfigError(OrchestraError):
    """`orchestra.toml` cannot be read or does not validate."""


class UnknownAgent(OrchestraError):
    """No agent of that name is recorded for this project."""

    @classmethod
    def named(cls, *names: str, where: str = "this project") -> UnknownAgent:
        """The one sentence for names that match no agent: `UnknownAgent.named("x")`."""
        listed = ", ".join(f"'{name}'" for name in names)
        return cls(f"there is no agent named {listed} in {where}: `orchestra ls` lists them.")


class AgentKindError(OrchestraError):
    """The agent kind is unknown or its command-line tool is not installed."""


class CommandFailed(OrchestraError):
    """An outside program failed. Like subprocess's CalledProcessError it keeps what ran: `argv`,
    `returncode` (None when the program could not be started, or timed out) and `stderr`; the
    message stays one sentence for the user. (`exit_code` is the one orchestra itself exits with.)"""

    def __init__(
        self, message: str, argv: Sequence[str] | None = None, returncode: int | None = None, stderr: str = ""
    ):
        super().__init__(message)
        self.argv = list(argv or [])
        self.returncode = returncode
        self.stderr = stderr


class GitError(CommandFailed):
    """A git command failed; the message carries git's own words."""


class TmuxError(CommandFailed):
    """tmux is missing or a tmux command failed."""


class WorkAtRisk(OrchestraError):
    """Removing an agent would lose uncommitted or unmerged work."""


class SpawnVetoed(OrchestraError):
    """A plugin's `pre_spawn` refused to start an agent. Plugins raise this to veto."""


class MergeFailed(OrchestraError):
    """An agent's branch could not be integrated: a conflict, a failing check, a refused push.
    Merge strategies raise this; the target branch and the main checkout stay as they were."""


class MergeConflict(MergeFailed):
    """git's merge (or rebase) of an agent's branch stopped on conflicts in `files`."""

    def __init__(self, message: str, files: Sequence[str]):
        super().__init__(message)
        self.files = list(files)
