"""Commands on agents: spawn, attach, logs, send, diff, kill, clean."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Optional

import click

from orchestra.cli import complete
from orchestra.cli.output import go_to, interactive, open_context, print_json, warn
from orchestra.errors import OrchestraError


@click.command()
@click.argument("tasks", nargs=-1)
@click.option("--agent", "-a", "kind", metavar="KIND", shell_complete=complete.agent_kinds, help="Agent kind (claude, demo, command, ...); default from config.")
@click.option("--name", "-n", metavar="NAME", help="Agent name (branch orchestra/NAME); default from the task.")
@click.option("--base", "-b", metavar="REF", help="Branch, tag or commit to start from; default from config.")
@click.option("--file", "-f", "task_file", type=click.Path(path_type=Path), metavar="FILE", help="Read tasks from a TOML file.")
@click.option("--no-attach", is_flag=True, help="Do not go to the tmux session afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the new agents as JSON.")
def spawn(tasks, kind, name, base, task_file, no_attach, as_json):
    """Start one agent per task, each on its own branch, worktree and tmux window.

    A task that starts with '-' goes after '--':  orchestra spawn -- "--weird task"
    """
    from orchestra.spawning import TaskSpec, spawn as spawn_agents, spawn_environment

    specs = [TaskSpec(task=t, name=name, agent=kind, base=base) for t in tasks]
    if task_file is not None:
        specs += _read_task_file(task_file, default_agent=kind, default_base=base)
    if not specs:
        raise click.UsageError('give at least one task: orchestra spawn "what the agent should do"')
    ctx = open_context()
    with _progress(as_json, len(specs)) as progress:
        result = spawn_agents(ctx, specs, spawn_environment(), progress=progress)
    warn(result.warnings)
    if as_json:
        print_json([a.to_dict() for a in result.agents])
    else:
        from orchestra import render

        console = render.console()
        for agent in result.agents:
            console.print(f"[green]spawned[/] [bold]{agent.name}[/] ({agent.agent}) on {agent.branch} in {agent.worktree}")
        if result.agents:
            console.print(f"[dim]watch them: orchestra up · list: orchestra ls · session: {ctx.session}[/]")
    if result.failures:
        for failure in result.failures:
            click.echo(f"orchestra: could not start {failure}", err=True)
        sys.exit(1)
    if not no_attach and not as_json and interactive() and result.agents:
        go_to(ctx, result.agents[0].window if len(result.agents) == 1 else None)


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
            status.update(f"spawning: {started}/{count} started · {name}: {step}")

        yield show


def _read_task_file(path: Path, default_agent: Optional[str], default_base: Optional[str]):
    from orchestra.config import read_file
    from orchestra.spawning import TaskSpec
    from orchestra.worktrees import check_name

    if path.is_dir():
        raise OrchestraError(f"{path} is a folder: --file takes a TOML file of [[task]] tables.")
    if not path.is_file():
        raise OrchestraError(f"the tasks file {path} does not exist.")
    data = read_file(path)
    unknown = set(data) - {"task"}
    entries = data.get("task")
    if unknown or not isinstance(entries, list):
        raise OrchestraError(
            f'{path} must hold [[task]] tables, each with task = "..." and optionally name, agent and base.'
        )
    specs = []
    for number, entry in enumerate(entries, start=1):
        extra = set(entry) - {"task", "name", "agent", "base"}
        if extra or not isinstance(entry.get("task"), str):
            problem = f"unknown key {sorted(extra)[0]!r}" if extra else "no task text"
            raise OrchestraError(f"{path}: task {number} has {problem}; each [[task]] takes task, name, agent, base.")
        if any(not isinstance(entry.get(k, ""), str) for k in ("name", "agent", "base")):
            raise OrchestraError(f"{path}: in task {number}, name, agent and base must be strings.")
        if entry.get("name") is not None:
            try:
                check_name(entry["name"])
            except OrchestraError as error:
                raise OrchestraError(f"{path}: task {number}: {error}") from None
        specs.append(
            TaskSpec(
                task=entry["task"],
                name=entry.get("name"),
                agent=entry.get("agent", default_agent),
                base=entry.get("base", default_base),
            )
        )
    return specs


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
    from orchestra.reconcile import find

    agent = find(ctx, name)
    if not agent.window or agent.status.value == "lost":
        hint = f" `orchestra resume {name}` opens it again." if agent.status.value == "lost" else ""
        raise OrchestraError(f"agent '{name}' has no window to go to: it is {agent.status.value}.{hint}")
    if not sys.stdout.isatty():
        raise OrchestraError("attach needs a terminal: run it from an interactive shell.")
    go_to(ctx, agent.window, agent.pane)


def _attach_next(ctx, waiting: bool) -> None:
    """Inside tmux (a key binding's run-shell too) move the client; elsewhere attach. Where no agent
    fits: inside tmux a tmux message and exit 0, since a key press is no error; elsewhere an error."""
    from orchestra.reconcile import observe

    inside = ctx.tmux.inside()
    if not inside and not sys.stdout.isatty():
        raise OrchestraError("attach needs a terminal: run it from an interactive shell or a tmux key binding.")
    positions = ctx.tmux.pane_positions(ctx.session)
    wanted = ("waiting",) if waiting else ("starting", "running", "waiting", "done", "exited", "failed")
    panes = [a.pane for a in observe(ctx) if a.status.value in wanted]
    pane = next_pane(panes, positions, ctx.tmux.current_pane(ctx.session))
    if pane is None:
        none = "no agent is waiting for you" if waiting else "no agent has a window to go to"
        if not inside:
            raise OrchestraError(f"{none} in {ctx.project.name}: `orchestra ls` shows them all.")
        ctx.tmux.message(f"orchestra: {none} in {ctx.project.name}")
        return
    go_to(ctx, positions[pane][0], pane)


def next_pane(panes: list, positions: dict[str, tuple[str, int, int]], current: Optional[str]) -> Optional[str]:
    """The first of `panes` in the session's order (window index, then pane index) after `current`,
    cycling round to the first. None when none of them is in the session."""
    ordered = sorted((positions[p][1:], p) for p in panes if p in positions)
    if not ordered:
        return None
    here = positions[current][1:] if current in positions else (-1, -1)
    return next((p for place, p in ordered if place > here), ordered[0][1])


@click.command()
@click.argument("name", shell_complete=complete.agent_names)
@click.option("--lines", "-n", type=click.IntRange(min=1), default=50, show_default=True, help="Lines of scrollback to show.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines as they appear.")
def logs(name, lines, follow):
    """Print what an agent's screen shows, with scrollback."""
    from orchestra.reconcile import find

    ctx = open_context()
    agent = find(ctx, name)
    if not agent.pane or agent.status.value == "lost":
        hint = f" `orchestra resume {name}` opens it again." if agent.status.value == "lost" else ""
        raise OrchestraError(f"agent '{name}' has no screen to show (it is {agent.status.value}).{hint}")
    # With --follow, one capture serves both: a line written between two captures would be lost.
    screen = _screen(ctx.tmux.capture(agent.pane, None if follow else lines + 50))
    click.echo("\n".join(screen[-lines:]))
    if follow:
        _follow(ctx, agent.pane, screen)


def _screen(text: str) -> list[str]:
    """The pane's lines without the blank rows below the output and tmux's 'Pane is dead' line."""
    lines = text.split("\n")
    while lines and (not lines[-1].strip() or lines[-1].startswith("Pane is dead (")):
        lines.pop()
    return lines


def _follow(ctx, pane: str, seen: list[str]) -> None:
    """Print lines as they are added to the pane's history, until the agent's process ends."""
    from orchestra.errors import TmuxError

    while True:
        time.sleep(0.5)
        try:
            finished = ctx.tmux.pane_dead(pane)
            current = _screen(ctx.tmux.capture(pane, None))
        except TmuxError:
            return
        common = 0
        while common < min(len(seen), len(current)) and seen[common] == current[common]:
            common += 1
        for line in current[common:]:
            click.echo(line)
        seen = current
        if finished:
            return


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
    from orchestra.sending import send as send_text

    agent = send_text(open_context(), name, text)
    click.echo(f"sent to {agent.name} (now {agent.status.value})")


@click.command()
@click.argument("name", shell_complete=complete.agent_names)
@click.option("--stat", is_flag=True, help="Only the summary of changed files.")
def diff(name, stat):
    """Show an agent's changes against its base, uncommitted ones included."""
    from orchestra import worktrees
    from orchestra.reconcile import find

    ctx = open_context()
    agent = find(ctx, name)
    click.echo(worktrees.diff(Path(agent.worktree), agent.base, stat=stat), nl=False)


@click.command()
@click.argument("names", nargs=-1, required=True, shell_complete=complete.agent_names)
@click.option("--force", is_flag=True, help="Remove even with unmerged work, keeping it under refs/orchestra/trash/ first.")
def kill(names, force):
    """Stop agents and remove their windows, worktrees and branches, never losing work."""
    from orchestra.removal import kill as kill_agents

    ctx = open_context()
    for removed in kill_agents(ctx, list(names), force=force):
        _report_removed(removed)


@click.command()
@click.option("--force", is_flag=True, help="Also remove finished agents with unmerged work, keeping it first.")
def clean(force):
    """Remove finished agents whose work is merged or empty."""
    from orchestra.removal import clean as clean_agents

    ctx = open_context()
    removed, kept = clean_agents(ctx, force=force)
    for item in removed:
        _report_removed(item)
    for reason in kept:
        click.echo(f"kept {reason} (use --force to remove it, keeping the work on a ref)")
    if not removed and not kept:
        click.echo("nothing to clean")


def _report_removed(removed) -> None:
    if removed.saved_ref:
        click.echo(f"removed {removed.name}; its work is kept at {removed.saved_ref}")
        click.echo(f"  get it back with: {removed.restore_command}")
    else:
        click.echo(f"removed {removed.name}")


COMMANDS = [spawn, attach, logs, send, diff, kill, clean]
