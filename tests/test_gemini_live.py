"""`gemini` agents through orchestra, against the real Gemini CLI 0.61.0 and our stand-in Gemini API.

Gemini CLI is configured the way a user would, through orchestra.toml's `[agents.gemini] env`
only: an API key and GOOGLE_GEMINI_BASE_URL for the stand-in; GEMINI_CLI_TRUST_WORKSPACE, which
Gemini offers for automated runs, so each new worktree opens without the folder-trust dialog;
and GEMINI_CLI_HOME, a Gemini home of the test's own holding the user settings that a person
gets by choosing "Use Gemini API Key" once (the test's ~/.gemini is never written). Every status
comes from Gemini's own hooks, and every check goes through the real command line.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from gemini_api import FunctionCall, GeminiAPI, Text, gemini_environment, gemini_user_settings
from support import agents_json, git, hook_names, screen, tmux, wait_for, wait_statuses

pytestmark = pytest.mark.slow

WRITE_HELLO = [FunctionCall("write_file", {"file_path": "hello.txt", "content": "hi\n"}), Text("I wrote hello.txt.")]
# auto_edit approves edits; a shell command still asks a person.
SHELL = FunctionCall("run_shell_command", {"command": "echo 1 > x.txt", "description": "Write x.txt."})
TIMEOUT = 90  # Gemini CLI takes a few seconds to start, and over 30 s on a loaded machine


@dataclass
class Gemini:
    api: GeminiAPI
    home: Path  # GEMINI_CLI_HOME: Gemini's settings and its sessions (under .gemini/tmp)


@pytest.fixture
def gemini(repo, agent_clis, tmp_path, monkeypatch):
    """The stand-in, a Gemini home with the user's settings, and the `gemini` kind configured in `repo`."""
    for name in list(os.environ):
        if name.startswith(("GEMINI_", "GOOGLE_")):
            monkeypatch.delenv(name)
    home = tmp_path / "gemini-home"
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(gemini_user_settings()))
    with GeminiAPI() as api:
        env = {**gemini_environment(api.url), "GEMINI_CLI_HOME": str(home), "GEMINI_CLI_TRUST_WORKSPACE": "true"}
        table = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
        (repo / "orchestra.toml").write_text(
            f'[orchestra]\ndefault_agent = "gemini"\n\n[agents.gemini]\ncommand = {json.dumps(agent_clis["gemini"])}\n'
            f"env = {{ {table} }}\n"
        )
        git(repo, "add", "orchestra.toml")
        git(repo, "commit", "-qm", "configure the gemini agent")
        yield Gemini(api=api, home=home)


def test_a_turn_writes_a_file_in_its_worktree_and_is_done(orchestra, repo, gemini):
    gemini.api.script(WRITE_HELLO)
    (spawned,) = json.loads(orchestra("spawn", "--agent", "gemini", "--no-attach", "--json", "write hello.txt").stdout)
    assert spawned["agent"] == "gemini" and str(uuid.UUID(spawned["session_id"])) == spawned["session_id"]

    (agent,) = wait_statuses(orchestra, {"write-hello-txt": "done"}, timeout=TIMEOUT)
    assert agent["last_message"] == "I wrote hello.txt." and agent["last_hook"] == "AfterAgent"
    worktree = Path(agent["worktree"])
    assert (worktree / "hello.txt").read_text() == "hi\n" and not (repo / "hello.txt").exists()
    # Gemini ran under the id orchestra chose, and its hooks reported that same id.
    assert agent["session_id"] == spawned["session_id"]
    names = hook_names(orchestra, "write-hello-txt")
    assert names[:2] == ["SessionStart", "BeforeAgent"] and names.index("AfterTool") < names.index("AfterAgent")

    first, second = gemini.api.wait_for_main(2)
    assert "write hello.txt" in first.said()
    (result,) = second.function_responses
    assert result["name"] == "write_file"
    # orchestra's hooks file stays out of the agent's changes.
    assert git(worktree, "status", "--porcelain").splitlines() == ["?? hello.txt"]
    (report,) = json.loads(orchestra("report", "--json").stdout)
    assert report["last_message"] == "I wrote hello.txt." and report["untracked_files"] == 1


def test_a_shell_command_waits_until_send_approves_it(orchestra, gemini, isolated):
    gemini.api.script([SHELL, Text("Ran it.")])
    orchestra("spawn", "--agent", "gemini", "--no-attach", "run the script")
    (agent,) = wait_statuses(orchestra, {"run-the-script": "waiting"}, timeout=TIMEOUT)
    assert "echo 1 > x.txt" in agent["waiting_for"]
    wait_for(lambda: "Allow once" in screen(isolated, agent["pane"]), what="the confirmation on screen")
    assert not (Path(agent["worktree"]) / "x.txt").exists()

    assert "now running" in orchestra("send", "run-the-script", "").stdout  # Enter: "1. Allow once" is chosen
    (agent,) = wait_statuses(orchestra, {"run-the-script": "done"}, timeout=TIMEOUT)
    assert (Path(agent["worktree"]) / "x.txt").read_text() == "1\n"
    assert agent["last_message"] == "Ran it." and agent["waiting_for"] is None
    names = hook_names(orchestra, "run-the-script")
    assert names.index("Notification") < names.index("AfterTool") < names.index("AfterAgent")


# Gemini CLI starts twice and answers twice here: up to a minute each on a loaded machine.
@pytest.mark.timeout(360)
def test_a_killed_tmux_server_is_resumed_in_the_same_conversation(orchestra, gemini, isolated):
    gemini.api.script([Text("I will remember it.")])
    orchestra("spawn", "--agent", "gemini", "--no-attach", "remember the word pineapple")
    (before,) = wait_statuses(orchestra, {"remember-the-word-pineapple": "done"}, timeout=TIMEOUT)
    tmux(isolated, "kill-server")
    assert wait_statuses(orchestra, {"remember-the-word-pineapple": "lost"})[0]["session_id"] == before["session_id"]

    result = orchestra("resume")
    assert f"continuing session {before['session_id']}" in result.stdout
    (after,) = wait_statuses(orchestra, {"remember-the-word-pineapple": "done"}, timeout=TIMEOUT)  # back at its prompt
    assert after["argv"][-2:] == ["--resume", before["session_id"]] and after["session_id"] == before["session_id"]
    # Its history comes back on screen, under the prompt the next message is typed into.
    shown = lambda: screen(isolated, after["pane"])  # noqa: E731
    wait_for(
        lambda: "I will remember it." in shown() and "Type your message" in shown(), what="the conversation on screen"
    )

    requests = len(gemini.api.main_requests)
    gemini.api.script([Text("The word was pineapple.")])
    # One send: a paste (so the "?" is not Gemini's shortcuts key), then its Enter after a pause
    # (Gemini CLI takes an Enter within 30 ms of a typed key for a new line).
    orchestra("send", "remember-the-word-pineapple", "which word was it?")
    answered = lambda: [a for a in agents_json(orchestra) if a["last_message"] == "The word was pineapple."]  # noqa: E731
    try:
        (after,) = wait_for(answered, timeout=TIMEOUT, what="the answer to the new prompt")
    except AssertionError as error:
        raise AssertionError(f"{error}; the screen:\n{shown()}") from None
    assert after["status"] == "done"
    last = gemini.api.main_requests[-1]
    assert len(gemini.api.main_requests) > requests
    said = [text.strip() for text in last.said().splitlines()]
    # The same conversation went on: the first prompt, the model's reply and the new prompt, in order.
    assert (
        said.index("remember the word pineapple") < said.index("I will remember it.") < said.index("which word was it?")
    ), said


def test_usage_is_read_from_geminis_session_file_each_message_once(orchestra, gemini):
    # Gemini counts cached input inside the prompt, and thoughts apart from the answer.
    gemini.api.usage = {
        "promptTokenCount": 1200,
        "cachedContentTokenCount": 1000,
        "candidatesTokenCount": 40,
        "thoughtsTokenCount": 7,
        "totalTokenCount": 1247,
    }
    gemini.api.script(WRITE_HELLO)
    orchestra("spawn", "--agent", "gemini", "--no-attach", "write hello.txt")
    (agent,) = wait_statuses(orchestra, {"write-hello-txt": "done"}, timeout=TIMEOUT)
    answered = len(gemini.api.main_requests)  # the tool call, then the text
    assert answered == 2
    assert agent["usage"] == {
        "input_tokens": 200 * answered,
        "output_tokens": 47 * answered,
        "cache_read_tokens": 1000 * answered,
        "cache_write_tokens": 0,
    }


def test_a_usage_limit_dialog_is_limited_until_its_reset_then_kept_trying(orchestra, repo, gemini, isolated):
    """Gemini CLI asks "Keep trying / Stop" with the reset time; orchestra shows the agent limited
    until then, and at the reset answers "Keep trying" for the person."""
    import datetime

    from gemini_api import Error
    from orchestra.state import State

    quota = "You exceeded your current quota: limit: 50. Please retry in 3000s."
    gemini.api.script([Error(429, "RESOURCE_EXHAUSTED", quota), Text("Went on.")])
    orchestra("spawn", "--agent", "gemini", "--no-attach", "limit me")
    (agent,) = wait_statuses(orchestra, {"limit-me": "limited"}, timeout=TIMEOUT)
    assert agent["error"].startswith("Usage limit reached for")
    wait_for(lambda: "Access resets at" in screen(isolated, agent["pane"]), what="the reset time on screen")
    shown = screen(isolated, agent["pane"]).split("Access resets at ", 1)[1].split(".")[0]  # "11:03 AM UTC"
    until = datetime.datetime.fromisoformat(agent["limited_until"])
    assert until.strftime("%I:%M %p").lstrip("0") == shown.split(" UTC")[0].lstrip("0"), "its own reset time"

    # The reset comes (here: the record says it passed a while ago, as after a machine's sleep).
    gemini.api.recover()
    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)).isoformat()
    with State(repo / ".git" / "orchestra").update_raw() as records:
        records["limit-me"]["limited_until"] = past
    orchestra("ls")
    (agent,) = wait_statuses(orchestra, {"limit-me": "done"}, timeout=TIMEOUT)
    assert agent["last_message"] == "Went on."
    assert "Usage limit reached" not in screen(isolated, agent["pane"])
