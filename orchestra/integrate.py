"""git for integrating an agent's branch: merge, squash or rebase, checked, then the target moves.

All the work happens in a temporary worktree detached at the target's tip, never in the main
checkout: a conflict or a failing check leaves the target branch, the main checkout and every
other worktree exactly as they were. Only a result that passed the check moves the target, by a
fast-forward to exactly the commit that was checked: in the worktree that has the target checked
out (so its files follow), or with `update-ref` guarded by the old value when none has. One merge
runs at a time in a repository (`merge_lock`); the scratch worktrees of a merge that was killed
are removed by the next one (`remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from orchestra import files, git
from orchestra.errors import MergeConflict, MergeFailed
from orchestra.worktrees import Project, add_detached_worktree, discard_worktree, registered_worktrees

STRATEGIES = ("merge", "squash", "rebase")
CHECK_OUTPUT_LINES = 15  # lines of a failing check's output quoted in the reason


def commit_all(worktree: Path, message: str, leave_out: Iterable[str] = ()) -> str | None:
    """Commit every uncommitted change in an agent's worktree (untracked files too), except the
    paths in `leave_out` (see `placed_files`), which stay in the worktree uncommitted, even when
    staged. The new commit's id, or None when there was nothing to commit."""
    left = list(leave_out)
    if left:  # unstaged, in case the agent staged one; HEAD lacks them, so this only unstages
        git.run(["reset", "--quiet", "--", *(f":(literal){p}" for p in left)], worktree)
    if not uncommitted(worktree, left):
        return None
    env = git.identity_env(worktree)
    git.run(["add", "--all", *_pathspec(left)], worktree, env=env)
    if git.succeeds(["diff", "--cached", "--quiet"], worktree):
        return None
    git.run(["commit", "--quiet", "--no-verify", "-m", message], worktree, env=env)
    return git.run(["rev-parse", "HEAD"], worktree).stdout.strip()


def uncommitted(worktree: Path, leave_out: Iterable[str] = ()) -> list[str]:
    """The changed and untracked files `commit_all` would commit (`git status --porcelain` lines)."""
    if not worktree.is_dir():
        return []
    return git.run(["status", "--porcelain", *_pathspec(leave_out)], worktree).stdout.splitlines()


def _pathspec(leave_out: Iterable[str]) -> list[str]:
    return ["--", ".", *(f":(exclude,literal){p}" for p in leave_out)]


def placed_files(worktree: Path, entries: Iterable[str]) -> list[str]:
    """The `[worktree] copy` and `symlink` entries that are orchestra's, not the agent's, in
    `worktree`: every one its HEAD does not track (one it tracks was checked out, not copied).

    These are never committed by orchestra: an `.env` copied from the main checkout holds keys.
    """
    paths = []
    for entry in entries:
        path = os.path.normpath(entry)  # "./.env", "config/" -> ".env", "config"
        if path != "." and not path.startswith("..") and not os.path.isabs(path):
            paths.append(path)
    if not paths:
        return []
    listed = git.run(["ls-tree", "-z", "--name-only", "HEAD", "--", *paths], worktree, check=False)
    tracked = set(listed.stdout.split("\0")) if listed.returncode == 0 else set()
    return [p for p in dict.fromkeys(paths) if p not in tracked]


def commits_ahead(project: Project, branch: str, target: str) -> int:
    out = git.run(["rev-list", "--count", f"refs/heads/{target}..refs/heads/{branch}"], project.root, check=False)
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


def head_elsewhere(worktree: Path, branch: str, target: str) -> tuple[str, int, str] | None:
    """Where a worktree's HEAD is when it is not on `branch`: how to say it ("branch 'NAME'", "a
    detached HEAD at ID"), how many commits it has that neither `branch` nor `target` has, and a
    ref for it (NAME or ID); None when it is on `branch`."""
    on = git.run(["symbolic-ref", "--quiet", "--short", "HEAD"], worktree, check=False).stdout.strip()
    if on == branch:
        return None
    head = git.run(["rev-parse", "--verify", "--quiet", "--short", "HEAD^{commit}"], worktree, check=False)
    if head.returncode != 0:
        return (f"branch '{on}'", 0, on) if on else None
    ref = on or head.stdout.strip()
    where = f"branch '{on}'" if on else f"a detached HEAD at {ref}"
    others = [f"refs/heads/{b}" for b in (branch, target)]
    count = git.run(["rev-list", "--count", "HEAD", "--not", *others], worktree, check=False)
    return where, int(count.stdout.strip() or 0) if count.returncode == 0 else 0, ref


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
        new = git.run(["rev-parse", "HEAD"], scratch).stdout.strip()
        if check:
            _run_check(scratch, check)
            _check_left_alone(scratch, check, new)
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
def merge_lock(project: Project, busy: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the repository's merge lock: one merge at a time, across processes.

    When another merge holds it, `busy` is called first: it may say so and return, to wait, or
    raise, to give up (see `files.locked`).
    """
    project.state_dir.mkdir(parents=True, exist_ok=True)
    with files.locked(project.state_dir / "merge.lock", busy):
        yield


SCRATCH_PREFIX = "merge-"  # <state dir>/merge-XXXX/work: a merge's scratch worktree


def leftovers(project: Project) -> list[Path]:
    """Scratch folders of merges that are not running: call it holding `merge_lock`, under which
    no merge runs, so every scratch folder there is one a killed merge left."""
    state_dir = project.state_dir.resolve()  # as git names worktrees: no symlinks
    registered = [
        p.parent for p in registered_worktrees(project) if p.name == "work" and _is_scratch(state_dir, p.parent)
    ]
    folders = [p for p in state_dir.glob(SCRATCH_PREFIX + "*") if p.is_dir()]
    return sorted(set(registered) | set(folders))


def remove_leftovers(project: Project) -> list[Path]:
    """Remove what killed merges left (holding `merge_lock`): their scratch worktrees, git's
    records of them, their folders. Nothing in them is work: the agent's branch is untouched."""
    found = leftovers(project)
    for folder in found:
        discard_worktree(project, folder / "work")
        shutil.rmtree(folder, ignore_errors=True)
    return found


def _is_scratch(state_dir: Path, folder: Path) -> bool:
    return folder.name.startswith(SCRATCH_PREFIX) and folder.parent == state_dir


@contextlib.contextmanager
def _scratch_worktree(project: Project, start: str) -> Iterator[Path]:
    project.state_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=project.state_dir))
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
        raise MergeConflict(
            f"{doing} conflicts in {shown}; resolve it in the agent's worktree (or ask the agent to).", conflicts
        )
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


def _check_left_alone(scratch: Path, check: str, checked: str) -> None:
    """The target moves only to the commit that was checked: a check that committed, moved HEAD or
    changed what git tracks (a hostile `conftest.py` in the agent's branch can) fails the merge.
    Files it made that git does not track (build output, caches) are not part of any commit."""
    head = git.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], scratch, check=False).stdout.strip()
    if head != checked:
        raise MergeFailed(
            f"the check `{check}` committed or moved HEAD in the merge's scratch worktree "
            f"({checked[:10]} became {head[:10] or 'unreadable'}); a check must only test, so the target was not moved."
        )
    status = git.run(["status", "--porcelain", "--untracked-files=no"], scratch, check=False)
    changed = [line[3:] for line in status.stdout.splitlines() if line] if status.returncode == 0 else ["?"]
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise MergeFailed(
            f"the check `{check}` changed files git tracks ({shown}) in the merge's scratch worktree; "
            "a check must only test, so the target was not moved."
        )


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
