"""Wheels of what is installed here, for a host that installs orchestra without its package index
(`orchestra hosts setup --offline`).

A distribution installed from a wheel keeps the wheel's files (its RECORD) and its tags (WHEEL's
`Tag:` lines), so zipping those files again gives back a wheel pip installs as it would the
original, compiled extensions included. Which distributions: orchestra's requirements and theirs,
read from their metadata with the markers evaluated for this interpreter, as pip would here.
Requirements and their markers (PEP 508) are read with `packaging`, as pip reads them.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from orchestra.errors import OrchestraError

# orchestra's own wheel, as `build_wheel` makes it.
WHEEL_NAME = re.compile(r"^claude_orchestra-[0-9A-Za-z_.+!]+-py3-none-any\.whl$")
# A dependency's wheel file name as `repack` makes it: letters, digits, `_` and `.` in each part,
# nothing a shell or a path could read as more than a name.
DEPENDENCY_WHEEL = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9_.]*[A-Za-z0-9])?-[A-Za-z0-9_.!+]+(?:-[0-9][A-Za-z0-9_.]*)?"
    r"-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+\.whl$"
)
# What an installer adds to a dist-info folder, which the wheel never held (RECORD is written anew).
INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "RECORD.jws", "RECORD.p7s"}


class NotRepackable(OrchestraError):
    """An installed distribution whose files are not known, or not its own (editable)."""


def canonical(name: str) -> str:
    """A project name as pip compares them (PEP 503)."""
    return canonicalize_name(name)


def marker_holds(requirement: Requirement, extras: frozenset[str]) -> bool:
    """Whether `requirement` applies here, for a distribution wanted with `extras` (as pip decides)."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""}))


def dependencies(root: str = "claude-orchestra") -> list[importlib.metadata.Distribution]:
    """The installed distributions `root` needs here, its requirements' requirements included
    (each once, by name), in name order; `root` itself is not among them."""
    top = importlib.metadata.distribution(root)
    extras_of: dict[str, frozenset[str]] = {}
    found: dict[str, importlib.metadata.Distribution] = {}
    queue: list[tuple[str, str, frozenset[str]]] = [(root, text, frozenset()) for text in top.requires or []]
    while queue:
        parent, text, parent_extras = queue.pop()
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            raise OrchestraError(f"cannot read the requirement {text!r} of {parent}: {error}.") from None
        if not marker_holds(requirement, parent_extras):
            continue
        key = canonical(requirement.name)
        if key == canonical(root):
            continue
        wanted = frozenset(requirement.extras)
        if key in extras_of and wanted <= extras_of[key]:
            continue
        extras_of[key] = extras_of.get(key, frozenset()) | wanted
        try:
            dist = found.get(key) or importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            raise OrchestraError(
                f"{requirement.name}, which {parent} needs, is not installed here, so it cannot be copied "
                "to the host: install it here, or set the host up without --offline."
            ) from None
        found[key] = dist
        queue.extend((requirement.name, child, extras_of[key]) for child in dist.requires or [])
    return [found[key] for key in sorted(found)]


def repack(dist: importlib.metadata.Distribution, folder: Path) -> Path:
    """The wheel `dist` was installed from, made again in `folder` from its installed files (its
    RECORD), named from its WHEEL's tags, with a RECORD of its own. A script the wheel carried
    (installed into this Python's scripts folder, not one pip writes for an entry point) goes back
    in as it came, with `#!python`; other files the installer put outside the package folder
    (data) are left out, and pip makes the entry points' scripts again."""
    name = dist.metadata["Name"]
    files = dist.files
    wheel_info = dist.read_text("WHEEL")
    if files is None or wheel_info is None:
        raise NotRepackable(
            f"{name} is installed here without the RECORD and WHEEL files of a wheel, so it cannot be "
            "copied to the host: reinstall it here with pip, or set the host up without --offline."
        )
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    if direct.get("dir_info", {}).get("editable"):
        raise NotRepackable(
            f"{name} is installed here in editable mode, so it cannot be copied to the host as a wheel: "
            "install it normally here, or set the host up without --offline."
        )
    file_name = wheel_file_name(name, dist.version, wheel_info)
    if not DEPENDENCY_WHEEL.match(file_name):
        raise NotRepackable(f"{name} {dist.version} would make the wheel {file_name!r}, not a name orchestra copies.")
    records: list[str] = []
    record_path = ""
    info = next((f.parts[0] for f in files if f.parts and f.parts[0].endswith(".dist-info")), "")
    generated = {entry.name for entry in dist.entry_points if entry.group in ("console_scripts", "gui_scripts")}
    with zipfile.ZipFile(folder / file_name, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            parts = file.parts
            path = Path(str(file.locate()))
            if ".." in parts and info and file.name not in generated and _is_script(path):
                script = _as_packed(path.read_bytes())
                member = f"{info.removesuffix('.dist-info')}.data/scripts/{file.name}"
                archive.writestr(
                    zipfile.ZipInfo.from_file(path, member, strict_timestamps=False), script, zipfile.ZIP_DEFLATED
                )
                records.append(_record_line(member, script))
                continue
            if not parts or ".." in parts or file.is_absolute() or "__pycache__" in parts or file.suffix == ".pyc":
                continue
            if parts[0].endswith(".dist-info") and len(parts) == 2 and parts[1] in INSTALLER_FILES:
                if parts[1] == "RECORD":
                    record_path = str(file)
                continue
            if not path.is_file():
                continue
            data = path.read_bytes()
            archive.writestr(
                zipfile.ZipInfo.from_file(path, str(file), strict_timestamps=False), data, zipfile.ZIP_DEFLATED
            )
            records.append(_record_line(str(file), data))
        if not record_path:
            raise NotRepackable(f"{name} is installed here without a RECORD, so it cannot be copied to the host.")
        archive.writestr(record_path, "\n".join([*records, f"{_csv(record_path)},,"]) + "\n")
    return folder / file_name


def _is_script(path: Path) -> bool:
    """Whether `path` is a file in this Python's scripts folder (`bin/` of a virtualenv)."""
    import sysconfig

    return path.is_file() and path.resolve().parent == Path(sysconfig.get_path("scripts")).resolve()


def _as_packed(script: bytes) -> bytes:
    """A script as its wheel had it: `#!python` where pip wrote this Python's path."""
    first, newline, rest = script.partition(b"\n")
    if first.startswith(b"#!") and Path(first[2:].decode(errors="replace").strip()).name.startswith("python"):
        return b"#!python" + newline + rest
    return script


def _record_line(member: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{_csv(member)},sha256={digest},{len(data)}"


def wheel_file_name(name: str, version: str, wheel_info: str) -> str:
    """`name-version[-build]-python-abi-platform.whl`, each tag part the sorted set of WHEEL's
    `Tag:` lines (so a compiled wheel keeps its platform tags)."""
    tags = [line.split(":", 1)[1].strip() for line in wheel_info.splitlines() if line.startswith("Tag:")]
    triples = [tag.split("-") for tag in tags if tag.count("-") == 2]
    if not triples:
        raise NotRepackable(f"{name}'s WHEEL file has no tags, so it cannot be copied to the host.")
    tag_set = "-".join(".".join(sorted({triple[i] for triple in triples})) for i in range(3))
    build = next((line.split(":", 1)[1].strip() for line in wheel_info.splitlines() if line.startswith("Build:")), "")
    escaped = re.sub(r"[-_.]+", "_", name).lower()
    return f"{escaped}-{version.replace('-', '_')}{f'-{build}' if build else ''}-{tag_set}.whl"


def _csv(text: str) -> str:
    """A RECORD field: quoted, as the csv module writes it, when it holds a comma or a quote."""
    return '"' + text.replace('"', '""') + '"' if "," in text or '"' in text else text


def dependency_wheels(folder: Path, root: str = "claude-orchestra") -> list[Path]:
    """A wheel in `folder` for each installed distribution `root` needs (see `dependencies`)."""
    return [repack(dist, folder) for dist in dependencies(root)]


SKIPPED = ("build", "*.egg-info", ".git", ".venv", "__pycache__", "tests", "node_modules")


def build_wheel(folder: Path) -> Path:
    """A wheel of the orchestra that runs here, in `folder`: built from its source checkout when it
    runs from one (kept in the user's cache under a hash of the sources, so an unchanged checkout
    is built once), else made again from the installed files."""
    import os
    import shutil

    import orchestra

    source = Path(orchestra.__file__).resolve().parent.parent
    if not ((source / "pyproject.toml").is_file() and (source / "orchestra" / "__init__.py").is_file()):
        repack(importlib.metadata.distribution("claude-orchestra"), folder)
        (wheel,) = [w for w in folder.glob("*.whl") if WHEEL_NAME.match(w.name)]
        return wheel
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "claude-orchestra" / "builds"
    kept = cache / source_hash(source)
    found = [w for w in kept.glob("*.whl") if WHEEL_NAME.match(w.name)] if kept.is_dir() else []
    if len(found) == 1:
        return Path(shutil.copy2(found[0], folder / found[0].name))
    # From a copy: a `build/` folder left in the checkout would give the wheel its stale files.
    copy = folder / "source"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(*SKIPPED))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(folder), str(copy)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        raise OrchestraError(f"building orchestra's wheel failed: {said[-1] if said else done.returncode}")
    shutil.rmtree(copy, ignore_errors=True)
    (wheel,) = [w for w in folder.glob("*.whl") if WHEEL_NAME.match(w.name)]
    try:  # best effort: a cache that cannot be written only means building again next time
        part = cache / f".{kept.name}.{os.getpid()}"
        part.mkdir(parents=True, exist_ok=True)
        shutil.copy2(wheel, part / wheel.name)
        part.rename(kept)
    except OSError:
        shutil.rmtree(part, ignore_errors=True)
    return wheel


def source_hash(source: Path) -> str:
    """A hash of every file a wheel is built from (what `build_wheel` copies): names and contents."""
    import fnmatch
    import os

    digest = hashlib.sha256()
    for folder, folders, names in os.walk(source):
        folders[:] = sorted(d for d in folders if not any(fnmatch.fnmatch(d, p) for p in SKIPPED))
        for name in sorted(names):
            if any(fnmatch.fnmatch(name, p) for p in SKIPPED):
                continue
            path = Path(folder, name)
            digest.update(str(path.relative_to(source)).encode() + b"\0")
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"\1unreadable")
            digest.update(b"\0")
    return digest.hexdigest()[:32]
