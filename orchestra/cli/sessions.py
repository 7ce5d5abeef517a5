"""Commands about the agent CLIs' own conversations: sessions."""

from __future__ import annotations

import click

from orchestra.cli.output import open_context, print_json


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the sessions as a JSON array.")
def sessions(as_json):
    """List the Claude Code sessions of this repository and its worktrees, newest first."""
    from orchestra.sessions import discover_sessions
    from orchestra.worktrees import registered_worktrees

    ctx = open_context()
    branches = registered_worktrees(ctx.project)  # the main checkout comes first
    directories = list(dict.fromkeys([ctx.project.root, *branches]))
    owners = {a.session_id: a.name for a in ctx.state.read().values() if a.session_id}
    found = discover_sessions(directories, owners, branches=branches)
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    from orchestra import render

    console = render.console()
    if not found:
        console.print("no Claude Code sessions in this repository or its worktrees yet")
        return
    console.print(render.sessions_table(found))


COMMANDS = [sessions]
