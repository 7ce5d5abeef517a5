"""Installing shell completion (`orchestra completion --install`): which shell this is, where that
shell finds a completion script by itself, and writing it there (for zsh, ~/.zfunc on fpath too).
The script's text is the face's: click generates it from the command group."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from orchestra import files
from orchestra.errors import OrchestraError

SHELLS = ("bash", "zsh", "fish")
ZSHRC_LINE = "fpath=(~/.zfunc $fpath)  # added by `orchestra completion --install`: zsh finds _orchestra there"


def detect_shell() -> str:
    """The shell this command runs in, by its parent processes, else by `$SHELL`."""
    import shellingham

    try:
        shell: str = shellingham.detect_shell()[0]
        return shell
    except (shellingham.ShellDetectionFailure, RuntimeError):
        pass
    name = os.path.basename(os.environ.get("SHELL", "").strip())
    if not name:
        raise OrchestraError("cannot tell which shell this is: name it, as in `orchestra completion bash|zsh|fish`.")
    return name


def supported(shell: str) -> str:
    """`shell` itself, if orchestra has completion for it."""
    if shell not in SHELLS:
        raise OrchestraError(
            f"completion is available for bash, zsh and fish, not {shell}: "
            "name one, as in `orchestra completion bash|zsh|fish`."
        )
    return shell


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
    rc: Path | None = None  # the zshrc that got the fpath line, when it needed one
    compinit_missing: bool = False  # zsh only: its zshrc never turns completion on


def install_script(shell: str, text: str) -> Installed:
    """Write the script to `script_path(shell)`, and for zsh make sure ~/.zfunc is on fpath."""
    path = script_path(shell)
    rc = zshrc() if shell == "zsh" else None
    rc_text = _read(rc) if rc else None
    needs_line = rc is not None and not re.search(r"^[^#\n]*fpath.*\.zfunc", rc_text or "", re.MULTILINE)
    if rc is not None and needs_line and not os.access(rc if rc.exists() else rc.parent, os.W_OK):
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
    if rc is not None and needs_line:
        # At the top: every fpath change must come before compinit, which frameworks run too.
        try:
            _write(rc, ZSHRC_LINE + "\n" + (rc_text or ""))
        except OSError as error:
            raise _unchangeable(rc, error.strerror) from None
    compinit_missing = rc is not None and "compinit" not in (_read(rc) or "")
    return Installed(path=path, wrote=not up_to_date, rc=rc if needs_line else None, compinit_missing=compinit_missing)


def zshrc() -> Path:
    return Path(os.environ.get("ZDOTDIR") or Path.home()) / ".zshrc"


def _unchangeable(rc: Path, reason: str | None) -> OrchestraError:
    return OrchestraError(f"cannot change {rc} ({reason}): add the line `{ZSHRC_LINE}` before compinit in it yourself.")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:  # missing, or unreadable: writing it will say what is wrong
        return None


def _write(path: Path, text: str) -> None:
    """Replace `path` in one step: a shell starting meanwhile sees the old file or the new one."""
    files.write_atomic(path.resolve(), text, mode=None)  # resolved: a dotfiles symlink stays a symlink
