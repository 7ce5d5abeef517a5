"""The `opencode` agent kind: the OpenCode TUI, started interactively with its task.

OpenCode's notifications reach only its own JavaScript plugins, not a program it could run, so
its status comes from the screen: its permission dialog means `waiting`. The task is passed as
`--prompt=TASK`, one argument that cannot be read as an option whatever it starts with.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings

# OpenCode 1.18's permission dialog ("Permission required", then Allow once / Allow always / Reject).
WAITING_PATTERNS = [r"Permission required", r"Allow once"]
BUSY_PATTERNS = [r"\binterrupt\b"]  # its footer while a turn runs: "esc interrupt"


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    argv = [*(settings.command or ["opencode"]), *settings.args]
    if settings.model:
        argv += ["--model", settings.model]  # provider/model, e.g. anthropic/claude-sonnet-4-5
    return [*argv, f"--prompt={agent.task}"]


@hookimpl
def register_agents(register: Callable[[AgentKind], None]) -> None:
    register(
        AgentKind(
            name="opencode",
            build_argv=build_argv,
            description="OpenCode (`opencode`), interactive TUI, in its own worktree",
            default_command=["opencode"],
            default_env={
                "OPENCODE_DISABLE_AUTOUPDATE": "true",
                # Merged over the user's permission settings: edits go ahead, shell commands ask.
                "OPENCODE_PERMISSION": '{"bash": "ask"}',
            },
            waiting_patterns=WAITING_PATTERNS,
            busy_patterns=BUSY_PATTERNS,
        )
    )
