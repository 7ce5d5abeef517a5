"""The conflict forecast: `orchestra conflicts`."""

from __future__ import annotations

import click

from orchestra.cli import complete
from orchestra.cli.output import echo, open_context, print_json, warn


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
    agents, sides = _with_hosts(ctx, list(names))
    fc = forecast(ctx, list(names) or None, agents=agents, store=False, sides=sides)
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


def _with_hosts(ctx, names: list[str]):
    """The agents to forecast and, for those on hosts, their work fetched here (None, {} when the
    project has no agents on hosts). A host that does not answer leaves its agents out, with a
    warning; one of them named is the command's error."""
    if not ctx.state.has_remote():
        return None, {}
    from orchestra import remote
    from orchestra.errors import OrchestraError
    from orchestra.models import Status

    known = remote.records(ctx.state.dir)
    if not known or (names and not any(name in known for name in names)):
        return None, {}
    away = [a for a in remote.agents_of(remote.rows(ctx)) if a.status != Status.MERGED or a.name in names]
    away = [a for a in away if not names or a.name in names]
    sides, problems = remote.fetch_work(ctx, [a for a in away if a.status != Status.UNREACHABLE])
    for agent in away:
        if agent.name in names and agent.name not in sides:
            if agent.status == Status.UNREACHABLE:
                raise OrchestraError(
                    f"agent '{agent.name}' runs on host '{agent.host}', which does not answer now ({agent.error})."
                )
            raise OrchestraError(
                next((p for p in problems if agent.name in p), None)
                or f"agent '{agent.name}' on host '{agent.host}' has no branch yet, so there is nothing to forecast."
            )
    unreachable = [a.name for a in away if a.status == Status.UNREACHABLE]
    if unreachable:
        problems.append(f"left out, as their host does not answer: {', '.join(unreachable)}")
    warn(problems)
    return list(ctx.state.read().values()) + [a for a in away if a.name in sides], sides


def _lines(one: str, other: str, conflicting: list[str], overlapping: list[str]) -> list[str]:
    found = []
    if conflicting:
        found.append(f"  {one} x {other}: conflict in {', '.join(conflicting)}")
    if overlapping:
        found.append(f"  {one} ~ {other}: both change {', '.join(overlapping)} (merges cleanly)")
    return found


COMMANDS = [conflicts]
