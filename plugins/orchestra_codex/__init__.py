"""The `codex` agent kind: OpenAI's Codex CLI, started interactively with its task.

Codex runs the program in its `notify` setting with a JSON argument when a turn completes. Each
agent gets, as a command-line config override (`-c notify=[...]`, never the user's own
config.toml), `python -m orchestra_codex.notify <hook command>`, which turns that event into a
`Stop` for orchestra's hook handler: the agent shows `done` with Codex's last message. Codex
reports nothing when a turn starts or asks for approval, so until its first turn completes the
status comes from the screen patterns below.
"""

from __future__ import annotations

import json
import sys

from orchestra import __version__  # noqa: F401  (released with orchestra itself)
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings

# Approval prompts of Codex's TUI (0.169) and its first-run sign-in screen.
WAITING_PATTERNS = [
    r"Would you like to run the following command\?",
    r"Would you like to make the following edits\?",
    r"Would you like to grant these permissions\?",
    r"Sign in with ChatGPT",
]
BUSY_PATTERNS = [r"esc to interrupt", r"\bWorking \("]


def notify_config(hook_command: list[str]) -> str:
    """The `-c` override: TOML's basic strings accept JSON's escapes, so a JSON array is TOML."""
    program = [sys.executable, "-m", "orchestra_codex.notify", *hook_command]
    return "notify=" + json.dumps(program)


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    argv = [*(settings.command or ["codex"]), *settings.args]
    if settings.model:
        argv += ["--model", settings.model]
    if settings.hook_command:
        argv += ["-c", notify_config(settings.hook_command)]
    # `--` ends option parsing, so a task that starts with a dash is still the prompt.
    return [*argv, "--", agent.task]


@hookimpl
def register_agents(register):
    register(
        AgentKind(
            name="codex",
            build_argv=build_argv,
            description="OpenAI Codex CLI (`codex`), interactive, in its own worktree",
            default_command=["codex"],
            # Edits and commands inside the worktree run without asking; anything beyond it asks.
            default_args=["--sandbox", "workspace-write", "--ask-for-approval", "on-request",
                          "-c", "check_for_update_on_startup=false"],  # fmt: skip
            waiting_patterns=WAITING_PATTERNS,
            busy_patterns=BUSY_PATTERNS,
            # notify reports only a turn's end: approvals and new turns are read from the screen.
            screen_after_hooks=True,
        )
    )
