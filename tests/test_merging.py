"""`orchestra merge`: the integration queue, never leaving the target or the checkout half-changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestra import integrate, merging, worktrees
from orchestra.context import Context
from orchestra.doctor import diagnose
from orchestra.errors import MergeFailed
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, MergeResult, Status
from support import agents_json, break_worktree, git, statuses, unpopulate, wait_for, wait_statuses, worktree_paths


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


# -- what lands on the target, and what never does (in-process, no tmux) -----------------


def finished_agent(ctx: Context, name: str, files: dict[str, str] | None = None) -> Agent:
    """An exited agent as spawn leaves one (its worktree on its branch, `[worktree] copy` and
    `symlink` applied), that committed `files` (default: notes/<name>.md)."""
    from orchestra import worktrees

    worktree = ctx.project.root.parent / "worktrees" / name
    branch = f"orchestra/{name}"
    base = tip(ctx.project.root)
    worktrees.add_worktree(ctx.project, worktree, branch, base)
    worktrees.populate(ctx.project, worktree, ctx.config.worktree["copy"], ctx.config.worktree["symlink"])
    files = {f"notes/{name}.md": f"work of {name}\n"} if files is None else files
    for path, text in files.items():
        (worktree / path).parent.mkdir(parents=True, exist_ok=True)
        (worktree / path).write_text(text)
        git(worktree, "add", path)
    if files:
        git(worktree, "commit", "-qm", f"{name} did its task")
    agent = Agent(name, f"the task of {name}", "demo", branch, base, str(worktree), status=Status.EXITED, exit_code=0)
    with ctx.state.update() as agents:
        agents[name] = agent
    return agent


def a_branch(repo: Path, branch: str = "orchestra/x") -> str:
    """A branch with one commit that main lacks; main stays checked out."""
    git(repo, "checkout", "-qb", branch)
    (repo / "feature.txt").write_text("the feature\n")
    git(repo, "add", "feature.txt")
    git(repo, "commit", "-qm", "add the feature")
    git(repo, "checkout", "-q", "main")
    return branch


def scratch_worktrees(repo: Path) -> list[str]:
    return [path for path in worktree_paths(repo) if "/orchestra/merge-" in path]


@pytest.mark.parametrize(
    "check",
    [
        "echo evil > evil.txt && git add evil.txt && git commit -qm 'not reviewed'",
        "git commit -q --amend -m 'rewritten'",
        "git checkout -q --detach HEAD~1",
        "echo changed >> README.md",
        "echo staged > staged.txt && git add staged.txt",
    ],
    ids=["commits", "amends", "moves-head", "changes-a-tracked-file", "stages"],
)
def test_a_check_that_commits_moves_head_or_changes_files_fails_the_merge(repo, check):
    project = worktrees.discover(repo)
    branch = a_branch(repo)
    before = tip(repo)
    with pytest.raises(MergeFailed, match=r"the check `.*` (committed|moved|changed)"):
        integrate.integrate(project, branch, "main", "merge", "merge it", check)
    assert tip(repo) == before and git(repo, "status", "--porcelain") == ""
    assert "not reviewed" not in git(repo, "log", "--format=%s", "main")
    assert scratch_worktrees(repo) == []


def test_the_target_moves_to_exactly_the_commit_that_was_checked(repo, tmp_path):
    project = worktrees.discover(repo)
    branch = a_branch(repo)
    checked = tmp_path / "checked"
    # Files the check makes that git does not track (build output, caches) are not a change.
    new = integrate.integrate(
        project,
        branch,
        "main",
        "merge",
        "merge it",
        f"git rev-parse HEAD > {checked} && mkdir -p build && touch build/x",
    )
    assert new == checked.read_text().strip() == tip(repo)
    assert (repo / "feature.txt").exists()


def test_files_orchestra_copied_or_linked_into_a_worktree_are_never_committed(project):
    ctx = project
    root = ctx.project.root
    (root / ".env").write_text("API_KEY=secret\n")  # not ignored: the case that leaked
    (root / "local.cfg").write_text("token = 1\n")
    (root / "orchestra.toml").write_text('[worktree]\ncopy = [".env"]\nsymlink = ["local.cfg"]\n')
    ctx = Context.open()
    agent = finished_agent(ctx, "keys")
    worktree = Path(agent.worktree)
    assert (worktree / ".env").read_text() == "API_KEY=secret\n" and (worktree / "local.cfg").is_symlink()
    (worktree / "loose.txt").write_text("left uncommitted\n")
    git(worktree, "add", ".env")  # even staged by the agent
    (result,) = merging.merge(ctx, ["keys"])
    assert result.ok and result.committed
    for ref in ("main", "orchestra/keys"):
        tree = git(root, "ls-tree", "-r", "--name-only", ref).split()
        assert "loose.txt" in tree and "notes/keys.md" in tree
        assert ".env" not in tree and "local.cfg" not in tree
    assert (worktree / ".env").read_text() == "API_KEY=secret\n"  # left where it was


def test_a_copied_file_that_is_tracked_is_the_agents_to_change(project):
    """A `copy` entry the repository tracks was checked out, not copied: the agent's edit of it is work."""
    root = project.project.root
    (root / ".env").write_text("DEFAULTS=1\n")
    git(root, "add", ".env")
    git(root, "commit", "-qm", "track the default .env")
    agent = finished_agent(project, "edits-env")
    (Path(agent.worktree) / ".env").write_text("DEFAULTS=2\n")
    (result,) = merging.merge(project, ["edits-env"])
    assert result.ok and git(root, "show", "main:.env") == "DEFAULTS=2\n"


def test_doctor_warns_when_a_copied_file_is_not_ignored(repo):
    (repo / "orchestra.toml").write_text('[orchestra]\ndefault_agent = "demo"\n')
    (repo / ".env").write_text("API_KEY=secret\n")
    checks = [c for c in diagnose(cwd=repo) if c.name == "worktree copy"]
    assert len(checks) == 1 and checks[0].ok is None
    assert ".env" in checks[0].detail and ".gitignore" in checks[0].detail
    (repo / ".gitignore").write_text(".env\n")
    assert [c for c in diagnose(cwd=repo) if c.name == "worktree copy"] == []


KILLED_MERGE = """
import sys
from orchestra import integrate, worktrees
integrate.integrate(worktrees.discover(sys.argv[1]), "orchestra/x", "main", "merge", "m", "kill -9 $PPID")
"""


def killed_merge(repo: Path) -> None:
    """A merge killed while its check runs: its scratch worktree stays registered with git."""
    a_branch(repo)
    result = subprocess.run([sys.executable, "-c", KILLED_MERGE, str(repo)], capture_output=True, text=True)
    assert result.returncode == -9, result.stderr
    assert len(scratch_worktrees(repo)) == 1


def test_the_next_merge_removes_what_a_killed_merge_left(project):
    repo = project.project.root
    killed_merge(repo)
    assert merging.merge(project, [], every=True) == []
    assert scratch_worktrees(repo) == []
    assert [p for p in project.project.state_dir.iterdir() if p.name.startswith("merge-")] == []


def test_doctor_fix_removes_what_a_killed_merge_left(repo):
    (repo / "orchestra.toml").write_text('[orchestra]\ndefault_agent = "demo"\n')
    killed_merge(repo)
    (found,) = [c for c in diagnose(cwd=repo) if c.name == "merges"]
    assert found.ok is False and "doctor --fix" in found.detail and found.detail.startswith("1 scratch worktree")
    (fixed,) = [c for c in diagnose(fix=True, cwd=repo) if c.name == "merges"]
    assert fixed.fixed and scratch_worktrees(repo) == []
    assert [c for c in diagnose(cwd=repo) if c.name == "merges"] == []


def test_doctor_leaves_the_scratch_worktree_of_a_merge_that_is_running(project):
    repo = project.project.root
    killed_merge(repo)
    with integrate.merge_lock(project.project):
        assert [c for c in diagnose(fix=True, cwd=repo) if c.name == "merges" and c.fixed] == []
        assert len(scratch_worktrees(repo)) == 1


def test_a_second_merge_waits_for_the_one_running(project, tmp_path):
    repo = project.project.root
    finished_agent(project, "queued")
    errors = tmp_path / "stderr"
    with integrate.merge_lock(project.project), errors.open("w") as err:
        second = subprocess.Popen(
            [sys.executable, "-m", "orchestra", "merge", "--all"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        wait_for(lambda: "waiting for another orchestra merge" in errors.read_text(), what="the waiting notice")
        assert second.poll() is None and "notes/queued.md" not in git(repo, "ls-tree", "-r", "--name-only", "main")
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0 and "queued: merged into main" in out
    assert "fatal" not in errors.read_text()


def test_work_committed_on_another_branch_in_the_worktree_is_pointed_to(project):
    root = project.project.root
    agent = finished_agent(project, "elsewhere", files={})  # nothing on its own branch
    worktree = Path(agent.worktree)
    git(worktree, "checkout", "-qb", "feature")
    (worktree / "work.txt").write_text("the real work\n")
    git(worktree, "add", "work.txt")
    git(worktree, "commit", "-qm", "real work")
    before = tip(root)
    (result,) = merging.merge(project, ["elsewhere"])
    assert not result.ok and "nothing to merge" not in result.message
    assert "branch 'feature'" in result.message and "1 commit" in result.message
    assert tip(root) == before


def test_work_committed_on_a_detached_head_in_the_worktree_is_pointed_to(project):
    root = project.project.root
    agent = finished_agent(project, "detached", files={})
    worktree = Path(agent.worktree)
    git(worktree, "checkout", "-q", "--detach")
    (worktree / "work.txt").write_text("the real work\n")
    git(worktree, "add", "work.txt")
    git(worktree, "commit", "-qm", "real work")
    head = git(worktree, "rev-parse", "--short", "HEAD").strip()
    before = tip(root)
    (result,) = merging.merge(project, ["detached"])
    assert not result.ok and "detached" in result.message and head in result.message
    assert tip(root) == before and git(root, "branch", "--contains", head) == ""


@pytest.mark.parametrize("half", ["was never checked out", "has lost its .git"])
def test_a_half_made_worktree_is_never_merged_or_synced(project, half):
    """Never checked out, git takes every file for deleted: committing "everything" there and
    merging it would delete every file of the target and the main checkout."""
    from orchestra import syncing

    root = project.project.root
    agent = finished_agent(project, "half")
    (unpopulate if half == "was never checked out" else break_worktree)(Path(agent.worktree))
    before, branch = tip(root), git(root, "rev-parse", "orchestra/half")
    (result,) = merging.merge(project, ["half"])
    assert not result.ok and half in result.message and "orchestra doctor --fix" in result.message
    (synced,) = syncing.sync(project, ["half"])
    assert not synced.ok and half in synced.message
    assert tip(root) == before and git(root, "rev-parse", "orchestra/half") == branch
    assert (root / "README.md").exists() and git(root, "status", "--porcelain") == ""
