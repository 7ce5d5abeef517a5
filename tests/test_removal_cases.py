"""What `kill`, `clean`, `diff`, `report` and `doctor` do with worktrees that hold work in odd
places (a detached HEAD, a deleted branch, a repository of its own, the index, ignored files) or
that a stopped command left half-made or half-removed (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestra import removal, trash
from orchestra.errors import OrchestraError, WorkAtRisk
from orchestra.reconcile import observe
from support import agents_json, break_worktree, git, spawn_demo, statuses, tmux, unpopulate, wait_for


def finished(project, task: str = "make it fail") -> tuple[str, Path]:
    """A demo agent that has ended (one whose task says "fail" before committing anything): its name and worktree."""
    [agent] = spawn_demo(project, task)
    wait_for(lambda: {a.name: a.status.value for a in observe(project)}.get(agent.name) in ("exited", "failed"))
    return agent.name, Path(agent.worktree)


def commit(worktree: Path, name: str, text: str, message: str) -> str:
    (worktree / name).write_text(text)
    git(worktree, "add", name)
    git(worktree, "commit", "-qm", message)
    return git(worktree, "rev-parse", "HEAD").strip()


def trash_refs(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/orchestra/trash/").split()


def test_a_commit_on_a_detached_head_is_work(project, repo):
    name, worktree = finished(project)
    git(worktree, "checkout", "-q", "--detach")
    sha = commit(worktree, "detached.txt", "made on no branch\n", "work on a detached head")

    with pytest.raises(WorkAtRisk, match=r"1 commit not in main \(\w+ work on a detached head\)"):
        removal.kill(project, [name])
    assert worktree.is_dir()

    [removed] = removal.kill(project, [name], force=True)
    assert git(repo, "merge-base", "--is-ancestor", sha, removed.saved_ref) == ""
    assert git(repo, "show", f"{removed.saved_ref}:detached.txt") == "made on no branch\n"


def test_a_commit_left_behind_on_a_detached_head_is_work(project, repo):
    """Made on a detached HEAD, then left for the branch (git only warns): the worktree's own
    reflog, which goes with it, is all that names it. A commit amended away on a branch is not work."""
    name, worktree = finished(project)
    git(worktree, "checkout", "-q", "--detach")
    sha = commit(worktree, "detached.txt", "made on no branch\n", "work left behind")
    git(worktree, "checkout", "-q", f"orchestra/{name}")
    commit(worktree, "branch.txt", "on the branch\n", "first try")
    git(worktree, "commit", "-q", "--amend", "-m", "amended on the branch")

    with pytest.raises(WorkAtRisk, match=r"2 commits not in main") as caught:
        removal.kill(project, [name])
    assert "work left behind" in str(caught.value) and "first try" not in str(caught.value)
    removed, kept = removal.clean(project)
    assert removed == [] and "work left behind" in kept[0]

    [gone] = removal.kill(project, [name], force=True)
    assert git(repo, "merge-base", "--is-ancestor", sha, gone.saved_ref) == ""
    assert git(repo, "show", f"{gone.saved_ref}:branch.txt") == "on the branch\n"


def test_force_keeps_the_work_of_a_worktree_whose_branch_was_deleted(project, repo):
    name, worktree = finished(project)
    sha = commit(worktree, "kept.txt", "committed\n", "committed, then the branch went")
    (worktree / "loose.txt").write_text("never committed\n")
    git(repo, "update-ref", "-d", f"refs/heads/orchestra/{name}")  # deleted by hand, under the worktree

    with pytest.raises(WorkAtRisk, match="committed, then the branch went"):
        removal.kill(project, [name])
    [removed] = removal.kill(project, [name], force=True)
    assert removed.saved_ref == f"refs/orchestra/trash/{name}"
    assert git(repo, "merge-base", "--is-ancestor", sha, removed.saved_ref) == ""
    assert git(repo, "show", f"{removed.saved_ref}:loose.txt") == "never committed\n"
    assert not worktree.exists()


def test_a_repository_of_its_own_in_the_worktree_is_never_deleted(project, repo):
    name, worktree = finished(project)
    inner = worktree / "vendor" / "lib"
    inner.mkdir(parents=True)
    git(inner, "init", "-q", "-b", "main")
    commit(inner, "lib.py", "x = 1\n", "the inner repository's own commit")

    for force in (False, True):
        with pytest.raises(WorkAtRisk, match=r"git repository of its own in its worktree \(vendor/lib/\)") as caught:
            removal.kill(project, [name], force=force)
        assert f"then run `orchestra kill {name}` again" in str(caught.value)
    removed, kept = removal.clean(project, force=True)
    assert removed == [] and "vendor/lib/" in kept[0]
    git(worktree, "add", "vendor/lib")  # staged as a gitlink: still a repository of its own
    with pytest.raises(WorkAtRisk, match=r"in its worktree \(vendor/lib\)"):
        removal.kill(project, [name], force=True)
    assert git(inner, "log", "--format=%s") == "the inner repository's own commit\n"
    assert trash_refs(repo) == []


def inner_repository(folder: Path) -> None:
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    commit(folder, "lib.py", "x = 1\n", "the inner repository's own commit")


def test_a_repository_of_its_own_named_with_a_space_or_an_accent_is_found(project, repo):
    """git status quotes such names; read as they are, they name the folder."""
    name, worktree = finished(project)
    for folder in ("my lib", "vendör"):
        inner_repository(worktree / folder)
    with pytest.raises(WorkAtRisk, match=r"in its worktree \(my lib/, vendör/\)"):
        removal.kill(project, [name], force=True)
    assert (worktree / "my lib" / ".git").is_dir() and (worktree / "vendör" / ".git").is_dir()


def test_a_repository_of_its_own_the_agent_committed_is_never_deleted(project, repo):
    """Committed as a gitlink, it shows in no status: the trash commit would hold only the link."""
    name, worktree = finished(project)
    inner = worktree / "vendor" / "lib"
    inner_repository(inner)
    git(worktree, "add", "vendor/lib")
    git(worktree, "commit", "-qm", "add the library")
    with pytest.raises(WorkAtRisk, match=r"in its worktree \(vendor/lib\)"):
        removal.kill(project, [name], force=True)
    removed, kept = removal.clean(project, force=True)
    assert removed == [] and "vendor/lib" in kept[0]
    assert git(inner, "log", "--format=%s") == "the inner repository's own commit\n"
    assert trash_refs(repo) == []


def test_a_submodule_at_the_commit_its_base_pins_is_no_ones_work(project, repo, tmp_path):
    library = tmp_path / "library"
    inner_repository(library)
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    git(repo, "commit", "-qm", "the library as a submodule")
    name, worktree = finished(project)
    git(worktree, "-c", "protocol.file.allow=always", "submodule", "update", "--init", "-q")
    assert (worktree / "lib" / "lib.py").exists()
    [removed] = removal.kill(project, [name])
    assert removed.saved_ref is None and not worktree.exists()


def test_force_keeps_staged_and_working_copies_that_differ(project, repo):
    name, worktree = finished(project)
    (worktree / "README.md").write_text("staged version\n")
    git(worktree, "add", "README.md")
    (worktree / "README.md").write_text("working version\n")

    [removed] = removal.kill(project, [name], force=True)
    ref = removed.saved_ref
    assert git(repo, "show", f"{ref}:README.md") == "working version\n"
    assert git(repo, "show", f"{ref}~1:README.md") == "staged version\n"
    assert git(repo, "log", "--format=%s", "-2", ref).splitlines() == [
        f"orchestra: uncommitted work of agent {name}",
        f"orchestra: staged changes of agent {name}",
    ]


def ignoring(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.log\nnode_modules/\n.env.local\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore logs and dependencies")


def test_ignored_files_that_are_not_disposable_are_work(project, repo):
    ignoring(repo)
    name, worktree = finished(project)
    (worktree / "node_modules" / "pkg").mkdir(parents=True)
    (worktree / "node_modules" / "pkg" / "index.js").write_text("disposable\n")
    (worktree / "build-notes.log").write_text("what I found\n")
    (worktree / ".env.local").write_text("KEY=mine\n")
    with open(worktree / "huge.log", "wb") as big:  # sparse: above the limit without writing it
        big.truncate(trash.IGNORED_SIZE_LIMIT + 1)

    with pytest.raises(WorkAtRisk) as caught:
        removal.kill(project, [name])
    message = str(caught.value)
    assert "3 git-ignored files not in [worktree] disposable (.env.local, build-notes.log, huge.log)" in message
    assert "node_modules" not in message
    _, kept = removal.clean(project)
    assert "build-notes.log" in kept[0]

    [removed] = removal.kill(project, [name], force=True)
    assert removed.not_kept == ["huge.log"]
    assert git(repo, "show", f"{removed.saved_ref}:build-notes.log") == "what I found\n"
    assert git(repo, "show", f"{removed.saved_ref}:.env.local") == "KEY=mine\n"
    listed = git(repo, "ls-tree", "-r", "--name-only", removed.saved_ref).split()
    assert "huge.log" not in listed and not [p for p in listed if p.startswith("node_modules")]


def test_only_disposable_ignored_files_go_silently(project, repo):
    ignoring(repo)
    name, worktree = finished(project, "tidy up")
    git(worktree, "reset", "-q", "--hard", "main")  # no commits of its own: nothing but ignored files
    (worktree / "node_modules").mkdir()
    (worktree / "node_modules" / "dep.js").write_text("disposable\n")
    [removed] = removal.kill(project, [name])
    assert removed.saved_ref is None and not worktree.exists()


def test_what_orchestra_copied_or_linked_in_unchanged_is_not_work(repo, monkeypatch):
    """The default `copy = [".env"]` with an `.env` git does not ignore, a `.worktreeinclude`
    file and a `symlink`: an agent that did nothing is removed by a plain kill and by clean, and
    `--force` keeps an agent's work without them (orchestra never commits its copies: keys)."""
    from orchestra.context import Context

    (repo / ".gitignore").write_text(".env.local\n")
    (repo / ".worktreeinclude").write_text(".env.local\n")
    git(repo, "add", ".gitignore", ".worktreeinclude")
    git(repo, "commit", "-qm", "ignore local settings, and give them to worktrees")
    (repo / ".env").write_text("API_KEY=secret\n")
    (repo / ".env.local").write_text("LOCAL=1\n")
    (repo / "local.cfg").write_text("token = 1\n")
    (repo / "orchestra.toml").write_text('[worktree]\nsymlink = ["local.cfg"]\n')
    monkeypatch.chdir(repo)
    project = Context.open()
    names = [finished(project, task)[0] for task in ("fail once", "fail twice", "fail thrice")]
    worktree = Path(project.state.read()[names[0]].worktree)
    assert (worktree / ".env").exists() and (worktree / ".env.local").exists() and (worktree / "local.cfg").is_symlink()

    (worktree / ".env").write_text("API_KEY=changed by the agent\n")
    with pytest.raises(WorkAtRisk, match=r"has 1 uncommitted file \(\.env\)\."):
        removal.kill(project, [names[0]])
    (worktree / ".env").write_text("API_KEY=secret\n")
    [removed] = removal.kill(project, [names[0]])
    assert removed.saved_ref is None and not worktree.exists()
    other = Path(project.state.read()[names[2]].worktree)
    (other / "work.txt").write_text("the agent's work\n")
    git(other, "add", ".env", "work.txt")  # staged by the agent
    [saved] = removal.kill(project, [names[2]], force=True)
    assert git(repo, "show", f"{saved.saved_ref}:work.txt") == "the agent's work\n"
    kept_files = set(git(repo, "log", "--format=", "--name-only", saved.saved_ref).split())
    assert not kept_files & {".env", ".env.local", "local.cfg"}, "in no commit of the trash ref"
    removed, kept = removal.clean(project)
    assert [r.name for r in removed] == [names[1]] and kept == []


@pytest.mark.slow
def test_a_worktree_that_lost_its_git_is_finished_off(project, repo, orchestra):
    name, worktree = finished(project)
    (worktree / "found.txt").write_text("left behind\n")
    break_worktree(worktree)
    other, _ = finished(project, "fail too")

    diff = orchestra("diff", name, check=False)
    assert diff.returncode == 1 and diff.stderr.count("\n") == 1
    assert "has lost its .git" in diff.stderr and f"orchestra kill {name} --force" in diff.stderr
    report = orchestra("report", "--json").stdout
    assert "has lost its .git" in report
    assert project_changes(project, next(a for a in observe(project) if a.name == name)) is None

    removed, kept = removal.clean(project)
    assert [r.name for r in removed] == [other], "clean goes on past a broken agent"
    assert "found.txt" in kept[0]

    with pytest.raises(WorkAtRisk, match=r"found\.txt"):
        removal.kill(project, [name])
    [gone] = removal.kill(project, [name], force=True)
    assert git(repo, "show", f"{gone.saved_ref}:found.txt") == "left behind\n"
    assert git(repo, "show", f"{gone.saved_ref}:README.md") == "# project\n", "a removed file is not a deletion"
    assert not worktree.exists() and git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_doctor_finishes_removing_a_broken_worktree(project, repo):
    from orchestra.doctor import diagnose

    name, worktree = finished(project)
    break_worktree(worktree)
    [problem] = [c for c in diagnose(cwd=repo) if name in c.detail]
    assert problem.ok is False and "has lost its .git" in problem.detail
    [fixed] = [c for c in diagnose(fix=True, cwd=repo) if name in c.detail]
    assert fixed.fixed and not worktree.exists()
    assert [c for c in diagnose(cwd=repo) if c.name == "worktree" and c.ok is False] == []


def test_a_folder_without_git_that_is_no_worktree_is_never_deleted(project, tmp_path):
    from orchestra.worktrees import remove_worktree

    folder = tmp_path / "someone-elses"
    folder.mkdir()
    (folder / "precious.txt").write_text("mine\n")
    with pytest.raises(OrchestraError, match="is not a git worktree"):
        remove_worktree(project.project, folder)
    assert (folder / "precious.txt").exists()


def project_changes(project, agent):
    """What `ls` and the board show in their CHANGES column for the agent."""
    from orchestra.reconcile import changes_of

    return changes_of([agent], project.state.dir).get(agent.name)


def test_a_worktree_never_checked_out_is_not_a_deletion_of_everything(project, repo):
    from orchestra.report import agent_diff, report_of

    name, worktree = finished(project)
    unpopulate(worktree)
    assert trash.is_unpopulated(worktree)
    with pytest.raises(OrchestraError, match="was never checked out"):
        agent_diff(project, name)
    [agent] = observe(project)
    shown = report_of(project, agent)
    assert not shown.uncommitted and shown.lines_removed == 0
    assert project_changes(project, agent) is None, "ls and the board show no deletion of every file"
    removed, kept = removal.clean(project)
    assert [r.name for r in removed] == [name] and kept == []
    assert trash_refs(repo) == []


def test_a_file_in_a_worktree_never_checked_out_is_kept_alone(project, repo):
    name, worktree = finished(project)
    unpopulate(worktree)
    (worktree / "new.txt").write_text("new\n")
    with pytest.raises(WorkAtRisk, match=r"1 uncommitted file \(new.txt\)"):
        removal.kill(project, [name])
    [removed] = removal.kill(project, [name], force=True)
    assert git(repo, "show", f"{removed.saved_ref}:README.md") == "# project\n"
    assert git(repo, "diff", "--name-status", f"{removed.saved_ref}~1", removed.saved_ref) == "A\tnew.txt\n"


def test_doctor_checks_out_a_worktree_a_spawn_left_empty(project, repo):
    from orchestra.doctor import diagnose

    name, worktree = finished(project)
    unpopulate(worktree)
    [problem] = [c for c in diagnose(cwd=repo) if name in c.detail]
    assert problem.ok is False and "never checked out" in problem.detail
    diagnose(fix=True, cwd=repo)
    assert (worktree / "README.md").read_text() == "# project\n"
    assert git(worktree, "status", "--porcelain") == ""


@pytest.mark.parametrize("half", ["was never checked out", "has lost its .git"])
def test_a_lost_agent_in_a_half_made_worktree_is_not_resumed(orchestra, repo, isolated, monkeypatch, half):
    """It would work in an empty folder (its commit then deletes every file) or one git cannot read."""
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("spawn", "--agent", "demo", "--no-attach", "come back")
    tmux(isolated, "kill-server")
    worktree = Path(agents_json(orchestra)[0]["worktree"])
    (unpopulate if half == "was never checked out" else break_worktree)(worktree)
    result = orchestra("resume", "come-back", check=False)
    assert half in result.stdout + result.stderr
    assert statuses(orchestra) == {"come-back": "lost"}
