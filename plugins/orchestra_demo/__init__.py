"""The `demo` agent kind: a scripted agent that needs no API key.

It prints its progress, writes `notes/<agent name>.md` in its worktree with the task text, commits it
and exits 0. A task containing the word "ask" first asks a question and waits for an answer
(try `orchestra send NAME yes`); one containing "fail" exits with code 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    command = settings.command or [sys.executable, "-m", "orchestra_demo.agent"]
    return [*command, *settings.args, "--", agent.task]


@hookimpl
def register_agents(register: Callable[[AgentKind], None]) -> None:
    register(
        AgentKind(
            name="demo",
            build_argv=build_argv,
            description="a scripted agent for trying orchestra without an API key",
            waiting_patterns=[r"\[y/n\] ?$"],
            busy_patterns=[r"working\.\.\."],
        )
    )
