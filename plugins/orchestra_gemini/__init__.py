"""The `gemini` agent kind: Google's Gemini CLI, started interactively with its task.

Gemini CLI runs hooks from its settings layers on its lifecycle events. Gemini has no
command-line settings, so each agent gets an extra settings layer through the environment:
`GEMINI_CLI_SYSTEM_DEFAULTS_PATH` names a file orchestra writes (never the user's own
settings.json; Gemini concatenates hooks across layers, so the user's own hooks still run)
whose hooks run `python -m orchestra_gemini.hook <hook command>`. That adapter turns Gemini's
events (BeforeAgent, Notification, AfterTool, AfterAgent, ...) into the ones orchestra's hook
handler reads. Until the first event the status comes from the screen patterns below (the
folder-trust and sign-in dialogs come before any hook runs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from orchestra import __version__  # noqa: F401  (released with orchestra itself)
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings

HOOK_EVENTS = ("SessionStart", "BeforeAgent", "Notification", "AfterTool", "AfterAgent", "SessionEnd")
HOOK_TIMEOUT_MS = 10_000  # the handler takes milliseconds; this only bounds a stuck disk
SETTINGS_VARIABLE = "GEMINI_CLI_SYSTEM_DEFAULTS_PATH"

# Gemini CLI 0.61's start-up dialogs (folder trust, sign-in) and its confirmation prompts.
WAITING_PATTERNS = [
    r"Do you trust the files in this folder\?",
    r"How would you like to authenticate",
    r"Apply this change\?",
    r"Allow execution of",
    r"Waiting for user confirmation",
    r"● 1\. Allow once",
]
BUSY_PATTERNS = [r"\(esc to cancel, "]

def hook_settings(hook_command: list[str]) -> dict:
    """The settings layer: every listened-to event runs the adapter with the hook command."""
    command = shlex.join([sys.executable, "-m", "orchestra_gemini.hook", *hook_command])  # run by a shell
    handler = {"name": "orchestra", "type": "command", "command": command, "timeout": HOOK_TIMEOUT_MS}
    return {"hooks": {event: [{"matcher": "*", "hooks": [handler]}] for event in HOOK_EVENTS}}


def write_settings(hook_command: list[str]) -> Path:
    """The settings file for one hook command; named by its content, so rewriting it is harmless."""
    text = json.dumps(hook_settings(hook_command), indent=2)
    folder = Path(tempfile.gettempdir()) / f"orchestra-gemini-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.json"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text)
        partial.replace(path)
    return path


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    argv = [*(settings.command or ["gemini"]), *settings.args]
    if settings.model:
        argv += ["--model", settings.model]
    # `--` ends option parsing, so a task that starts with a dash is still the prompt.
    return [*argv, "--", agent.task]


def build_env(agent: Agent, settings: AgentSettings) -> dict[str, str]:
    """Gemini CLI reads hooks only from settings files: point it at one of orchestra's (at spawn and resume)."""
    if not settings.hook_command or SETTINGS_VARIABLE in settings.env:
        return {}
    return {SETTINGS_VARIABLE: str(write_settings(settings.hook_command))}


@hookimpl
def register_agents(register):
    register(
        AgentKind(
            name="gemini",
            build_argv=build_argv,
            build_env=build_env,
            description="Google Gemini CLI (`gemini`), interactive, in its own worktree",
            default_command=["gemini"],
            # Edits are approved automatically; shell commands and other tools still ask.
            default_args=["--approval-mode", "auto_edit"],
            # Gemini CLI treats a set `CI` (or any `CI_*` variable) as "not a terminal": it skips the
            # interactive UI and, signed out, exits 41 at once. An orchestra window is a terminal.
            default_env={"CI": "false"},
            waiting_patterns=WAITING_PATTERNS,
            busy_patterns=BUSY_PATTERNS,
        )
    )
