"""What runs inside an agent's tmux pane, and what tmux runs when that pane dies.

`python -m orchestra _exec --state-dir DIR NAME` reads the agent's record, takes the
environment `spawn` left for it, runs the worktree setup, and `exec`s the agent CLI with its
argument list: no shell ever sees the task.

`python -m orchestra _pane-died --state-dir DIR PANE STATUS` is the `pane-died` hook: it
records the exit code. Both are dispatched before click is imported, to start fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

from orchestra.models import Event, Status
from orchestra.state import State


def _parse(argv: list[str], count: int) -> Optional[tuple[State, list[str]]]:
    if len(argv) != count + 2 or argv[0] != "--state-dir":
        return None
    return State(Path(argv[1])), argv[2:]


def exec_agent(argv: list[str]) -> int:
    parsed = _parse(argv, 1)
    if parsed is None:
        print("usage: python -m orchestra _exec --state-dir DIR NAME", file=sys.stderr)
        return 2
    state, (name,) = parsed
    agent = state.read().get(name)
    if agent is None:
        print(f"orchestra: no agent named '{name}' is recorded in {state.dir}.", file=sys.stderr)
        return 1
    launch = state.take_launch_env(name)
    env = launch["env"] if launch else {**os.environ, "ORCHESTRA_AGENT": name, "ORCHESTRA_PORT": str(agent.port or "")}
    setup = launch.get("setup", "") if launch else ""
    try:
        os.chdir(agent.worktree)
    except OSError as error:
        return _fail(state, name, f"cannot enter the worktree {agent.worktree}: {error.strerror}", 1)
    if setup:
        print(f"orchestra: running the worktree setup: {setup}", flush=True)
        # The setup is the user's own shell command from orchestra.toml, meant for a shell.
        code = subprocess.run(["/bin/sh", "-c", setup], env=env).returncode
        if code != 0:
            return _fail(state, name, f"the worktree setup command exited with code {code}", code)
    _set_status(state, name, Status.RUNNING, only_from={Status.STARTING})
    try:
        os.execvpe(agent.argv[0], agent.argv, env)
    except OSError as error:
        return _fail(state, name, f"cannot start {agent.argv[0]}: {error.strerror}", 127)
    return 0  # not reached


def _fail(state: State, name: str, message: str, code: int) -> int:
    print(f"orchestra: {message}", file=sys.stderr, flush=True)
    _set_status(state, name, Status.FAILED, error=message)
    return code


def _set_status(state: State, name: str, status: Status, only_from=None, **changes) -> bool:
    with state.update() as agents:
        agent = agents.get(name)
        if agent is None or (only_from is not None and agent.status not in only_from):
            return False
        before = agent.status
        agent.set_status(status, **changes)
    state.append_events([Event("status", agent=name, status=status.value, data={"from": before.value, **changes})])
    return True


def pane_died(argv: list[str]) -> int:
    parsed = _parse(argv, 2)
    if parsed is None:
        return 2
    state, (pane, status_text) = parsed
    code = int(status_text) if status_text.lstrip("-").isdigit() else None
    name = None
    with state.update() as agents:
        for agent in agents.values():
            if agent.pane == pane and agent.status.live:
                before = agent.status
                new = Status.EXITED if code == 0 else Status.FAILED
                agent.set_status(new, exit_code=code)
                name = agent.name
                break
    if name is None:
        return 0
    state.append_events([Event("status", agent=name, status=new.value, data={"from": before.value, "exit_code": code})])
    _run_exit_hooks(state, name)
    return 0


def _run_exit_hooks(state: State, name: str) -> None:
    """Tell plugins; their problems go to the event log, since no one watches this process."""
    try:
        from orchestra.context import Context

        agent = state.read()[name]
        ctx = Context.open(Path(agent.worktree) if Path(agent.worktree).is_dir() else state.dir.parent.parent)
        ctx.plugins.call("on_exit", agent=agent)
        ctx.plugins.call("notifier", event=Event("status", agent=name, status=agent.status.value))
        problems = ctx.plugins.problems
    except Exception as error:  # noqa: BLE001 - a hook handler must never fail loudly inside tmux
        problems = [f"on_exit hooks could not run: {error}"]
    if problems:
        state.append_events([Event("plugin-error", agent=name, data={"message": p}) for p in problems])
