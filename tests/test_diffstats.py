"""The diff-stat cache (`orchestra.diffstats`) on real git worktrees: the same numbers as git gives,
no git call for a worktree that did not change, and never wrong numbers after a change."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from orchestra import diffstats, git
from orchestra.worktrees import changes
from support import git as run_git


class Clock:
    """Real time plus a jump the test makes instead of sleeping."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@pytest.fixture
def calls(monkeypatch):
    """Every git command orchestra runs in this process, counted; git still runs."""
    counted: list[list[str]] = []
    real = git.run

    def counting(args, cwd, *rest, **kwargs):
        counted.append(list(args))
        return real(args, cwd, *rest, **kwargs)

    monkeypatch.setattr(git, "run", counting)
    return counted


@pytest.fixture
def agent(repo, tmp_path):
    """An agent's worktree on its own branch, with files in folders, and the state folder."""
    (repo / "src" / "deep").mkdir(parents=True)
    (repo / "src" / "a.py").write_text("one\ntwo\n")
    (repo / "src" / "deep" / "b.py").write_text("three\n")
    (repo / ".gitignore").write_text("node_modules/\n")
    run_git(repo, "add", "--all")
    run_git(repo, "commit", "-qm", "files")
    base = run_git(repo, "rev-parse", "HEAD").strip()
    worktree = tmp_path / "wt" / "one"
    run_git(repo, "worktree", "add", "-q", "-b", "orchestra/one", str(worktree), base)
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    return SimpleNamespace(
        name="one",
        worktree=str(worktree),
        base=base,
        path=worktree,
        state_dir=state_dir,
        updated_at="t0",
        status="running",
    )


def look(agent, clock, ttl=diffstats.TTL):
    return diffstats.changes_of([agent], agent.state_dir, ttl=ttl, clock=clock)[agent.name]


def truth(agent):
    return changes(agent.path, agent.base).to_dict()


def test_an_unchanged_worktree_costs_no_git_call(agent, calls):
    clock = Clock()
    first = look(agent, clock)
    assert first == truth(agent) == {"files": 0, "added": 0, "removed": 0, "untracked": 0}
    calls.clear()
    assert look(agent, clock) == first
    assert calls == []
    cached = json.loads((agent.state_dir / diffstats.FILENAME).read_text())
    assert cached["agents"]["one"]["changes"] == first


def test_an_edit_in_place_shows_once_the_time_to_live_has_passed(agent, calls):
    clock = Clock()
    look(agent, clock)
    folder_time = os.stat(agent.path / "src").st_mtime_ns
    with open(agent.path / "src" / "a.py", "a") as handle:  # in place: no folder changes
        handle.write("three\n")
    assert os.stat(agent.path / "src").st_mtime_ns == folder_time
    calls.clear()
    assert look(agent, clock)["added"] == 0  # within the time-to-live: the old numbers
    assert calls == []
    clock.ahead = diffstats.TTL + 0.1
    assert look(agent, clock) == truth(agent) == {"files": 1, "added": 1, "removed": 0, "untracked": 0}
    assert calls


def test_a_time_to_live_of_zero_always_asks_git(agent, calls):
    clock = Clock()
    look(agent, clock, ttl=0)
    calls.clear()
    look(agent, clock, ttl=0)
    # An entry that only aged: its folders are as they were, so no file came or went: only the diff.
    assert [call[:2] for call in calls] == [["diff", "--numstat"]]


def test_an_edit_in_place_of_the_ignore_rules_recounts_the_new_files(agent):
    clock = Clock()
    (agent.path / "node_modules").mkdir()
    (agent.path / "node_modules" / "dep.js").write_text("x\n")
    assert look(agent, clock)["untracked"] == 0
    with open(agent.path / ".gitignore", "w") as handle:  # in place: its folder keeps its time
        handle.write("# nothing ignored now\n")
    clock.ahead = diffstats.TTL + 0.1
    assert look(agent, clock) == truth(agent) == {"files": 1, "added": 1, "removed": 1, "untracked": 1}


def test_any_change_to_the_agents_record_asks_git_again(agent, calls):
    """An agent's own edits in place show when its hooks report (its record changes), not a
    time-to-live later."""
    clock = Clock()
    look(agent, clock)
    with open(agent.path / "src" / "a.py", "a") as handle:
        handle.write("three\n")
    calls.clear()
    assert look(agent, clock)["added"] == 0 and calls == []
    agent.updated_at = "t1"  # e.g. the turn ended
    assert look(agent, clock) == truth(agent) == {"files": 1, "added": 1, "removed": 0, "untracked": 0}


def test_a_new_file_shows_at_once(agent):
    clock = Clock()
    look(agent, clock)
    (agent.path / "src" / "deep" / "new.py").write_text("x\n")
    assert look(agent, clock) == truth(agent)
    assert look(agent, clock)["untracked"] == 1


def test_a_new_folder_with_files_shows_at_once(agent):
    clock = Clock()
    look(agent, clock)
    (agent.path / "src" / "fresh").mkdir()
    first = look(agent, clock)
    assert first == truth(agent) and first["untracked"] == 0  # an empty folder counts nothing
    (agent.path / "src" / "fresh" / "c.py").write_text("x\n")  # changes only the new folder
    assert look(agent, clock) == truth(agent) == {"files": 0, "added": 0, "removed": 0, "untracked": 1}


def test_a_removed_file_shows_at_once(agent):
    clock = Clock()
    look(agent, clock)
    (agent.path / "src" / "deep" / "b.py").unlink()
    assert look(agent, clock) == truth(agent) == {"files": 1, "added": 0, "removed": 1, "untracked": 0}


def test_git_add_and_a_commit_show_at_once(agent):
    clock = Clock()
    (agent.path / "src" / "new.py").write_text("a\nb\n")
    assert look(agent, clock)["untracked"] == 1
    run_git(agent.path, "add", "src/new.py")
    assert look(agent, clock) == truth(agent) == {"files": 1, "added": 2, "removed": 0, "untracked": 0}
    with open(agent.path / "src" / "a.py", "a") as handle:  # in place, then committed
        handle.write("more\n")
    run_git(agent.path, "commit", "-qam", "work")
    assert look(agent, clock) == truth(agent) == {"files": 2, "added": 3, "removed": 0, "untracked": 0}


def test_switching_head_shows_at_once(agent, repo):
    clock = Clock()
    run_git(agent.path, "checkout", "-q", "-b", "other")
    with open(agent.path / "src" / "a.py", "a") as handle:
        handle.write("on other\n")
    run_git(agent.path, "commit", "-qam", "other work")
    assert look(agent, clock)["added"] == 1
    run_git(agent.path, "checkout", "-q", "orchestra/one")  # a.py changes back in place
    assert look(agent, clock) == truth(agent) == {"files": 0, "added": 0, "removed": 0, "untracked": 0}
    run_git(agent.path, "checkout", "-q", "--detach", "other")
    assert look(agent, clock) == truth(agent) and truth(agent)["added"] == 1


def test_a_moved_branch_tip_shows_at_once(agent):
    """`git reset --soft` moves HEAD's branch and leaves the index and files as they are."""
    clock = Clock()
    with open(agent.path / "src" / "a.py", "a") as handle:
        handle.write("more\n")
    run_git(agent.path, "commit", "-qam", "work")
    look(agent, clock)
    run_git(agent.path, "reset", "-q", "--soft", "HEAD~1")
    cache = diffstats._read(agent.state_dir)
    entry = cache["agents"]["one"]
    assert entry["key"] != diffstats.Worktree(agent.worktree, agent.base, agent.updated_at).key(cache["dirsets"], entry)


def test_ignored_folders_are_not_watched(agent, calls):
    clock = Clock()
    (agent.path / "node_modules" / "pkg").mkdir(parents=True)
    look(agent, clock)
    look(agent, clock)  # the folders git ignores are known from the first look
    calls.clear()
    (agent.path / "node_modules" / "pkg" / "index.js").write_text("x\n")
    assert look(agent, clock)["untracked"] == 0
    assert calls == []


@pytest.mark.parametrize("status", ["starting", "queued"])
def test_an_agent_being_set_up_or_queued_costs_no_git_call(agent, calls, status):
    """A spawn records its agents `starting` before it checks their worktrees out: the board that
    looks then must not run git on half-made worktrees, on the processors the checkouts need."""
    (agent.path / "src" / "x.py").write_text("x\n")
    agent.status = status
    assert look(agent, Clock()) is None
    assert calls == [] and not (agent.state_dir / diffstats.FILENAME).exists()
    agent.status = "running"  # once it runs, its changes are counted
    assert look(agent, Clock()) == truth(agent) and truth(agent)["untracked"] == 1


@pytest.mark.parametrize(
    "before", [["diff"], ["ls-files", "--others", "--exclude-standard"], ["ls-files", "--others", "--ignored"]]
)
def test_a_worktree_removed_while_it_is_read_has_no_changes(agent, monkeypatch, before):
    """`ls` while `orchestra kill` removes the agent's worktree: git finds the folder gone halfway
    through (before each of its git calls in turn); `ls` shows no changes rather than failing."""
    real = git.run

    def removing(args, cwd, *rest, **kwargs):
        if list(args[: len(before)]) == before and agent.path.exists():
            shutil.rmtree(agent.path)
        return real(args, cwd, *rest, **kwargs)

    monkeypatch.setattr(git, "run", removing)
    assert look(agent, Clock()) is None
    assert not agent.path.exists()


def test_concurrent_writers_keep_true_entries(agent, repo, tmp_path):
    """Two lookers that each write the whole file: the last one wins, and what it holds is true."""
    clock = Clock()
    worktree = tmp_path / "wt" / "two"
    run_git(repo, "worktree", "add", "-q", "-b", "orchestra/two", str(worktree), agent.base)
    two = SimpleNamespace(
        name="two",
        worktree=str(worktree),
        base=agent.base,
        path=worktree,
        state_dir=agent.state_dir,
        updated_at="t0",
        status="running",
    )
    stale_cache = diffstats._read(agent.state_dir)
    look(two, clock)
    (agent.path / "src" / "x.py").write_text("x\n")
    look(agent, clock)
    diffstats._write(agent.state_dir, stale_cache, {})  # a writer that read before both
    assert look(agent, clock) == truth(agent) and look(two, clock) == truth(two)


def test_a_gone_worktree_has_no_changes_and_no_entry(agent, repo):
    clock = Clock()
    look(agent, clock)
    run_git(repo, "worktree", "remove", "--force", agent.worktree)
    assert look(agent, clock) is None
    assert "one" not in json.loads((agent.state_dir / diffstats.FILENAME).read_text())["agents"]


def test_a_damaged_cache_is_read_as_empty(agent):
    (agent.state_dir / diffstats.FILENAME).write_text("{not json")
    assert look(agent, Clock()) == truth(agent)


def test_ls_json_shows_the_same_changes_with_and_without_the_cache(orchestra, repo):
    orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "one", "write a file")
    worktree = Path(json.loads(orchestra("ls", "--json").stdout)[0]["worktree"])
    (worktree / "extra.txt").write_text("x\n")
    with_cache = json.loads(orchestra("ls", "--json").stdout)[0]["changes"]
    assert with_cache == changes(worktree, json.loads(orchestra("ls", "--json").stdout)[0]["base"]).to_dict()
    assert with_cache["untracked"] >= 1
