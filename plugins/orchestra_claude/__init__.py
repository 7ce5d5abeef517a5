"""The `claude` agent kind: Claude Code, started interactively with its task.

Each agent gets a conversation id chosen at spawn (`--session-id`) and, through `--settings`,
hooks whose command is orchestra's hook handler: Claude Code itself says when it starts a turn,
asks for a permission, finishes or fails, so its status is exact instead of read off the
screen. The user's own settings files are left alone: `--settings` adds to them for this
session only. `orchestra resume` continues the same conversation with `--resume <id>`.

Each agent also gets orchestra's own MCP server (`orchestra mcp --agent NAME`) through
`--mcp-config`, under the name `orchestra`, beside the user's own servers; its tools are allowed
without a prompt through the same `--settings`, except `merge`, which asks like any change to the
target. `[agents.claude] mcp = false` leaves it out.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings, Check, Usage

# The events orchestra listens to (see docs/claude.md for what each one does to the status).
HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PermissionRequest",
    "Notification",
    "PostToolUse",
    "Stop",
    "StopFailure",
    "SessionEnd",
)
HOOK_TIMEOUT = 10  # seconds; the handler takes milliseconds, this only bounds a stuck disk
MCP_SERVER = "orchestra"  # Claude Code names its tools mcp__orchestra__spawn and so on
# orchestra's tools an agent may call unasked: all but `merge`, which changes the target branch.
ALLOWED_TOOLS = ("list", "spawn", "send", "wait", "report", "diff", "post", "read")

# Start-up dialogs and prompts that need a person, for a session whose hooks have not reported
# yet (folder trust comes before any hook runs) or a Claude Code started outside orchestra.
WAITING_PATTERNS = [
    r"Is this a project you created or one you trust\?",
    r"Do you trust the files in this folder\?",
    r"Do you want to proceed\?",
    r"Do you want to make this edit",
    r"Do you want to create \S+\?",
    r"❯ 1\. Yes",
]
BUSY_PATTERNS = [r"esc to interrupt"]


def hook_settings(hook_command: list[str], allowed_tools: tuple[str, ...] = ()) -> str:
    """The `--settings` JSON: every listened-to event runs orchestra's hook handler, and the
    `allowed_tools` of orchestra's MCP server run without a permission prompt."""
    settings: dict[str, Any] = {}
    if hook_command:
        command = shlex.join(hook_command)  # Claude Code runs hook commands through a shell
        handler = {"type": "command", "command": command, "timeout": HOOK_TIMEOUT}
        settings["hooks"] = {event: [{"hooks": [handler]}] for event in HOOK_EVENTS}
    if allowed_tools:
        settings["permissions"] = {"allow": [f"mcp__{MCP_SERVER}__{tool}" for tool in allowed_tools]}
    return json.dumps(settings, separators=(",", ":"))


def mcp_config(mcp_command: list[str]) -> str:
    """The `--mcp-config` JSON: orchestra's server, started by Claude Code in the agent's worktree.
    Added to the user's own servers (no `--strict-mcp-config`), which keep working."""
    server = {"type": "stdio", "command": mcp_command[0], "args": mcp_command[1:]}
    return json.dumps({"mcpServers": {MCP_SERVER: server}}, separators=(",", ":"))


def _common(agent: Agent, settings: AgentSettings) -> list[str]:
    argv = [*(settings.command or ["claude"]), *settings.args]
    if settings.model:
        argv += ["--model", settings.model]
    allowed = ALLOWED_TOOLS if settings.mcp_command else ()
    if settings.hook_command or allowed:
        argv += ["--settings", hook_settings(settings.hook_command, allowed)]
    if settings.mcp_command:
        # `--mcp-config` takes several values: the next option (or `--`) ends them.
        argv += ["--mcp-config", mcp_config(settings.mcp_command)]
    return argv


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    argv = _common(agent, settings)
    if agent.session_id:
        argv += ["--session-id", agent.session_id]
    # `--` ends option parsing, so a task that starts with a dash is still the prompt.
    return [*argv, "--", agent.task]


def build_resume_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    assert agent.session_id is not None, "orchestra resumes only an agent with a session id"
    return [*_common(agent, settings), "--resume", agent.session_id]


@hookimpl
def register_agents(register: Callable[[AgentKind], None]) -> None:
    register(
        AgentKind(
            name="claude",
            build_argv=build_argv,
            build_resume_argv=build_resume_argv,
            session_ids=True,
            description="Claude Code (`claude`), interactive, in its own worktree",
            default_command=["claude"],
            # Edits stay inside the agent's own worktree; commands still ask a person.
            default_args=["--permission-mode", "acceptEdits"],
            # Without this an interactive session may update itself with a global npm install.
            default_env={"DISABLE_AUTOUPDATER": "1"},
            waiting_patterns=WAITING_PATTERNS,
            busy_patterns=BUSY_PATTERNS,
            hook_translator="orchestra_claude.hooks",
            takes_mcp=True,
        )
    )


# -- what else orchestra asks about Claude Code: its transcripts, its commands, its trust, its usage --


@hookimpl
def session_id_taken(kind: AgentKind, session_id: str) -> bool | None:
    """A new conversation id must not be one of a transcript Claude Code already keeps."""
    if kind.name != "claude":
        return None
    from orchestra_claude.sessions import transcript_exists

    return transcript_exists(session_id)


@hookimpl
def register_commands(cli: Any) -> None:
    from orchestra_claude.commands import sessions  # click only when the command line is built

    cli.add_command(sessions)


@hookimpl
def doctor_checks(root: Path, config: Any) -> list[Check]:
    from orchestra_claude.trust import trust_checks

    return trust_checks(root, config)


@hookimpl
def agent_usage(agent: Agent, config: Any, previous: Usage | None) -> Usage | None:
    """The tokens of the agent's conversation, from its transcript (and its sub-agents'), read
    on from where the last read stopped."""
    if agent.kind != "claude":
        return None
    from orchestra_claude.sessions import find_transcript
    from orchestra_claude.usage import read_usage, subagents_folder, transcript_files

    transcript = Path(agent.transcript) if agent.transcript else find_transcript(agent.session_id)
    if transcript is None:
        return Usage()  # Claude Code has written nothing yet
    found = transcript_files(transcript)
    models, state = read_usage(found, previous.models if previous else None, previous.state if previous else None)
    sources = [str(transcript), str(subagents_folder(transcript)), *(str(p) for p in found[1:])]
    return Usage(models=models, sources=sources, state=state)
