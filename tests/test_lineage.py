"""Lineage (`parent`, set by `orchestra mcp`'s spawn): `ls`, `report` and `kill` of a parent, with
real demo agents in a real repository and tmux."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from orchestra import lineage
from orchestra.errors import WorkAtRisk
from orchestra.spawning import TaskSpec, spawn, spawn_environment
from support import agents_json, git, wait_observed


@dataclass
class Member:
    name: str
    parent: str | None = None


def test_children_sit_under_their_parent_in_the_order_given():
    members = [Member("a"), Member("b"), Member("a1", "a"), Member("b1", "b"), Member("a1x", "a1"), Member("o", "gone")]
    shown = [(m.name, level) for m, level in lineage.ordered(members)]
    assert shown == [("a", 0), ("a1", 1), ("a1x", 2), ("b", 0), ("b1", 1), ("o", 0)]
    assert [m.name for m in lineage.descendants(members, ["a"])] == ["a1", "a1x"]
    assert [lineage.depth(members, n) for n in (None, "a", "a1", "a1x", "o")] == [0, 1, 2, 3, 2]
    looped = [Member("x", "y"), Member("y", "x")]  # a hand-edited state: shown, not lost
    assert sorted(m.name for m, _ in lineage.ordered(looped)) == ["x", "y"]
    assert lineage.depth(looped, "x") == 2


def _family(project, lead_task: str, *child_tasks: str) -> None:
    env = {**spawn_environment(), "ORCHESTRA_DEMO_DELAY": "0"}
    assert not spawn(project, [TaskSpec(lead_task, name="lead", agent="demo")], env).failures
    children = [TaskSpec(task, agent="demo", parent="lead") for task in child_tasks]
    assert not spawn(project, children, env).failures


def test_ls_and_report_show_children_under_their_parent(project, orchestra, repo):
    env = {**spawn_environment(), "ORCHESTRA_DEMO_DELAY": "0"}
    assert not spawn(project, [TaskSpec("first alone", name="alone", agent="demo")], env).failures
    _family(project, "lead the work", "child one", "child two")
    wait_observed(project, dict.fromkeys(("alone", "lead", "child-one", "child-two"), "exited"))

    parents = {a["name"]: a["parent"] for a in agents_json(orchestra)}
    assert parents == {"alone": None, "lead": None, "child-one": "lead", "child-two": "lead"}
    lines = [line for line in orchestra("ls").stdout.splitlines() if line.strip()][1:]
    assert [line.split()[0:2] for line in lines] == [
        ["alone", "demo"],
        ["lead", "demo"],
        ["└", "child-one"],
        ["└", "child-two"],
    ]

    report = orchestra("report").stdout
    assert report.index("lead  demo") < report.index("child-one") < report.index("child-two")
    assert "    child-one  demo  exited  orchestra/child-one  (worker of lead)" in report
    assert [r["name"] for r in json.loads(orchestra("report", "--json").stdout)] == [
        "alone",
        "lead",
        "child-one",
        "child-two",
    ]


def test_kill_of_a_parent_refuses_then_takes_its_children_along_never_losing_work(project, orchestra, repo):
    # The lead waits at its question; one child committed its work, the other waits too.
    _family(project, "ask before you lead", "ask first", "write notes")
    wait_observed(project, {"lead": "waiting", "ask-first": "waiting", "write-notes": "exited"})

    refused = orchestra("kill", "lead", check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert (
        refused.stderr.startswith("orchestra: agent 'lead' spawned ask-first, write-notes")
        and "--force" in refused.stderr
    )
    assert {a["name"] for a in agents_json(orchestra)} == {"lead", "ask-first", "write-notes"}

    from orchestra.removal import kill

    with pytest.raises(WorkAtRisk, match="agent 'write-notes' has"):
        kill(project, ["lead"], children=True)  # the usual rules, for each child
    assert {a["name"] for a in agents_json(orchestra)} == {"lead", "ask-first", "write-notes"}

    killed = orchestra("kill", "lead", "--force")
    assert "removed write-notes; its work is kept at refs/orchestra/trash/write-notes" in killed.stdout
    assert "removed ask-first" in killed.stdout and "removed lead" in killed.stdout
    assert agents_json(orchestra) == []
    assert "notes/write-notes.md" in git(repo, "ls-tree", "-r", "--name-only", "refs/orchestra/trash/write-notes")


def test_kill_naming_parent_and_children_needs_no_force(project, orchestra):
    _family(project, "ask before you lead", "ask first")
    wait_observed(project, {"lead": "waiting", "ask-first": "waiting"})
    killed = orchestra("kill", "lead", "ask-first")
    assert "removed lead" in killed.stdout and "removed ask-first" in killed.stdout
    assert agents_json(orchestra) == []
