"""The tmux runner (orchestra.tmux.Tmux.run) on the test's own tmux server: its errors keep what ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestra.errors import OrchestraError, TmuxError
from orchestra.tmux import AgentWindow, Tmux, version


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


def _windows(tmp_path: Path, names: list[str], size: int = 0) -> list[AgentWindow]:
    """Agent windows running `sleep 60`, with `size` more arguments (tmux refuses them before sleep sees them)."""
    padding = ["0"] * size
    return [AgentWindow(name, tmp_path, ["sleep", "60", *padding], ["true"], f"launch-{name}") for name in names]


def test_agent_windows_open_in_one_invocation_each_marked_and_hooked(isolated, tmp_path):
    tmux = Tmux()
    tmux.cmd("new-session", "-d", "-s", "s", "-c", str(tmp_path), "--", "sleep", "60")
    names = [f"agent-{n}" for n in range(60)]  # more than one invocation holds
    opened, stopped = tmux.new_agent_windows("s", _windows(tmp_path, names))
    assert stopped is None and len(opened) == 60
    panes = tmux.panes() or {}
    assert [(panes[p].window, panes[p].window_name, panes[p].agent, panes[p].launch) for _w, p in opened] == [
        (w, n, n, f"launch-{n}") for (w, _p), n in zip(opened, names, strict=True)
    ]
    hooks = tmux.cmd("show-hooks", "-w", "-t", opened[-1][1], "pane-died")
    assert hooks and "true" in hooks[0]
    assert tmux.cmd("show-options", "-w", "-v", "-t", opened[0][1], "remain-on-exit") == ["on"]


def test_a_window_tmux_refuses_stops_the_rest_and_is_not_left_open(isolated, tmp_path):
    tmux = Tmux()
    tmux.cmd("new-session", "-d", "-s", "s", "-c", str(tmp_path), "--", "sleep", "60")
    windows = _windows(tmp_path, ["first", "second", "third"])
    too_long = _windows(tmp_path, ["second"], size=10_000)[0]  # past tmux's 16 kB command limit
    opened, stopped = tmux.new_agent_windows("s", [windows[0], too_long, windows[2]])
    assert stopped is not None and "new-window failed" in str(stopped)
    assert len(opened) == 1
    names = sorted(p.window_name for p in (tmux.panes() or {}).values())
    assert names == ["first", "sleep"], "the refused window is not open, the one after it was not tried"
    with pytest.raises(TmuxError):
        tmux.new_agent_window("s", "second", tmp_path, too_long.argv, ["true"], "launch-second")
