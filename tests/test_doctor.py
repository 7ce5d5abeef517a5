"""`doctor`'s checks, in-process: what it finds in and outside a project. The command, with its
marks, exit code and --fix, runs in test_commands.py."""

from __future__ import annotations

from orchestra.doctor import diagnose
from support import git


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


def test_a_config_every_command_refuses_is_a_failed_check_not_an_error(repo, monkeypatch):
    (repo / "orchestra.toml").write_text('[orchestra]\ndefault_agnet = "demo"\n')
    checks = by_name(diagnose(cwd=repo))
    assert checks["tmux"].ok and checks["git"].ok
    assert checks["config"].ok is False and "unknown key 'default_agnet' in [orchestra]" in checks["config"].detail
    assert "project" not in checks


def test_outside_a_project_only_the_tools_are_checked(tmp_path):
    checks = by_name(diagnose(cwd=tmp_path))
    assert checks["project"].ok is None and "git repository" in checks["project"].detail
    assert set(checks) == {"tmux", "git", "project"}


def test_a_repository_without_commits_has_no_base(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    (empty / "orchestra.toml").write_text('[orchestra]\ndefault_agent = "demo"\n')
    checks = by_name(diagnose(cwd=empty))
    assert checks["project"].ok is True and checks["base"].ok is False


def test_a_healthy_project_passes(repo):
    (repo / "orchestra.toml").write_text('[orchestra]\ndefault_agent = "demo"\n')
    checks = diagnose(cwd=repo)
    assert all(c.ok is not False for c in checks), [c for c in checks if c.ok is False]
    assert by_name(checks)["project"].detail == str(repo)
