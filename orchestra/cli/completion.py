"""`orchestra completion`: print or install the shell completion script for bash, zsh or fish.

The scripts are click's own: they run `orchestra` with `_ORCHESTRA_COMPLETE` set on each TAB
press, and the callbacks in `orchestra.cli.complete` answer. `--install` puts the script where
the shell finds it by itself (`orchestra.completion_install`), so that only zsh ever needs a line
in an rc file.
"""

from __future__ import annotations

import click

from orchestra.cli import complete

COMPLETE_VAR = "_ORCHESTRA_COMPLETE"


@click.command()
@click.argument("shell", required=False, shell_complete=complete.shells)
@click.option("--install", is_flag=True, help="Write the script where the shell loads it from, instead of printing it.")
def completion(shell, install):
    """Print or install shell completion for bash, zsh or fish.

    Without SHELL, the shell you are in.

    \b
      eval "$(orchestra completion bash)"       try it in this shell only
      orchestra completion --install            install it for new shells
    """
    from orchestra.completion_install import detect_shell, install_script, supported

    shell = supported(shell or detect_shell())
    text = script(shell)
    if not install:
        click.echo(text, nl=False)
        return
    done = install_script(shell, text)
    if not done.wrote and not done.rc:
        click.echo(f"already installed: {done.path} is up to date, nothing changed")
        return
    said = [f"wrote {done.path}"] if done.wrote else []
    said += [f"added the line that puts ~/.zfunc on zsh's fpath to {done.rc}"] if done.rc else []
    click.echo(" and ".join(said))
    click.echo("open a new shell to use it" + _afterwards(shell, done.compinit_missing))


def script(shell: str) -> str:
    """Click's completion script for `orchestra` in that shell, ending with a newline."""
    from click.shell_completion import get_completion_class

    from orchestra.cli import cli

    completion = get_completion_class(shell)
    if completion is None:
        raise click.UsageError(f"no completion script for the shell '{shell}': use bash, zsh or fish.")
    source = completion(cli, {}, "orchestra", COMPLETE_VAR).source()
    if shell == "bash":  # click's generated script, kept as it is; shellcheck is told so
        source = "# shellcheck disable=SC2086,SC2162,SC2206\n" + source.lstrip("\n")
    return source.rstrip("\n") + "\n"


def _afterwards(shell: str, compinit_missing: bool) -> str:
    if shell == "bash":
        return " (the bash-completion package loads it, so that must be installed)"
    if shell == "zsh" and compinit_missing:
        return "; if zsh completes nothing, turn its completion on with `autoload -Uz compinit && compinit` in ~/.zshrc"
    return ""


COMMANDS = [completion]
