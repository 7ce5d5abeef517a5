"""The `command` agent kind: any command-line agent, from an argument template in orchestra.toml.

    [agents.command]
    command = ["my-agent", "--prompt", "{task}"]

Each element is one argument; `{task}` is replaced by the task (it stays one argument, never
split or passed through a shell), and `{name}` and `{port}` by the agent's name and port.
Without `{task}` anywhere, the task is appended as the last argument. Any other
`[agents.<name>]` table with a `command` defines a kind of that name that works the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.errors import AgentKindError
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings

MARKER = re.compile(r"\{(task|name|port)\}")


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    if not settings.command:
        raise AgentKindError(
            f'the agent kind \'{agent.kind}\' has no command: set `command = ["your-agent", "{{task}}"]` '
            f"in the [agents.{agent.kind}] table of orchestra.toml."
        )
    values = {"task": agent.task, "name": agent.name, "port": str(agent.port or "")}
    argv, placed = [], False
    for element in settings.command:
        placed = placed or "{task}" in element
        # One pass, so braces inside the task itself are never substituted in turn.
        argv.append(MARKER.sub(lambda match: values[match.group(1)], element))
    argv += settings.args
    if not placed:
        argv.append(agent.task)
    return argv


@hookimpl
def register_agents(register: Callable[[AgentKind], None]) -> None:
    register(
        AgentKind(
            name="command",
            build_argv=build_argv,
            description="any command-line agent, from the argument template in [agents.command]",
        )
    )
