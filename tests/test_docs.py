"""The docs name what the code has: every configuration key, every command with its real help."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestra import config
from orchestra.cli import cli

DOCS = Path(__file__).parent.parent / "docs"


def test_every_configuration_key_is_documented():
    text = (DOCS / "configuration.md").read_text()
    keys = {k for table in config.SCHEMA.values() for k in table} | set(config.AGENT_KEYS) | set(config.HOST_KEYS)
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert missing == []
    for section in config.SCHEMA:
        assert f"[{section}]" in text


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented_with_its_current_help(name):
    text = (DOCS / "commands.md").read_text()
    assert f"Usage: orchestra {name} " in text, f"docs/commands.md lacks the help of `orchestra {name}`"
    help_text = CliRunner().invoke(cli, [name, "--help"], prog_name="orchestra", terminal_width=100).output
    first_line = help_text.splitlines()[0]
    assert first_line in text
    for option in re.findall(r"^\s+(-[-\w, ]+?)\s{2,}", help_text, re.MULTILINE):
        assert option.strip() in text, f"`orchestra {name}` option {option.strip()} is not in docs/commands.md"


def test_the_hook_reference_matches_the_hook_specifications():
    import inspect

    from orchestra import hookspecs

    text = (DOCS / "plugins.md").read_text()
    specs = [f for name, f in vars(hookspecs).items() if callable(f) and hasattr(f, "orchestra_spec")]
    assert {f.__name__ for f in specs} >= {"pre_spawn", "on_exit", "merge_strategy", "notifier", "register_agents"}
    for spec in specs:
        arguments = ", ".join(inspect.signature(spec).parameters)
        firstresult = " (firstresult)" if spec.orchestra_spec["firstresult"] else ""
        assert f"### `{spec.__name__}({arguments})`{firstresult}\n" in text, f"docs/plugins.md: {spec.__name__}"


def current_help(words: list[str]) -> str:
    """`orchestra WORDS --help` as a user sees it at 100 columns (plugin commands included)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "orchestra", *words, "--help"], capture_output=True, text=True, env=env, check=True
    ).stdout.rstrip("\n")


def test_every_help_block_in_the_command_reference_is_the_commands_own_help():
    """docs/commands.md quotes each command's --help verbatim. Regenerate the quotes with
    ORCHESTRA_UPDATE_DOCS=1 .venv/bin/python -m pytest tests/test_docs.py"""
    import os

    path = DOCS / "commands.md"
    text = path.read_text()
    blocks = re.findall(r"```\n(Usage: orchestra([^\n\[]*?) \[OPTIONS\][^\n]*\n.*?)\n```", text, re.DOTALL)
    assert len(blocks) >= 20
    stale = []
    for block, words in blocks:
        fresh = current_help(words.split())
        if fresh != block:
            stale.append(words.strip() or "orchestra")
            text = text.replace(f"```\n{block}\n```", f"```\n{fresh}\n```")
    if stale and os.environ.get("ORCHESTRA_UPDATE_DOCS") == "1":
        path.write_text(text)
        stale = []
    assert stale == [], (
        f"docs/commands.md quotes an old --help of: {', '.join(stale)} (ORCHESTRA_UPDATE_DOCS=1 rewrites them)"
    )
