"""`orchestra completion`: print or install the shell completion script for bash, zsh or fish.

The scripts are click's own: they run `orchestra` with `_ORCHESTRA_COMPLETE` set on each TAB
press, and the callbacks in `orchestra.cli.complete` answer. `--install` puts the script where
the shell finds it by itself, so that only zsh ever needs a line in an rc file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import click

from orchestra.cli import complete
from orchestra.errors import OrchestraError

COMPLETE_VAR = "_ORCHESTRA_COMPLETE"
ZSHRC_LINE = "fpath=(~/.zfunc $fpath)  # added by `orchestra completion --install`: zsh finds _orchestra there"


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
    shell = _supported(shell or detect_shell())
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
    click.echo("open a new shell to use it" + _afterwards(shell))


def detect_shell() -> str:
    """The shell this command runs in, by its parent processes, else by `$SHELL`."""
    import shellingham

    try:
        return shellingham.detect_shell()[0]
    except (shellingham.ShellDetectionFailure, RuntimeError):
        pass
    name = os.path.basename(os.environ.get("SHELL", "").strip())
    if not name:
        raise OrchestraError("cannot tell which shell this is: name it, as in `orchestra completion bash|zsh|fish`.")
    return name


def _supported(shell: str) -> str:
    if shell not in complete.SHELLS:
        raise OrchestraError(
            f"completion is available for bash, zsh and fish, not {shell}: "
            "name one, as in `orchestra completion bash|zsh|fish`."
        )
    return shell


def script(shell: str) -> str:
    """Click's completion script for `orchestra` in that shell, ending with a newline."""
    from click.shell_completion import get_completion_class

    from orchestra.cli import cli

    source = get_completion_class(shell)(cli, {}, "orchestra", COMPLETE_VAR).source()
    if shell == "bash":  # click's generated script, kept as it is; shellcheck is told so
        source = "# shellcheck disable=SC2086,SC2162,SC2206\n" + source.lstrip("\n")
    return source.rstrip("\n") + "\n"


def script_path(shell: str) -> Path:
    """Where `shell` finds a completion script by itself (bash through the bash-completion package)."""
    home = Path.home()
    if shell == "bash":
        data = os.environ.get("XDG_DATA_HOME") or home / ".local" / "share"
        return Path(data) / "bash-completion" / "completions" / "orchestra"
    if shell == "zsh":
        return home / ".zfunc" / "_orchestra"
    config = os.environ.get("XDG_CONFIG_HOME") or home / ".config"
    return Path(config) / "fish" / "completions" / "orchestra.fish"


@dataclass
class Installed:
    path: Path
    wrote: bool  # False when the script there was this one already
    rc: Optional[Path] = None  # the zshrc that got the fpath line, when it needed one


def install_script(shell: str, text: str) -> Installed:
    """Write the script to `script_path(shell)`, and for zsh make sure ~/.zfunc is on fpath."""
    path = script_path(shell)
    rc = _zshrc() if shell == "zsh" else None
    rc_text = _read(rc) if rc else None
    needs_line = rc is not None and not re.search(r"^[^#\n]*fpath.*\.zfunc", rc_text or "", re.MULTILINE)
    if needs_line and not os.access(rc if rc.exists() else rc.parent, os.W_OK):
        raise _unchangeable(rc, "not writable")
    up_to_date = _read(path) == text
    if not up_to_date:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write(path, text)
        except OSError as error:
            raise OrchestraError(
                f"cannot write {path} ({error.strerror or error}): put the script there yourself with "
                f"`orchestra completion {shell} > {path}`."
            ) from None
    if needs_line:
        # At the top: every fpath change must come before compinit, which frameworks run too.
        try:
            _write(rc, ZSHRC_LINE + "\n" + (rc_text or ""))
        except OSError as error:
            raise _unchangeable(rc, error.strerror) from None
    return Installed(path=path, wrote=not up_to_date, rc=rc if needs_line else None)


def _unchangeable(rc: Path, reason: Optional[str]) -> OrchestraError:
    return OrchestraError(f"cannot change {rc} ({reason}): add the line `{ZSHRC_LINE}` before compinit in it yourself.")


def _afterwards(shell: str) -> str:
    if shell == "bash":
        return " (the bash-completion package loads it, so that must be installed)"
    if shell == "zsh" and "compinit" not in (_read(_zshrc()) or ""):
        return "; if zsh completes nothing, turn its completion on with `autoload -Uz compinit && compinit` in ~/.zshrc"
    return ""


def _zshrc() -> Path:
    return Path(os.environ.get("ZDOTDIR") or Path.home()) / ".zshrc"


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:  # missing, or unreadable: writing it will say what is wrong
        return None


def _write(path: Path, text: str) -> None:
    """Replace `path` in one step: a shell starting meanwhile sees the old file or the new one."""
    from orchestra import files

    files.write_atomic(path.resolve(), text, mode=None)  # resolved: a dotfiles symlink stays a symlink


COMMANDS = [completion]
