"""Token usage per agent (`orchestra.usage`), in-process, from transcripts written here in Claude
Code's own line format; the real Claude Code writes them in test_claude_usage.py."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest

from orchestra import plugins
from orchestra.context import Context
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent
from orchestra.usage import FILENAME, cost_of, usage_of

MODEL = "claude-sonnet-4-5-20250929"


def answer(message_id: str, block: dict, usage: dict, model: str = MODEL, request: str = "req_1") -> str:
    """One transcript line of an assistant answer, as Claude Code writes one per content block."""
    message = {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": [block]}
    message["usage"] = usage
    return json.dumps({"type": "assistant", "requestId": request, "message": message, "uuid": block.get("id", "u")})


def billed(inp: int, out: int, read: int, write: int) -> dict:
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
        "service_tier": "standard",
    }


TEXT = {"type": "text", "text": "I will write it."}
TOOL = {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {"file_path": "a", "content": "b"}}
FIRST = billed(1000, 200, 30000, 4000)
SECOND = billed(7, 50, 34000, 300)
EXACT = {"input_tokens": 1007, "output_tokens": 250, "cache_read_tokens": 64000, "cache_write_tokens": 4300}


def write_transcript(path: Path) -> Path:
    """A conversation of two API messages, the first of two content blocks (two lines, one usage)."""
    lines = [
        json.dumps({"type": "user", "message": {"role": "user", "content": "write a"}}),
        answer("msg_1", TEXT, FIRST),
        answer("msg_1", TOOL, FIRST),
        json.dumps({"type": "user", "message": {"role": "user", "content": [{"type": "tool_result"}]}}),
        answer("msg_2", {"type": "text", "text": "Done."}, SECOND, request="req_2"),
        # Claude Code's own line for an API error: no tokens, no model worth a price.
        answer("msg_3", {"type": "text", "text": "API Error"}, billed(0, 0, 0, 0), model="<synthetic>"),
        '{"type": "assistant", "message": {"usage": ',  # a torn last line
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def claude_agent(name: str, transcript: Path | None, worktree: Path) -> Agent:
    return Agent(
        name=name,
        task=name,
        agent="claude",
        branch=f"orchestra/{name}",
        base="0" * 40,
        worktree=str(worktree),
        session_id=f"{name}-session",
        transcript=str(transcript) if transcript else None,
    )


class Counter:
    """A plugin that answers nothing and counts how often orchestra asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    @hookimpl
    def agent_usage(self, agent):
        self.asked.append(agent.name)


def counted(ctx: Context) -> Counter:
    counter = Counter()
    ctx._plugins = plugins.load(extra={"counter": counter})
    return counter


def test_each_api_message_counts_once_though_its_blocks_repeat_its_usage(project, tmp_path):
    transcript = write_transcript(tmp_path / "t" / "s.jsonl")
    naive = sum(
        json.loads(line)["message"]["usage"]["input_tokens"]
        for line in transcript.read_text().splitlines()[:-1]
        if '"usage"' in line
    )
    assert naive == 2007  # what a plain sum of the lines would say
    found = usage_of(project, [claude_agent("a", transcript, tmp_path)])["a"]
    assert found.usage == EXACT and found.cost is None
    assert set(found.models) == {MODEL}


def test_sub_agents_transcripts_count_too(project, tmp_path):
    transcript = write_transcript(tmp_path / "t" / "s.jsonl")
    side = tmp_path / "t" / "s" / "subagents" / "agent-1.jsonl"
    side.parent.mkdir(parents=True)
    side.write_text(answer("msg_9", TEXT, billed(5, 6, 7, 8), model="claude-haiku-4-5") + "\n")
    found = usage_of(project, [claude_agent("a", transcript, tmp_path)])["a"]
    assert found.usage == {
        "input_tokens": 1012,
        "output_tokens": 256,
        "cache_read_tokens": 64007,
        "cache_write_tokens": 4308,
    }
    assert set(found.models) == {MODEL, "claude-haiku-4-5"}


def test_the_cache_asks_again_only_when_the_transcript_changed(project, tmp_path):
    transcript = write_transcript(tmp_path / "t" / "s.jsonl")
    agent = claude_agent("a", transcript, tmp_path)
    counter = counted(project)
    assert usage_of(project, [agent])["a"].usage == EXACT
    assert usage_of(project, [agent])["a"].usage == EXACT
    assert counter.asked == ["a"]
    assert (project.state.dir / FILENAME).is_file()

    # A new command reads the cache without loading any plugin.
    fresh = Context.open()
    assert usage_of(fresh, [agent])["a"].usage == EXACT and fresh._plugins is None

    with transcript.open("a") as handle:  # the conversation went on: one more message, two blocks
        handle.write(answer("msg_4", TEXT, billed(1, 2, 3, 4), request="req_4") + "\n")
        handle.write(answer("msg_4", TOOL, billed(1, 2, 3, 4), request="req_4") + "\n")
    again = usage_of(project, [agent])["a"].usage
    assert again == {"input_tokens": 1008, "output_tokens": 252, "cache_read_tokens": 64003, "cache_write_tokens": 4304}
    assert counter.asked == ["a", "a"]


def test_a_kind_that_keeps_no_records_has_null_usage_kept_without_asking_again(project, tmp_path):
    demo = Agent(name="d", task="d", agent="demo", branch="orchestra/d", base="0" * 40, worktree=str(tmp_path))
    counter = counted(project)
    assert usage_of(project, [demo])["d"].usage is None
    assert usage_of(project, [demo])["d"].cost is None
    assert counter.asked == ["d"]


def test_a_claude_agent_before_its_first_answer_has_zero_usage(project, tmp_path):
    found = usage_of(project, [claude_agent("new", None, tmp_path)])["new"]
    assert found.usage == dict.fromkeys(EXACT, 0) and found.cost is None


def test_prices_give_a_cost_for_the_model_by_its_name_or_a_prefix():
    models = {MODEL: dict(EXACT)}
    sonnet = {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75}
    expected = (1007 * 3.0 + 250 * 15.0 + 64000 * 0.3 + 4300 * 3.75) / 1e6
    assert cost_of(models, {MODEL: sonnet}) == pytest.approx(expected)
    assert cost_of(models, {"claude-sonnet-4-5": sonnet, "claude": dict.fromkeys(sonnet, 0)}) == pytest.approx(expected)
    assert cost_of(models, {"claude-opus": sonnet}) is None  # a model without a price: no partial sum
    assert cost_of(models, {}) is None
    # A model that used no tokens needs no price.
    assert cost_of({**models, "idle": dict.fromkeys(EXACT, 0)}, {MODEL: sonnet}) == pytest.approx(expected)


def test_prices_in_orchestra_toml_reach_ls_and_report(project, repo, tmp_path):
    (repo / "orchestra.toml").write_text(
        f'[usage.prices."{MODEL}"]\ninput = 3.0\noutput = 15.0\ncache_read = 0.3\ncache_write = 3.75\n'
    )
    ctx = Context.open()
    transcript = write_transcript(tmp_path / "t" / "s.jsonl")
    found = usage_of(ctx, [claude_agent("a", transcript, tmp_path)])["a"]
    assert found.cost == pytest.approx(0.042096)


def test_twenty_agents_from_the_cache_take_a_few_milliseconds(project, tmp_path):
    agents = [claude_agent(f"a{n}", write_transcript(tmp_path / "t" / f"s{n}.jsonl"), tmp_path) for n in range(20)]
    usage_of(project, agents)  # fills the cache
    timings = []
    for _ in range(15):
        ctx = Context.open()
        started = time.perf_counter()
        found = usage_of(ctx, agents)
        timings.append(time.perf_counter() - started)
        assert ctx._plugins is None and found["a19"].usage == EXACT
    # Measured at about 1 ms on a shared 2-core machine; the bound leaves room for a busy one.
    assert statistics.median(timings) < 0.02, timings


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('[usage]\nprices = "cheap"\n', "'usage.prices' must be a table of models, not a string"),
        ("[usage.prices]\nsonnet = 3\n", "'usage.prices.sonnet' must be a table of input, output"),
        ('[usage.prices.sonnet]\ninput = "3"\n', "'usage.prices.sonnet.input' must be a number, 0 or more"),
        ("[usage.prices.sonnet]\ninput = -1\n", "'usage.prices.sonnet.input' must be a number, 0 or more"),
        ("[usage.prices.sonnet]\ninptu = 3\n", "did you mean 'input'?"),
        ("[usage.prices.sonnet]\ninput = 3\noutput = 15\n", "add cache_read, cache_write"),
        ("[usage]\nprice = {}\n", "did you mean 'prices'?"),
    ],
)
def test_bad_prices_are_one_sentence(orchestra, repo, toml, words):
    (repo / "orchestra.toml").write_text(toml)
    result = orchestra("ls", "--json", check=False)
    assert result.returncode != 0 and result.stdout == ""
    assert words in result.stderr and "orchestra.toml, line" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_transcript_that_grew_is_read_on_from_where_the_last_read_stopped(project, tmp_path):
    transcript = write_transcript(tmp_path / "t" / "s.jsonl")
    agent = claude_agent("a", transcript, tmp_path)
    assert usage_of(project, [agent])["a"].usage == EXACT
    # One more block of the last message (its usage again, across the old end), and a line
    # Claude Code is still writing.
    tail = answer("msg_5", TEXT, billed(1, 1, 1, 1), request="req_5") + "\n"
    with transcript.open("a") as handle:
        handle.write(answer("msg_2", TOOL, SECOND, request="req_2") + "\n")
        handle.write(tail[:40])
    assert usage_of(project, [agent])["a"].usage == EXACT
    with transcript.open("a") as handle:
        handle.write(tail[40:])
    grown = {count: value + 1 for count, value in EXACT.items()}
    assert usage_of(project, [agent])["a"].usage == grown

    # Only the new end is read: numbers changed in place before it (same size) go unseen ...
    text = transcript.read_text()
    transcript.write_text(text.replace('"input_tokens": 1000', '"input_tokens": 9000'))
    with transcript.open("a") as handle:
        handle.write(json.dumps({"type": "user", "message": {"role": "user", "content": "more"}}) + "\n")
    assert usage_of(project, [agent])["a"].usage == grown
    # ... and a transcript that was replaced is read again from its start.
    replaced = transcript.with_name("new.jsonl")
    replaced.write_text(transcript.read_text())
    replaced.replace(transcript)
    assert usage_of(project, [agent])["a"].usage == dict(grown, input_tokens=grown["input_tokens"] + 8000)


def test_codex_counts_each_response_once_and_cached_input_apart(tmp_path):
    from orchestra_codex.usage import find_rollout
    from orchestra_codex.usage import usage_by_model as codex_usage

    thread = "01a23a84-314c-7550-acdc-e5f34970ea64"
    rollout = tmp_path / "sessions" / "2026" / "12" / "03" / f"rollout-2026-12-03T06-07-51-{thread}.jsonl"
    rollout.parent.mkdir(parents=True)
    usage = {"input_tokens": 1200, "cached_input_tokens": 1000, "cache_write_input_tokens": 3, "output_tokens": 40}

    def record(response: str) -> str:
        return json.dumps({"type": "token_usage_record", "payload": {"response_id": response, "usage": usage}})

    turn = json.dumps({"type": "turn_context", "payload": {"model": "gpt-5.1-codex"}})
    rollout.write_text("\n".join([turn, record("resp_1"), record("resp_1"), record("resp_2"), "{torn"]) + "\n")
    assert find_rollout(tmp_path, thread) == rollout
    assert codex_usage(rollout) == {
        "gpt-5.1-codex": {"input_tokens": 400, "output_tokens": 80, "cache_read_tokens": 2000, "cache_write_tokens": 6}
    }


def test_gemini_counts_each_message_once_across_rewrites_and_resumed_files(tmp_path):
    from orchestra_gemini.usage import session_files
    from orchestra_gemini.usage import usage_by_model as gemini_usage

    session = "5e5886cf-87ba-426e-ab65-dc91e9cb686a"
    tokens = {"input": 1200, "output": 40, "cached": 1000, "thoughts": 7, "tool": 2, "total": 1249}
    message = {"id": "m1", "type": "gemini", "model": "gemini-3-pro", "tokens": tokens}
    first = tmp_path / "chats" / f"session-2026-12-03T06-08-{session[:8]}.jsonl"
    first.parent.mkdir()
    head = json.dumps({"sessionId": session, "kind": "main"})
    restated = json.dumps({"$set": {"messages": [message]}})
    first.write_text("\n".join([head, json.dumps(message), json.dumps(message), restated]) + "\n")
    later = first.with_name(f"session-2026-12-03T07-00-{session[:8]}.jsonl")  # a resumed session's own file
    later.write_text("\n".join([head, restated, json.dumps(dict(message, id="m2"))]) + "\n")
    other = first.with_name(f"session-2026-12-03T07-01-{session[:8]}.jsonl")  # same 8 characters, another session
    other.write_text(
        json.dumps({"sessionId": session[:8] + "-other"}) + "\n" + json.dumps(dict(message, id="x")) + "\n"
    )
    files = session_files(first, session)
    assert files == [first, later]
    once = {"input_tokens": 202, "output_tokens": 47, "cache_read_tokens": 1000, "cache_write_tokens": 0}
    assert gemini_usage(files) == {"gemini-3-pro": {k: 2 * v for k, v in once.items()}}
