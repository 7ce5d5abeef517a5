"""The `demo` agent kind: a scripted agent that needs no API key.

It prints its progress, writes `notes/<agent name>.md` in its worktree with the task text, commits it
and exits 0. A task containing the word "ask" first asks a question and waits for an answer
(try `orchestra send NAME yes`); one containing "fail" exits with code 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from orchestra import __version__ as __version__  # released with orchestra itself
from orchestra.hookspecs import hookimpl
from orchestra.models import Agent, AgentKind, AgentSettings

# The agent's file itself, not `-m orchestra_demo.agent`, which would import this package (and with
# it orchestra's models and pluggy) first: ten demo agents start while a spawn opens their windows.
AGENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent.py")


def build_argv(agent: Agent, settings: AgentSettings) -> list[str]:
    command = settings.command or [sys.executable, AGENT]
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
