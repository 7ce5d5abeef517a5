"""The conflict forecast: `orchestra conflicts`."""

from __future__ import annotations

import click

from orchestra.cli import complete
from orchestra.cli.output import echo, not_on_hosts_yet, open_context, print_json


@click.command()
@click.argument("names", nargs=-1, shell_complete=complete.agent_names)
@click.option("--json", "as_json", is_flag=True, help="Print the forecast as one JSON object.")
def conflicts(names, as_json):
    """Forecast which agents' work would conflict, with each other and with the target branch.

    Every agent not yet merged, or the NAMEs given; uncommitted and untracked work counts. Nothing
    is changed: no checkout, index, branch or worktree. Overlaps are files both sides changed that
    still merge cleanly. The last line is the order `merge --all` would take them in.
    """
    from orchestra.forecast import forecast

    ctx = open_context()
    not_on_hosts_yet(ctx, list(names), "conflicts")
    fc = forecast(ctx, list(names) or None, store=False)
    if as_json:
        print_json(fc.to_dict())
        return
    echo(f"target {fc.target} ({fc.target_commit[:10]}), {len(fc.agents)} agent{'s' if len(fc.agents) != 1 else ''}")
    lines = []
    for name, standing in fc.agents.items():
        lines += _lines(name, fc.target, standing.conflicts, standing.overlaps)
    for pair in fc.pairs:
        lines += _lines(pair.agents[0], pair.agents[1], pair.conflicts, pair.overlaps)
    if not lines:
        echo("no conflicts or overlaps forecast")
    for line in lines:
        echo(line)
    if fc.order:
        echo(f"merge order: {', '.join(fc.order)}")


def _lines(one: str, other: str, conflicting: list[str], overlapping: list[str]) -> list[str]:
    found = []
    if conflicting:
        found.append(f"  {one} x {other}: conflict in {', '.join(conflicting)}")
    if overlapping:
        found.append(f"  {one} ~ {other}: both change {', '.join(overlapping)} (merges cleanly)")
    return found


COMMANDS = [conflicts]
