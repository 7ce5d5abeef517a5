"""`orchestra spawn` through the real command line: branches, worktrees, windows, the task intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import agents_json, branches, git, statuses, tmux, wait_for, wait_statuses, worktree_paths


def test_three_demo_agents_get_branch_worktree_and_window(orchestra, repo, isolated):
    out = orchestra("spawn", "--agent", "demo", "--json", "build auth API", "write tests", "optimize queries").stdout
    created = json.loads(out)
    assert [a["name"] for a in created] == ["build-auth-api", "write-tests", "optimize-queries"]
    for agent in created:
        assert agent["branch"] == f"orchestra/{agent['name']}"
        assert Path(agent["worktree"]).is_dir()
        assert agent["window"].startswith("@") and agent["pane"].startswith("%")
    assert sorted(branches(repo)) == [
        "main",
        "orchestra/build-auth-api",
        "orchestra/optimize-queries",
        "orchestra/write-tests",
    ]
    windows = tmux(
        isolated, "list-windows", "-t", "orchestra-project", "-F", "#{window_index} #{window_name}"
    ).stdout.split("\n")
    assert windows[:4] == ["0 board", "1 build-auth-api", "2 write-tests", "3 optimize-queries"]
    wait_statuses(orchestra, {a["name"]: "exited" for a in created})
    for agent in created:
        note = Path(agent["worktree"]) / "notes" / f"{agent['name']}.md"
        assert note.read_text() == agent["task"] + "\n"
        assert not (repo / "notes").exists(), "the work stays in the agent's worktree"
        assert git(Path(agent["worktree"]), "log", "-1", "--format=%s").startswith("demo: ")


def test_ls_json_has_the_public_fields(orchestra):
    orchestra("spawn", "--agent", "demo", "--no-attach", "one task")
    [agent] = wait_for(lambda: [a for a in agents_json(orchestra) if a["status"] == "exited"], what="exit")
    for field in (
        "name",
        "task",
        "agent",
        "status",
        "branch",
        "base",
        "worktree",
        "window",
        "pane",
        "session_id",
        "port",
        "exit_code",
        "last_message",
        "created_at",
        "updated_at",
    ):
        assert field in agent
    assert agent["exit_code"] == 0
    assert agent["changes"] == {"files": 1, "added": 1, "removed": 0, "untracked": 0}
    assert agent["created_at"].endswith("+00:00")


TRICKY_TASKS = {
    "quotes": "say \"hi\" and 'bye'",
    "subshell": "$(touch {marker})",
    "backticks": "`touch {marker}`",
    "semicolon": "x; touch {marker}; y",
    "newline": "line one\nline two\n",
    "leading-dashes": "--help --version",
    "unicode": "réécrire le module 認証 🚀",
    "big": "x" * 100_000,
}


@pytest.mark.parametrize("label", list(TRICKY_TASKS))
def test_task_reaches_the_agent_byte_for_byte(orchestra, recorder, tmp_path, label):
    marker = tmp_path / "pwned"
    task = TRICKY_TASKS[label].replace("{marker}", str(marker))
    orchestra("spawn", "--agent", "recorder", "--name", label, "--no-attach", "--", task)
    wait_for(lambda: (recorder / f"{label}.done").exists(), what="the recorder to run")
    assert (recorder / f"{label}.done").read_text() == "1", "the task arrived as exactly one argument"
    assert (recorder / f"{label}.0").read_bytes() == task.encode()
    assert not marker.exists(), "nothing in the task was executed"


def test_agent_gets_spawn_environment_port_and_name(orchestra, recorder, repo):
    env = {**os.environ, "ORCHESTRA_TEST_SPAWN_ONLY": "from-the-spawning-shell", "TERM": "xterm-from-outside"}
    orchestra("spawn", "--agent", "recorder", "--name", "envy", "--no-attach", "task", env=env)
    wait_for(lambda: (recorder / "envy.done").exists(), what="the recorder to run")
    seen = dict(line.split("=", 1) for line in (recorder / "envy.env").read_text().splitlines())
    assert seen["ORCHESTRA_AGENT"] == "envy"
    assert seen["ORCHESTRA_PORT"] == "4100"
    assert seen["ORCHESTRA_TEST_SPAWN_ONLY"] == "from-the-spawning-shell"
    agent = agents_json(orchestra)[0]
    assert Path(seen["cwd"]) == Path(agent["worktree"])
    assert seen["TMUX_PANE"] == agent["pane"], "the terminal variables are the pane's own"
    assert seen["TERM"] != "xterm-from-outside"


def test_ports_are_distinct_and_from_the_configured_range(orchestra, repo):
    (repo / "orchestra.toml").write_text("[ports]\nrange = [4300, 4310]\n")
    created = json.loads(orchestra("spawn", "--agent", "demo", "--json", "a", "b", "c").stdout)
    assert sorted(a["port"] for a in created) == [4300, 4301, 4302]


def test_same_name_gets_a_suffix_never_another_agents_worktree(orchestra, repo):
    first = json.loads(orchestra("spawn", "--agent", "demo", "--json", "same task").stdout)[0]
    second = json.loads(orchestra("spawn", "--agent", "demo", "--json", "same task").stdout)[0]
    third = json.loads(orchestra("spawn", "--agent", "demo", "--json", "--name", "same-task", "x").stdout)[0]
    assert [first["name"], second["name"], third["name"]] == ["same-task", "same-task-2", "same-task-3"]
    assert len({first["worktree"], second["worktree"], third["worktree"]}) == 3


def test_tasks_file_with_per_task_agent_and_name(orchestra, repo, recorder, tmp_path):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(
        '[[task]]\ntask = "first"\nname = "alpha"\nagent = "recorder"\n\n[[task]]\ntask = "second"\nagent = "demo"\n'
    )
    created = json.loads(orchestra("spawn", "--file", str(tasks), "--json").stdout)
    assert [(a["name"], a["agent"], a["task"]) for a in created] == [
        ("alpha", "recorder", "first"),
        ("second", "demo", "second"),
    ]


def test_tasks_file_with_unknown_key_is_refused(orchestra, repo, tmp_path):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[task]]\ntask = "first"\nagnet = "demo"\n')
    result = orchestra("spawn", "--file", str(tasks), check=False)
    assert result.returncode == 1
    assert "agnet" in result.stderr and "Traceback" not in result.stderr


def test_base_option_starts_the_branch_there(orchestra, repo):
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "later.txt").write_text("later\n")
    git(repo, "add", "later.txt")
    git(repo, "commit", "-qm", "later")
    agent = json.loads(orchestra("spawn", "--agent", "demo", "--base", "HEAD~1", "--json", "old base").stdout)[0]
    assert agent["base"] == first
    assert not (Path(agent["worktree"]) / "later.txt").exists()


def test_dirty_main_checkout_is_allowed_and_untouched(orchestra, repo):
    (repo / "README.md").write_text("changed but not committed\n")
    agent = json.loads(orchestra("spawn", "--agent", "demo", "--json", "dirty main").stdout)[0]
    assert (Path(agent["worktree"]) / "README.md").read_text() == "# project\n"
    assert (repo / "README.md").read_text() == "changed but not committed\n"


def test_worktree_copy_symlink_and_setup(orchestra, repo, recorder):
    (repo / ".env").write_text("SECRET=1\n")
    (repo / "shared").mkdir()
    with open(repo / "orchestra.toml", "a") as handle:
        handle.write('[worktree]\ncopy = [".env"]\nsymlink = ["shared"]\nsetup = "echo set-up > setup-ran.txt"\n')
    agent = json.loads(orchestra("spawn", "--agent", "recorder", "--json", "--name", "setup", "task").stdout)[0]
    worktree = Path(agent["worktree"])
    wait_for(lambda: (recorder / "setup.done").exists(), what="the agent to start after setup")
    assert (worktree / ".env").read_text() == "SECRET=1\n"
    assert (worktree / "shared").is_symlink() and (worktree / "shared").resolve() == (repo / "shared").resolve()
    assert (worktree / "setup-ran.txt").read_text() == "set-up\n"


def test_failing_setup_marks_the_agent_failed(orchestra, repo, recorder):
    with open(repo / "orchestra.toml", "a") as handle:
        handle.write('[worktree]\nsetup = "exit 7"\n')
    orchestra("spawn", "--agent", "recorder", "--name", "nosetup", "--no-attach", "task")
    wait_for(lambda: statuses(orchestra).get("nosetup") == "failed", what="failed status")
    agent = agents_json(orchestra)[0]
    assert agent["exit_code"] == 7
    assert not (recorder / "nosetup.done").exists(), "the agent never started"


def test_agent_exit_codes_become_exited_and_failed(orchestra):
    orchestra("spawn", "--agent", "demo", "--no-attach", "make it fail", "make it pass")
    wait_for(lambda: statuses(orchestra) == {"make-it-fail": "failed", "make-it-pass": "exited"}, what="final statuses")
    failed = next(a for a in agents_json(orchestra) if a["name"] == "make-it-fail")
    assert failed["exit_code"] == 1


def test_two_spawns_at_once_both_recorded(orchestra, repo):
    cmd = [sys.executable, "-m", "orchestra", "spawn", "--agent", "demo", "--no-attach"]
    procs = [
        subprocess.Popen(
            [*cmd, f"parallel task {n}", f"other task {n}"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for n in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    names = {a["name"] for a in agents_json(orchestra)}
    assert names == {"parallel-task-0", "other-task-0", "parallel-task-1", "other-task-1"}
    assert len(worktree_paths(repo)) == 5
    json.loads((repo / ".git" / "orchestra" / "state.json").read_text())  # still valid JSON


def test_the_environment_never_reaches_state_or_the_event_log(orchestra, recorder, repo):
    secret = "sk-test-5ecret-value-1234"
    env = {**os.environ, "ORCHESTRA_TEST_SPAWN_ONLY": secret}
    orchestra("spawn", "--agent", "recorder", "--name", "secretive", "--no-attach", "task", env=env)
    wait_for(lambda: (recorder / "secretive.done").exists(), what="the recorder to run")
    assert f"ORCHESTRA_TEST_SPAWN_ONLY={secret}" in (recorder / "secretive.env").read_text()
    state_dir = repo / ".git" / "orchestra"
    for path in state_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
    assert list((state_dir / "launch").iterdir()) == [], "the launcher deleted its environment file"


def test_a_given_name_that_is_taken_is_changed_with_a_warning(orchestra, repo):
    git(repo, "branch", "orchestra/manual")  # made by hand, not an agent's
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "--name", "manual", "a task")
    assert "spawned manual-2" in result.stdout
    assert "the name 'manual' is taken" in result.stderr and "called 'manual-2'" in result.stderr
    assert "taken" not in orchestra("spawn", "--agent", "demo", "--no-attach", "same task").stderr


def test_env_symlinked_to_a_file_outside_is_copied_by_content(orchestra, repo, recorder, tmp_path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text("KEY=outside\n")
    (repo / ".env").symlink_to(secrets)
    with open(repo / "orchestra.toml", "a") as handle:
        handle.write('[worktree]\ncopy = [".env"]\n')
    agent = json.loads(orchestra("spawn", "--agent", "recorder", "--json", "--name", "linked", "task").stdout)[0]
    copied = Path(agent["worktree"]) / ".env"
    assert not copied.is_symlink() and copied.read_text() == "KEY=outside\n"


def test_a_copy_entry_that_leaves_the_repository_is_refused_for_what_it_is(orchestra, repo, recorder):
    with open(repo / "orchestra.toml", "a") as handle:
        handle.write('[worktree]\ncopy = ["../elsewhere.env"]\n')
    result = orchestra("spawn", "--agent", "recorder", "task", check=False)
    assert result.returncode == 1 and "'../elsewhere.env'" in result.stderr
    assert "outside the repository" in result.stderr and "Traceback" not in result.stderr
    assert branches(repo) == ["main"] and agents_json(orchestra) == []


def test_worktreeinclude_copies_the_ignored_files_it_names(orchestra, repo, recorder, tmp_path):
    (repo / ".gitignore").write_text(".env*\nlogs/\nconfig/local.json\n")
    (repo / ".worktreeinclude").write_text(
        "# Claude Code's list\n.env.local\nconfig/*.json\n!config/skip.json\nREADME.md\n"
    )
    git(repo, "add", ".gitignore", ".worktreeinclude")
    git(repo, "commit", "-qm", "ignore local files")
    secrets = tmp_path / "secrets.env"
    secrets.write_text("TOKEN=1\n")
    (repo / ".env.local").symlink_to(secrets)
    (repo / ".env.other").write_text("not listed\n")
    (repo / "config").mkdir()
    (repo / "config" / "local.json").write_text("{}\n")
    (repo / "config" / "skip.json").write_text("{}\n")  # excluded by `!`, and not ignored either
    (repo / "logs").mkdir()
    (repo / "logs" / "x.log").write_text("log\n")
    (repo / "README.md").write_text("changed in the main checkout\n")  # tracked: never copied over
    agent = json.loads(orchestra("spawn", "--agent", "recorder", "--json", "--name", "incl", "task").stdout)[0]
    worktree = Path(agent["worktree"])
    assert (worktree / ".env.local").read_text() == "TOKEN=1\n" and not (worktree / ".env.local").is_symlink()
    assert (worktree / "config" / "local.json").read_text() == "{}\n"
    assert not (worktree / ".env.other").exists() and not (worktree / "config" / "skip.json").exists()
    assert not (worktree / "logs").exists()
    assert (worktree / "README.md").read_text() == "# project\n"


def test_a_name_whose_branch_git_could_not_make_beside_another_gets_a_number(orchestra, repo):
    git(repo, "branch", "orchestra/api/v2")  # git keeps `orchestra/api` as a folder now: no branch of that name
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "--json", "--name", "api", "build the API")
    [agent] = json.loads(result.stdout)
    assert agent["name"] == "api-2" and agent["branch"] == "orchestra/api-2"
    assert "the name 'api' is taken" in result.stderr
    assert "orchestra/api/v2" in branches(repo)
