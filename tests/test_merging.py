"""`orchestra merge`: the integration queue, never leaving the target or the checkout half-changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestra import merging
from orchestra.context import Context
from orchestra.errors import MergeFailed
from orchestra.hookspecs import hookimpl
from orchestra.models import MergeResult
from support import agents_json, git, statuses, wait_statuses


def spawn_done(orchestra, *tasks: str) -> dict[str, dict]:
    """Demo agents that each commit notes/<agent name>.md with their task and exit."""
    for task in tasks:
        orchestra("spawn", "--agent", "demo", "--no-attach", task)
    names = {a["name"]: "exited" for a in agents_json(orchestra)}
    return {a["name"]: a for a in wait_statuses(orchestra, names)}


def tip(repo: Path, ref: str = "main") -> str:
    return git(repo, "rev-parse", ref).strip()


def test_merge_takes_an_agents_work_into_the_target_and_clean_removes_it(orchestra, repo):
    spawn_done(orchestra, "write the notes")
    result = orchestra("merge", "write-the-notes")
    assert "write-the-notes: merged into main" in result.stdout
    assert (repo / "notes" / "write-the-notes.md").read_text() == "write the notes\n"  # the checkout followed
    assert git(repo, "log", "-1", "--format=%s").strip() == "Merge orchestra/write-the-notes: write the notes"
    assert git(repo, "status", "--porcelain") == ""
    assert statuses(orchestra) == {"write-the-notes": "merged"}
    assert orchestra("clean").stdout.strip() == "removed write-the-notes"


def test_uncommitted_work_is_committed_on_the_agents_branch_first(orchestra, repo):
    agent = spawn_done(orchestra, "first pass")["first-pass"]
    (Path(agent["worktree"]) / "extra.txt").write_text("left uncommitted by the agent\n")
    result = orchestra("merge", "first-pass", "--json")
    (item,) = json.loads(result.stdout)
    assert item["ok"] and item["committed"]
    assert (repo / "extra.txt").read_text() == "left uncommitted by the agent\n"
    assert git(repo, "log", "-1", "--format=%s", item["committed"]).strip() == "first pass"


@pytest.mark.parametrize("strategy", ["squash", "rebase"])
def test_squash_and_rebase_keep_the_history_linear(orchestra, repo, strategy):
    spawn_done(orchestra, "alpha", "beta")
    orchestra("merge", "--all", "--strategy", strategy)
    assert git(repo, "rev-list", "--merges", "--count", "main").strip() == "0"
    assert (repo / "notes" / "alpha.md").exists() and (repo / "notes" / "beta.md").exists()
    assert statuses(orchestra) == {"alpha": "merged", "beta": "merged"}


def conflicting_agents(orchestra, repo) -> dict[str, dict]:
    agents = spawn_done(orchestra, "left", "right", "third")
    for name in ("left", "right"):
        worktree = Path(agents[name]["worktree"])
        (worktree / "README.md").write_text(f"# the {name} version\n")
        git(worktree, "commit", "-qam", f"{name} rewrites the readme")
    return agents


def test_a_conflict_stops_the_queue_and_leaves_everything_as_it_was(orchestra, repo):
    conflicting_agents(orchestra, repo)
    orchestra("merge", "left")
    before = tip(repo)
    result = orchestra("merge", "right", "third", check=False)
    assert result.returncode == 1
    assert "right: merging conflicts in README.md" in result.stderr and "not tried" in result.stderr
    assert tip(repo) == before and git(repo, "status", "--porcelain") == ""
    assert (repo / "README.md").read_text() == "# the left version\n"
    agents = {a["name"]: a for a in agents_json(orchestra)}
    assert agents["right"]["status"] == "exited" and "conflicts in README.md" in agents["right"]["error"]
    assert agents["third"]["status"] == "exited"
    assert [p for p in git(repo, "worktree", "list", "--porcelain").split("\n") if "merge-" in p] == []


def test_keep_going_merges_the_rest_after_a_failure(orchestra, repo):
    conflicting_agents(orchestra, repo)
    result = orchestra("merge", "--all", "--keep-going", check=False)
    assert result.returncode == 1
    assert statuses(orchestra) == {"left": "merged", "right": "exited", "third": "merged"}


def test_a_failing_check_leaves_the_target_alone(orchestra, repo):
    spawn_done(orchestra, "checked work")
    before = tip(repo)
    result = orchestra(
        "merge", "checked-work", "--check", "echo checking; grep -q nope notes/checked-work.md", check=False
    )
    assert result.returncode == 1
    assert "the check `echo checking; grep -q nope notes/checked-work.md` failed" in result.stderr
    assert "checking" in result.stderr  # the check's own output, to see why
    assert tip(repo) == before and not (repo / "notes").exists()
    ok = orchestra("merge", "checked-work", "--check", "test -f notes/checked-work.md")
    assert "merged into main" in ok.stdout


def test_local_changes_in_the_checkout_that_the_merge_would_overwrite(orchestra, repo):
    spawn_done(orchestra, "overwrite")
    (repo / "notes").mkdir()
    (repo / "notes" / "overwrite.md").write_text("mine, not committed\n")
    before = tip(repo)
    result = orchestra("merge", "overwrite", check=False)
    assert result.returncode == 1 and "local changes" in result.stderr
    assert tip(repo) == before and (repo / "notes" / "overwrite.md").read_text() == "mine, not committed\n"


def test_agents_that_are_not_finished_are_refused(orchestra, repo, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "busy")
    wait_statuses(orchestra, {"busy": "running"})
    result = orchestra("merge", "busy", check=False)
    assert result.returncode == 1 and "still running" in result.stderr
    assert orchestra("merge", "--all").stdout.strip() == "nothing to merge: no agent is done or exited"
    assert "no agent named 'ghost'" in orchestra("merge", "ghost", check=False).stderr
    assert "not both" in orchestra("merge", "busy", "--all", check=False).stderr


def test_an_unknown_strategy_and_a_missing_target_are_clear_failures(orchestra, repo):
    spawn_done(orchestra, "odd")
    result = orchestra("merge", "odd", "--strategy", "octopus", check=False)
    assert result.returncode == 1 and "no plugin handles the merge strategy 'octopus'" in result.stderr
    (repo / "orchestra.toml").write_text('[merge]\ntarget = "release"\n')
    result = orchestra("merge", "odd", check=False)
    assert result.returncode == 1 and "target branch 'release' does not exist" in result.stderr
    assert statuses(orchestra) == {"odd": "exited"}


def test_merge_in_a_repository_without_commits_says_so(orchestra, tmp_path):
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    result = orchestra("merge", "--all", cwd=empty, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "has no commits yet" in result.stderr and "target" not in result.stderr


class Shipping:
    """A plugin strategy: 'ship' succeeds, 'sink' refuses; others are left to the core."""

    @hookimpl
    def merge_strategy(self, agent, repo, strategy, report):
        if strategy == "ship":
            return MergeResult(outcome="opened", message=f"shipped {report['name']} to {repo.target}", url="http://x/1")
        if strategy == "sink":
            raise MergeFailed("the sink strategy refuses everything")
        return None


def test_a_plugins_strategy_is_asked_first(orchestra, repo, monkeypatch):
    spawn_done(orchestra, "to ship", "to sink")
    monkeypatch.chdir(repo)
    ctx = Context.open()
    ctx.plugins.manager.register(Shipping(), name="shipping")
    (shipped,) = merging.merge(ctx, ["to-ship"], strategy="ship")
    assert shipped.ok and shipped.message == "shipped to-ship to main" and shipped.url == "http://x/1"
    (sunk,) = merging.merge(ctx, ["to-sink"], strategy="sink")
    assert not sunk.ok and sunk.message == "the sink strategy refuses everything"
    agents = {a["name"]: a for a in agents_json(orchestra)}
    assert agents["to-ship"]["pull_request"] == "http://x/1" and agents["to-ship"]["status"] == "exited"
    assert agents["to-sink"]["error"] == "merge failed: the sink strategy refuses everything"


def test_clean_keeps_what_a_merged_agent_changed_after_its_merge(orchestra, repo):
    agent = spawn_done(orchestra, "after the merge")["after-the-merge"]
    orchestra("merge", "--all", "--strategy", "squash")
    (Path(agent["worktree"]) / "later.txt").write_text("written after the merge\n")
    assert "kept after-the-merge (merged) has 1 uncommitted file (later.txt)" in orchestra("clean").stdout
    assert statuses(orchestra) == {"after-the-merge": "merged"}
