"""Every agent gets orchestra's MCP server: the argument lists and settings each kind is started with,
checked against the installed CLIs where they can say what they read, and `spawn --lead`."""

from __future__ import annotations

import json
import sys

import pytest

from orchestra import plugins as plugins_module
from orchestra.launch import SAFE_PATH, mcp_argv
from support import git
from test_agent_kinds import agent, defaults

SERVER = mcp_argv("/state", "n")
TOOLS = ["list", "spawn", "send", "wait", "report", "diff", "post", "read"]


@pytest.fixture(scope="module")
def kinds():
    return plugins_module.load().kinds


def option(argv: list[str], name: str) -> str:
    assert argv.count(name) == 1, f"{name} is not given exactly once in {argv}"
    return argv[argv.index(name) + 1]


def test_the_server_is_this_interpreter_running_orchestra_mcp_for_the_agent():
    assert [sys.executable, *SAFE_PATH, "-m", "orchestra", "mcp", "--agent", "n"] == SERVER


def test_claude_gets_the_server_and_its_tools_allowed_except_merge(kinds):
    kind = kinds["claude"]
    settings = defaults(kind, hook_command=["/py", "hook"], mcp_command=SERVER)
    resumed = agent("claude")
    resumed.session_id = "0b7a3f52-5c47-4b7c-9a8e-0d3f6c2f1e11"
    for argv in (kind.build_argv(resumed, settings), kind.build_resume_argv(resumed, settings)):
        config = json.loads(option(argv, "--mcp-config"))
        assert config == {"mcpServers": {"orchestra": {"type": "stdio", "command": SERVER[0], "args": SERVER[1:]}}}
        # `--mcp-config` takes several values: an option must follow it, never the task.
        assert argv[argv.index("--mcp-config") + 2].startswith("--")
        allowed = json.loads(option(argv, "--settings"))["permissions"]["allow"]
        assert allowed == [f"mcp__orchestra__{tool}" for tool in TOOLS] and "mcp__orchestra__merge" not in allowed
    assert "--strict-mcp-config" not in kind.build_argv(resumed, settings)  # the user's own servers stay


def test_claude_without_the_server_gets_neither_config_nor_permissions(kinds):
    kind = kinds["claude"]
    argv = kind.build_argv(agent("claude"), defaults(kind, hook_command=["/py", "hook"]))
    assert "--mcp-config" not in argv and "permissions" not in json.loads(option(argv, "--settings"))


def test_codex_does_not_get_the_server_yet(kinds):
    """Codex 0.169 takes `-c mcp_servers.orchestra.*` per session, but with it its first turn offered
    none of the server's tools and its title request stopped (docs/agents-together.md)."""
    kind = kinds["codex"]
    argv = kind.build_argv(agent("codex"), defaults(kind, hook_command=["/py", "hook"], mcp_command=SERVER))
    assert not any("mcp_servers" in a for a in argv)


def test_gemini_does_not_get_the_server_yet(kinds, tmp_path):
    """Gemini CLI 0.61 reads `mcpServers` from the worktree's settings, but a prompt sent while it waits
    for its MCP servers to start stays in its composer unsent (docs/agents-together.md)."""
    from orchestra_gemini import prepare_worktree

    worktree = tmp_path / "w"
    worktree.mkdir()
    git(worktree, "init", "-q")
    gemini = agent("gemini")
    gemini.worktree = str(worktree)
    prepare_worktree(gemini, defaults(kinds["gemini"], hook_command=["/py", "hook"], mcp_command=SERVER))
    assert "mcpServers" not in json.loads((worktree / ".gemini" / "settings.json").read_text())


def test_mcp_false_leaves_the_server_out_of_a_spawned_agent(orchestra, repo, tmp_path):
    fake = [sys.executable, "-c", "import time; time.sleep(60)"]
    for on in (True, False):
        toml = f"[agents.claude]\ncommand = {json.dumps(fake)}\n" + ("" if on else "mcp = false\n")
        (repo / "orchestra.toml").write_text(toml)
        git(repo, "add", "orchestra.toml")
        git(repo, "commit", "-qm", f"mcp {on}")
        name = f"mcp-{str(on).lower()}"
        (spawned,) = json.loads(orchestra("spawn", "--no-attach", "--json", "--name", name, "say hi").stdout)
        argv = spawned["argv"]
        if on:
            server = json.loads(option(argv, "--mcp-config"))["mcpServers"]["orchestra"]
            assert [server["command"], *server["args"]] == mcp_argv("", name)
        else:
            assert "--mcp-config" not in argv and "mcp__orchestra" not in " ".join(argv)


def test_mcp_must_be_true_or_false(orchestra, repo):
    (repo / "orchestra.toml").write_text('[agents.claude]\nmcp = "no"\n')
    result = orchestra("ls", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "mcp" in result.stderr and "true or false" in result.stderr


def test_a_lead_is_told_its_task_first_then_orchestras_brief():
    from orchestra.lead import LEAD_BRIEF, is_lead_task, lead_task

    task = lead_task("ship the auth API")
    assert task.startswith("ship the auth API\n") and is_lead_task(task) and not is_lead_task("ship the auth API")
    for tool in ("spawn(", "wait(", "report(", "diff(", "post(", "read("):
        assert tool in LEAD_BRIEF
    assert "summary" in LEAD_BRIEF


def test_a_lead_of_a_kind_without_the_server_is_refused_before_anything_is_made(orchestra, recorder, repo):
    """A lead's only way to start workers is orchestra's MCP server: a kind that does not get it
    (a configured command, demo, codex for now) would be told of tools it does not have."""
    result = orchestra("spawn", "--agent", "recorder", "--lead", "--no-attach", "ship the auth API", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "a lead needs orchestra's MCP server" in result.stderr and "--agent claude" in result.stderr
    assert json.loads(orchestra("ls", "--json").stdout) == []
    assert "orchestra/ship-the-auth-api" not in git(repo, "branch", "--list")
