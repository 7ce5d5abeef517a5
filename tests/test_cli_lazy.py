"""The command table (`orchestra.cli.BUILT_IN`): each command's module is imported only when it is
used, and every listing (`--help`, shell completion, `cli.commands` for plugins) still has them all."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys

import click
from click.testing import CliRunner

from orchestra.cli import BUILT_IN, cli

CLI_MODULES = sorted({target.split(":")[0] for target in BUILT_IN.values()})


def test_the_table_names_every_command_of_every_command_module():
    """A command added to a module's COMMANDS but not to BUILT_IN would silently vanish."""
    import orchestra.cli

    for found in pkgutil.iter_modules(orchestra.cli.__path__, "orchestra.cli."):
        module_name = found.name
        module = importlib.import_module(module_name)
        for command in getattr(module, "COMMANDS", []):
            assert BUILT_IN.get(command.name) == f"{module_name}:{command.callback.__name__}", command.name
    for name in BUILT_IN:
        command = cli.commands[name]
        assert isinstance(command, click.Command) and command.name == name


LOADED = """
import sys
from orchestra.cli import main
try:
    main(sys.argv[1:])
finally:
    print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_ls_imports_no_other_command_module(repo):
    result = subprocess.run([sys.executable, "-c", LOADED, "ls", "--json"], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    imported = set(result.stderr.split())
    assert "orchestra.cli.board" in imported and "orchestra.reconcile" in imported
    assert sorted(m for m in CLI_MODULES if m in imported) == ["orchestra.cli.board"]
    assert "rich" not in imported and "orchestra.plugins" not in imported


def test_help_lists_every_command_with_its_short_help_plugins_too(repo, monkeypatch):
    monkeypatch.chdir(repo)
    output = CliRunner().invoke(cli, ["--help"], prog_name="orchestra", terminal_width=200).output
    listed = output.split("Commands:", 1)[1]
    for name in [*BUILT_IN, "pr", "sessions"]:
        short = cli.commands[name].get_short_help_str(limit=150)
        assert f"  {name} " in listed and short[:40] in listed, name


def test_shell_completion_offers_every_command_with_its_help(repo):
    env = {**os.environ, "_ORCHESTRA_COMPLETE": "zsh_complete", "COMP_WORDS": "orchestra ", "COMP_CWORD": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "orchestra"], cwd=repo, env=env, capture_output=True, text=True
    ).stdout.splitlines()
    offered = {out[i + 1]: out[i + 2] for i in range(0, len(out) - 2, 3)}  # zsh: type, value, help
    for name in [*BUILT_IN, "pr", "sessions"]:
        assert offered.get(name) == cli.commands[name].get_short_help_str(), name


def test_plugins_see_the_commands_as_a_mapping():
    assert "merge" in cli.commands and cli.commands.get("merge").name == "merge"
    assert cli.commands.get("no-such-command") is None
    assert list(cli.commands)[: len(BUILT_IN)] == list(BUILT_IN)
