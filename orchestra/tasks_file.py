"""Tasks files (`orchestra spawn --file tasks.toml`): [[task]] tables read into spawn's task specs."""

from __future__ import annotations

from pathlib import Path

from orchestra.errors import OrchestraError
from orchestra.spawning import TaskSpec

KEYS = ("task", "name", "agent", "base", "no_worktree", "host")


def read_tasks(
    path: Path,
    default_agent: str | None = None,
    default_base: str | None = None,
    no_worktree: bool = False,
    default_host: str | None = None,
) -> list[TaskSpec]:
    """The tasks of the file, in order; a task without `agent`, `base` or `no_worktree` takes the
    defaults given. Everything is checked before anything is returned, so a bad file starts no agent."""
    from orchestra.config import read_file
    from orchestra.worktrees import check_name, check_task

    if path.is_dir():
        raise OrchestraError(f"{path} is a folder: --file takes a TOML file of [[task]] tables.")
    if not path.is_file():
        raise OrchestraError(f"the tasks file {path} does not exist.")
    data = read_file(path)
    unknown = set(data) - {"task"}
    entries = data.get("task")
    if unknown or not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise OrchestraError(
            f'{path} must hold [[task]] tables, each with task = "..." and optionally name, agent, base, no_worktree and host.'
        )
    specs = []
    for number, entry in enumerate(entries, start=1):
        extra = set(entry) - set(KEYS)
        if extra or "task" not in entry:
            problem = f"unknown key {sorted(extra)[0]!r}" if extra else "no task text"
            raise OrchestraError(
                f"{path}: task {number} has {problem}; each [[task]] takes task, name, agent, base, no_worktree, host."
            )
        if not isinstance(entry["task"], str):
            raise OrchestraError(f'{path}: in task {number}, task must be a string (task = "...").')
        try:
            check_task(entry["task"])
        except OrchestraError as error:
            raise OrchestraError(f"{path}: task {number}: {error}") from None
        if any(not isinstance(entry.get(k, ""), str) for k in ("name", "agent", "base", "host")):
            raise OrchestraError(f"{path}: in task {number}, name, agent, base and host must be strings.")
        if not isinstance(entry.get("no_worktree", False), bool):
            raise OrchestraError(f"{path}: in task {number}, no_worktree must be true or false.")
        if entry.get("name") is not None:
            try:
                check_name(entry["name"])
            except OrchestraError as error:
                raise OrchestraError(f"{path}: task {number}: {error}") from None
        specs.append(
            TaskSpec(
                task=entry["task"],
                name=entry.get("name"),
                agent=entry.get("agent", default_agent),
                base=entry.get("base", default_base),
                no_worktree=entry.get("no_worktree", no_worktree),
                host=entry.get("host", default_host),
            )
        )
    return specs
