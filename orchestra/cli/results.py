"""Commands that tell what happened: events (the event log) and report (each agent's result)."""

from __future__ import annotations

import json
import time
from typing import Optional

import click

from orchestra.cli.output import open_context, print_json


@click.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they happen.")
@click.option("--json", "as_json", is_flag=True, help="Print each event as one line of JSON (NDJSON).")
@click.option("--agent", "-a", "only", metavar="NAME", help="Only the events of this agent.")
def events(follow, as_json, only):
    """Print the project's event log: spawns, status changes, agent hook events, exits."""
    ctx = open_context()
    path = ctx.state.events_path
    show = _printer(as_json, only)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    offset = data.rfind(b"\n") + 1  # whole lines only; the rest is still being written
    shown = sum(show(line) for line in data[:offset].splitlines())
    if only and not shown and only not in ctx.state.read_raw():
        from orchestra.errors import UnknownAgent

        raise UnknownAgent.named(only, where="this project's log")
    if not follow:
        return
    pending = b""
    while True:  # the log is append-only: read what was added since the last look
        time.sleep(0.2)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        if size < offset:  # the log was replaced: start again from its beginning
            offset, pending = 0, b""
        if size == offset:
            continue
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read(size - offset)
        offset = size
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()  # a line still being written
        for line in lines:
            show(line)


def _printer(as_json: bool, only: Optional[str]):
    from orchestra import render

    console = None if as_json else render.console()

    def show(line: bytes) -> bool:
        """Print one log line if it is an event of the chosen agent; say whether it was."""
        try:
            event = json.loads(line)
        except ValueError:
            return False  # a torn or foreign line never stops the reader
        if not isinstance(event, dict) or (only and event.get("agent") != only):
            return False
        if as_json:
            click.echo(json.dumps(event, ensure_ascii=False))
        else:
            console.print(render.event_line(event))
        return True

    return show


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the reports as a JSON array.")
def report(as_json):
    """Sum up each agent's result: status, final message, commits, lines changed."""
    from orchestra.report import report as make_report

    reports = make_report(open_context())
    if as_json:
        print_json([r.to_dict() for r in reports])
        return
    from orchestra import render

    console = render.console()
    if not reports:
        console.print('no agents yet: orchestra spawn "a task"')
        return
    for item in reports:
        console.print(render.agent_report(item))


COMMANDS = [events, report]
