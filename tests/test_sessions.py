"""The claude plugin's reading of Claude Code's files: sessions from transcripts written here in
Claude Code's own format, and the folder trust kept in `.claude.json`."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from orchestra.models import Agent
from orchestra.state import State
from orchestra_claude.sessions import discover_sessions, folder_name, transcript_exists
from orchestra_claude.trust import folder_trusted, trust_checks
from support import git

VERSION = "2.1.328"


# -- transcripts as Claude Code writes them ----------------------------------------------


def time(minute: int, second: int = 0) -> str:
    return f"2025-06-01T10:{minute:02d}:{second:02d}.000Z"


def iso(minute: int, second: int = 0) -> str:
    """The same time as orchestra reports it."""
    return f"2025-06-01T10:{minute:02d}:{second:02d}.000+00:00"


class Transcript:
    """Lines of one session, shaped like those Claude Code writes (compact JSON, keys in its order)."""

    def __init__(self, cwd: Path | str, branch: str = "main", session_id: str | None = None):
        self.cwd = str(cwd)
        self.branch = branch
        self.id = session_id or str(uuid.uuid4())
        self.lines: list[dict] = []
        self.parent: str | None = None

    def _entry(self, kind: str, minute: int, **fields) -> dict:
        line = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.id,
            "version": VERSION,
            "gitBranch": self.branch,
            "type": kind,
            **fields,
            "uuid": str(uuid.uuid4()),
            "timestamp": time(minute),
        }
        self.parent = line["uuid"]
        self.lines.append(line)
        return line

    def prompt(self, content, minute: int, **extra) -> Transcript:
        self._entry("user", minute, message={"role": "user", "content": content}, **extra)
        return self

    def reply(self, text: str, minute: int) -> Transcript:
        message = {
            "model": "claude-sonnet-4-5",
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
        self._entry("assistant", minute, message=message, requestId="req_1")
        return self

    def tool_round(self, minute: int, output: str = "done") -> Transcript:
        """The assistant calls Write, and the tool's result comes back as a user line."""
        tool_id = f"toolu_{uuid.uuid4().hex[:12]}"
        use = {"type": "tool_use", "id": tool_id, "name": "Write", "input": {"file_path": "a.py", "content": "x"}}
        self._entry("assistant", minute, message={"role": "assistant", "type": "message", "content": [use]})
        result = {"tool_use_id": tool_id, "type": "tool_result", "content": output}
        self._entry("user", minute, message={"role": "user", "content": [result]}, toolUseResult={"type": "create"})
        return self

    def snapshot(self, minute: int) -> Transcript:
        self.lines.append(
            {
                "type": "file-history-snapshot",
                "messageId": str(uuid.uuid4()),
                "snapshot": {"messageId": "m", "trackedFileBackups": {}, "timestamp": time(minute)},
                "isSnapshotUpdate": False,
            }
        )
        return self

    def summary(self, text: str) -> Transcript:
        self.lines.append({"type": "summary", "summary": text, "leafUuid": str(uuid.uuid4())})
        return self

    def text(self) -> str:
        return "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in self.lines)

    def write(self, config_dir: Path) -> Path:
        folder = config_dir / "projects" / folder_name(self.cwd)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.id}.jsonl"
        path.write_text(self.text(), encoding="utf-8")
        return path


@pytest.fixture
def claude_dir() -> Path:
    return Path(os.environ["HOME"]) / ".claude"


@pytest.fixture
def worktree(repo, tmp_path) -> Path:
    path = tmp_path / "project.worktrees" / "auth"
    git(repo, "worktree", "add", "-q", "-b", "orchestra/auth", str(path))
    return path


def by_id(sessions) -> dict:
    return {s.id: s for s in sessions}


# -- discovery ---------------------------------------------------------------------------


def test_sessions_of_the_main_checkout_and_a_worktree_are_found_others_ignored(repo, worktree, tmp_path, claude_dir):
    main = Transcript(repo).prompt("fix the login bug", 1).reply("Fixed.", 2).write(claude_dir)
    auth = Transcript(worktree, branch="orchestra/auth").prompt("build the auth API", 3).tool_round(4).write(claude_dir)
    # A sibling folder whose name starts like the repository's: its transcripts are read and refused.
    other = tmp_path / "project-other"
    other.mkdir()
    Transcript(other).prompt("unrelated work", 5).write(claude_dir)
    Transcript("/somewhere/else").prompt("far away", 6).write(claude_dir)

    found = discover_sessions([repo, worktree], {})

    assert [s.transcript for s in found] == [str(auth), str(main)]
    session = by_id(found)[main.stem]
    assert session.directory == str(repo)
    assert session.branch == "main"
    assert (session.started, session.last_activity) == (iso(1), iso(2))
    assert (session.turns, session.first_prompt, session.agent) == (1, "fix the login bug", None)
    assert by_id(found)[auth.stem].branch == "orchestra/auth"
    assert by_id(found)[auth.stem].last_activity == iso(4)


def test_a_session_in_a_subfolder_counts_for_its_worktree_and_takes_its_branch(repo, worktree, claude_dir):
    inside = worktree / "src" / "api"
    inside.mkdir(parents=True)
    nested = repo / ".worktrees" / "docs"  # a worktree inside the main checkout
    git(repo, "worktree", "add", "-q", "-b", "orchestra/docs", str(nested))
    # Where Claude Code recorded no branch, the branch of the worktree holding the folder fills in.
    Transcript(inside, branch="").prompt("tidy this folder", 1).write(claude_dir)
    Transcript(nested / "guide", branch="").prompt("write the guide", 2).write(claude_dir)
    (nested / "guide").mkdir()

    branches = {repo: "main", worktree: "orchestra/auth", nested: "orchestra/docs"}
    found = discover_sessions([nested, worktree, repo], {}, branches=branches)

    assert [(s.directory, s.branch) for s in found] == [
        (str(nested / "guide"), "orchestra/docs"),
        (str(inside), "orchestra/auth"),
    ]


def test_the_branch_is_the_latest_the_transcript_records(repo, claude_dir):
    transcript = Transcript(repo, branch="main").prompt("start", 1)
    transcript.branch = "feature"
    transcript.prompt("carry on", 2).write(claude_dir)

    [session] = discover_sessions([repo], {}, branches={repo: "main"})

    assert session.branch == "feature"


def test_turns_count_only_prompts_a_person_typed(repo, claude_dir):
    transcript = Transcript(repo).snapshot(0)
    caveat = "Caveat: The messages below were generated by the user while running local commands."
    transcript.prompt(caveat, 1, isMeta=True)
    command = (
        "<command-name>/model</command-name>\n<command-message>model</command-message>\n<command-args></command-args>"
    )
    transcript.prompt(command, 1)
    transcript.prompt("<local-command-stdout>Set model to sonnet</local-command-stdout>", 1)
    transcript.prompt("first real prompt", 2).tool_round(3).tool_round(4).reply("ok", 5)
    transcript.prompt([{"type": "text", "text": "[Request interrupted by user for tool use]"}], 6)
    transcript.prompt("<system-reminder>the file changed</system-reminder>", 6)
    transcript.prompt("expanded slash command text", 6, isMeta=True)
    transcript.prompt("This session is being continued from a previous conversation.", 7, isCompactSummary=True)
    transcript.prompt("a sub-agent's task", 7, isSidechain=True)
    transcript.prompt("second real prompt", 8).reply("done", 9).summary("Login bug fix")
    transcript.write(claude_dir)

    [session] = discover_sessions([repo], {})

    assert session.turns == 2
    assert session.first_prompt == "first real prompt"
    assert session.started == iso(1)  # the snapshot before the first prompt has no working directory
    assert session.last_activity == iso(9)


def test_the_first_prompt_comes_from_list_content_on_one_shortened_line(repo, claude_dir):
    long_words = " ".join(["word"] * 100)
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "text", "text": "Make the page\n\n  look like   this:"},
        {"type": "text", "text": long_words},
    ]
    Transcript(repo).prompt(content, 1).prompt([{"type": "image", "source": {}}], 2).write(claude_dir)

    [session] = discover_sessions([repo], {})

    assert session.first_prompt.startswith("Make the page look like this: word word")
    assert "\n" not in session.first_prompt
    assert 190 <= len(session.first_prompt) <= 200 and session.first_prompt.endswith("…")
    assert session.turns == 2  # a pasted picture with no words is a prompt too


def test_sessions_are_mapped_to_the_agents_that_own_them(repo, worktree, claude_dir):
    owned = Transcript(worktree, session_id="0f6a3c52-1d7e-4b8a-9c1e-3f2d4b5a6c7d").prompt("build auth", 1)
    owned.write(claude_dir)
    Transcript(repo).prompt("by hand", 2).write(claude_dir)

    found = discover_sessions([repo, worktree], {owned.id: "auth", "another-id": "ghost"})

    assert [(s.first_prompt, s.agent) for s in found] == [("by hand", None), ("build auth", "auth")]


def test_claude_config_dir_is_honoured(repo, tmp_path, claude_dir, monkeypatch):
    Transcript(repo, session_id="in-home").prompt("in the default folder", 1).write(claude_dir)
    elsewhere = tmp_path / "claude-config"
    Transcript(repo, session_id="in-config-dir").prompt("in the configured folder", 2).write(elsewhere)

    assert [s.id for s in discover_sessions([repo], {})] == ["in-home"]
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(elsewhere))
    assert [s.id for s in discover_sessions([repo], {})] == ["in-config-dir"]
    assert [s.id for s in discover_sessions([repo], {}, config_dir=claude_dir)] == ["in-home"]


def test_damaged_lines_and_foreign_files_are_skipped(repo, claude_dir):
    transcript = Transcript(repo, session_id="damaged").prompt("first", 1).reply("ok", 2)
    good = Transcript(repo, session_id="x").prompt("second", 3).reply("ok", 4)
    whole = json.dumps(Transcript(repo).reply("half", 9).lines[0], separators=(",", ":"))
    torn = whole[:-1]  # everything but the closing brace: its timestamp is there, the line is not
    path = transcript.write(claude_dir)
    with open(path, "ab") as handle:
        handle.write(b"{not json at all\n")
        handle.write(b"\xff\xfe\x00binary \x80\x81 bytes\n")
        handle.write(b'{"type":"user","message":{"role":"user","content":"caf\xe9"},"cwd":"x"}\n')  # Latin-1, not UTF-8
        handle.write(b"[1, 2, 3]\n\n   \n")
        handle.write(good.text().encode())
        handle.write(torn.encode())  # Claude Code was writing when we read
    folder = path.parent
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "garbage.jsonl").write_bytes(os.urandom(4096).replace(b"\n", b" "))
    (folder / "only-summaries.jsonl").write_text('{"type":"summary","summary":"x","leafUuid":"y"}\n')
    (folder / "notes.txt").write_text(Transcript(repo).prompt("not a transcript", 50).text())
    (folder / "sessions-index.json").write_text("{}")
    (folder / "damaged" / "subagents").mkdir(parents=True)
    (folder / "damaged" / "subagents" / "agent-a1.jsonl").write_text(Transcript(repo).prompt("sub", 51).text())
    (folder / "agent-b2.jsonl").write_text(Transcript(repo).prompt("old-style sub-agent", 52).text())
    (folder / "folder.jsonl").mkdir()
    unreadable = folder / "unreadable.jsonl"
    unreadable.write_text(Transcript(repo).prompt("secret", 53).text())
    unreadable.chmod(0)
    try:
        found = discover_sessions([repo], {})
    finally:
        unreadable.chmod(0o600)

    readable_anyway = os.geteuid() == 0  # root reads a mode-000 file
    assert [s.id for s in found] == (["unreadable", "damaged"] if readable_anyway else ["damaged"])
    session = by_id(found)["damaged"]
    assert (session.turns, session.first_prompt) == (2, "first")
    assert session.last_activity == iso(4)  # from the last complete line, not the torn one


def test_missing_or_empty_claude_folders_give_no_sessions(repo, claude_dir, tmp_path):
    assert discover_sessions([repo], {}) == []
    (claude_dir / "projects").mkdir(parents=True)
    (claude_dir / "projects" / "stray-file").write_text("x")
    assert discover_sessions([repo], {}) == []
    assert discover_sessions([], {}) == []


def test_newest_activity_first(repo, worktree, claude_dir):
    Transcript(repo, session_id="old-start-new-activity").prompt("a", 1).reply("b", 50).write(claude_dir)
    Transcript(worktree, session_id="middle").prompt("c", 20).reply("d", 30).write(claude_dir)
    # Written last, so its file is the newest: the order comes from the transcript, not the file time.
    Transcript(repo, session_id="new-start-old-activity").prompt("e", 5).reply("f", 10).write(claude_dir)

    found = discover_sessions([repo, worktree], {})

    assert [s.id for s in found] == ["old-start-new-activity", "middle", "new-start-old-activity"]


def test_a_big_transcript_is_read_to_its_last_line(repo, claude_dir):
    transcript = Transcript(repo, session_id="big").prompt("read the logs", 1)
    for minute in range(2, 40):
        transcript.tool_round(minute, output="log line\n" * 4000)
    transcript.prompt("now summarize them", 40)
    transcript.tool_round(41, output="x" * 200_000)  # the last line alone is longer than the tail that is read
    assert transcript.write(claude_dir).stat().st_size > 1_000_000

    [session] = discover_sessions([repo], {})

    assert (session.turns, session.started, session.last_activity) == (2, iso(1), iso(41))


def test_a_long_path_whose_folder_name_claude_code_shortened_is_found(repo, claude_dir):
    deep = repo / ("very-long-folder-name-" * 5) / ("another-long-folder-name-" * 5)
    deep.mkdir(parents=True)
    folder = claude_dir / "projects" / (folder_name(str(deep))[:200] + "-1x2y3z")
    folder.mkdir(parents=True)
    transcript = Transcript(deep, session_id="deep").prompt("deep down", 1)
    (folder / "deep.jsonl").write_text(transcript.text())

    assert len(folder_name(str(deep))) > 200
    assert [s.directory for s in discover_sessions([repo], {})] == [str(deep)]


def test_folder_names_follow_claude_code():
    assert folder_name("/work/my.repo") == "-work-my-repo"
    assert folder_name("/home/ana/café_1") == "-home-ana-caf--1"
    assert folder_name("/x/😀") == "-x---"  # two UTF-16 units, two dashes


# -- the command line --------------------------------------------------------------------


def test_sessions_command_lists_json_and_table(orchestra, repo, worktree, claude_dir):
    assert orchestra("sessions", "--json").stdout.strip() == "[]"
    assert "no Claude Code sessions" in orchestra("sessions").stdout

    mine = Transcript(repo, session_id="11111111-2222-3333-4444-555555555555").prompt("by hand in main", 1)
    mine.reply("ok", 2).write(claude_dir)
    owned = Transcript(worktree, branch="orchestra/auth", session_id="66666666-7777-8888-9999-000000000000")
    owned.prompt("build the auth API", 3).tool_round(4).reply("done", 5).write(claude_dir)
    Transcript(repo.parent / "elsewhere").prompt("not ours", 6).write(claude_dir)
    with State(repo / ".git" / "orchestra").update() as agents:
        agents["auth"] = Agent(
            name="auth",
            task="build the auth API",
            agent="claude",
            branch="orchestra/auth",
            base="HEAD",
            worktree=str(worktree),
            session_id=owned.id,
        )

    data = json.loads(orchestra("sessions", "--json", cwd=worktree).stdout)

    assert [s["id"] for s in data] == [owned.id, mine.id]
    assert data[0] == {
        "id": owned.id,
        "directory": str(worktree),
        "branch": "orchestra/auth",
        "started": iso(3),
        "last_activity": iso(5),
        "turns": 1,
        "first_prompt": "build the auth API",
        "agent": "auth",
        "transcript": str(claude_dir / "projects" / folder_name(str(worktree)) / f"{owned.id}.jsonl"),
    }
    assert data[1]["agent"] is None
    lines = orchestra("sessions").stdout.splitlines()
    header = ["SESSION", "AGENT", "BRANCH", "DIRECTORY", "TURNS", "STARTED", "ACTIVE", "FIRST", "PROMPT"]
    assert lines[0].split() == header
    assert lines[1].split()[:3] == [owned.id, "auth", "orchestra/auth"]
    assert "build the auth API" in lines[1]
    assert lines[2].split()[:3] == [mine.id, "-", "main"]


def test_a_transcript_under_an_id_is_found_in_any_folder(repo, worktree, claude_dir):
    owned = Transcript(worktree, branch="orchestra/auth").prompt("build", 1)
    owned.write(claude_dir)
    assert transcript_exists(owned.id) and not transcript_exists(str(uuid.uuid4()))
    assert not transcript_exists("*")  # an id is never a pattern


# -- folder trust ----------------------------------------------------------------------------


def test_folder_trust_is_read_from_claude_json(repo, tmp_path, monkeypatch):
    settings = Path(os.environ["HOME"]) / ".claude.json"
    assert folder_trusted(repo) is None  # Claude Code never ran here: nothing to say
    settings.write_text(json.dumps({"projects": {str(repo): {"hasTrustDialogAccepted": False}}}))
    assert folder_trusted(repo) is False
    settings.write_text(json.dumps({"projects": {str(repo.resolve()): {"hasTrustDialogAccepted": True}}}))
    assert folder_trusted(repo) is True
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    assert folder_trusted(repo) is None  # then `.claude.json` is read from there


def test_doctor_notes_an_untrusted_project_only_where_claude_code_is_installed(repo, tmp_path, monkeypatch):
    from orchestra.context import Context

    fake = tmp_path / "bin" / "claude"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    (Path(os.environ["HOME"]) / ".claude.json").write_text(json.dumps({"projects": {}}))
    monkeypatch.chdir(repo)
    assert trust_checks(repo, Context.open().config) == []  # no `claude` on PATH
    (repo / "orchestra.toml").write_text(f'[agents.claude]\ncommand = ["{fake}"]\n')
    (check,) = trust_checks(repo, Context.open().config)
    assert check.name == "claude trust" and check.ok is None and "folder-trust dialog" in check.detail
