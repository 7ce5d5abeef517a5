"""A spawn interrupted at any step (Ctrl-C, SIGTERM, SIGKILL) leaves nothing that no command
removes: it undoes what it made, says which agents did start, and what a killed spawn left is
found and undone by the next spawn and by `doctor --fix`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orchestra.spawning import SpawnInterrupted, TaskSpec, spawn, spawn_environment
from support import agents_json, branches, wait_for, worktree_paths


def _hold_worktree_creation(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A `git` ahead of the real one on PATH (`_start_spawn` uses it) that stops the first
    checkout of a new worktree (`git reset --hard` in it) until `release` exists, after touching
    `arrived`: a spawn caught in the middle of making its worktrees, its branches and worktree
    records made. Then it runs the real git."""
    arrived, release = tmp_path / "arrived", tmp_path / "release"
    held = tmp_path / "held-git"
    held.mkdir(exist_ok=True)
    wrapper = held / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"if [ \"$1\" = reset ] && [ ! -e '{arrived}' ]; then\n"
        f"  touch '{arrived}'\n"
        f"  n=0; while [ ! -e '{release}' ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done\n"
        "fi\n"
        f"exec '{shutil.which('git')}' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    return arrived, release


def _start_spawn(repo: Path, *tasks: str) -> subprocess.Popen:
    held = repo.parent / "held-git"  # the repository is tmp_path/project: `_hold_worktree_creation`'s git
    return subprocess.Popen(
        [sys.executable, "-m", "orchestra", "spawn", "--agent", "demo", "--no-attach", *tasks],
        cwd=repo,
        env=dict(os.environ, PATH=f"{held}{os.pathsep}{os.environ['PATH']}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _nothing_left(repo: Path, orchestra) -> None:
    assert branches(repo) == ["main"]
    assert worktree_paths(repo) == [str(repo)]
    assert agents_json(orchestra) == []
    root = repo.parent / f"{repo.name}.worktrees"
    assert not root.exists() or list(root.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_spawn_interrupted_while_making_worktrees_undoes_everything(orchestra, repo, tmp_path, signum):
    arrived, _release = _hold_worktree_creation(repo, tmp_path)
    process = _start_spawn(repo, "first task", "second task", "third task")
    wait_for(arrived.exists, what="the spawn to be making its worktrees")
    os.killpg(process.pid, signum)  # Ctrl-C reaches the whole foreground job, git included
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "no agent was started" in err and "Traceback" not in err
    _nothing_left(repo, orchestra)


def test_an_interrupt_once_the_windows_are_open_keeps_the_started_and_says_which(project, repo):
    """The windows open in one tmux invocation: a Ctrl-C after it finds every agent started."""

    def interrupt_first_started(name: str, step: str) -> None:
        if step == "started" and name == "first-task":
            raise KeyboardInterrupt

    specs = [TaskSpec(task=t, agent="demo") for t in ("first task", "second task", "third task")]
    with pytest.raises(SpawnInterrupted) as caught:
        spawn(project, specs, spawn_environment(), progress=interrupt_first_started)
    message = str(caught.value)
    assert message.startswith("interrupted: started first-task, second-task, third-task") and "removed" not in message
    assert caught.value.exit_code == 130
    records = project.state.read()
    assert sorted(records) == ["first-task", "second-task", "third-task"]
    assert all(r.pane and r.window for r in records.values()), "every open window is recorded"
    panes = project.tmux.panes() or {}
    assert sorted(p.agent for p in panes.values() if p.agent) == sorted(records)


def test_an_interrupt_before_the_windows_open_undoes_every_agent(project, repo, orchestra):
    def interrupt_second(name: str, step: str) -> None:
        if step == "starting" and name == "second-task":
            raise KeyboardInterrupt

    specs = [TaskSpec(task=t, agent="demo") for t in ("first task", "second task", "third task")]
    with pytest.raises(SpawnInterrupted) as caught:
        spawn(project, specs, spawn_environment(), progress=interrupt_second)
    assert "no agent was started" in str(caught.value)
    _nothing_left(repo, orchestra)
    assert not any(p.agent for p in (project.tmux.panes() or {}).values())
    assert not list(project.state.launch_dir.glob("*.env.json")), "no launch file (the environment) stays"


@pytest.mark.slow
def test_what_a_killed_spawn_left_is_undone_by_doctor_fix_and_the_next_spawn(orchestra, repo, tmp_path):
    for fixer in (["doctor", "--fix"], ["spawn", "--agent", "demo", "--no-attach", "--json", "later"]):
        for leftover in (tmp_path / "arrived", tmp_path / "release"):
            leftover.unlink(missing_ok=True)
        arrived, release = _hold_worktree_creation(repo, tmp_path)
        process = _start_spawn(repo, "killed task")
        wait_for(arrived.exists, what="the spawn to be making its worktree")
        process.kill()  # SIGKILL: nothing of the spawn runs again
        process.communicate(timeout=30)
        release.touch()  # its git finishes on its own: a branch, a worktree, a `starting` record
        wait_for(lambda: "orchestra/killed-task" in branches(repo), what="git to finish")
        assert [a["name"] for a in agents_json(orchestra)] == ["killed-task"]
        result = orchestra(*fixer, check=False)
        assert result.returncode in (0, 1), result.stderr
        assert "killed-task" not in branches(repo) and "orchestra/killed-task" not in branches(repo)
        assert [a["name"] for a in agents_json(orchestra) if a["name"] == "killed-task"] == []
        assert not any(path.endswith("/killed-task") for path in worktree_paths(repo))
        if fixer[0] == "spawn":
            assert [a["name"] for a in json.loads(result.stdout)] == ["later"]
            assert "killed-task" in result.stderr  # it says what it removed


@pytest.mark.slow
def test_a_killed_spawns_agent_someone_worked_in_is_reported_but_kept(orchestra, repo, tmp_path):
    arrived, release = _hold_worktree_creation(repo, tmp_path)
    process = _start_spawn(repo, "killed task")
    wait_for(arrived.exists, what="the spawn to be making its worktree")
    process.kill()
    process.communicate(timeout=30)
    release.touch()
    wait_for(lambda: "orchestra/killed-task" in branches(repo), what="git to finish")
    worktree = Path(agents_json(orchestra)[0]["worktree"])
    wait_for(lambda: (worktree / ".git").exists(), what="the worktree")
    (worktree / "notes.txt").write_text("someone's work\n")
    report = orchestra("doctor", check=False)
    assert "killed-task" in report.stdout and "with work in them" in report.stdout
    orchestra("doctor", "--fix", check=False)
    assert "orchestra/killed-task" in branches(repo)
    assert (worktree / "notes.txt").read_text() == "someone's work\n"
    assert [a["name"] for a in agents_json(orchestra)] == ["killed-task"]


@pytest.mark.slow
def test_a_killed_spawns_agent_reconcile_since_called_lost_is_undone_too(orchestra, repo, tmp_path):
    arrived, release = _hold_worktree_creation(repo, tmp_path)
    process = _start_spawn(repo, "killed task")
    wait_for(arrived.exists, what="the spawn to be making its worktree")
    process.kill()
    process.communicate(timeout=30)
    release.touch()
    wait_for(lambda: "orchestra/killed-task" in branches(repo), what="git to finish")
    # Two minutes on, reconcile calls an agent whose window never opened lost.
    state = repo / ".git" / "orchestra" / "state.json"
    data = json.loads(state.read_text())
    data["agents"]["killed-task"]["status"] = "lost"
    state.write_text(json.dumps(data))
    orchestra("doctor", "--fix", check=False)
    _nothing_left(repo, orchestra)


def test_an_interrupt_once_every_agent_started_names_them(project, monkeypatch):
    """A Ctrl-C after the windows opened (here, as the queue is looked at) undoes nothing."""
    from orchestra import lifecycle

    def interrupted(state) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle, "start_queue", interrupted)
    specs = [TaskSpec(task=t, agent="demo") for t in ("first task", "second task")]
    try:
        spawn(project, specs, spawn_environment())
        said = "nothing"
    except SpawnInterrupted as interrupted:
        said = str(interrupted)
    except KeyboardInterrupt:
        said = "a bare KeyboardInterrupt, which the command line calls cancelled"
    assert said == "interrupted: started first-task, second-task (running: `orchestra ls`)."
    assert sorted(project.state.read()) == ["first-task", "second-task"]


def test_a_ctrl_c_while_spawn_reports_names_the_started_agents_not_cancelled(repo, monkeypatch, capsys):
    from orchestra.cli import agents as agent_commands
    from orchestra.cli import main

    def interrupted(problems) -> None:
        raise KeyboardInterrupt

    monkeypatch.chdir(repo)
    monkeypatch.setattr(agent_commands, "warn", interrupted)  # the first thing said once spawn returns
    with pytest.raises(SystemExit) as exited:
        main(["spawn", "--agent", "demo", "--no-attach", "only task"])
    err = capsys.readouterr().err
    assert exited.value.code == 130 and "cancelled" not in err
    assert "interrupted: started only-task" in err
