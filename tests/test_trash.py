"""orchestra.trash: what a worktree holds, and keeping it on a trash ref without touching the worktree."""

from __future__ import annotations

from orchestra import trash, worktrees
from support import git


def test_save_to_trash_keeps_commits_and_files_and_leaves_the_index(repo):
    project = worktrees.discover(repo)
    base = worktrees.resolve_commit(project, "HEAD")
    path = repo.parent / "wt" / "two"
    worktrees.add_worktree(project, path, "orchestra/two", base)
    (path / "committed.txt").write_text("c\n")
    git(path, "add", "committed.txt")
    git(path, "commit", "-qm", "commit on the branch")
    (path / "staged.txt").write_text("s\n")
    git(path, "add", "staged.txt")
    (path / "loose.txt").write_text("l\n")
    ref = trash.save_to_trash(project, "two", "orchestra/two", path)
    assert ref == "refs/orchestra/trash/two"
    assert git(repo, "ls-tree", "--name-only", ref).split() == ["README.md", "committed.txt", "loose.txt", "staged.txt"]
    assert git(repo, "log", "--format=%s", ref).splitlines()[:3] == [
        "orchestra: uncommitted work of agent two",
        "orchestra: staged changes of agent two",
        "commit on the branch",
    ]
    assert git(repo, "ls-tree", "--name-only", f"{ref}~1").split() == ["README.md", "committed.txt", "staged.txt"]
    assert git(path, "status", "--porcelain").splitlines() == ["A  staged.txt", "?? loose.txt"]
