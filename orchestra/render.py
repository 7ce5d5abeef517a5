"""Rich rendering: the agents table, the board, and messages. The only module that imports rich.

Public for plugins' commands, as docs/plugins.md says: `console()`, `table()`, `printable()` and
`age()`; the rest may change in any version. Text that did not come from orchestra is never
markup here: it goes into rich as `Text`, its control characters escaped by `printable()`.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from orchestra import lineage, statuses
from orchestra.models import Agent, Status, parse_time, until_phrase

if TYPE_CHECKING:
    from rich.console import Group
    from rich.live import Live

STATUS_STYLE = {
    Status.QUEUED: "dim cyan",
    Status.STARTING: "cyan",
    Status.RUNNING: "blue",
    Status.WAITING: "bold yellow",
    Status.LIMITED: "yellow",
    Status.DONE: "green",
    Status.EXITED: "green",
    Status.FAILED: "bold red",
    Status.LOST: "magenta",
    Status.UNREACHABLE: "magenta",
    Status.MERGED: "dim",
}
# Most urgent first: a person is needed, then trouble, then work in progress.
STATUS_ORDER = [Status(s) for s in statuses.URGENCY]  # most urgent first


def printable(text: str, newlines: bool = True) -> str:
    """`text` safe to print on a terminal, as it is but for control characters (public).

    Escape sequences in a task, an agent's message or a check's output would change the
    terminal's title, clear the screen or worse: every C0 and C1 control character (and DEL)
    is shown escaped, `\\x1b`, as are bytes that were not UTF-8 (`\\xe9`). Newlines and tabs
    stay, unless `newlines` is false (a table cell, a line of the board).
    """
    if text.isascii() and text.isprintable():
        return text
    table = _ESCAPES if newlines else _ESCAPES_ALL
    return text.translate(table)


def _escape_table(keep: str) -> dict[int, str]:
    named = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
    table = {c: named.get(chr(c), f"\\x{c:02x}") for c in [*range(0x20), *range(0x7F, 0xA0)]}
    table.update({c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)})  # surrogateescape's bytes
    table.update({c: f"\\u{c:04x}" for c in range(0xD800, 0xE000) if c not in table})
    for c in keep:
        del table[ord(c)]
    return table


_ESCAPES = _escape_table("\n\t")
_ESCAPES_ALL = _escape_table("")


def plain(text: object, style: str = "", newlines: bool = False) -> Text:
    """Text that did not come from orchestra, for a table cell or a line: never read as markup,
    its control characters escaped."""
    return Text(printable(str(text), newlines=newlines), style=style)


def console(stderr: bool = False) -> Console:
    """Where commands print (public, for plugins' commands too): full width when not a terminal.

    Strings it prints are not read as rich markup (pass `markup=True` to `print` for text of
    your own), so a `[/]` in an agent's message is shown as it is.
    """
    stream = sys.stderr if stderr else sys.stdout
    # Piped output is for reading in full (scripts, logs): do not cut it to 80 columns.
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width, markup=False)


def age(timestamp: str, now: dt.datetime | None = None) -> str:
    """How long ago an ISO 8601 time was, in its largest unit: `42s`, `5m`, `3h`, `2d` (public)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    seconds = max(0, int((now - parse_time(timestamp)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def changes_text(changes: dict[str, Any] | None) -> Text:
    if not changes:
        return Text("-", style="dim")
    text = Text()
    text.append(f"+{changes['added']}", style="green")
    text.append(" ")
    text.append(f"-{changes['removed']}", style="red")
    if changes.get("untracked"):
        text.append(f" ?{changes['untracked']}", style="yellow")
    return text


def activity(agent: Agent) -> str:
    if agent.status == Status.FAILED and agent.exit_code is not None and not agent.error:
        return f"exit code {agent.exit_code}"
    if agent.status == Status.WAITING and agent.waiting_for:
        text = agent.waiting_for
    elif agent.status == Status.LIMITED:
        text = f"{until_phrase(agent.limited_until)}: {agent.error or 'a usage limit'}"
    elif agent.error:
        text = agent.error
    elif agent.last_message:
        text = agent.last_message
    else:
        text = "exit code 0" if agent.status == Status.EXITED else ""
    text = printable(" ".join(text.split()), newlines=False)
    return text if len(text) <= ACTIVITY_WIDTH else text[: ACTIVITY_WIDTH - 1] + "…"


ACTIVITY_WIDTH = 80


def agents_table(
    agents: list[Agent],
    changes: dict[str, dict[str, Any] | None],
    title: str | None = None,
    conflicts: dict[str, list[str]] | None = None,
    queue: dict[str, dict[str, Any]] | None = None,
) -> Table:
    """The agents, one row each. A CONFLICTS column, with a mark and the names an agent is
    forecast to conflict with, is there only while some agent has a conflict. `queue` gives a
    queued agent's place (`queued #2`) and what it waits for (`schedule.waits_for`)."""
    queue = queue or {}
    conflicts = {name: found for name, found in (conflicts or {}).items() if found}
    table = Table(title=title, title_justify="left", expand=False, pad_edge=False, box=None, header_style="bold")
    hosts = any(agent.host for agent in agents)
    columns = ["NAME", *(["HOST"] if hosts else []), "KIND", "STATUS", "BRANCH", "AGE", "CHANGES"]
    columns += ["CONFLICTS"] if conflicts else []
    for column in (*columns, "LAST ACTIVITY"):
        table.add_column(column, no_wrap=column != "LAST ACTIVITY", overflow="ellipsis")
    now = dt.datetime.now(dt.timezone.utc)
    for agent, level in lineage.ordered(agents):  # children under their parent
        status = Text(agent.status.value, style=STATUS_STYLE[agent.status])
        place = queue.get(agent.name, {})
        if place.get("queue_position"):
            status.append(f" #{place['queue_position']}", style=STATUS_STYLE[agent.status])
        status.append(f" {age(agent.updated_at, now)}", style="dim")
        cells: list[str | Text] = [
            child_name(agent.name, level),
            *([plain(agent.host or "-")] if hosts else []),
            plain(agent.kind),
            status,
            plain(f"{agent.branch} (main checkout)" if agent.no_worktree else agent.branch),
            age(agent.created_at, now),
            changes_text(changes.get(agent.name)),
        ]
        if conflicts:
            cells.append(conflict_mark(conflicts.get(agent.name, [])))
        waits = place.get("waits_for")
        table.add_row(*cells, Text(f"waits for {printable(waits, newlines=False)}" if waits else activity(agent)))
    return table


def child_name(name: str, level: int) -> Text:
    """An agent's name indented under its parent's: `└ worker` one level down."""
    if not level:
        return plain(name)
    text = Text("  " * (level - 1) + "└ ", style="dim")
    return text.append_text(plain(name))


CONFLICT_MARK = "✖"


def conflict_mark(names: list[str]) -> Text:
    """`✖ api, main` in red: the agents (and the target) this one is forecast to conflict with."""
    if not names:
        return Text("-", style="dim")
    return plain(f"{CONFLICT_MARK} {', '.join(names)}", style="bold red")


def conflict_lines(lines: list[tuple[str, str, list[str]]], current: bool = True) -> Text:
    """Under the table (`ls --conflicts`): each conflict of the forecast with its files."""
    text = Text()
    if not lines:
        text.append("\nno conflicts forecast", style="dim")
    for first, second, paths in lines:
        text.append(f"\n{CONFLICT_MARK} ", style="bold red")
        text.append_text(plain(f"{first} and {second}: ", style="bold"))
        text.append_text(plain(", ".join(paths)))
    if not current:
        text.append("\n(from the last forecast; a newer one is being made)", style="dim")
    return text


def table(
    columns: list[str],
    rows: Iterable[Sequence[str | None]],
    *,
    right: Collection[str] = (),
    max_widths: dict[str, int] | None = None,
) -> Table:
    """A table as orchestra's commands show theirs: bold headers, no borders, each cell on one
    line and cut with an ellipsis when too wide. A cell that is None shows as a dim `-`.

    Public: plugins' commands may print it with `console().print(table(...))`. `right` names
    the columns aligned to the right (numbers); `max_widths` caps some columns' widths.
    """
    shown = Table(expand=False, pad_edge=False, box=None, header_style="bold")
    for column in columns:
        justify: Literal["right", "left"] = "right" if column in right else "left"
        shown.add_column(
            column, no_wrap=True, overflow="ellipsis", justify=justify, max_width=(max_widths or {}).get(column)
        )
    for row in rows:
        shown.add_row(*(Text("-", style="dim") if cell is None else _cell(cell) for cell in row))
    return shown


def _cell(cell: str | Text) -> Text:
    return cell if isinstance(cell, Text) else plain(cell)


def summary(agents: list[Agent]) -> Text:
    """'2 waiting · 1 running · 3 exited', most urgent first."""
    counts = {s: sum(1 for a in agents if a.status == s) for s in STATUS_ORDER}
    text = Text()
    for status in STATUS_ORDER:
        if counts[status]:
            if text:
                text.append(" · ", style="dim")
            text.append(f"{counts[status]} {status.value}", style=STATUS_STYLE[status])
    return text or Text('no agents yet: orchestra spawn "a task"', style="dim")


def board(
    agents: list[Agent],
    changes: dict[str, dict[str, Any] | None],
    project: str,
    error: str | None = None,
    conflicts: dict[str, list[str]] | None = None,
    details: list[tuple[str, str, list[str]]] | None = None,
    queue: dict[str, dict[str, Any]] | None = None,
) -> Group:
    """What window 0 shows: a summary line and the table, redrawn on change; with `details`,
    each forecast conflict's files under it."""
    from rich.console import Group

    header = Text(f"orchestra · {printable(project, newlines=False)} · ", style="bold")
    header.append_text(summary(agents))
    parts: list[Text | Table] = [header, Text()]
    if agents:
        parts.append(agents_table(agents, changes, conflicts=conflicts, queue=queue))
    if details is not None:
        parts.append(conflict_lines(details))
    if error:
        parts += [Text(), plain(error, style="red", newlines=True)]
    parts.append(Text("\nwindows: one per agent · C-b w to pick · `orchestra attach NAME`", style="dim"))
    return Group(*parts)


def live(**options: Any) -> Live:
    """A rich Live display on stdout, redrawn only when told to."""
    from rich.live import Live

    return Live(console=console(), auto_refresh=False, **options)


def print_table(console: Console, table: RenderableType) -> None:
    """Print a table; into a pipe or a file without the padding that fills each line to the width."""
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def is_terminal() -> bool:
    return sys.stdout.isatty()


def event_line(event: dict[str, Any]) -> Text:
    """One event of the log as a line: time, agent, what happened."""
    p = _oneline
    when = p(event.get("time", ""))[11:23]
    kind = p(event.get("type", "?"))
    data: dict[str, Any] = event["data"] if isinstance(event.get("data"), dict) else {}
    text = Text(f"{when}  ", style="dim")
    text.append(f"{p(event.get('agent') or '-'):<20} ", style="bold")
    if kind == "status":
        status = p(event.get("status") or "?")
        style = STATUS_STYLE.get(Status(status), "") if status in Status._value2member_map_ else ""
        text.append(f"{p(data.get('from', '?'))} → ")
        text.append(status, style=style)
        cause = data.get("hook") or data.get("by")
        if data.get("exit_code") is not None:
            cause = f"exit code {data['exit_code']}"
        if cause:
            text.append(f" ({p(cause)})", style="dim")
    elif kind == "hook":
        text.append(f"hook {p(data.get('hook', '?'))}", style="cyan")
        detail = data.get("notification_type") or data.get("tool_name") or data.get("source") or ""
        if detail:
            text.append(f" {p(detail)}", style="dim")
    elif kind == "conflict":
        text.append("conflict", style="bold red")
        found = data.get("files")
        paths: list[Any] = found if isinstance(found, list) else []
        text.append(f" with {p(data.get('with', '?'))}: {p(', '.join(map(str, paths)))}"[:200], style="dim")
    else:
        text.append(kind)
        detail = data.get("message") or data.get("task") or ""
        if detail:
            text.append(" " + p(" ".join(str(detail).split()))[:100], style="dim")
    return text


def _oneline(value: object) -> str:
    return printable(str(value), newlines=False)


def agent_report(item: Any, level: int = 0) -> RenderableType:  # a report.AgentReport: render sits below the use cases
    """One agent's result for `orchestra report`: header, final message, commits; a child
    (`level` 1 and more) indented under its parent, and saying whose it is."""
    from rich.console import Group
    from rich.padding import Padding

    status = Status(item.status)
    header = Text(_oneline(item.name), style="bold")
    header.append(f"  {_oneline(item.agent)}  ")
    header.append(item.status, style=STATUS_STYLE[status])
    header.append(f"  {_oneline(item.branch)}", style="dim")
    if getattr(item, "parent", None):
        header.append(f"  (worker of {_oneline(item.parent)})", style="dim")
    size = Text(f"  {item.files_changed} file{'s' if item.files_changed != 1 else ''} changed, ")
    size.append(f"+{item.lines_added}", style="green")
    size.append(" ")
    size.append(f"-{item.lines_removed}", style="red")
    if item.untracked_files:
        size.append(f", {item.untracked_files} untracked", style="yellow")
    if item.uncommitted:
        size.append(" (not all committed)", style="yellow")
    lead = item.lead
    # A lead's task ends with orchestra's brief (orchestra.lead), after a "---" line: the person's task is before it.
    task = item.task.rsplit("\n\n---\n", 1)[0] if lead else item.task
    parts = [
        header,
        Text(("  lead: " if lead else "  task: ") + _oneline(" ".join(task.split()))[:200], style="dim"),
        size,
    ]
    if item.usage is not None:
        parts.append(Text("  " + usage_line(item.usage, item.cost), style="dim"))
    message = item.error if status == Status.FAILED and item.error else item.last_message
    if message:
        said = ("summary: " if lead and message is item.last_message else "") + printable(message.strip())
        parts.append(Text("  " + said.replace("\n", "\n  ")))
    for commit in item.commits[:20]:
        parts.append(Text(f"  {commit['id'][:10]} {_oneline(commit['subject'])}", style="dim"))
    if len(item.commits) > 20:
        parts.append(Text(f"  ... and {len(item.commits) - 20} more commits", style="dim"))
    parts.append(Text())
    return Padding(Group(*parts), (0, 0, 0, 4 * level)) if level else Group(*parts)


def usage_line(usage: dict[str, int], cost: float | None) -> str:
    """`tokens: 1,200 in, 250 out, 64,000 cache read, 4,300 cache write, cost ~0.0427`."""
    line = (
        f"tokens: {usage['input_tokens']:,} in, {usage['output_tokens']:,} out, "
        f"{usage['cache_read_tokens']:,} cache read, {usage['cache_write_tokens']:,} cache write"
    )
    return line + (f", cost ~{cost:.4f}" if cost is not None else "")


def plugins_table(infos: Iterable[Any]) -> Table:  # plugins.PluginInfo: render sits below the seam
    """`orchestra plugins list`: name, version, source, state, hooks, agent kinds."""
    table = Table(expand=False, pad_edge=False, box=None, header_style="bold")
    for column in ("PLUGIN", "VERSION", "FROM", "STATE", "HOOKS", "AGENT KINDS"):
        table.add_column(column, no_wrap=column not in ("HOOKS",), overflow="fold")
    styles = {"loaded": "green", "disabled": "dim", "failed": "bold red"}
    for info in infos:
        source = "bundled" if info.bundled else (info.distribution or "?")
        state = plain(info.state, style=styles.get(info.state, ""))
        if info.problem:
            state.append(f" ({_oneline(info.problem)})", style="red")
        table.add_row(
            plain(info.name),
            plain(info.version or "-"),
            plain(source),
            state,
            plain(", ".join(info.hooks) or "-"),
            plain(", ".join(info.agent_kinds) or "-"),
        )
    return table
