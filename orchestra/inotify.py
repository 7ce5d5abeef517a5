"""Which folders saw a change, from Linux's inotify: for the board, which lives as long as its
session and would otherwise ask git about every idle worktree once a minute to see edits in place.

A watch on a folder reports what happens to the entries in it: a file written (also in place,
which changes no folder's modification time), its metadata changed, an entry created, deleted or
renamed, the folder itself removed. Not reported: writes through a shared memory map, and
changes on another machine (a network file system). Elsewhere than on Linux, or when the
kernel's watches run out, `open` answers None or `watch` does, and the caller keeps its timer.

Three calls of the C library through ctypes, which the standard library has: no dependency, and
the board imports this module only when it starts.
"""

from __future__ import annotations

import os
import struct
import sys

# <sys/inotify.h>
IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

CHANGES = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
)
HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)
OVERFLOW = -1  # the watch id reported for a queue overflow: every watch may have missed events


class Inotify:
    """One inotify instance: folders watched by id, and the ids that saw something since the
    last `changed()`."""

    def __init__(self, fd: int, libc: object) -> None:
        self._fd = fd
        self._libc = libc

    def watch(self, folder: str) -> int | None:
        """Watch `folder` (not what is below it); its id, or None when it cannot be watched (gone,
        not a folder, or the kernel's limit of watches reached)."""
        wd: int = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), CHANGES)  # type: ignore[attr-defined]
        return wd if wd >= 0 else None

    def unwatch(self, wd: int) -> None:
        self._libc.inotify_rm_watch(self._fd, wd)  # type: ignore[attr-defined]

    def changed(self) -> set[tuple[int, str]]:
        """What the watches reported since the last call (without waiting): each watch's id with
        the name of the entry in its folder that changed ("" for the folder itself, and for a
        watch that ended: its folder is gone); `(OVERFLOW, "")` when the kernel's queue
        overflowed and events were lost."""
        found: set[tuple[int, str]] = set()
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return found
            except OSError:  # the queue cannot be read: whatever it held counts as lost
                return {*found, (OVERFLOW, "")}
            if not data:
                return found
            offset = 0
            while offset + HEADER.size <= len(data):
                wd, mask, _cookie, length = HEADER.unpack_from(data, offset)
                name = data[offset + HEADER.size : offset + HEADER.size + length].rstrip(b"\0")
                offset += HEADER.size + length
                if mask & IN_Q_OVERFLOW:
                    found.add((OVERFLOW, ""))
                elif mask & IN_IGNORED:
                    found.add((wd, ""))
                else:
                    found.add((wd, os.fsdecode(name)))

    def close(self) -> None:
        """Stop watching (the instance's watches end with it); also done when it is collected."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __del__(self) -> None:
        self.close()


def open_inotify() -> Inotify | None:
    """A new inotify instance, or None where there is none (not Linux, or no instance left)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)  # the C library Python itself runs on
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    except (OSError, AttributeError):
        return None
    return Inotify(fd, libc) if fd >= 0 else None
