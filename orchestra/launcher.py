"""What runs inside an agent's tmux pane, and what tmux runs when that pane dies.

`python -m orchestra _exec --state-dir DIR NAME` reads the agent's record, takes the
environment `spawn` left for it, runs the worktree setup, and starts the agent CLI with its
argument list (fork and exec, no shell ever sees the task). It stays as the agent's parent
only to record the exact exit code: tmux 3.3 sometimes leaves a quickly-exiting pane process
unreaped, showing the pane dead with no exit status at all. It ignores the terminal's job
control signals as a shell would, so Ctrl-C reaches the agent alone, and exits with the
agent's own code.

`python -m orchestra _pane-died --state-dir DIR PANE STATUS WINDOW LAUNCH` is the `pane-died`
hook: it turns the exit code into `exited` or `failed` (the lifecycle's `pane-died`) and runs the
plugins' `on_exit`. Both are dispatched before click is imported, to start fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from orchestra import lifecycle
from orchestra.models import Event
from orchestra.state import State

PANE_OWN = ("TERM", "TMUX", "TMUX_PANE")
SIGNALLED: list[int] = []  # SIGTERM or SIGHUP passed on to the agent: its pane or server is going


def _parse(argv: list[str], count: int) -> tuple[State, list[str]] | None:
    if len(argv) != count + 2 or argv[0] != "--state-dir":
        return None
    return State(Path(argv[1])), argv[2:]


def exec_agent(argv: list[str]) -> int:
    parsed = _parse(argv, 1)
    if parsed is None:
        print("usage: python -m orchestra _exec --state-dir DIR NAME", file=sys.stderr)
        return 2
    state, (name,) = parsed
    state.hold_busy()
    agent = state.read().get(name)
    if agent is None:
        print(f"orchestra: no agent named '{name}' is recorded in {state.dir}.", file=sys.stderr)
        return 1
    launch = state.take_launch_env(name)
    env = launch["env"] if launch else {**os.environ, "ORCHESTRA_AGENT": name, "ORCHESTRA_PORT": str(agent.port or "")}
    setup = launch.get("setup", "") if launch else ""
    for key in PANE_OWN:  # these describe the tmux pane, not the shell that ran `spawn`
        if key in os.environ:
            env[key] = os.environ[key]
    # This process tells the notifiers too (`launched`, the exit), which need the spawning
    # shell's environment (a webhook variable): the tmux server's keeps no secrets.
    os.environ.update(env)
    try:
        os.chdir(agent.worktree)
    except OSError as error:
        return _fail(state, name, f"cannot enter the worktree {agent.worktree}: {error.strerror}", 1, agent.launch_id)
    if setup:
        print(f"orchestra: running the worktree setup: {setup}", flush=True)
        # The setup is the user's own shell command from orchestra.toml, meant for a shell.
        code = subprocess.run(["/bin/sh", "-c", setup], env=env).returncode
        if code != 0:
            return _fail(state, name, f"the worktree setup command exited with code {code}", code, agent.launch_id)
    # A conversation resumed without a new prompt opens idle at its prompt, whether or not its
    # CLI reports that (Claude Code and Gemini CLI do; Codex does not).
    ours = agent.launch_id  # a resume gives the record a new one: this launcher then speaks for no one
    lifecycle.change(state, name, "launched", {"idle": bool(launch and launch.get("idle")), "launch_id": ours})
    try:
        code = _supervise(agent.argv, env)
    except OSError as error:
        return _fail(state, name, f"cannot start {agent.argv[0]}: {error.strerror}", 127, ours)
    _record_exit(state, name, code, launch=ours)
    _announce_exit(state, name, code, ours)
    return code


def _supervise(argv: list[str], env: dict[str, str]) -> int:
    """Run the agent in this terminal and return its exit code (128 + N for signal N)."""
    for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
        signal.signal(signum, signal.SIG_IGN)
    defaults = {signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGPIPE}
    process = subprocess.Popen(argv, env=env, preexec_fn=lambda: _restore(defaults))

    def pass_on(received: int, _frame: object) -> None:
        SIGNALLED.append(received)
        process.send_signal(received)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, pass_on)
    while True:
        try:
            code = process.wait()
            break
        except InterruptedError:  # pragma: no cover - wait() retries on EINTR itself
            continue
    return 128 - code if code < 0 else code


def _restore(signums: Iterable[int]) -> None:
    for signum in signums:
        signal.signal(signum, signal.SIG_DFL)


def _record_exit(state: State, name: str, code: int, error: str | None = None, launch: str | None = None) -> None:
    """Keep the exit code in the record; the pane-died hook and `ls` turn it into a status.
    Only in the record of this launch: after a resume, the record is another launch's."""
    with state.update() as agents:
        agent = agents.get(name)
        if agent is not None and agent.status.live and (launch is None or agent.launch_id in (None, launch)):
            agent.exit_code = code
            agent.error = error or agent.error


def _announce_exit(state: State, name: str, code: int, launch: str | None = None) -> None:
    """The agent's exit, said from here: the notifiers need the spawning shell's environment
    (a webhook variable), which this process has and the `pane-died` hook, run by a tmux server
    that keeps no secrets (`tmux.SERVER_ENV`), has not. The hook then finds it said. An agent
    ended by its window's or server's end (a SIGHUP or SIGTERM passed on) is left to reconcile,
    which calls it lost."""
    if not SIGNALLED:
        lifecycle.change(state, name, "pane-died", {"code": code, "launch_id": launch})


def _fail(state: State, name: str, message: str, code: int, launch: str | None = None) -> int:
    """Say why on the agent's screen and keep the reason, and the status with it."""
    print(f"orchestra: {message}", file=sys.stderr, flush=True)
    _record_exit(state, name, code, error=message, launch=launch)
    _announce_exit(state, name, code, launch)
    return code


def pane_died(argv: list[str]) -> int:
    parsed = _parse(argv, 4) or _parse(argv, 3)  # 3: a window opened before panes carried launch ids
    if parsed is None:
        return 2
    state, (pane, status_text, window_name, *marked) = parsed
    state.hold_busy()
    launch = marked[0] if marked else ""
    tmux_code = int(status_text) if status_text.lstrip("-").isdigit() else None
    name, changed = None, None
    with state.update_raw() as agents:
        if launch:  # the pane's own mark says whose it is, even before its spawn recorded it
            candidates = [a for a in agents.values() if a.get("launch_id") == launch]
        else:  # by pane id, or by window name for an agent so quick that spawn has not recorded its pane yet
            unmarked = [a for a in agents.values() if not a.get("launch_id")]
            candidates = [a for a in unmarked if a.get("pane") == pane] or [
                a for a in unmarked if a.get("name") == window_name and a.get("pane") is None
            ]
        for agent in candidates:
            name, agent["pane"] = agent["name"], pane
            agent["death_handled"] = agent.get("launch_id")
            changed = lifecycle.apply_to(agents, name, "pane-died", {"code": tmux_code})
            break
    if name is None:
        return 0
    lifecycle.publish(state, [changed] if changed else [])
    _run_exit_hooks(state, name)
    return 0


def _run_exit_hooks(state: State, name: str) -> None:
    """`on_exit` once per pane death. Plugins' problems go to the event log, since no one
    watches this process."""
    try:
        from orchestra.context import Context

        agent = state.read()[name]
        ctx = Context.open(Path(agent.worktree) if Path(agent.worktree).is_dir() else state.dir.parent.parent)
        ctx.plugins.call("on_exit", agent=agent)
        problems = ctx.plugins.problems
    except Exception as error:  # noqa: BLE001 - a hook handler must never fail loudly inside tmux
        problems = [f"on_exit hooks could not run: {error}"]
    if problems:
        state.append_events([Event("plugin-error", agent=name, data={"message": p}) for p in problems])
