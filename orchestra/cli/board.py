"""Commands that show the whole project: up and ls (alias status)."""

from __future__ import annotations

import shlex
import sys
import time

import click

from orchestra.cli import complete
from orchestra.cli.output import echo, go_to, interactive, open_context, print_json, warn
from orchestra.errors import OrchestraError


@click.command()
@click.option("--no-attach", is_flag=True, help="Create what is missing but stay in this shell.")
@click.option(
    "--resume/--no-resume",
    "resume_lost",
    default=None,
    help="Resume lost agents without asking, or leave them lost (default: ask in a terminal).",
)
@click.option(
    "--tiled/--windows",
    "tiled",
    default=None,
    help="All agents as panes of one window, or one window each (default: [tmux] layout).",
)
def up(no_attach, resume_lost, tiled):
    """Bring up the session and its board, offer to resume lost agents, then go to it."""
    from orchestra.session import bring_up
    from orchestra.session import resume_lost as resume_lost_agents

    ctx = open_context()
    layout = None if tiled is None else ("tiled" if tiled else "windows")
    result = bring_up(ctx, layout)
    if result.created:
        echo(f"created the tmux session {result.session} with the board in window 0")
    elif result.board_recreated:
        click.echo("put the board back in window 0")
    if result.moved:
        where = "into the tiled window 'agents'" if result.window else "back into windows of their own"
        echo(f"moved {', '.join(result.moved)} {where}")
    if result.lost:
        names = ", ".join(a.name for a in result.lost)
        if len(result.lost) == 1:
            echo(f"1 agent lost its tmux window: {names} (its worktree and branch are intact)")
        else:
            echo(
                f"{len(result.lost)} agents lost their tmux windows: {names} (their worktrees and branches are intact)"
            )
        if resume_lost is None and interactive():
            resume_lost = click.confirm("resume them now?", default=True)
        if resume_lost:
            from orchestra.spawning import spawn_environment

            _show_resumed(resume_lost_agents(ctx, result, spawn_environment(), layout))
        else:
            click.echo("resume them with: orchestra resume")
    if no_attach or not interactive():
        attach = shlex.join([*ctx.tmux.base_argv(), "attach", "-t", result.session])
        echo(f"session {result.session} is up; from a terminal: orchestra up (or {attach})")
        return
    go_to(ctx, result.window)


@click.command()
@click.argument("names", nargs=-1, shell_complete=complete.agent_names)
def resume(names):
    """Bring back lost agents in their worktrees, continuing the same conversation.

    Without NAMES, every lost agent. Claude Code, Codex and Gemini CLI agents go on in the same
    conversation; agent kinds that cannot continue one start again with their task.
    """
    from orchestra import remote
    from orchestra.resuming import resume as resume_agents
    from orchestra.spawning import spawn_environment

    ctx = open_context()
    if names:
        away = [n for n in dict.fromkeys(names) if remote.is_remote(ctx, n)]
    else:  # every lost agent: those on hosts too, as their hosts say now
        away = [row["name"] for row in remote.rows(ctx) if row["status"] == "lost"]
    resumed_away = _resume_on_hosts(ctx, away)
    here = [n for n in names if n not in away]
    if names and not here:
        return None if resumed_away else click.echo("nothing to resume")
    result = _show_resumed(resume_agents(ctx, here, spawn_environment()))
    if result.skipped:
        raise SystemExit(1)
    if not result.resumed and not resumed_away:
        click.echo("no agent is lost: nothing to resume")


def _resume_on_hosts(ctx, names: list[str]) -> bool:
    """Resume each named agent on its host; True when one was. A refusal ends the command, exit 1."""
    from orchestra import remote
    from orchestra.spawning import spawn_environment

    resumed = False
    for name in names:
        host = remote.host_of(ctx, name)
        answer = remote.resume(ctx, name, spawn_environment())
        warn(answer.get("warnings") or [])
        for item in answer.get("resumed", []):
            how = "continuing its session" if item["continued"] else "starting again from its task"
            echo(f"resumed {item['name']} on host {host.name if host else '?'}, {how}")
            resumed = True
        for skipped in answer.get("skipped", []):
            echo(f"orchestra: could not resume {skipped}", err=True)
        if answer.get("skipped"):
            raise SystemExit(1)
    return resumed


def _show_resumed(result):
    warn(result.warnings)
    for item in result.resumed:
        how = f"continuing session {item.agent.session_id}" if item.continued else "starting again from its task"
        echo(f"resumed {item.agent.name} in {item.agent.worktree}, {how}")
    for skipped in result.skipped:
        echo(f"orchestra: could not resume {skipped}", err=True)
    return result


@click.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print the agents as a JSON array.")
@click.option("--watch", "-w", is_flag=True, help="Keep the table on screen and redraw it on every change.")
@click.option(
    "--conflicts",
    "show_conflicts",
    is_flag=True,
    help="Also show the files each agent is forecast to conflict in (with --json: `conflict_files`).",
)
@click.option(
    "--tmux",
    "for_tmux",
    is_flag=True,
    help="Print one line of counts for a tmux status bar: working, waiting, done, failed.",
)
def ls(as_json, watch, show_conflicts, for_tmux):
    """List the agents: name, kind, status, branch, age, changes, last activity, conflicts.

    CONFLICTS names the agents (and the target branch) an agent's work is forecast to conflict
    with, from the last stored forecast; it is brought up to date in the background when an
    agent's work or the target moved (`orchestra conflicts` forecasts on the spot).
    """
    if for_tmux:
        return _tmux_line()
    ctx = open_context()
    if watch:
        return _watch(ctx, show_conflicts)
    if ctx.state.has_remote():
        from orchestra import remote

        away = remote.rows_soon(ctx)  # the hosts are asked while the local agents are looked at
    else:
        away = list
    if as_json:
        from orchestra.listing import rows

        print_json([*rows(ctx, conflict_files=show_conflicts), *away()])
        return
    from orchestra import render
    from orchestra.lookout import look
    from orchestra.reconcile import changes_of, observe
    from orchestra.schedule import waits_for

    agents = observe(ctx)
    changes = changes_of(agents, ctx.state.dir)
    conflicts = look(ctx, agents)
    queue = waits_for(ctx, agents)
    remote_rows = away()
    changes.update({row["name"]: row.get("changes") for row in remote_rows})
    console = render.console()
    if not agents and not remote_rows:
        console.print('no agents yet: orchestra spawn "a task"')
        return
    shown = list(agents)
    if remote_rows:
        from orchestra import remote

        shown += remote.agents_of(remote_rows)
    table = render.agents_table(shown, changes, conflicts=conflicts.by_agent(agents), queue=queue)
    render.print_table(console, table)
    if show_conflicts:
        render.print_table(console, render.conflict_lines(conflicts.lines(), conflicts.current))


def _tmux_line() -> None:
    """The status-bar line, read straight from the state file; nothing at all outside a project
    or on any problem, because a status bar must never show an error."""
    from pathlib import Path

    from orchestra.summary import count, status_line

    try:
        line = status_line(count(Path.cwd()))
    except (OrchestraError, OSError):
        return
    if line:
        click.echo(line)


def _watch(ctx, show_conflicts: bool = False) -> None:
    """Redraw when anything changes; keep going through errors (this is the board in window 0).
    Into a pipe or a file, each change is printed after the last, as it happens."""
    import contextlib

    from orchestra import render
    from orchestra.watch import TICK, Watcher

    watcher = Watcher(ctx)
    console = render.console()
    last, error = None, None
    ages: tuple[int, tuple[str, ...]] = (-1, ())
    with render.live(screen=False, transient=False) if console.is_terminal else contextlib.nullcontext() as live:
        while True:
            try:
                if watcher.poll():
                    error = None
            except OrchestraError as problem:
                error = str(problem)
            key: tuple[object, ...] = (
                *(id(watcher.agents), id(watcher.changes), id(watcher.conflicts), id(watcher.queue)),
                id(watcher.away),
                error,
            )
            if live is not None:  # the ages in the table tick too: looked at every ten seconds while
                # one is in seconds, else every minute (a redraw of many rows costs more than all the
                # looks between two), and drawn only when one of them reads differently
                every = 10 if not ages[1] or any(text.endswith("s") for text in ages[1]) else 60
                tick = int(time.time()) // every
                if tick != ages[0]:
                    shown = [*watcher.agents, *watcher.away]
                    ages = (tick, tuple(render.age(t) for a in shown for t in (a.created_at, a.updated_at)))
                key += (ages[1],)
            if key != last:
                board = render.board(
                    [*watcher.agents, *watcher.away],
                    watcher.changes,
                    ctx.project.name,
                    error,
                    conflicts=watcher.conflicts.by_agent(watcher.agents),
                    details=watcher.conflicts.lines() if show_conflicts else None,
                    queue=watcher.queue,
                )
                if live is not None:
                    live.update(board, refresh=True)
                else:
                    render.print_table(console, board)
                    sys.stdout.write("\n")
                    sys.stdout.flush()
                last = key
            time.sleep(TICK)


COMMANDS = [up, ls, resume]
