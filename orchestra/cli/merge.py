"""The integration command: merge (the bundled github plugin adds `pr` on top of it)."""

from __future__ import annotations

import sys

import click

from orchestra.cli import complete
from orchestra.cli.output import echo, open_context, print_json, warn
from orchestra.errors import OrchestraError


@click.command()
@click.argument("names", nargs=-1, shell_complete=complete.agent_names)
@click.option("--all", "all_", is_flag=True, help="Every finished (done or exited) agent, as a train: the most land.")
@click.option("--strategy", "-s", metavar="S", help="merge, squash, rebase, or a plugin's (pr); default from config.")
@click.option(
    "--check", "-c", metavar="CMD", help="Command that must pass on the merged result; default [merge] check."
)
@click.option("--keep-going", "-k", is_flag=True, help="Go on with the next agent after one fails.")
@click.option(
    "--on-conflict",
    metavar="WHAT",
    help="With --all, an agent that would conflict: skip (go on without it), stop, or handback; "
    "default [merge] on_conflict.",
)
@click.option("--wait", is_flag=True, help="With --on-conflict handback: wait for those agents, then retry them.")
@click.option("--timeout", metavar="SECONDS", help="How long --wait waits for handed-back agents (default 600).")
@click.option("--json", "as_json", is_flag=True, help="Print what happened to each agent as JSON.")
def merge(names, all_, strategy, check, keep_going, on_conflict, wait, timeout, as_json):
    """Integrate finished agents' branches into the target branch, one at a time.

    Each agent's uncommitted work is committed on its branch first. With a check, the merged
    result must pass it before the target branch moves; a conflict or a failing check leaves the
    target branch and your checkout as they were. With --all the agents go as a train, in the
    order the conflict forecast says lands the most; one that would conflict is left out.
    """
    from orchestra.merging import merge as merge_agents

    ctx = open_context()
    results = merge_agents(
        ctx,
        list(names),
        every=all_,
        strategy=strategy,
        check=check,
        keep_going=keep_going,
        waiting=lambda: click.echo("waiting for another orchestra merge in this repository to finish...", err=True),
        on_conflict=on_conflict,
        wait=wait,
        timeout=_seconds(timeout),
        progress=_progress,  # on stderr: --json keeps stdout for the JSON
    )
    warn(ctx.plugins.problems)
    if as_json:
        print_json([r.to_dict() for r in results])
    else:
        if not results:
            click.echo("nothing to merge: no agent is done or exited")
        for item in results:
            if item.committed:
                echo(f"{item.name}: committed its uncommitted work on its branch ({item.committed[:10]})")
            if item.ok:
                echo(
                    f"{item.name}: {item.message}"
                    + (f" {item.url}" if item.url and item.url not in item.message else "")
                )
            else:
                echo(f"orchestra: {item.name}: {item.message}", err=True)
    if any(not r.ok for r in results):
        sys.exit(1)


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise OrchestraError(f"--timeout takes a number of seconds, not '{text}'.") from None


def _progress(name: str, step: str) -> None:
    if step.startswith("waiting"):  # the one step that can take minutes: say what is going on
        echo(f"{name}: {step}...", err=True)


COMMANDS = [merge]
