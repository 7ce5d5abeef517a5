"""git for integrating an agent's branch: merge, squash or rebase, checked, then the target moves.

All the work happens in a temporary worktree detached at the target's tip, never in the main
checkout: a conflict or a failing check leaves the target branch, the main checkout and every
other worktree exactly as they were. Only a result that passed the check moves the target, by a
fast-forward: in the worktree that has the target checked out (so its files follow), or with
`update-ref` guarded by the old value when none has.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from orchestra import git
from orchestra.errors import MergeFailed
from orchestra.worktrees import Project, add_detached_worktree, discard_worktree, registered_worktrees

STRATEGIES = ("merge", "squash", "rebase")
CHECK_OUTPUT_LINES = 15  # lines of a failing check's output quoted in the reason


def commit_all(worktree: Path, message: str) -> str | None:
    """Commit every uncommitted change in an agent's worktree (untracked files too); its id, or None."""
    if not worktree.is_dir() or not git.run(["status", "--porcelain"], worktree).stdout.strip():
        return None
    env = git.identity_env(worktree)
    git.run(["add", "--all"], worktree, env=env)
    git.run(["commit", "--quiet", "--no-verify", "-m", message], worktree, env=env)
    return git.run(["rev-parse", "HEAD"], worktree).stdout.strip()


def commits_ahead(project: Project, branch: str, target: str) -> int:
    out = git.run(["rev-list", "--count", f"refs/heads/{target}..refs/heads/{branch}"], project.root, check=False)
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


def integrate(project: Project, branch: str, target: str, strategy: str, message: str, check: str = "") -> str:
    """Take `branch` into `target` with `strategy`, run `check` on the result, move the target.

    Returns the target's new tip. Raises MergeFailed, with the target untouched, on a conflict,
    a failing check, or a target that moved meanwhile.
    """
    if strategy not in STRATEGIES:
        raise MergeFailed(f"unknown merge strategy '{strategy}': use merge, squash, rebase, or one a plugin provides.")
    old = target_tip(project, target)
    with _scratch_worktree(project, old if strategy != "rebase" else f"refs/heads/{branch}") as scratch:
        env = git.identity_env(project.root)
        if strategy == "merge":
            _step(scratch, ["merge", "--no-ff", "--no-edit", "-m", message, f"refs/heads/{branch}"], env, "merging")
        elif strategy == "squash":
            _step(scratch, ["merge", "--squash", f"refs/heads/{branch}"], env, "squashing")
            if git.run(["diff", "--cached", "--quiet"], scratch, check=False).returncode == 0:
                raise MergeFailed(f"{branch} changes nothing that {target} does not already have.")
            _step(scratch, ["commit", "--quiet", "--no-verify", "-m", message], env, "committing the squash")
        else:
            _step(scratch, ["rebase", old], env, "rebasing")
        if check:
            _run_check(scratch, check)
        new = git.run(["rev-parse", "HEAD"], scratch).stdout.strip()
    _fast_forward(project, target, old, new)
    return new


def target_tip(project: Project, branch: str) -> str:
    found = git.run(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"], project.root, check=False)
    if found.returncode != 0:
        if git.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], project.root, check=False).returncode != 0:
            raise MergeFailed(f"the repository {project.root} has no commits yet, so there is nothing to merge into.")
        raise MergeFailed(f"the merge target branch '{branch}' does not exist: set [merge] target in orchestra.toml.")
    return found.stdout.strip()


@contextlib.contextmanager
def _scratch_worktree(project: Project, start: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="merge-", dir=project.state_dir))
    path = folder / "work"
    add_detached_worktree(project, path, start)
    try:
        yield path
    finally:
        discard_worktree(project, path)
        shutil.rmtree(folder, ignore_errors=True)


def _step(scratch: Path, args: list[str], env: dict[str, str], doing: str) -> None:
    result = git.run(args, scratch, check=False, env=env)
    if result.returncode == 0:
        return
    conflicts = git.run(["diff", "--name-only", "--diff-filter=U"], scratch, check=False).stdout.split()
    for abort in (["merge", "--abort"], ["rebase", "--abort"]):
        git.run(abort, scratch, check=False)
    if conflicts:
        shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        raise MergeFailed(f"{doing} conflicts in {shown}; resolve it in the agent's worktree (or ask the agent to).")
    detail = (result.stderr or result.stdout).strip().splitlines()
    raise MergeFailed(f"{doing} failed: {detail[-1] if detail else 'git exited ' + str(result.returncode)}")


def _run_check(scratch: Path, check: str) -> None:
    # The check is the user's own shell command from orchestra.toml or --check, meant for a shell.
    result = subprocess.run(
        ["/bin/sh", "-c", check],
        cwd=scratch,
        capture_output=True,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-CHECK_OUTPUT_LINES:]
        tail = (": " + " | ".join(line.strip() for line in output if line.strip())[:600]) if output else ""
        raise MergeFailed(f"the check `{check}` failed on the merged result (exit code {result.returncode}){tail}")


def _fast_forward(project: Project, target: str, old: str, new: str) -> None:
    """Move `target` from `old` to `new`, taking along the files of a worktree that has it checked out."""
    holder = next((path for path, branch in registered_worktrees(project).items() if branch == target), None)
    if holder is not None:
        if git.run(["rev-parse", "HEAD"], holder).stdout.strip() != old:
            raise MergeFailed(f"{target} moved while the merge was prepared; run the merge again.")
        result = git.run(["merge", "--ff-only", "--quiet", new], holder, check=False)
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().splitlines()
            raise MergeFailed(
                f"{target} is checked out in {holder} with local changes the merge would overwrite "
                f"({reason[0] if reason else 'git refused'}); commit or stash them, then merge again."
            )
        return
    result = git.run(["update-ref", f"refs/heads/{target}", new, old], project.root, check=False)
    if result.returncode != 0:
        raise MergeFailed(f"{target} moved while the merge was prepared; run the merge again.")
