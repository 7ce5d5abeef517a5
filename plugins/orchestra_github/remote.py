"""The git side: which GitHub repository a remote is, and pushing an agent's branch to it."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from orchestra import git
from orchestra.errors import MergeFailed

# git@github.com:owner/name.git (scp-like: no scheme, and no slash before the colon)
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^/:]+:(?P<path>[^/].*)$")
_SLUG = re.compile(r"^[\w.-]+/[\w.-]+$")


def url_of(root: str, remote: str) -> str:
    """The remote's URL as configured (`remote.<name>.url`, before any `insteadOf` rewriting,
    since that is the address that names the GitHub repository)."""
    found = git.run(["config", "--get", f"remote.{remote}.url"], root, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        raise MergeFailed(
            f"the repository has no remote '{remote}' to push to: add it with `git remote add {remote} URL`, "
            "or name another one with [plugins.github] remote."
        )
    return found.stdout.strip()


def repository_of(url: str) -> str | None:
    """`owner/name` from a GitHub remote URL (https, ssh, scp-like, git), or None for anything
    else (a local path, a URL with a longer path)."""
    if "://" in url:
        parts = urlsplit(url)
        if not parts.hostname or parts.scheme == "file":
            return None
        path = parts.path
    else:
        match = _SCP_LIKE.match(url)
        if match is None:
            return None
        path = match["path"]
    path = path.strip("/")
    path = path[: -len(".git")] if path.endswith(".git") else path
    return path if _SLUG.match(path) else None


def push(root: str, remote: str, branch: str) -> None:
    """`git push --set-upstream <remote> <branch>` in the main checkout; never prompts."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # a credential prompt would hang a queue
    pushed = git.run(["push", "--set-upstream", remote, branch], root, check=False, env=env)
    if pushed.returncode != 0:
        lines = [line.strip() for line in pushed.stderr.splitlines() if line.strip() and not line.startswith("hint:")]
        detail = "; ".join(lines) or f"exit code {pushed.returncode}"
        raise MergeFailed(f"git push {remote} {branch} failed: {detail}")
