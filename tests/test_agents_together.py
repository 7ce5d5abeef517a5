"""A lead and its workers, all real Claude Code against the stand-in API, talking to orchestra
through the MCP server each of them gets (`orchestra mcp --agent NAME` in `--mcp-config`).

The lead's scripted model calls `mcp__orchestra__spawn` with two tasks, is refused a third worker
past `[mcp] max_children`, waits for the two, reads what one of them posted, and sums up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from claude_api import Text, ToolUse, first_prompt
from support import agents_json, git, wait_statuses
from test_codex_live import codex, openai_api  # noqa: F401  (the fixtures)
from test_gemini_live import gemini  # noqa: F401  (the fixture)

LEAD = "greet in two files"
FIRST, SECOND = "first worker: write one.txt", "second worker: write two.txt"
ONE, TWO = "first-worker-write-one-txt", "second-worker-write-two-txt"
SUMMARY = f"Summary: {ONE} wrote one.txt, {TWO} wrote two.txt."


def result_of(api, tool_use: ToolUse) -> dict:
    """The tool_result Claude Code sent back for `tool_use`, with its text joined."""
    for request in api.main_requests:
        for block in request.tool_results:
            if block.get("tool_use_id") == tool_use.id:
                content = block.get("content")
                parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
                text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
                return {"text": text, "is_error": bool(block.get("is_error"))}
    raise AssertionError(f"no result for the {tool_use.name} call was sent to the model")


def test_a_lead_spawns_two_workers_waits_for_them_and_reads_their_post(orchestra, claude_home, claude_api, repo):
    (repo / "orchestra.toml").write_text(
        f"[agents.claude]\ncommand = [{json.dumps(str(claude_home.bin))}]\n\n[mcp]\nmax_children = 2\n"
    )
    git(repo, "commit", "-qam", "two workers at most")
    spawn = ToolUse("mcp__orchestra__spawn", {"tasks": [FIRST, SECOND]})
    too_many = ToolUse("mcp__orchestra__spawn", {"tasks": ["third worker: one too many"]})
    wait = ToolUse("mcp__orchestra__wait", {"names": [ONE, TWO], "timeout_s": 120})
    read = ToolUse("mcp__orchestra__read", {})
    claude_api.script([spawn, too_many, wait, read, Text(SUMMARY)], prompt=LEAD)
    post = ToolUse("mcp__orchestra__post", {"text": "one.txt holds ONE"})
    claude_api.script(
        [ToolUse("Write", {"file_path": "one.txt", "content": "ONE\n"}), post, Text("One done.")], prompt=FIRST
    )
    claude_api.script(
        [ToolUse("Write", {"file_path": "two.txt", "content": "TWO\n"}), Text("Two done.")], prompt=SECOND
    )

    (lead,) = json.loads(orchestra("spawn", "--lead", "--no-attach", "--json", LEAD).stdout)
    assert lead["name"] == "greet-in-two-files" and lead["parent"] is None
    settled = wait_statuses(orchestra, {"greet-in-two-files": "done", ONE: "done", TWO: "done"}, timeout=90)
    agents = {a["name"]: a for a in settled}

    # The workers: started by the lead's tool call, each in its own worktree.
    assert agents[ONE]["parent"] == agents[TWO]["parent"] == "greet-in-two-files"
    one, two = Path(agents[ONE]["worktree"]), Path(agents[TWO]["worktree"])
    assert (one / "one.txt").read_text() == "ONE\n" and not (one / "two.txt").exists()
    assert (two / "two.txt").read_text() == "TWO\n" and not (two / "one.txt").exists()
    assert not (Path(lead["worktree"]) / "one.txt").exists()

    # What the lead's model was told by each call.
    spawned = result_of(claude_api, spawn)
    assert not spawned["is_error"] and ONE in spawned["text"] and TWO in spawned["text"]
    refused = result_of(claude_api, too_many)
    assert refused["is_error"] and "max_children" in refused["text"]
    waited = result_of(claude_api, wait)
    assert not waited["is_error"] and json.loads(waited["text"])["timed_out"] is False
    assert {a["name"]: a["status"] for a in json.loads(waited["text"])["agents"]} == {ONE: "done", TWO: "done"}
    board = result_of(claude_api, read)
    assert not board["is_error"] and "one.txt holds ONE" in board["text"] and ONE in board["text"]
    assert not result_of(claude_api, post)["is_error"]
    assert agents["greet-in-two-files"]["last_message"] == SUMMARY
    assert len(agents_json(orchestra)) == 3  # the refused third worker was never made
    # Each worker's Claude Code runs its own conversation: nothing of the lead's session leaked into it.
    for name, prompt in (("greet-in-two-files", LEAD), (ONE, FIRST), (TWO, SECOND)):
        sent = {
            r.headers.get("x-claude-code-session-id")
            for r in claude_api.main_requests
            if prompt in first_prompt(r.body)
        }
        assert sent == {agents[name]["session_id"]}, name

    # `report`: the lead's summary, its workers' results with it.
    reports = json.loads(orchestra("report", "--json").stdout)
    assert [r["name"] for r in reports] == ["greet-in-two-files", ONE, TWO]
    assert reports[0]["last_message"] == SUMMARY and reports[0]["lead"] is True
    assert [(r["parent"], r["lead"], r["last_message"]) for r in reports[1:]] == [
        ("greet-in-two-files", False, "One done."),
        ("greet-in-two-files", False, "Two done."),
    ]
    text = orchestra("report", env={**os.environ, "COLUMNS": "200"}).stdout
    assert f"lead: {LEAD}\n" in text and f"summary: {SUMMARY}" in text and "orchestra runs you" not in text
    assert text.index(SUMMARY) < text.index("One done.") and text.index(SUMMARY) < text.index("Two done.")


def test_a_codex_lead_spawns_workers_through_the_server_its_first_request_offers(orchestra, codex):  # noqa: F811
    """The real Codex CLI against the stand-in Responses API: orchestra's tools are in the lead's
    very first request (Codex waits for a required server), and its calls start and wait for workers."""
    from openai_api import Text as Said
    from openai_api import ToolCall

    tools = "mcp__orchestra"
    spawn = ToolCall("spawn", {"tasks": ["write a", "write b"], "agent": "demo"}, namespace=tools)
    wait = ToolCall("wait", {"names": ["write-a", "write-b"], "timeout_s": 60}, namespace=tools)
    codex.script([spawn, wait, Said("Summary: write-a and write-b are done.")])
    orchestra("spawn", "--agent", "codex", "--no-attach", "--name", "lead", "lead the work")
    settled = wait_statuses(orchestra, {"lead": "done", "write-a": "exited", "write-b": "exited"}, timeout=90)

    first = codex.main_requests[0]
    offered = {t.get("name"): t for t in first.body["tools"]}
    assert tools in offered, "orchestra's tools are in the lead's first request"
    assert {t["name"] for t in offered[tools]["tools"]} >= {"list", "spawn", "wait", "post", "read", "report"}
    spawned = json.loads(codex.main_requests[1].function_outputs[spawn.call_id].split("Output:\n", 1)[1])
    assert [a["name"] for a in spawned["result"]] == ["write-a", "write-b"]
    waited = codex.main_requests[2].function_outputs[wait.call_id]
    assert '"timed_out":false' in waited.replace(" ", "")
    parents = {a["name"]: a["parent"] for a in settled}
    assert parents == {"lead": None, "write-a": "lead", "write-b": "lead"}
    assert {a["name"]: a for a in settled}["lead"]["last_message"] == "Summary: write-a and write-b are done."


def test_a_gemini_lead_spawns_workers_with_the_tools_its_first_request_offers(orchestra, gemini):  # noqa: F811
    """The real Gemini CLI against the stand-in Gemini API, with orchestra's server in the worktree's
    own settings: its tools (but merge) are in the lead's first request, and its calls start and
    wait for workers."""
    from gemini_api import FunctionCall
    from gemini_api import Text as Said
    from test_gemini_live import TIMEOUT

    spawn = FunctionCall("mcp_orchestra_spawn", {"tasks": ["write a", "write b"], "agent": "demo"})
    wait = FunctionCall("mcp_orchestra_wait", {"names": ["write-a", "write-b"], "timeout_s": 60})
    gemini.api.script([spawn, wait, Said("Summary: write-a and write-b are done.")])
    orchestra("spawn", "--agent", "gemini", "--no-attach", "--name", "lead", "lead the work")
    wanted = {"lead": "done", "write-a": "exited", "write-b": "exited"}
    settled = {a["name"]: a for a in wait_statuses(orchestra, wanted, timeout=TIMEOUT)}

    first = gemini.api.main_requests[0]
    offered = {d["name"] for tool in first.body.get("tools", []) for d in tool.get("functionDeclarations", [])}
    ours = {f"mcp_orchestra_{name}" for name in ("list", "spawn", "send", "wait", "report", "diff", "post", "read")}
    assert ours <= offered and "mcp_orchestra_merge" not in offered
    answered = json.dumps(gemini.api.main_requests[-1].function_responses)
    assert "write-a" in answered and "timed_out" in answered
    assert {name: a["parent"] for name, a in settled.items()} == {"lead": None, "write-a": "lead", "write-b": "lead"}
    assert settled["lead"]["last_message"] == "Summary: write-a and write-b are done."
