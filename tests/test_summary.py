"""`orchestra ls --tmux`: the status-bar line, read straight from the state file."""

from __future__ import annotations

import subprocess
import sys

from orchestra import summary
from orchestra.state import State
from support import git


def _record(name: str, status: str, pane: str = "%99") -> dict:
    # Only what ls --tmux reads, plus a pane tmux does not have: reconciling would call it lost.
    return {"name": name, "status": status, "pane": pane, "window": "@99", "worktree": f"/nowhere/{name}"}


def _write(repo, statuses: dict[str, str]) -> State:
    state = State(repo / ".git" / "orchestra")
    with state.update_raw() as agents:
        agents.update({name: _record(name, status) for name, status in statuses.items()})
    return state


def test_counts_by_status_with_tmux_styles(orchestra, repo):
    _write(
        repo, {"a": "running", "b": "starting", "c": "waiting", "d": "done", "e": "exited", "f": "done", "g": "merged"}
    )
    assert orchestra("ls", "--tmux").stdout == "⚙2 #[fg=yellow,bold]?1#[default] #[fg=green]✓3#[default]\n"


def test_failed_and_lost_are_counted_and_empty_groups_left_out(orchestra, repo):
    _write(repo, {"a": "failed", "b": "lost", "c": "waiting"})
    assert orchestra("ls", "--tmux").stdout == "#[fg=yellow,bold]?1#[default] #[fg=red]✗2#[default]\n"


def test_reads_the_records_as_stored_without_reconciling(orchestra, repo):
    state = _write(repo, {"gone": "running"})
    before = state.path.read_bytes()
    assert orchestra("ls", "--tmux").stdout == "⚙1\n"
    assert state.path.read_bytes() == before  # `orchestra ls` would have written it as lost
    assert not state.events_path.exists()


def test_from_a_subfolder_and_from_an_agents_worktree(orchestra, repo, tmp_path):
    _write(repo, {"a": "waiting"})
    (repo / "sub").mkdir()
    git(repo, "worktree", "add", "-q", "-b", "other", str(tmp_path / "wt"))
    for cwd in (repo / "sub", tmp_path / "wt"):
        assert orchestra("ls", "--tmux", cwd=cwd).stdout == "#[fg=yellow,bold]?1#[default]\n"


def test_nothing_at_all_without_agents_outside_a_repository_or_on_a_damaged_state(orchestra, repo, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / ".git" / "orchestra").mkdir()
    for cwd in (repo, outside):
        result = orchestra("ls", "--tmux", cwd=cwd)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    _write(repo, {"a": "merged"})
    assert orchestra("ls", "--tmux").stdout == ""
    State(repo / ".git" / "orchestra").path.write_text("{not json")
    result = orchestra("ls", "--tmux")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_imports_no_rich_libtmux_gitpython_or_plugins(repo):
    code = (
        "import sys\n"
        "from orchestra.cli import main\n"
        "main(['ls', '--tmux'])\n"
        "heavy = {'rich', 'libtmux', 'git', 'pluggy', 'orchestra.plugins', 'orchestra.reconcile', 'orchestra.context'}\n"
        "print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n", result.stdout


def test_state_dir_outside_a_repository_is_none(tmp_path):
    assert summary.state_dir(tmp_path) is None
    assert summary.count(tmp_path) == [0, 0, 0, 0, 0]
    assert summary.status_line([0, 0, 0, 0, 0]) == ""
