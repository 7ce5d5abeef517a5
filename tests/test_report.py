"""An agent's changes, in-process (`diff` and the dashboard's diff both ask `report.agent_diff`);
`orchestra report` and `diff` themselves run in test_results.py and test_commands.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestra.errors import UnknownAgent
from orchestra.report import agent_diff
from support import git, spawn_demo, wait_observed


def test_the_diff_has_committed_uncommitted_and_untracked_changes(project):
    (agent,) = spawn_demo(project, "diff me")
    wait_observed(project, {"diff-me": "exited"})
    worktree = Path(agent.worktree)
    (worktree / "untracked.txt").write_text("fresh\n")
    text = agent_diff(project, "diff-me")
    assert "+diff me" in text and "+fresh" in text
    stat = agent_diff(project, "diff-me", stat=True)
    assert "notes/diff-me.md" in stat and "untracked.txt" in stat and "+fresh" not in stat
    assert git(worktree, "status", "--porcelain") == "?? untracked.txt\n", "the agent's index is untouched"
    with pytest.raises(UnknownAgent):
        agent_diff(project, "nobody")
