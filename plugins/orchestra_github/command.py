"""`orchestra pr`: `orchestra merge --strategy pr` under a name of its own."""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem


def pr_command(cli: click.Group) -> click.Command:
    """The `pr` command, which runs the core's `merge` command of `cli` with the `pr` strategy."""

    def complete_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        """Offer what `merge NAMES` offers (the agents' names), through click's public API."""
        merge = cli.commands.get("merge")
        names = next((p for p in merge.params if p.name == "names"), None) if merge else None
        return names.shell_complete(ctx, incomplete) if names else []

    @click.command("pr")
    @click.argument("names", nargs=-1, shell_complete=complete_names)
    @click.option("--all", "all_", is_flag=True, help="Every finished (done or exited) agent, in the train's order.")
    @click.option("--keep-going", "-k", is_flag=True, help="Go on with the next agent after one fails.")
    @click.option("--json", "as_json", is_flag=True, help="Print what happened to each agent as JSON.")
    def pr(names: tuple[str, ...], all_: bool, keep_going: bool, as_json: bool) -> None:
        """Push agents' branches and open pull requests for them (merge --strategy pr).

        Uses `gh` when it is installed and logged in, else GitHub's API with GITHUB_TOKEN.
        """
        merge = cli.commands.get("merge")
        if merge is None:
            raise click.ClickException("this orchestra has no `merge` command for `pr` to run; upgrade orchestra.")
        given = {
            "names": names,
            "all_": all_,
            "strategy": "pr",
            "check": None,
            "keep_going": keep_going,
            "as_json": as_json,
        }
        accepted = {param.name for param in merge.params}
        click.get_current_context().invoke(merge, **{k: v for k, v in given.items() if k in accepted})

    return pr
