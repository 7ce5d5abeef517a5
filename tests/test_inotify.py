"""orchestra.inotify against the kernel's own inotify: what a watch on a folder reports."""

from __future__ import annotations

import pytest

from orchestra.inotify import OVERFLOW, open_inotify


@pytest.fixture
def inotify():
    found = open_inotify()
    if found is None:
        pytest.skip("this system has no inotify")
    yield found
    found.close()


def test_a_watched_folder_reports_an_edit_in_place_a_new_file_and_its_own_end(inotify, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "kept.txt").write_text("one\n")
    wd = inotify.watch(str(folder))
    assert wd is not None and inotify.changed() == set()
    with open(folder / "kept.txt", "r+") as file:  # in place: the folder's own time does not move
        file.write("two")
    assert (wd, "kept.txt") in inotify.changed()
    (folder / "new.txt").write_text("x")
    assert (wd, "new.txt") in inotify.changed()
    assert inotify.changed() == set()  # each report is read once
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    assert (wd, "") in inotify.changed()  # the watch ended with its folder


def test_what_cannot_be_watched_or_read_says_so(inotify, tmp_path):
    assert inotify.watch(str(tmp_path / "missing")) is None
    (tmp_path / "file").write_text("")
    assert inotify.watch(str(tmp_path / "file")) is None  # folders only
    watched = inotify.watch(str(tmp_path))
    assert watched is not None
    inotify.close()
    assert inotify.changed() == {(OVERFLOW, "")}  # a closed queue: everything may have changed
    assert inotify.watch(str(tmp_path)) is None
