"""The plugin contract: every hook orchestra calls, when it calls it, and what it may change.

Plugins implement these with the `hookimpl` marker from this module and are found through the
`orchestra` entry-point group. Hooks are always called with keyword arguments, so an
implementation may accept only the arguments it needs, and later versions may add more.
A plugin that raises is reported with its name and skipped; the command goes on. The one
exception is `pre_spawn`, which vetoes a spawn by raising `orchestra.errors.SpawnVetoed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # imported for annotations only: plugins load before click or git are needed
    from pathlib import Path

    import click

    from orchestra.config import Config as Config  # for plugins' annotations: hookspecs is public
    from orchestra.models import Agent, AgentKind, Check, Event, MergeResult, Repository, Usage

PROJECT = "orchestra"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_agents(register: Callable[[AgentKind], None]) -> None:
    """Hand orchestra the agent CLI kinds this plugin provides, one `register(AgentKind(...))` each.

    Called once when plugins load. Two plugins registering the same kind name is reported and
    the first one registered keeps it.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the `orchestra` command line with `cli.add_command(...)`.

    Called once per invocation, only when the command typed is not built in or the commands
    are listed (`--help`), so built-in commands start without loading plugins.
    """


@hookspec(firstresult=True)
def session_id_taken(kind: AgentKind, session_id: str) -> bool | None:
    """Whether the agent CLI of `kind` already has a conversation with the id `session_id`.

    Called at spawn for each conversation id orchestra draws (a UUID) for an agent whose kind has
    `session_ids=True`, while the state lock is held, so answer quickly (a file lookup). The core
    itself already skips ids that a recorded agent uses; a plugin knows where its CLI keeps
    conversations. Return True or False for kinds this plugin provides, None for the others;
    stops at the first result that is not None. A taken id is drawn again.
    """


@hookspec
def pre_spawn(agent: Agent, config: Config, env: dict[str, str]) -> None:
    """Called for each new agent after its name, branch, port and `argv` are chosen, before
    anything is created.

    May change `agent.argv` (the exact argument list the launcher will exec) and `env` (the
    agent's environment) in place. Raise `SpawnVetoed` with a sentence saying why to stop the
    whole spawn; nothing has been created yet. All implementations run.
    """


@hookspec
def on_exit(agent: Agent) -> None:
    """Called once after an agent's process ended (its pane died); `agent.status` is `exited`
    or `failed` and `agent.exit_code` is set. Runs outside any command: in the agent's pane as
    its shell ends, or in the `pane-died` handler for an agent whose shell was killed.
    Return values are ignored; all implementations run.
    """


@hookspec
def doctor_checks(root: Path, config: Config) -> list[Check]:
    """Return `Check`s for `orchestra doctor` to show, about what this plugin needs.

    Called by `orchestra doctor`, once tmux and git passed and the project's configuration
    loaded, after the core's own checks of the agent CLIs; `root` is the main checkout and
    `config` the project's configuration. Look, do not repair: change nothing. A check with
    `ok=False` makes doctor exit 1, so use it only for what stops the plugin from working;
    `ok=None` is for what is worth knowing. All implementations run and their checks are shown
    in turn; anything returned that is not a `Check` is reported as a plugin problem.
    """


@hookspec(firstresult=True)
def merge_strategy(
    agent: Agent, repo: Repository, config: Config, strategy: str, report: dict[str, Any]
) -> MergeResult | None:
    """Integrate one finished agent's branch with the merge strategy named `strategy`.

    Called by `orchestra merge` (and `orchestra pr`) for each agent in the queue, after the
    agent's uncommitted work was committed on its branch. `repo` says where the main checkout
    is, which branch is the target and which remote to use; `report` is the agent's
    `orchestra report --json` entry (final message, commits, lines changed). In a train
    (`merge --all`, called in the train's order) `report` also has `conflicts_with` and
    `overlaps_with`: the other agents of the train whose work meets this one's, each
    `{"agent": name, "files": [paths]}` (a pull request's body names them).

    Return a `MergeResult` if this plugin handles `strategy`, None otherwise; stops at the first
    result that is not None. Raise `MergeFailed` with a sentence saying why to stop this agent's
    merge; the target branch and the main checkout must then be as they were. The core's own
    `merge`, `squash` and `rebase` are the last resort.
    """


@hookspec
def notifier(event: Event, agent: Agent | None, config: Config) -> None:
    """Called once for every status change of every agent, `starting` included (then
    `event.data["from"]` is None), whoever made it: every change goes through orchestra's
    lifecycle core. `event` is the `status` event; `agent` is the agent's record after the
    change (None if it is gone), `config` the project's configuration (`config.plugin_settings(name)` is a
    plugin's own `[plugins.<name>]` table). orchestra calls it in a background process of its
    own, never inside a command the user waits for, so network work may be done in place; what
    it raises goes to the event log as a `plugin-error`. All implementations run.

    Also called once for each pair of agents the conflict forecast finds conflicting for the
    first time: then `event.type` is `conflict`, `event.status` None, `event.agent` the first of
    the two names and `event.data` holds `with` (the other), `files` and `target`. Look at
    `event.type` before `event.status`. And for each `handback` event (a conflict typed back
    into the agent: `event.status` None, `event.data` its `target` and `files`).
    """


@hookspec
def notifier_events(config: Config) -> list[str] | None:
    """The events this plugin's `notifier` may act on with `config`: statuses (`"waiting"`,
    `"done"`, ...), `"conflict"` and `"handback"`; None for all of them. Optional: a plugin with a
    `notifier` and without this hook hears every event.

    Each notification is a process of its own that loads every plugin (a tenth of a second of a
    processor): an agent's launch, for one, starts none when no plugin wants its `running`. Say
    every event your `notifier` may act on in any environment (a webhook variable not set is no
    reason to leave an event out); it is asked where events start, such as `spawn`.
    """


@hookspec(firstresult=True)
def agent_usage(agent: Agent, config: Config, previous: Usage | None) -> Usage | None:
    """The tokens `agent`'s conversation has used so far, read from its agent CLI's own records
    (a transcript, a session log), every session of it included (a resumed one too).

    Called by `ls`, `report` and the dashboard for an agent whose last answer no longer holds:
    orchestra keeps each answer with the modification times and sizes of its `Usage.sources`
    and of the agent's record, and asks again only when one of them changed. `previous` is the
    last answer for the same conversation (with its `state`), or None: a plugin may read on
    from where it stopped instead of from the start. Read, change nothing, and count each model
    call once. Return a `Usage` (with no models while the CLI has recorded nothing yet) for the
    kinds this plugin provides when their CLI keeps such records, None otherwise (`usage` is
    then null); stops at the first result that is not None.
    """
