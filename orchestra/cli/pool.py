"""`orchestra pool`: fill, look at and drain the warm worktree pool (`[worktree] pool = N`)."""

from __future__ import annotations

import click

from orchestra.cli.output import echo, open_context, print_json
from orchestra.errors import OrchestraError


@click.group()
def pool():
    """Fill, show or drain the worktrees kept ready for spawns ([worktree] pool = N)."""


@pool.command()
def fill():
    """Fill the pool to N worktrees at the base now (spawns refill it in the background)."""
    from orchestra.pool import fill as fill_pool

    ctx = open_context()
    result = fill_pool(ctx)
    done = [
        f"made {result.made}" if result.made else "",
        f"brought {result.refreshed} to the base" if result.refreshed else "",
        f"removed {result.removed} over the size" if result.removed else "",
    ]
    said = ", ".join(part for part in done if part) or "nothing to do"
    echo(f"{said}: the pool holds {result.ready} of {ctx.config.worktree['pool']}, at {result.base[:12]}")
    for problem in result.set_aside:
        echo(f"set aside (never claimed; `orchestra pool drain` says what it holds) {problem}")


@pool.command()
@click.option("--json", "as_json", is_flag=True, help="Print the pool as JSON.")
def status(as_json):
    """Show the pool's worktrees: their commit, whether it is the base, and their state."""
    from orchestra.pool import status as pool_status

    found = pool_status(open_context())
    if as_json:
        print_json(found)
        return
    echo(f"pool: {found['ready']} of {found['size']} ready at the base {found['base'][:12]}")
    for row in found["members"]:
        commit = (row["commit"] or "?")[:12]
        current = "base" if row["current"] else "stale"
        problem = f" ({row['problem']})" if row["problem"] else ""
        echo(f"  {row['id']:<10}  {commit:<12}  {current:<5}  {row['state']}{problem}  {row['path']}")
    if found["fill_error"]:
        echo(f"the last background fill failed: {found['fill_error']}")


@pool.command()
def drain():
    """Remove every pool worktree, after proving each holds nothing."""
    from orchestra.pool import drain as drain_pool

    ctx = open_context()
    result = drain_pool(ctx)
    echo(f"removed {len(result.removed)} pool worktree{'s' if len(result.removed) != 1 else ''}")
    if ctx.config.worktree["pool"] and result.removed:
        echo(f"(the next spawn fills it again: [worktree] pool = {ctx.config.worktree['pool']})")
    if result.kept:
        raise OrchestraError("kept " + "; kept ".join(result.kept) + ".")


COMMANDS = [pool]
