"""`spawn --no-worktree`: one agent in the main checkout itself, never merged, synced, cleaned or
removed with a worktree, through the real command line, tmux and git."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from support import agents_json, branches, git, statuses, wait_for, worktree_paths

# A scripted agent that records the folder it runs in (the task is the file to write it to),
# then stays at work until it is stopped, or exits at once when its task ends in ".once".
READER = (
    "import os, sys, time\n"
    "open(sys.argv[1], 'w').write(os.getcwd())\n"
    "None if sys.argv[1].endswith('.once') else time.sleep(600)\n"
)


@pytest.fixture
def reader(repo, tmp_path) -> Path:
    (repo / "orchestra.toml").write_text(
        f'[agents.reader]\ncommand = [{json.dumps(sys.executable)}, "-c", {json.dumps(READER)}, "{{task}}"]\n'
    )
    (repo / "notes.md").write_text("the user's own, uncommitted\n")
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "configure the reader agent")
    return tmp_path / "out"


def checkout_as_it_is(repo: Path) -> tuple[str, str, str, list[str]]:
    """What the user sees of the main checkout: its HEAD, branch, status and files."""
    files = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if ".git" not in p.parts)
    return git(repo, "rev-parse", "HEAD"), git(repo, "branch", "--show-current"), git(repo, "status", "--short"), files


def test_it_runs_in_the_main_checkout_warns_on_a_second_and_is_never_merged(orchestra, repo, reader):
    reader.mkdir()
    before = checkout_as_it_is(repo)
    first = reader / "review.txt"
    (agent,) = json.loads(
        orchestra("spawn", "--agent", "reader", "--no-worktree", "--name", "review", "--json", str(first)).stdout
    )
    assert agent["no_worktree"] is True and agent["worktree"] == str(repo.resolve())
    assert agent["branch"] == "main"
    wait_for(lambda: first.exists() and first.read_text(), what="the agent to start")
    assert first.read_text() == str(repo.resolve())  # it runs in the main checkout itself
    assert worktree_paths(repo) == [str(repo)] and branches(repo) == ["main"]  # nothing made for it

    second = orchestra("spawn", "--agent", "reader", "--no-worktree", "--name", "question", str(reader / "q.txt"))
    assert "runs in the main checkout, where review already runs" in second.stderr
    wait_for(lambda: statuses(orchestra).get("question") == "running", what="the second agent to run")

    table = orchestra("ls").stdout
    assert "review" in table and "main (main checkout)" in table

    refused = orchestra("merge", "review", check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "works in the main checkout (spawned with --no-worktree)" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert orchestra("sync", "review", check=False).returncode == 1
    conflicts = orchestra("conflicts", "--json").stdout
    assert "review" not in conflicts and "question" not in conflicts  # left out of the forecast

    orchestra("kill", "review", "question")
    assert agents_json(orchestra) == []
    assert repo.is_dir() and checkout_as_it_is(repo) == before
    assert worktree_paths(repo) == [str(repo)] and branches(repo) == ["main"]


def test_a_tasks_file_says_which_tasks_run_in_the_main_checkout(orchestra, repo, reader, tmp_path):
    reader.mkdir()
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(
        f'[[task]]\ntask = {json.dumps(str(reader / "r.txt"))}\nname = "review"\nno_worktree = true\n\n'
        f'[[task]]\ntask = {json.dumps(str(reader / "b.txt"))}\nname = "build"\n'
    )
    spawned = json.loads(orchestra("spawn", "--agent", "reader", "--file", str(tasks), "--json").stdout)
    by_name = {a["name"]: a for a in spawned}
    assert by_name["review"]["no_worktree"] is True and by_name["review"]["worktree"] == str(repo.resolve())
    assert by_name["build"]["no_worktree"] is False and by_name["build"]["worktree"] != str(repo.resolve())
    assert "orchestra/build" in branches(repo) and "orchestra/review" not in branches(repo)


def test_clean_removes_only_the_record_of_a_finished_one(orchestra, repo, reader):
    reader.mkdir()
    done = reader / "answer.once"
    orchestra("spawn", "--agent", "reader", "--no-worktree", "--name", "answer", str(done))
    wait_for(lambda: statuses(orchestra).get("answer") == "exited", what="the agent to exit")
    (repo / "scratch.txt").write_text("the user's uncommitted work\n")  # made while it ran: still the user's
    before = checkout_as_it_is(repo)

    assert orchestra("merge", "--all").returncode == 0
    assert statuses(orchestra) == {"answer": "exited"}  # the train leaves it out
    out = orchestra("clean").stdout
    assert "removed answer" in out
    assert agents_json(orchestra) == [] and checkout_as_it_is(repo) == before
    assert (repo / "scratch.txt").read_text() == "the user's uncommitted work\n"


def test_base_and_a_kind_that_writes_into_its_folder_are_refused(orchestra, repo, reader):
    result = orchestra("spawn", "--agent", "reader", "--no-worktree", "--base", "HEAD", "x", check=False)
    assert result.returncode == 1 and "--base" in result.stderr and "Traceback" not in result.stderr
    result = orchestra("spawn", "--agent", "gemini", "--no-worktree", "x", check=False)
    assert result.returncode == 1 and "cannot run in the main checkout" in result.stderr
    assert agents_json(orchestra) == []
