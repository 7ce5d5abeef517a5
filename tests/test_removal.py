"""`kill` and `clean` never lose work: they refuse, or keep it on a trash ref with a restore command."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from support import agents_json, branches, git, statuses, tmux, wait_for, worktree_paths


def spawn_finished(orchestra, *tasks: str) -> list[dict]:
    created = json.loads(orchestra("spawn", "--agent", "demo", "--json", *tasks).stdout)
    names = {a["name"] for a in created}
    wait_for(
        lambda: all(s in ("exited", "failed") for n, s in statuses(orchestra).items() if n in names),
        what="agents to finish",
    )
    return created


def test_kill_refuses_unmerged_commits_and_names_them(orchestra, repo, isolated):
    [agent] = spawn_finished(orchestra, "write notes")
    result = orchestra("kill", agent["name"], check=False)
    assert result.returncode == 1
    assert "1 commit not in main" in result.stderr and "demo: write notes" in result.stderr
    assert "--force" in result.stderr and "Traceback" not in result.stderr
    assert Path(agent["worktree"]).is_dir() and "orchestra/write-notes" in branches(repo)


def test_kill_refuses_uncommitted_and_untracked_files(orchestra, repo):
    [agent] = spawn_finished(orchestra, "make it fail")  # fails before committing anything
    worktree = Path(agent["worktree"])
    (worktree / "README.md").write_text("edited\n")
    (worktree / "new.txt").write_text("new\n")
    result = orchestra("kill", agent["name"], check=False)
    assert result.returncode == 1
    assert "2 uncommitted files" in result.stderr and "new.txt" in result.stderr
    assert (worktree / "new.txt").exists()


def test_kill_force_keeps_everything_on_a_trash_ref_that_restores(orchestra, repo, isolated):
    [agent] = spawn_finished(orchestra, "write notes")
    worktree = Path(agent["worktree"])
    (worktree / "README.md").write_text("edited, not committed\n")
    (worktree / "untracked.txt").write_text("brand new\n")
    index_before = git(worktree, "diff", "--cached", "--name-only")
    out = orchestra("kill", "--force", agent["name"]).stdout
    assert out.splitlines() == [  # said once, with the way back
        "removed write-notes; its work is kept at refs/orchestra/trash/write-notes",
        "  get it back with: git branch write-notes-restored refs/orchestra/trash/write-notes",
    ]
    restore = re.search(r"get it back with: (.+)", out).group(1)
    assert not worktree.exists() and "orchestra/write-notes" not in branches(repo)
    assert worktree_paths(repo) == [str(repo)]
    assert agents_json(orchestra) == []
    assert index_before == ""
    subprocess.run(restore.split(), cwd=repo, check=True)
    restored = "write-notes-restored"
    assert git(repo, "show", f"{restored}:README.md") == "edited, not committed\n"
    assert git(repo, "show", f"{restored}:untracked.txt") == "brand new\n"
    assert git(repo, "show", f"{restored}:notes/write-notes.md") == "write notes\n"
    windows = tmux(isolated, "list-windows", "-a", "-F", "#{window_name}").stdout.split()
    assert "write-notes" not in windows

    # A second agent of the same name, killed too: its own ref, and a command that works as well.
    [again] = spawn_finished(orchestra, "write notes")
    out = orchestra("kill", "--force", again["name"]).stdout
    second = re.search(r"get it back with: (.+)", out).group(1)
    assert second == "git branch write-notes-2-restored refs/orchestra/trash/write-notes-2"
    subprocess.run(second.split(), cwd=repo, check=True)


def test_kill_of_an_agent_with_no_work_removes_it_all(orchestra, repo, recorder, isolated):
    orchestra("spawn", "--agent", "recorder", "--name", "idle", "--no-attach", "nothing to do")
    wait_for(lambda: (recorder / "idle.done").exists(), what="the agent to run")
    out = orchestra("kill", "idle").stdout
    assert out.strip() == "removed idle"
    assert branches(repo) == ["main"]
    assert not list(repo.parent.glob("project.worktrees/*"))
    assert git(repo, "for-each-ref", "refs/orchestra/").strip() == ""


def test_kill_stops_a_running_agent(orchestra, repo, isolated, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    [agent] = json.loads(orchestra("spawn", "--agent", "demo", "--json", "slow one").stdout)
    wait_for(lambda: statuses(orchestra) == {"slow-one": "running"}, what="running")
    pid = int(tmux(isolated, "display-message", "-p", "-t", agent["pane"], "#{pane_pid}").stdout)
    orchestra("kill", "slow-one")
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in _proc_state(pid), what="the launcher to stop")
    assert agents_json(orchestra) == []


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "zombie"


def test_second_trash_ref_does_not_overwrite_the_first(orchestra, repo):
    spawn_finished(orchestra, "same")
    orchestra("kill", "--force", "same")
    spawn_finished(orchestra, "same")
    orchestra("kill", "--force", "same")
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/orchestra/trash/").split()
    assert refs == ["refs/orchestra/trash/same", "refs/orchestra/trash/same-2"]


def test_clean_removes_empty_and_keeps_work(orchestra, repo, recorder, monkeypatch):
    spawn_finished(orchestra, "with work")
    orchestra("spawn", "--agent", "recorder", "--name", "empty", "--no-attach", "nothing")
    wait_for(lambda: statuses(orchestra).get("empty") == "exited", what="the empty agent to exit")
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "still running")
    out = orchestra("clean").stdout
    assert "removed empty" in out
    assert "kept with-work (exited) has 1 commit not in main" in out
    assert set(statuses(orchestra)) == {"with-work", "still-running"}
    out = orchestra("clean", "--force").stdout
    assert "removed with-work" in out and "refs/orchestra/trash/with-work" in out
    assert set(statuses(orchestra)) == {"still-running"}, "clean never touches a running agent"


def test_clean_after_merge_removes_the_agent(orchestra, repo):
    [agent] = spawn_finished(orchestra, "to merge")
    git(repo, "merge", "--quiet", "--no-edit", agent["branch"])
    assert "removed to-merge" in orchestra("clean").stdout
    assert git(repo, "for-each-ref", "refs/orchestra/").strip() == ""


def test_kill_names_ignored_files_and_force_says_what_it_did_not_keep(orchestra, repo):
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore logs")
    [agent] = spawn_finished(orchestra, "make it fail")
    worktree = Path(agent["worktree"])
    (worktree / "notes.log").write_text("keep me\n")
    with open(worktree / "dump.log", "wb") as big:
        big.truncate(11 * 1024 * 1024)
    result = orchestra("kill", agent["name"], check=False)
    assert result.returncode == 1
    assert "2 git-ignored files not in [worktree] disposable (dump.log, notes.log)" in result.stderr
    out = orchestra("kill", "--force", agent["name"]).stdout
    assert out.count("removed") == 1 and out.splitlines()[-1] == "  not kept, larger than 10 MB: dump.log"
    assert git(repo, "show", "refs/orchestra/trash/make-it-fail:notes.log") == "keep me\n"


def test_kill_removes_nothing_when_one_named_agent_has_work_or_is_unknown(orchestra, repo, monkeypatch):
    """All or nothing, a queued agent included: its record is not removed when the kill is refused."""
    spawn_finished(orchestra, "write notes")  # a commit main lacks
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "--parallel", "1", "first long", "second waits")
    wait_for(lambda: statuses(orchestra).get("second-waits") == "queued", what="the second to be queued")
    for names in (["second-waits", "write-notes"], ["second-waits", "ghost"]):
        result = orchestra("kill", *names, check=False)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert set(statuses(orchestra)) == {"write-notes", "first-long", "second-waits"}, names
