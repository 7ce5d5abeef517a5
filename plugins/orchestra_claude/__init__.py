"""The `claude` agent kind: Claude Code, started interactively with its task."""

from __future__ import annotations

from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings

__version__ = "0.1.0"


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    argv = [*(settings.command or ["claude"]), *settings.args]
    if settings.model:
        argv += ["--model", settings.model]
    if agent.session_id:
        argv += ["--session-id", agent.session_id]
    # `--` ends option parsing, so a task that starts with a dash is still the prompt.
    return [*argv, "--", agent.task]


@hookimpl
def register_agents(register):
    register(
        AgentKind(
            name="claude",
            build_argv=build_argv,
            description="Claude Code (`claude`), interactive, in its own worktree",
            default_command=["claude"],
            # Edits stay inside the agent's own worktree; commands still ask a person.
            default_args=["--permission-mode", "acceptEdits"],
            # Without this an interactive session may update itself with a global npm install.
            default_env={"DISABLE_AUTOUPDATER": "1"},
            waiting_patterns=[r"Do you want to proceed\?", r"Do you want to make this edit", r"❯ 1\. Yes"],
            busy_patterns=[r"esc to interrupt"],
        )
    )
