"""Fixtures that run the real Claude Code CLI offline: the pinned binary, the API stand-in, a prepared HOME.

    def test_x(claude_home, claude_api, hook_log): ...

`claude_home` points Claude Code at the stand-in through the environment and trusts the test's repository, so
an interactive session in a tmux pane opens straight into its task with no dialog.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from claude_api import ClaudeAPI, claude_environment, claude_json
from support import git, wait_for

CLAUDE_CODE_VERSION = "2.1.328"  # shell/setup.sh and shell/test.sh name the same version
TESTS = Path(__file__).parent
# Every hook event name that 2.1.328 accepts in --settings.
HOOK_EVENTS = (
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PostToolBatch",
    "Notification",
    "UserPromptSubmit",
    "UserPromptExpansion",
    "SessionStart",
    "SessionEnd",
    "Stop",
    "StopFailure",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "PostCompact",
    "PreModelSwitch",
    "PostModelSwitch",
    "PermissionRequest",
    "PermissionDenied",
    "Setup",
    "TeammateIdle",
    "TaskCreated",
    "TaskCompleted",
    "Elicitation",
    "ElicitationResult",
    "ConfigChange",
    "WorktreeCreate",
    "WorktreeRemove",
    "InstructionsLoaded",
    "CwdChanged",
    "FileChanged",
    "DirectoryAdded",
    "MessageDisplay",
)


def claude_code_folder() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "claude-orchestra" / f"claude-code-{CLAUDE_CODE_VERSION}"


def install_claude_code(folder: Path) -> None:
    """npm-install the pinned Claude Code beside `folder`, then rename it into place (as shell/setup.sh does)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing, so Claude Code cannot be installed: run `bash shell/setup.sh --test`")
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{folder.name}.partial.", dir=folder.parent))
    try:
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(partial),
                "--no-audit",
                "--no-fund",
                "--no-update-notifier",
                "--loglevel=error",
                f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        partial.chmod(0o755)
        partial.rename(folder)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"npm could not install Claude Code {CLAUDE_CODE_VERSION}:\n{error.stderr}")
    except OSError:
        if not (folder / "node_modules" / ".bin" / "claude").exists():  # else another run got there first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """The pinned Claude Code binary, by absolute path; never whatever `claude` is on PATH."""
    if os.environ.get("ORCHESTRA_TEST_CLAUDE"):
        path = Path(os.environ["ORCHESTRA_TEST_CLAUDE"])
        if not path.exists():
            pytest.fail(f"ORCHESTRA_TEST_CLAUDE names {path}, which does not exist: run `bash shell/setup.sh --test`")
        return path
    folder = claude_code_folder()
    path = folder / "node_modules" / ".bin" / "claude"
    if not path.exists():
        install_claude_code(folder)
    return path


@pytest.fixture
def claude_api():
    """A started stand-in for the Messages API; give it the test's conversation with `.script([...])`."""
    with ClaudeAPI() as api:
        yield api


def project_folder_name(path: Path) -> str:
    """Claude Code's folder for `path` under ~/.claude/projects: every character but [a-zA-Z0-9] becomes "-".

    (2.1.328 cuts names past 200 characters and appends a hash; test paths stay shorter.)
    """
    return re.sub(r"[^a-zA-Z0-9]", "-", str(path))


@dataclass
class ClaudeHome:
    """The test's HOME as Claude Code sees it, and the variables that keep it offline and quiet."""

    home: Path
    repo: Path
    bin: Path
    env: dict[str, str]

    def transcript(self, session_id: str, cwd: Path | None = None) -> Path:
        return self.home / ".claude" / "projects" / project_folder_name(cwd or self.repo) / f"{session_id}.jsonl"


@pytest.fixture
def claude_home(repo, claude_api, claude_bin, monkeypatch) -> ClaudeHome:
    """Claude Code set up in the test's HOME: onboarded, `repo` trusted, the stand-in as its API.

    Also configures the `claude` agent kind in `repo`'s orchestra.toml (committed) to run the pinned binary.
    """
    home = Path(os.environ["HOME"])
    main_checkout = repo.resolve()
    (home / ".claude.json").write_text(json.dumps(claude_json(main_checkout)))
    for name in list(os.environ):
        if name.startswith(("ANTHROPIC_", "CLAUDE")):
            monkeypatch.delenv(name)
    env = claude_environment(claude_api.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (repo / "orchestra.toml").write_text(f"[agents.claude]\ncommand = [{json.dumps(str(claude_bin))}]\n")
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "configure the claude agent")
    return ClaudeHome(home=home, repo=main_checkout, bin=claude_bin, env=env)


class HookLog:
    """Claude Code hooks that append every event to one file, and ways to read and wait for them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def command(self) -> str:
        # Claude Code runs a hook's command with /bin/sh -c, so it is a shell string.
        return shlex.join([sys.executable, str(TESTS / "bin" / "record_hook.py"), str(self.path)])

    def settings(self, events: tuple[str, ...] = HOOK_EVENTS) -> str:
        """JSON for `claude --settings` that records `events`."""
        hook = [{"hooks": [{"type": "command", "command": self.command()}]}]
        return json.dumps({"hooks": dict.fromkeys(events, hook)})

    def records(self) -> list[dict]:
        if not self.path.exists():
            return []
        # Only whole lines: a hook may be writing the last one right now.
        return [json.loads(line) for line in self.path.read_text().split("\n")[:-1] if line.strip()]

    def events(self, name: str | None = None) -> list[dict]:
        return [r["event"] for r in self.records() if name is None or r["event"].get("hook_event_name") == name]

    def names(self) -> list[str]:
        return [event.get("hook_event_name") for event in self.events()]

    def wait_for(self, name: str, count: int = 1, timeout: float = 20.0) -> dict:
        """Wait until event `name` fired `count` times; return the last of them."""
        try:
            wait_for(lambda: len(self.events(name)) >= count, timeout=timeout, what=f"{count} {name} hook(s)")
        except AssertionError as error:
            raise AssertionError(f"{error}; the hooks that fired: {self.names()}") from None
        return self.events(name)[-1]


@pytest.fixture
def hook_log(tmp_path) -> HookLog:
    return HookLog(tmp_path / "hooks.jsonl")
