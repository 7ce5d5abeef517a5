"""`orchestra sessions --hours`, `search`, `export` and `stats`, through the real command line.

One test reads transcripts that the real Claude Code (the pinned CLI) wrote against the stand-in
API. The others read tests/fixtures/claude/: transcripts copied from such a real run of Claude Code
2.1.328 (its huge attachment and api-request lines left out, paths, ids and times made
placeholders). `two-blocks.jsonl` was assembled from that run's own lines: one assistant message of
two content blocks (text, then a Grep call) written as two lines with the same message id and
the same usage, as Claude Code writes such a message.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from claude_api import Text, ToolUse
from orchestra.models import Agent
from orchestra.state import State
from orchestra_claude.sessions import folder_name
from support import git, wait_for, wait_statuses

FIXTURES = Path(__file__).parent / "fixtures" / "claude"
HELLO_ID = "5d1f0e2a-7b3c-4d4e-8f5a-6b7c8d9e0f10"
RETRY_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def place(name: str, claude_dir: Path, cwd: Path, session_id: str, branch: str, time: str, later: str = "") -> Path:
    """Write fixture `name` as Claude Code keeps it: ~/.claude/projects/<folder of cwd>/<id>.jsonl."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    for mark, value in (("@CWD@", str(cwd)), ("@SESSION@", session_id), ("@BRANCH@", branch)):
        text = text.replace(mark, value)
    text = text.replace("@TIME@", time).replace("@LATER@", later or time)
    path = claude_dir / "projects" / folder_name(str(cwd)) / f"{session_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def minutes_ago(minutes: float) -> str:
    """A time in the fixtures' form, without seconds: "2026-12-03T06:01"."""
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def claude_dir() -> Path:
    import os

    return Path(os.environ["HOME"]) / ".claude"


@pytest.fixture
def worktree(repo, tmp_path) -> Path:
    path = tmp_path / "project.worktrees" / "retry"
    git(repo, "worktree", "add", "-q", "-b", "orchestra/retry", str(path))
    with State(repo / ".git" / "orchestra").update() as agents:
        agents["retry"] = Agent(
            name="retry",
            task="find the retry limit",
            agent="claude",
            branch="orchestra/retry",
            base="HEAD",
            worktree=str(path),
            session_id=RETRY_ID,
        )
    return path


@pytest.fixture
def two_sessions(repo, worktree, claude_dir) -> None:
    """One session by hand in the main checkout, one of agent `retry` in its worktree, on fixed days."""
    place("write-hello.jsonl", claude_dir, repo, HELLO_ID, "main", "2026-11-30T08:00")
    place("two-blocks.jsonl", claude_dir, worktree, RETRY_ID, "orchestra/retry", "2026-12-01T10:00", "2026-12-02T11:00")


def test_the_real_claude_codes_session_is_searched_exported_and_counted(orchestra, claude_home, claude_api):
    claude_api.script([ToolUse("Write", {"file_path": "hello.txt", "content": "hi\n"}), Text("I wrote hello.txt.")])
    orchestra("spawn", "--no-attach", "write hello.txt")
    (agent,) = wait_statuses(orchestra, {"write-hello-txt": "done"})
    transcript = Path(agent["transcript"])
    wait_for(lambda: transcript.exists() and "I wrote hello.txt." in transcript.read_text(), what="the transcript")

    hits = json.loads(orchestra("sessions", "search", "HELLO.TXT", "--json").stdout)
    assert [(h["role"], h["text"], h["agent"]) for h in hits] == [
        ("prompt", "write hello.txt", "write-hello-txt"),
        ("reply", "I wrote hello.txt.", "write-hello-txt"),
    ]
    assert {h["session"] for h in hits} == {agent["session_id"]}

    exported = orchestra("sessions", "export", "write-hello-txt").stdout  # an agent's name finds its session
    assert exported.startswith(f"# Claude Code session {agent['session_id']}\n")
    assert "- agent: write-hello-txt\n" in exported and "- branch: orchestra/write-hello-txt\n" in exported
    assert "\n\nwrite hello.txt\n\n- `Write` `hello.txt`\n\n## Reply · " in exported
    assert exported.endswith("\n\nI wrote hello.txt.\n")

    # The stand-in bills every message 10 input and 5 output tokens: two messages in this turn.
    figures = json.loads(orchestra("sessions", "stats", "--json").stdout)
    expected = {"sessions": 1, "turns": 1, "input_tokens": 20, "output_tokens": 10}
    assert {k: figures["total"][k] for k in expected} == expected
    assert [a["agent"] for a in figures["agents"]] == ["write-hello-txt"]


def test_search_finds_prompts_and_replies_in_any_case_with_their_session_and_agent(
    orchestra, repo, worktree, two_sessions, claude_dir
):
    hits = json.loads(orchestra("sessions", "search", "retry limit", "--json").stdout)

    assert [(h["session"], h["agent"], h["role"]) for h in hits] == [
        (RETRY_ID, "retry", "prompt"),
        (RETRY_ID, "retry", "reply"),
        (RETRY_ID, "retry", "reply"),
    ]
    assert hits[0] == {
        "session": RETRY_ID,
        "agent": "retry",
        "branch": "orchestra/retry",
        "directory": str(worktree),
        "time": "2026-12-01T10:00:10.000+00:00",
        "role": "prompt",
        "text": "Find where the RETRY limit is set",
    }
    assert json.loads(orchestra("sessions", "search", "grep", "--json").stdout) == []  # tool calls are not
    lines = orchestra("sessions", "search", "hello").stdout.splitlines()
    assert lines[0].split() == ["SESSION", "AGENT", "WHEN", "ROLE", "TEXT"]
    assert lines[1].split()[:2] == [HELLO_ID, "-"] and "write hello.txt" in lines[1]
    assert "no prompt or reply contains it" in orchestra("sessions", "search", "pineapple").stdout


def test_text_from_a_transcript_is_printed_as_text(orchestra, repo, worktree, two_sessions, claude_dir):
    path = claude_dir / "projects" / folder_name(str(worktree)) / f"{RETRY_ID}.jsonl"
    hostile = "You're \\u001b[31mwelcome\\u001b]0;pwned\\u0007 [bold]now[/bold]."
    path.write_text(path.read_text().replace("You're welcome.", hostile))

    for args in (["search", "welcome"], ["export", RETRY_ID]):
        out = orchestra("sessions", *args).stdout
        assert "\x1b" not in out and "\x07" not in out
        assert "\\x1b[31mwelcome\\x1b]0;pwned\\x07 [bold]now[/bold]." in out


def test_export_writes_the_session_as_markdown(orchestra, repo, worktree, two_sessions, tmp_path):
    expected = f"""# Claude Code session {RETRY_ID}

- agent: retry
- branch: orchestra/retry
- directory: {worktree}
- started: 2026-12-01T10:00:10.000+00:00
- last activity: 2026-12-02T11:00:02.000+00:00
- turns: 2
- tokens: 225 input, 72 output, 2300 cache read, 200 cache write

## Prompt · 2026-12-01 10:00:10 UTC

Find where the RETRY limit is set

## Reply · 2026-12-01 10:00:12 UTC

Let me search the config for the retry limit.

- `Grep` `retry_limit`

## Reply · 2026-12-01 10:00:14 UTC

The retry limit is set in config.toml: retry_limit = 3.

## Prompt · 2026-12-02 11:00:00 UTC

thanks

## Reply · 2026-12-02 11:00:02 UTC

You're welcome.
"""
    assert orchestra("sessions", "export", RETRY_ID).stdout == expected
    output = tmp_path / "retry.md"
    result = orchestra("sessions", "export", RETRY_ID[:8], "--output", str(output))  # the start of an id will do
    assert output.read_text() == expected and f"exported session {RETRY_ID} to {output}" in result.stdout

    data = json.loads(orchestra("sessions", "export", "retry", "--json").stdout)
    assert data["id"] == RETRY_ID and data["agent"] == "retry"
    assert data["usage"] == {
        "input_tokens": 225,
        "output_tokens": 72,
        "cache_read_tokens": 2300,
        "cache_write_tokens": 200,
    }
    assert [(e["role"], e["tool"]) for e in data["entries"]] == [
        ("prompt", None),
        ("reply", None),
        ("tool", "Grep"),
        ("reply", None),
        ("prompt", None),
        ("reply", None),
    ]


def test_stats_per_day_and_agent_count_a_message_of_two_blocks_once(orchestra, repo, worktree, two_sessions):
    figures = json.loads(orchestra("sessions", "stats", "--json").stdout)

    def row(sessions, turns, inputs, outputs, read, write):
        return {
            "sessions": sessions,
            "turns": turns,
            "input_tokens": inputs,
            "output_tokens": outputs,
            "cache_read_tokens": read,
            "cache_write_tokens": write,
        }

    # 2026-12-01's message of two blocks bills 100 input tokens once; counted per line it would be 200.
    assert figures["days"] == [
        {"day": "2026-11-30", **row(1, 1, 20, 10, 0, 0)},
        {"day": "2026-12-01", **row(1, 1, 220, 70, 2300, 200)},
        {"day": "2026-12-02", **row(1, 1, 5, 2, 0, 0)},
    ]
    assert figures["agents"] == [
        {"agent": "retry", **row(1, 2, 225, 72, 2300, 200)},
        {"agent": None, **row(1, 1, 20, 10, 0, 0)},
    ]
    assert figures["total"] == row(2, 3, 245, 82, 2300, 200)

    lines = orchestra("sessions", "stats").stdout.splitlines()
    assert lines[0].split() == ["DAY", "SESSIONS", "TURNS", "INPUT", "OUTPUT", "CACHE", "READ", "CACHE", "WRITE"]
    assert lines[4].split() == ["total", "2", "3", "245", "82", "2300", "200"]
    assert ["retry", "1", "2", "225", "72", "2300", "200"] in [line.split() for line in lines]


def test_hours_keeps_only_recent_activity(orchestra, repo, worktree, claude_dir):
    place("write-hello.jsonl", claude_dir, repo, HELLO_ID, "main", minutes_ago(3 * 24 * 60))
    place("two-blocks.jsonl", claude_dir, worktree, RETRY_ID, "orchestra/retry", minutes_ago(180), minutes_ago(10))

    assert [s["id"] for s in json.loads(orchestra("sessions", "--hours", "1", "--json").stdout)] == [RETRY_ID]
    assert len(json.loads(orchestra("sessions", "--hours", "100", "--json").stdout)) == 2
    assert "no Claude Code sessions active in the last 0.01 hours" in orchestra("sessions", "--hours", "0.01").stdout
    figures = json.loads(orchestra("sessions", "stats", "--hours", "1", "--json").stdout)
    assert figures["total"] == {  # only the "thanks" turn of ten minutes ago
        "sessions": 1,
        "turns": 1,
        "input_tokens": 5,
        "output_tokens": 2,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }
    # --hours picks sessions: a recent one is searched whole, an old one not at all.
    assert len(json.loads(orchestra("sessions", "search", "retry", "--hours", "1", "--json").stdout)) == 3
    assert json.loads(orchestra("sessions", "search", "hello", "--hours", "1", "--json").stdout) == []


def test_bad_input_is_one_sentence(orchestra, repo, two_sessions):
    result = orchestra("sessions", "export", "no-such-session", check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "orchestra: no Claude Code session 'no-such-session' in this repository or its worktrees: "
        "`orchestra sessions` lists them."
    ]
    result = orchestra("sessions", "stats", "--hours", "0", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--hours" in result.stderr
    result = orchestra("sessions", "search", " ", check=False)
    assert result.returncode == 2 and "give the words to look for" in result.stderr


def test_a_sub_agents_tokens_count_but_its_words_are_not_the_sessions(
    orchestra, repo, worktree, two_sessions, claude_dir
):
    path = claude_dir / "projects" / folder_name(str(worktree)) / f"{RETRY_ID}.jsonl"
    reply = next(json.loads(line) for line in path.read_text().splitlines() if "msg_thanks_0003" in line)
    reply.update(isSidechain=True, agentId="a1b2c3")
    reply["message"].update(id="msg_sub_agent_0004", content=[{"type": "text", "text": "a sub-agent's finding"}])
    reply["message"]["usage"].update(input_tokens=7, output_tokens=3)
    side = path.with_suffix("") / "subagents" / "agent-a1b2c3.jsonl"
    side.parent.mkdir(parents=True)
    side.write_text(json.dumps(reply, separators=(",", ":")) + "\n")

    figures = json.loads(orchestra("sessions", "stats", "--json").stdout)
    assert (figures["total"]["input_tokens"], figures["total"]["output_tokens"]) == (245 + 7, 82 + 3)
    assert figures["total"]["turns"] == 3
    assert "a sub-agent's finding" not in orchestra("sessions", "export", RETRY_ID).stdout
    assert json.loads(orchestra("sessions", "search", "finding", "--json").stdout) == []
