"""The plugin contract: every hook orchestra calls, when it calls it, and what it may change.

Plugins implement these with the `hookimpl` marker from this module and are found through the
`orchestra` entry-point group. Hooks are always called with keyword arguments, so an
implementation may accept only the arguments it needs, and later versions may add more.
A plugin that raises is reported with its name and skipped; the command goes on. The one
exception is `pre_spawn`, which vetoes a spawn by raising `orchestra.errors.SpawnVetoed`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

import pluggy

if TYPE_CHECKING:  # imported for annotations only: plugins load before click or git are needed
    import click

    from orchestra.config import Config
    from orchestra.models import Agent, AgentKind, Event

PROJECT = "orchestra"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_agents(register: Callable[["AgentKind"], None]) -> None:
    """Hand orchestra the agent CLI kinds this plugin provides, one `register(AgentKind(...))` each.

    Called once when plugins load. Two plugins registering the same kind name is reported and
    the first one registered keeps it.
    """


@hookspec
def register_commands(cli: "click.Group") -> None:
    """Add commands to the `orchestra` command line with `cli.add_command(...)`.

    Called once per invocation, only when the command typed is not built in or the commands
    are listed (`--help`), so built-in commands start without loading plugins.
    """


@hookspec
def pre_spawn(agent: "Agent", config: "Config", env: dict[str, str]) -> None:
    """Called for each new agent after its name, branch, port and `argv` are chosen, before
    anything is created.

    May change `agent.argv` (the exact argument list the launcher will exec) and `env` (the
    agent's environment) in place. Raise `SpawnVetoed` with a sentence saying why to stop the
    whole spawn; nothing has been created yet. All implementations run.
    """


@hookspec
def on_exit(agent: "Agent") -> None:
    """Called once after an agent's process ended (its pane died); `agent.status` is `exited`
    or `failed` and `agent.exit_code` is set. Runs in the background, outside any command.
    Return values are ignored; all implementations run.
    """


@hookspec(firstresult=True)
def merge_strategy(agent: "Agent", repo: Any, config: "Config") -> Optional[Any]:
    """Integrate one agent's branch into the merge target with the configured strategy.

    Stops at the first implementation that returns a result other than None; one that does
    not handle `config.merge["strategy"]` returns None. The core's plain git merge is the
    last resort.
    """


@hookspec
def notifier(event: "Event") -> None:
    """Called for every status change that matters to a person (an agent starting, waiting,
    done, exited, failed, lost). Must return quickly; all implementations run.
    """
