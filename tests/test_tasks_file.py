"""Tasks files (`orchestra spawn --file`), read in-process: what each [[task]] becomes, and the one
sentence each kind of bad file gets. The command line's own run is in test_bad_input.py."""

from __future__ import annotations

import pytest

from orchestra.errors import ConfigError, OrchestraError
from orchestra.spawning import TaskSpec
from orchestra.tasks_file import read_tasks


def test_tasks_take_the_defaults_unless_they_name_their_own(tmp_path):
    path = tmp_path / "tasks.toml"
    path.write_text(
        '[[task]]\ntask = "plain"\n\n[[task]]\ntask = "all of it"\nname = "mine"\nagent = "codex"\nbase = "v1"\n'
    )
    assert read_tasks(path, default_agent="demo", default_base="main") == [
        TaskSpec(task="plain", name=None, agent="demo", base="main"),
        TaskSpec(task="all of it", name="mine", agent="codex", base="v1"),
    ]
    assert read_tasks(path)[0] == TaskSpec(task="plain")


def test_no_worktree_is_a_task_s_own_or_the_command_line_s(tmp_path):
    path = tmp_path / "tasks.toml"
    path.write_text('[[task]]\ntask = "review"\nno_worktree = true\n\n[[task]]\ntask = "build"\nno_worktree = false\n')
    assert [spec.no_worktree for spec in read_tasks(path)] == [True, False]
    path.write_text('[[task]]\ntask = "review"\n')
    assert read_tasks(path, no_worktree=True) == [TaskSpec(task="review", no_worktree=True)]


def test_host_is_a_task_s_own_or_the_command_line_s(tmp_path):
    path = tmp_path / "tasks.toml"
    path.write_text('[[task]]\ntask = "far"\nhost = "buildbox"\n\n[[task]]\ntask = "near"\n')
    assert [spec.host for spec in read_tasks(path)] == ["buildbox", None]
    assert [spec.host for spec in read_tasks(path, default_host="local")] == ["buildbox", "local"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            'title = "x"\n',
            'must hold [[task]] tables, each with task = "..." and optionally name, agent, base, no_worktree and host.',
        ),
        ('task = "not a table"\n', "must hold [[task]] tables"),
        ("task = [1, 2]\n", "must hold [[task]] tables"),
        (
            '[[task]]\ntask = "x"\nmodel = "big"\n',
            ": task 1 has unknown key 'model'; each [[task]] takes task, name, agent, base, no_worktree, host.",
        ),
        ('[[task]]\ntask = "x"\n[[task]]\nname = "y"\n', ": task 2 has no task text; each [[task]] takes"),
        ('[[task]]\ntask = "x"\nbase = 3\n', ": in task 1, name, agent, base and host must be strings."),
        ('[[task]]\ntask = "x"\nno_worktree = "yes"\n', ": in task 1, no_worktree must be true or false."),
        ('[[task]]\ntask = "x"\nhost = ["a"]\n', ": in task 1, name, agent, base and host must be strings."),
        (
            '[[task]]\ntask = "x"\n[[task]]\ntask = "y"\nname = "bad name"\n',
            ": task 2: 'bad name' is not a valid agent name",
        ),
    ],
)
def test_a_bad_tasks_file_names_the_file_and_the_task(tmp_path, text, says):
    path = tmp_path / "tasks.toml"
    path.write_text(text)
    with pytest.raises(OrchestraError) as raised:
        read_tasks(path)
    assert str(raised.value).startswith(str(path)) and says in str(raised.value)


def test_a_missing_file_a_folder_and_bad_toml(tmp_path):
    with pytest.raises(OrchestraError, match=r"^the tasks file .*nowhere\.toml does not exist\.$"):
        read_tasks(tmp_path / "nowhere.toml")
    with pytest.raises(OrchestraError, match=r"is a folder: --file takes a TOML file of \[\[task\]\] tables\.$"):
        read_tasks(tmp_path)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[task]\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        read_tasks(broken)
