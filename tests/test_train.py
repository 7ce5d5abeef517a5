"""`orchestra merge --all` as a train: the forecast's order, left-out agents named with their files,
the others landing, and the target never moving to a commit the check did not pass."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import test_github
from orchestra import merging
from orchestra.context import Context
from orchestra.reconcile import find
from support import agents_json, git, wait_for, worktree_paths
from test_bad_input import assert_clean_failure
from test_merging import conflicting_agents, finished_agent, tip

github_api = test_github.github_api  # the stand-in GitHub API and `gh`, as fixtures here too
gh_log = test_github.gh_log


def commit_on_main(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-qm", f"main changes {path}")


def five_agents(ctx: Context) -> dict[str, str]:
    """In spawn order: `early` conflicts with main, `left` and `right` with each other, `clean-a`
    and `clean-b` with nothing. Returns each branch's tip before the train."""
    root = ctx.project.root
    finished_agent(ctx, "early", {"config.txt": "the agent's setting\n"})
    finished_agent(ctx, "left", {"README.md": "# the left version\n"})
    finished_agent(ctx, "clean-a")
    finished_agent(ctx, "right", {"README.md": "# the right version\n"})
    finished_agent(ctx, "clean-b")
    commit_on_main(root, "config.txt", "main's own setting\n")  # after `early` branched off
    return {name: tip(root, f"orchestra/{name}") for name in ("early", "left", "clean-a", "right", "clean-b")}


def checking(tmp_path: Path) -> tuple[str, Path]:
    """A check that passes and writes down each commit it checked."""
    log = tmp_path / "checked.log"
    return f"git rev-parse HEAD >> {log}", log


def by_name(results: list[merging.Merged]) -> dict[str, merging.Merged]:
    return {r.name: r for r in results}


def test_the_train_lands_the_most_and_leaves_out_the_conflicting_ones_with_their_files(project, tmp_path):
    ctx = project
    root = ctx.project.root
    tips = five_agents(ctx)
    (root / "mine.txt").write_text("the person's own untracked file\n")
    before = tip(root)
    check, log = checking(tmp_path)

    results = merging.merge(ctx, [], every=True, check=check)

    # Those that conflict with nothing first, then the pair (spawn order), the target's conflict last.
    assert [r.name for r in results] == ["clean-a", "clean-b", "left", "right", "early"]
    assert [r.result for r in results] == ["merged", "merged", "merged", "left out", "left out"]
    got = by_name(results)
    assert got["right"].files == ["README.md"] and got["early"].files == ["config.txt"]
    assert got["right"].message == "left out: it would conflict with main in README.md now that left landed"
    assert got["early"].message == "left out: it would conflict with main in config.txt"
    assert not any(r.handed_back for r in results)

    # The target moved only to commits the check passed, one per landed agent; its last is the tip.
    checked = log.read_text().split()
    landed = git(root, "rev-list", "--first-parent", f"{before}..main").split()
    assert len(landed) == 3 and set(landed) <= set(checked) and checked[-1] == tip(root)
    tree = git(root, "ls-tree", "-r", "--name-only", "main").split()
    assert {"notes/clean-a.md", "notes/clean-b.md"} <= set(tree)
    assert git(root, "show", "main:README.md") == "# the left version\n"
    assert git(root, "show", "main:config.txt") == "main's own setting\n"

    # The main checkout followed the target and nothing else; left-out work is untouched.
    assert git(root, "status", "--porcelain") == "?? mine.txt\n"
    assert (root / "README.md").read_text() == "# the left version\n"
    for name in ("right", "early"):
        assert tip(root, f"orchestra/{name}") == tips[name]
        assert git(Path(ctx.state.read()[name].worktree), "status", "--porcelain") == ""
    assert [p for p in worktree_paths(root) if "/orchestra/merge-" in p] == []

    agents = ctx.state.read()
    assert {n: a.status.value for n, a in agents.items()} == {
        "early": "exited",
        "left": "merged",
        "clean-a": "merged",
        "right": "exited",
        "clean-b": "merged",
    }
    assert agents["right"].error == f"merge {got['right'].message}"
    left_out = [e for e in ctx.state.read_events() if e["type"] == "merge-left-out"]
    assert [(e["agent"], e["data"]["files"]) for e in left_out] == [("right", ["README.md"]), ("early", ["config.txt"])]


def test_stop_ends_the_train_at_the_first_conflict(project):
    ctx = project
    five_agents(ctx)
    results = merging.merge(ctx, [], every=True, on_conflict="stop")
    assert [(r.name, r.result) for r in results] == [
        ("clean-a", "merged"),
        ("clean-b", "merged"),
        ("left", "merged"),
        ("right", "left out"),
        ("early", "not tried"),
    ]
    assert by_name(results)["right"].message.endswith("; the train stopped here")
    assert ctx.state.read()["early"].error is None  # not tried: nothing said about it


def test_the_config_key_chooses_and_the_option_overrides_it(project):
    root = project.project.root
    (root / "orchestra.toml").write_text('[merge]\non_conflict = "stop"\n')
    git(root, "add", "orchestra.toml")
    git(root, "commit", "-qm", "stop trains at a conflict")
    ctx = Context.open()
    finished_agent(ctx, "early", {"config.txt": "the agent's setting\n"})
    for name in ("first", "second"):
        finished_agent(ctx, name, {"shared.txt": f"{name}'s version\n"})
    finished_agent(ctx, "third")
    commit_on_main(root, "config.txt", "main's own setting\n")
    assert ctx.config.merge["on_conflict"] == "stop"

    stopped = merging.merge(ctx, [], every=True)
    assert [(r.name, r.result) for r in stopped] == [
        ("third", "merged"),
        ("first", "merged"),
        ("second", "left out"),
        ("early", "not tried"),
    ]
    skipped = merging.merge(ctx, [], every=True, on_conflict="skip")
    assert [(r.name, r.result) for r in skipped] == [("early", "left out"), ("second", "left out")]


def test_a_conflict_the_forecast_did_not_see_leaves_the_agent_out_with_gits_files(project):
    """A rebase replays commits one by one: a change made and undone on the branch merges cleanly
    as a whole (the forecast's view) but stops the rebase on its first commit."""
    ctx = project
    root = ctx.project.root
    agent = finished_agent(ctx, "zigzag", {"README.md": "# zig\n"})
    worktree = Path(agent.worktree)
    (worktree / "README.md").write_text("# project\n")
    (worktree / "notes").mkdir()
    (worktree / "notes" / "zigzag.md").write_text("and back\n")
    git(worktree, "add", "-A")
    git(worktree, "commit", "-qm", "undo the readme, add notes")
    finished_agent(ctx, "plain")
    commit_on_main(root, "README.md", "# main's readme\n")
    before = tip(root)

    results = merging.merge(ctx, [], every=True, strategy="rebase")

    got = by_name(results)
    assert got["plain"].result == "merged"
    assert got["zigzag"].result == "left out" and got["zigzag"].files == ["README.md"]
    assert got["zigzag"].message.startswith("left out: its merge conflicted with main in README.md")
    assert git(root, "rev-list", "--count", f"{before}..main").strip() == "1"  # only plain's commit
    assert (root / "README.md").read_text() == "# main's readme\n" and git(root, "status", "--porcelain") == ""


def test_a_failing_check_stops_the_train_unless_told_to_keep_going(project):
    ctx = project
    root = ctx.project.root
    finished_agent(ctx, "good")
    finished_agent(ctx, "breaks", {"broken.txt": "this breaks the build\n"})
    finished_agent(ctx, "later")
    before = tip(root)
    check = "test ! -f broken.txt"

    results = merging.merge(ctx, [], every=True, check=check)
    assert [(r.name, r.result) for r in results] == [("good", "merged"), ("breaks", "failed"), ("later", "not tried")]
    assert "the check `test ! -f broken.txt` failed" in by_name(results)["breaks"].message
    assert git(root, "rev-list", "--first-parent", "--count", f"{before}..main").strip() == "1"

    again = merging.merge(ctx, [], every=True, check=check, keep_going=True)
    assert [(r.name, r.result) for r in again] == [("breaks", "failed"), ("later", "merged")]
    assert "broken.txt" not in git(root, "ls-tree", "-r", "--name-only", "main")


def test_named_agents_keep_the_queue_in_the_order_given(project):
    ctx = project
    for name in ("one", "two"):
        finished_agent(ctx, name, {"shared.txt": f"{name}'s version\n"})
    finished_agent(ctx, "three")
    results = merging.merge(ctx, ["two", "one", "three"])
    assert [(r.name, r.result) for r in results] == [("two", "merged"), ("one", "failed"), ("three", "not tried")]
    assert "merging conflicts in shared.txt" in results[1].message and not results[1].left_out


def test_merge_all_json_reports_each_agent(orchestra, repo):
    conflicting_agents(orchestra, repo)  # left and right rewrite the readme; third writes its notes
    before = tip(repo)
    result = orchestra("merge", "--all", "--json", check=False)
    assert result.returncode == 1  # one agent did not land
    items = json.loads(result.stdout)
    assert [(i["name"], i["result"]) for i in items] == [("third", "merged"), ("left", "merged"), ("right", "left out")]
    right = items[2]
    assert right["files"] == ["README.md"] and right["handed_back"] is False and right["ok"] is False
    assert right["message"] == "left out: it would conflict with main in README.md now that left landed"
    assert items[0]["ok"] and items[0]["message"].startswith("merged into main")
    for item in items:
        assert set(item) >= {"name", "result", "message", "files", "handed_back", "ok", "url", "committed", "skipped"}
    assert git(repo, "rev-list", "--first-parent", "--count", f"{before}..main").strip() == "2"
    agents = {a["name"]: a for a in agents_json(orchestra)}
    assert agents["right"]["status"] == "exited" and "left out" in agents["right"]["error"]

    text = orchestra("merge", "--all", check=False)
    assert text.returncode == 1 and text.stdout == ""
    assert "orchestra: right: left out: it would conflict with main in README.md" in text.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--all", "--on-conflict", "maybe"], "--on-conflict takes skip, stop or handback, not 'maybe'"),
        (["some-agent", "--on-conflict", "stop"], "use them with --all"),
        (["--all", "--wait"], "--wait waits for agents handed back"),
        (["--all", "--on-conflict", "handback", "--timeout", "9"], "--timeout bounds --wait"),
        (["--all", "--on-conflict", "handback", "--wait", "--timeout", "soon"], "--timeout takes a number"),
        (["--all", "--on-conflict", "handback", "--wait", "--timeout", "0"], "greater than 0"),
    ],
)
def test_bad_train_options_are_one_sentence(orchestra, repo, args, words):
    before = tip(repo)
    assert_clean_failure(orchestra("merge", *args, check=False), words)
    assert tip(repo) == before


def test_a_bad_on_conflict_in_the_config_is_named(orchestra, repo):
    (repo / "orchestra.toml").write_text('[merge]\non_conflict = "later"\n')
    result = orchestra("merge", "--all", check=False)
    assert_clean_failure(result, "on_conflict", "orchestra.toml", '"skip" or "stop" or "handback"')


def test_pull_requests_open_in_train_order_naming_the_agents_they_meet(
    project, tmp_path, github_api, gh_log, monkeypatch
):
    root = project.project.root
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(root, "remote", "add", "origin", str(bare))
    (root / "orchestra.toml").write_text(
        f'[plugins.github]\napi_url = "{github_api.url}"\nrepository = "octo/project"\n'
    )
    git(root, "add", "orchestra.toml")
    git(root, "commit", "-qm", "configure the github plugin")
    git(root, "push", "-q", "origin", "main")
    monkeypatch.setenv("GITHUB_TOKEN", test_github.TOKEN)
    ctx = Context.open()
    finished_agent(ctx, "left", {"README.md": "# the left version\n", "shared.py": "x = 1\n"})
    finished_agent(ctx, "right", {"README.md": "# the right version\n"})
    finished_agent(ctx, "apart")
    before = tip(root)

    results = merging.merge(ctx, [], every=True, strategy="pr")

    assert [(r.name, r.result) for r in results] == [("apart", "merged"), ("left", "merged"), ("right", "merged")]
    opened = [r["json"] for r in github_api.requests if r["method"] == "POST"]
    assert [pr["head"] for pr in opened] == ["orchestra/apart", "orchestra/left", "orchestra/right"]
    bodies = {pr["head"]: pr["body"] for pr in opened}
    assert "- conflicts with agent `right` in `README.md`" in bodies["orchestra/left"]
    assert "- conflicts with agent `left` in `README.md`" in bodies["orchestra/right"]
    assert "Other agents' work" not in bodies["orchestra/apart"]
    assert tip(root) == before and os.environ["GITHUB_TOKEN"] not in json.dumps([r.to_dict() for r in results])


# -- handing conflicts back, and waiting for the agents to resolve them ------------------------

SILENT_AGENT = """
import json, os, subprocess, sys
from pathlib import Path

common = subprocess.run(["git", "rev-parse", "--git-common-dir"], capture_output=True, text=True, check=True)
state_dir = str(Path(common.stdout.strip()).resolve() / "orchestra")
Path("README.md").write_text("# the silent agent's readme\\n")
subprocess.run(["git", "commit", "--quiet", "-am", "rewrite the readme"], check=True)
event = json.dumps({"event": "turn-ended", "message": "wrote the readme"})
subprocess.run([sys.executable, "-m", "orchestra", "_hook", "--state-dir", state_dir, os.environ["ORCHESTRA_AGENT"], event])
for line in sys.stdin:  # takes what it is told, and never finishes another turn
    pass
"""


def live_agent(ctx: Context, kind: str, task: str):
    """An agent of `kind` spawned in its tmux window, once it is done with its first turn, at its prompt."""
    from orchestra.spawning import TaskSpec, spawn, spawn_environment

    result = spawn(ctx, [TaskSpec(task=task, agent=kind)], spawn_environment())
    assert not result.failures, result.failures
    (agent,) = result.agents
    wait_for(lambda: find(ctx, agent.name).status.value == "done", what=f"{agent.name} to be done")
    return agent


def with_agent_kinds(repo: Path, kinds: dict[str, list[str]]) -> Context:
    (repo / "orchestra.toml").write_text(
        "".join(f"[agents.{k}]\ncommand = {json.dumps(c)}\n" for k, c in kinds.items())
    )
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "configure the scripted agents")
    return Context.open()


def test_handback_asks_the_left_out_agent_and_wait_merges_it_once_it_resolved(repo, monkeypatch, tmp_path):
    from test_handback import AGENT

    prompts = tmp_path / "prompts"
    monkeypatch.chdir(repo)
    ctx = with_agent_kinds(
        repo, {"resolver": [sys.executable, str(AGENT), str(prompts), "README.md", "# the agent's readme"]}
    )
    finished_agent(ctx, "first", {"README.md": "# first's readme\n"})
    name = live_agent(ctx, "resolver", "rewrite the readme").name
    before = tip(repo)

    results = merging.merge(ctx, [], every=True, on_conflict="handback", wait=True, timeout=60)

    assert [(r.name, r.result, r.handed_back) for r in results] == [("first", "merged", False), (name, "merged", True)]
    assert "git merge main" in prompts.read_text()  # orchestra's words reached the agent
    assert (repo / "README.md").read_text() == "# first's readme\n# the agent's readme\n"
    assert git(repo, "rev-list", "--first-parent", "--count", f"{before}..main").strip() == "2"
    assert git(repo, "status", "--porcelain") == ""
    (left_out,) = [e for e in ctx.state.read_events() if e["type"] == "merge-left-out"]
    assert left_out["agent"] == name and left_out["data"]["handed_back"] is True


def test_wait_says_which_handed_back_agent_did_not_finish_in_time(repo, monkeypatch, tmp_path):
    script = tmp_path / "silent_agent.py"
    script.write_text(SILENT_AGENT)
    monkeypatch.chdir(repo)
    ctx = with_agent_kinds(repo, {"silent": [sys.executable, str(script)]})
    finished_agent(ctx, "first", {"README.md": "# first's readme\n"})
    name = live_agent(ctx, "silent", "rewrite the readme").name
    branch = tip(repo, f"orchestra/{name}")

    results = merging.merge(ctx, [], every=True, on_conflict="handback", wait=True, timeout=1)

    assert [(r.name, r.result, r.handed_back) for r in results] == [
        ("first", "merged", False),
        (name, "left out", True),
    ]
    assert results[1].message == (
        "left out: it would conflict with main in README.md now that first landed; handed back to the agent "
        "to bring its branch up to date; it did not finish its turn within 1 second"
    )
    assert tip(repo, f"orchestra/{name}") == branch and (repo / "README.md").read_text() == "# first's readme\n"


def test_handback_leaves_an_agent_that_is_not_at_its_prompt_alone(project):
    ctx = project
    finished_agent(ctx, "first", {"README.md": "# first's readme\n"})
    finished_agent(ctx, "second", {"README.md": "# second's readme\n"})  # exited: no prompt to type into
    results = merging.merge(ctx, [], every=True, on_conflict="handback")
    assert [(r.name, r.result, r.handed_back) for r in results] == [
        ("first", "merged", False),
        ("second", "left out", False),
    ]
    assert results[1].message.endswith("; not handed back, as it is not at its prompt (it is exited)")
    assert [e for e in ctx.state.read_events() if e["type"] == "handback"] == []
