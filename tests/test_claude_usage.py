"""Token usage of `claude` agents, read from the real Claude Code's transcripts of conversations
with the stand-in API billing known numbers."""

from __future__ import annotations

import json
from pathlib import Path

from claude_api import BILLED_WRITE, BILLED_WRITE_USAGE
from support import agents_json, screen, tmux, wait_for, wait_statuses

TWO_BLOCKS, FINAL = BILLED_WRITE
EXACT = BILLED_WRITE_USAGE
# The same numbers by message, as orchestra names them, and the stand-in's own for an unscripted "Done.".
OF_TWO_BLOCKS = {"input_tokens": 1000, "output_tokens": 200, "cache_read_tokens": 30000, "cache_write_tokens": 4000}
OF_FINAL = {"input_tokens": 7, "output_tokens": 50, "cache_read_tokens": 34000, "cache_write_tokens": 300}
OF_DONE = {"input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 0, "cache_write_tokens": 0}


def answers(transcript: Path) -> list[dict]:
    records = [json.loads(line) for line in transcript.read_text().splitlines() if line.strip()]
    return [r["message"] for r in records if r.get("type") == "assistant"]


def test_each_api_message_is_counted_once_and_prices_give_a_cost(orchestra, claude_home, claude_api):
    claude_api.script([TWO_BLOCKS, FINAL])
    orchestra("spawn", "--no-attach", "write hello.txt")
    wait_statuses(orchestra, {"write-hello-txt": "done"}, timeout=40)
    # Claude Code may write its transcript a moment after the Stop hook.
    (agent,) = wait_for(
        lambda: [a for a in agents_json(orchestra) if len(answers(Path(a["transcript"]))) == 3],
        timeout=20,
        what="the three transcript lines of the two answers",
    )
    # The transcript repeats the first message's usage on each of its two blocks ...
    said = answers(Path(agent["transcript"]))
    assert [len(m["content"]) for m in said] == [1, 1, 1] and said[0]["id"] == said[1]["id"]
    assert said[0]["usage"]["input_tokens"] == said[1]["usage"]["input_tokens"] == 1000
    # ... and each message counts once (a plain sum of the lines would say 2,007 input tokens).
    assert agent["usage"] == EXACT and agent["cost"] is None
    (report,) = json.loads(orchestra("report", "--json").stdout)
    assert report["usage"] == EXACT and report["cost"] is None

    model = said[0]["model"]
    prices = "input = 3.0\noutput = 15.0\ncache_read = 0.3\ncache_write = 3.75\n"
    with (claude_home.repo / "orchestra.toml").open("a") as config:
        config.write(f"\n[usage.prices.{json.dumps(model)}]\n{prices}")
    (agent,) = agents_json(orchestra)
    expected = (1007 * 3.0 + 250 * 15.0 + 64000 * 0.3 + 4300 * 3.75) / 1e6
    assert agent["usage"] == EXACT and abs(agent["cost"] - expected) < 1e-9
    text = orchestra("report").stdout
    assert "tokens: 1,007 in, 250 out, 64,000 cache read, 4,300 cache write, cost ~0.0421" in text
    assert "all agents, tokens: 1,007 in" in text


def test_a_resumed_conversation_adds_its_usage(orchestra, claude_home, claude_api, isolated):
    claude_api.script([FINAL])
    orchestra("spawn", "--no-attach", "say hello")
    wait_statuses(orchestra, {"say-hello": "done"}, timeout=40)
    (before,) = wait_for(
        lambda: [a for a in agents_json(orchestra) if a["usage"] == OF_FINAL], timeout=20, what="the first usage"
    )
    tmux(isolated, "kill-server")
    wait_statuses(orchestra, {"say-hello": "lost"}, timeout=40)
    orchestra("resume")
    (resumed,) = wait_statuses(orchestra, {"say-hello": "done"}, timeout=40)
    # Typed only once Claude Code shows the conversation again (SessionStart can fire before it draws).
    wait_for(lambda: "say hello" in screen(isolated, resumed["pane"]), timeout=30, what="the conversation on screen")

    claude_api.script([TWO_BLOCKS])  # the tool call, then the stand-in's "Done." at its default usage
    orchestra("send", "say-hello", "now write hello.txt")
    total = {k: OF_FINAL[k] + OF_TWO_BLOCKS[k] + OF_DONE[k] for k in OF_FINAL}
    seen: list = []

    def reached():
        agents = agents_json(orchestra)
        seen[:] = [(a["status"], a["usage"]) for a in agents]
        return [a for a in agents if a["usage"] == total]

    try:
        (after,) = wait_for(reached, timeout=60, what=f"the usage of both sessions, {total}")
    except AssertionError as error:
        written = [(m["id"], m["usage"]["input_tokens"]) for m in answers(Path(before["transcript"]))]
        raise AssertionError(f"{error}; ls showed {seen}; the transcript's answers: {written}") from None
    assert after["session_id"] == before["session_id"]
    # Once the turn has ended (the transcript may be written before the Stop hook), still each message once.
    (done,) = wait_statuses(orchestra, {"say-hello": "done"}, timeout=40)
    assert done["usage"] == total
