"""Every agent gets orchestra's MCP server: the argument lists and settings each kind is started with,
checked against the installed CLIs where they can say what they read, and `spawn --lead`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestra import plugins as plugins_module
from orchestra.launch import mcp_argv
from support import git
from test_agent_kinds import agent, defaults, file_mentions, program_files

SERVER = mcp_argv("/state", "n")
TOOLS = ["list", "spawn", "send", "wait", "report", "diff", "post", "read"]


@pytest.fixture(scope="module")
def kinds():
    return plugins_module.load().kinds


def option(argv: list[str], name: str) -> str:
    assert argv.count(name) == 1, f"{name} is not given exactly once in {argv}"
    return argv[argv.index(name) + 1]


def test_the_server_is_this_interpreters_relay_to_the_projects_server_for_the_agent():
    import orchestra

    relay = str(Path(orchestra.__file__).parent / "mcp_relay.py")
    assert [sys.executable, "-I", "-S", relay, "--state-dir", "/state", "--agent", "n"] == SERVER


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


@pytest.mark.slow
def test_codex_takes_the_server_for_this_session_only(kinds, agent_clis, tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_API_KEY", "s3cret-value")
    kind = kinds["codex"]
    argv = kind.build_argv(agent("codex"), defaults(kind, hook_command=["/py", "hook"], mcp_command=SERVER))
    overrides = [argv[i + 1] for i, a in enumerate(argv) if a == "-c" and argv[i + 1].startswith("mcp_servers.")]
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    listed = subprocess.run(
        [*agent_clis["codex"], *(x for o in overrides for x in ("-c", o)), "mcp", "list", "--json"],
        env={**os.environ, "CODEX_HOME": str(codex_home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    (server,) = json.loads(listed.stdout)
    assert server["name"] == "orchestra" and server["enabled"]
    assert (server["transport"]["command"], server["transport"]["args"]) == (SERVER[0], SERVER[1:])
    assert server["tool_timeout_sec"] >= 600  # `wait` blocks up to 600 s by default
    assert "mcp_servers.orchestra.required=true" in overrides  # Codex waits for it before a turn's first request
    assert set(server["transport"]["env_vars"]) == set(os.environ)  # names only: no value on the command line
    assert "SOME_API_KEY" in server["transport"]["env_vars"] and "s3cret-value" not in " ".join(argv)
    # The approval modes as Codex 0.169's configuration names them (it accepts keys it does not know).
    assert 'mcp_servers.orchestra.tools.merge.approval_mode="prompt"' in overrides
    assert not list(codex_home.glob("*.toml")), "the user's config.toml is never written"


@pytest.mark.slow
def test_gemini_gets_the_server_in_the_worktrees_own_settings(kinds, agent_clis, tmp_path):
    from orchestra_gemini import write_settings

    worktree = tmp_path / "w"
    worktree.mkdir()
    git(worktree, "init", "-q")
    (worktree / ".gemini").mkdir()
    (worktree / ".gemini" / "settings.json").write_text('{"mcpServers": {"theirs": {"command": "x"}}}')
    path = write_settings(worktree, ["/py", "hook"], SERVER)
    servers = json.loads(path.read_text())["mcpServers"]
    assert servers["theirs"] == {"command": "x"}  # the repository's own server stays
    ours = servers["orchestra"]
    assert (ours["command"], ours["args"], ours["excludeTools"], ours["trust"]) == (
        SERVER[0],
        SERVER[1:],
        ["merge"],
        True,
    )
    words = {"mcpServers", "excludeTools", "trust", "timeout"}
    assert set().union(*(file_mentions(p, *words) for p in program_files("gemini", agent_clis["gemini"]))) == words


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
            state = str(repo / ".git" / "orchestra")
            assert [server["command"], *server["args"]] == mcp_argv(state, name)
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
    (a configured command, demo, aider, opencode) would be told of tools it does not have."""
    result = orchestra("spawn", "--agent", "recorder", "--lead", "--no-attach", "ship the auth API", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "a lead needs orchestra's MCP server" in result.stderr and "--agent claude" in result.stderr
    assert json.loads(orchestra("ls", "--json").stdout) == []
    assert "orchestra/ship-the-auth-api" not in git(repo, "branch", "--list")
