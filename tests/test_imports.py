"""The hot paths (`ls`, the hook handler, the board) import neither GitPython nor libtmux: they run
git and tmux through plain subprocesses (orchestra.git, orchestra.tmux), as docs/architecture.md says.
Nor do they import the MCP SDK, which only `orchestra mcp` needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestra.launch import exec_argv, hook_argv
from orchestra.models import Agent, Status
from orchestra.state import State
from support import git, wait_for

# GitPython's package is `git` (orchestra's own module is `orchestra.git`); the MCP SDK, `mcp`, is
# for `orchestra mcp` alone: listing, spawning and the hook handler never load it.
HEAVY = ("git", "libtmux", "mcp")


def _imported(stderr: str) -> set[str]:
    """Module names from `python -X importtime`'s report ("import time: self | cumulative | name")."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def _heavy(names: set[str]) -> list[str]:
    return sorted(name for name in names if name.split(".")[0] in HEAVY)


def _record(repo, tmp_path) -> State:
    """One agent with a real worktree holding a change, so `ls` runs git on it."""
    worktree = tmp_path / "wt" / "one"
    git(repo, "worktree", "add", "-q", "-b", "orchestra/one", str(worktree))
    (worktree / "README.md").write_text("# changed\n")
    state = State(repo / ".git" / "orchestra")
    with state.update() as agents:
        agents["one"] = Agent(
            name="one",
            task="t",
            agent="command",
            branch="orchestra/one",
            base=git(repo, "rev-parse", "HEAD").strip(),
            worktree=str(worktree),
            status=Status.RUNNING,
            session="project",
        )
    return state


def _python(*args: str, cwd, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd, input=stdin, capture_output=True)


def test_ls_json_imports_neither(repo, tmp_path):
    _record(repo, tmp_path)
    result = _python("-m", "orchestra", "ls", "--json", cwd=repo)
    assert result.returncode == 0, result.stderr.decode()
    [agent] = json.loads(result.stdout)
    assert agent["name"] == "one" and agent["changes"]["files"] == 1  # git did run, for the changes
    names = _imported(result.stderr.decode())
    assert {"orchestra.git", "orchestra.tmux", "orchestra.reconcile"} <= names
    assert _heavy(names) == []
    assert "click" not in names, "`ls --json` is answered before the command line loads"


def test_ls_json_before_click_prints_what_the_command_line_prints(repo, tmp_path):
    _record(repo, tmp_path)
    (tmp_path / "wt" / "one" / "new file.txt").write_text("untracked\n")
    fast = subprocess.run([sys.executable, "-m", "orchestra", "ls", "--json"], cwd=repo, capture_output=True, text=True)
    full = subprocess.run(
        [sys.executable, "-c", "from orchestra.cli import main; main(['ls', '--json'])"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert (fast.returncode, fast.stderr) == (full.returncode, full.stderr) == (0, "")
    assert fast.stdout == full.stdout and json.loads(fast.stdout)[0]["changes"]["untracked"] == 1


def test_ls_json_before_click_leaves_a_problem_to_the_command_line(tmp_path):
    """Outside a repository, or with a configuration that cannot be read, `ls --json` says what
    every command says, in one sentence, with its exit code."""
    outside = tmp_path / "outside"
    outside.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "orchestra", "ls", "--json"], cwd=outside, capture_output=True, text=True
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("orchestra: ") and "git repository" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "orchestra.toml").write_text("[orchestra\n")
    result = subprocess.run(
        [sys.executable, "-m", "orchestra", "ls", "--json"], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode != 0 and result.stdout == "" and "orchestra.toml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "translator", [None, "orchestra_claude.hooks", "orchestra_codex.notify", "orchestra_gemini.hook"]
)
def test_the_hook_handler_imports_neither(repo, tmp_path, translator):
    from orchestra.hook_handler import translator_file

    state = _record(repo, tmp_path)
    payload = json.dumps({"hook_event_name": "UserPromptSubmit", "prompt": "go"}).encode()
    given = ["--from-file", str(translator_file(translator))] if translator else []
    python, *rest = hook_argv("--state-dir", str(state.dir), *given, "one")  # as spawn gives it to the agent CLI
    result = subprocess.run([python, "-X", "importtime", *rest], cwd=repo, input=payload, capture_output=True)
    assert result.returncode == 0
    names = _imported(result.stderr.decode())
    assert {"orchestra.state", "orchestra.lifecycle", "orchestra.hook_handler"} <= names and _heavy(names) == []
    assert "site" not in names and not any("editable" in name for name in names)
    assert "typing" not in names  # annotations only: `TYPE_CHECKING = False` in the modules it loads
    assert "pathlib" not in names  # os.path on its path: State.folder, files.write_atomic
    # Each of these was a millisecond or more of every event: JSON through `orchestra.cjson`, the
    # context managers on its path are classes, the translator loads through importlib.machinery.
    assert not names & {"json", "re", "enum", "contextlib", "functools", "datetime", "importlib.util"}


def test_the_board_imports_neither(repo, tmp_path):
    _record(repo, tmp_path)
    out, err = tmp_path / "board.out", tmp_path / "board.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        board = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "orchestra", "ls", "--watch"],
            cwd=repo,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, COLUMNS="200"),
        )
        try:
            wait_for(lambda: "one" in out.read_text(errors="replace"), what="the board's first table")
        finally:
            board.terminate()
            board.wait(timeout=10)
    names = _imported(err.read_text(errors="replace"))
    assert {"orchestra.watch", "orchestra.render", "orchestra.git"} <= names
    assert _heavy(names) == []


def test_the_version_is_answered_before_click_loads(tmp_path):
    for flag in ("--version", "-V"):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "from orchestra.console import main; main()", flag],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert result.stdout == f"orchestra {__import__('orchestra').__version__}\n"
        assert "click" not in _imported(result.stderr)
    # and anything else goes to the command line, click and all
    assert (
        "Usage: orchestra"
        in subprocess.run(
            [sys.executable, "-c", "from orchestra.console import main; main()", "--help"],
            capture_output=True,
            text=True,
        ).stdout
    )


def test_spawn_json_imports_neither_nor_rich(repo, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    result = _python("-m", "orchestra", "spawn", "--agent", "demo", "--no-attach", "--json", "one", "two", cwd=repo)
    assert result.returncode == 0, result.stderr.decode()
    assert [a["name"] for a in json.loads(result.stdout)] == ["one", "two"]
    names = _imported(result.stderr.decode())
    assert {"orchestra.spawning", "orchestra.tmux", "orchestra.git"} <= names
    # No terminal, nothing to warn about: no progress display, so rich is not needed either.
    assert _heavy(names) == [] and not any(name.split(".")[0] == "rich" for name in names)
    # The plugins' entry points were found once, and are kept (`plugins.entry_points`).
    again = _python("-m", "orchestra", "spawn", "--agent", "demo", "--no-attach", "--json", "three", cwd=repo)
    assert again.returncode == 0 and "importlib.metadata" not in _imported(again.stderr.decode())


def test_the_launcher_starts_without_site_runpy_json_or_the_models(tmp_path):
    """Ten launchers start at once as a spawn's windows open, competing with the spawn: each is
    `python -I -S launcher_start.py` (no site module, no runpy), reads its record as JSON through
    `orchestra.cjson`, without dataclasses and enum (`orchestra.models`, and `signal`'s enums) or
    pathlib; PYTHONPATH and the worktree it starts in cannot put another `orchestra` first."""
    worktree = tmp_path / "worktree"
    (worktree / "orchestra").mkdir(parents=True)
    (worktree / "orchestra" / "__init__.py").write_text("raise SystemExit('the decoy ran')\n")
    state = State(tmp_path / "state")
    with state.update() as agents:
        agents["a"] = Agent("a", "t", "demo", "b", "x", str(worktree), status=Status.STARTING, argv=["true"])
    state.write_launch_env("a", {"env": dict(os.environ), "setup": "", "idle": False})
    python, *rest = exec_argv(str(state.dir), "a")
    assert rest[:2] == ["-I", "-S"] and rest[2].endswith("launcher_start.py")
    env = {**os.environ, "PYTHONPATH": str(worktree)}
    result = subprocess.run(
        [python, "-X", "importtime", *rest], cwd=worktree, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr  # it became the agent (`true`), its shell reported the end
    assert state.read()["a"].status == Status.EXITED
    names = _imported(result.stderr)
    assert "orchestra.lifecycle" in names and "orchestra.state" in names
    assert not names & {"site", "runpy", "orchestra.models", "dataclasses", "inspect", "pathlib", "typing"}
    assert not names & {"json", "re", "enum", "contextlib", "functools", "datetime", "signal"}


def test_a_turns_end_through_the_hook_start_still_refreshes_the_forecast(repo, tmp_path):
    """The handler starts one process (the notifier), which starts the forecast's refresh."""
    state = _record(repo, tmp_path)
    python, *rest = hook_argv("--state-dir", str(state.dir), "one")
    payload = json.dumps({"event": "turn-ended", "hook": "Stop", "message": "Done."}).encode()
    result = subprocess.run([python, *rest], cwd=repo, input=payload, capture_output=True, timeout=30)
    assert result.returncode == 0 and state.read()["one"].status == Status.DONE
    wait_for(lambda: (state.dir / "forecast-key.json").exists(), what="the forecast refreshed after the turn ended")
    assert not [e for e in state.read_events() if e["type"] in ("hook-error", "plugin-error")]


QUICK_EXIT = """
import atexit, sys, threading
from orchestra.console import main
atexit.register(lambda: sys.stdout.write("exit handlers ran\\n"))
class Teardown:
    def __del__(self):
        sys.stdout.write("torn down\\n")  # Python's teardown of __main__; os._exit skips it
kept = Teardown()
if sys.argv[1] == "--thread":  # a thread still working: Python's own exit, which waits for it
    done = threading.Event()
    threading.Thread(target=lambda: (done.wait(0.3), sys.stdout.write("the thread ended\\n"))).start()
    sys.argv[1:] = ["--version"]
if sys.argv[1] == "--daemon":  # a daemon thread (a reaper of a detached process) ends with the process
    threading.Thread(target=threading.Event().wait, daemon=True).start()
    sys.argv[1:] = ["--version"]
main()
"""


def test_the_command_ends_without_python_teardown_but_runs_exit_handlers_and_flushes(repo, tmp_path):
    """The command ends with os._exit once it is done (`console._leave`), skipping the teardown:
    what is buffered is written, the exit handlers run, a thread still at work is waited for (by
    Python's own exit), and the exit code is the command's."""
    version = f"orchestra {__import__('orchestra').__version__}"
    for argv, expected in (
        (["--version"], f"{version}\nexit handlers ran\n"),
        (["--thread"], f"{version}\nthe thread ended\nexit handlers ran\ntorn down\n"),
        (["--daemon"], f"{version}\nexit handlers ran\n"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", QUICK_EXIT, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=30
        )
        assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")
    # a large output through a pipe arrives whole; an error keeps its exit code and sentence
    env = dict(os.environ, PYTHONUNBUFFERED="0")
    listing = subprocess.run(
        [sys.executable, "-c", QUICK_EXIT, "ls", "--help"], cwd=repo, capture_output=True, text=True, env=env
    )
    assert listing.returncode == 0 and listing.stdout.endswith("exit handlers ran\n") and "Usage:" in listing.stdout
    missing = subprocess.run(
        [sys.executable, "-c", QUICK_EXIT, "logs", "nobody"], cwd=repo, capture_output=True, text=True, timeout=30
    )
    assert missing.returncode == 1 and missing.stdout == "exit handlers ran\n"
    assert missing.stderr.startswith("orchestra: ") and missing.stderr.count("\n") == 1
