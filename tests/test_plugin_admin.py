"""`orchestra plugins list / install / uninstall`, with a real plugin distribution and pip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PROBE = '''
import click
from orchestra.hookspecs import hookimpl

@click.command()
@click.argument("who")
def hello(who):
    """Say hello (a command from the probe plugin)."""
    click.echo(f"hello, {who}, from a plugin")

@hookimpl
def register_commands(cli):
    cli.add_command(hello)
'''


def test_list_shows_every_plugin_its_source_hooks_and_kinds(orchestra, repo):
    (repo / "orchestra.toml").write_text('[plugins]\ndisabled = ["demo"]\n')
    infos = {p["name"]: p for p in json.loads(orchestra("plugins", "list", "--json").stdout)}
    assert infos["claude"]["bundled"] and infos["claude"]["state"] == "loaded"
    assert infos["claude"]["hooks"] == [
        "agent_usage",
        "doctor_checks",
        "register_agents",
        "register_commands",
        "session_id_taken",
    ]
    assert infos["claude"]["agent_kinds"] == ["claude"]
    assert infos["demo"]["state"] == "disabled" and infos["demo"]["agent_kinds"] == []
    text = orchestra("plugins", "list").stdout
    assert "claude" in text and "bundled" in text and "disabled" in text


def fake_distribution(site: Path, module: str, source: str, plugin: str) -> None:
    """An installed distribution on `site` (a PYTHONPATH folder) with one `orchestra` entry point."""
    info = site / f"{module}-0.1.dist-info"
    info.mkdir(parents=True)
    (site / f"{module}.py").write_text(source)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[orchestra]\n{plugin} = {module}\n")


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_works(orchestra, repo, tmp_path, monkeypatch):
    fake_distribution(
        tmp_path / "site", "broken_probe", "raise ImportError('this plugin is broken on purpose')\n", "broken"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    infos = {p["name"]: p for p in json.loads(orchestra("plugins", "list", "--json").stdout)}
    assert infos["broken"]["state"] == "failed" and "broken on purpose" in infos["broken"]["problem"]
    assert not infos["broken"]["bundled"] and infos["broken"]["distribution"] == "broken_probe"
    result = orchestra("spawn", "--agent", "demo", "--no-attach", "still works")
    assert "plugin 'broken' could not be loaded" in result.stderr and "spawned still-works" in result.stdout


def test_uninstall_refuses_bundled_plugins_and_packages_that_are_not_plugins(orchestra):
    bundled = orchestra("plugins", "uninstall", "claude", check=False)
    assert (
        bundled.returncode == 1
        and "bundled with orchestra" in bundled.stderr
        and 'disabled = ["claude"]' in bundled.stderr
    )
    other = orchestra("plugins", "uninstall", "rich", check=False)
    assert other.returncode == 1 and "no installed plugin is called 'rich'" in other.stderr
    weird = orchestra("plugins", "install", "--", "--index-url=http://evil.invalid", check=False)
    assert weird.returncode == 1 and "package name, a path or a URL" in weird.stderr


@pytest.fixture
def throwaway_python(tmp_path) -> Path:
    """A virtual environment that sees orchestra's packages but installs into its own folder,
    so installing a plugin never touches the project's environment."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    own = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shared = sysconfig.get_paths()["purelib"]
    (Path(own) / "zz_orchestra.pth").write_text(f"import site; site.addsitedir({shared!r})\n")
    return python


@pytest.mark.slow
def test_install_a_plugin_from_a_folder_then_use_and_uninstall_it(repo, tmp_path, throwaway_python):
    source = tmp_path / "probe"
    (source / "orchestra_hello_probe").mkdir(parents=True)
    (source / "orchestra_hello_probe" / "__init__.py").write_text(PROBE)
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "orchestra-hello-probe"\nversion = "1.2.3"\ndependencies = ["click"]\n'
        '[project.entry-points.orchestra]\nhello = "orchestra_hello_probe"\n'
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [throwaway_python, "-m", "orchestra", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=300,
        )

    installed = run("plugins", "install", str(source))
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.strip() == f"installed {source}: plugin hello"
    infos = {p["name"]: p for p in json.loads(run("plugins", "list", "--json").stdout)}
    assert infos["hello"] == {
        **infos["hello"],
        "version": "1.2.3",
        "distribution": "orchestra-hello-probe",
        "bundled": False,
        "state": "loaded",
        "hooks": ["register_commands"],
    }
    assert run("hello", "world").stdout == "hello, world, from a plugin\n"  # its command, through the real CLI
    assert "Say hello" in run("--help").stdout

    assert run("plugins", "uninstall", "hello").stdout.strip() == "uninstalled orchestra-hello-probe"
    assert "hello" not in {p["name"] for p in json.loads(run("plugins", "list", "--json").stdout)}
    assert run("hello", "world").returncode == 2  # click: no such command
