"""What the command modules share: opening the project, JSON output, warnings, going to a window."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import click


def open_context():
    from orchestra.context import Context

    return Context.open()


def print_json(data: Any) -> None:
    """`data` as JSON: an array one element per line (`listing.json_lines`), anything else indented."""
    if isinstance(data, list):
        from orchestra.listing import json_lines

        click.echo(json_lines(data))
        return
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def echo(text: str, err: bool = False) -> None:
    """Print a line that holds text from outside orchestra (names, paths, agents' and checks'
    words) with its control characters escaped, so it cannot drive the terminal."""
    from orchestra.render import printable

    click.echo(printable(text), err=err)


def warn(problems: Iterable[str]) -> None:
    problems = list(problems)
    if not problems:
        return  # and rich stays unimported: `spawn --json` and `ls --json` never need it
    from orchestra.render import printable

    for problem in problems:
        click.secho(f"orchestra: warning: {printable(problem)}", fg="yellow", err=True)


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def go_to(ctx, window: str | None = None, pane: str | None = None) -> None:
    """Put the user's terminal on the session (and window and pane): switch-client inside tmux, else attach."""
    if window:
        ctx.tmux.select_window(window, pane)
    ctx.tmux.attach(ctx.session)
