"""Opening a pull request with the GitHub CLI, `gh`, when it is installed and logged in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from orchestra.errors import MergeFailed
from orchestra_github.pull_request import PullRequest

_PULL_URL = re.compile(r"https?://\S+/pull/(\d+)")


def _env() -> dict[str, str]:
    # gh must never stop to ask: there is no person at its prompts inside a merge queue.
    return {**os.environ, "GH_PROMPT_DISABLED": "1", "GH_NO_UPDATE_NOTIFIER": "1", "NO_COLOR": "1"}


def logged_in(timeout: float) -> str | None:
    """The path of `gh` when it is installed and `gh auth status` succeeds, else None."""
    path = shutil.which("gh")
    if path is None:
        return None
    try:
        status = subprocess.run([path, "auth", "status"], capture_output=True, env=_env(), timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if status.returncode == 0 else None


def create_argv(gh: str, repository: str, head: str, base: str, title: str) -> list[str]:
    """`gh pr create` for an already pushed branch; the body comes on stdin (`--body-file -`)."""
    return [
        gh,
        "pr",
        "create",
        "--repo",
        repository,
        "--head",
        head,
        "--base",
        base,
        "--title",
        title,
        "--body-file",
        "-",
    ]


def open_pull_request(
    gh: str, root: str, repository: str, head: str, base: str, title: str, body: str, timeout: float
) -> PullRequest:
    argv = create_argv(gh, repository, head, base, title)
    try:
        created = subprocess.run(argv, cwd=root, input=body.encode(), capture_output=True, env=_env(), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise MergeFailed(
            f"gh pr create did not finish within {timeout:g} seconds; try again later, or raise [plugins.github] timeout."
        ) from None
    stdout = created.stdout.decode(errors="replace")
    stderr = created.stderr.decode(errors="replace")
    if created.returncode == 0:
        found = _PULL_URL.search(stdout)
        if found is None:
            raise MergeFailed(
                f"gh pr create did not print the pull request's address: {stdout.strip() or stderr.strip()}"
            )
        return PullRequest(number=int(found[1]), url=found[0])
    existing = _PULL_URL.search(stderr)
    if "already exists" in stderr and existing is not None:
        return PullRequest(number=int(existing[1]), url=existing[0], existed=True)
    detail = (
        "; ".join(line.strip() for line in stderr.splitlines() if line.strip()) or f"exit code {created.returncode}"
    )
    raise MergeFailed(f"gh pr create failed: {detail}")
