"""Wheels made again from what is installed here (`orchestra/wheels.py`), for `hosts setup --offline`.
What the host does with them is in tests/test_hosts.py, against a real sshd."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import platform
import sys
import zipfile

import pytest
from packaging.requirements import Requirement

from orchestra import wheels
from orchestra.errors import OrchestraError


@pytest.mark.parametrize(
    ("text", "extras", "holds"),
    [
        ("pkg", (), True),
        (f'pkg; python_version < "{sys.version_info.major}.{sys.version_info.minor}"', (), False),
        (f'pkg; python_version >= "{sys.version_info.major}.{sys.version_info.minor}"', (), True),
        ('pkg; extra == "test"', (), False),
        ('pkg; extra == "test"', ("test",), True),
        ('pkg; extra == "Test_Tools"', ("test-tools",), True),
        ('pkg; extra == "cli" and python_version < "3"', ("cli",), False),
        ('pkg; python_version < "3" or extra == "cli"', ("other", "cli"), True),
    ],
)
def test_a_requirement_applies_as_pip_would_decide_here(text, extras, holds):
    assert wheels.marker_holds(Requirement(text), frozenset(extras)) is holds


def test_the_dependencies_are_orchestras_requirements_and_theirs_here():
    names = {wheels.canonical(dist.metadata["Name"]) for dist in wheels.dependencies()}
    assert {"click", "fastapi", "mcp", "uvicorn", "websockets"} <= names  # orchestra's own
    assert {"pydantic-core", "starlette", "anyio"} <= names  # theirs
    assert "claude-orchestra" not in names
    assert "pytest" not in names and "ruff" not in names, "an extra orchestra was not asked for"
    assert ("tomli" in names) is (sys.version_info < (3, 11)), "a marker evaluated for this Python"


def record_of(archive: zipfile.ZipFile) -> dict[str, str]:
    (record,) = [name for name in archive.namelist() if name.endswith(".dist-info/RECORD")]
    lines = archive.read(record).decode().splitlines()
    return {line.rsplit(",", 2)[0]: line.rsplit(",", 2)[1] for line in lines}


@pytest.mark.parametrize("name", ["click", "pydantic_core"])
def test_an_installed_distribution_is_made_again_into_its_wheel(tmp_path, name):
    dist = importlib.metadata.distribution(name)
    made = wheels.repack(dist, tmp_path)
    assert wheels.DEPENDENCY_WHEEL.match(made.name), made.name
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines() if "Tag:" in line]
    for tag in tags:  # a compiled one keeps its own tags, platform included
        for part, in_name in zip(tag.split("-"), made.name.removesuffix(".whl").split("-")[-3:], strict=True):
            assert part in in_name.split("."), (tag, made.name)
    with zipfile.ZipFile(made) as archive:
        names = archive.namelist()
        record = record_of(archive)
        assert not [n for n in names if n.endswith((".pyc", "/INSTALLER", "/direct_url.json", "/REQUESTED"))]
        assert set(record) == set(names)
        for member in names:  # every file listed with its own hash, as pip checks
            if not member.endswith("/RECORD"):
                digest = base64.urlsafe_b64encode(hashlib.sha256(archive.read(member)).digest()).rstrip(b"=")
                assert record[member] == f"sha256={digest.decode()}", member
    if name == "pydantic_core":
        assert "-cp3" in made.name and platform.machine() in made.name, made.name


def make_dist(tmp_path, folder: str, files: dict[str, str]) -> importlib.metadata.Distribution:
    path = tmp_path / folder
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return importlib.metadata.PathDistribution(path)


def test_an_editable_install_or_one_without_a_record_is_named_in_one_sentence(tmp_path):
    editable = make_dist(
        tmp_path,
        "mine-1.0.dist-info",
        {
            "METADATA": "Metadata-Version: 2.1\nName: mine\nVersion: 1.0\n",
            "WHEEL": "Wheel-Version: 1.0\nTag: py3-none-any\n",
            "RECORD": "mine-1.0.dist-info/METADATA,,\n",
            "direct_url.json": json.dumps({"url": "file:///src/mine", "dir_info": {"editable": True}}),
        },
    )
    with pytest.raises(OrchestraError, match=r"^mine is installed here in editable mode, so it cannot be copied"):
        wheels.repack(editable, tmp_path)
    egg = make_dist(tmp_path, "old.egg-info", {"PKG-INFO": "Metadata-Version: 1.1\nName: old\nVersion: 2.0\n"})
    with pytest.raises(OrchestraError, match=r"^old is installed here without the RECORD and WHEEL files of a wheel"):
        wheels.repack(egg, tmp_path)
    assert not list(tmp_path.glob("*.whl"))


def test_a_dependency_not_installed_here_is_named(tmp_path, monkeypatch):
    make_dist(
        tmp_path,
        "needy-1.0.dist-info",
        {"METADATA": "Metadata-Version: 2.1\nName: needy\nVersion: 1.0\nRequires-Dist: not-installed-anywhere>=1\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(OrchestraError, match=r"^not-installed-anywhere, which needy needs, is not installed here"):
        wheels.dependencies("needy")


@pytest.mark.parametrize(
    "name",
    ["../x-1-py3-none-any.whl", "x-1-py3-none-any.whl;rm", "x y-1-py3-none-any.whl", ".x-1-py3-none-any.whl", "x.whl"],
)
def test_a_wheel_name_that_is_more_than_a_name_is_not_copied(name):
    assert not wheels.DEPENDENCY_WHEEL.match(name)
