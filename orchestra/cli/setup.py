"""Commands that set things up or check them: init, doctor, demo."""

from __future__ import annotations

import contextlib
import os
import sys
import time

import click

from orchestra.cli.output import go_to, interactive, open_context, print_json, warn


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing orchestra.toml.")
def init(force):
    """Write orchestra.toml in the main checkout with every default, commented."""
    from orchestra.init import write_config

    ctx = open_context()
    path = write_config(ctx, force)
    warn(ctx.plugins.problems)
    click.echo(f"wrote {path}")


@click.command()
@click.option("--fix", is_flag=True, help="Repair what is safe to repair (stale git worktree records, the board).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(fix, as_json):
    """Check tmux, git, agent CLIs and the project's state against reality."""
    from orchestra.doctor import diagnose

    checks = diagnose(fix)
    if as_json:
        print_json([c.__dict__ for c in checks])
    else:
        from orchestra import render

        marks = {True: ("✓", "green"), False: ("✗", "red"), None: ("·", "yellow")}
        console = render.console()
        for check in checks:
            # Names and details quote plugins, config text such as [orchestra] and paths: never markup.
            line = render.plain(marks[check.ok][0], style=marks[check.ok][1])
            line.append_text(render.plain(f" {check.name:<14} {check.detail}"))
            if check.fixed:
                line.append(" (fixed)", style="green")
            console.print(line)
    if any(c.ok is False and not c.fixed for c in checks):
        sys.exit(1)


@click.command()
@click.option("--no-attach", is_flag=True, help="Do not go to the tmux session; show the board here instead.")
def demo(no_attach):
    """Try orchestra with no API key: a throwaway repository and three scripted agents."""
    from orchestra import demo as demo_module
    from orchestra.spawning import spawn_environment

    path = demo_module.make_repository()
    click.echo(f"made a throwaway repository at {path}")
    ctx, agents, warnings = demo_module.start(path, spawn_environment())
    warn(warnings)
    click.echo(f"spawned {len(agents)} demo agents in the tmux session {ctx.session}")
    if not no_attach and interactive():
        click.echo("going to the session; window 0 is the board. Leave with C-b d.")
        time.sleep(0.5)
        _print_after(ctx, path)
        go_to(ctx)
        return
    _show_until_finished(ctx)
    _print_after(ctx, path)


def _show_until_finished(ctx) -> None:
    """The board, here, until every demo agent has finished; into a pipe, only the final one."""
    from orchestra import render
    from orchestra.demo import until_finished
    from orchestra.reconcile import changes_of

    console = render.console()
    with render.live() if console.is_terminal else contextlib.nullcontext() as live:
        for agents, finished in until_finished(ctx):
            if live is not None:
                live.update(render.board(agents, changes_of(agents, ctx.state.dir), ctx.project.name), refresh=True)
            elif finished:
                render.print_table(console, render.board(agents, changes_of(agents, ctx.state.dir), ctx.project.name))


def _command_name() -> str:
    """How the user can call this orchestra again: `orchestra` if that is on PATH, else its path."""
    import shutil
    from pathlib import Path

    me = Path(sys.argv[0]).resolve()
    on_path = shutil.which("orchestra")
    if on_path and Path(on_path).resolve() == me:
        return "orchestra"
    return str(me) if me.name == "orchestra" else f"{sys.executable} -m orchestra"


def _print_after(ctx, path) -> None:
    socket = os.environ.get("ORCHESTRA_TMUX_SOCKET")
    env = f"ORCHESTRA_TMUX_SOCKET={socket} " if socket else ""
    env += _command_name()
    click.echo("")
    click.echo(f"  watch:     cd {path} && {env} up")
    click.echo(f"  an agent:  cd {path} && {env} attach NAME   (names: {env} ls)")
    click.echo(f"  its work:  cd {path} && {env} diff NAME")
    tmux = " ".join(ctx.tmux.base_argv())
    click.echo(f"  remove it: {tmux} kill-session -t {ctx.session}; rm -rf {path} {path}.worktrees")


COMMANDS = [init, doctor, demo]
