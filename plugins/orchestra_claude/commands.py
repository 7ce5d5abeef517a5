"""`orchestra sessions`: the Claude Code conversations of this repository and its worktrees,
listed, searched, exported as Markdown and counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from orchestra_claude.sessions import Session

COLUMNS = ["SESSION", "AGENT", "BRANCH", "DIRECTORY", "TURNS", "STARTED", "ACTIVE", "FIRST PROMPT"]
HOURS = click.FloatRange(min=0, min_open=True)
HOURS_HELP = "Only sessions active in the last H hours."


@click.group(invoke_without_command=True)
@click.option("--hours", type=HOURS, metavar="H", help=HOURS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the sessions as a JSON array.")
@click.pass_context
def sessions(ctx: click.Context, hours: float | None, as_json: bool) -> None:
    """List the Claude Code sessions of this repository and its worktrees, newest first.

    Its commands search them, export one as Markdown and count turns and tokens.
    """
    if ctx.invoked_subcommand is not None:
        return
    found = _sessions(hours)
    if as_json:
        _print_json([s.to_dict() for s in found])
        return
    if not found:
        within = f" active in the last {hours:g} hours" if hours else ""
        click.echo(f"no Claude Code sessions{within} in this repository or its worktrees yet")
        return
    from orchestra import render

    render.console().print(render.table(COLUMNS, rows(found), right={"TURNS"}, max_widths={"FIRST PROMPT": 80}))


@sessions.command()
@click.argument("query")
@click.option("--hours", type=HOURS, metavar="H", help=HOURS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the matches as a JSON array.")
def search(query: str, hours: float | None, as_json: bool) -> None:
    """Find prompts and replies that contain QUERY (any case), with their session and agent."""
    from orchestra_claude.conversation import read_conversation

    if not query.strip():
        raise click.UsageError("give the words to look for: orchestra sessions search QUERY")
    wanted = query.casefold()
    hits = []
    for session in _sessions(hours):
        for entry in read_conversation(session.transcript).entries:
            if entry.role != "tool" and wanted in entry.text.casefold():
                hits.append((session, entry))
    if as_json:
        _print_json([{**_where(s), "time": e.time, "role": e.role, "text": e.text} for s, e in hits])
        return
    if not hits:
        click.echo("no prompt or reply contains it")
        return
    from orchestra import render

    table = [[s.id, s.agent, render.age(e.time) if e.time else None, e.role, snippet(e.text, wanted)] for s, e in hits]
    render.console().print(render.table(["SESSION", "AGENT", "WHEN", "ROLE", "TEXT"], table, max_widths={"TEXT": 100}))


@sessions.command()
@click.argument("session_id", metavar="ID")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE", help="Write it to FILE."
)
@click.option("--json", "as_json", is_flag=True, help="Export it as JSON instead of Markdown.")
def export(session_id: str, output: Path | None, as_json: bool) -> None:
    """Export one session as Markdown: its prompts, replies and tool calls in short.

    ID is a session's id, the start of one, or the name of the agent that owns it.
    """
    from orchestra_claude.conversation import read_conversation
    from orchestra_claude.export import markdown

    session = find_session(_sessions(None), session_id)
    conversation = read_conversation(session.transcript)
    if as_json:
        data = {
            **session.to_dict(),
            "usage": conversation.usage().to_dict(),
            "entries": [e.to_dict() for e in conversation.entries],
        }
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = markdown(session, conversation)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        from orchestra.errors import OrchestraError

        raise OrchestraError(f"cannot write {output}: {error.strerror}; give another --output file.") from None
    if not as_json:
        click.echo(f"exported session {session.id} to {output}")


@sessions.command()
@click.option("--hours", type=HOURS, metavar="H", help="Count only what happened in the last H hours.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def stats(hours: float | None, as_json: bool) -> None:
    """Count sessions, turns and tokens per day (UTC) and per agent."""
    from orchestra_claude.stats import count

    figures = count(_sessions(hours), _since(hours))
    if as_json:
        _print_json(figures)
        return
    from orchestra import render

    console = render.console()
    columns = ["SESSIONS", "TURNS", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE"]
    numbers = ["sessions", "turns", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"]
    days = [[row["day"], *(str(row[k]) for k in numbers)] for row in figures["days"]]
    days.append(["total", *(str(figures["total"][k]) for k in numbers)])
    console.print(render.table(["DAY", *columns], days, right=set(columns)))
    console.print()
    agents = [[row["agent"], *(str(row[k]) for k in numbers)] for row in figures["agents"]]
    console.print(render.table(["AGENT", *columns], agents, right=set(columns)))


def find_session(found: list[Session], key: str) -> Session:
    """The session named by its id, the start of its id, or its agent's name."""
    from orchestra.errors import OrchestraError

    exact = [s for s in found if s.id == key] or [s for s in found if s.agent == key]
    if len(exact) == 1:
        return exact[0]
    matches = exact or ([s for s in found if s.id.startswith(key)] if len(key) >= 4 else [])
    if len(matches) == 1:
        return matches[0]
    from orchestra.render import printable

    shown = printable(key, newlines=False)
    if matches:
        raise OrchestraError(f"'{shown}' names {len(matches)} sessions: give more of the id (`orchestra sessions`).")
    raise OrchestraError(
        f"no Claude Code session '{shown}' in this repository or its worktrees: `orchestra sessions` lists them."
    )


def snippet(text: str, wanted: str, width: int = 100) -> str:
    """The text around the first match, on one line."""
    line = " ".join(text.split())
    at = line.casefold().find(wanted)
    start = max(0, at - width // 3) if at >= 0 else 0
    cut = line[start : start + width]
    return ("…" if start > 0 else "") + cut + ("…" if start + width < len(line) else "")


def rows(found: list[Session]) -> list[list[str | None]]:
    """One row a session, newest activity first: which agent owns it, where, and what it was asked."""
    from orchestra.render import age

    table = []
    for session in found:
        started = age(session.started) if session.started else "-"
        active = age(session.last_activity) if session.last_activity else "-"
        # None shows as a dim dash: no agent owns it, a detached checkout, no prompt typed yet.
        cells = [session.id, session.agent, session.branch, _home(session.directory), str(session.turns), started]
        table.append([*cells, active, session.first_prompt or None])
    return table


def _home(directory: str) -> str:
    home = str(Path.home()).rstrip("/")
    if directory == home or directory.startswith(home + "/"):
        return "~" + directory[len(home) :]
    return directory


def _sessions(hours: float | None) -> list[Session]:
    """The sessions of the project around the current folder, those active since `hours` ago."""
    from orchestra.project import open_project
    from orchestra_claude.sessions import discover_sessions

    project = open_project()
    owners = {a.session_id: a.name for a in project.agents.values() if a.session_id}
    found = discover_sessions(list(project.checkouts), owners, branches=project.checkouts)
    since = _since(hours)
    return found if since is None else [s for s in found if (s.last_activity or "") >= since]


def _since(hours: float | None) -> str | None:
    """The moment `hours` ago, in the one time format orchestra writes (so times compare as text)."""
    if hours is None:
        return None
    import datetime as dt

    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
    return moment.isoformat(timespec="milliseconds")


def _where(session: Session) -> dict[str, Any]:
    return {"session": session.id, "agent": session.agent, "branch": session.branch, "directory": session.directory}


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
