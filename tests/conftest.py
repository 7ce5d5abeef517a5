"""Every test runs in its own world: a temporary HOME and ORCHESTRA_HOME, its own tmux server
on a private socket (killed afterwards), TMUX unset, and a git identity from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from orchestra.launch import SAFE_PATH
from support import git, make_repo

TESTS = Path(__file__).parent
pytest_plugins = ["claude_support", "agent_clis", "ssh_support"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Orchestra Tests\n\temail = tests@orchestra.invalid\n[init]\n\tdefaultBranch = main\n"
    )
    socket = f"orchestra-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ORCHESTRA_HOME", str(home / "orchestra-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("ORCHESTRA_TMUX_SOCKET", socket)
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "0")
    # The project's MCP server ends a second after its last agent went, not minutes later.
    monkeypatch.setenv("ORCHESTRA_MCP_IDLE_EXIT", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    # Nothing a test does may reach the user's Slack, GitHub or desktop.
    for name in (
        "TMUX",
        "TMUX_PANE",
        "ORCHESTRA_DEBUG",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "SLACK_WEBHOOK_URL",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "DBUS_SESSION_BUS_ADDRESS",
    ):
        monkeypatch.delenv(name, raising=False)
    yield socket
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository with one commit on main, its main checkout at tmp_path/project."""
    return make_repo(tmp_path / "project")


@pytest.fixture
def orchestra(repo):
    """Run the real command line in `repo`: orchestra("ls", "--json")."""

    def run(*args: str, cwd: Path | None = None, check: bool = True, env: dict | None = None, timeout: float = 60):
        result = subprocess.run(
            # like the `orchestra` console script, which never puts the current folder on the path
            [sys.executable, *SAFE_PATH, "-m", "orchestra", *args],
            cwd=cwd or repo,
            env=env or dict(os.environ),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"orchestra {' '.join(args)} exited {result.returncode}:\n{result.stderr}{result.stdout}"
            )
        return result

    run.repo = repo  # type: ignore[attr-defined]  # what support.agents_json looks at in this process
    return run


@pytest.fixture
def recorder(repo, tmp_path):
    """An agent kind `recorder` whose CLI writes each argument it got, as bytes, to a folder."""
    out = tmp_path / "recorded"
    out.mkdir()
    (repo / "orchestra.toml").write_text(
        f'[agents.recorder]\ncommand = ["{sys.executable}", "{TESTS / "bin" / "record_args.py"}", "{out}", "{{task}}"]\n'
    )
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "configure the recorder agent")
    return out


@pytest.fixture
def project(repo, monkeypatch):
    """The use cases' view of `repo`, opened in-process as a command opens it: Context.open()."""
    from orchestra.context import Context

    monkeypatch.chdir(repo)
    return Context.open()
