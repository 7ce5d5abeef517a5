"""Bad input: one clear sentence on stderr, a non-zero exit, no traceback, and nothing half-made."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from support import branches, git, tmux, worktree_paths


def assert_clean_failure(result, *phrases: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("orchestra: "), message
    assert len(message.splitlines()) == 1, message
    for phrase in phrases:
        assert phrase in message, message


def assert_nothing_made(repo: Path, socket: str) -> None:
    assert branches(repo) == ["main"]
    assert worktree_paths(repo) == [str(repo)]
    state = repo / ".git" / "orchestra" / "state.json"
    assert not state.exists() or json.loads(state.read_text())["agents"] == {}
    windows = tmux(socket, "list-windows", "-a", "-F", "#{window_name}").stdout.split()
    assert windows in ([], ["board"])
    assert (
        not list((repo.parent / "project.worktrees").glob("*"))
        if (repo.parent / "project.worktrees").exists()
        else True
    )


def test_not_a_git_repository(orchestra, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    result = orchestra("spawn", "--agent", "demo", "task", cwd=folder, check=False)
    assert_clean_failure(result, "not inside a git repository")


def test_repository_with_no_commits(orchestra, tmp_path, isolated):
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    result = orchestra("spawn", "--agent", "demo", "task", cwd=empty, check=False)
    assert_clean_failure(result, "no commits yet")
    assert git(empty, "branch", "--list").strip() == ""


def test_bare_repository(orchestra, tmp_path):
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    result = orchestra("spawn", "--agent", "demo", "task", cwd=bare, check=False)
    assert_clean_failure(result, "bare repository")


@pytest.mark.parametrize("name", ["has space", "../escape", "-dash", "a..b", "x.lock", "semi;colon"])
def test_invalid_name(orchestra, repo, isolated, name):
    result = orchestra("spawn", "--agent", "demo", "--name", name, "task", check=False)
    assert_clean_failure(result, "not a valid agent name")
    assert_nothing_made(repo, isolated)


def test_base_that_does_not_exist(orchestra, repo, isolated):
    result = orchestra("spawn", "--agent", "demo", "--base", "no-such-branch", "task", check=False)
    assert_clean_failure(result, "no-such-branch", "not a branch, tag or commit")
    assert_nothing_made(repo, isolated)


def test_tmux_not_installed(orchestra, repo, tmp_path, isolated):
    bin_dir = tmp_path / "bin-without-tmux"
    bin_dir.mkdir()
    os.symlink(shutil.which("git"), bin_dir / "git")
    env = {**os.environ, "PATH": str(bin_dir)}
    result = orchestra("spawn", "--agent", "demo", "task", env=env, check=False)
    assert_clean_failure(result, "tmux is not installed")
    assert_nothing_made(repo, isolated)


def test_agent_cli_not_installed(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[agents.claude]\ncommand = ["no-such-agent-cli-here"]\n')
    result = orchestra("spawn", "--agent", "claude", "task one", "task two", check=False)
    assert_clean_failure(result, "no-such-agent-cli-here", "not installed")
    assert_nothing_made(repo, isolated)


def test_unknown_agent_kind(orchestra, repo, isolated):
    result = orchestra("spawn", "--agent", "nope", "task", check=False)
    assert_clean_failure(result, "unknown agent kind 'nope'", "demo")
    assert_nothing_made(repo, isolated)


def test_config_syntax_error_names_file_and_line(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[orchestra]\ndefault_agent = "demo"\nbase = \n')
    result = orchestra("spawn", "task", check=False)
    assert_clean_failure(result, "orchestra.toml", "line 3")
    assert_nothing_made(repo, isolated)


def test_config_unknown_key_suggests_the_close_one(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[orchestra]\n\ndefualt_agent = "demo"\n')
    result = orchestra("ls", check=False)
    assert_clean_failure(result, "orchestra.toml, line 3", "defualt_agent", "did you mean 'default_agent'")


def test_config_unknown_table(orchestra, repo):
    (repo / "orchestra.toml").write_text("[worktrees]\ncopy = []\n")
    result = orchestra("ls", check=False)
    assert_clean_failure(result, "line 1", "worktrees", "did you mean 'worktree'")


def test_config_wrong_type(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[worktree]\ncopy = ".env"\n')
    result = orchestra("spawn", "--agent", "demo", "task", check=False)
    assert_clean_failure(result, "orchestra.toml, line 2", "'worktree.copy' must be a list of strings")
    assert_nothing_made(repo, isolated)


def test_user_level_config_errors_name_that_file(orchestra, repo):
    user_file = Path(os.environ["ORCHESTRA_HOME"]) / "config.toml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text("[ports]\nrange = [5000, 4000]\n")
    result = orchestra("ls", check=False)
    assert_clean_failure(result, str(user_file), "two port numbers")


def test_kill_unknown_agent(orchestra, repo):
    result = orchestra("kill", "ghost", check=False)
    assert_clean_failure(result, "no agent named 'ghost'")


def test_empty_task(orchestra, repo, isolated):
    result = orchestra("spawn", "--agent", "demo", "   ", check=False)
    assert_clean_failure(result, "task is empty")
    assert_nothing_made(repo, isolated)


def test_pre_spawn_failure_midway_leaves_nothing(orchestra, repo, isolated):
    """The second task fails its checks: the first is not created either."""
    (repo / "orchestra.toml").write_text('[agents.broken]\ncommand = ["no-such-agent-cli-here", "{task}"]\n')
    tasks = repo.parent / "tasks.toml"
    tasks.write_text('[[task]]\ntask = "fine"\nagent = "demo"\n[[task]]\ntask = "broken"\nagent = "broken"\n')
    result = orchestra("spawn", "--file", str(tasks), check=False)
    assert_clean_failure(result, "no-such-agent-cli-here")
    assert_nothing_made(repo, isolated)


def test_damaged_state_file(orchestra, repo):
    state = repo / ".git" / "orchestra"
    state.mkdir()
    (state / "state.json").write_text("{not json")
    result = orchestra("ls", check=False)
    assert_clean_failure(result, "state file", "damaged")


def test_a_tasks_file_that_is_missing_or_a_folder(orchestra, repo, isolated, tmp_path):
    for path, words in ((tmp_path / "nowhere.toml", "does not exist"), (tmp_path, "is a folder")):
        result = orchestra("spawn", "--agent", "demo", "--no-attach", "--file", str(path), check=False)
        assert_clean_failure(result, words)
        assert_nothing_made(repo, isolated)


def test_a_gemini_settings_file_orchestra_cannot_add_its_hooks_to(orchestra, repo, isolated):
    """The repository's `.gemini/settings.json` is not JSON: the agent is not started, nothing is left."""
    (repo / ".gemini").mkdir()
    (repo / ".gemini" / "settings.json").write_text("{ // a comment\n}\n")
    (repo / "orchestra.toml").write_text('[agents.gemini]\ncommand = ["true"]\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "gemini settings with a comment")
    result = orchestra("spawn", "--agent", "gemini", "--no-attach", "a task", check=False)
    assert_clean_failure(result, ".gemini/settings.json is not a JSON object")
    assert_nothing_made(repo, isolated)


def test_a_gemini_settings_folder_linked_to_the_main_checkout_is_refused(orchestra, repo, isolated):
    """`[worktree] symlink = [".gemini"]` would have orchestra write its hooks into the main checkout's file."""
    (repo / ".gemini").mkdir()
    (repo / ".gemini" / "settings.json").write_text('{"model": {"name": "mine"}}\n')
    (repo / "orchestra.toml").write_text('[worktree]\nsymlink = [".gemini"]\n[agents.gemini]\ncommand = ["true"]\n')
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "link the gemini settings")
    result = orchestra("spawn", "--agent", "gemini", "--no-attach", "a task", check=False)
    assert_clean_failure(result, "is a symbolic link", "[worktree] copy")
    assert_nothing_made(repo, isolated)
    assert (repo / ".gemini" / "settings.json").read_text() == '{"model": {"name": "mine"}}\n'
