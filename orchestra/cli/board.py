"""Commands that show the whole project: up and ls (alias status)."""

from __future__ import annotations

import time

import click

from orchestra.cli.output import go_to, interactive, open_context, print_json, warn


@click.command()
@click.option("--no-attach", is_flag=True, help="Create what is missing but stay in this shell.")
def up(no_attach):
    """Make sure the tmux session and its board exist, then go to it."""
    from orchestra.session import bring_up

    ctx = open_context()
    result = bring_up(ctx)
    if result.created:
        click.echo(f"created the tmux session {result.session} with the board in window 0")
    elif result.board_recreated:
        click.echo("put the board back in window 0")
    if result.lost:
        names = ", ".join(a.name for a in result.lost)
        count = "1 agent" if len(result.lost) == 1 else f"{len(result.lost)} agents"
        warn([f"{count} lost their tmux window: {names} (their worktrees and branches are intact)"])
    if no_attach or not interactive():
        click.echo(f"session {result.session} is up; attach with: orchestra up")
        return
    go_to(ctx)


@click.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print the agents as a JSON array.")
@click.option("--watch", "-w", is_flag=True, help="Keep the table on screen and redraw it on every change.")
def ls(as_json, watch):
    """List the agents: name, kind, status, branch, age, changes, last activity."""
    from orchestra.reconcile import changes_of, observe

    ctx = open_context()
    if watch:
        return _watch(ctx)
    agents = observe(ctx)
    changes = changes_of(agents)
    if as_json:
        print_json([{**a.to_dict(), "changes": changes.get(a.name)} for a in agents])
        return
    from orchestra import render

    console = render.console()
    if not agents:
        console.print('no agents yet: orchestra spawn "a task"')
        return
    console.print(render.agents_table(agents, changes))


def _watch(ctx) -> None:
    """Redraw when anything changes; keep going through errors (this is the board in window 0)."""
    from orchestra import render
    from orchestra.errors import OrchestraError
    from orchestra.reconcile import changes_of, observe

    last = None
    with render.live(screen=False, transient=False) as live:
        while True:
            error = None
            try:
                agents = observe(ctx)
                changes = changes_of(agents)
            except OrchestraError as problem:
                agents, changes, error = [], {}, str(problem)
            view = render.board(agents, changes, ctx.project.name, error)
            key = (repr([a.to_dict() for a in agents]), repr(changes), error, int(time.time()) // 10)
            if key != last:  # the ages in the table tick too, every ten seconds is enough
                live.update(view, refresh=True)
                last = key
            time.sleep(1)


COMMANDS = [up, ls]
