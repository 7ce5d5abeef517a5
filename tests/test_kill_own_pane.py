"""`orchestra kill NAME` typed in NAME's own pane (an agent removing itself, or a person in its
shell): the pane goes last, so the command that removes it lives long enough to finish."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from support import agents_json, branches, tmux, wait_for, wait_statuses, worktree_paths


def test_kill_run_inside_the_agents_own_pane_removes_everything(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text(
        '[agents.shell]\ncommand = ["/bin/bash", "--norc", "--noprofile", "-i", "-c", "exec /bin/bash --norc --noprofile -i", "{task}"]\n'
    )
    agent = json.loads(orchestra("spawn", "--agent", "shell", "--name", "self", "--json", "a shell").stdout)[0]
    wait_statuses(orchestra, {"self": "running"})
    worktree = Path(agent["worktree"])
    command = shlex.join([sys.executable, "-m", "orchestra", "kill", "self"])
    tmux(isolated, "send-keys", "-t", agent["pane"], "-l", command)
    tmux(isolated, "send-keys", "-t", agent["pane"], "Enter")
    wait_for(lambda: agents_json(orchestra) == [], what="the record to go")
    wait_for(lambda: not worktree.exists(), what="the worktree to go")
    assert "orchestra/self" not in branches(repo)
    assert str(worktree) not in worktree_paths(repo)
    wait_for(lambda: agent["pane"] not in tmux(isolated, "list-panes", "-a", "-F", "#{pane_id}").stdout, what="pane")
