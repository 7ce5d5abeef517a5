"""`claude` agents through orchestra, against the real Claude Code CLI and our stand-in API.

Every status here comes from Claude Code's own hooks (or, before any hook, from the screen),
and every check goes through the real command line, as a user runs it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from claude_api import Error, Text, ToolUse
from support import agents_json, hook_names, screen, tmux, wait_for, wait_statuses

WRITE_HELLO = [ToolUse("Write", {"file_path": "hello.txt", "content": "hi\n"}), Text("I wrote hello.txt.")]
# A command that acceptEdits does not cover, so Claude Code asks a person before running it.
UNCOVERED = """python3 -c "open('x.txt','w').write('1')\""""


def test_an_agent_writes_a_file_in_its_worktree_and_is_done(orchestra, claude_home, claude_api):
    claude_api.script(WRITE_HELLO)
    (spawned,) = json.loads(orchestra("spawn", "--no-attach", "--json", "write hello.txt").stdout)
    assert spawned["agent"] == "claude" and str(uuid.UUID(spawned["session_id"])) == spawned["session_id"]

    (agent,) = wait_statuses(orchestra, {"write-hello-txt": "done"})
    assert agent["last_message"] == "I wrote hello.txt." and agent["last_hook"] == "Stop"
    assert (Path(agent["worktree"]) / "hello.txt").read_text() == "hi\n"
    assert not (claude_home.repo / "hello.txt").exists()
    assert agent["transcript"] == str(claude_home.transcript(agent["session_id"], Path(agent["worktree"])))
    names = hook_names(orchestra, "write-hello-txt")
    assert names[:2] == ["SessionStart", "UserPromptSubmit"] and "Stop" in names

    (report,) = json.loads(orchestra("report", "--json").stdout)
    assert report["last_message"] == "I wrote hello.txt." and report["status"] == "done"
    assert report["untracked_files"] == 1 and report["uncommitted"] is True
    # Every request reached the stand-in under this agent's own session id.
    assert {r.headers.get("x-claude-code-session-id") for r in claude_api.main_requests} == {agent["session_id"]}


def test_two_agents_at_once_each_in_its_own_worktree(orchestra, claude_home, claude_api):
    claude_api.script(
        [ToolUse("Write", {"file_path": "api.py", "content": "API = 1\n"}), Text("API done.")], prompt="build the api"
    )
    claude_api.script(
        [ToolUse("Write", {"file_path": "test_api.py", "content": "assert True\n"}), Text("Tests done.")],
        prompt="write the tests",
    )
    orchestra("spawn", "--no-attach", "build the api", "write the tests")
    agents = {
        a["name"]: a for a in wait_statuses(orchestra, {"build-the-api": "done", "write-the-tests": "done"}, timeout=40)
    }
    api, tests = Path(agents["build-the-api"]["worktree"]), Path(agents["write-the-tests"]["worktree"])
    assert (api / "api.py").exists() and not (api / "test_api.py").exists()
    assert (tests / "test_api.py").exists() and not (tests / "api.py").exists()
    assert agents["build-the-api"]["last_message"] == "API done."
    assert agents["write-the-tests"]["last_message"] == "Tests done."
    assert agents["build-the-api"]["session_id"] != agents["write-the-tests"]["session_id"]


def test_a_permission_prompt_is_waiting_until_send_answers_it(orchestra, claude_home, claude_api, isolated):
    claude_api.script([ToolUse("Bash", {"command": UNCOVERED, "description": "write x.txt"}), Text("Ran it.")])
    orchestra("spawn", "--no-attach", "run the script")
    (agent,) = wait_statuses(orchestra, {"run-the-script": "waiting"})
    assert agent["waiting_for"].startswith("permission to use Bash: python3 -c")
    # The hook can beat the screen: PermissionRequest fires as Claude Code opens the dialog.
    wait_for(lambda: "Do you want to proceed?" in screen(isolated, agent["pane"]), what="the dialog on screen")
    assert not (Path(agent["worktree"]) / "x.txt").exists()

    assert "now running" in orchestra("send", "run-the-script", "").stdout  # Enter: "1. Yes" is highlighted
    (agent,) = wait_statuses(orchestra, {"run-the-script": "done"})
    assert (Path(agent["worktree"]) / "x.txt").read_text() == "1"
    assert agent["last_message"] == "Ran it." and agent["waiting_for"] is None
    names = hook_names(orchestra, "run-the-script")
    assert names.index("PermissionRequest") < names.index("PostToolUse") < names.index("Stop")


def test_an_api_error_is_failed_and_the_agent_can_go_on(orchestra, claude_home, claude_api, isolated):
    claude_api.script([Error(400, "invalid_request_error", "scripted failure")])
    orchestra("spawn", "--no-attach", "this will fail")
    (agent,) = wait_statuses(orchestra, {"this-will-fail": "failed"})
    assert "scripted failure" in agent["error"] and agent["exit_code"] is None
    wait_for(lambda: "API Error" in screen(isolated, agent["pane"]), what="the error on screen")

    claude_api.script([Text("Recovered.")])
    orchestra("send", "this-will-fail", "try again")
    (agent,) = wait_statuses(orchestra, {"this-will-fail": "done"})
    assert agent["last_message"] == "Recovered." and agent["error"] is None


def test_send_of_several_lines_is_one_prompt(orchestra, claude_home, claude_api, isolated):
    claude_api.script([Text("Ready.")])
    orchestra("spawn", "--no-attach", "wait for the list")
    wait_statuses(orchestra, {"wait-for-the-list": "done"})
    requests = len(claude_api.main_requests)
    claude_api.script([Text("Both noted.")])
    orchestra("send", "wait-for-the-list", "first: apples\nsecond: pears")
    answered = lambda: [a for a in agents_json(orchestra) if a["last_message"] == "Both noted."]  # noqa: E731
    (agent,) = wait_for(answered, timeout=30, what="the answer to the two-line prompt")
    assert agent["status"] == "done"
    prompts = [m for r in claude_api.main_requests[requests:] for m in r.body["messages"] if m["role"] == "user"]
    sent = json.dumps(prompts)
    assert "first: apples\\nsecond: pears" in sent, sent  # one prompt of two lines, not two prompts
    assert hook_names(orchestra, "wait-for-the-list").count("UserPromptSubmit") == 2


def test_a_killed_tmux_server_is_resumed_in_the_same_conversation(orchestra, claude_home, claude_api, isolated):
    claude_api.script([ToolUse("Bash", {"command": UNCOVERED, "description": "write x.txt"})])
    orchestra("spawn", "--no-attach", "remember the word pineapple")
    (before,) = wait_statuses(orchestra, {"remember-the-word-pineapple": "waiting"})  # mid-turn
    tmux(isolated, "kill-server")
    assert wait_statuses(orchestra, {"remember-the-word-pineapple": "lost"})[0]["session_id"] == before["session_id"]

    result = orchestra("resume")
    assert f"continuing session {before['session_id']}" in result.stdout
    (after,) = wait_statuses(orchestra, {"remember-the-word-pineapple": "done"})  # back at its prompt
    assert after["session_id"] == before["session_id"] and after["worktree"] == before["worktree"]
    assert after["argv"][-2:] == ["--resume", before["session_id"]]  # a new server: pane ids start over
    # Its history comes back on screen (SessionStart can fire before Claude Code draws it).
    wait_for(
        lambda: "remember the word pineapple" in screen(isolated, after["pane"]), what="the conversation on screen"
    )

    requests = len(claude_api.main_requests)
    claude_api.script([Text("The word was pineapple.")])
    orchestra("send", "remember-the-word-pineapple", "which word?")
    answered = lambda: [a for a in agents_json(orchestra) if a["last_message"] == "The word was pineapple."]  # noqa: E731
    (after,) = wait_for(answered, timeout=30, what="the answer to the new prompt")
    assert after["status"] == "done" and len(claude_api.main_requests) > requests
    sent = json.dumps(claude_api.main_requests[-1].body["messages"])
    assert "remember the word pineapple" in sent and "which word?" in sent  # the same conversation went on
    transcript = Path(after["transcript"])
    assert transcript.name == f"{before['session_id']}.jsonl"
    # Claude Code writes its transcript on its own time, not before its Stop hook.
    wait_for(lambda: "which word?" in transcript.read_text(), what="the new prompt in the transcript")


def test_sessions_lists_the_agents_sessions_from_the_real_transcripts(orchestra, claude_home, claude_api):
    claude_api.script([Text("First.")], prompt="first task")
    claude_api.script([Text("Second.")], prompt="second task")
    orchestra("spawn", "--no-attach", "first task", "second task")
    agents = wait_statuses(orchestra, {"first-task": "done", "second-task": "done"}, timeout=40)
    owned = {a["session_id"]: a["name"] for a in agents}
    wait_for(lambda: all(Path(a["transcript"]).exists() for a in agents), what="the transcripts")
    sessions = json.loads(orchestra("sessions", "--json").stdout)
    found = {s["id"]: s for s in sessions}
    assert set(found) == set(owned)
    for session_id, name in owned.items():
        session = found[session_id]
        assert session["agent"] == name and session["branch"] == f"orchestra/{name}"
        assert session["directory"].endswith(f"/{name}") and session["turns"] == 1
        assert session["first_prompt"] == name.replace("-", " ")
    text = orchestra("sessions").stdout
    assert "first-task" in text and "second-task" in text


def test_an_untrusted_folder_shows_as_waiting_and_is_never_answered(orchestra, claude_home, claude_api, isolated):
    (claude_home.home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
    orchestra("spawn", "--no-attach", "trust me")
    (agent,) = wait_statuses(orchestra, {"trust-me": "waiting"})
    assert "Is this a project you created or one you trust?" in agent["waiting_for"]
    assert agent["last_hook"] is None and claude_api.main_requests == []
    assert "Yes, I trust this folder" in screen(isolated, agent["pane"])  # still asking: orchestra never answers


def test_a_session_id_is_never_one_a_transcript_already_uses(claude_home, monkeypatch):
    from orchestra import spawning
    from orchestra.context import Context

    taken = "11111111-1111-4111-8111-111111111111"
    transcript = claude_home.transcript(taken)
    transcript.parent.mkdir(parents=True)
    transcript.write_text("{}\n")
    fresh = uuid.UUID("22222222-2222-4222-8222-222222222222")
    ids = iter([uuid.UUID(taken), uuid.UUID(taken), fresh])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    monkeypatch.chdir(claude_home.repo)
    ctx = Context.open()  # the claude plugin answers through its `session_id_taken` hook
    assert spawning.new_session_id({}, spawning.taken_by_plugins(ctx, ctx.plugins.kind("claude"))) == str(fresh)
    assert ctx.plugins.problems == []


NOTIFY_PROBE = """
import json, os
from orchestra.hookspecs import hookimpl

@hookimpl
def notifier(event):
    with open(os.environ["PROBE_LOG"], "a") as log:
        log.write(json.dumps(event.to_dict()) + "\\n")
"""


def test_notifier_plugins_hear_of_hook_driven_status_changes(orchestra, claude_home, claude_api, tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "notify_probe-0.1.dist-info").mkdir(parents=True)
    (site / "notify_probe.py").write_text(NOTIFY_PROBE)
    (site / "notify_probe-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: notify-probe\nVersion: 0.1\n"
    )
    (site / "notify_probe-0.1.dist-info" / "entry_points.txt").write_text("[orchestra]\nprobe = notify_probe\n")
    log = tmp_path / "probe.ndjson"
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("PROBE_LOG", str(log))
    claude_api.script([Text("Nothing to do.")])
    orchestra("spawn", "--no-attach", "say hello")
    wait_statuses(orchestra, {"say-hello": "done"})
    heard = lambda: [e["status"] for e in map(json.loads, log.read_text().splitlines())] if log.exists() else []  # noqa: E731
    wait_for(lambda: "done" in heard(), what="the notifier to hear that the agent is done")
    assert all(e["agent"] == "say-hello" for e in map(json.loads, log.read_text().splitlines()))


def test_every_flag_orchestra_passes_is_in_claude_codes_own_help(claude_bin, tmp_path):
    import subprocess

    from orchestra import plugins as plugins_module
    from orchestra.models import Agent, AgentSettings

    help_text = subprocess.run([str(claude_bin), "--help"], capture_output=True, text=True, timeout=60).stdout
    kind = plugins_module.load().kinds["claude"]
    agent = Agent(name="n", task="t", agent="claude", branch="b", base="x", worktree="/w", session_id=str(uuid.uuid4()))
    settings = AgentSettings(
        command=["claude"],
        args=list(kind.default_args),
        model="opus",
        hook_command=["/py", "-m", "orchestra"],
        mcp_command=["/py", "-m", "orchestra", "mcp", "--agent", "n"],
    )
    flags = {
        arg
        for argv in (kind.build_argv(agent, settings), kind.build_resume_argv(agent, settings))
        for arg in argv
        if arg.startswith("--") and arg != "--"
    }
    assert flags == {"--permission-mode", "--model", "--settings", "--mcp-config", "--session-id", "--resume"}
    for flag in flags:
        assert f"{flag} " in help_text or f"{flag}," in help_text, f"claude --help does not list {flag}"


def test_doctor_tells_when_claude_code_does_not_trust_the_repository(orchestra, claude_home):
    assert "claude trust" not in orchestra("doctor").stdout
    (claude_home.home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True, "projects": {}}))
    out = orchestra("doctor").stdout
    assert "claude trust" in out and "folder-trust dialog" in out
