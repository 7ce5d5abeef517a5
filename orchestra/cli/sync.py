"""The command that brings agents up to date with the merge target: sync."""

from __future__ import annotations

import sys

import click

from orchestra.cli import complete
from orchestra.cli.output import echo, open_context, print_json, warn


@click.command()
@click.argument("names", nargs=-1, shell_complete=complete.agent_names)
@click.option("--all", "all_", is_flag=True, help="Every agent that is not working (done, exited or waiting).")
@click.option("--json", "as_json", is_flag=True, help="Print what happened to each agent as JSON.")
def sync(names, all_, as_json):
    """Bring agents' branches up to date with the merge target, each in its own worktree.

    Each agent's uncommitted work is committed on its branch first; then the target is merged
    into the branch (rebased onto, with [merge] strategy = "rebase"). Only agents that are not
    working are synced. A conflict is aborted, leaving the branch and its files as they were,
    and the conflicting files are named. The target branch and your checkout are never touched.
    """
    from orchestra import remote
    from orchestra.syncing import Synced
    from orchestra.syncing import sync as sync_agents

    ctx = open_context()
    away = [n for n in dict.fromkeys(names) if remote.is_remote(ctx, n)]
    here = [n for n in dict.fromkeys(names) if n not in away]
    results = []
    if here or all_ or not names:  # no names and no --all: the local sync says what to give
        results = sync_agents(
            ctx,
            here,
            every=all_,
            waiting=lambda: click.echo("waiting for an orchestra merge in this repository to finish...", err=True),
        )
    if away or (all_ and remote.records(ctx.state.dir)):
        results += [Synced(**item) for item in remote.sync(ctx, away, every=all_)]
    warn(ctx.plugins.problems)
    if as_json:
        print_json([r.__dict__ for r in results])
    else:
        if not results:
            click.echo("nothing to sync: no agent is done, exited or waiting")
        for item in results:
            if item.committed:
                echo(f"{item.name}: committed its uncommitted work on its branch ({item.committed[:10]})")
            if item.ok:
                echo(f"{item.name}: {item.message}")
            else:
                echo(f"orchestra: {item.name}: {item.message}", err=True)
    if any(not r.ok for r in results):
        sys.exit(1)


COMMANDS = [sync]
