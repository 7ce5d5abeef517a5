"""What runs inside an agent's tmux pane, and what tmux runs when that pane dies.

`exec_agent` (`python -I -S .../orchestra/launcher_start.py --state-dir DIR NAME` as a spawn
starts it, or `python -m orchestra _exec` with the same arguments) reads the agent's record, takes the
environment `spawn` left for it, runs the worktree setup, records the agent `running`, and then
replaces itself (exec) with `/bin/sh` running the constant `WAIT` script, so no Python process
stays alive per agent: the shell costs about 1 MB where Python cost 14. The shell starts the
agent CLI from its positional arguments (`"$@"`, never text it parses: the task only ever is one
of them) by the name it was given (some CLIs, Claude Code among them, need it as it was), checked
first on the agent's PATH; a name a shell builtin has (`echo`, `kill`) runs by its path instead.
It stays as the agent's parent for two reasons: tmux 3.3 sometimes shows a quickly-exiting pane
dead with no exit status at all, so the exact exit code must come from the parent; and the exit
must be told to the notifiers with the spawning shell's environment (a webhook variable), which
the tmux server that runs the `pane-died` hook does not keep. So, once the agent has ended, the
shell execs `python -m orchestra _exited --state-dir DIR NAME LAUNCH CODE` with that same
environment, which records the code and tells the lifecycle. The shell traps SIGINT, SIGQUIT and
SIGTSTP with a command (so the agent gets their default actions and Ctrl-C reaches it while the
shell waits on); SIGHUP and SIGTERM end it, as a closed window or a killed server does, and
such an end is left to reconcile, which calls the agent lost.

`python -m orchestra _pane-died --state-dir DIR PANE STATUS WINDOW LAUNCH` is the `pane-died`
hook: it turns the exit code into `exited` or `failed` (the lifecycle's `pane-died`) and runs the
plugins' `on_exit` unless `_exited` already has. All three are dispatched before click is imported, to start fast.
"""

from __future__ import annotations

import errno
import os
import sys

from orchestra import lifecycle, statuses
from orchestra.launch import SAFE_PATH
from orchestra.state import State

try:  # signal's C half: `signal` wraps its numbers in enums, whose import is a third of a launcher's
    import _signal as signal  # type: ignore[import-not-found]
except ImportError:  # not CPython
    import signal

PANE_OWN = ("TERM", "TMUX", "TMUX_PANE")
SHELL = "/bin/sh"
# The agent's parent for its whole life. Constant: everything else reaches it as arguments.
# `trap :` (a command) lets the agent start with the default actions; `trap ''` (ignored, which
# exec keeps) then spares `_exited` a Ctrl-C pressed just as the agent ends.
WAIT = (
    'py=$1 dir=$2 name=$3 launch=$4; shift 4; trap : INT QUIT TSTP; "$@"; code=$?; trap "" INT QUIT TSTP; '
    f'exec "$py" {" ".join(SAFE_PATH)} -m orchestra _exited --state-dir "$dir" "$name" "$launch" "$code"'
)
# Names that POSIX shells (dash, bash as sh) run as their own builtins before looking at PATH.
_BUILTIN_NAMES = """. : [ alias bg break cd command continue echo eval exec exit export false fc fg getopts hash jobs
kill local printf pwd read readonly return set shift test times trap true type ulimit umask unalias unset wait"""
SHELL_BUILTINS = frozenset(_BUILTIN_NAMES.split())
# Python ignores these at start-up; an ignored signal stays ignored through exec, and a
# non-interactive shell may not restore it, so the agent would inherit them ignored.
PYTHON_IGNORES = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))


def _parse(argv: list[str], count: int) -> tuple[State, list[str]] | None:
    if len(argv) != count + 2 or argv[0] != "--state-dir":
        return None
    return State(argv[1]), argv[2:]  # a str: pathlib (with urllib.parse) is a fifth of a launcher's imports


def exec_agent(argv: list[str]) -> int:
    parsed = _parse(argv, 1)
    if parsed is None:
        print("usage: python -m orchestra _exec --state-dir DIR NAME", file=sys.stderr)
        return 2
    state, (name,) = parsed
    try:
        state.hold_busy()  # until the exec below: its descriptor closes there, and `_exited` takes it again
    except FileNotFoundError:  # no state folder: no agent of any name
        agent = None
    else:
        # The raw record, not `orchestra.models`: dataclasses and enum would double this process's
        # imports, and ten launchers start at once, competing with the spawn that opened them.
        agent = state.read_raw().get(name)
    if agent is None:
        from orchestra.errors import UnknownAgent  # the one sentence for it

        print(f"orchestra: {UnknownAgent.named(name, where=state.folder)}", file=sys.stderr)
        return 1
    port, argv, worktree = agent.get("port"), list(agent.get("argv") or []), str(agent.get("worktree"))
    try:
        launch = state.take_launch_env(name)
    except ValueError:
        message = (
            f"its launch file in {os.path.join(state.folder, 'launch')} was damaged, so the spawning shell's environment is lost: "
            f"`orchestra kill {name}` and spawn it again."
        )
        return _fail(state, name, message, 1, agent.get("launch_id"))
    env = launch["env"] if launch else {**os.environ, "ORCHESTRA_AGENT": name, "ORCHESTRA_PORT": str(port or "")}
    setup = launch.get("setup", "") if launch else ""
    for key in PANE_OWN:  # these describe the tmux pane, not the shell that ran `spawn`
        if key in os.environ:
            env[key] = os.environ[key]
    # This process tells the notifiers too (`launched`), which need the spawning shell's
    # environment (a webhook variable): the tmux server's keeps no secrets.
    os.environ.update(env)
    ours = agent.get("launch_id")  # a resume gives the record a new one: this launch then speaks for no one
    try:
        os.chdir(worktree)
    except OSError as error:
        return _fail(state, name, f"cannot enter the worktree {worktree}: {error.strerror}", 1, ours)
    if setup:
        print(f"orchestra: running the worktree setup: {setup}", flush=True)
        import subprocess  # only for a setup: ten launchers start at once, each importing what it uses

        # The setup is the user's own shell command from orchestra.toml, meant for a shell.
        code = subprocess.run([SHELL, "-c", setup], env=env).returncode
        if code != 0:
            return _fail(state, name, f"the worktree setup command exited with code {code}", code, ours)
    program, why = _find_program(argv[0], env) if argv else (None, "the agent has no command")
    if program is None:
        return _fail(state, name, f"cannot start {argv[0] if argv else 'the agent'}: {why}", 127, ours)
    # A conversation resumed without a new prompt opens idle at its prompt, whether or not its
    # CLI reports that (Claude Code and Gemini CLI do; Codex does not).
    data = {"idle": bool(launch and launch.get("idle")), "launch_id": ours}
    # No notifier process for a `running` no plugin wants (its spawn asked them: the record says).
    # reap=False: this process becomes the agent's shell at once (a reaper thread would end there).
    lifecycle.change(state, name, "launched", data, listened=lifecycle.listened(agent), reap=False)
    for signum in PYTHON_IGNORES:
        signal.signal(signum, signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
    shell_argv = [SHELL, "-c", WAIT, "orchestra", sys.executable, state.folder, name, ours or "", program]
    try:
        os.execve(SHELL, [*shell_argv, *argv[1:]], env)
    except OSError as error:
        return _fail(state, name, f"cannot start {SHELL}: {error.strerror}", 127, ours)


def _find_program(program: str, env: dict[str, str]) -> tuple[str | None, str]:
    """The agent CLI's program as the shell is to run it (its name, which some CLIs read, and
    Claude Code needs as it was), or None and why it cannot start: it must be on the agent's own
    PATH. A name the shell would take for its own builtin runs by its path instead."""
    found = which(program, env.get("PATH", os.defpath))
    if found is not None:
        return (os.path.abspath(found) if program in SHELL_BUILTINS else program), ""
    if os.sep not in program:
        return None, "no such program on its PATH"
    if not os.path.exists(program):
        return None, os.strerror(errno.ENOENT)
    return None, "it is not an executable file"


def which(program: str, path: str) -> str | None:
    """`shutil.which(program, path=path)` on POSIX, whose module (with fnmatch, re, bz2 and lzma)
    would be most of a launcher's imports: the first executable file of that name along `path`,
    or `program` itself when it names a folder."""
    if os.path.dirname(program):
        return program if _runnable(program) else None
    if not path:
        return None
    for folder in dict.fromkeys(path.split(os.pathsep)):
        candidate = os.path.join(folder, program)
        if _runnable(candidate):
            return candidate
    return None


def _runnable(path: str) -> bool:
    return os.path.exists(path) and os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path)


def exited(argv: list[str]) -> int:
    """`_exited --state-dir DIR NAME LAUNCH CODE`: what the agent's shell runs once the agent has
    ended, with the agent's environment. Exits with the agent's code, which tmux shows too."""
    parsed = _parse(argv, 3)
    if parsed is None or not parsed[1][2].isdigit():
        print("usage: python -m orchestra _exited --state-dir DIR NAME LAUNCH CODE", file=sys.stderr)
        return 2
    state, (name, launch, code_text) = parsed
    state.hold_busy()
    code = int(code_text)
    _record_exit(state, name, code, launch=launch or None)
    _announce_exit(state, name, code, launch or None)
    return code


def _record_exit(state: State, name: str, code: int, error: str | None = None, launch: str | None = None) -> None:
    """Keep the exit code in the record; the pane-died hook and `ls` turn it into a status.
    Only in the record of this launch: after a resume, the record is another launch's."""
    with state.update_raw() as agents:
        agent = agents.get(name)
        live = agent is not None and agent.get("status") in statuses.LIVE
        if agent is not None and live and (launch is None or agent.get("launch_id") in (None, launch)):
            agent["exit_code"] = code
            agent["error"] = error or agent.get("error")


def _announce_exit(state: State, name: str, code: int, launch: str | None = None) -> None:
    """The agent's exit, said from the agent's side of the pane: the notifiers need the spawning
    shell's environment (a webhook variable), which this process has and the `pane-died` hook,
    run by a tmux server that keeps no secrets (`tmux.SERVER_ENV`), has not. The hook then finds
    it said. An agent whose shell was ended by its window's or server's end never gets here: it
    is left to reconcile, which calls it lost.

    Then the plugins' `on_exit`, here rather than only in the hook: tmux 3.3 sometimes shows a
    quickly-exiting pane dead without ever firing `pane-died`. Whichever of the two comes first
    claims the end (`death_handled`), so the hooks run once."""
    if _got_through(state, name, launch):
        lifecycle.change(state, name, "screen-clear", {"busy": True}, by="screen")
    lifecycle.change(state, name, "pane-died", {"code": code, "launch_id": launch})
    if _claim_end(state, name, launch):
        _run_exit_hooks(state, name)


def _got_through(state: State, name: str, launch: str | None) -> bool:
    """A CLI that waits its limit out by itself may get through and end at once (aider does):
    its own pane, still showing it, says so before its end is taken for giving up (`failed`)."""
    record = state.read_raw().get(name) or {}
    pane = os.environ.get("TMUX_PANE")
    if record.get("status") != statuses.LIMITED or launch not in (None, record.get("launch_id")) or not pane:
        return False
    if not (record.get("screen_patterns") or {}).get("limit_over"):
        return False
    import subprocess

    try:
        shown = subprocess.run(
            ["tmux", "capture-pane", "-p", "-J", "-t", pane], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    from orchestra.reconcile import limit_over  # only for a limited agent: launchers import little

    return limit_over(record, shown)


def _claim_end(state: State, name: str, launch: str | None) -> bool:
    """Mark this launch's end handled; False if it was already, or the record is another launch's."""
    with state.update_raw() as agents:
        agent = agents.get(name)
        if agent is None or (launch and agent.get("launch_id") not in (None, launch)):
            return False
        if agent.get("death_handled") == agent.get("launch_id") and agent.get("launch_id"):
            return False
        agent["death_handled"] = agent.get("launch_id")
        return True


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
    name, changed, claimed = None, None, False
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
            claimed = not agent.get("launch_id") or agent.get("death_handled") != agent["launch_id"]
            agent["death_handled"] = agent.get("launch_id")
            changed = lifecycle.apply_to(agents, name, "pane-died", {"code": tmux_code})
            break
    if name is None:
        return 0
    lifecycle.publish(state, [changed] if changed else [])
    if claimed:  # the agent's shell had not run them (it was killed, or tmux was first)
        _run_exit_hooks(state, name)
    return 0


def _run_exit_hooks(state: State, name: str) -> None:
    """`on_exit` once per pane death. Plugins' problems go to the event log, since no one
    watches this process."""
    try:
        from pathlib import Path

        from orchestra.context import Context
        from orchestra.models import Event

        agent = state.read()[name]
        ctx = Context.open(Path(agent.worktree) if Path(agent.worktree).is_dir() else state.dir.parent.parent)
        ctx.plugins.call("on_exit", agent=agent)
        problems = ctx.plugins.problems
    except Exception as error:  # noqa: BLE001 - a hook handler must never fail loudly inside tmux
        problems = [f"on_exit hooks could not run: {error}"]
    if problems:
        state.append_events([Event("plugin-error", agent=name, data={"message": p}) for p in problems])
