"""A lead agent (`orchestra spawn --lead`): one that may split its task among workers of its own.

What makes it a lead is only what it is told: its task, followed by the brief below, which names
the tools of orchestra's MCP server (`orchestra mcp`, registered as `orchestra` in every agent's
MCP configuration). The workers it spawns record it as their `parent`, so `ls` and `report` show
them under it, and its last message, the summary the brief asks for, is its result.
"""

from __future__ import annotations

LEAD_BRIEF = """\
---
orchestra runs you as a lead: the task above is yours to finish, and you may split it among \
workers. orchestra's MCP server (named "orchestra") gives you these tools:

- spawn(tasks, agent=None): start one worker per task, each an agent with its own git branch and \
worktree. Give each a task it can finish alone: what to change, where, and how to check it. You \
see the workers' work only through these tools, not in your own worktree.
- wait(names, timeout_s=600): block until the named workers are done, exited, failed or limited; \
their statuses come back.
- report(names) and diff(name): read a worker's final message, its commits and its changes.
- send(name, text): type into a worker, to answer its question or redirect it.
- post(text, topic="general") and read(topic="general", since=None): a board every agent of this \
project can read. Post what the workers should know (an interface, a decision, where something \
lives) instead of repeating it in every task; workers may post what they found.
- list(): every agent of the project.

Work in this order: read enough of the repository to split the task well; do yourself what is \
small or what the others depend on; spawn workers for the parts that can go on in parallel; wait \
for them; read their reports and diffs; send a worker back to its work where it fell short. \
orchestra limits how many workers you may start and how deep they may spawn in turn: a refused \
spawn says why. Do not merge the workers' branches: a person does that.

Finish with a summary as your last message: what was done, by which worker (by name, with its \
branch), what is left, and anything a person must check before merging.
"""


def lead_task(task: str) -> str:
    """The lead's whole prompt: the person's task first (so its name and its line in `ls` come
    from the task), then orchestra's brief."""
    return f"{task.rstrip()}\n\n{LEAD_BRIEF}"


def is_lead_task(task: str) -> bool:
    """Whether an agent's task is a lead's: it ends with orchestra's brief."""
    return task.endswith(LEAD_BRIEF)
