"""Commands that tell what happened: events (the event log) and report (each agent's result)."""

from __future__ import annotations

import json

import click

from orchestra.cli.output import open_context, print_json


@click.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they happen.")
@click.option("--json", "as_json", is_flag=True, help="Print each event as one line of JSON (NDJSON).")
@click.option("--agent", "-a", "only", metavar="NAME", help="Only the events of this agent.")
def events(follow, as_json, only):
    """Print the project's event log: spawns, status changes, agent hook events, exits."""
    from orchestra.follow import follow_events, read_events

    ctx = open_context()
    show = _printer(as_json)
    log = read_events(ctx, only)
    for event in log.events:
        show(event)
    if follow:
        for event in follow_events(ctx.state.events_path, log.offset, only):
            show(event)


def _printer(as_json: bool):
    if as_json:
        return lambda event: click.echo(json.dumps(event, ensure_ascii=False))
    from orchestra import render

    console = render.console()
    return lambda event: console.print(render.event_line(event))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the reports as a JSON array.")
def report(as_json):
    """Sum up each agent's result: final message, commits, changes, tokens used.

    Tokens come from the agent CLI's own records (null where its kind keeps none); with
    `[usage] prices` in orchestra.toml, an estimated cost too. The text ends with the total.
    """
    from orchestra.cli.output import warn
    from orchestra.report import report as make_report
    from orchestra.report import total_usage

    problems: list[str] = []
    reports = make_report(open_context(), problems)
    warn(problems)
    if as_json:
        print_json([r.to_dict() for r in reports])
        return
    from orchestra import render

    console = render.console()
    if not reports:
        console.print('no agents yet: orchestra spawn "a task"')
        return
    from orchestra.lineage import ordered

    for item, level in ordered(reports):  # children under their parent
        console.print(render.agent_report(item, level))
    usage, cost = total_usage(reports)
    if usage is not None:
        console.print(render.plain("all agents, " + render.usage_line(usage, cost), style="bold"))


COMMANDS = [events, report]
