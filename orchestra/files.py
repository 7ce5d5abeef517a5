"""Writing a file in one step and taking a lock across processes: the two ways orchestra's
processes share files (the state file, git's worktree records, the config and shell files it writes).

Imported by the hook handler and the launcher through `orchestra.state`, so it loads only a few
standard modules.
"""

from __future__ import annotations

import fcntl
import os
import time

# `typing.TYPE_CHECKING` without importing typing, on the hook handler's path (mypy reads it as True)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

# The context managers here are classes, not `contextlib.contextmanager` generators: importing
# contextlib (with collections and functools) is a fifth of the hook handler's start.


class locked:  # lowercase: used as a function, `with files.locked(path):`
    """Hold an exclusive `flock` on `path` (created 0600 if missing) for the `with` block.

    The lock belongs to the open file, so it is released when the block ends or the process
    dies; the lock file itself stays, empty. When another process holds it, `busy` (if given) is
    called first: it may say so and return, to wait, or raise, to give up.
    """

    def __init__(self, path: str | Path, busy: Callable[[], None] | None = None):
        self.path, self.busy, self.fd = path, busy, -1

    def __enter__(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if self.busy is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    self.busy()
                    fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def __exit__(self, *exc_info: object) -> None:
        fd, self.fd = self.fd, -1
        os.close(fd)  # closing releases the lock


def try_lock(path: str | Path, create: bool = True) -> int | None:
    """An exclusive `flock` on `path` (created 0600 if missing, with `create`) only if no one holds
    one: the descriptor that holds it (closing it releases the lock), or None when another open
    file holds it, or when the file is gone and `create` is false."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
    except FileNotFoundError:
        if create:
            raise
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class one_running_one_waiting:  # lowercase, like `locked`
    """For background work started at every change (a refresh, a queue look): at most one runs
    and one more waits. Gives False at once when another already waits (it will see what this
    one was started for), else True once this one holds `running`; from then on the next may wait."""

    def __init__(self, waiting: str | Path, running: str | Path):
        self.waiting, self.running = waiting, running
        self.held: locked | None = None

    def __enter__(self) -> bool:
        fd = try_lock(self.waiting)
        if fd is None:
            return False
        try:
            held = locked(self.running)
            held.__enter__()
        finally:
            os.close(fd)  # holding `running` (or failing to): the next may wait
        self.held = held
        return True

    def __exit__(self, *exc_info: object) -> None:
        if self.held is not None:
            self.held.__exit__()
            self.held = None


def hold_shared(path: str | Path) -> int:
    """A shared `flock` on `path` (created 0600 if missing), held until the returned descriptor
    is closed in this process and every process it was handed to."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def wait_unshared(path: str | Path, timeout: float, every: float = 0.05) -> bool:
    """Wait until no process holds a lock on `path` (True), or `timeout` seconds pass (False)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True  # never held
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(every)
    finally:
        os.close(fd)


def changed_at(path: str | Path) -> int | None:
    """The time `path` last changed (`st_mtime_ns`), or None when it cannot be read: the cheap
    check of keys that say whether something may have changed since."""
    try:
        return os.stat(path).st_mtime_ns
    except (OSError, ValueError):
        return None


def write_atomic(path: str | Path, data: bytes | str, mode: int | None = 0o600, durable: bool = False) -> None:
    """Replace `path` with `data` in one step: a reader sees the old file or the new one, never a part.

    The new file gets `mode`, or with `mode=None` the mode of the file it replaces (0644 for a
    new one). `durable` also syncs the file and its folder to disk before returning, for a file
    whose loss after a crash would lose the user's work (the state file).
    """
    path = os.fspath(path)  # os.path, not pathlib: the hook handler writes the state file through here
    folder, name = os.path.split(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if mode != 0o600:
                os.fchmod(handle.fileno(), mode)  # explicitly: O_CREAT's mode is cut by the umask
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        dir_fd = os.open(folder or ".", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
