"""Which window `attach` goes to, in-process: by name, and the next (waiting) agent in the
session's order, cycling. The keys and the terminal are in test_attach_next.py."""

from __future__ import annotations

import pytest

from orchestra.attaching import NothingToGoTo, Place, next_pane, next_place, place_of
from orchestra.errors import OrchestraError, UnknownAgent
from support import spawn_demo, tmux, wait_observed


def test_next_pane_orders_by_window_then_pane_and_cycles():
    positions = {"%1": ("@1", 1, 0), "%2": ("@2", 2, 0), "%5": ("@5", 5, 0), "%6": ("@5", 5, 1), "%0": ("@0", 0, 0)}
    agents = ["%6", "%2", "%5", "%9"]  # %9: a pane tmux does not have
    assert next_pane(agents, positions, "%0") == "%2"
    assert next_pane(agents, positions, "%2") == "%5"
    assert next_pane(agents, positions, "%5") == "%6"
    assert next_pane(agents, positions, "%6") == "%2"
    assert next_pane(agents, positions, "%1") == "%2"  # from a window that is not an agent's
    assert next_pane(agents, positions, None) == "%2"
    assert next_pane(["%2"], positions, "%2") == "%2"
    assert next_pane(["%9"], positions, "%1") is None


def test_next_goes_round_the_agents_and_the_waiting_ones(project):
    """Outside tmux, `next` starts from the session's active pane: the board, then wherever it was moved."""
    spawn_demo(project, "first", "second", delay="60")
    spawn_demo(project, "ask one", "ask two")  # a demo task with "ask" waits for an answer
    agents = {
        a.name: a
        for a in wait_observed(
            project, {"first": "running", "second": "running", "ask-one": "waiting", "ask-two": "waiting"}
        )
    }

    def go(place) -> str:
        project.tmux.select_window(place.window, place.pane)
        return next(name for name, a in agents.items() if a.pane == place.pane)

    assert [go(next_place(project, waiting=True)) for _ in range(3)] == ["ask-one", "ask-two", "ask-one"]
    assert [go(next_place(project)) for _ in range(4)] == ["ask-two", "first", "second", "ask-one"]
    assert (
        next_place(project) == place_of(project, "ask-two") == Place(agents["ask-two"].window, agents["ask-two"].pane)
    )


def test_nothing_to_go_to_says_so_in_one_sentence_and_a_short_one(project):
    with pytest.raises(NothingToGoTo) as raised:
        next_place(project, waiting=True)
    assert raised.value.summary == "no agent is waiting for you in project"
    assert str(raised.value) == "no agent is waiting for you in project: `orchestra ls` shows them all."
    spawn_demo(project, "quick")
    wait_observed(project, {"quick": "exited"})
    with pytest.raises(NothingToGoTo, match=r"^no agent is waiting for you in project"):
        next_place(project, waiting=True)
    assert next_place(project).pane == place_of(project, "quick").pane  # an ended agent's pane stays to read


def test_a_lost_agent_has_no_window_and_resume_is_suggested(project, isolated):
    spawn_demo(project, "gone soon", delay="60")
    wait_observed(project, {"gone-soon": "running"})
    tmux(isolated, "kill-server")
    with pytest.raises(OrchestraError) as raised:
        place_of(project, "gone-soon")
    assert str(raised.value) == (
        "agent 'gone-soon' has no window to go to: it is lost. `orchestra resume gone-soon` opens it again."
    )
    with pytest.raises(UnknownAgent):
        place_of(project, "nobody")


def test_the_tiled_view_cycles_through_the_panes_of_one_window(project):
    from orchestra.session import arrange

    spawn_demo(project, "one", "two", delay="60")
    wait_observed(project, {"one": "running", "two": "running"})
    tiled = arrange(project, "tiled")[1]
    first = next_place(project)
    project.tmux.select_window(first.window, first.pane)
    second = next_place(project)
    assert first.window == second.window == tiled and first.pane != second.pane
