"""Handing a conflict back to the agent that can resolve it: orchestra's words, typed at its prompt.

When the target branch moved on and an agent's work no longer merges, the agent that wrote the
work is the one who knows what it meant. `hand_back` types a prompt into it saying so: which
files conflict, how to bring its branch up to date in its own worktree, and to finish again.
Its status then follows its hooks as usual (running, then done), and a later merge retries it.
"""

from __future__ import annotations

from orchestra import lifecycle
from orchestra.context import Context
from orchestra.errors import OrchestraError
from orchestra.models import Agent, Event, Status
from orchestra.reconcile import owned_pane
from orchestra.sending import send

FILES_NAMED = 20  # files named in the prompt; the rest are counted


def prompt_text(target: str, files: list[str], strategy: str = "merge") -> str:
    """What orchestra types into an agent whose branch conflicts with `target` in `files`.

    One line (an agent that reads its input by lines gets it whole), in orchestra's words. With
    `strategy` "rebase" ([merge] strategy) it asks for a rebase, else for a merge of the target.
    """
    shown = [_plain(path) for path in files[:FILES_NAMED]]
    if len(files) > FILES_NAMED:
        shown.append(f"and {len(files) - FILES_NAMED} more")
    where = ", ".join(shown) if shown else "some files"
    if strategy == "rebase":
        how = (
            f"run `git rebase {target}` in your worktree; where it stops on a conflict, resolve it, "
            "`git add` the files and run `git rebase --continue`, until the rebase is done"
        )
    else:
        how = (
            f"run `git merge {target}` in your worktree, resolve the conflicts in those files (keep what "
            f"{target} brought as well as your own change), then `git add` them and `git commit --no-edit`"
        )
    return (
        f"orchestra: the branch {target} has moved on since you started, and your work now conflicts "
        f"with it in {where}. Bring your branch up to date with {target}: {how}. Check that your work "
        "still does what it should, make sure everything is committed, then finish as before; "
        "orchestra will merge your branch again."
    )


def hand_back(ctx: Context, agent: Agent, target: str, files: list[str]) -> bool:
    """Type `prompt_text` into `agent` when it sits idle at its prompt (done, its pane alive),
    and record a `handback` event; False, with nothing typed, for any other agent.

    A `waiting` agent is not handed back: it waits on a permission prompt or a question, where
    the typed text and its Enter would answer that dialog on the person's behalf.
    """
    if agent.status != Status.DONE:
        return False
    pane = owned_pane(ctx, agent)
    if pane is None or pane.dead:
        return False
    text = prompt_text(target, files, ctx.config.merge["strategy"])
    try:
        send(ctx, agent.name, text)  # looks again: an agent that ended or was removed meanwhile is refused
    except OrchestraError:
        return False
    event = Event("handback", agent=agent.name, data={"target": target, "files": list(files)})
    lifecycle.publish(ctx.state, [event.to_dict()])
    return True


def _plain(path: str) -> str:
    """A path as one line of text: control characters (a newline would end the prompt early) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in path)
