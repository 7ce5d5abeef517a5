"""Wheels of what is installed here, for a host that installs orchestra without its package index
(`orchestra hosts setup --offline`).

A distribution installed from a wheel keeps the wheel's files (its RECORD) and its tags (WHEEL's
`Tag:` lines), so zipping those files again gives back a wheel pip installs as it would the
original, compiled extensions included. Which distributions: orchestra's requirements and theirs,
read from their metadata with the markers evaluated for this interpreter, as pip would here.
Standard library only: `packaging` need not be installed, so requirements and markers (PEP 508)
are read by the small parser below, which knows what requirement metadata holds.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class Requirement:
    name: str
    extras: frozenset[str]
    marker: str  # "" when there is none


def canonical(name: str) -> str:
    """A project name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?")


def parse_requirement(text: str) -> Requirement:
    """`name [extras] (version or @ url) ; marker`, as in a distribution's Requires-Dist."""
    head, _, marker = text.partition(";")
    found = REQUIREMENT.match(head)
    if not found:
        raise ValueError(f"not a requirement: {text!r}")
    extras = frozenset(canonical(e.strip()) for e in (found.group(2) or "").split(",") if e.strip())
    return Requirement(found.group(1), extras, marker.strip())


def environment() -> dict[str, str]:
    """The marker variables of PEP 508 for this interpreter."""
    info = sys.implementation.version
    implementation = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        implementation += info.releaselevel[0] + str(info.serial)
    return {
        "os_name": os.name,
        "sys_platform": sys.platform,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "python_full_version": platform.python_version(),
        "implementation_name": sys.implementation.name,
        "implementation_version": implementation,
    }


TOKEN = re.compile(r"""\s*(?:(\(|\))|('[^']*'|"[^"]*")|(===|==|!=|<=|>=|~=|<|>)|([A-Za-z_][A-Za-z0-9_.]*))""")
VERSION = re.compile(r"^\s*v?(\d+(?:\.\d+)*)(\.\*)?")


def marker_holds(marker: str, extras: frozenset[str] = frozenset(), env: dict[str, str] | None = None) -> bool:
    """Whether a PEP 508 marker holds here when the distribution was asked for with `extras`
    (pip evaluates it once without an extra and once for each one asked for)."""
    if not marker:
        return True
    values = env or environment()
    return any(_Marker(marker, {**values, "extra": extra}).evaluate() for extra in ("", *sorted(extras)))


class _Marker:
    """A recursive-descent reading of one marker: or of ands of comparisons, with parentheses."""

    def __init__(self, text: str, values: dict[str, str]) -> None:
        self.tokens: list[tuple[str, str]] = []
        self.values = values
        position = 0
        while text[position:].strip():
            found = TOKEN.match(text, position)
            if not found:
                raise ValueError(f"cannot read the marker {text!r}")
            group = found.lastindex or 1  # the one alternative that matched
            self.tokens.append((("paren", "string", "op", "word")[group - 1], found.group(group)))
            position = found.end()
        self.at = 0

    def evaluate(self) -> bool:
        result = self._or()
        if self.at != len(self.tokens):
            raise ValueError(f"cannot read the marker at {self.tokens[self.at][1]!r}")
        return result

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token[0] == "end":
            raise ValueError("the marker ends too soon")
        self.at += 1
        return token

    def _or(self) -> bool:
        result = self._and()
        while self._peek() == ("word", "or"):
            self.at += 1
            result = self._and() or result
        return result

    def _and(self) -> bool:
        result = self._comparison()
        while self._peek() == ("word", "and"):
            self.at += 1
            result = self._comparison() and result
        return result

    def _comparison(self) -> bool:
        if self._peek() == ("paren", "("):
            self.at += 1
            result = self._or()
            if self._take() != ("paren", ")"):
                raise ValueError("a parenthesis of the marker is not closed")
            return result
        left_name, left = self._value()
        kind, op = self._take()
        if (kind, op) == ("word", "not") and self._take() == ("word", "in"):
            op = "not in"
        elif kind != "op" and (kind, op) != ("word", "in"):
            raise ValueError(f"{op!r} is not a comparison")
        right_name, right = self._value()
        if "extra" in (left_name, right_name):
            left, right = canonical(left), canonical(right)
        return compare(left, op, right)

    def _value(self) -> tuple[str, str]:
        kind, text = self._take()
        if kind == "string":
            return "", text[1:-1]
        if kind == "word" and text in self.values:
            return text, self.values[text]
        raise ValueError(f"{text!r} is not a marker variable or a quoted string")


def compare(left: str, op: str, right: str) -> bool:
    """One marker comparison: as versions when both sides are versions, else as strings."""
    if op == "in":
        return left in right
    if op == "not in":
        return left not in right
    mine, theirs = VERSION.match(left), VERSION.match(right)
    if op != "===" and mine and theirs and not mine.group(2):
        a = [int(part) for part in mine.group(1).split(".")]
        b = [int(part) for part in theirs.group(1).split(".")]
        if theirs.group(2):  # `== 3.11.*`: a prefix
            return (a[: len(b)] == b) == (op == "==")
        width = max(len(a), len(b))
        a, b = a + [0] * (width - len(a)), b + [0] * (width - len(b))
        if op == "~=":
            prefix = len(theirs.group(1).split(".")) - 1
            return a >= b and a[:prefix] == b[:prefix]
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op in ("==", "==="):
        return left == right
    if op == "!=":
        return left != right
    raise ValueError(f"cannot compare {left!r} {op} {right!r}")


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
            requirement = parse_requirement(text)
            if not marker_holds(requirement.marker, parent_extras):
                continue
        except ValueError as error:
            raise OrchestraError(f"cannot read the requirement {text!r} of {parent}: {error}.") from None
        key = canonical(requirement.name)
        if key == canonical(root):
            continue
        if key in extras_of and requirement.extras <= extras_of[key]:
            continue
        extras_of[key] = extras_of.get(key, frozenset()) | requirement.extras
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
    RECORD), named from its WHEEL's tags, with a RECORD of its own. Files the installer put outside
    the package folder (scripts, data) are left out: pip makes the console scripts again."""
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
    with zipfile.ZipFile(folder / file_name, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            parts = file.parts
            if not parts or ".." in parts or file.is_absolute() or "__pycache__" in parts or file.suffix == ".pyc":
                continue
            if parts[0].endswith(".dist-info") and len(parts) == 2 and parts[1] in INSTALLER_FILES:
                if parts[1] == "RECORD":
                    record_path = str(file)
                continue
            path = Path(str(file.locate()))
            if not path.is_file():
                continue
            data = path.read_bytes()
            archive.writestr(
                zipfile.ZipInfo.from_file(path, str(file), strict_timestamps=False), data, zipfile.ZIP_DEFLATED
            )
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{_csv(str(file))},sha256={digest},{len(data)}")
        if not record_path:
            raise NotRepackable(f"{name} is installed here without a RECORD, so it cannot be copied to the host.")
        archive.writestr(record_path, "\n".join([*records, f"{_csv(record_path)},,"]) + "\n")
    return folder / file_name


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


def build_wheel(folder: Path) -> Path:
    """A wheel of the orchestra that runs here, in `folder`: built from its source checkout when it
    runs from one, else made again from the installed files."""
    import orchestra

    source = Path(orchestra.__file__).resolve().parent.parent
    if (source / "pyproject.toml").is_file() and (source / "orchestra" / "__init__.py").is_file():
        import shutil

        # From a copy: a `build/` folder left in the checkout would give the wheel its stale files.
        copy = folder / "source"
        skipped = shutil.ignore_patterns("build", "*.egg-info", ".git", ".venv", "__pycache__", "tests", "node_modules")
        shutil.copytree(source, copy, ignore=skipped)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(folder), str(copy)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            said = [line for line in done.stderr.splitlines() if line.strip()]
            raise OrchestraError(f"building orchestra's wheel failed: {said[-1] if said else done.returncode}")
        shutil.rmtree(copy, ignore_errors=True)
    else:
        repack(importlib.metadata.distribution("claude-orchestra"), folder)
    (wheel,) = [w for w in folder.glob("*.whl") if WHEEL_NAME.match(w.name)]
    return wheel
