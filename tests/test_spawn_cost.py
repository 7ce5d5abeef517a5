"""What a spawn of ten agents costs in writes and commands, counted: a few for the whole batch,
never a few per agent (issue 11). Time itself is measured by benchmarks/spawn.py, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from orchestra import files
from orchestra.spawning import TaskSpec, spawn, spawn_environment
from support import agents_json

TASKS = [f"task {n}" for n in range(1, 11)]


def test_a_spawn_of_ten_writes_the_state_file_three_times_at_most(project, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")  # the agents sit idle: their launchers write once each
    writes: list[Path] = []
    real = files.write_atomic

    def counting(path, *args, **kwargs):
        writes.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(files, "write_atomic", counting)
    result = spawn(project, [TaskSpec(task=t, agent="demo") for t in TASKS], spawn_environment())
    assert [a.name for a in result.agents] == [f"task-{n}" for n in range(1, 11)] and not result.failures
    state_writes = [p for p in writes if p == project.state.path]
    # The reservation, the argument lists, the panes: one write each for the whole batch.
    assert 1 <= len(state_writes) <= 3, f"{len(state_writes)} writes of state.json for 10 agents"
    records = project.state.read()
    assert all(records[a.name].pane == a.pane and a.pane for a in result.agents)
    assert all(records[a.name].argv for a in result.agents)


def _counting_path(folder: Path) -> tuple[str, Path]:
    """A PATH whose git and tmux log the calling process's id and their arguments, then run."""
    folder.mkdir()
    log = folder / "calls.log"
    for tool in ("git", "tmux"):
        real = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        wrapper = folder / tool
        wrapper.write_text(f'#!/bin/sh\necho "$PPID {tool} $*" >> "{log}"\nexec "{real}" "$@"\n')
        wrapper.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}", log


def test_a_spawn_of_ten_runs_git_twice_per_agent_and_tmux_once(orchestra, repo, tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("up", "--no-attach")  # the session and board are there, as for the floor
    path, log = _counting_path(tmp_path / "wrappers")
    spawned = subprocess.Popen(
        [sys.executable, "-m", "orchestra", "spawn", "--agent", "demo", "--no-attach", "--json", *TASKS],
        cwd=repo,
        env={**os.environ, "PATH": path},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = spawned.communicate(timeout=120)
    assert spawned.returncode == 0, err
    assert len(json.loads(out)) == 10
    # Only the spawn's own commands: the launchers and notifiers it starts run git and tmux too.
    own = [line.split()[1:] for line in log.read_text().splitlines() if line.split()[0] == str(spawned.pid)]
    git = [args[1:] for args in own if args[0] == "git"]
    tmux = [args[1:] for args in own if args[0] == "tmux"]
    per_agent = [args for args in git if args[0] in ("worktree", "reset")]
    assert len(per_agent) == 20, per_agent  # `worktree add --no-checkout`, then the checkout
    assert [args for args in per_agent if "-b" in args] == [], "no `git branch` per agent (worktree add -b runs one)"
    # Every branch in one transaction.
    (branches,) = [args for args in git if args[0] == "update-ref"]
    assert branches[-1] == "--stdin"
    checks = [args for args in git if args not in per_agent and args[0] != "update-ref"]
    # Finding the project, the base, the branches (one for-each-ref), the branch prefix.
    assert len(checks) <= 4, checks
    # Every window, with its marks and hook, in one tmux invocation.
    (windows,) = [args for args in tmux if "new-window" in args]
    assert windows.count("new-window") == 10
    assert windows.count("@orchestra_launch") == 10 and windows.count("pane-died") == 10
    assert len(tmux) <= 3, tmux  # one look at the panes, the session, the windows
    assert sorted(a["name"] for a in agents_json(orchestra)) == sorted(f"task-{n}" for n in range(1, 11))
