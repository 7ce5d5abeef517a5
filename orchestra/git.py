"""git itself: the one runner every git command goes through, and the small questions asked of git.

Every git command orchestra (and a bundled plugin) runs goes through `run`, which raises a
`GitError` that keeps the command, its exit code and git's stderr. It is a plain subprocess:
`orchestra ls`, the board and the hook handler run git all the time, and importing GitPython
(about 100 ms) would cost more than the commands. GitPython's object model is used where it earns
that import, on a cold path: making the demo's repository (`init_repository`).

Branch and worktree logic lives in `orchestra.worktrees` and `orchestra.integrate`, on top of this.
Public for plugins: `run`, `identity_env` and `GitError` (docs/plugins.md).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from orchestra.errors import GitError

PathLike = str | Path


def run(
    args: Sequence[str],
    cwd: PathLike,
    check: bool = True,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `git ARGS` in `cwd` and return the finished process (stdout and stderr as text).

    With `check`, a non-zero exit raises `GitError` carrying the argv, exit code and stderr;
    without it the caller reads `returncode`. A missing git always raises. Never reads the
    terminal: stdin is empty unless `input` is given.
    """
    argv = ["git", *args]
    try:
        result = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except OSError as error:  # git missing, or `cwd` gone or unreadable
        if not Path(cwd).is_dir():
            raise GitError(f"the folder {cwd} is gone, so git cannot run in it.", argv) from None
        if isinstance(error, FileNotFoundError):
            raise GitError("git is not installed: install git (2.25 or newer) and try again.", argv) from None
        raise GitError(f"git could not run in {cwd}: {error.strerror or error}.", argv) from None
    if check and result.returncode != 0:
        detail = result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}"
        raise GitError(f"git {args[0]} failed in {cwd}: {detail}", argv, result.returncode, result.stderr)
    return result


def output(args: Sequence[str], cwd: PathLike, env: dict[str, str] | None = None) -> str:
    """`git ARGS`'s standard output without the final newline; raises `GitError` on failure."""
    return run(args, cwd, env=env).stdout.rstrip("\n")


def succeeds(args: Sequence[str], cwd: PathLike) -> bool:
    """Whether `git ARGS` exits 0 (a question such as `rev-parse --verify`)."""
    return run(args, cwd, check=False).returncode == 0


def version() -> str | None:
    """git's version ("2.43.0"), or None when git is missing."""
    try:
        out = subprocess.run(["git", "--version"], capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    except OSError:
        return None
    found = re.search(r"\d+(\.\d+)+", out)
    return found.group(0) if found else None


def common_dir(cwd: PathLike) -> Path | None:
    """The folder git keeps a repository's data in, for a checkout or worktree at `cwd`; None outside a
    repository (or where git or `cwd` is missing). Relative to `cwd` when run in the main checkout."""
    try:
        result = run(["rev-parse", "--git-common-dir"], cwd, check=False)
    except GitError:
        return None
    if result.returncode != 0:
        return None
    return Path(cwd, result.stdout.strip())


def index_file(worktree: PathLike) -> Path | None:
    """A linked worktree's own index file (`<common dir>/worktrees/<id>/index`), read from its
    `.git` pointer file without running git, for the board, which looks at it every half second."""
    try:
        pointer = (Path(worktree) / ".git").read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    if not pointer.startswith("gitdir:"):
        return None
    return Path(worktree) / pointer.removeprefix("gitdir:").strip() / "index"  # relative to it, if relative


def identity_env(cwd: PathLike) -> dict[str, str]:
    """The environment for a commit orchestra makes itself: this one, plus a stand-in author where
    the user has set no git identity, so that the commit works anyway."""
    env = dict(os.environ)
    if not succeeds(["config", "user.email"], cwd):
        env.setdefault("GIT_AUTHOR_NAME", "orchestra")
        env.setdefault("GIT_AUTHOR_EMAIL", "orchestra@localhost")
        env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
        env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    return env


def init_repository(path: Path, files: dict[str, str], message: str) -> None:
    """A new repository at `path` on branch main with `files` in its first commit (the demo's).

    GitPython builds the index and the commit objects itself, without a git process per step.
    """
    import git  # GitPython, not this module: imports are absolute

    path.mkdir(parents=True, exist_ok=True)
    try:
        repo = git.Repo.init(path, initial_branch="main")
        for name, text in files.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_text(text, encoding="utf-8")
        repo.index.add(list(files))
        # The same stand-in identity as identity_env's, where the user has set none.
        stand_in = not succeeds(["config", "user.email"], path) and not os.environ.get("GIT_AUTHOR_EMAIL")
        author = git.Actor("orchestra", "orchestra@localhost") if stand_in else None
        repo.index.commit(message, author=author, committer=author)
    except git.GitCommandError as error:
        stderr = str(error.stderr or "").strip()
        raise GitError(
            f"git could not make the repository {path}: {stderr or error}",
            error.command,
            error.status if isinstance(error.status, int) else None,
            stderr,
        ) from None
