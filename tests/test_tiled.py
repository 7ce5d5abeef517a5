"""The tiled view: every agent as a pane of one window, and back, losing nothing."""

from __future__ import annotations

from support import agents_json, tmux, wait_for, wait_statuses


def windows(socket: str) -> list[str]:
    return tmux(socket, "list-windows", "-t", "=orchestra-project", "-F", "#{window_name}").stdout.split()


def pane_info(socket: str, pane: str, fmt: str) -> str:
    return tmux(socket, "display-message", "-p", "-t", pane, fmt).stdout.strip()


def test_up_tiled_gathers_the_agents_and_windows_gives_them_back(orchestra, repo, isolated, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    orchestra("up", "--no-attach")
    orchestra("spawn", "--agent", "demo", "--no-attach", "first worker")
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "0")  # asks at once, then waits for an answer
    orchestra("spawn", "--agent", "demo", "--no-attach", "ask me first")
    agents = {a["name"]: a for a in wait_statuses(orchestra, {"first-worker": "running", "ask-me-first": "waiting"})}
    pids = {name: pane_info(isolated, a["pane"], "#{pane_pid}") for name, a in agents.items()}

    result = orchestra("up", "--no-attach", "--tiled")
    assert "into the tiled window 'agents'" in result.stdout
    assert windows(isolated) == ["board", "agents"]
    tiled = {a["name"]: a for a in wait_statuses(orchestra, {"first-worker": "running", "ask-me-first": "waiting"})}
    assert len({a["window"] for a in tiled.values()}) == 1  # the records follow their panes
    order = tmux(isolated, "list-panes", "-t", "=orchestra-project:agents", "-F", "#{pane_id}").stdout.split()
    assert order == [agents["first-worker"]["pane"], agents["ask-me-first"]["pane"]]  # in the order spawned
    for name, agent in tiled.items():
        assert agent["pane"] == agents[name]["pane"]
        assert pane_info(isolated, agent["pane"], "#{pane_pid}") == pids[name]  # the same process, not restarted
        assert pane_info(isolated, agent["pane"], "#{@orchestra_agent}") == name
    waiting_pane = tiled["ask-me-first"]["pane"]
    wait_for(lambda: pane_info(isolated, waiting_pane, "#{@orchestra_status}") == "waiting", what="the waiting mark")
    border = pane_info(isolated, waiting_pane, "#{T:pane-border-format}")
    assert "ask-me-first" in border and "WAITING" in border
    assert orchestra("up", "--no-attach", "--tiled").stdout.count("moved") == 0  # again: nothing to do

    result = orchestra("up", "--no-attach", "--windows")
    assert "back into windows of their own" in result.stdout
    assert sorted(windows(isolated)) == ["ask-me-first", "board", "first-worker"]
    back = {a["name"]: a for a in wait_statuses(orchestra, {"first-worker": "running", "ask-me-first": "waiting"})}
    for name, agent in back.items():
        assert pane_info(isolated, agent["pane"], "#{pane_pid}") == pids[name]
        screen = tmux(isolated, "capture-pane", "-p", "-S", "-", "-t", agent["pane"]).stdout
        assert f"task: {agents[name]['task']}" in screen  # the scrollback came along


def test_kill_in_the_tiled_view_stops_only_that_agent(orchestra, repo, isolated, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_DEMO_DELAY", "60")
    (repo / "orchestra.toml").write_text('[tmux]\nlayout = "tiled"\n')
    orchestra("spawn", "--agent", "demo", "--no-attach", "stays")
    orchestra("spawn", "--agent", "demo", "--no-attach", "goes")
    wait_statuses(orchestra, {"stays": "running", "goes": "running"})
    orchestra("up", "--no-attach")  # the layout from orchestra.toml
    assert "agents" in windows(isolated)
    orchestra("kill", "goes")
    assert [a["name"] for a in agents_json(orchestra)] == ["stays"]
    wait_statuses(orchestra, {"stays": "running"})


def test_an_unknown_layout_in_the_config_is_an_error(orchestra, repo):
    (repo / "orchestra.toml").write_text('[tmux]\nlayout = "grid"\n')
    result = orchestra("up", "--no-attach", check=False)
    assert result.returncode == 1 and '\'tmux.layout\' must be "windows" or "tiled"' in result.stderr
