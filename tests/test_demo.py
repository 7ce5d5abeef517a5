"""`demo`'s repository and agents, in-process; the command itself runs in test_commands.py."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from orchestra import demo
from orchestra.spawning import spawn_environment
from support import git


def test_the_demo_agents_start_and_are_watched_until_they_finish(tmp_path):
    path = demo.make_repository(tmp_path)
    assert path.parent == tmp_path and (path / "orchestra.toml").is_file()
    ctx, agents, warnings = demo.start(path, spawn_environment())
    assert [a.task for a in agents] == demo.TASKS and warnings == []
    assert ctx.session == path.name
    looks = list(demo.until_finished(ctx, limit=30, every=0.05))
    assert [finished for _, finished in looks] == [False] * (len(looks) - 1) + [True]
    assert {a.status.value for a in looks[-1][0]} == {"exited"}
    # Finished means nothing writes in the repository any more: every pane's death is handled,
    # and no launcher, hook or notifier of theirs holds the busy lock.
    assert all(a.death_handled == a.launch_id is not None for a in ctx.state.read().values())
    assert ctx.state.wait_idle(0)


def test_watching_stops_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    ctx, _agents, _ = demo.start(demo.make_repository(tmp_path), spawn_environment())
    started = time.monotonic()
    looks = list(demo.until_finished(ctx, limit=0.3, every=0.05))
    assert looks[-1][1] and time.monotonic() - started < 10
    assert {a.status.value for a in looks[-1][0]} <= {"starting", "running"}


@pytest.mark.parametrize("argv", [["--help"], ["a task"], ["--", "a task", "more"]])
def test_the_demo_agent_takes_its_task_only_after_dashes(repo, argv):
    """orchestra runs it as `agent.py -- TASK`; anything else (`--help`) is not a task to commit."""
    import orchestra_demo

    head = git(repo, "rev-parse", "HEAD")
    result = subprocess.run([sys.executable, orchestra_demo.AGENT, *argv], cwd=repo, capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (2, "usage: python agent.py -- TASK\n")
    assert git(repo, "rev-parse", "HEAD") == head and not (repo / "notes").exists()
