"""orchestra.files: the one atomic write and the one flock, used by state, worktrees, config and completion."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from orchestra import files


def test_write_atomic_replaces_in_one_step_with_the_mode_asked(tmp_path):
    tmp_path = tmp_path / "d"
    tmp_path.mkdir()
    path = tmp_path / "f.json"
    files.write_atomic(path, "one")
    assert path.read_text() == "one" and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o640)
    files.write_atomic(path, b"two", mode=None)  # keeps the mode of the file it replaces
    assert path.read_bytes() == b"two" and stat.S_IMODE(path.stat().st_mode) == 0o640
    files.write_atomic(tmp_path / "new", "x", mode=None, durable=True)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["f.json", "new"]  # no temporary file left behind


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    tmp_path = tmp_path / "d"
    tmp_path.mkdir()
    path = tmp_path / "f"
    path.write_text("old")
    with pytest.raises(TypeError):
        files.write_atomic(path, 42)  # type: ignore[arg-type]
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f"]


def _count_under_lock(lock: str, counter: str) -> None:
    for _ in range(50):
        with files.locked(lock):
            with open(counter) as handle:
                value = int(handle.read())
            with open(counter, "w") as handle:
                handle.write(str(value + 1))


def test_locked_excludes_other_processes(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("0")
    args = (str(tmp_path / "lock"), str(counter))
    workers = [multiprocessing.Process(target=_count_under_lock, args=args) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert counter.read_text() == "200"  # without the lock, read-then-write loses increments
    assert stat.S_IMODE((tmp_path / "lock").stat().st_mode) == 0o600


def _hold(lock: str, held, release) -> None:
    with files.locked(lock):
        held.set()
        release.wait(60)


def test_busy_is_told_when_another_process_holds_the_lock_and_may_give_up(tmp_path):
    lock = str(tmp_path / "lock")
    calls: list[str] = []
    with files.locked(lock, busy=lambda: calls.append("busy")):
        pass
    assert calls == []  # a free lock is taken without a word
    held, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(lock, held, release))
    holder.start()
    try:
        assert held.wait(30)

        def give_up() -> None:
            raise TimeoutError("held by another")

        with pytest.raises(TimeoutError), files.locked(lock, busy=give_up):
            calls.append("ran")
        assert calls == []
    finally:
        release.set()
        holder.join(timeout=60)
    with files.locked(lock, busy=lambda: calls.append("busy")):
        calls.append("ran")
    assert calls == ["ran"]


def test_try_lock_takes_a_free_lock_and_never_waits_for_a_held_one(tmp_path):
    path = tmp_path / "x.lock"
    assert files.try_lock(path, create=False) is None, "no file, and not asked to make one"
    held = files.try_lock(path)
    assert held is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    try:
        assert files.try_lock(path) is None, "another open file holds it"
    finally:
        os.close(held)
    again = files.try_lock(path, create=False)
    assert again is not None, "closing the descriptor released it"
    os.close(again)


def test_no_other_module_takes_a_lock_or_replaces_a_file_by_itself():
    """One flock helper and one atomic write: the rest of orchestra and its plugins call them."""
    root = Path(__file__).parent.parent
    sources = [*(root / "orchestra").rglob("*.py"), *(root / "plugins").rglob("*.py")]
    own = [
        f"{path.relative_to(root)}:{number}"
        for path in sources
        if path != root / "orchestra" / "files.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "fcntl.flock(" in line or "os.replace(" in line or "os.rename(" in line
    ]
    assert own == []
