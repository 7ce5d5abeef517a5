"""The agent hook handler: each hook event (Claude Code's, through the claude plugin's translator,
or orchestra's own) moves the status, and nothing breaks it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestra.hook_handler import handle, translator_file
from orchestra.launch import hook_argv
from orchestra.models import Agent, Status
from orchestra.state import State


@pytest.fixture
def state(tmp_path):
    state = State(tmp_path / "state")
    with state.update() as agents:
        agents["worker"] = Agent(
            name="worker",
            task="t",
            agent="claude",
            branch="orchestra/worker",
            base="0" * 40,
            worktree=str(tmp_path),
            status=Status.RUNNING,
            session_id="11111111-1111-4111-8111-111111111111",
        )
    return state


CLAUDE = ["--from-file", str(translator_file("orchestra_claude.hooks"))]


def run_hook(state: State, name: str, payload: bytes, translator: list[str] = CLAUDE) -> subprocess.CompletedProcess:
    """As an agent CLI runs it: the command spawn gives the agent (`launch.hook_argv`)."""
    return subprocess.run(
        hook_argv("--state-dir", str(state.dir), *translator, name),
        input=payload,
        capture_output=True,
        timeout=30,
    )


def send(state: State, event: dict) -> Agent:
    handle(state, "worker", json.dumps(event).encode(), "orchestra_claude.hooks")
    return state.read()["worker"]


def test_a_turn_moves_running_waiting_running_done(state):
    assert send(state, {"hook_event_name": "UserPromptSubmit", "prompt": "go"}).status == Status.RUNNING
    asked = send(
        state, {"hook_event_name": "PermissionRequest", "tool_name": "Bash", "tool_input": {"command": "make test"}}
    )
    assert asked.status == Status.WAITING and asked.waiting_for == "permission to use Bash: make test"
    assert send(state, {"hook_event_name": "PostToolUse", "tool_name": "Bash"}).status == Status.RUNNING
    done = send(state, {"hook_event_name": "Stop", "last_assistant_message": "All tests pass."})
    assert done.status == Status.DONE and done.last_message == "All tests pass." and done.waiting_for is None
    assert done.last_hook == "Stop"


def test_a_question_notification_means_waiting(state):
    agent = send(
        state,
        {
            "hook_event_name": "Notification",
            "notification_type": "permission_prompt",
            "message": "Claude needs your permission to use Bash",
        },
    )
    assert agent.status == Status.WAITING and "permission" in agent.waiting_for
    # A notification that asks nothing leaves the question standing.
    assert (
        send(state, {"hook_event_name": "Notification", "notification_type": "auth_success"}).status == Status.WAITING
    )


def test_stop_failure_is_failed_with_the_error_and_a_new_prompt_revives_it(state):
    failed = send(
        state,
        {"hook_event_name": "StopFailure", "error": "invalid_request", "last_assistant_message": "API Error: 400"},
    )
    assert failed.status == Status.FAILED and failed.error == "API Error: 400 (invalid_request)"
    revived = send(state, {"hook_event_name": "UserPromptSubmit", "prompt": "try again"})
    assert revived.status == Status.RUNNING and revived.error is None


def test_a_rate_limit_is_limited_until_the_time_claude_code_names(state):
    limited = send(
        state,
        {
            "hook_event_name": "StopFailure",
            "error": "rate_limit",
            "last_assistant_message": "You've hit your session limit · resets Dec 31, 11pm (UTC)",
        },
    )
    assert limited.status == Status.LIMITED and "session limit" in limited.error
    assert limited.limited_until.endswith("-12-31T23:00:00+00:00")
    assert send(state, {"hook_event_name": "UserPromptSubmit", "prompt": "go on"}).limited_until is None


def test_a_rate_limit_without_a_time_waits_the_back_off(state):
    import datetime

    limited = send(
        state,
        {"hook_event_name": "StopFailure", "error": "rate_limit", "last_assistant_message": "API Error: 429"},
    )
    left = datetime.datetime.fromisoformat(limited.limited_until) - datetime.datetime.now(datetime.timezone.utc)
    assert limited.status == Status.LIMITED and 290 < left.total_seconds() <= 300  # the default limit_backoff


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("You've hit your limit · resets 3pm", "2026-12-03T15:00:00+00:00"),
        ("resets 9:30am (Europe/Paris)", "2026-12-04T08:30:00+00:00"),
        ("resets 1pm", "2026-12-04T13:00:00+00:00"),  # past today: tomorrow's
        ("resets Jan 2 at 9am", "2027-01-02T09:00:00+00:00"),
        ("Claude AI usage limit reached|1796310000", "2026-12-03T15:00:00+00:00"),
        ("API Error: Request rejected (429) · This request would exceed your rate limit", None),
        ("resets 3", None),
        ("resets 25:00", None),
        ("Usage limit reached for gemini-3.8-flash.\nAccess resets at 11:03 AM UTC.", "2026-12-04T11:03:00+00:00"),
    ],
)
def test_reset_times_as_claude_code_words_them(message, expected, monkeypatch):
    import datetime
    import time

    from orchestra.clock import reset_time

    monkeypatch.setenv("TZ", "UTC")  # a clock time with no zone named is this machine's
    time.tzset()

    now = datetime.datetime(2026, 12, 3, 14, 0, tzinfo=datetime.timezone.utc)
    assert reset_time(message, now) == expected


def test_session_start_records_the_session_and_a_resumed_one_sits_at_its_prompt(state):
    agent = send(
        state,
        {
            "hook_event_name": "SessionStart",
            "source": "startup",
            "session_id": "s-1",
            "transcript_path": "/tmp/t.jsonl",
        },
    )
    assert (agent.status, agent.session_id, agent.transcript) == (Status.RUNNING, "s-1", "/tmp/t.jsonl")
    with state.update() as agents:
        agents["worker"].status = Status.STARTING
    assert (
        send(state, {"hook_event_name": "SessionStart", "source": "resume", "session_id": "s-1"}).status == Status.DONE
    )


def test_events_after_the_agent_ended_change_nothing(state):
    with state.update() as agents:
        agents["worker"].status = Status.EXITED
    assert send(state, {"hook_event_name": "Stop", "last_assistant_message": "late"}).status == Status.EXITED


def test_every_event_is_logged_and_status_changes_too(state):
    send(state, {"hook_event_name": "Stop", "last_assistant_message": "ok", "transcript_path": "x" * 5000})
    events = state.read_events()
    hook = next(e for e in events if e["type"] == "hook")
    assert hook["data"]["hook"] == "Stop" and len(hook["data"]["transcript_path"]) < 2100
    change = next(e for e in events if e["type"] == "status")
    assert change == {**change, "agent": "worker", "status": "done", "data": {"from": "running", "hook": "Stop"}}


def test_the_handler_as_run_by_the_agent_cli(state):
    result = run_hook(state, "worker", json.dumps({"hook_event_name": "Stop", "last_assistant_message": "hi"}).encode())
    assert result.returncode == 0 and result.stdout == b""
    assert state.read()["worker"].status == Status.DONE


@pytest.mark.parametrize("payload", [b"{not json", b"", b"[1, 2]", b"\xff\xfe"])
def test_malformed_event_is_logged_and_the_agent_is_unharmed(state, payload):
    result = run_hook(state, "worker", payload)
    assert result.returncode == 0
    assert state.read()["worker"].status == Status.RUNNING
    assert [e["type"] for e in state.read_events()] == ["hook-error"]


def test_event_for_an_unknown_agent_is_logged_and_nothing_else_changes(state):
    before = state.path.read_bytes()
    result = run_hook(state, "nobody", json.dumps({"hook_event_name": "Stop"}).encode())
    assert result.returncode == 0
    assert state.path.read_bytes() == before
    (event,) = state.read_events()
    assert event["agent"] == "nobody" and event["data"]["problem"] == "no agent of this name is recorded"


def test_a_broken_state_folder_never_fails_the_agent(tmp_path):
    (tmp_path / "state").write_text("a file where the state folder should be")
    result = run_hook(State(tmp_path / "state"), "worker", b'{"hook_event_name": "Stop"}')
    assert result.returncode == 0


def test_orchestra_hook_events_need_no_translator(state):
    """A sixth agent CLI's hook script may speak orchestra's own events, knowing nothing of Claude's."""
    asked = json.dumps({"event": "asked", "question": "Deploy now?", "hook": "ask"}).encode()
    assert run_hook(state, "worker", asked, translator=[]).returncode == 0
    agent = state.read()["worker"]
    assert (agent.status, agent.waiting_for, agent.last_hook) == (Status.WAITING, "Deploy now?", "ask")
    ended = run_hook(
        state, "worker", json.dumps({"event": "turn-ended", "message": "Deployed."}).encode(), translator=[]
    )
    assert ended.returncode == 0 and state.read()["worker"].last_message == "Deployed."


def test_the_payload_may_come_as_the_last_argument(state):
    """Codex hands its notify program the event as one more argument, not on stdin."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestra",
            "_hook",
            "--state-dir",
            str(state.dir),
            "--from",
            "orchestra_codex.notify",
            "worker",
            json.dumps({"type": "agent-turn-complete", "thread-id": "t-1", "last-assistant-message": "Done."}),
        ],
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    agent = state.read()["worker"]
    assert result.returncode == 0 and (agent.status, agent.session_id, agent.last_message) == (
        Status.DONE,
        "t-1",
        "Done.",
    )


def test_an_unknown_event_name_is_logged_as_a_hook_error(state):
    result = run_hook(state, "worker", json.dumps({"event": "coffee-break"}).encode(), translator=[])
    assert result.returncode == 0 and state.read()["worker"].status == Status.RUNNING
    (problem,) = state.read_events()
    assert problem["type"] == "hook-error" and "coffee-break" in problem["data"]["message"]


def test_agents_spawned_before_the_hook_start_still_reach_the_handler(state):
    """Their settings name `python -m orchestra _hook ... --from MODULE`; it still works."""
    payload = json.dumps({"hook_event_name": "Stop", "last_assistant_message": "Done."}).encode()
    argv = [
        sys.executable,
        "-m",
        "orchestra",
        "_hook",
        "--state-dir",
        str(state.dir),
        "--from",
        "orchestra_claude.hooks",
    ]
    result = subprocess.run([*argv, "worker"], input=payload, capture_output=True, timeout=30)
    assert result.returncode == 0 and state.read()["worker"].status == Status.DONE


def test_the_hook_start_runs_without_the_site_module_or_the_callers_python_variables(state, tmp_path):
    """No site-packages scan and no editable finder on each event; PYTHONPATH cannot put another
    `orchestra` (say the repository's own, an agent's worktree) in front of the installed one."""
    decoy = tmp_path / "decoy" / "orchestra"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy ran')\n")
    payload = json.dumps({"hook_event_name": "UserPromptSubmit", "prompt": "go"}).encode()
    env = {**os.environ, "PYTHONPATH": str(decoy.parent)}
    argv = hook_argv("--state-dir", str(state.dir), *CLAUDE, "worker")
    assert argv[1:3] == ["-I", "-S"]
    result = subprocess.run(argv, input=payload, capture_output=True, timeout=30, cwd=decoy.parent, env=env)
    assert result.returncode == 0, result.stderr
    assert state.read()["worker"].last_hook == "UserPromptSubmit"
    probe = subprocess.run(
        [*argv[:3], "-c", "import sys; print(sys.flags.no_site, any('site-packages' in p for p in sys.path))"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.stdout.split() == ["1", "False"]


def test_a_translator_never_loaded_before_is_loaded_from_its_file_and_cached(state, tmp_path):
    """A fresh install has no cached bytecode of the translator: the first event compiles it and
    writes the cache (a file name of a str subclass once made that write, and the event, fail)."""
    fresh = tmp_path / "fresh" / "hooks.py"
    fresh.parent.mkdir()
    fresh.write_bytes(translator_file("orchestra_claude.hooks").read_bytes())
    payload = json.dumps({"hook_event_name": "Stop", "last_assistant_message": "Done."}).encode()
    result = run_hook(state, "worker", payload, translator=["--from-file", str(fresh)])
    assert result.returncode == 0 and state.read()["worker"].status == Status.DONE
    assert not [e for e in state.read_events() if e["type"] == "hook-error"], state.read_events()
    assert list((fresh.parent / "__pycache__").glob("hooks.*.pyc")), "its bytecode is cached for the next event"


def test_a_translator_is_found_by_its_file_or_said_missing():
    assert translator_file("orchestra_claude.hooks").name == "hooks.py"
    with pytest.raises(ImportError, match="no module named 'no_such_plugin'"):
        translator_file("no_such_plugin.hooks")
    with pytest.raises(ImportError, match=r"orchestra_claude\.nothing"):
        translator_file("orchestra_claude.nothing")


def test_the_translator_is_loaded_without_its_package(state):
    """The plugin package's __init__ loads pluggy, which would cost every hook event ~50 ms."""
    probe = (
        "import sys; from orchestra.hook_handler import load_translator; load_translator('orchestra_claude.hooks'); "
        "print('pluggy' in sys.modules, 'orchestra_claude' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30).stdout.split()
    assert out == ["False", "False"]


def test_the_hook_event_is_typed_with_every_field_the_events_read():
    """`HookEvent` is the type a translator returns (docs/plugins.md): it names `event`, `hook`
    and each field of HOOK_EVENTS, no more, and a plugin gets it from `orchestra.models`."""
    from orchestra import lifecycle
    from orchestra.models import HookEvent

    fields = {name for names in lifecycle.HOOK_EVENTS.values() for name in names}
    assert set(HookEvent.__annotations__) == {"event", "hook", *fields}
    assert HookEvent.__required_keys__ == frozenset()


def test_no_notifier_starts_for_a_change_no_plugin_acts_on_while_the_answer_holds(state, tmp_path, monkeypatch):
    """The agent's record keeps what its spawn asked the plugins (`notified`) and what that answer
    depends on: a `running` no plugin wants starts no notifier process; a `done` does; once a
    file it depends on changes (a configuration edited), every change is told again."""
    from orchestra import lifecycle

    config = tmp_path / "orchestra.toml"
    config.write_text("")
    with state.update() as agents:
        agents["worker"].notified = {"events": ["done"], "key": lifecycle.notified_key([str(config)])}
    started: list[str] = []
    monkeypatch.setattr(lifecycle, "in_background", lambda state, argv, reap=True: started.append(argv[4]))
    send(state, {"hook_event_name": "Stop", "last_assistant_message": "Done."})
    assert started.count("_notify") == 1, started
    started.clear()
    assert send(state, {"hook_event_name": "UserPromptSubmit", "prompt": "go on"}).status == Status.RUNNING
    assert "_notify" not in started, started
    assert [e["status"] for e in state.read_events() if e["type"] == "status"][-1] == "running", "logged all the same"
    send(state, {"hook_event_name": "Stop", "last_assistant_message": "Done."})
    config.write_text('[plugins.notify]\nevents = ["running"]\n')
    os.utime(config, ns=(config.stat().st_mtime_ns + 10**9,) * 2)  # a later edit, whatever the clock
    started.clear()
    send(state, {"hook_event_name": "UserPromptSubmit", "prompt": "again"})
    assert started.count("_notify") == 1, "the answer may have changed: told"


def test_what_a_spawn_asked_the_notifiers_is_kept_in_the_record(repo):
    from orchestra import lifecycle
    from orchestra.context import Context
    from orchestra.spawning import TaskSpec, spawn, spawn_environment

    ctx = Context.open(repo)
    [agent] = spawn(ctx, [TaskSpec(task="one", agent="demo")], spawn_environment()).agents
    record = ctx.state.read_raw()[agent.name]
    assert record["notified"]["events"] == ctx.plugins.notified(ctx.config)
    paths = [path for path, _ in record["notified"]["key"]]
    assert str(repo / "orchestra.toml") in paths and any("site-packages" in p or p.endswith("plugins") for p in paths)
    assert lifecycle.listened(record) == record["notified"]["events"]
    (repo / "orchestra.toml").write_text("")  # a project configuration appears
    assert lifecycle.listened(record) is None


def test_a_notifier_whose_state_folder_is_gone_ends_quietly(tmp_path):
    """`_notify` runs in the background; the repository may be deleted before it ends."""
    event = json.dumps([{"type": "status", "agent": "a", "status": "done"}])
    gone = tmp_path / "deleted" / ".git" / "orchestra"
    result = subprocess.run(
        [sys.executable, "-m", "orchestra", "_notify", "--state-dir", str(gone), event],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "") and not gone.exists()
