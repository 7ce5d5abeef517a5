"""Helpers shared by the test modules: real git repositories, waiting with a deadline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# project\n")
    git(path, "add", "README.md")
    git(path, "commit", "-qm", "first commit")
    return path


EDITOR = Path(__file__).parent / "bin" / "edit_line.py"


def use_editors(repo: Path, settings: str = "") -> Path:
    """Give `repo` an agent kind `editor` (tests/bin/edit_line.py: its task "PATH: TEXT" makes TEXT
    PATH's first line, committed, then it exits 0), a `notes.md` beside README.md, and `settings`
    (more orchestra.toml), committed on main."""
    import sys

    (repo / "orchestra.toml").write_text(
        f'[agents.editor]\ncommand = ["{sys.executable}", "{EDITOR}", "{{task}}"]\n{settings}'
    )
    (repo / "notes.md").write_text("notes\n")
    git(repo, "add", "orchestra.toml", "notes.md")
    git(repo, "commit", "-qm", "configure the editor agent")
    return repo


def wait_for(condition: Callable[[], T], timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> T:
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


def agents_json(orchestra) -> list[dict]:
    """What `orchestra ls --json` prints. For the `orchestra` fixture's project, the rows come from
    the same use case in this process: tests poll this while agents run, and a Python started for
    every look took a core from the agents they wait for. Other runners go through the command."""
    repo = getattr(orchestra, "repo", None)
    if repo is None:
        return json.loads(orchestra("ls", "--json").stdout)
    from orchestra import remote
    from orchestra.context import Context
    from orchestra.listing import rows

    ctx = Context.open(repo)
    away = remote.rows_soon(ctx)
    return json.loads(json.dumps([*rows(ctx), *away()], ensure_ascii=False))


def statuses(orchestra) -> dict[str, str]:
    return {a["name"]: a["status"] for a in agents_json(orchestra)}


def tmux(socket: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True)


def screen(socket: str, pane: str) -> str:
    return tmux(socket, "capture-pane", "-p", "-t", pane).stdout


def hook_names(orchestra, name: str) -> list[str]:
    """The hooks orchestra recorded for agent `name`, oldest first."""
    lines = orchestra("events", "--json", "--agent", name).stdout.splitlines()
    return [e["data"]["hook"] for e in map(json.loads, lines) if e["type"] == "hook"]


def branches(repo: Path) -> list[str]:
    return [b for b in git(repo, "branch", "--format=%(refname:short)").split() if b]


def worktree_paths(repo: Path) -> list[str]:
    return [
        line.split(" ", 1)[1]
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def wait_statuses(orchestra, expected: dict[str, str], timeout: float = 20.0) -> list[dict]:
    """Wait until `orchestra ls` shows exactly these statuses; on timeout, say what it showed."""
    deadline = time.monotonic() + timeout
    agents: list[dict] = []
    while time.monotonic() < deadline:
        agents = agents_json(orchestra)
        if {a["name"]: a["status"] for a in agents} == expected:
            return agents
        # About the pace of `orchestra ls --json` run for each look, as these tests were written for:
        # a status can show a moment before what the agent CLI writes beside it.
        time.sleep(0.25)
    shown = [(a["name"], a["status"], a["exit_code"], a["error"], a["pane"]) for a in agents]
    import os

    panes = tmux(
        os.environ["ORCHESTRA_TMUX_SOCKET"], "list-panes", "-a", "-F", "#{pane_id} #{window_name} #{pane_dead}"
    )
    raise AssertionError(
        f"timed out after {timeout}s waiting for {expected}; ls showed {shown}; tmux has {panes.stdout!r} {panes.stderr!r}"
    )


def spawn_demo(ctx, *tasks: str, delay: str = "0") -> list:
    """Demo agents spawned in-process (no `orchestra` subprocess); `delay` seconds between their steps."""
    from orchestra.spawning import TaskSpec, spawn, spawn_environment

    env = {**spawn_environment(), "ORCHESTRA_DEMO_DELAY": delay}
    result = spawn(ctx, [TaskSpec(task=task, agent="demo") for task in tasks], env)
    assert not result.failures, result.failures
    return result.agents


def wait_observed(ctx, expected: dict[str, str], timeout: float = 20.0) -> list:
    """Wait until reconcile shows exactly these statuses, in-process; the agents then."""
    from orchestra.reconcile import observe

    shown: dict[str, str] = {}

    def reached():
        nonlocal shown
        agents = observe(ctx)
        shown = {a.name: a.status.value for a in agents}
        return agents if shown == expected else None

    try:
        return wait_for(reached, timeout=timeout, what=f"statuses {expected}")
    except AssertionError:
        raise AssertionError(f"timed out after {timeout}s waiting for {expected}; observed {shown}") from None


def break_worktree(worktree: Path) -> None:
    """What a `git worktree remove` stopped part-way leaves: some files, no `.git`."""
    (worktree / ".git").unlink()
    (worktree / "README.md").unlink()


def unpopulate(worktree: Path) -> None:
    """What a spawn stopped between `worktree add --no-checkout` and the checkout leaves."""
    index = git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index").strip()
    os.unlink(index)
    for entry in worktree.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
