"""The git layer called directly: names, worktrees, changes, and saving work."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from orchestra import worktrees
from orchestra.errors import OrchestraError
from support import git


@pytest.mark.parametrize(
    ("task", "slug"),
    [
        ("Build the auth API!", "build-the-auth-api"),
        ("réécrire le module", "reecrire-le-module"),
        ("認証", "agent"),
        ("a" * 80, "a" * 32),
        ("fix bug #123 in parser; then refactor everything around it", "fix-bug-123-in-parser-then"),
    ],
)
def test_slugify(task, slug):
    assert worktrees.slugify(task) == slug


def test_check_name_accepts_branch_safe_names():
    for name in ("auth", "auth-2", "v1.2_fix"):
        worktrees.check_name(name)
    for name in ("", "-x", "a/b", "a..b", "x.lock", "x.", "a b", "a" * 64):
        with pytest.raises(OrchestraError):
            worktrees.check_name(name)


def test_discover_from_the_checkout_a_subfolder_and_a_worktree(repo):
    (repo / "sub").mkdir()
    assert worktrees.discover(repo / "sub").root == repo
    git(repo, "worktree", "add", "-q", "-b", "side", str(repo.parent / "side"))
    project = worktrees.discover(repo.parent / "side")
    assert project.root == repo and project.state_dir == repo / ".git" / "orchestra"


def test_add_worktree_populate_and_changes(repo):
    project = worktrees.discover(repo)
    (repo / ".env").write_text("A=1\n")
    (repo / "cache").mkdir()
    base = worktrees.resolve_commit(project, "HEAD")
    path = repo.parent / "wt" / "one"
    worktrees.add_worktree(project, path, "orchestra/one", base)
    worktrees.populate(project, path, [".env", "missing.txt"], ["cache"])
    assert (path / "README.md").exists() and (path / ".env").read_text() == "A=1\n"
    assert (path / "cache").is_symlink() and not (path / "missing.txt").exists()
    (path / "README.md").write_text("# project\nmore\n")
    changes = worktrees.changes(path, base)
    assert (changes.files, changes.added, changes.removed) == (1, 1, 0)
    assert changes.untracked == 2  # .env and the cache symlink, neither ignored here
    with pytest.raises(OrchestraError, match="outside the repository"):
        worktrees.populate(project, path, ["../../etc/passwd"], [])


def test_resolve_commit_refuses_option_like_refs(repo):
    with pytest.raises(OrchestraError, match="not a git revision"):
        worktrees.resolve_commit(worktrees.discover(repo), "--output=/tmp/x")


def test_a_command_run_in_a_folder_that_is_gone_says_so(repo):
    """A shell left in a removed worktree: the folder is gone, not git (and not a bug)."""
    gone = repo / "gone"
    script = f'mkdir {shlex.quote(str(gone))} && cd {shlex.quote(str(gone))} && rmdir "$PWD" && exec "$@"'
    for command in (["ls"], ["diff", "x"]):
        result = subprocess.run(
            ["/bin/sh", "-c", script, "sh", sys.executable, "-m", "orchestra", *command],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1, result.stderr
        assert "the folder you are in is gone" in result.stderr and "not installed" not in result.stderr


def test_branch_namer_agrees_with_git(repo):
    from orchestra.worktrees import branch_namer, is_valid_branch

    names = ["x", "HEAD", "head", "lock", "ock", "a.b", "v1.2", "A_b-c", "x.lock", "a..b", "-x", ".x", "x/y", "a@{b"]
    for prefix in ["", "orchestra/", "agent-", "x.", "x.l", "a/b.", "@", "-", "a..", "a.lock/", "a/", "a//", "we ird/"]:
        valid = branch_namer(repo_project(repo), prefix)
        for name in names:
            assert valid(name) == is_valid_branch(repo_project(repo), f"{prefix}{name}"), (prefix, name)


def repo_project(repo):
    from orchestra.worktrees import discover

    return discover(repo)
