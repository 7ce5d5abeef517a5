"""The launcher in the agent's pane and the pane-died hook handler."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from orchestra import files, launcher
from orchestra.errors import UnknownAgent
from orchestra.launch import GATE, SAFE_PATH, exec_argv
from orchestra.models import Agent, Status
from orchestra.state import State
from orchestra.tmux import AgentWindow, Tmux
from support import agents_json, git, statuses, tmux, wait_for, wait_statuses

# An agent CLI that does what its first argument says: exit with a code, kill itself, or wait
# (saying which signals it ignores, once it is ready, and each SIGINT it gets) until told to go, then exit 3.
SCRIPT_AGENT = """#!/bin/sh
case "$1" in
  exit-*) exit "${1#exit-}" ;;
  kill) kill -KILL $$ ;;
  wait)
    trap 'echo int >> "$OUT/$ORCHESTRA_AGENT.int"' INT
    printf '%s' "$2" > "$OUT/$ORCHESTRA_AGENT.task"
    grep SigIgn /proc/$$/status > "$OUT/$ORCHESTRA_AGENT.sigign"
    while [ ! -e "$OUT/$ORCHESTRA_AGENT.go" ]; do sleep 0.05; done
    exit 3 ;;
esac
exit 99
"""
SECRET = "s3cret-token-that-must-stay-off-command-lines"


@pytest.fixture
def script_agent(repo, tmp_path):
    """Agent kinds `script` (TASK is what to do) and `waiter` (waits, holding TASK), and the
    environment to spawn them with: OUT, where they write, and a secret."""
    tool = tmp_path / "script-agent"
    tool.write_text(SCRIPT_AGENT)
    tool.chmod(0o755)
    (repo / "orchestra.toml").write_text(
        f'[agents.script]\ncommand = ["{tool}", "{{task}}"]\n'
        f'[agents.waiter]\ncommand = ["{tool}", "wait", "{{task}}"]\n'
    )
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "script agents")
    out = tmp_path / "out"
    out.mkdir()
    return tool, out, {**os.environ, "OUT": str(out), "ORCHESTRA_TEST_TOKEN": SECRET}


def pane_process(socket: str, pane: str) -> int:
    return int(tmux(socket, "display-message", "-p", "-t", pane, "#{pane_pid}").stdout)


def proc_argv(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


TRICKY = 'it\'s "$(touch {marker})" `touch {marker}`; $HOME * \\n\nline two\n'


def test_no_python_stays_in_the_pane_and_its_shell_holds_no_secret(orchestra, repo, script_agent, isolated, tmp_path):
    tool, out, env = script_agent
    marker = tmp_path / "pwned"
    task = TRICKY.replace("{marker}", str(marker))
    orchestra("spawn", "--agent", "waiter", "--name", "w", "--no-attach", "--", task, env=env)
    wait_for(lambda: (out / "w.sigign").exists(), what="the agent to start")
    [agent] = agents_json(orchestra)
    assert agent["status"] == "running"
    shell = pane_process(isolated, agent["pane"])
    assert os.path.realpath(f"/proc/{shell}/exe") == os.path.realpath("/bin/sh"), "a shell, not Python, waits"
    argv = proc_argv(shell)
    assert argv[:4] == [b"/bin/sh", b"-c", launcher.WAIT.encode(), b"orchestra"]
    assert argv[4] == sys.executable.encode()
    assert Path(os.fsdecode(argv[5])).resolve() == (repo / ".git" / "orchestra").resolve()
    launch_id = State(repo / ".git" / "orchestra").read()["w"].launch_id
    assert launch_id and argv[6:] == [b"w", launch_id.encode(), str(tool).encode(), b"wait", task.encode()]
    assert all(SECRET.encode() not in arg for arg in argv), "no environment value on the shell's command line"
    (child,) = [c for c in children(shell) if b"_notify" not in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert SECRET.encode() in Path(f"/proc/{child}/environ").read_bytes(), "the spawning shell's environment"
    assert (out / "w.task").read_bytes() == task.encode() and not marker.exists()
    (out / "w.go").touch()
    wait_statuses(orchestra, {"w": "failed"})


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
    assert agent["error"] == f"cannot start {tool}: No such file or directory"
    events = [e["status"] for e in State(repo / ".git" / "orchestra").read_events() if e["type"] == "status"]
    assert events == ["starting", "failed"], "never shown running"


def run_internal(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestra", *args], cwd=cwd, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize("folder", ["state", "missing"])
def test_exec_of_an_unknown_agent_says_so(tmp_path, folder):
    """An agent no record names, or a state folder that is not there (a repository deleted
    before its window started): the one sentence for it (errors.UnknownAgent), no traceback."""
    (tmp_path / "state").mkdir()
    where = str(tmp_path / folder)
    result = run_internal("_exec", "--state-dir", where, "nobody", cwd=tmp_path)
    said = f"orchestra: {UnknownAgent.named('nobody', where=where)}\n"
    assert result.returncode == 1 and result.stderr == said
    assert not (tmp_path / "missing").exists(), "no state folder made where there was none"


@pytest.mark.parametrize("content", [b'{"env": ', b"\xff", b"[]", b'{"env": {"A": 1}}', b'{"env": {"A": "a\\u0000"}}'])
def test_a_damaged_launch_file_fails_the_agent_with_a_sentence(tmp_path, content):
    """A traceback on the agent's screen before; now the reason, on the screen and in the record."""
    state = State(tmp_path / "state")
    worktree = tmp_path / "w"
    worktree.mkdir()
    with state.update() as agents:
        agents["a"] = Agent("a", "t", "demo", "b", "x", str(worktree), status=Status.STARTING, argv=["true"])
    state.launch_dir.mkdir(parents=True)
    (state.launch_dir / "a.env.json").write_bytes(content)
    result = run_internal("_exec", "--state-dir", str(state.dir), "a", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "launch file" in result.stderr and "orchestra kill a" in result.stderr
    agent = state.read()["a"]
    assert agent.status == Status.FAILED and "launch file" in (agent.error or "")


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


def test_ctrl_c_reaches_the_agent_and_its_shell_waits_on(orchestra, script_agent, isolated):
    _, out, env = script_agent
    orchestra("spawn", "--agent", "waiter", "--name", "w", "--no-attach", "task", env=env)
    sigign = out / "w.sigign"  # the shell makes the file, then grep writes the line into it
    wait_for(lambda: sigign.exists() and sigign.read_text().endswith("\n"), what="the agent to start")
    ignored = int(sigign.read_text().split()[1], 16)
    for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored & (1 << (signum - 1)), f"the agent starts with {signum.name} ignored"
    [agent] = agents_json(orchestra)
    shell = pane_process(isolated, agent["pane"])
    tmux(isolated, "send-keys", "-t", agent["pane"], "C-c")
    wait_for(lambda: (out / "w.int").exists(), what="the agent to get SIGINT")
    assert Path(f"/proc/{shell}").exists() and statuses(orchestra) == {"w": "running"}
    (out / "w.go").touch()
    [agent] = wait_statuses(orchestra, {"w": "failed"})
    assert agent["exit_code"] == 3


def test_exit_codes_are_exact_even_for_agents_that_end_at_once(orchestra, repo, script_agent):
    *_, env = script_agent
    for task in ("exit-0", "exit-3", "kill"):
        orchestra("spawn", "--agent", "script", "--name", task, "--no-attach", task, env=env)
    agents = wait_statuses(orchestra, {"exit-0": "exited", "exit-3": "failed", "kill": "failed"})
    assert {a["name"]: a["exit_code"] for a in agents} == {"exit-0": 0, "exit-3": 3, "kill": 128 + signal.SIGKILL}
    ends = [
        (e["agent"], e["status"]) for e in State(repo / ".git" / "orchestra").read_events() if e["type"] == "status"
    ]
    for name, status in (("exit-0", "exited"), ("exit-3", "failed"), ("kill", "failed")):
        assert ends.count((name, status)) == 1, "each end is told once"


def test_exited_speaks_only_for_its_own_launch(tmp_path):
    state = State(tmp_path / "state")
    worktree = tmp_path / "w"
    worktree.mkdir()
    with state.update() as agents:  # resumed: the record is the new launch's
        agents["a"] = Agent("a", "t", "demo", "b", "x", str(worktree), status=Status.RUNNING, launch_id="new")
    exited = ("_exited", "--state-dir", str(state.dir), "a")
    assert run_internal(*exited, "old", "5", cwd=tmp_path).returncode == 5
    agent = state.read()["a"]
    assert (agent.status, agent.exit_code) == (Status.RUNNING, None)
    assert run_internal(*exited, "new", "5", cwd=tmp_path).returncode == 5
    agent = state.read()["a"]
    assert (agent.status, agent.exit_code) == (Status.FAILED, 5)
    assert [(e["agent"], e["status"]) for e in state.read_events() if e["type"] == "status"] == [("a", "failed")]
    assert run_internal(*exited, "new", cwd=tmp_path).returncode == 2
    assert run_internal(*exited, "new", "x", cwd=tmp_path).returncode == 2


def test_the_waiting_script_hands_the_exact_code_to_exited_which_ctrl_c_spares(tmp_path):
    """The shell script alone, with a stand-in for Python that says what it was given."""
    python = tmp_path / "python"
    python.write_text('#!/bin/sh\ngrep SigIgn /proc/$$/status > "$0.sigign"\nprintf "%s\\n" "$@" > "$0.args"\n')
    python.chmod(0o755)
    for agent, code in ((["true"], 0), (["sh", "-c", "exit 3"], 3), (["sh", "-c", "kill -KILL $$"], 137)):
        argv = ["/bin/sh", "-c", launcher.WAIT, "orchestra", str(python), "/state dir", "a", "L1", *agent]
        subprocess.run(argv, check=True, timeout=30)
        args = [*SAFE_PATH, "-m", "orchestra", "_exited", "--state-dir", "/state dir", "a", "L1", str(code)]
        assert (tmp_path / "python.args").read_text().splitlines() == args
    ignored = int((tmp_path / "python.sigign").read_text().split()[1], 16)
    assert all(ignored & (1 << (s - 1)) for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP))


def test_the_program_keeps_its_name_unless_a_shell_builtin_has_it(tmp_path):
    tool = tmp_path / "echo"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (tmp_path / "my-agent").write_bytes(tool.read_bytes())
    (tmp_path / "my-agent").chmod(0o755)
    env = {"PATH": str(tmp_path)}
    assert launcher._find_program("my-agent", env) == ("my-agent", ""), "its name as given: Claude Code needs it"
    assert launcher._find_program("echo", env) == (str(tool), ""), "not the shell's echo"
    assert launcher._find_program("absent", env) == (None, "no such program on its PATH")
    assert launcher._find_program(str(tmp_path / "absent"), env) == (None, "No such file or directory")


def test_the_launchers_path_search_finds_what_shutil_which_finds(tmp_path, monkeypatch):
    """The launcher searches PATH itself (shutil's import would be most of its own): it must find
    what `shutil.which` finds, for every kind of entry a PATH holds."""
    import shutil

    first, second, folder = tmp_path / "first", tmp_path / "second", tmp_path / "second" / "tool-dir"
    for where in (first, second, folder):
        where.mkdir(parents=True, exist_ok=True)
    (first / "tool").write_text("#!/bin/sh\n")  # not executable: passed over
    (second / "tool").write_text("#!/bin/sh\n")
    (second / "tool").chmod(0o755)
    (first / "both").write_text("#!/bin/sh\n")
    (first / "both").chmod(0o755)
    (second / "both").write_bytes((first / "both").read_bytes())
    (second / "both").chmod(0o755)
    (second / "link").symlink_to(second / "tool")
    (second / "dangling").symlink_to(tmp_path / "nowhere")
    monkeypatch.chdir(second)
    paths = [f"{first}:{second}", f"{second}:{first}", f"{first}::{second}", "", ":", str(first), f"{first}:{first}"]
    names = ["tool", "both", "link", "dangling", "tool-dir", "absent", str(second / "tool"), "./tool", "tool-dir/x"]
    for path in paths:
        for name in names:
            assert launcher.which(name, path) == shutil.which(name, path=path), (name, path)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 has no -P to keep the current folder off the path")
def test_a_repository_with_its_own_orchestra_package_runs_the_installed_one(orchestra, repo, script_agent):
    """orchestra starts itself in agents' worktrees (launcher, exit, hooks, notifiers); a package
    named `orchestra` at the top of the repository must not stand in for it."""
    *_, env = script_agent
    (repo / "orchestra").mkdir()
    (repo / "orchestra" / "__init__.py").write_text("raise SystemExit('the repository own orchestra ran')\n")
    git(repo, "add", "orchestra")
    git(repo, "commit", "-qm", "a package named like the tool")
    orchestra("spawn", "--agent", "script", "--name", "ends", "--no-attach", "exit-3", env=env)
    (agent,) = wait_statuses(orchestra, {"ends": "failed"})  # said by `_exited`
    assert agent["exit_code"] == 3
    wait_for(  # and the exit hooks ran too (after the exit's notifier and forecast, on a busy machine)
        lambda: agents_json(orchestra)[0]["death_handled"] == agent["launch_id"],
        timeout=60,
        what="the exit hooks",
    )


EXIT_LISTENER = '''
import json, os
from orchestra.hookspecs import hookimpl

@hookimpl
def on_exit(agent):
    """Says which process ran it: the agent's shell has OUT; tmux's pane-died handler has not."""
    where = "shell" if "OUT" in os.environ else "pane-died"
    with open(os.environ["ORCHESTRA_TEST_EXITS"], "a") as out:
        out.write(json.dumps([agent.name, agent.status.value, agent.exit_code, where]) + "\\n")
'''


def test_on_exit_runs_once_whether_the_agent_ends_its_shell_is_killed_or_tmux_says_nothing(
    orchestra, repo, script_agent, isolated, tmp_path, monkeypatch
):
    """`_exited` runs the hooks (tmux 3.3 sometimes never fires `pane-died` for a quick exit);
    the pane-died handler runs them for a shell that never got there; never both."""
    site = tmp_path / "site"
    (site / "exit_listener").mkdir(parents=True)
    (site / "exit_listener" / "__init__.py").write_text(EXIT_LISTENER)
    info = site / "exit_listener-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: exit-listener\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[orchestra]\nexit_listener = exit_listener\n")
    exits = tmp_path / "exits.ndjson"
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("ORCHESTRA_TEST_EXITS", str(exits))
    *_, out, env = script_agent
    env = {**env, "PYTHONPATH": str(site), "ORCHESTRA_TEST_EXITS": str(exits)}
    orchestra("spawn", "--agent", "script", "--name", "ends", "--no-attach", "exit-3", env=env)
    orchestra("spawn", "--agent", "waiter", "--name", "killed", "--no-attach", "t", env=env)
    orchestra("spawn", "--agent", "waiter", "--name", "unheard", "--no-attach", "t", env=env)
    wait_for(lambda: (out / "killed.sigign").exists() and (out / "unheard.sigign").exists(), what="the waiters")
    agents = agents_by_name(orchestra)
    os.kill(pane_process(isolated, agents["killed"]["pane"]), signal.SIGKILL)
    # As tmux 3.3 sometimes does: a pane dies and no pane-died hook runs. The next look runs it.
    tmux(isolated, "set-hook", "-uw", "-t", agents["unheard"]["window"], "pane-died")
    os.kill(pane_process(isolated, agents["unheard"]["pane"]), signal.SIGKILL)
    state = State(repo / ".git" / "orchestra")

    def settled() -> bool:
        agents = agents_by_name(orchestra)  # each look mourns a death no hook handled
        dead = tmux(isolated, "list-panes", "-a", "-F", "#{pane_dead}").stdout.split()
        return all(a["death_handled"] == a["launch_id"] for a in agents.values()) and dead.count("1") == 3

    wait_for(settled, timeout=60, what="every end handled and every pane dead")
    state.wait_idle(30)  # the handlers tmux and `ls` started have finished
    heard = sorted(json.loads(line) for line in exits.read_text().splitlines())
    assert heard == [
        ["ends", "failed", 3, "shell"],
        ["killed", "failed", None, "pane-died"],
        ["unheard", "failed", None, "pane-died"],
    ]


def agents_by_name(orchestra) -> dict:
    return {a["name"]: a for a in agents_json(orchestra)}


def test_a_batch_s_launchers_wait_at_the_gate_and_a_spawn_that_dies_lets_them_go(isolated, tmp_path):
    """While tmux opens a spawn's windows, their launchers wait for the spawn's lock on the gate
    file (`launch.GATE`); a spawn killed meanwhile does not leave them waiting: the lock goes with it."""
    state = State(tmp_path / "state")
    worktree = tmp_path / "w"
    worktree.mkdir()
    names = ["a", "b"]
    with state.update() as agents:
        for name in names:
            argv = ["/bin/sh", "-c", ': > "$0"', str(tmp_path / f"{name}.started")]
            agents[name] = Agent(name, "t", "x", "b", "x", str(worktree), status=Status.STARTING, argv=argv)
    for name in names:
        state.write_launch_env(name, {"env": dict(os.environ), "setup": "", "idle": False})
    gate = str(state.dir / "windows.lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_GATE, gate], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        tmux(isolated, "new-session", "-d", "-s", "gate")
        windows = [
            AgentWindow(name, worktree, exec_argv(str(state.dir), name, gate), ["true"], f"launch-{name}")
            for name in names
        ]
        opened, stopped = Tmux(isolated).new_agent_windows("gate", windows)
        assert stopped is None and len(opened) == 2
        waiting = lambda pane: any(  # noqa: E731
            Path(f"/proc/{c}/comm").read_text().strip() == "flock" for c in children(pane_process(isolated, pane))
        )
        wait_for(lambda: all(waiting(pane) for _window, pane in opened), what="both launchers at the gate")
        assert not [n for n in names if (tmp_path / f"{n}.started").exists()], "no agent started before the gate opened"
    finally:
        holder.kill()  # as a spawn killed with SIGKILL: its lock is let go with it
        holder.wait(timeout=10)
    wait_for(lambda: all((tmp_path / f"{n}.started").exists() for n in names), what="both agents to start")
    wait_for(lambda: all(a.status == Status.EXITED for a in state.read().values()), what="both agents to end")


HOLD_GATE = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("path", ["no flock", "no file"])
def test_the_gate_waits_for_nothing_without_flock_or_its_file(tmp_path, path):
    """Without the `flock` program on the pane's PATH, or the gate's file, the launcher starts at once."""
    env = {**os.environ, "PATH": str(tmp_path)} if path == "no flock" else dict(os.environ)
    (tmp_path / "windows.lock").touch()
    gate = str(tmp_path / ("windows.lock" if path == "no flock" else "gone.lock"))
    with files.locked(tmp_path / "windows.lock"):  # held: only the missing program or file lets it through
        result = subprocess.run(
            ["/bin/sh", "-c", GATE, "orchestra", gate, "/bin/echo", "started"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 0 and result.stdout == "started\n" and result.stderr == ""
