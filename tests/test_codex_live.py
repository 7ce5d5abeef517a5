"""`codex` agents through orchestra, against the real Codex CLI (tests/agent_clis.py) and our stand-in
for the Responses API (tests/openai_api.py).

Codex is pointed at the stand-in the way a user points it at any model provider: command-line config
overrides in orchestra.toml's `[agents.codex] args`, with the key in the environment. The folder-trust
dialog is answered the same way, by configuration (the main checkout trusted, which its worktrees
inherit), never by typing into it. Every check goes through the real command line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from openai_api import KEY_VARIABLE, Error, OpenAIAPI, Text, codex_overrides, shell
from orchestra import plugins
from orchestra_codex.notify import is_title_turn
from support import agents_json, git, screen, tmux, wait_for, wait_statuses

pytestmark = pytest.mark.slow

# The kind's own default args: a user who sets `args` keeps them by naming them again.
DEFAULT_ARGS = plugins.load().kinds["codex"].default_args


@pytest.fixture
def openai_api():
    with OpenAIAPI() as api:
        yield api


@pytest.fixture
def codex(repo, agent_clis, openai_api, monkeypatch):
    """The `codex` kind in `repo`'s orchestra.toml (committed): the pinned CLI, talking to the stand-in,
    with the main checkout trusted."""
    for name in list(os.environ):
        if name.startswith(("CODEX_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv(KEY_VARIABLE, "stand-in-key")
    trusted = f'projects={{{json.dumps(str(repo.resolve()))} = {{ trust_level = "trusted" }}}}'
    args = [*DEFAULT_ARGS, "-c", trusted, *codex_overrides(openai_api.url)]
    (repo / "orchestra.toml").write_text(
        f"[agents.codex]\ncommand = {json.dumps(agent_clis['codex'])}\nargs = {json.dumps(args)}\n"
    )
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "configure the codex agent")
    return openai_api


def stops(orchestra, name: str) -> list[dict]:
    lines = orchestra("events", "--json", "--agent", name).stdout.splitlines()
    turns = [
        e["data"] for e in map(json.loads, lines) if e["type"] == "hook" and e["data"]["hook"] == "agent-turn-complete"
    ]
    return [turn for turn in turns if not is_title_turn(turn)]  # Codex's own side turn is logged, and changes nothing


def test_a_turn_that_writes_a_file_is_done_with_codexs_last_message(orchestra, codex, repo):
    codex.script([shell("printf 'hi\\n' > hello.txt"), Text("I wrote hello.txt.")])
    (spawned,) = json.loads(orchestra("spawn", "--agent", "codex", "--no-attach", "--json", "write hello.txt").stdout)
    assert spawned["agent"] == "codex" and spawned["session_id"] is None  # Codex names its thread itself

    (agent,) = wait_statuses(orchestra, {"write-hello-txt": "done"}, timeout=30)
    assert agent["last_message"] == "I wrote hello.txt." and agent["last_hook"] == "agent-turn-complete"
    worktree = Path(agent["worktree"])
    assert (worktree / "hello.txt").read_text() == "hi\n" and not (repo / "hello.txt").exists()
    # The command ran in the agent's worktree, and its result went back to the model.
    first, second = codex.main_requests[:2]
    assert first.user_texts == ["write hello.txt"]
    assert "Process exited with code 0" in "".join(second.function_outputs.values())
    # The record keeps the conversation's thread id; Codex's title thread never counted as the agent's turn.
    assert {r.thread_id for r in codex.main_requests} == {agent["session_id"]}
    assert all(r.thread_id != agent["session_id"] for r in codex.side_requests)
    assert [s["last-assistant-message"] for s in stops(orchestra, "write-hello-txt")] == ["I wrote hello.txt."]


def test_a_command_that_needs_approval_is_waiting_until_send_answers_it(orchestra, codex, isolated, repo):
    # Codex 0.169 makes no title for a session given an MCP server on its command line (its title
    # thread refuses the server's "invalid transport"): this agent goes without orchestra's, so that
    # the title turn below comes.
    with (repo / "orchestra.toml").open("a") as toml:
        toml.write("mcp = false\n")
    git(repo, "commit", "-qam", "no MCP server")
    codex.script([shell("printf 1 > x.txt", justification="write x.txt"), Text("Ran it.")])
    orchestra("spawn", "--agent", "codex", "--no-attach", "run the script")
    (agent,) = wait_statuses(orchestra, {"run-the-script": "waiting"}, timeout=30)
    assert agent["waiting_for"] == "Would you like to run the following command?"
    assert "$ printf 1 > x.txt" in screen(isolated, agent["pane"])
    assert not (Path(agent["worktree"]) / "x.txt").exists()
    # Codex's title turn ends while the agent waits: it must not make the agent look done.
    wait_for(lambda: len(codex.side_requests) >= 1, what="Codex's title request")
    assert agents_json(orchestra)[0]["status"] == "waiting"

    assert "now running" in orchestra("send", "run-the-script", "").stdout  # Enter: "1. Yes, proceed" is highlighted
    (agent,) = wait_statuses(orchestra, {"run-the-script": "done"}, timeout=30)
    assert (Path(agent["worktree"]) / "x.txt").read_text() == "1"
    assert agent["last_message"] == "Ran it." and agent["waiting_for"] is None
    assert [s["last-assistant-message"] for s in stops(orchestra, "run-the-script")] == ["Ran it."]


def test_a_killed_tmux_server_is_resumed_in_the_same_conversation(orchestra, codex, isolated):
    codex.script([Text("I will remember it.")])
    orchestra("spawn", "--agent", "codex", "--no-attach", "remember the word pineapple")
    (before,) = wait_statuses(orchestra, {"remember-the-word-pineapple": "done"}, timeout=30)
    thread = before["session_id"]
    assert thread and {r.thread_id for r in codex.main_requests} == {thread}
    tmux(isolated, "kill-server")
    wait_statuses(orchestra, {"remember-the-word-pineapple": "lost"})

    assert f"continuing session {thread}" in orchestra("resume").stdout
    # Idle at its prompt: Codex says nothing when it reopens, but a resumed conversation has no new prompt.
    (after,) = wait_statuses(orchestra, {"remember-the-word-pineapple": "done"})
    assert after["argv"][1] == "resume" and after["argv"][-2:] == ["--", thread]
    # Its history comes back on screen, and its prompt is ready for the next one.
    shown = lambda: screen(isolated, after["pane"])  # noqa: E731
    wait_for(
        lambda: "I will remember it." in shown() and "for shortcuts" in shown(),
        timeout=20,
        what="the conversation on screen",
    )

    requests = len(codex.main_requests)
    codex.script([Text("The word was pineapple.")])
    assert "now running" in orchestra("send", "remember-the-word-pineapple", "which word?").stdout
    answered = lambda: [a for a in agents_json(orchestra) if a["last_message"] == "The word was pineapple."]  # noqa: E731
    (after,) = wait_for(answered, timeout=30, what="the answer to the new prompt")
    assert after["status"] == "done" and after["session_id"] == thread
    resumed = codex.main_requests[requests:]
    assert resumed and {r.thread_id for r in resumed} == {thread}  # the same conversation went on
    assert resumed[-1].user_texts == ["remember the word pineapple", "which word?"]
    said = [i for i in resumed[-1].items if i.get("type") == "message" and i.get("role") == "assistant"]
    assert "I will remember it." in json.dumps(said)


def test_after_an_api_error_the_agent_can_go_on(orchestra, codex, isolated):
    codex.script([Error(400, "invalid_request_error", "scripted failure")])
    orchestra("spawn", "--agent", "codex", "--no-attach", "this will fail")
    (agent,) = wait_statuses(orchestra, {"this-will-fail": "running"}, timeout=30)
    # Codex shows the error and ends the turn without a notification (known gap: the status stays `running`).
    wait_for(lambda: "scripted failure" in screen(isolated, agent["pane"]), what="the error on screen")
    assert len(codex.main_requests) == 1  # a 400 is not sent again

    codex.script([Text("Recovered.")])
    orchestra("send", "this-will-fail", "try again")
    answered = lambda: [a for a in agents_json(orchestra) if a["last_message"] == "Recovered."]  # noqa: E731
    (agent,) = wait_for(answered, timeout=30, what="the answer after the error")
    assert agent["status"] == "done" and codex.main_requests[-1].user_texts == ["this will fail", "try again"]


def test_an_untrusted_folder_shows_as_waiting_and_is_never_answered(orchestra, codex, repo, isolated):
    args = [*DEFAULT_ARGS, *codex_overrides(codex.url)]  # the main checkout not trusted
    config = (repo / "orchestra.toml").read_text().splitlines()
    (repo / "orchestra.toml").write_text("\n".join([*config[:2], f"args = {json.dumps(args)}", ""]))
    orchestra("spawn", "--agent", "codex", "--no-attach", "trust me")
    (agent,) = wait_statuses(orchestra, {"trust-me": "waiting"}, timeout=30)
    assert agent["waiting_for"].startswith("Trust this folder?")
    assert agent["last_hook"] is None and codex.main_requests == []
    assert "1. Trust and continue" in screen(isolated, agent["pane"])  # still asking: orchestra never answers


def test_usage_is_read_from_codexs_rollout_each_response_once(orchestra, codex):
    # 1,200 input tokens of which 1,000 were cached: orchestra counts 200 as input, 1,000 as cache read.
    codex.usage = {
        "input_tokens": 1200,
        "input_tokens_details": {"cached_tokens": 1000},
        "output_tokens": 40,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 1240,
    }
    codex.script([shell("printf 'hi\\n' > hello.txt"), Text("I wrote hello.txt.")])
    orchestra("spawn", "--agent", "codex", "--no-attach", "write hello.txt")
    (agent,) = wait_statuses(orchestra, {"write-hello-txt": "done"}, timeout=30)
    answered = len(codex.main_requests)  # the command, then the text
    assert answered == 2
    assert agent["usage"] == {
        "input_tokens": 200 * answered,
        "output_tokens": 40 * answered,
        "cache_read_tokens": 1000 * answered,
        "cache_write_tokens": 0,
    }


def test_a_rate_limit_on_screen_is_limited_and_goes_on_once(orchestra, codex, repo, isolated):
    """Codex's notify says nothing of a 429: its screen does. The same line never limits it twice."""
    from openai_api import PROVIDER
    from orchestra import limits

    config = (repo / "orchestra.toml").read_text()
    no_retries = ["-c", f"model_providers.{PROVIDER}.request_max_retries=0"]
    no_retries += ["-c", f"model_providers.{PROVIDER}.stream_max_retries=0"]
    args = json.loads(config.split("args = ", 1)[1].splitlines()[0]) + no_retries
    lines = [line if not line.startswith("args = ") else f"args = {json.dumps(args)}" for line in config.splitlines()]
    (repo / "orchestra.toml").write_text("\n".join([*lines, "[schedule]", 'limit_backoff = "5s"', ""]))
    codex.script([Error(429, "rate_limit_exceeded", "Rate limit reached"), Text("Went on.")])
    orchestra("spawn", "--agent", "codex", "--no-attach", "limit me")
    (agent,) = wait_statuses(orchestra, {"limit-me": "limited"}, timeout=60)
    assert "429 Too Many Requests" in agent["error"] and agent["limited_until"]
    (agent,) = wait_statuses(orchestra, {"limit-me": "done"}, timeout=60)
    assert agent["last_message"] == "Went on." and agent["limited_until"] is None
    assert codex.main_requests[-1].user_texts == ["limit me", limits.CONTINUE]
    for _ in range(3):  # the limit's line is still on the screen
        assert orchestra("ls", "--json").stdout and agents_json(orchestra)[0]["status"] == "done"
    statuses = [
        json.loads(line)["status"]
        for line in orchestra("events", "--json", "--agent", "limit-me").stdout.splitlines()
        if json.loads(line)["type"] == "status"
    ]
    assert statuses == ["starting", "running", "limited", "running", "done"]
