"""Installing and removing third-party plugins in the environment orchestra itself runs in.

`orchestra plugins install NAME` runs pip for this very interpreter (or `uv pip` where orchestra
was installed with uv, or where the environment has no pip), so a plugin lands beside orchestra
and not in whatever Python happens to be first on PATH. Only distributions that provide an
`orchestra` entry point are uninstalled: `orchestra plugins uninstall rich` must not break
orchestra itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from orchestra.errors import OrchestraError
from orchestra.plugins import ENTRY_POINT_GROUP

OWN_DISTRIBUTION = "claude-orchestra"


@dataclass
class Installed:
    spec: str
    plugins: list[str] = field(default_factory=list)  # plugin names that appeared
    output: str = ""


def _normalize(name: str) -> str:
    return name.replace("_", "-").replace(".", "-").lower()


def _entry_points() -> dict[str, str | None]:
    """Plugin name -> distribution name, read from disk anew."""
    from importlib.metadata import entry_points

    importlib.invalidate_caches()
    return {ep.name: (ep.dist.name if ep.dist else None) for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _installed_with_uv() -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        return (distribution(OWN_DISTRIBUTION).read_text("INSTALLER") or "").strip() == "uv"
    except PackageNotFoundError:
        return False


def installer(action: str, args: list[str]) -> list[str]:
    """The command that runs `action` (install/uninstall) on orchestra's own environment."""
    has_pip = importlib.util.find_spec("pip") is not None
    uv = shutil.which("uv")
    if uv and (_installed_with_uv() or not has_pip):
        return [uv, "pip", action, "--python", sys.executable, *args]
    if has_pip:
        extra = ["--yes"] if action == "uninstall" else ["--disable-pip-version-check"]
        return [sys.executable, "-m", "pip", action, *extra, *args]
    raise OrchestraError(
        f"orchestra's environment ({sys.executable}) has neither pip nor uv: install one of them to manage plugins."
    )


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def install(spec: str) -> Installed:
    """Install a plugin distribution (a name from PyPI, a path, or a URL) beside orchestra."""
    if not spec.strip() or spec.startswith("-"):
        raise OrchestraError("give the plugin as a package name, a path or a URL, for example `orchestra-jira`.")
    before = _entry_points()
    result = _run(installer("install", [spec]))
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        last = [line for line in output.splitlines() if line.strip()][-3:]
        raise OrchestraError(
            f"installing {spec} failed: {' '.join(last) or 'the installer exited ' + str(result.returncode)}"
        )
    after = _entry_points()
    new = sorted(name for name, dist in after.items() if before.get(name) != dist)
    return Installed(spec=spec, plugins=new, output=output)


def uninstall(name: str) -> str:
    """Remove the distribution that provides plugin `name` (or the distribution named so)."""
    found = _entry_points()
    dist = found.get(name) or next((d for d in found.values() if d and _normalize(d) == _normalize(name)), None)
    if dist is None:
        raise OrchestraError(f"no installed plugin is called '{name}': `orchestra plugins list` shows them.")
    if _normalize(dist) == OWN_DISTRIBUTION:
        raise OrchestraError(
            f"'{name}' is bundled with orchestra and cannot be uninstalled; "
            f'turn it off with disabled = ["{name}"] in the [plugins] table of orchestra.toml.'
        )
    result = _run(installer("uninstall", [dist]))
    if result.returncode != 0:
        last = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()][-3:]
        raise OrchestraError(f"uninstalling {dist} failed: {' '.join(last)}")
    return dist
