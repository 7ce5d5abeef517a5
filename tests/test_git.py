"""The git runner (orchestra.git): its errors keep what ran, and the small questions asked of git."""

from __future__ import annotations

import pytest

from orchestra import git, worktrees
from orchestra.errors import GitError, OrchestraError
from support import git as run_git


def test_a_failing_command_keeps_its_argv_exit_code_and_stderr(repo):
    with pytest.raises(GitError) as caught:
        git.run(["rev-parse", "--verify", "no-such-branch"], repo)
    error = caught.value
    assert error.argv == ["git", "rev-parse", "--verify", "no-such-branch"]
    assert error.returncode == 128 and "fatal: Needed a single revision" in error.stderr
    assert error.exit_code == 1  # what orchestra exits with, unchanged
    message = str(error)
    assert message.startswith(f"git rev-parse failed in {repo}: ") and "\n" not in message


def test_errors_of_the_worktree_layer_carry_the_command_too(repo):
    project = worktrees.discover(repo)
    with pytest.raises(GitError) as caught:  # the branch exists already
        worktrees.add_worktree(project, repo.parent / "wt", "main", "HEAD")
    assert caught.value.argv[:3] == ["git", "worktree", "add"] and caught.value.returncode not in (0, None)
    assert "main" in caught.value.stderr


def test_without_check_the_caller_reads_the_exit_code(repo):
    assert git.run(["rev-parse", "--verify", "--quiet", "nothing"], repo, check=False).returncode == 1
    assert git.succeeds(["rev-parse", "--verify", "--quiet", "main"], repo)
    assert git.output(["rev-parse", "--abbrev-ref", "HEAD"], repo) == "main"


def test_a_folder_that_is_gone_is_a_git_error_that_says_so(tmp_path):
    with pytest.raises(GitError, match="is gone") as caught:
        git.run(["status"], tmp_path / "gone")
    assert caught.value.argv == ["git", "status"] and caught.value.returncode is None
    assert git.common_dir(tmp_path / "gone") is None


def test_common_dir_and_a_worktrees_index_file(repo, tmp_path):
    assert git.common_dir(repo).resolve() == (repo / ".git").resolve()
    assert git.common_dir(tmp_path) is None  # tmp_path holds the repository, it is not one
    run_git(repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    index = git.index_file(tmp_path / "side")
    assert index is not None and index.resolve() == (repo / ".git" / "worktrees" / "side" / "index").resolve()
    assert index.exists() and git.index_file(repo) is None  # the main checkout has a .git folder, no pointer


def test_identity_env_stands_in_only_where_no_identity_is_set(repo, monkeypatch):
    assert "GIT_AUTHOR_EMAIL" not in git.identity_env(repo)  # conftest's global config has one
    run_git(repo, "config", "--global", "--unset", "user.email")
    env = git.identity_env(repo)
    assert env["GIT_AUTHOR_EMAIL"] == env["GIT_COMMITTER_EMAIL"] == "orchestra@localhost"


def test_version_is_the_installed_gits():
    version = git.version()
    assert version is not None and version.split(".")[0].isdigit()


def test_init_repository_makes_one_commit_on_main(tmp_path):
    path = tmp_path / "demo"
    git.init_repository(path, {"README.md": "# demo\n", "src/app.py": "print(1)\n"}, "first")
    assert run_git(path, "log", "--format=%s %ae", "main").splitlines() == ["first tests@orchestra.invalid"]
    assert run_git(path, "ls-files").split() == ["README.md", "src/app.py"]
    assert run_git(path, "status", "--porcelain") == ""


def test_git_error_is_an_orchestra_error_with_one_sentence():
    error = GitError("git x failed in /r: boom")
    assert isinstance(error, OrchestraError) and error.argv == [] and error.returncode is None and error.stderr == ""


def test_errors_of_the_in_memory_merges_carry_git_s_stderr(repo):
    from orchestra.mergetree import _merge_batch

    project = worktrees.discover(repo)
    with pytest.raises(GitError) as caught:
        _merge_batch(project, [("1" * 40, "main")])
    assert caught.value.argv[:3] == ["git", "merge-tree", "--stdin"] and caught.value.returncode not in (0, None)
    assert "not something we can merge" in caught.value.stderr
