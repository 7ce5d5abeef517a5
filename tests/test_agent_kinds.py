"""The bundled agent kinds codex, gemini, opencode and aider: their command lines, checked against
the real pinned CLIs (tests/agent_clis.py), their status adapters, and a real start in tmux."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestra import plugins as plugins_module
from orchestra.models import Agent, AgentSettings, Status
from orchestra.state import State
from support import agents_json, git, screen, wait_for, wait_statuses

KINDS = ("codex", "gemini", "opencode", "aider")
TASK = "-x: fix \"the\" 'bug'\n$(rm -rf /) `and` more"
HOOK = ["/opt/py", "-m", "orchestra", "_hook", "--state-dir", "/s", "n"]


@pytest.fixture(scope="module")
def kinds():
    loaded = plugins_module.load()
    assert loaded.problems == []
    return loaded.kinds


def agent(kind: str, task: str = TASK) -> Agent:
    return Agent(name="n", task=task, agent=kind, branch="b", base="x", worktree="/w")


def defaults(kind, **changes) -> AgentSettings:
    settings = AgentSettings(list(kind.default_command), list(kind.default_args), dict(kind.default_env))
    for key, value in changes.items():
        setattr(settings, key, value)
    return settings


def task_of(argv: list[str]) -> str:
    """The task as the CLI gets it: after `--`, or the value of `--prompt=` / `--prompt-interactive=` / `--message=`."""
    last = argv[-1]
    if len(argv) > 1 and argv[-2] == "--":
        return last
    return re.sub(r"^--(prompt|prompt-interactive|message)=", "", last, count=1)


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("task", [TASK, "--help", "-", "line one\nline two"])
def test_the_task_is_one_argument_after_the_flags(kinds, name, task):
    argv = kinds[name].build_argv(agent(name, task), defaults(kinds[name], hook_command=HOOK))
    assert task_of(argv) == task
    assert not any(TASK in element for element in argv[:-1])
    if argv[-2] != "--":
        assert argv[-1].startswith("--") and "=" in argv[-1], "a task starting with '-' must not be an option"


@pytest.mark.parametrize("name", KINDS)
def test_command_args_and_model_are_honoured(kinds, name):
    settings = AgentSettings(command=["/opt/bin/cli", "--wrapped"], args=["--extra"], model="big-model")
    argv = kinds[name].build_argv(agent(name), settings)
    assert argv[:3] == ["/opt/bin/cli", "--wrapped", "--extra"]
    assert argv[argv.index("--model") + 1] == "big-model"
    assert kinds[name].build_argv(agent(name), defaults(kinds[name]))[0] == name


def flags(argv: list[str]) -> list[str]:
    """The options before the task, without their values' text ("--x=y" gives "--x")."""
    before = argv[: argv.index("--")] if "--" in argv else argv[:-1]
    return [a.split("=")[0] for a in before[1:] if a.startswith("-")] + (
        [argv[-1].split("=")[0]] if "--" not in argv else []
    )


def help_of(command: list[str]) -> str:
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return result.stdout + result.stderr


def file_mentions(path: Path, *words: str) -> set[str]:
    data = path.read_bytes()
    return {w for w in words if w.encode() in data}


@pytest.mark.slow
@pytest.mark.parametrize("name", KINDS)
def test_every_flag_orchestra_passes_is_in_the_cli_help(kinds, agent_clis, name):
    kind = kinds[name]
    argv = kind.build_argv(agent(name), defaults(kind, model="some-model", hook_command=HOOK))
    text = help_of(agent_clis[name])
    for flag in flags(argv):
        assert re.search(rf"(^|[\s,]){re.escape(flag)}([\s,=]|$)", text, re.MULTILINE), (
            f"{name} --help does not list {flag}"
        )
    values = {"--approval-mode": "auto_edit", "--sandbox": "workspace-write", "--ask-for-approval": "on-request"}
    for flag, value in values.items():
        if flag in argv:
            assert argv[argv.index(flag) + 1] == value and value in text, f"{name} does not offer {flag} {value}"


def program_files(name: str, command: list[str]) -> list[Path]:
    """The files that hold the CLI's own code, under its install folder (`<folder>/node_modules/.bin/<cli>`)."""
    folder = Path(command[0]).parents[2]
    pattern = {
        "codex": "node_modules/@openai/codex-linux-*/vendor/*/bin/codex",
        "opencode": "node_modules/opencode-linux-*/bin/opencode",
        "gemini": "node_modules/@google/gemini-cli/bundle/*.js",
    }[name]
    return sorted(folder.glob(pattern))


@pytest.mark.slow
def test_codex_config_overrides_name_keys_codex_has(kinds, agent_clis):
    argv = kinds["codex"].build_argv(agent("codex"), defaults(kinds["codex"], hook_command=HOOK))
    keys = {argv[i + 1].split("=")[0] for i, a in enumerate(argv) if a == "-c"}
    assert keys == {"notify", "check_for_update_on_startup", "tui.disable_paste_burst"}
    binaries = program_files("codex", agent_clis["codex"])
    assert binaries, "the codex binary is not where the npm package puts it"
    names = {key.split(".")[-1] for key in keys}  # a dotted key names a table, then its field
    words = {"agent-turn-complete", "last-assistant-message", "thread-id", "tui", *names}
    assert file_mentions(binaries[0], *words) == words
    notify = json.loads(next(a for a in argv if a.startswith("notify=")).split("=", 1)[1])
    assert notify == HOOK  # orchestra's hook handler itself: Codex appends the event as its last argument


@pytest.mark.slow
def test_codex_resume_takes_the_options_of_a_new_session(kinds, agent_clis):
    kind = kinds["codex"]
    resumed = Agent(name="n", task=TASK, agent="codex", branch="b", base="x", worktree="/w", session_id="01a2-thread")
    settings = defaults(kind, model="some-model", hook_command=HOOK)
    argv = kind.build_resume_argv(resumed, settings)
    assert argv[:2] == ["codex", "resume"] and argv[-2:] == ["--", "01a2-thread"]
    assert argv[2:-2] == kind.build_argv(resumed, settings)[1:-2] and TASK not in argv
    text = help_of([*agent_clis["codex"], "resume"])
    assert "[SESSION_ID]" in text
    for flag in flags(argv):
        assert re.search(rf"(^|[\s,]){re.escape(flag)}([\s,=]|$)", text, re.MULTILINE), (
            f"codex resume --help does not list {flag}"
        )


@pytest.mark.slow
def test_environment_variables_are_ones_the_clis_read(kinds, agent_clis):
    words = {
        "AfterAgent",
        "BeforeAgent",
        "ToolPermission",
        "prompt_response",
        "transcript_path",
        "GEMINI_CLI_TRUST_WORKSPACE",
    }
    gemini = set().union(*(file_mentions(p, *words) for p in program_files("gemini", agent_clis["gemini"])))
    assert gemini == words
    opencode = program_files("opencode", agent_clis["opencode"])[0]
    assert file_mentions(opencode, *kinds["opencode"].default_env) == set(kinds["opencode"].default_env)
    aider_help = help_of(agent_clis["aider"])
    for variable in kinds["aider"].default_env:
        assert f"[env var: {variable}]" in " ".join(aider_help.split()), f"aider does not read {variable}"


@pytest.fixture
def state(tmp_path):
    state = State(tmp_path / "state")
    with state.update() as agents:
        agents["worker"] = Agent(
            name="worker",
            task="t",
            agent="codex",
            branch="orchestra/worker",
            base="0" * 40,
            worktree=str(tmp_path),
            status=Status.RUNNING,
        )
    return state


def handler(state: State, translator: str) -> list[str]:
    """The hook command orchestra gives an agent of a kind whose hook events `translator` reads."""
    return [sys.executable, "-m", "orchestra", "_hook", "--state-dir", str(state.dir), "--from", translator, "worker"]


CODEX = "orchestra_codex.notify"


def test_codex_notify_marks_the_agent_done_with_its_last_message(state):
    event = {
        "type": "agent-turn-complete",
        "thread-id": "t-1",
        "turn-id": "1",
        "cwd": "/w",
        "input-messages": ["fix it"],
        "last-assistant-message": "Fixed the bug.",
    }
    result = subprocess.run([*handler(state, CODEX), json.dumps(event)], capture_output=True, timeout=30)
    assert result.returncode == 0 and result.stdout == b""
    worker = state.read()["worker"]
    assert (worker.status, worker.last_message, worker.last_hook) == (
        Status.DONE,
        "Fixed the bug.",
        "agent-turn-complete",
    )
    assert worker.session_id == "t-1"  # the thread `orchestra resume` continues


def test_codex_notify_leaves_out_codexs_title_turn(state):
    # As Codex 0.169 sends it, from a thread of its own, while the agent's first turn still runs.
    title = {
        "type": "agent-turn-complete",
        "thread-id": "t-title",
        "turn-id": "1",
        "cwd": "/w",
        "client": "codex-tui",
        "input-messages": [
            "Generate a concise, single-line task title of at most 36 characters ...\n\nUser prompt:\nfix it"
        ],
        "last-assistant-message": '{"title": "Fix it"}',
    }
    result = subprocess.run([*handler(state, CODEX), json.dumps(title)], timeout=30)
    assert result.returncode == 0
    worker = state.read()["worker"]
    assert (worker.status, worker.session_id, worker.last_message) == (Status.RUNNING, None, None)


def test_codex_notify_never_fails_codex(state):
    for args in (
        [*handler(state, CODEX), "not json"],
        [*handler(state, CODEX), '{"type": "other"}'],
        [*handler(state, "orchestra_codex.nonexistent"), "{}"],
        handler(state, CODEX)[:-1],
    ):
        assert subprocess.run(args, timeout=30, stdin=subprocess.DEVNULL).returncode == 0
    assert state.read()["worker"].status == Status.RUNNING


def gemini_hook(state: State, event: dict) -> Agent:
    result = subprocess.run(
        handler(state, "orchestra_gemini.hook"), input=json.dumps(event).encode(), capture_output=True, timeout=30
    )
    assert result.returncode == 0 and result.stdout == b"", "Gemini parses a hook's stdout"
    return state.read()["worker"]


def test_gemini_hooks_move_the_status_through_a_turn(state):
    base = {"session_id": "s-1", "cwd": "/w", "transcript_path": "/t.json", "timestamp": "2025-01-01T00:00:00Z"}
    assert gemini_hook(state, {**base, "hook_event_name": "BeforeAgent", "prompt": "go"}).status == Status.RUNNING
    asked = gemini_hook(
        state,
        {
            **base,
            "hook_event_name": "Notification",
            "notification_type": "ToolPermission",
            "message": "Allow run_shell_command: make test?",
            "details": {},
        },
    )
    assert asked.status == Status.WAITING and asked.waiting_for == "Allow run_shell_command: make test?"
    assert (
        gemini_hook(state, {**base, "hook_event_name": "AfterTool", "tool_name": "run_shell_command"}).status
        == Status.RUNNING
    )
    done = gemini_hook(state, {**base, "hook_event_name": "AfterAgent", "prompt": "go", "prompt_response": "Done."})
    assert (done.status, done.last_message) == (Status.DONE, "Done.")


@pytest.mark.slow
def test_gemini_session_flags_are_in_its_help(kinds, agent_clis):
    kind = kinds["gemini"]
    resumed = Agent(
        name="n",
        task=TASK,
        agent="gemini",
        branch="b",
        base="x",
        worktree="/w",
        session_id="5b1c0d4e-1f2a-4b3c-8d9e-0a1b2c3d4e5f",
    )
    settings = defaults(kind, model="some-model", hook_command=HOOK)
    started, argv = kind.build_argv(resumed, settings), kind.build_resume_argv(resumed, settings)
    assert started[started.index("--session-id") + 1] == resumed.session_id
    assert argv[-2:] == ["--resume", resumed.session_id] and not any(TASK in a for a in argv)
    text = help_of(agent_clis["gemini"])
    for flag in ("--session-id", "--resume", "--prompt-interactive"):
        assert re.search(rf"(^|[\s,]){re.escape(flag)}([\s,=]|$)", text, re.MULTILINE), (
            f"gemini --help does not list {flag}"
        )
    assert 'Use "latest" for most recent' in text


def test_gemini_notification_names_what_the_tool_would_do(state):
    base = {"session_id": "s-1", "cwd": "/w", "hook_event_name": "Notification", "notification_type": "ToolPermission"}
    details = {"type": "exec", "title": "Confirm Shell Command", "command": "make test", "rootCommand": "make"}
    asked = gemini_hook(state, {**base, "message": "Tool Confirm Shell Command requires execution", "details": details})
    assert asked.waiting_for == "Tool Confirm Shell Command requires execution: make test"


def test_gemini_last_message_comes_from_the_transcript(state, tmp_path):
    # As 0.61 writes it: a header, records of the conversation, `$set` updates; AfterAgent's own
    # prompt_response for a reply streamed in two chunks reads "Fixed it. it.".
    transcript = tmp_path / "session.jsonl"
    records = [
        {"sessionId": "s-1", "kind": "main"},
        {"type": "user", "content": [{"text": "fix it"}]},
        {"type": "gemini", "content": "Let me look."},
        {"$set": {"lastUpdated": "x"}},
        {"type": "user", "content": [{"functionResponse": {"name": "read_file"}}]},
        {"type": "gemini", "content": "Fixed it."},
        {"type": "gemini", "content": ""},
    ]
    transcript.write_text("".join(json.dumps(r) + "\n" for r in records))
    event = {
        "session_id": "s-1",
        "cwd": "/w",
        "transcript_path": str(transcript),
        "hook_event_name": "AfterAgent",
        "prompt": "fix it",
        "prompt_response": "Fixed it. it.",
    }
    assert gemini_hook(state, event).last_message == "Fixed it."
    transcript.write_text(transcript.read_text() + json.dumps({"type": "user", "content": [{"text": "more"}]}) + "\n")
    assert gemini_hook(state, {**event, "prompt_response": "Nothing."}).last_message == "Nothing."


def test_gemini_hook_settings_run_the_adapter_for_each_event(kinds, tmp_path):
    from orchestra_gemini import hook_settings, write_settings

    settings = hook_settings(HOOK)
    assert set(settings["hooks"]) == {
        "SessionStart",
        "BeforeAgent",
        "Notification",
        "AfterTool",
        "AfterAgent",
        "SessionEnd",
    }
    command = settings["hooks"]["AfterAgent"][0]["hooks"][0]["command"]
    import shlex

    assert shlex.split(command) == HOOK  # orchestra's hook handler itself, in one process
    worktree = tmp_path / "worktree"
    (worktree / ".gemini").mkdir(parents=True)
    git(worktree, "init", "-q")
    own = {"matcher": "*", "hooks": [{"name": "lint", "type": "command", "command": "make lint"}]}
    (worktree / ".gemini" / "settings.json").write_text(
        json.dumps({"model": {"name": "x"}, "hooks": {"AfterTool": [own]}})
    )
    path = write_settings(worktree, HOOK)
    assert (
        path == worktree / ".gemini" / "settings.json" and write_settings(worktree, HOOK) == path
    )  # twice: no duplicates
    written = json.loads(path.read_text())
    assert written["model"] == {"name": "x"} and written["hooks"]["AfterTool"] == [own, *settings["hooks"]["AfterTool"]]
    assert {e: v for e, v in written["hooks"].items() if e != "AfterTool"} == {
        e: v for e, v in settings["hooks"].items() if e != "AfterTool"
    }
    assert git(worktree, "status", "--porcelain", "--untracked-files=all") == "", (
        "the hooks stay out of the agent's changes"
    )


@pytest.mark.parametrize(
    "tracked", [[".gemini/settings.json"], [".gemini/.gitignore"], [".gemini/settings.json", ".gemini/.gitignore"]]
)
def test_gemini_settings_a_repository_tracks_stay_out_of_the_agents_changes(tmp_path, tracked):
    """The agent's worktree shows no change, so `merge` commits nothing of orchestra's and `kill`
    sees no work; the main checkout's index is left alone."""
    from orchestra_gemini import write_settings

    main = tmp_path / "main"
    (main / ".gemini").mkdir(parents=True)
    files = {".gemini/settings.json": '{"model": {"name": "x"}}\n', ".gemini/.gitignore": "/tmp/\n"}
    for name in tracked:
        (main / name).write_text(files[name])
    git(main, "init", "-q", "-b", "main")
    git(main, "add", "-A")
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "the repository's own gemini files")
    worktree = tmp_path / "worktree"
    git(main, "worktree", "add", "-q", "-b", "agent", str(worktree))
    write_settings(worktree, HOOK)
    assert "hooks" in json.loads((worktree / ".gemini" / "settings.json").read_text())
    assert git(worktree, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(worktree, "diff", "HEAD") == ""
    git(worktree, "add", "-A")  # what `orchestra merge` does with an agent's loose work
    assert git(worktree, "diff", "--cached", "--name-only") == ""
    assert git(main, "ls-files", "-v").split() == [word for name in sorted(tracked) for word in ("H", name)]


def configure(repo: Path, name: str, command: list[str]) -> None:
    (repo / "orchestra.toml").write_text(f"[agents.{name}]\ncommand = {json.dumps(command)}\n")
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", f"configure the {name} agent")


# What each CLI shows first here, offline and signed out, and the status orchestra must show for it.
FIRST_SCREENS = {
    "codex": ("waiting", "Sign in with ChatGPT"),
    "gemini": ("waiting", "Do you trust the files in this folder?"),
    "aider": ("waiting", "(Y)es/(N)o"),
    "opencode": ("running", "fix the bug"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", KINDS)
def test_spawned_cli_reaches_a_screen_orchestra_recognises(orchestra, repo, agent_clis, isolated, name, monkeypatch):
    # As in a CI job, whose variables reach every window: a CLI must still show its terminal screen.
    monkeypatch.setenv("CI", "true")
    configure(repo, name, agent_clis[name])
    orchestra("spawn", "--agent", name, "--name", "probe", "--no-attach", "fix the bug")
    status, text = FIRST_SCREENS[name]
    [shown] = wait_statuses(orchestra, {"probe": status}, timeout=60)
    wait_for(lambda: text in screen(isolated, shown["pane"]), timeout=60, what=f"{text!r} on the {name} screen")
    assert agents_json(orchestra)[0]["status"] == status
    if status == "waiting":
        assert shown["waiting_for"], "ls says what the agent asks"
    if name == "gemini":
        settings = json.loads((Path(shown["worktree"]) / ".gemini" / "settings.json").read_text())
        assert set(settings["hooks"]) >= {"BeforeAgent", "Notification", "AfterAgent"}
