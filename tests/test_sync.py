"""`orchestra sync`: an agent's branch brought up to date with the target in its own worktree,
and a conflict aborted so that the branch and its files are as they were."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestra import integrate
from orchestra.context import Context
from orchestra.syncing import sync
from support import git, spawn_demo, wait_for, wait_observed


def tip(where: Path, ref: str = "HEAD") -> str:
    return git(where, "rev-parse", ref).strip()


def open_project(repo: Path, monkeypatch, toml: str = "") -> Context:
    if toml:
        (repo / "orchestra.toml").write_text(toml)
        git(repo, "add", "orchestra.toml")
        git(repo, "commit", "-qm", "configure orchestra")
    monkeypatch.chdir(repo)
    return Context.open()


def finished(ctx: Context, *tasks: str) -> dict[str, Path]:
    """Demo agents that each committed notes/<name>.md and exited: name -> worktree."""
    agents = spawn_demo(ctx, *tasks)
    wait_observed(ctx, {a.name: "exited" for a in agents})
    return {a.name: Path(a.worktree) for a in agents}


def commit_on_main(repo: Path, path: str, text: str) -> str:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-qm", f"main changes {path}")
    return tip(repo)


def snapshot(where: Path) -> tuple[str, str, str]:
    """What must not change: HEAD, the branch checked out, and `git status`."""
    return tip(where), git(where, "symbolic-ref", "HEAD").strip(), git(where, "status", "--porcelain")


def test_merge_brings_the_targets_commits_into_the_branch_after_committing_loose_work(repo, monkeypatch):
    ctx = open_project(repo, monkeypatch, '[worktree]\ncopy = [".env"]\n')
    (repo / ".env").write_text("SECRET=1\n")  # copied into each worktree by spawn; never committed
    worktree = finished(ctx, "notes")["notes"]
    moved = commit_on_main(repo, "src/other.txt", "from main\n")
    main_before = snapshot(repo)
    (worktree / "loose.txt").write_text("left uncommitted by the agent\n")
    (worktree / "notes" / "notes.md").write_text("edited after its commit\n")
    branch_before = tip(worktree)

    (result,) = sync(ctx, ["notes"])
    assert result.ok and result.conflicts == [], result.message
    assert result.message.startswith("merged main into its branch (")
    assert tip(worktree, "HEAD^1") == result.committed and tip(worktree, f"{result.committed}^") == branch_before
    assert tip(worktree, "HEAD^2") == moved  # a merge commit of the target into the branch
    assert git(worktree, "log", "-1", "--format=%s").strip() == "Merge main into orchestra/notes"
    assert (worktree / "src" / "other.txt").read_text() == "from main\n"
    assert git(worktree, "show", "HEAD:loose.txt") == "left uncommitted by the agent\n"
    assert git(worktree, "status", "--porcelain") == "?? .env\n"  # orchestra's copy, left out of the commit
    assert (worktree / ".env").read_text() == "SECRET=1\n"
    assert ".env" not in git(worktree, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert snapshot(repo) == main_before and tip(repo, "main") == moved  # the target and the checkout untouched

    (again,) = sync(ctx, ["notes"])
    assert again.ok and again.message == "already up to date with main" and again.committed is None


def test_rebase_replays_the_agents_commits_on_the_target(repo, monkeypatch):
    ctx = open_project(repo, monkeypatch, '[merge]\nstrategy = "rebase"\n')
    worktree = finished(ctx, "linear")["linear"]
    moved = commit_on_main(repo, "other.txt", "from main\n")
    (worktree / "loose.txt").write_text("loose\n")

    (result,) = sync(ctx, ["linear"])
    assert result.ok and result.message.startswith("rebased onto main ("), result.message
    assert git(worktree, "rev-list", "--merges", "--count", "HEAD").strip() == "0"
    assert tip(worktree, "HEAD~2") == moved  # its commit, then the loose-work commit, on top of main
    assert git(worktree, "log", "-2", "--format=%s").splitlines() == ["linear", "demo: linear"]
    assert tip(worktree) == tip(repo, "orchestra/linear") and git(worktree, "status", "--porcelain") == ""
    assert tip(repo, "main") == moved


@pytest.mark.parametrize("strategy", ["merge", "rebase"])
def test_a_conflict_is_aborted_leaving_the_branch_and_files_as_they_were(repo, monkeypatch, strategy):
    ctx = open_project(repo, monkeypatch, f'[merge]\nstrategy = "{strategy}"\n')
    worktree = finished(ctx, "clash")["clash"]
    (worktree / "README.md").write_text("# the agent's readme\n")
    git(worktree, "commit", "-qam", "the agent rewrites the readme")
    (worktree / "notes" / "clash.md").write_text("loose work\n")
    committed_tip = tip(worktree)
    commit_on_main(repo, "README.md", "# main's readme\n")
    main_before = snapshot(repo)

    (result,) = sync(ctx, ["clash"])
    assert not result.ok and result.conflicts == ["README.md"]
    doing = "rebasing onto" if strategy == "rebase" else "merging"
    assert result.message.startswith(f"{doing} main conflicts in README.md; its branch and files are as they were")
    # Only the loose-work commit was added; nothing of the merge or rebase is left.
    assert result.committed and tip(worktree) == result.committed and tip(worktree, "HEAD^") == committed_tip
    assert git(worktree, "symbolic-ref", "--short", "HEAD").strip() == "orchestra/clash"
    assert git(worktree, "status", "--porcelain") == ""
    assert (worktree / "README.md").read_text() == "# the agent's readme\n"
    assert (worktree / "notes" / "clash.md").read_text() == "loose work\n"
    git_dir = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    assert not [p for p in ("MERGE_HEAD", "rebase-merge", "rebase-apply") if (git_dir / p).exists()]
    assert snapshot(repo) == main_before


def test_a_running_agent_is_refused_and_left_alone(repo, monkeypatch):
    ctx = open_project(repo, monkeypatch)
    (busy,) = spawn_demo(ctx, "busy", delay="60")
    wait_observed(ctx, {"busy": "running"})
    commit_on_main(repo, "other.txt", "from main\n")
    (Path(busy.worktree) / "half.txt").write_text("being written\n")
    before = snapshot(Path(busy.worktree))
    (result,) = sync(ctx, ["busy"])
    assert not result.ok and result.committed is None
    assert result.message.startswith("it is running, so its files are changing: wait until it is done")
    assert snapshot(Path(busy.worktree)) == before
    assert sync(ctx, [], every=True) == []  # --all takes only agents that are not working


def test_a_worktree_on_another_branch_or_in_the_middle_of_a_merge_is_refused(repo, monkeypatch):
    ctx = open_project(repo, monkeypatch)
    worktrees = finished(ctx, "elsewhere", "midway")
    commit_on_main(repo, "README.md", "# main's readme\n")

    elsewhere = worktrees["elsewhere"]
    git(elsewhere, "checkout", "-q", "-b", "side")
    (result,) = sync(ctx, ["elsewhere"])
    assert not result.ok
    assert result.message.startswith("its worktree is on branch 'side', not on its branch orchestra/elsewhere")
    assert git(elsewhere, "rev-parse", "side").strip() == tip(repo, "orchestra/elsewhere")  # nothing moved

    midway = worktrees["midway"]
    (midway / "README.md").write_text("# the agent's readme\n")
    git(midway, "commit", "-qam", "rewrite")
    subprocess.run(["git", "merge", "main"], cwd=midway, capture_output=True)  # a person's merge, stopped
    before = tip(midway)
    (result,) = sync(ctx, ["midway"])
    assert not result.ok and result.committed is None
    assert result.message.startswith("its worktree is in the middle of a merge: finish it there")
    assert tip(midway) == before and "<<<<<<<" in (midway / "README.md").read_text()  # its merge, untouched


def test_sync_waits_for_a_merge_of_the_same_repository(repo, monkeypatch, tmp_path):
    ctx = open_project(repo, monkeypatch)
    worktree = finished(ctx, "later")["later"]
    moved = commit_on_main(repo, "other.txt", "from main\n")
    errors = tmp_path / "stderr"
    with integrate.merge_lock(ctx.project), errors.open("w") as stderr:
        running = subprocess.Popen(
            [sys.executable, "-m", "orchestra", "sync", "later"], cwd=repo, stdout=subprocess.PIPE, stderr=stderr
        )
        wait_for(lambda: "waiting for an orchestra merge" in errors.read_text(), what="sync to wait for the lock")
        assert running.poll() is None and tip(worktree, "HEAD^0") != moved
    assert running.wait(timeout=60) == 0
    assert git(worktree, "merge-base", "--is-ancestor", moved, "HEAD") == ""


# -- the command line ---------------------------------------------------------------------------


def test_the_command_reports_each_agent_and_exits_1_on_a_conflict(orchestra, repo, monkeypatch):
    ctx = open_project(repo, monkeypatch)
    worktrees = finished(ctx, "clean one", "clash")
    (worktrees["clash"] / "README.md").write_text("# the agent's readme\n")
    commit_on_main(repo, "README.md", "# main's readme\n")
    (worktrees["clean-one"] / "loose.txt").write_text("loose\n")

    result = orchestra("sync", "--all", check=False)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("clean-one: ")]
    assert lines[0].startswith("clean-one: committed its uncommitted work on its branch (")
    assert lines[1].startswith("clean-one: merged main into its branch (") and len(lines) == 2
    assert "clash: committed its uncommitted work" in result.stdout
    assert "orchestra: clash: merging main conflicts in README.md" in result.stderr

    result = orchestra("sync", "clean-one", "clash", "--json", check=False)
    assert result.returncode == 1
    by_name = {item["name"]: item for item in json.loads(result.stdout)}
    assert by_name["clean-one"] == {
        "name": "clean-one",
        "ok": True,
        "message": "already up to date with main",
        "conflicts": [],
        "committed": None,
    }
    assert by_name["clash"]["ok"] is False and by_name["clash"]["conflicts"] == ["README.md"]
    events = [json.loads(line) for line in orchestra("events", "--json").stdout.splitlines()]
    assert [e["data"]["ok"] for e in events if e["type"] == "synced" and e["agent"] == "clash"] == [False, False]


def test_bad_input_is_one_sentence(orchestra, repo, monkeypatch):
    ctx = open_project(repo, monkeypatch)
    finished(ctx, "real")
    for args, said in (
        (["ghost"], "orchestra: there is no agent named 'ghost' in this project: `orchestra ls` lists them."),
        (["real", "--all"], "orchestra: give agent names or --all, not both."),
        ([], "orchestra: name the agents to sync, or use --all for every agent that is not working."),
    ):
        result = orchestra("sync", *args, check=False)
        assert result.returncode == 1 and result.stderr.strip() == said and result.stdout == ""
    (repo / "orchestra.toml").write_text('[merge]\ntarget = "release"\n')
    result = orchestra("sync", "real", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "orchestra: the merge target branch 'release' does not exist: set [merge] target in orchestra.toml."
    )
