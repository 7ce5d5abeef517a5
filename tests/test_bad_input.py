"""Bad input: one clear sentence on stderr, a non-zero exit, no traceback, and nothing half-made."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from support import branches, git, tmux, wait_for, worktree_paths


def assert_clean_failure(result, *phrases: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("orchestra: "), message
    assert len(message.splitlines()) == 1, message
    for phrase in phrases:
        assert phrase in message, message


def assert_nothing_made(repo: Path, socket: str) -> None:
    assert branches(repo) == ["main"]
    assert worktree_paths(repo) == [str(repo)]
    state = repo / ".git" / "orchestra" / "state.json"
    assert not state.exists() or json.loads(state.read_text())["agents"] == {}
    windows = tmux(socket, "list-windows", "-a", "-F", "#{window_name}").stdout.split()
    assert windows in ([], ["board"])
    assert (
        not list((repo.parent / "project.worktrees").glob("*"))
        if (repo.parent / "project.worktrees").exists()
        else True
    )


def test_not_a_git_repository(orchestra, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    result = orchestra("spawn", "--agent", "demo", "task", cwd=folder, check=False)
    assert_clean_failure(result, "not inside a git repository")


def test_repository_with_no_commits(orchestra, tmp_path, isolated):
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    result = orchestra("spawn", "--agent", "demo", "task", cwd=empty, check=False)
    assert_clean_failure(result, "no commits yet")
    assert git(empty, "branch", "--list").strip() == ""


def test_bare_repository(orchestra, tmp_path):
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    result = orchestra("spawn", "--agent", "demo", "task", cwd=bare, check=False)
    assert_clean_failure(result, "bare repository")


@pytest.mark.parametrize("name", ["has space", "../escape", "-dash", "a..b", "x.lock", "semi;colon"])
def test_invalid_name(orchestra, repo, isolated, name):
    result = orchestra("spawn", "--agent", "demo", "--name", name, "task", check=False)
    assert_clean_failure(result, "not a valid agent name")
    assert_nothing_made(repo, isolated)


def test_base_that_does_not_exist(orchestra, repo, isolated):
    result = orchestra("spawn", "--agent", "demo", "--base", "no-such-branch", "task", check=False)
    assert_clean_failure(result, "no-such-branch", "not a branch, tag or commit")
    assert_nothing_made(repo, isolated)


def test_tmux_not_installed(orchestra, repo, tmp_path, isolated):
    bin_dir = tmp_path / "bin-without-tmux"
    bin_dir.mkdir()
    os.symlink(shutil.which("git"), bin_dir / "git")
    env = {**os.environ, "PATH": str(bin_dir)}
    result = orchestra("spawn", "--agent", "demo", "task", env=env, check=False)
    assert_clean_failure(result, "tmux is not installed")
    assert_nothing_made(repo, isolated)


def test_agent_cli_not_installed(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[agents.claude]\ncommand = ["no-such-agent-cli-here"]\n')
    result = orchestra("spawn", "--agent", "claude", "task one", "task two", check=False)
    assert_clean_failure(result, "no-such-agent-cli-here", "not installed")
    assert_nothing_made(repo, isolated)


def test_unknown_agent_kind(orchestra, repo, isolated):
    result = orchestra("spawn", "--agent", "nope", "task", check=False)
    assert_clean_failure(result, "unknown agent kind 'nope'", "demo")
    assert_nothing_made(repo, isolated)


def test_config_syntax_error_names_file_and_line(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[orchestra]\ndefault_agent = "demo"\nbase = \n')
    result = orchestra("spawn", "task", check=False)
    assert_clean_failure(result, "orchestra.toml", "line 3")
    assert_nothing_made(repo, isolated)


def test_config_unknown_key_suggests_the_close_one(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[orchestra]\n\ndefualt_agent = "demo"\n')
    result = orchestra("ls", check=False)
    assert_clean_failure(result, "orchestra.toml, line 3", "defualt_agent", "did you mean 'default_agent'")


def test_config_unknown_table(orchestra, repo):
    (repo / "orchestra.toml").write_text("[worktrees]\ncopy = []\n")
    result = orchestra("ls", check=False)
    assert_clean_failure(result, "line 1", "worktrees", "did you mean 'worktree'")


def test_config_wrong_type(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[worktree]\ncopy = ".env"\n')
    result = orchestra("spawn", "--agent", "demo", "task", check=False)
    assert_clean_failure(result, "orchestra.toml, line 2", "'worktree.copy' must be a list of strings")
    assert_nothing_made(repo, isolated)


def test_user_level_config_errors_name_that_file(orchestra, repo):
    user_file = Path(os.environ["ORCHESTRA_HOME"]) / "config.toml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text("[ports]\nrange = [5000, 4000]\n")
    result = orchestra("ls", check=False)
    assert_clean_failure(result, str(user_file), "two port numbers")


def test_kill_unknown_agent(orchestra, repo):
    result = orchestra("kill", "ghost", check=False)
    assert_clean_failure(result, "no agent named 'ghost'")


def test_empty_task(orchestra, repo, isolated):
    result = orchestra("spawn", "--agent", "demo", "   ", check=False)
    assert_clean_failure(result, "task is empty")
    assert_nothing_made(repo, isolated)


def test_pre_spawn_failure_midway_leaves_nothing(orchestra, repo, isolated):
    """The second task fails its checks: the first is not created either."""
    (repo / "orchestra.toml").write_text('[agents.broken]\ncommand = ["no-such-agent-cli-here", "{task}"]\n')
    tasks = repo.parent / "tasks.toml"
    tasks.write_text('[[task]]\ntask = "fine"\nagent = "demo"\n[[task]]\ntask = "broken"\nagent = "broken"\n')
    result = orchestra("spawn", "--file", str(tasks), check=False)
    assert_clean_failure(result, "no-such-agent-cli-here")
    assert_nothing_made(repo, isolated)


def test_damaged_state_file(orchestra, repo):
    state = repo / ".git" / "orchestra"
    state.mkdir()
    (state / "state.json").write_text("{not json")
    result = orchestra("ls", check=False)
    assert_clean_failure(result, "state file", "damaged")


def test_a_tasks_file_that_is_missing_or_a_folder(orchestra, repo, isolated, tmp_path):
    for path, words in ((tmp_path / "nowhere.toml", "does not exist"), (tmp_path, "is a folder")):
        result = orchestra("spawn", "--agent", "demo", "--no-attach", "--file", str(path), check=False)
        assert_clean_failure(result, words)
        assert_nothing_made(repo, isolated)


def test_a_gemini_settings_file_orchestra_cannot_add_its_hooks_to(orchestra, repo, isolated):
    """The repository's `.gemini/settings.json` is not JSON: the agent is not started, nothing is left."""
    (repo / ".gemini").mkdir()
    (repo / ".gemini" / "settings.json").write_text("{ // a comment\n}\n")
    (repo / "orchestra.toml").write_text('[agents.gemini]\ncommand = ["true"]\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "gemini settings with a comment")
    result = orchestra("spawn", "--agent", "gemini", "--no-attach", "a task", check=False)
    assert_clean_failure(result, ".gemini/settings.json is not a JSON object")
    assert_nothing_made(repo, isolated)


def test_a_gemini_settings_folder_linked_to_the_main_checkout_is_refused(orchestra, repo, isolated):
    """`[worktree] symlink = [".gemini"]` would have orchestra write its hooks into the main checkout's file."""
    (repo / ".gemini").mkdir()
    (repo / ".gemini" / "settings.json").write_text('{"model": {"name": "mine"}}\n')
    (repo / "orchestra.toml").write_text('[worktree]\nsymlink = [".gemini"]\n[agents.gemini]\ncommand = ["true"]\n')
    git(repo, "add", "orchestra.toml")
    git(repo, "commit", "-qm", "link the gemini settings")
    result = orchestra("spawn", "--agent", "gemini", "--no-attach", "a task", check=False)
    assert_clean_failure(result, "is a symbolic link", "[worktree] copy")
    assert_nothing_made(repo, isolated)
    assert (repo / ".gemini" / "settings.json").read_text() == '{"model": {"name": "mine"}}\n'


# -- issue 10, items 16 to 18: input that once crashed (exit 70) or was taken silently -------------------------------


def assert_refused(result, *phrases: str) -> None:
    """One sentence, exit 1 (never the crash code 70)."""
    assert result.returncode == 1, result.stderr
    assert_clean_failure(result, *phrases)


def test_a_nul_byte_in_a_task_is_refused(orchestra, repo, isolated, tmp_path):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[task]]\ntask = "fix\\u0000it"\nagent = "demo"\n')
    result = orchestra("spawn", "--no-attach", "--file", str(tasks), check=False)
    assert_refused(result, "NUL")
    assert_nothing_made(repo, isolated)


def test_a_nul_byte_in_a_task_is_refused_by_the_core(project, isolated):
    """The check is in spawn's own validation, so the dashboard (POST /api/spawn) gets it too."""
    from orchestra.errors import OrchestraError
    from orchestra.spawning import TaskSpec, spawn

    with pytest.raises(OrchestraError, match="NUL"):
        spawn(project, [TaskSpec(task="a\x00b", agent="demo")], dict(os.environ))
    assert_nothing_made(project.project.root, isolated)


def test_a_config_that_is_not_utf8(orchestra, repo):
    (repo / "orchestra.toml").write_bytes(b'[orchestra]\nbase = "caf\xe9"\n')
    result = orchestra("ls", check=False)
    assert_refused(result, "orchestra.toml", "UTF-8")


def test_a_tasks_file_that_is_not_utf8(orchestra, repo, isolated, tmp_path):
    tasks = tmp_path / "tasks.toml"
    tasks.write_bytes(b'[[task]]\ntask = "caf\xe9"\n')
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "--file", str(tasks), check=False)
    assert_refused(result, str(tasks), "UTF-8")
    assert_nothing_made(repo, isolated)


@pytest.mark.parametrize("value", ["42", '["a", "b"]', '{ text = "x" }', "true"])
def test_a_tasks_file_whose_task_is_not_a_string(orchestra, repo, isolated, tmp_path, value):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f"[[task]]\ntask = {value}\n")
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "--file", str(tasks), check=False)
    assert_refused(result, str(tasks), "task 1")
    assert_nothing_made(repo, isolated)


def test_a_worktree_root_that_cannot_be_created(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[orchestra]\nworktree_root = "/proc/x"\n')
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "task", check=False)
    assert_refused(result, "/proc/x")
    assert_nothing_made(repo, isolated)


@pytest.mark.parametrize(
    ("root", "words"),
    [
        ("/", "the root folder"),
        (".", "the main checkout itself"),
        ("sub/trees", "inside the main checkout"),
        (".git/trees", "inside git's own folder"),
    ],
)
def test_a_worktree_root_in_a_place_that_cannot_hold_worktrees(orchestra, repo, isolated, root, words):
    (repo / "orchestra.toml").write_text(f'[orchestra]\nworktree_root = "{root}"\n')
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "task", check=False)
    assert_refused(result, "worktree_root", words)
    assert_nothing_made(repo, isolated)


def test_a_worktree_root_inside_the_checkout_that_git_ignores_is_taken(project):
    from orchestra.errors import OrchestraError
    from orchestra.worktrees import worktree_root

    root = project.project.root
    with pytest.raises(OrchestraError, match="inside the main checkout"):
        worktree_root(project.project, ".trees")
    (root / ".gitignore").write_text(".trees/\n")
    assert worktree_root(project.project, ".trees") == root / ".trees"


def test_a_worktree_root_inside_a_separate_git_dir(orchestra, tmp_path, isolated):
    """`git init --separate-git-dir`: the git dir is not under the checkout, and is refused by its own name."""
    checkout = tmp_path / "sep"
    checkout.mkdir()
    git(checkout, "init", "-q", "--separate-git-dir", str(tmp_path / "sep.git"))
    (checkout / "f").write_text("x\n")
    git(checkout, "add", "f")
    git(checkout, "commit", "-qm", "one")
    (checkout / "orchestra.toml").write_text('[orchestra]\nworktree_root = "../sep.git/trees"\n')
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "task", cwd=checkout, check=False)
    assert_refused(result, "worktree_root", "git")
    assert not (tmp_path / "sep.git" / "trees").exists()


def test_copying_from_inside_git_is_refused(orchestra, repo, isolated):
    (repo / "orchestra.toml").write_text('[worktree]\ncopy = [".git/hooks"]\n')
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "task", check=False)
    assert_refused(result, ".git/hooks")
    assert_nothing_made(repo, isolated)


def _write_state(repo: Path, payload: object) -> Path:
    state = repo / ".git" / "orchestra"
    state.mkdir(exist_ok=True)
    path = state / "state.json"
    path.write_text(json.dumps(payload))
    return path


def _record(**changes: object) -> dict:
    record = {
        "name": "a", "task": "t", "agent": "demo", "branch": "orchestra/a", "base": "0" * 40,
        "worktree": "/nowhere/a", "status": "exited", "created_at": "2025-01-01T00:00:00+00:00",
        "updated_at": "2025-01-01T00:00:00+00:00",
    }  # fmt: skip
    record.update(changes)
    return record


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ("a string", "agent 'a'"),
        (_record(worktree=42), "worktree"),
        (_record(created_at="yesterday"), "created_at"),
        (_record(updated_at=None), "updated_at"),
        (_record(status="sleeping"), "status"),
        (_record(port="4100"), "port"),
        (_record(argv="claude"), "argv"),
        ({k: v for k, v in _record().items() if k != "task"}, "'task' is missing"),
        (_record(worktree="/nowhere/a\x00b"), "'worktree' holds a NUL"),
        (_record(argv=["claude", "a\x00b"]), "'argv' holds a NUL"),
    ],
)
def test_a_state_file_with_records_of_the_wrong_types(orchestra, repo, record, words):
    path = _write_state(repo, {"version": 1, "agents": {"a": record}})
    before = path.read_bytes()
    for command in (("ls",), ("ls", "--json"), ("spawn", "--agent", "demo", "--no-attach", "task")):
        result = orchestra(*command, check=False)
        assert_refused(result, str(path), "damaged", words, "move it aside")
    assert path.read_bytes() == before


def test_a_state_file_from_a_newer_orchestra_is_refused_not_rewritten(orchestra, repo):
    path = _write_state(repo, {"version": 2, "agents": {}})
    before = path.read_bytes()
    for command in (("ls",), ("spawn", "--agent", "demo", "--no-attach", "task")):
        result = orchestra(*command, check=False)
        assert_refused(result, str(path), "written by a newer orchestra")
    assert path.read_bytes() == before


@pytest.mark.parametrize("payload", [["not", "an", "object"], {"version": "1", "agents": {}}])
def test_a_state_file_that_is_not_a_state_object(orchestra, repo, payload):
    path = _write_state(repo, payload)
    result = orchestra("ls", check=False)
    assert_refused(result, str(path), "damaged")


# -- issue 10, items 19 and 20: names the rules accept, which tmux must find again -------------------------------------


@pytest.mark.parametrize("folder", ["price$calc", "back\\slash", "v1.2:x", "C#{pane_id}", "a#H##b", "x#(touch ran)"])
def test_a_repository_folder_with_characters_tmux_changes_in_session_names(orchestra, tmp_path, isolated, folder):
    """tmux stores `$` and `\\` escaped and `.` and `:` as `_`: orchestra names its session so that it finds it again."""
    from support import make_repo, wait_statuses

    checkout = make_repo(tmp_path / folder)

    def run(*args: str, check: bool = True):
        return orchestra(*args, cwd=checkout, check=check)

    run("spawn", "--agent", "demo", "--name", "one", "--no-attach", "a task")
    wait_statuses(run, {"one": "exited"})
    sessions = tmux(isolated, "list-sessions", "-F", "#{session_name}").stdout.split("\n")
    assert len([s for s in sessions if s]) == 1
    assert " is running" in run("doctor", check=False).stdout
    run("spawn", "--agent", "demo", "--name", "two", "--no-attach", "a task")
    assert tmux(isolated, "list-sessions", "-F", "#{session_name}").stdout.splitlines() == sessions[:1]
    # tmux expands `-s` and `-c` as formats: `#(...)` in the folder's name must never run
    assert not list(tmp_path.rglob("ran"))
    windows = tmux(isolated, "list-panes", "-a", "-F", "#{window_name}\t#{pane_start_path}").stdout.splitlines()
    assert sorted(windows) == sorted(
        [f"board\t{checkout}", f"one\t{checkout}.worktrees/one", f"two\t{checkout}.worktrees/two"]
    )


@pytest.mark.parametrize("name", ["0", "1", "v1.2", "a.b.c"])
def test_names_tmux_could_take_for_an_index_or_a_pane_work(orchestra, repo, isolated, name):
    """A numeric name once put the agent's options and pane-died hook on window 0 (the board), and a
    name with a `.` failed with "no such window": windows are targeted by id. The agent exits at once,
    so its marks and hook must be in place before its program can end."""
    (repo / "orchestra.toml").write_text('[agents.quick]\ncommand = ["true", "{task}"]\n')
    orchestra("spawn", "--agent", "quick", "--name", name, "--no-attach", "a task")
    from support import wait_statuses

    (agent,) = wait_statuses(orchestra, {name: "exited"})
    assert agent["exit_code"] == 0

    # `exited` is recorded from inside the pane, just before its last process ends: wait for the pane to die.
    def panes() -> list[str] | None:
        listed = tmux(isolated, "list-panes", "-a", "-F", "#{window_name}\t#{@orchestra_agent}\t#{pane_dead}").stdout
        return None if f"{name}\t{name}\t0" in listed.splitlines() else sorted(listed.splitlines())

    assert wait_for(panes, what="the agent's pane to die") == sorted(["board\t\t0", f"{name}\t{name}\t1"])
    board_hooks = tmux(isolated, "show-hooks", "-w", "-t", f"{agent['session']}:board").stdout
    assert "pane-died" not in board_hooks
    remain = tmux(isolated, "show-options", "-w", "-v", "-t", f"{agent['session']}:board", "remain-on-exit").stdout
    assert remain.strip() != "on"


# -- NUL characters wherever a config, a tasks file or the dashboard can carry them ------------------------------------


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ('[orchestra]\nworktree_root = "../w\\u0000x"\n', "'orchestra.worktree_root' holds a NUL"),
        ('[orchestra]\nbranch_prefix = "a\\u0000b/"\n', "'orchestra.branch_prefix' holds a NUL"),
        ('[worktree]\ncopy = [".env", "a\\u0000b"]\n', "'worktree.copy' holds a NUL"),
        ('[agents.demo]\nenv.X = "a\\u0000b"\n', "'agents.demo.env.X' holds a NUL"),
    ],
)
def test_a_nul_character_in_the_config_is_refused(orchestra, repo, isolated, config, words):
    """TOML's \\u0000 reached os and subprocess calls deep in doctor and spawn (exit 70)."""
    (repo / "orchestra.toml").write_text(config)
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "task", check=False)
    assert_refused(result, "orchestra.toml, line ", words)
    doctor = orchestra("doctor", check=False)
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr
    assert "✗ config" in doctor.stdout and words in doctor.stdout
    assert_nothing_made(repo, isolated)


def test_a_nul_byte_in_a_base_is_refused(orchestra, repo, isolated, tmp_path):
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[task]]\ntask = "fix it"\nagent = "demo"\nbase = "main\\u0000"\n')
    result = orchestra("spawn", "--no-attach", "--file", str(tasks), check=False)
    assert_refused(result, "is not a git revision")
    assert_nothing_made(repo, isolated)


def test_a_damaged_usage_cache_entry_is_asked_again(orchestra, repo):
    """usage.json is a cache: an entry whose counts are not whole numbers is read again, never summed."""
    orchestra("spawn", "--agent", "demo", "--name", "one", "--no-attach", "a task")
    from support import wait_statuses

    wait_statuses(orchestra, {"one": "exited"})
    path = repo / ".git" / "orchestra" / "usage.json"
    orchestra("ls", "--json")
    data = json.loads(path.read_text())
    entry = data["agents"]["one"]
    stamped = {**entry, "key": [*entry["key"][:4], None], "stamps": {"/nowhere\u0000": [1, 2]}, "models": {}}
    for damaged in (
        {**entry, "models": {"m": 5}},
        {**entry, "models": {"m": {"input_tokens": "12"}}},
        {**entry, "models": {"m": {"input_tokens": -3}}},
        stamped,
    ):
        path.write_text(json.dumps({**data, "agents": {"one": damaged}}))
        for command in (("ls", "--json"), ("report",)):
            result = orchestra(*command, check=False)
            assert result.returncode == 0, result.stderr
        (listed,) = json.loads(orchestra("ls", "--json").stdout)
        assert listed["usage"] is None


@pytest.mark.parametrize(
    "args",
    [["--version"], ["ls", "--json"], ["ls"], ["--help"], ["plugins", "list"], ["plugins", "list", "--json"]],
    ids=["version", "ls-json", "ls-table", "help", "rich-table", "json"],
)
def test_output_that_cannot_be_written_is_one_sentence_and_a_reader_that_left_is_no_error(repo, args):
    """Every command, the answers given before click loads (`--version`, `ls --json`) and those of
    the command line, through click's echo, rich and print: a full disk says so in one sentence;
    a reader that left (`| head`) is nothing wrong. Buffered or not, as Python may be."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "orchestra", *args]
    for unbuffered in ("", "1"):
        env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
        with open("/dev/full", "w") as full:
            result = subprocess.run(command, cwd=repo, stdout=full, stderr=subprocess.PIPE, text=True, env=env)
        assert (result.returncode, result.stderr) == (
            1,
            "orchestra: cannot write the output: No space left on device.\n",
        )
        reader = subprocess.Popen(command, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        reader.stdout.close()  # the reader leaves before anything is written
        assert (reader.wait(timeout=60), reader.stderr.read()) == (0, "")
