"""The records every layer passes around: agents, their statuses, events, agent kinds."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from orchestra import statuses


class Status(str, enum.Enum):
    """The status words, as `orchestra.statuses` defines them."""

    QUEUED = statuses.QUEUED
    STARTING = statuses.STARTING
    RUNNING = statuses.RUNNING
    WAITING = statuses.WAITING
    LIMITED = statuses.LIMITED
    DONE = statuses.DONE
    EXITED = statuses.EXITED
    FAILED = statuses.FAILED
    LOST = statuses.LOST
    MERGED = statuses.MERGED
    UNREACHABLE = statuses.UNREACHABLE  # a view's: a remote agent whose host did not answer

    @property
    def live(self) -> bool:
        """True while a process is expected to sit in the agent's pane."""
        return self.value in statuses.LIVE

    def __str__(self) -> str:
        return self.value


LIVE_STATUSES = frozenset(Status(s) for s in statuses.LIVE)
STATUS_PHRASES = statuses.PHRASES  # "fix-login is waiting for you"


class HookEvent(TypedDict, total=False):
    """orchestra's hook event, typed: what a translator's `translate(payload)` returns for one
    payload of its CLI (and what a hook script of one's own may send the handler as it is).
    Every key is optional; which fields each event reads, `statuses.HOOK_EVENTS` says (docs/plugins.md)."""

    event: str | None  # one of HOOK_EVENTS; None: the payload is only logged
    hook: str | None  # the CLI's own name for the event, kept in the agent's `last_hook`
    session_id: str | None
    transcript: str | None  # the CLI's transcript file
    resumed: bool
    question: str | None
    message: str | None
    error: str | None
    until: str | None  # ISO 8601


now = statuses.now  # the current time as ISO 8601 in UTC, the one format state and events use


def new_launch_id() -> str:
    """A fresh identity for one launch of an agent (a spawn, or a resume), carried by its pane."""
    # What secrets.token_hex(8) returns, without importing secrets (hmac, OpenSSL's hashlib) on spawn.
    return os.urandom(8).hex()


def parse_time(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text)


def until_phrase(stamp: str | None) -> str:
    """A limited agent's `limited_until` as a person reads it: "until 15:04" (local time, with
    the date when it is not today)."""
    try:
        until = _dt.datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        until = None
    if until is None:
        return "until its limit resets"
    local = until.astimezone()
    today = _dt.datetime.now().astimezone().date()
    return f"until {local:%H:%M}" if local.date() == today else f"until {local:%b %d %H:%M}"


@dataclass
class Agent:
    """One task given to one agent CLI. Field names are a public interface (`ls --json`)."""

    name: str
    task: str
    agent: str  # the agent kind: claude, command, demo, ...
    branch: str
    base: str  # commit the branch started from
    worktree: str  # absolute path
    status: Status = Status.STARTING
    session: str | None = None  # tmux session name
    window: str | None = None  # tmux window id, "@3"
    pane: str | None = None  # tmux pane id, "%5"
    launch_id: str | None = None  # this launch's mark on its pane (`@orchestra_launch`): the agent's identity in tmux
    session_id: str | None = None  # the agent CLI's own conversation id, where it has one
    port: int | None = None
    exit_code: int | None = None
    last_message: str | None = None  # the agent's final message of its last turn
    error: str | None = None
    waiting_for: str | None = None  # while `waiting`: what the person is asked
    limited_until: str | None = None  # while `limited`: when orchestra tells it to go on (its limit's reset)
    limit_seen: str | None = None  # the screen line that last made it `limited`: the same line never does again
    transcript: str | None = None  # the agent CLI's transcript file, where it reports one
    last_hook: str | None = None  # the last hook event the agent CLI reported (None: it has reported none)
    death_handled: str | None = None  # the launch whose end has been handled (its on_exit hooks run)
    pull_request: str | None = None  # the pull request `orchestra merge --strategy pr` opened
    host: str | None = None  # the `[hosts.<name>]` it runs on (None: this machine); see orchestra.remote
    parent: str | None = None  # the agent that spawned it through `orchestra mcp` (None: a person did)
    screen_patterns: dict[str, list[str]] = field(
        default_factory=dict
    )  # "waiting"/"busy"/"limited" regexes, read from the screen
    screen_after_hooks: bool = False  # its hooks report only some events: the screen is read for the rest
    argv: list[str] = field(default_factory=list)  # what the launcher execs
    # `spawn --no-worktree`: it runs in the main checkout itself (`worktree` is that), on no branch
    # of its own, so it is never merged, synced or removed with a worktree.
    no_worktree: bool = False
    queued_at: str | None = None  # when it was queued (None: it started at once)
    ticket: int | None = None  # its place in the project's queue: lower starts first
    spawn_batch: str | None = None  # the spawn that made it, for that spawn's --parallel
    parallel: int | None = None  # that spawn's --parallel cap (None: no cap of its own)
    started_at: str | None = None  # when it last left the queue or was spawned, for `[schedule] stagger`
    # The events notifier plugins act on as its spawn asked them (`Plugins.notified`), and the files
    # that answer depends on with their times: the hook handler starts no notifier for the others
    # while those are unchanged (`lifecycle.listened`). None: every notifier is told everything.
    notified: dict[str, Any] | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)

    @property
    def kind(self) -> str:
        """The agent kind (claude, command, ...): `agent` is its name in the JSON, a public interface."""
        return self.agent

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it copies through deepcopy, and every state write encodes
        # every agent (a third of a 10-agent spawn's own time went there).
        data = {name: _copied(getattr(self, name)) for name in _AGENT_FIELDS}
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Agent:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["status"] = Status(values.get("status", Status.STARTING))
        return cls(**values)

    def set_status(self, status: Status, **changes: Any) -> None:
        self.status = status
        for key, value in changes.items():
            setattr(self, key, value)
        self.updated_at = now()


_AGENT_FIELDS = tuple(f.name for f in dataclasses.fields(Agent))


def _copied(value: Any) -> Any:
    """A copy of a JSON-like value: lists and dicts copied all the way down, the rest as is."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copied(v) for v in value]
    return value


@dataclass
class Event:
    """One line of the event log."""

    type: str  # spawned, status, exited, killed, ...
    agent: str | None = None
    status: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: str = field(default_factory=now)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class AgentSettings:
    """`[agents.<kind>]` from orchestra.toml."""

    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    model: str = ""
    mcp: bool = True  # the agent gets orchestra's MCP server (`orchestra mcp`), where its CLI takes one
    # Filled in by orchestra, not read from orchestra.toml: the argument list of orchestra's hook
    # handler for this agent. An agent CLI with hooks of its own runs it with the event JSON on stdin.
    hook_command: list[str] = field(default_factory=list)
    # Filled in by orchestra too: the argument list of orchestra's MCP server scoped to this agent
    # (`orchestra mcp --agent NAME`, started in the agent's worktree), or empty where `mcp = false`.
    mcp_command: list[str] = field(default_factory=list)


@dataclass
class AgentKind:
    """An agent CLI that orchestra can start, handed over by a plugin's `register_agents`.

    `build_argv(agent, settings)` returns the full argument list; the task must be passed as
    one element, never through a shell. `build_resume_argv(agent, settings)`, where the CLI can
    continue a conversation, returns the argument list that continues `agent.session_id`;
    without it `orchestra resume` starts the agent again with its task. `session_ids` asks
    orchestra to choose a conversation id (a UUID, in `agent.session_id`) at spawn.
    `waiting_patterns` and `busy_patterns` are regular expressions matched against the bottom of
    the screen, only while the agent has reported no hook event (no hooks, or not yet: a start-up
    dialog), or always with `screen_after_hooks` (a CLI whose hooks report only a turn's end).
    `limited_patterns` match the line a CLI shows when it hit a usage or rate limit (for a CLI
    whose hooks do not report one): a running or done agent whose screen shows a new such line
    becomes `limited` (docs/concepts.md, "Usage limits"). `limit_continue` is what orchestra
    types into it when the limit resets, for a CLI that then asks in a dialog of its own.
    `limit_over_patterns`, for a CLI that waits a limit out by itself (it retries), match the
    screen below its last limit line once it works again: the limit then ends from the screen,
    and at the reset orchestra only moves it back to `running`, typing nothing.
    `build_env(agent, settings)` returns variables to add to the agent's environment, at spawn
    and at resume (for a CLI configured through its environment). `prepare_worktree(agent,
    settings)` runs once the agent's worktree exists, before its CLI starts, at spawn and at
    resume (for a CLI configured through files in its working folder); it raises
    `OrchestraError` to stop that agent from starting. `hook_translator` names a module (standard
    library only) whose `translate(payload)` turns one of the CLI's hook payloads into
    orchestra's hook event; the hook command orchestra hands the kind then names it.
    `takes_mcp` says that `build_argv` gives the CLI orchestra's MCP server
    (`settings.mcp_command`), which a lead (`spawn --lead`) needs; `mcp_early` that the CLI holds
    its first request until its MCP servers answer, so orchestra starts the project's server
    before the agent's window opens and its start is not added to that request.
    """

    name: str
    build_argv: Callable[[Agent, AgentSettings], list[str]]
    description: str = ""
    default_command: list[str] = field(default_factory=list)
    default_args: list[str] = field(default_factory=list)
    default_env: dict[str, str] = field(default_factory=dict)
    waiting_patterns: list[str] = field(default_factory=list)
    busy_patterns: list[str] = field(default_factory=list)
    limited_patterns: list[str] = field(default_factory=list)
    limit_continue: str = ""  # what orchestra types when a limit resets ("": its own "continue" prompt)
    limit_over_patterns: list[str] = field(default_factory=list)  # it works again (a CLI that retries itself)
    build_resume_argv: Callable[[Agent, AgentSettings], list[str]] | None = None
    build_env: Callable[[Agent, AgentSettings], dict[str, str]] | None = None
    prepare_worktree: Callable[[Agent, AgentSettings], None] | None = None
    session_ids: bool = False
    screen_after_hooks: bool = False
    hook_translator: str = ""  # module whose `translate(payload)` reads the CLI's hook events (see docs/plugins.md)
    takes_mcp: bool = False  # `build_argv` hands the CLI `settings.mcp_command` (orchestra's MCP server)
    mcp_early: bool = False  # the CLI waits for its MCP servers before its first request: start orchestra's first
    plugin: str = ""  # filled in by the plugin manager


@dataclass
class Repository:
    """Where an agent's work is integrated: handed to `merge_strategy` implementations."""

    root: str  # the main checkout, absolute
    target: str  # the branch agents' work is merged into
    remote: str = "origin"  # where `pr` pushes and opens pull requests


@dataclass
class MergeResult:
    """What a merge strategy did: `merged` into the target, or `opened` a pull request."""

    outcome: str  # "merged" | "opened"
    message: str  # one line for the user: "merged 3 commits into main", "opened #12"
    url: str | None = None  # the pull request, where there is one
    commit: str | None = None  # the target's new tip, where it moved


# The four counts of `Usage`, as `ls --json` names them.
USAGE_COUNTS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def usage_count(value: Any) -> int:
    """A token count as an agent CLI's record holds it: a whole number above 0, else 0 (missing,
    negative, fractional or a boolean)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def json_record(line: bytes | str) -> dict[str, Any] | None:
    """One line of a JSON-lines file (a transcript, a rollout) as an object; None for a line that
    is torn, malformed, not UTF-8, or not an object."""
    import json

    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


@dataclass
class Usage:
    """The tokens of one agent's whole conversation, as its kind's plugin read them from the agent
    CLI's own records (the `agent_usage` hook).

    `models` maps each model that answered to its four counts (`USAGE_COUNTS`, each a whole
    number; a count the CLI does not record is 0). `sources` are the files (or folders) read:
    orchestra keeps the answer until one of them changes. `state` is the plugin's own notes (JSON
    values) for reading on from where it stopped: orchestra keeps them with the answer and hands
    the answer back as `previous` next time, so a transcript that grew is read from its old end.
    """

    models: dict[str, dict[str, int]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        """The four counts summed over every model."""
        return {count: sum(counts.get(count, 0) for counts in self.models.values()) for count in USAGE_COUNTS}


@dataclass
class Check:
    """One line of `orchestra doctor` (and of `doctor --json`): what was checked and what was found.

    `ok` is True when all is well, False for a problem (doctor then exits 1), None for something
    worth knowing that is not a problem. `fixed` says `doctor --fix` repaired it. Plugins hand
    these back from their `doctor_checks` hook.
    """

    name: str  # a few words, shown in a column 14 characters wide
    ok: bool | None
    detail: str  # one sentence; for a problem, what to do about it
    fixed: bool = False
