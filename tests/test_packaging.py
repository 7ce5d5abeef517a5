"""The release as a user gets it: the sdist and the wheel built from this checkout hold the whole
program (dashboard assets, every bundled plugin, the shell scripts), twine accepts them, and the
wheel installed into a fresh virtual environment runs `orchestra` there.

Building uses build isolation, as a release does: setuptools, and orchestra's dependencies for
the fresh environment, come from PyPI through pip's cache.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import orchestra

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Read at import, before the autouse fixture points HOME at a temporary folder: pip's own cache,
# so that a run does not download the build tools and orchestra's dependencies again.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pip"
)
# shell/ scripts that set up and run a development checkout: in the sdist only.
CHECKOUT_SCRIPTS = {"setup.sh", "test.sh", "demo.sh"}


def run(argv: list, cwd: Path, env: dict | None = None, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{shlex.join(map(str, argv))} exited {result.returncode}:\n{result.stderr}{result.stdout}"
        )
    return result.stdout


def clean_env(**extra: str) -> dict:
    """This process's environment without traces of the venv the tests run in."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    return {**env, "PIP_CACHE_DIR": PIP_CACHE, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def make_venv(path: Path, *requirements: str) -> Path:
    run([sys.executable, "-m", "venv", path], cwd=path.parent)
    python = path / "bin" / "python"
    if requirements:
        run([python, "-m", "pip", "install", "--quiet", *requirements], cwd=path.parent, env=clean_env())
    return python


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """The sdist, and the wheel that `python -m build` made from it, as a release makes them."""
    base = tmp_path_factory.mktemp("release")
    tools = make_venv(base / "tools", *PYPROJECT["project"]["optional-dependencies"]["release"])
    out = base / "dist"
    run([tools, "-m", "build", "--outdir", out, ROOT], cwd=base, env=clean_env())
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel, "tools": tools}


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; its bin folder."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    make_venv(venv, str(dist["wheel"]))
    return venv / "bin"


def source_files(folder: str, pattern: str) -> set[str]:
    return {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / folder).glob(pattern)
        if p.is_file() and "__pycache__" not in p.parts
    }


def shell_scripts() -> set[str]:
    """The scripts of shell/ that users get, relative to shell/."""
    found = set()
    for pattern in ("*.sh", "*.fish", "*.zsh", "tmux.conf", "completion/*"):
        found |= {p.relative_to(ROOT / "shell").as_posix() for p in (ROOT / "shell").glob(pattern) if p.is_file()}
    return {name for name in found if name not in CHECKOUT_SCRIPTS}


def test_the_wheel_holds_the_program_the_plugins_and_the_shell_scripts(dist):
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        info = f"claude_orchestra-{orchestra.__version__}.dist-info"
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        metadata = wheel.read(f"{info}/METADATA").decode()

    assert f"\nVersion: {orchestra.__version__}\n" in metadata
    assert source_files("orchestra", "**/*.py") - names == set()
    assert {f"orchestra/web/static/{p.name}" for p in (ROOT / "orchestra/web/static").iterdir()} <= names
    plugins = {p.removeprefix("plugins/") for p in source_files("plugins", "**/*.py")}
    assert plugins - names == set()
    bundled = PYPROJECT["project"]["entry-points"]["orchestra"]
    assert {f"{package}/__init__.py" for package in bundled.values()} <= names

    scripts = shell_scripts()
    assert {"tmux.conf", "completion/orchestra.bash"} <= scripts
    assert {f"orchestra/shell/{s}" for s in scripts} - names == set()
    assert not {f"orchestra/shell/{s}" for s in CHECKOUT_SCRIPTS} & names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "docs/", "shell/"))]
    if (ROOT / "LICENSE").exists():
        assert f"{info}/licenses/LICENSE" in names

    script = wheel_script(dist["wheel"])
    assert script.startswith("#!python\n"), "the installer rewrites only a `#!python` line"
    assert "import re" not in script and "from orchestra.console import main" in script
    assert "[console_scripts]" not in entry_points, "a generated wrapper would replace bin/orchestra"
    group = entry_points.split("[orchestra]\n", 1)[1].split("\n\n", 1)[0]
    assert dict(line.split(" = ") for line in group.strip().splitlines()) == bundled


def wheel_script(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(f"claude_orchestra-{orchestra.__version__}.data/scripts/orchestra").decode()


def test_the_sdist_holds_the_whole_project(dist):
    with tarfile.open(dist["sdist"]) as sdist:
        top = f"claude_orchestra-{orchestra.__version__}/"
        names = {n.removeprefix(top) for n in sdist.getnames()}
    expected = {"pyproject.toml", "README.md", "MANIFEST.in", "bin/orchestra"}
    expected |= {name for name in ("LICENSE", "CHANGELOG.md") if (ROOT / name).exists()}
    for folder in ("orchestra", "plugins", "shell", "tests", "docs", "benchmarks"):
        expected |= source_files(folder, "**/*")
    assert expected - names == set()
    assert not [n for n in names if "__pycache__" in n]


def test_twine_accepts_the_sdist_and_the_wheel(dist):
    out = run(
        [dist["tools"], "-m", "twine", "check", "--strict", dist["sdist"], dist["wheel"]], cwd=dist["sdist"].parent
    )
    assert out.count("PASSED") == 2


def test_the_installed_wheel_runs_in_a_fresh_environment(installed, tmp_path, isolated):
    env = clean_env(PATH=f"{installed}{os.pathsep}{os.environ['PATH']}")
    python = installed / "python"

    where = run([python, "-c", "import orchestra; print(orchestra.__file__)"], cwd=tmp_path, env=env)
    assert Path(where.strip()).is_relative_to(installed.parent), "orchestra came from the checkout, not the wheel"
    assert (
        run([installed / "orchestra", "--version"], cwd=tmp_path, env=env).strip()
        == f"orchestra {orchestra.__version__}"
    )

    # The recipe docs/install.md gives for finding the shell scripts after `pip install`.
    folder = run(
        [python, "-c", "import orchestra, pathlib; print(pathlib.Path(orchestra.__file__).parent / 'shell')"],
        cwd=tmp_path,
        env=env,
    ).strip()
    assert {s for s in shell_scripts() if (Path(folder) / s).is_file()} == shell_scripts()

    plugins = json.loads(run([installed / "orchestra", "plugins", "list", "--json"], cwd=tmp_path, env=env))
    bundled = set(PYPROJECT["project"]["entry-points"]["orchestra"])
    assert {p["name"] for p in plugins if p["bundled"] and p["state"] == "loaded"} == bundled

    # Not a terminal: the demo shows its board here until its agents finish, then says how to remove it.
    out = run([installed / "orchestra", "demo", "--no-attach"], cwd=tmp_path, env=env, timeout=120)
    assert "spawned 3 demo agents" in out
    repository = Path(re.search(r"made a throwaway repository at (\S+)", out).group(1))
    agents = json.loads(run([installed / "orchestra", "ls", "--json"], cwd=repository, env=env))
    assert len(agents) == 3 and {a["agent"] for a in agents} == {"demo"}
    assert {a["status"] for a in agents} == {"exited"}, [(a["name"], a["status"]) for a in agents]

    remove = re.search(r"remove it: (.+)", out).group(1)
    run(["bash", "-c", remove], cwd=tmp_path, env=env)
    assert not repository.exists()
    sessions = subprocess.run(["tmux", "-L", isolated, "list-sessions"], capture_output=True, text=True).stdout
    assert sessions == ""


def test_an_installed_orchestra_made_again_into_a_wheel_keeps_its_command(installed, tmp_path, dist):
    """`hosts setup --offline` from an orchestra installed with pip repacks it (orchestra/wheels.py):
    the command is a script the wheel carries, not one pip writes from an entry point, so it must
    travel in the repacked wheel, as the wheel had it."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    made = run(
        [
            installed / "python",
            "-c",
            "import sys, importlib.metadata, pathlib; from orchestra import wheels; "
            "print(wheels.repack(importlib.metadata.distribution('claude-orchestra'), pathlib.Path(sys.argv[1])))",
            folder,
        ],
        cwd=tmp_path,
        env=clean_env(),
    ).strip()
    assert wheel_script(Path(made)) == wheel_script(dist["wheel"]) == (ROOT / "bin/orchestra").read_text()
    with zipfile.ZipFile(made) as archive:
        assert not [n for n in archive.namelist() if n.startswith("..") or "/bin/" in n]
