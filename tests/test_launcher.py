"""The launcher in the agent's pane and the pane-died hook handler."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from orchestra.models import Agent, Status
from orchestra.state import State
from support import wait_statuses


def test_agent_cli_removed_after_spawn_fails_with_127(orchestra, repo, tmp_path):
    tool = tmp_path / "vanishing-agent"
    tool.write_text("#!/bin/sh\nsleep 30\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    (repo / "orchestra.toml").write_text(
        f'[agents.vanishing]\ncommand = ["{tool}", "{{task}}"]\n[worktree]\nsetup = "rm {tool}"\n'
    )
    orchestra("spawn", "--agent", "vanishing", "--name", "gone", "--no-attach", "task")
    [agent] = wait_statuses(orchestra, {"gone": "failed"})
    assert agent["exit_code"] == 127
    assert "cannot start" in agent["error"]


def run_internal(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestra", *args], cwd=cwd, capture_output=True, text=True, timeout=30
    )


def test_exec_of_an_unknown_agent_says_so(tmp_path):
    result = run_internal("_exec", "--state-dir", str(tmp_path), "nobody", cwd=tmp_path)
    assert result.returncode == 1 and "no agent named 'nobody'" in result.stderr


def test_internal_commands_reject_bad_arguments(tmp_path):
    assert run_internal("_exec", cwd=tmp_path).returncode == 2
    assert run_internal("_pane-died", "--state-dir", str(tmp_path), "%1", cwd=tmp_path).returncode == 2


def test_pane_died_records_exit_code_by_pane_or_window_name(tmp_path):
    state = State(tmp_path / "state")
    worktree = tmp_path / "w"
    worktree.mkdir()
    with state.update() as agents:
        agents["by-pane"] = Agent("by-pane", "t", "demo", "b", "x", str(worktree), status=Status.RUNNING, pane="%7")
        agents["by-name"] = Agent("by-name", "t", "demo", "b", "x", str(worktree), status=Status.STARTING)
    assert run_internal("_pane-died", "--state-dir", str(state.dir), "%7", "3", "by-pane", cwd=tmp_path).returncode == 0
    assert run_internal("_pane-died", "--state-dir", str(state.dir), "%8", "0", "by-name", cwd=tmp_path).returncode == 0
    assert (
        run_internal("_pane-died", "--state-dir", str(state.dir), "%9", "0", "stranger", cwd=tmp_path).returncode == 0
    )
    agents = state.read()
    assert (agents["by-pane"].status, agents["by-pane"].exit_code) == (Status.FAILED, 3)
    assert (agents["by-name"].status, agents["by-name"].exit_code, agents["by-name"].pane) == (Status.EXITED, 0, "%8")
    types = [(e["agent"], e["status"]) for e in state.read_events() if e["type"] == "status"]
    assert types == [("by-pane", "failed"), ("by-name", "exited")]
