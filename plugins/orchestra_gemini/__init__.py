"""The `gemini` agent kind: Google's Gemini CLI, started interactively with its task.

Gemini CLI runs hooks from its settings files, and has no command-line settings. Its system
layers (GEMINI_CLI_SYSTEM_SETTINGS_PATH, GEMINI_CLI_SYSTEM_DEFAULTS_PATH) are read only from a
file owned by root in folders only root can write, so the layer orchestra can give each agent
is the workspace one: `.gemini/settings.json` in the agent's own worktree, written (merged into
one the repository already has) once the worktree exists, at spawn and at resume, and kept out
of git by a `.gemini/.gitignore` beside it. Its hooks run orchestra's hook handler, which reads
Gemini's events (BeforeAgent, Notification, AfterTool, AfterAgent, ...) with the translator in
`orchestra_gemini.hook`, in the same process. Gemini reads workspace settings only in a folder
it trusts when it starts; until the first event the status comes from the screen patterns below
(the folder-trust and sign-in dialogs come before any hook runs).

The same file gives the agent orchestra's MCP server (the relay to the project's server) under
`mcpServers.orchestra`, trusted (its tools run without a confirmation) but without `merge`,
which Gemini CLI cannot be told to confirm for one tool of a trusted server.

Each agent starts a conversation of its own id (`--session-id`, chosen at spawn), which
`orchestra resume` continues with `--resume <id>`.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra import files, git
from orchestra.errors import AgentKindError
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings, Usage

HOOK_EVENTS = ("SessionStart", "BeforeAgent", "Notification", "AfterTool", "AfterAgent", "SessionEnd")
HOOK_NAME = "orchestra"  # how orchestra's entries are told from the repository's own hooks
HOOK_TIMEOUT_MS = 10_000  # the handler takes milliseconds; this only bounds a stuck disk
# Hides the written settings (and this file itself) from git in the agent's worktree.
GITIGNORE = "# Written by orchestra: the Gemini CLI hooks of this worktree's agent.\n/settings.json\n/.gitignore\n"

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
# A quota its own retries cannot wait out: Gemini CLI asks whether to keep trying, and names the
# reset time ("Access resets at 11:03 AM UTC."). At the reset orchestra answers "1. Keep trying".
LIMITED_PATTERNS = [r"Usage limit reached for "]
LIMIT_CONTINUE = "1"


def hook_settings(hook_command: list[str]) -> dict[str, Any]:
    """orchestra's part of the settings: every listened-to event runs orchestra's hook handler."""
    command = shlex.join(hook_command)  # run by a shell
    handler = {"name": HOOK_NAME, "type": "command", "command": command, "timeout": HOOK_TIMEOUT_MS}
    return {"hooks": {event: [{"matcher": "*", "hooks": [handler]}] for event in HOOK_EVENTS}}


def mcp_server(mcp_command: Sequence[str]) -> dict[str, Any]:
    """orchestra's server in Gemini CLI's `mcpServers`, started in the agent's worktree."""
    return {
        "command": mcp_command[0],
        "args": list(mcp_command[1:]),
        "timeout": 3_600_000,  # ms: `wait` blocks until workers finish (600 s by default)
        "trust": True,
        "excludeTools": ["merge"],
    }


def _is_ours(definition: object) -> bool:
    hooks = definition.get("hooks") if isinstance(definition, dict) else None
    return isinstance(hooks, list) and any(isinstance(h, dict) and h.get("name") == HOOK_NAME for h in hooks)


def merged_settings(
    current: dict[str, Any], hook_command: list[str], mcp_command: Sequence[str] = ()
) -> dict[str, Any]:
    """`current` with orchestra's hooks (and MCP server) in place of any it had before; everything else kept."""
    settings = dict(current)
    if mcp_command:
        settings["mcpServers"] = {**(settings.get("mcpServers") or {}), HOOK_NAME: mcp_server(mcp_command)}
    hooks = dict(settings.get("hooks") or {})
    for event, definitions in hook_settings(hook_command)["hooks"].items():
        hooks[event] = [d for d in hooks.get(event) or [] if not _is_ours(d)] + definitions
    settings["hooks"] = hooks
    return settings


def write_settings(worktree: Path, hook_command: list[str], mcp_command: Sequence[str] = ()) -> Path:
    """Write orchestra's hooks into the worktree's `.gemini/settings.json`, merged with what is there."""
    folder = worktree / ".gemini"
    path = folder / "settings.json"
    current: object = {}
    linked = next((p for p in (folder, path) if p.is_symlink()), None)
    if linked is not None:  # `[worktree] symlink`: the hooks would land in the file it points to
        raise AgentKindError(
            f"{linked} is a symbolic link, so orchestra's Gemini CLI hooks would be written into "
            f"{linked.resolve()}: list it under [worktree] copy instead of symlink."
        )
    if path.exists():
        try:
            current = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError) as error:
            current = error
    if not isinstance(current, dict):
        raise AgentKindError(
            f"{path} is not a JSON object orchestra can add its Gemini CLI hooks to ({current}): "
            "fix it (comments are not supported), or remove it from the repository."
        )
    folder.mkdir(exist_ok=True)
    files.write_atomic(
        path, json.dumps(merged_settings(current, hook_command, mcp_command), indent=2) + "\n", mode=None
    )
    _hide_from_git(worktree)
    return path


def _git(worktree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return git.run(args, worktree, check=False)


def _tracked(worktree: Path, relative: str) -> bool:
    return _git(worktree, "ls-files", "--error-unmatch", "--", relative).returncode == 0


def _hide_from_git(worktree: Path) -> None:
    """Keep orchestra's settings out of the agent's changes, so that `merge` never commits them and
    `kill` never takes them for work. A file the repository tracks is marked skip-worktree in the
    worktree's own index (the main checkout's is untouched); an untracked one is ignored by the
    `.gitignore` beside it, which ignores itself too unless the repository tracks it."""
    if _git(worktree, "rev-parse", "--is-inside-work-tree").returncode != 0:
        return
    if _tracked(worktree, ".gemini/settings.json"):
        _git(worktree, "update-index", "--skip-worktree", "--", ".gemini/settings.json")
        return
    if _git(worktree, "check-ignore", "-q", "--", ".gemini/settings.json").returncode == 0:
        return
    ignore = worktree / ".gemini" / ".gitignore"
    if not ignore.exists():
        ignore.write_text(GITIGNORE, encoding="utf-8")
        return
    text = ignore.read_text(encoding="utf-8")
    with open(ignore, "a", encoding="utf-8") as handle:
        handle.write(("" if text.endswith("\n") or not text else "\n") + GITIGNORE)
    if _tracked(worktree, ".gemini/.gitignore"):
        _git(worktree, "update-index", "--skip-worktree", "--", ".gemini/.gitignore")


def prepare_worktree(agent: Agent, settings: AgentSettings) -> None:
    if settings.hook_command or settings.mcp_command:
        write_settings(Path(agent.worktree), settings.hook_command, settings.mcp_command)


def _common(settings: AgentSettings) -> list[str]:
    argv = [*(settings.command or ["gemini"]), *settings.args]
    if settings.model:
        argv += ["--model", settings.model]
    return argv


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    argv = _common(settings)
    if agent.session_id:
        argv += ["--session-id", agent.session_id]
    # Gemini CLI drops whatever follows `--`; as `--prompt-interactive=TASK` a task that starts
    # with a dash is still the prompt, and the session stays open after it.
    return [*argv, f"--prompt-interactive={agent.task}"]


def build_resume_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    # `--resume` takes the session's id as well as "latest" or an index; sessions are kept per folder.
    assert agent.session_id is not None, "orchestra resumes only an agent with a session id"
    return [*_common(settings), "--resume", agent.session_id]


@hookimpl
def register_agents(register: Callable[[AgentKind], None]) -> None:
    register(
        AgentKind(
            name="gemini",
            build_argv=build_argv,
            build_resume_argv=build_resume_argv,
            prepare_worktree=prepare_worktree,
            session_ids=True,
            description="Google Gemini CLI (`gemini`), interactive, in its own worktree",
            default_command=["gemini"],
            # Edits are approved automatically; shell commands and other tools still ask.
            default_args=["--approval-mode", "auto_edit"],
            # Gemini CLI treats a set `CI` (or any `CI_*` variable) as "not a terminal": it skips the
            # interactive UI and, signed out, exits 41 at once. An orchestra window is a terminal.
            default_env={"CI": "false"},
            waiting_patterns=WAITING_PATTERNS,
            busy_patterns=BUSY_PATTERNS,
            limited_patterns=LIMITED_PATTERNS,
            limit_continue=LIMIT_CONTINUE,
            hook_translator="orchestra_gemini.hook",
            takes_mcp=True,
            mcp_early=True,
        )
    )


@hookimpl
def agent_usage(agent: Agent, config: Any) -> Usage | None:
    """The tokens of the agent's session, from Gemini CLI's session files (named by its hooks)."""
    if agent.kind != "gemini":
        return None
    from orchestra_gemini.usage import session_files, usage_by_model

    if not agent.transcript:
        return Usage()  # no hook has reported the session file yet
    transcript = Path(agent.transcript)
    found = session_files(transcript, agent.session_id)
    sources = [str(transcript), str(transcript.parent), *(str(p) for p in found if p != transcript)]
    return Usage(models=usage_by_model(found), sources=sources)
