"""The `codex` agent kind: OpenAI's Codex CLI, started interactively with its task.

Codex runs the program in its `notify` setting with a JSON argument when a turn completes. Each
agent gets, as a command-line config override (`-c notify=[...]`, never the user's own
config.toml), orchestra's hook handler itself, which reads that event with the translator in
`orchestra_codex.notify` (`turn-ended`): the agent shows `done` with Codex's last message, and its
record keeps the conversation's thread id, which `orchestra resume` continues with
`codex resume <id>`. Codex reports nothing when a turn starts or asks for approval, so the
screen patterns below say that.

orchestra's MCP server (the relay to the project's server) comes the same way, as `-c
mcp_servers.orchestra.*` overrides for this session only: its tools run without asking, except
`merge`, which prompts. The server is `required`, so Codex holds a turn's first request until it
answers, and orchestra starts the project's server before the window opens (`mcp_early`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings, Usage

# Approval prompts of Codex's TUI (0.169), its first-run sign-in screen and its folder-trust
# dialog (shown before any turn, so before notify could ever report).
WAITING_PATTERNS = [
    r"Would you like to run the following command\?",
    r"Would you like to make the following edits\?",
    r"Would you like to grant these permissions\?",
    r"Sign in with ChatGPT",
    r"Trust this folder\?",
]
BUSY_PATTERNS = [r"esc to interrupt", r"\bWorking \("]
# A usage or rate limit, which Codex's notify does not report: its retries spent on HTTP 429, or
# the plan's usage limit.
LIMITED_PATTERNS = [r"■ .*\b429 Too Many Requests\b", r"You've hit your usage limit"]


def notify_config(hook_command: list[str]) -> str:
    """The `-c` override: TOML's basic strings accept JSON's escapes, so a JSON array is TOML.

    Codex appends the event as one more argument, which the hook handler takes as its payload."""
    return "notify=" + json.dumps(hook_command)


def mcp_overrides(mcp_command: list[str]) -> list[str]:
    """`-c` overrides that add orchestra's server to the user's own for this session only."""
    values = {
        "command": mcp_command[0],
        "args": mcp_command[1:],
        # Codex waits for a required server before a turn's first request; an optional one still
        # starting is left out of it, and the lead's first request is the one that splits its task.
        "required": True,
        # Codex gives an MCP server only the variables it names. The server (started by the relay
        # when none answers) works, and starts agents, in the environment a spawn from this shell
        # would: every variable of it is named (names only; the values stay in the environment).
        "env_vars": sorted(os.environ),
        # `wait` blocks until workers finish (600 s by default): longer than Codex's own tool timeout.
        "tool_timeout_sec": 3600,
        "default_tools_approval_mode": "approve",
        "tools.merge.approval_mode": "prompt",
    }
    options: list[str] = []
    for key, value in values.items():
        options += ["-c", f"mcp_servers.orchestra.{key}={json.dumps(value)}"]
    return options


def _options(settings: AgentSettings) -> list[str]:
    options = [*settings.args]
    if settings.model:
        options += ["--model", settings.model]
    # Codex takes keys that arrive faster than a person types, followed by Enter, for a paste
    # and keeps the Enter as a new line: text typed by `orchestra send` would never be submitted.
    options += ["-c", "tui.disable_paste_burst=true"]
    if settings.hook_command:
        options += ["-c", notify_config(settings.hook_command)]
    if settings.mcp_command:
        options += mcp_overrides(settings.mcp_command)
    return options


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    # `--` ends option parsing, so a task that starts with a dash is still the prompt.
    return [*(settings.command or ["codex"]), *_options(settings), "--", agent.task]


def build_resume_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    """`codex resume [OPTIONS] <thread id>`: the subcommand takes the same options as a new session."""
    assert agent.session_id is not None, "orchestra resumes only an agent with a session id"
    return [*(settings.command or ["codex"]), "resume", *_options(settings), "--", agent.session_id]


@hookimpl
def register_agents(register: Callable[[AgentKind], None]) -> None:
    register(
        AgentKind(
            name="codex",
            build_argv=build_argv,
            build_resume_argv=build_resume_argv,
            description="OpenAI Codex CLI (`codex`), interactive, in its own worktree",
            default_command=["codex"],
            # Edits and commands inside the worktree run without asking; anything beyond it asks.
            default_args=[
                "--sandbox",
                "workspace-write",
                "--ask-for-approval",
                "on-request",
                "-c",
                "check_for_update_on_startup=false",
            ],
            waiting_patterns=WAITING_PATTERNS,
            busy_patterns=BUSY_PATTERNS,
            limited_patterns=LIMITED_PATTERNS,
            # notify reports only a turn's end: approvals and new turns are read from the screen.
            screen_after_hooks=True,
            hook_translator="orchestra_codex.notify",
            takes_mcp=True,
            mcp_early=True,
        )
    )


@hookimpl
def agent_usage(agent: Agent, config: Any, previous: Usage | None) -> Usage | None:
    """The tokens of the agent's thread, from Codex's rollout file (known once a turn ended)."""
    if agent.kind != "codex":
        return None
    from orchestra_codex.usage import codex_home, find_rollout, usage_by_model

    if not agent.session_id:
        return Usage()  # no turn has ended yet: the thread id is not known
    known = Path(previous.sources[0]) if previous and previous.sources else None
    if known is not None and known.name.endswith(f"-{agent.session_id}.jsonl") and known.is_file():
        rollout: Path | None = known  # found last time: no walk through every day's folder
    else:
        rollout = find_rollout(codex_home(config.agent_settings(agent.kind).env), agent.session_id)
    if rollout is None:
        return Usage()
    return Usage(models=usage_by_model(rollout), sources=[str(rollout)])
