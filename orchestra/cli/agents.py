"""Commands on agents: spawn, attach, logs, send, diff, kill, clean."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click

from orchestra.cli import complete
from orchestra.cli.output import echo, go_to, interactive, open_context, print_json, warn
from orchestra.errors import OrchestraError


@click.command()
@click.argument("tasks", nargs=-1)
@click.option(
    "--agent",
    "-a",
    "kind",
    metavar="KIND",
    shell_complete=complete.agent_kinds,
    help="Agent kind (claude, demo, command, ...); default from config.",
)
@click.option("--name", "-n", metavar="NAME", help="Agent name (branch orchestra/NAME); default from the task.")
@click.option("--base", "-b", metavar="REF", help="Branch, tag or commit to start from; default from config.")
@click.option(
    "--file", "-f", "task_file", type=click.Path(path_type=Path), metavar="FILE", help="Read tasks from a TOML file."
)
@click.option(
    "--no-worktree",
    is_flag=True,
    help="Run in the main checkout itself, for read-only work such as a review; never merged or removed.",
)
@click.option(
    "--parallel",
    "-p",
    type=click.IntRange(min=1),
    metavar="N",
    help="Run at most N of these agents at once; the others wait as queued.",
)
@click.option(
    "--host",
    metavar="HOST",
    help="Run on this [hosts.NAME] over SSH, 'local', or 'auto' (where most slots are free); default from config.",
)
@click.option(
    "--lead",
    is_flag=True,
    help="Start a lead: an agent told it may split its task among workers with orchestra's MCP tools.",
)
@click.option("--no-attach", is_flag=True, help="Do not go to the tmux session afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the new agents as JSON.")
def spawn(tasks, kind, name, base, task_file, no_worktree, parallel, host, lead, no_attach, as_json):
    """Start one agent per task, each on its own branch, worktree and tmux window.

    A task that starts with '-' goes after '--':  orchestra spawn -- "--weird task"
    """
    from orchestra.spawning import TaskSpec, spawn_environment
    from orchestra.spawning import spawn as spawn_agents

    specs = [TaskSpec(task=t, name=name, agent=kind, base=base, no_worktree=no_worktree, host=host) for t in tasks]
    if task_file is not None:
        from orchestra.tasks_file import read_tasks

        specs += read_tasks(
            task_file, default_agent=kind, default_base=base, no_worktree=no_worktree, default_host=host
        )
    if not specs:
        raise click.UsageError('give at least one task: orchestra spawn "what the agent should do"')
    for spec in specs:
        spec.lead = lead
    ctx = open_context()
    for spec in specs:
        spec.host = spec.host or ctx.config.orchestra["default_host"]
    placed = [spec for spec in specs if spec.host == "auto"]
    if placed:
        from orchestra import remote

        for spec, where in zip(placed, remote.place(ctx, len(placed)), strict=True):
            spec.host = where
    away: dict[str, list[TaskSpec]] = {}
    for spec in specs:
        if spec.host and spec.host != "local":
            away.setdefault(spec.host, []).append(spec)
    specs = [spec for spec in specs if spec.host == "local"]
    remote_rows, failures = _spawn_on_hosts(ctx, away)
    result = None
    try:
        if specs:
            with _progress(as_json, len(specs)) as progress, _terminate_as_interrupt():
                result = spawn_agents(ctx, specs, spawn_environment(), progress=progress, parallel=parallel)
        else:
            from orchestra.spawning import SpawnResult

            result = SpawnResult()
        result.failures.extend(failures)
        _show_spawned(ctx, result, as_json, no_attach, remote_rows)
    except KeyboardInterrupt:
        if result is None:
            raise
        from orchestra.spawning import SpawnInterrupted

        # Its agents are made and started: a Ctrl-C now must not call that "cancelled".
        raise SpawnInterrupted([a.name for a in [*result.agents, *result.queued]], []) from None


def _show_spawned(ctx, result, as_json: bool, no_attach: bool, remote_rows: list[dict[str, Any]]) -> None:
    warn(result.warnings)
    if as_json:  # no work yet, no conflict
        print_json([{**a.to_dict(), "conflicts_with": []} for a in [*result.agents, *result.queued]] + remote_rows)
    else:
        from orchestra import render

        console = render.console()
        for agent in result.agents:
            line = render.plain("spawned", style="green")
            line.append(" ").append_text(render.plain(agent.name, style="bold"))
            where = (
                f"in the main checkout {agent.worktree}"
                if agent.no_worktree
                else f"on {agent.branch} in {agent.worktree}"
            )
            line.append_text(render.plain(f" ({agent.kind}) {where}"))
            console.print(line)
        for agent in result.queued:
            line = render.plain("queued", style=render.STATUS_STYLE[agent.status])
            line.append(" ").append_text(render.plain(agent.name, style="bold"))
            line.append_text(render.plain(f" ({agent.kind}) on {agent.branch}: it starts when the schedule lets it"))
            console.print(line)
        for row in remote_rows:
            line = render.plain("spawned" if row["status"] != "queued" else "queued", style="green")
            line.append(" ").append_text(render.plain(row["name"], style="bold"))
            line.append_text(render.plain(f" ({row['agent']}) on host {row['host']}, on {row['branch']}"))
            console.print(line)
        if result.agents or result.queued or remote_rows:
            console.print(
                render.plain(f"watch them: orchestra up · list: orchestra ls · session: {ctx.session}", "dim")
            )
    if result.failures:
        for failure in result.failures:
            echo(f"orchestra: could not start {failure}", err=True)
        sys.exit(1)
    if not no_attach and not as_json and interactive() and result.agents:
        go_to(ctx, result.agents[0].window if len(result.agents) == 1 else None)


def _spawn_on_hosts(ctx, away: dict[str, list[Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each host's tasks started there (`orchestra.remote`); the rows of the agents that started,
    and a failure for each host that refused."""
    if not away:
        return [], []
    from orchestra import remote
    from orchestra.spawning import spawn_environment

    rows, failures = [], []
    env = spawn_environment()
    for host, specs in away.items():
        if len(away) == 1:
            answer = remote.spawn(ctx, host, specs, env)  # alone, its error is the command's
        else:
            try:
                answer = remote.spawn(ctx, host, specs, env)
            except OrchestraError as error:
                failures.append(f"the agents for host '{host}': {error}")
                continue
        rows.extend(answer["agents"])
        warn(answer.get("warnings") or [])
        failures.extend(answer.get("failures") or [])
    return rows, failures


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM and SIGHUP (a closed terminal) stop a spawn as Ctrl-C does, so it undoes what it
    made for the agents it had not started instead of dying in the middle."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _progress(quiet: bool, count: int):
    """A live line on stderr while agents are being made; nothing when piped or with --json."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from orchestra import render

    steps: dict[str, str] = {}
    with render.console(stderr=True).status(f"spawning {count} agent{'s' if count != 1 else ''}...") as status:

        def show(name: str, step: str) -> None:
            steps[name] = step
            started = sum(1 for s in steps.values() if s == "started")
            status.update(render.plain(f"spawning: {started}/{count} started · {name}: {step}"))  # never markup

        yield show


@click.command()
@click.argument("name", required=False, shell_complete=complete.agent_names)
@click.option("--next", "to_next", is_flag=True, help="Go to the next agent after the one you are on, cycling.")
@click.option("--waiting", is_flag=True, help="With --next: the next agent that is waiting for a person.")
def attach(name, to_next, waiting):
    """Go to an agent's tmux window, or with --next to the next agent's.

    \b
      orchestra attach NAME
      orchestra attach --next [--waiting]     (for tmux key bindings: see docs/shell.md)
    """
    if to_next == bool(name):
        problem = "give an agent's NAME or --next, not both" if name else "give an agent's NAME, or --next"
        raise click.UsageError(problem)
    if waiting and not to_next:
        raise click.UsageError("--waiting goes with --next: orchestra attach --next --waiting")
    ctx = open_context()
    if to_next:
        return _attach_next(ctx, waiting)
    from orchestra import remote

    if remote.is_remote(ctx, name):
        return _attach_remote(ctx, name)
    from orchestra.attaching import place_of

    place = place_of(ctx, name)
    if not sys.stdout.isatty():
        raise OrchestraError("attach needs a terminal: run it from an interactive shell.")
    go_to(ctx, place.window, place.pane)


def _attach_remote(ctx, name: str) -> None:
    """`ssh -t` to the agent's host, onto its window there; inside tmux, in a new window here."""
    import os

    from orchestra import remote

    argv = remote.attach_argv(ctx, name)
    if ctx.tmux.inside():
        ctx.tmux.run("new-window", "-n", name, "--", *argv)
        return
    if not sys.stdout.isatty():
        raise OrchestraError("attach needs a terminal: run it from an interactive shell.")
    os.execvp(argv[0], argv)


def _attach_next(ctx, waiting: bool) -> None:
    """Inside tmux (a key binding's run-shell too) move the client; elsewhere attach. Where no agent
    fits: inside tmux a tmux message and exit 0, since a key press is no error; elsewhere an error."""
    from orchestra.attaching import NothingToGoTo, next_place

    inside = ctx.tmux.inside()
    if not inside and not sys.stdout.isatty():
        raise OrchestraError("attach needs a terminal: run it from an interactive shell or a tmux key binding.")
    try:
        place = next_place(ctx, waiting)
    except NothingToGoTo as nothing:
        if not inside:
            raise
        ctx.tmux.message(f"orchestra: {nothing.summary}")
        return
    go_to(ctx, place.window, place.pane)


@click.command()
@click.argument("name", shell_complete=complete.agent_names)
@click.option(
    "--lines", "-n", type=click.IntRange(min=1), default=50, show_default=True, help="Lines of scrollback to show."
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines as they appear.")
def logs(name, lines, follow):
    """Print what an agent's screen shows, with scrollback."""
    from orchestra.follow import agent_screen, follow_screen

    ctx = open_context()
    from orchestra import remote

    if remote.is_remote(ctx, name):
        if follow:  # the host's own follow, its lines passed through as they come
            import subprocess

            with contextlib.suppress(KeyboardInterrupt):
                raise SystemExit(
                    subprocess.run(remote.follow_argv(ctx, name, lines), stdin=subprocess.DEVNULL).returncode
                )
            return
        click.echo("\n".join(remote.logs(ctx, name, lines)[-lines:]))
        return
    # With --follow, one capture serves both: a line written between two captures would be lost.
    screen = agent_screen(ctx, name, None if follow else lines)
    click.echo("\n".join(screen.lines[-lines:]))
    if follow:
        for line in follow_screen(ctx, screen):
            click.echo(line)


@click.command()
@click.argument("name", shell_complete=complete.agent_names)
@click.argument("text")
def send(name, text):
    """Type TEXT into an agent literally, then press Enter.

    Answers a question or a permission prompt, or gives an agent that is done its next task.
    An empty TEXT ("") presses Enter alone. Text that starts with '-' goes after '--':

    \b
      orchestra send NAME -- "-y"
    """
    from orchestra import remote
    from orchestra.sending import send as send_text

    ctx = open_context()
    if remote.is_remote(ctx, name):
        echo(f"sent to {name} (now {remote.send(ctx, name, text)})")
        return
    agent = send_text(ctx, name, text)
    echo(f"sent to {agent.name} (now {agent.status.value})")


@click.command()
@click.argument("name", shell_complete=complete.agent_names)
@click.option("--stat", is_flag=True, help="Only the summary of changed files.")
def diff(name, stat):
    """Show an agent's changes against its base, uncommitted ones included."""
    from orchestra import remote
    from orchestra.report import agent_diff

    ctx = open_context()
    if remote.is_remote(ctx, name):
        click.echo(remote.diff(ctx, name, stat=stat), nl=False)
        return
    click.echo(agent_diff(ctx, name, stat=stat), nl=False)


@click.command()
@click.argument("names", nargs=-1, required=True, shell_complete=complete.agent_names)
@click.option(
    "--force", is_flag=True, help="Remove even with unmerged work, keeping it under refs/orchestra/trash/ first."
)
def kill(names, force):
    """Stop agents and remove their windows, worktrees and branches, never losing work.

    An agent that spawned others (through orchestra mcp) takes them along with --force; without
    it you are asked in a terminal, and elsewhere the command refuses.
    """
    from orchestra import remote
    from orchestra.removal import HasChildren, Removed
    from orchestra.removal import kill as kill_agents

    ctx = open_context()
    away = [n for n in dict.fromkeys(names) if remote.is_remote(ctx, n)]
    here = [n for n in names if n not in away]
    try:
        removed = kill_agents(ctx, here, force=force, children=True if force else None) if here else []
    except HasChildren as asked:
        if not interactive():
            raise
        echo(f"{', '.join(asked.parents)} spawned {', '.join(asked.children)}.")
        along = click.confirm("kill them too (each only if it has no work to lose)?", default=False)
        removed = kill_agents(ctx, here, force=False, children=along)
    for item in removed:
        _report_removed(item)
    for name in away:
        for gone in remote.kill(ctx, name, force=force):
            _report_removed(Removed(gone["name"], gone.get("saved_ref"), gone.get("not_kept") or []))


@click.command()
@click.option("--force", is_flag=True, help="Also remove finished agents with unmerged work, keeping it first.")
def clean(force):
    """Remove finished agents whose work is merged or empty."""
    from orchestra import remote
    from orchestra.removal import Removed
    from orchestra.removal import clean as clean_agents

    ctx = open_context()
    removed, kept = clean_agents(ctx, force=force)
    away, kept_away = remote.clean(ctx, force=force) if remote.records(ctx.state.dir) else ([], [])
    removed += [Removed(r["name"], r.get("saved_ref"), r.get("not_kept") or []) for r in away]
    kept += kept_away
    for item in removed:
        _report_removed(item)
    for reason in kept:
        echo(f"kept {reason}")
    from orchestra.pool import tidy

    pooled = tidy(ctx)  # the pool's own worktrees are no one's orphans: only its broken ones go
    if pooled.removed:
        echo(f"removed broken pool worktrees: {', '.join(pooled.removed)}")
    for reason in pooled.kept:
        echo(f"kept {reason}")
    if not removed and not kept and not pooled.removed and not pooled.kept:
        click.echo("nothing to clean")


def _report_removed(removed) -> None:
    if not removed.saved_ref:
        echo(f"removed {removed.name}")
        return
    echo(f"removed {removed.name}; its work is kept at {removed.saved_ref}")
    echo(f"  get it back with: {removed.restore_command}")
    if removed.not_kept:
        echo(f"  not kept, larger than 10 MB: {', '.join(removed.not_kept)}")


COMMANDS = [spawn, attach, logs, send, diff, kill, clean]
