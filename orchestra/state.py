"""Project state under `<git common dir>/orchestra/`: agent records, the event log, launch files.

The state file is replaced atomically (write, fsync, rename) while holding an exclusive
`flock`, so any number of orchestra processes may read and write it at once; readers need no
lock because a rename is atomic. The event log is append-only NDJSON.

This module is imported by the launcher and by the hook handlers, which run for every agent,
every agent hook event and every pane death: at import it loads only a few standard modules.
The agent hook handler works on the raw records (`update_raw`), without `orchestra.models`.
"""

from __future__ import annotations

import os

from orchestra import cjson, files, statuses
from orchestra.errors import OrchestraError

# `typing.TYPE_CHECKING` without importing typing, on the hook handler's path (mypy reads it as True)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from contextlib import AbstractContextManager
    from pathlib import Path
    from typing import Any, TypedDict

    from orchestra.models import Agent, Event

    class LaunchFile(TypedDict):  # for annotations only: typing is not imported at run time
        """What `spawn` hands the launcher in `launch/<name>.env.json`."""

        env: dict[str, str]  # the agent's whole environment
        setup: str  # `[worktree] setup`, or ""
        idle: bool  # a resumed conversation: the agent opens `done`, idle at its prompt


try:  # datetime's C half: `datetime` itself defines its Python half first (a processor's ~1.5 ms)
    from _datetime import datetime as _datetime  # type: ignore[import-not-found]
except ImportError:  # not CPython
    from datetime import datetime as _datetime

FORMAT_VERSION = 1
REMOTE_MIRROR = "remote.json"  # the last known records of the agents on hosts (orchestra.remote)
_BUSY: dict[str, int] = {}  # busy.lock files this process holds, by path


class State:
    """The state folder of one project."""

    def __init__(self, state_dir: str | os.PathLike[str]):
        # The folder as text: what the hook handler's path uses, which does not import pathlib
        # (most of its start-up is imports); everyone else takes `dir` and the paths below.
        self.folder = os.fspath(state_dir)

    def _file(self, name: str) -> str:
        return os.path.join(self.folder, name)

    @property
    def dir(self) -> Path:
        from pathlib import Path

        return Path(self.folder)

    @property
    def path(self) -> Path:
        return self.dir / "state.json"

    @property
    def lock_path(self) -> Path:
        return self.dir / "state.lock"

    @property
    def events_path(self) -> Path:
        return self.dir / "events.ndjson"

    @property
    def launch_dir(self) -> Path:
        return self.dir / "launch"

    @property
    def busy_path(self) -> Path:
        return self.dir / "busy.lock"

    # -- background work ------------------------------------------------------------------

    def hold_busy(self) -> int:
        """Mark this process as working on the project until it exits: a shared `flock` on
        `busy.lock`, held by the launcher, `_exited` and the pane-died hook. The notifier processes they
        start inherit it (`busy_fd`), so `wait_idle` also waits for those."""
        busy = self._file("busy.lock")
        fd = _BUSY.get(busy)
        if fd is None:
            fd = files.hold_shared(busy)
            _BUSY[busy] = fd
        return fd

    def busy_fd(self) -> int | None:
        """The `busy.lock` this process holds, if it holds one."""
        return _BUSY.get(self._file("busy.lock"))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no launcher, `_exited`, pane-died hook or notifier of theirs works on this project
        (or `timeout` seconds pass, then False)."""
        return files.wait_unshared(self.busy_path, timeout)

    # -- agent records -------------------------------------------------------------------

    def has_remote(self) -> bool:
        """Whether an agent of this project was ever on a host (`orchestra.remote` keeps their
        records in `REMOTE_MIRROR`): asked first so that a project with none never imports it."""
        return (self.dir / REMOTE_MIRROR).exists()

    def read(self) -> dict[str, Agent]:
        """All agent records as last written, without reconciling them with reality."""
        return self.agents_of(self.read_raw(), checked=True)

    def agents_of(self, records: dict[str, dict[str, Any]], checked: bool = False) -> dict[str, Agent]:
        """Records as stored (`read_raw`) turned into `Agent` objects; `checked`: they come from
        `read_raw()` as they are, so every one was found complete and sound there already."""
        from orchestra.models import Agent

        for name, record in {} if checked else records.items():
            problem = record_problem(record, complete=True)
            if problem:
                raise self._damaged(f"agent {name!r}: {problem}")
        try:
            return {name: Agent.from_dict(record) for name, record in records.items()}
        except (ValueError, TypeError, KeyError) as error:
            raise self._damaged(error) from None

    def read_raw(self, complete: bool = True) -> dict[str, dict[str, Any]]:
        """The records as JSON objects, as stored, each checked (`record_problem`): a damaged
        record raises, so that no writer rewrites the file. `complete=False` lets a reader that
        only counts (the status bar) take records that lack fields."""
        try:
            with open(self._file("state.json"), "rb") as file:
                raw = file.read()
        except FileNotFoundError:
            return {}
        try:
            data = cjson.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("it is not a JSON object")
            version = data.get("version", FORMAT_VERSION)
            agents = data.get("agents", {})
        except ValueError as error:
            raise self._damaged(error) from None
        if not isinstance(version, int) or isinstance(version, bool):
            raise self._damaged(f"'version' is {cjson.dumps(version)}, not a number")
        if version > FORMAT_VERSION:
            raise OrchestraError(
                f"the state file {self.path} was written by a newer orchestra (format {version}; this one reads "
                f"{FORMAT_VERSION}): upgrade orchestra to use this repository; the file is left as it is."
            )
        if not isinstance(agents, dict):
            raise self._damaged("'agents' is not an object")
        for name, record in agents.items():
            problem = record_problem(record, complete)
            if problem:
                raise self._damaged(f"agent {name!r}: {problem}")
        return agents

    def _damaged(self, error: Exception | str) -> OrchestraError:
        return OrchestraError(
            f"the state file {self.path} is damaged ({error}): repair it by hand, or move it aside "
            "(orchestra then forgets its agents, whose worktrees and branches stay) and run `orchestra doctor`."
        )

    def update(self) -> AbstractContextManager[dict[str, Agent]]:
        """Hold the lock, give the records for changing in place, then write them if changed."""
        return _Update(self, self.read, _encode)

    def update_raw(self) -> AbstractContextManager[dict[str, dict[str, Any]]]:
        """Like `update`, on the records as JSON objects (for the hook handler, which must start fast)."""
        return _Update(self, self.read_raw, _encode_raw)

    def locked(self) -> files.locked:
        # Not `parents=True`: a hook that fires after its repository was deleted must not bring
        # back an empty `.git/orchestra/` where the repository was.
        try:
            os.mkdir(self.folder)
        except FileExistsError:
            pass
        return files.locked(self._file("state.lock"))

    def _write(self, payload: bytes) -> None:
        files.write_atomic(self._file("state.json"), payload, durable=True)

    # -- event log -----------------------------------------------------------------------

    def append_events(self, events: Iterable[Event | dict[str, Any]]) -> None:
        """Append events (Event objects, or their dicts) to the log."""
        lines = b"".join(cjson.dumps(e if isinstance(e, dict) else e.to_dict()).encode("ascii") + b"\n" for e in events)
        if not lines:
            return
        try:
            os.mkdir(self.folder)
        except FileExistsError:
            pass
        # One write() on an O_APPEND descriptor: concurrent writers never interleave within a line.
        fd = os.open(self._file("events.ndjson"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines)
        finally:
            os.close(fd)

    def read_events(self) -> list[dict[str, Any]]:
        try:
            raw = self.events_path.read_bytes()
        except FileNotFoundError:
            return []
        events = []
        for line in raw.splitlines():
            try:
                events.append(cjson.loads(line))
            except ValueError:
                continue  # a torn or foreign line never stops the reader
        return events

    # -- launch files: the environment handed from `spawn` to the launcher --------------

    def write_launch_env(self, name: str, launch: LaunchFile) -> Path:
        """Store the spawning shell's environment for the launcher, readable by the user only.

        Passing it through tmux would put it in the tmux server's command lines; the launcher
        deletes this file the moment it has read it.
        """
        self.launch_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.launch_dir / f"{name}.env.json"
        files.write_atomic(path, cjson.dumps(launch).encode("ascii"))
        return path

    def take_launch_env(self, name: str) -> LaunchFile | None:
        path = os.path.join(self.folder, "launch", f"{name}.env.json")  # os.path: the launcher's start
        try:
            with open(path, "rb") as file:
                raw = file.read()
        except FileNotFoundError:
            return None
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        launch: LaunchFile = cjson.loads(raw)  # ValueError for a damaged file, as for one of the wrong shape:
        env = launch.get("env") if isinstance(launch, dict) else None
        if not isinstance(env, dict) or not all(isinstance(v, str) and "\0" not in v for v in env.values()):
            raise ValueError(f"{path} holds no environment of strings")
        return launch

    def peek_launch_env(self, name: str) -> LaunchFile | None:
        """A queued agent's launch file, left in place: the window it opens is given it again."""
        try:
            launch: LaunchFile = cjson.loads((self.launch_dir / f"{name}.env.json").read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return launch

    def discard_launch_env(self, name: str) -> None:
        try:
            (self.launch_dir / f"{name}.env.json").unlink()
        except FileNotFoundError:
            pass


class _Update:
    """`with state.update() as records:` (or `update_raw`): the lock held for the block, the
    records read in it, and written back at its end if the block changed them (and raised nothing).
    A class rather than a `contextlib` generator: the hook handler's start does without contextlib."""

    def __init__(self, state: State, read: Callable[[], Any], encode: Callable[[Any], bytes]):
        self.state, self.read, self.encode = state, read, encode
        self.lock = state.locked()

    def __enter__(self) -> Any:
        self.lock.__enter__()
        try:
            self.records = self.read()
            self.before = self.encode(self.records)
        except BaseException:
            self.lock.__exit__()
            raise
        return self.records

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is None:
                after = self.encode(self.records)
                if after != self.before:
                    self.state._write(after)
        finally:
            self.lock.__exit__()


def record_problem(record: object, complete: bool = False) -> str | None:
    """What is wrong with one stored agent record, or None: each field of `Agent` it has of its
    type, the times readable, the status one orchestra knows; with `complete`, every field an
    `Agent` needs present too (the raw readers need only the fields they read)."""
    if not isinstance(record, dict):
        return f"the record is {type(record).__name__ if record is not None else 'null'}, not an object"
    for key, (kinds, required) in RECORD_FIELDS.items():
        if key not in record:
            if required and complete:
                return f"{key!r} is missing"
            continue
        value = record[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            return f"{key!r} is {cjson.dumps(value)[:60]}, not {_kind_words(kinds)}"
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            return f"{key!r} must be a list of strings"
        if key in PLACES and "\0" in (
            value if isinstance(value, str) else "".join(value) if isinstance(value, list) else ""
        ):
            return f"{key!r} holds a NUL character, which no path, name or argument can hold"
    for key in ("created_at", "updated_at"):
        if key in record:
            try:
                _datetime.fromisoformat(record[key])
            except ValueError:
                return f"{key!r} is {cjson.dumps(record[key])[:60]}, not an ISO 8601 time"
    if "status" in record and record["status"] not in statuses.STATUSES:
        return f"'status' is {cjson.dumps(record['status'])[:60]}, not one of {', '.join(statuses.STATUSES)}"
    return None


_S, _I, _B, _N, _L, _D = str, int, bool, type(None), list, dict
# Each field of `orchestra.models.Agent` as stored: the JSON types it takes, and whether a record
# must have it (tests/test_state.py holds this table to the dataclass). Spelled out here so that
# the hook handler, which reads raw records on every event, does not import the models.
RECORD_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "name": ((_S,), True),
    "task": ((_S,), True),
    "agent": ((_S,), True),
    "branch": ((_S,), True),
    "base": ((_S,), True),
    "worktree": ((_S,), True),
    "status": ((_S,), False),
    "session": ((_S, _N), False),
    "window": ((_S, _N), False),
    "pane": ((_S, _N), False),
    "launch_id": ((_S, _N), False),
    "session_id": ((_S, _N), False),
    "port": ((_I, _N), False),
    "exit_code": ((_I, _N), False),
    "last_message": ((_S, _N), False),
    "error": ((_S, _N), False),
    "waiting_for": ((_S, _N), False),
    "limited_until": ((_S, _N), False),
    "limit_seen": ((_S, _N), False),
    "transcript": ((_S, _N), False),
    "last_hook": ((_S, _N), False),
    "death_handled": ((_S, _N), False),
    "pull_request": ((_S, _N), False),
    "host": ((_S, _N), False),
    "parent": ((_S, _N), False),
    "screen_patterns": ((_D,), False),
    "screen_after_hooks": ((_B,), False),
    "argv": ((_L,), False),
    "no_worktree": ((_B,), False),
    "queued_at": ((_S, _N), False),
    "ticket": ((_I, _N), False),
    "spawn_batch": ((_S, _N), False),
    "parallel": ((_I, _N), False),
    "started_at": ((_S, _N), False),
    "notified": ((_D, _N), False),
    "created_at": ((_S,), False),
    "updated_at": ((_S,), False),
}


# The fields orchestra hands to git, tmux or a program as they are; the agents' own words (their
# messages, errors) may hold anything and are only shown.
PLACES = frozenset({"name", "agent", "branch", "base", "worktree", "session", "window", "pane", "argv"})


def _kind_words(kinds: tuple[type, ...]) -> str:
    words = {str: "a string", int: "a number", bool: "true or false", list: "a list", dict: "an object"}
    text = " or ".join(words[k] for k in kinds if k in words)
    return text + (" or null" if type(None) in kinds else "")


def _encode(agents: dict[str, Agent]) -> bytes:
    return _encode_raw({name: agent.to_dict() for name, agent in agents.items()})


def _encode_raw(agents: dict[str, dict[str, Any]]) -> bytes:
    data = {"version": FORMAT_VERSION, "agents": agents}
    # ensure_ascii keeps lone surrogates (bytes that were not UTF-8 in argv) as \udcXX escapes,
    # so a task survives the round trip byte for byte. No indent: with one, json encodes in Python,
    # three times slower, on every hook event (`jq . state.json` shows it to a person).
    return cjson.dumps(data, sort_keys=True, compact=True).encode("ascii")
