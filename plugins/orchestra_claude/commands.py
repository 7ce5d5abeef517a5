"""`orchestra sessions`: the Claude Code conversations of this repository and its worktrees."""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestra_claude.sessions import Session

COLUMNS = ["SESSION", "AGENT", "BRANCH", "DIRECTORY", "TURNS", "STARTED", "ACTIVE", "FIRST PROMPT"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the sessions as a JSON array.")
def sessions(as_json: bool) -> None:
    """List the Claude Code sessions of this repository and its worktrees, newest first."""
    from orchestra.project import open_project
    from orchestra_claude.sessions import discover_sessions

    project = open_project()
    owners = {a.session_id: a.name for a in project.agents.values() if a.session_id}
    found = discover_sessions(list(project.checkouts), owners, branches=project.checkouts)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("no Claude Code sessions in this repository or its worktrees yet")
        return
    from orchestra import render

    render.console().print(render.table(COLUMNS, rows(found), right={"TURNS"}, max_widths={"FIRST PROMPT": 80}))


def rows(found: list[Session]) -> list[list[str | None]]:
    """One row a session, newest activity first: which agent owns it, where, and what it was asked."""
    from orchestra.render import age

    home = str(Path.home()).rstrip("/")
    table = []
    for session in found:
        directory = session.directory
        if directory == home or directory.startswith(home + "/"):
            directory = "~" + directory[len(home) :]
        started = age(session.started) if session.started else "-"
        active = age(session.last_activity) if session.last_activity else "-"
        # None shows as a dim dash: no agent owns it, a detached checkout, no prompt typed yet.
        cells = [session.id, session.agent, session.branch, directory, str(session.turns), started, active]
        table.append([*cells, session.first_prompt or None])
    return table
