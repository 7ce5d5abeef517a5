"""Commands that set things up or check them: init, doctor, demo."""

from __future__ import annotations

import contextlib
import os
import sys
import time

import click

from orchestra.cli.output import go_to, interactive, open_context, print_json, warn
from orchestra.errors import ConfigError, OrchestraError


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing orchestra.toml.")
def init(force):
    """Write orchestra.toml in the main checkout with every default, commented."""
    from orchestra import config, files
    from orchestra.models import AgentSettings

    ctx = open_context()
    path = ctx.project.root / config.FILENAME
    if path.exists() and not force:
        raise OrchestraError(f"{path} already exists: edit it, or run `orchestra init --force` to overwrite it.")
    kinds = {
        name: AgentSettings(list(k.default_command), list(k.default_args), dict(k.default_env))
        for name, k in ctx.plugins.kinds.items()
        if k.plugin != "orchestra.toml"
    }
    files.write_atomic(path, config.template(kinds), mode=None)
    warn(ctx.plugins.problems)
    click.echo(f"wrote {path}")


@click.command()
@click.option("--fix", is_flag=True, help="Repair what is safe to repair (stale git worktree records, the board).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(fix, as_json):
    """Check tmux, git, agent CLIs and the project's state against reality."""
    from orchestra import doctor as checks_module

    checks = checks_module.check_tools()
    try:
        ctx = open_context()
    except ConfigError as error:  # inside a project whose orchestra.toml every command refuses
        checks.append(checks_module.Check("config", False, str(error)))
    except OrchestraError as error:
        checks.append(checks_module.Check("project", None, str(error)))
    else:
        checks.append(checks_module.Check("project", True, str(ctx.project.root)))
        if all(c.ok is not False for c in checks):
            checks += checks_module.check_project(ctx, fix)
    if as_json:
        print_json([c.__dict__ for c in checks])
    else:
        marks = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]·[/]"}
        from orchestra import render

        console = render.console()
        for check in checks:
            fixed = " [green](fixed)[/]" if check.fixed else ""
            detail = render.escape(check.detail)  # details quote config text such as [orchestra]
            console.print(f"{marks[check.ok]} {check.name:<14} {detail}{fixed}", markup=True)
    if any(c.ok is False and not c.fixed for c in checks):
        sys.exit(1)


@click.command()
@click.option("--no-attach", is_flag=True, help="Do not go to the tmux session; show the board here instead.")
def demo(no_attach):
    """Try orchestra with no API key: a throwaway repository and three scripted agents."""
    from orchestra import demo as demo_module
    from orchestra.context import Context
    from orchestra.reconcile import observe
    from orchestra.spawning import TaskSpec, spawn, spawn_environment

    path = demo_module.make_repository()
    click.echo(f"made a throwaway repository at {path}")
    ctx = Context.open(path)
    specs = [TaskSpec(task=task, agent="demo") for task in demo_module.TASKS]
    result = spawn(ctx, specs, spawn_environment())
    warn(result.warnings)
    if result.failures:
        raise OrchestraError("the demo could not start: " + "; ".join(result.failures))
    click.echo(f"spawned {len(result.agents)} demo agents in the tmux session {ctx.session}")
    if not no_attach and interactive():
        click.echo("going to the session; window 0 is the board. Leave with C-b d.")
        time.sleep(0.5)
        _print_after(ctx, path)
        go_to(ctx)
        return
    _show_until_finished(ctx, observe)
    _print_after(ctx, path)


def _show_until_finished(ctx, observe, limit: float = 60.0) -> None:
    """The board, here, until every demo agent has finished; into a pipe, only the final one."""
    from orchestra import render
    from orchestra.reconcile import changes_of

    console = render.console()
    deadline = time.monotonic() + limit
    with render.live() if console.is_terminal else contextlib.nullcontext() as live:
        while True:
            agents = observe(ctx)
            finished = all(not a.status.live for a in agents) or time.monotonic() > deadline
            if live is not None:
                live.update(render.board(agents, changes_of(agents), ctx.project.name), refresh=True)
            elif finished:
                render.print_table(console, render.board(agents, changes_of(agents), ctx.project.name))
            if finished:
                break
            time.sleep(0.5)


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
