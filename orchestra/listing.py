"""The agents as `ls --json` shows them: each record with its changes, conflicts, usage and place
in the queue. A host answers for its own agents with the same rows (`orchestra.on_host`)."""

from __future__ import annotations

from typing import Any

from orchestra.context import Context


def rows(ctx: Context, conflict_files: bool = False, reap: bool = False) -> list[dict[str, Any]]:
    """Every local agent's row, as `ls --json` prints it (and a host answers for its own)."""
    from orchestra.diffstats import Place
    from orchestra.lookout import look
    from orchestra.reconcile import changes_of, looking, observe
    from orchestra.schedule import waits_for
    from orchestra.usage import usage_of

    records, answer = looking(ctx)
    # The worktrees are read while tmux answers: a record's place does not change when reconciled.
    changes = changes_of([Place(record) for record in records.values()], ctx.state.dir)
    agents = observe(ctx, answer(), records)
    conflicts = look(ctx, agents, reap=reap)
    usage = usage_of(ctx, agents)
    queue = waits_for(ctx, agents)
    found = []
    for a in agents:
        row = {**a.to_dict(), "changes": changes.get(a.name), "conflicts_with": conflicts.of(a.name)}
        row.update(usage=usage[a.name].usage, cost=usage[a.name].cost)
        row.update(queue.get(a.name, {"queue_position": None, "waits_for": None}))
        if conflict_files:
            row["conflict_files"] = conflicts.files_of(a.name)
        found.append(row)
    return found


def json_lines(items: list[Any]) -> str:
    """A JSON array one element per line, as `ls --json` prints it: with a few hundred agents,
    json writes without indenting several times faster (its C encoder)."""
    import json

    lines = ",\n".join(f"  {json.dumps(item, ensure_ascii=False)}" for item in items)
    return f"[\n{lines}\n]" if items else "[]"
