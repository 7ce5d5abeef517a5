"""The real Claude Code CLI, run directly in a tmux pane, against our stand-in for the Messages API.

These prove the test set-up itself (tests/claude_api.py, tests/claude_support.py) and pin down the behaviour of
Claude Code 2.1.328 that orchestra relies on: which hooks fire when, with what.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

from claude_api import Error, Text, ToolUse
from claude_support import ClaudeHome, HookLog
from support import tmux, wait_for

WRITE_HELLO = [ToolUse("Write", {"file_path": "hello.txt", "content": "hi\n"}), Text("I wrote hello.txt.")]
# A command that acceptEdits does not cover, so Claude Code asks before running it.
UNCOVERED = """python3 -c "open('x.txt','w').write('1')\""""


def start_claude(claude: ClaudeHome, *args: str, cwd: Path | None = None) -> str:
    """Run the pinned claude with `args` in a new tmux session on the test's socket; return its pane id."""
    socket = os.environ["ORCHESTRA_TMUX_SOCKET"]
    env = [item for name, value in claude.env.items() for item in ("-e", f"{name}={value}")]
    where = ["new-session", "-d", "-x", "120", "-y", "40", "-P", "-F", "#{pane_id}", "-c", str(cwd or claude.repo)]
    result = tmux(socket, *where, *env, str(claude.bin), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def screen(pane: str) -> str:
    return tmux(os.environ["ORCHESTRA_TMUX_SOCKET"], "capture-pane", "-p", "-t", pane).stdout


def wait_for_screen(pane: str, text: str, timeout: float = 20.0) -> str:
    try:
        return wait_for(lambda: text in (shown := screen(pane)) and shown, timeout=timeout, what=repr(text))
    except AssertionError as error:
        raise AssertionError(f"{error}; the screen shows:\n{screen(pane)}") from None


def send_keys(pane: str, *keys: str) -> None:
    tmux(os.environ["ORCHESTRA_TMUX_SOCKET"], "send-keys", "-t", pane, *keys)


def type_prompt(pane: str, text: str) -> None:
    """Type `text` into Claude Code's input box and submit it once it shows there."""
    send_keys(pane, "-l", text)
    # The input box reads "❯" and a no-break space; the conversation above it uses a plain space.
    wait_for_screen(pane, f"❯\u00a0{text}")
    send_keys(pane, "Enter")


def test_claude_writes_a_file_and_fires_session_hooks(claude_home, claude_api, hook_log: HookLog):
    claude_api.script(WRITE_HELLO)
    session_id = str(uuid.uuid4())
    start_claude(
        claude_home,
        "--permission-mode",
        "acceptEdits",
        "--session-id",
        session_id,
        "--settings",
        hook_log.settings(),
        "--",
        "write hello.txt",
    )

    stop = hook_log.wait_for("Stop")
    assert (claude_home.repo / "hello.txt").read_text() == "hi\n"
    assert stop["session_id"] == session_id
    assert stop["cwd"] == str(claude_home.repo)
    assert stop["last_assistant_message"] == "I wrote hello.txt."
    assert stop["transcript_path"] == str(claude_home.transcript(session_id))
    assert Path(stop["transcript_path"]).exists()
    start, prompt = hook_log.events("SessionStart")[0], hook_log.events("UserPromptSubmit")[0]
    assert (start["source"], start["session_id"]) == ("startup", session_id)
    assert prompt["prompt"] == "write hello.txt"
    assert hook_log.names().index("SessionStart") < hook_log.names().index("UserPromptSubmit")
    assert [e["tool_name"] for e in hook_log.events("PostToolUse")] == ["Write"]
    assert {r["env"].get("CLAUDE_PROJECT_DIR") for r in hook_log.records()} == {str(claude_home.repo)}

    first, second = claude_api.wait_for_main(2)
    assert first.path == "/v1/messages?beta=true" and first.body["stream"] is True
    assert "authorization" not in first.headers
    assert [r["tool_use_id"] for r in second.tool_results] == [WRITE_HELLO[0].id]


def test_a_command_outside_accept_edits_waits_for_approval(claude_home, claude_api, hook_log: HookLog):
    claude_api.script([ToolUse("Bash", {"command": UNCOVERED, "description": "Write x.txt"}), Text("Wrote x.txt.")])
    pane = start_claude(
        claude_home,
        "--permission-mode",
        "acceptEdits",
        "--session-id",
        str(uuid.uuid4()),
        "--settings",
        hook_log.settings(),
        "--",
        "make x.txt",
    )

    asked = hook_log.wait_for("PermissionRequest")
    assert (asked["tool_name"], asked["tool_input"]["command"]) == ("Bash", UNCOVERED)
    wait_for_screen(pane, "Do you want to proceed?")
    assert not (claude_home.repo / "x.txt").exists()
    assert "Stop" not in hook_log.names()

    send_keys(pane, "Enter")  # the dialog's first answer is "1. Yes"
    assert hook_log.wait_for("Stop")["last_assistant_message"] == "Wrote x.txt."
    assert (claude_home.repo / "x.txt").read_text() == "1"
    after = hook_log.names()[hook_log.names().index("PermissionRequest") + 1 :]
    assert after.index("PostToolUse") < after.index("Stop")


def test_an_api_error_fires_stop_failure(claude_home, claude_api, hook_log: HookLog):
    claude_api.script([Error(400, "invalid_request_error", "scripted failure")])
    pane = start_claude(
        claude_home,
        "--permission-mode",
        "acceptEdits",
        "--session-id",
        str(uuid.uuid4()),
        "--settings",
        hook_log.settings(),
        "--",
        "fail please",
    )

    failure = hook_log.wait_for("StopFailure")
    assert failure["last_assistant_message"] == "API Error: 400 scripted failure"
    assert failure["error"] == "unknown"  # 2.1.328 files a 400 invalid_request_error under "unknown"
    wait_for_screen(pane, "API Error: 400 scripted failure")
    assert "Stop" not in hook_log.names()
    # Claude Code sent the failed request again, each time leaving out another optional feature.
    assert len(claude_api.main_requests) > 1


def test_a_finished_session_resumes_and_its_id_cannot_be_reused(claude_home, claude_api, hook_log: HookLog):
    claude_api.script(WRITE_HELLO)
    session_id = str(uuid.uuid4())
    pane = start_claude(
        claude_home,
        "--permission-mode",
        "acceptEdits",
        "--session-id",
        session_id,
        "--settings",
        hook_log.settings(),
        "--",
        "write hello.txt",
    )
    hook_log.wait_for("Stop")
    type_prompt(pane, "/exit")
    assert hook_log.wait_for("SessionEnd")["reason"] == "prompt_input_exit"

    reused = subprocess.run(
        [str(claude_home.bin), "--session-id", session_id, "--", "again"],
        cwd=claude_home.repo,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (reused.returncode, reused.stderr) == (1, f"Error: Session ID {session_id} is already in use.\n")

    claude_api.script([Text("Resumed.")])
    pane = start_claude(claude_home, "--resume", session_id, "--settings", hook_log.settings())
    resumed = hook_log.wait_for("SessionStart", count=2)
    assert (resumed["source"], resumed["session_id"]) == ("resume", session_id)
    wait_for_screen(pane, "I wrote hello.txt.")  # the earlier conversation is on the screen again
    assert len(claude_api.main_requests) == 2  # resuming alone asks the model nothing

    type_prompt(pane, "go on")
    assert hook_log.wait_for("Stop", count=2)["last_assistant_message"] == "Resumed."

    def transcript() -> list[dict]:
        return [json.loads(line) for line in claude_home.transcript(session_id).read_text().splitlines()]

    def prompts() -> list:
        return [line["message"]["content"] for line in transcript() if line["type"] == "user"]

    # The resumed turn goes on in the same transcript, but its lines may reach the disk after the Stop hook ran.
    wait_for(lambda: "go on" in prompts(), what="the resumed prompt in the transcript")
    assert prompts()[0] == "write hello.txt"
    assert {line["sessionId"] for line in transcript() if "sessionId" in line} == {session_id}
