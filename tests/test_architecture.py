"""The map of the code stays whole: docs/architecture.md names every module, and every module has
its place in the import-linter layers of pyproject.toml, so a new module without a place fails here.
lint-imports (run by shell/test.sh) checks that the imports keep to those layers."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).parent.parent
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
# What bundled plugins may import (docs/plugins.md, "What plugins get"); `orchestra` for __version__.
PUBLIC = {"hookspecs", "models", "errors", "git", "tmux", "files", "project", "render", "clock", "cjson"}


def modules() -> list[str]:
    """Every module of orchestra/ by its dotted name, packages by their own name."""
    names = []
    for path in sorted((ROOT / "orchestra").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def contract(kind: str) -> dict:
    [found] = [c for c in CONTRACTS if c["type"] == kind]
    return found


def test_architecture_md_names_every_module_and_bundled_plugin():
    files = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "orchestra").rglob("*.py"))
    assert [f for f in files if f"`{f}`" not in ARCHITECTURE] == []
    plugins = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file())
    assert plugins and [p for p in plugins if f"`{p}`" not in ARCHITECTURE] == []


def test_every_module_is_in_exactly_one_layer():
    layers = [[name.strip() for name in layer.split(":")] for layer in contract("layers")["layers"]]
    entries = [name for layer in layers for name in layer]
    assert len(entries) == len(set(entries))
    places = {}
    for module in modules():
        if module == "orchestra":
            continue  # the package itself: __version__, which every layer may import
        places[module] = [e for e in entries if module == e or module.startswith(e + ".")]
    assert {m: p for m, p in places.items() if len(p) != 1} == {}
    # and no layer names a module that is not there
    assert [e for e in entries if e not in places] == []


def test_plugins_are_forbidden_every_module_but_the_public_ones():
    forbidden = contract("forbidden")
    top_level = {m.split(".")[1] for m in modules() if m != "orchestra"}
    assert sorted(forbidden["forbidden_modules"]) == sorted(f"orchestra.{m}" for m in top_level - PUBLIC)
    plugins = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file())
    assert sorted(forbidden["source_modules"]) == plugins


def test_status_events_are_made_only_by_the_lifecycle():
    """One path for every status change (docs/architecture.md): no other module builds a status event."""
    made = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in [*(ROOT / "orchestra").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
        if path != ROOT / "orchestra" / "lifecycle.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if 'event("status"' in line.replace(" ", "").lower()
    ]
    assert made == []
