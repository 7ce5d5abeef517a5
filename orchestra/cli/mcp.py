"""The `mcp` command: orchestra's MCP server for agents (and a person's own Claude Code)."""

from __future__ import annotations

import click

from orchestra.cli import complete


@click.command()
@click.option(
    "--agent",
    "caller",
    metavar="NAME",
    shell_complete=complete.agent_names,
    help="The agent this server serves: the parent of what it spawns, the author of what it posts.",
)
def mcp(caller):
    """Serve orchestra's tools over MCP on standard input and output, for this project.

    Agents orchestra starts get it by themselves; add it to your own Claude Code with:

    \b
      claude mcp add orchestra -- orchestra mcp
    """
    from orchestra.mcp_server import serve

    serve(agent=caller)


COMMANDS = [mcp]
