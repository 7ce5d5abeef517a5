"""`up`'s use cases in-process: bringing the session up after its tmux server died, and resuming
what it found lost into the layout asked for. The command runs in test_commands.py."""

from __future__ import annotations

from orchestra.session import bring_up, resume_lost
from orchestra.spawning import spawn_environment
from support import spawn_demo, tmux, wait_observed


def test_lost_agents_resumed_by_up_join_the_tiled_window(project, isolated):
    spawn_demo(project, "come back", "me too", delay="60")
    wait_observed(project, {"come-back": "running", "me-too": "running"})
    tmux(isolated, "kill-server")
    result = bring_up(project, "tiled")
    assert result.created and [a.name for a in result.lost] == ["come-back", "me-too"]
    assert result.window is None  # nothing to tile yet
    env = {**spawn_environment(), "ORCHESTRA_DEMO_DELAY": "60"}
    resumed = resume_lost(project, result, env, "tiled")
    assert [r.agent.name for r in resumed.resumed] == ["come-back", "me-too"] and not resumed.skipped
    agents = wait_observed(project, {"come-back": "running", "me-too": "running"})
    assert result.window is not None and {a.window for a in agents} == {result.window}


def test_in_the_windows_layout_each_resumed_agent_has_its_own(project, isolated):
    spawn_demo(project, "alone", delay="60")
    wait_observed(project, {"alone": "running"})
    tmux(isolated, "kill-server")
    result = bring_up(project)
    resumed = resume_lost(project, result, {**spawn_environment(), "ORCHESTRA_DEMO_DELAY": "60"})
    assert [r.agent.name for r in resumed.resumed] == ["alone"] and result.window is None
    (agent,) = wait_observed(project, {"alone": "running"})
    assert tmux(isolated, "display-message", "-p", "-t", agent.pane, "#{window_name}").stdout.strip() == "alone"
