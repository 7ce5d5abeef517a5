"""The tmux runner (orchestra.tmux.Tmux.run) on the test's own tmux server: its errors keep what ran."""

from __future__ import annotations

import pytest

from orchestra.errors import OrchestraError, TmuxError
from orchestra.tmux import Tmux, version


def test_a_failing_command_keeps_its_argv_exit_code_and_stderr(isolated):
    tmux = Tmux()
    assert tmux.socket_name == isolated
    with pytest.raises(TmuxError) as caught:
        tmux.cmd("kill-window", "-t", "=nowhere:")
    error = caught.value
    assert error.argv == ["tmux", "-L", isolated, "kill-window", "-t", "=nowhere:"]
    assert error.returncode == 1 and error.stderr.strip()  # "no server running on ..." or "can't find session"
    assert str(error).startswith("tmux kill-window failed: ") and "\n" not in str(error)
    assert isinstance(error, OrchestraError) and error.exit_code == 1


def test_output_lines_and_input(isolated, tmp_path):
    tmux = Tmux()
    tmux.cmd("new-session", "-d", "-s", "s", "-c", str(tmp_path), "--", "sleep", "60")
    assert tmux.has_session("s") and not tmux.has_session("t")
    tmux.run("load-buffer", "-b", "b", "-", input="héllo\nworld\n")
    assert tmux.cmd("show-buffer", "-b", "b") == ["héllo", "world"]
    assert tmux.run("show-buffer", "-b", "none", check=False).returncode == 1


def test_a_missing_tmux_is_one_sentence_saying_to_install_it(monkeypatch, tmp_path):
    with monkeypatch.context() as patch:  # undone before conftest kills the test's server
        patch.setenv("PATH", str(tmp_path))
        with pytest.raises(TmuxError, match="tmux is not installed: install it"):
            Tmux().cmd("list-sessions")
        assert Tmux().panes() is None  # reading: nothing is alive
        assert version() is None


def test_version_is_the_installed_tmuxs():
    found = version()
    assert found is not None and (found[0].isdigit() or found.startswith("next-"))
