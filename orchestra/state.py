"""Project state under `<git common dir>/orchestra/`: agent records, the event log, launch files.

The state file is replaced atomically (write, fsync, rename) while holding an exclusive
`flock`, so any number of orchestra processes may read and write it at once; readers need no
lock because a rename is atomic. The event log is append-only NDJSON.

This module is imported by the launcher and the tmux hook handler, which run for every agent
and every pane death: it imports nothing beyond the standard library and `orchestra.models`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from orchestra.errors import OrchestraError
from orchestra.models import Agent, Event

FORMAT_VERSION = 1


class State:
    """The state folder of one project."""

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir)
        self.path = self.dir / "state.json"
        self.lock_path = self.dir / "state.lock"
        self.events_path = self.dir / "events.ndjson"
        self.launch_dir = self.dir / "launch"

    # -- agent records -------------------------------------------------------------------

    def read(self) -> dict[str, Agent]:
        """All agent records as last written, without reconciling them with reality."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(raw)
            return {name: Agent.from_dict(record) for name, record in data.get("agents", {}).items()}
        except (ValueError, TypeError, KeyError) as error:
            raise OrchestraError(
                f"the state file {self.path} is damaged ({error}); move it aside and run `orchestra doctor`."
            ) from None

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Agent]]:
        """Hold the lock, yield the records for changing in place, then write them if changed."""
        with self.locked():
            agents = self.read()
            before = _encode(agents)
            yield agents
            after = _encode(agents)
            if after != before:
                self._write(after)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, payload: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".state.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- event log -----------------------------------------------------------------------

    def append_events(self, events: Iterable[Event]) -> None:
        lines = b"".join(json.dumps(e.to_dict()).encode("ascii") + b"\n" for e in events)
        if not lines:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        # One write() on an O_APPEND descriptor: concurrent writers never interleave within a line.
        fd = os.open(self.events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
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
                events.append(json.loads(line))
            except ValueError:
                continue  # a torn or foreign line never stops the reader
        return events

    # -- launch files: the environment handed from `spawn` to the launcher --------------

    def write_launch_env(self, name: str, env: dict[str, str]) -> Path:
        """Store the spawning shell's environment for the launcher, readable by the user only.

        Passing it through tmux would put it in the tmux server's command lines; the launcher
        deletes this file the moment it has read it.
        """
        self.launch_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.launch_dir / f"{name}.env.json"
        fd, tmp = tempfile.mkstemp(dir=self.launch_dir, prefix=".env.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(env).encode("ascii"))
        os.replace(tmp, path)
        return path

    def take_launch_env(self, name: str) -> Optional[dict[str, str]]:
        path = self.launch_dir / f"{name}.env.json"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return json.loads(raw)

    def discard_launch_env(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.launch_dir / f"{name}.env.json").unlink()


def _encode(agents: dict[str, Agent]) -> bytes:
    data = {"version": FORMAT_VERSION, "agents": {name: agent.to_dict() for name, agent in agents.items()}}
    # ensure_ascii keeps lone surrogates (bytes that were not UTF-8 in argv) as \udcXX escapes,
    # so a task survives the round trip byte for byte.
    return json.dumps(data, indent=1, sort_keys=True).encode("ascii")
