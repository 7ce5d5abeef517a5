"""`orchestra demo`: a throwaway repository and three scripted agents, no API key needed."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from orchestra import git
from orchestra.context import Context
from orchestra.errors import OrchestraError
from orchestra.models import Agent, Status

TASKS = [
    "write a haiku about tmux",
    "add a changelog entry for the first release",
    "sketch a plan for a login page",
]

FILES = {
    "README.md": "# demo\n\nA throwaway repository made by `orchestra demo`.\n",
    "app.py": 'def greet(name: str) -> str:\n    return f"hello, {name}"\n',
    "orchestra.toml": (
        "# made by `orchestra demo`: scripted agents that need no API key\n"
        "[orchestra]\n"
        'default_agent = "demo"\n'
        'session = "{repo}"\n'
    ),
}


def make_repository(parent: Path | None = None) -> Path:
    """A new repository in a temporary folder, ready for agents."""
    path = Path(tempfile.mkdtemp(prefix="orchestra-demo-", dir=parent)).resolve()
    git.init_repository(path, FILES, "a small project for the orchestra demo")
    return path


def start(path: Path, env: dict[str, str]) -> tuple[Context, list[Agent], list[str]]:
    """The demo agents spawned in the repository at `path`: its context, the agents, and the
    warnings of the spawn. Any agent that could not start makes it an error."""
    from orchestra.spawning import TaskSpec, spawn

    ctx = Context.open(path)
    result = spawn(ctx, [TaskSpec(task=task, agent="demo") for task in TASKS], env)
    if result.failures:
        raise OrchestraError("the demo could not start: " + "; ".join(result.failures))
    return ctx, [*result.agents, *result.queued], result.warnings  # queued under a user's [schedule]


def until_finished(ctx: Context, limit: float = 60.0, every: float = 0.5) -> Iterator[tuple[list[Agent], bool]]:
    """The agents at each look, every `every` seconds, and whether they have all finished (or
    `limit` seconds have passed); the look that says so is the last."""
    from orchestra.reconcile import observe

    deadline = time.monotonic() + limit
    while True:
        agents = observe(ctx)
        finished = all(_settled(a) for a in agents) or time.monotonic() > deadline
        if finished:  # and the processes that report an end have finished writing: the folder can go
            ctx.state.wait_idle(max(0.0, deadline - time.monotonic()))
        yield agents, finished
        if finished:
            return
        time.sleep(every)


def _settled(agent: Agent) -> bool:
    """Ended, and its pane's death (if its pane is still there to die) handled by the hook."""
    if agent.status == Status.QUEUED:
        return False
    return not agent.status.live and (agent.pane is None or agent.death_handled == agent.launch_id)
