"""What an agent's worktree holds that removing it would lose, and keeping that on a trash ref.

Work is anything no other ref keeps: commits on the agent's branch or on the worktree's own HEAD
(detached, or on a branch deleted since) that the target lacks; staged and unstaged changes;
untracked files; and git-ignored files that are not disposable (`[worktree] disposable`). A git
repository of its own inside the worktree is reported apart: its commits cannot go on a ref here.

A worktree may also be half-made or half-removed: `broken` (the folder without its `.git`, a
`git worktree remove` that stopped part-way) or `unpopulated` (no index yet while HEAD has files,
a spawn that stopped between `worktree add --no-checkout` and the checkout). Both are read
against a commit's tree, so files that were never checked out or already removed are not
mistaken for deletions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from orchestra import git
from orchestra.worktrees import BROKEN, TRASH_PREFIX, Project, branch_exists, scratch_index

# Ignored files bigger than this are not put in a trash commit (they are named instead).
IGNORED_SIZE_LIMIT = 10 * 1024 * 1024


def is_broken(worktree: Path) -> bool:
    """A worktree folder without its `.git`: git cannot run in it (an interrupted removal)."""
    return worktree.is_dir() and not (worktree / ".git").exists()


def is_unpopulated(worktree: Path) -> bool:
    """A worktree whose checkout never ran: no index while its HEAD has files."""
    index = git.index_file(worktree)
    if index is None or index.exists() or not worktree.is_dir():
        return False
    return bool(git.run(["ls-tree", "--name-only", "HEAD"], worktree, check=False).stdout.strip())


def half_made(worktree: Path, name: str) -> str | None:
    """Why git cannot work in the agent's worktree as it stands (None when it can): half-removed,
    or never checked out (where git takes every file for deleted, and committing "everything"
    would delete them all)."""
    if is_broken(worktree):
        return BROKEN.format(worktree=worktree, name=name)
    if is_unpopulated(worktree):
        return (
            f"the worktree {worktree} was never checked out (a spawn stopped part-way), so git takes every "
            f"file there for deleted: `orchestra doctor --fix` checks it out, or `orchestra kill {name}` "
            "removes the agent."
        )
    return None


def head_commit(worktree: Path) -> str | None:
    """The commit the worktree is on; for a HEAD whose branch was deleted, the last one its reflog names."""
    if not worktree.is_dir() or is_broken(worktree):
        return None
    found = git.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], worktree, check=False)
    if found.returncode == 0:
        return found.stdout.strip()
    log = worktree / git.output(["rev-parse", "--git-path", "logs/HEAD"], worktree)
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        fields = line.split(" ", 2)
        if len(fields) > 1 and git.succeeds(["cat-file", "-e", f"{fields[1]}^{{commit}}"], worktree):
            return fields[1]
    return None


def uncommitted_changes(worktree: Path, project: Project | None = None, start: str | None = None) -> list[str]:
    """Changed and untracked files in a worktree, as `git status --porcelain` paths. A broken or
    unpopulated worktree is compared with `start` (its HEAD when unpopulated): only files that are
    there and differ count."""
    if not worktree.is_dir():
        return []
    if is_broken(worktree) or is_unpopulated(worktree):
        if project is None or (start := start or head_commit(worktree)) is None:
            return []
        with _salvaged(project, worktree, start) as (env, cwd):
            return _paths(git.run(["diff", "--cached", "--name-only", "-z", start, "--"], cwd, env=env).stdout)
    # -z: paths as they are (without it, git quotes a name with a space or an accent, and such a
    # path names no file: a repository of its own called "my lib" would not be found).
    fields = git.run(["status", "--porcelain", "-z", "--untracked-files=all"], worktree).stdout.split("\0")
    paths, rest = [], iter(fields)
    for entry in rest:
        if entry:
            paths.append(entry[3:])
            if entry[0] in "RC":  # a rename or copy: its source path follows
                next(rest, None)
    return paths


def ignored_files(worktree: Path, disposable: list[str]) -> list[str]:
    """Git-ignored files in the worktree that no `disposable` pattern (gitignore syntax) matches.

    Untracked files outside the disposable patterns, minus those the standard ignore rules leave
    visible; git does not descend into excluded folders, so `node_modules/` costs nothing.
    """
    if not worktree.is_dir() or is_broken(worktree):
        return []
    import tempfile  # here: its import (random, hashlib) is on spawn's path otherwise

    with tempfile.TemporaryDirectory() as tmp:
        patterns = Path(tmp, "disposable")
        patterns.write_text("".join(f"{p}\n" for p in disposable), encoding="utf-8")
        kept = _paths(git.run(["ls-files", "-z", "--others", f"--exclude-from={patterns}"], worktree).stdout)
    visible = _paths(git.run(["ls-files", "-z", "--others", "--exclude-standard"], worktree).stdout)
    return sorted(set(kept) - set(visible))


def nested_repositories(worktree: Path, paths: list[str], base: str | None = None) -> list[str]:
    """Those of `paths` (changed, untracked or ignored entries) that are git repositories of their own:
    an untracked one is listed as `path/`, one the agent staged (a gitlink) as `path`. With `base`,
    also every gitlink of the worktree's index (committed or staged) whose folder is a repository
    of its own and whose commit `base` does not record there: its commits exist only in that folder.
    A submodule checked out at the commit `base` pins is no one's work."""
    found = [p for p in paths if p.strip("/") and (worktree / p.strip("/") / ".git").exists()]
    if base is None or not worktree.is_dir() or is_broken(worktree):
        return found
    entries = git.run(["ls-files", "-z", "--stage"], worktree).stdout.split("\0")
    links = {e.split("\t", 1)[1]: e.split()[1] for e in entries if e.startswith("160000 ")}
    links = {p: c for p, c in links.items() if p not in found and (worktree / p / ".git").exists()}
    if not links:
        return found
    listed = git.run(["ls-tree", "-z", base, "--", *(f":(literal){p}" for p in links)], worktree, check=False)
    pinned = {e.split("\t", 1)[1]: e.split()[2] for e in listed.stdout.split("\0") if e.startswith("160000 ")}
    return found + [p for p, commit in links.items() if pinned.get(p) != commit]


def left_behind(project: Project, worktree: Path) -> list[str]:
    """Commits made in the worktree on no branch (a detached HEAD) that its HEAD has since left
    and no ref reaches: its own HEAD reflog is the only thing that names them, and it goes with
    the worktree. Made on a branch (an amended-away commit), a commit is in that branch's reflog."""
    if not worktree.is_dir() or is_broken(worktree):
        return []
    made = _reflog(worktree / git.output(["rev-parse", "--git-path", "logs/HEAD"], worktree), commits_only=True)
    if not made:
        return []
    on_branches: set[str] = set()
    for log in (project.common_dir / "logs" / "refs" / "heads").rglob("*"):
        on_branches.update(_reflog(log) if log.is_file() else [])
    candidates = [c for c in dict.fromkeys(made) if c not in on_branches]
    if not candidates:
        return []
    out = git.run(["rev-list", *candidates, "--not", "--all"], project.root, check=False)
    unreached = set(out.stdout.split()) if out.returncode == 0 else set()
    return [c for c in candidates if c in unreached]


def _reflog(log: Path, commits_only: bool = False) -> list[str]:
    """The commits a reflog file names as new values (with `commits_only`, those `git commit` made)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields, _, message = line.partition("\t")
        parts = fields.split(" ", 2)
        if len(parts) > 1 and (not commits_only or message.startswith("commit")):
            found.append(parts[1])
    return found


def unmerged_commits(project: Project, branch: str, target: str, worktree: Path | None = None) -> list[str]:
    """Commits on `branch`, on the worktree's HEAD or left behind by it (`left_behind`) that
    `target` does not have, `<short id> <subject>` each."""
    tips = [f"refs/heads/{branch}"] if branch_exists(project, branch) else []
    head = head_commit(worktree) if worktree is not None else None
    tips += [head] if head else []
    tips += left_behind(project, worktree) if worktree is not None else []
    if not tips:
        return []
    out = git.run(["log", "--format=%h %s", *tips, "--not", target, "--"], project.root).stdout
    return out.splitlines()


def save_to_trash(
    project: Project,
    name: str,
    branch: str,
    worktree: Path,
    ignored: Sequence[str] = (),
    base: str | None = None,
    leave_out: Sequence[str] = (),
) -> str | None:
    """Keep whatever the agent's worktree and branch hold on a ref under `refs/orchestra/trash/`.

    On top of the worktree's HEAD (else the branch tip, else `base`): a commit of the index when it
    differs from both HEAD and the files, then a commit of the files, untracked ones and `ignored`
    included, `leave_out` not (what orchestra placed there: an `.env` copied in holds keys, and
    orchestra never commits it). Both are made through temporary indexes, so the worktree is left
    as it was. A branch tip that HEAD does not contain becomes a second parent. Returns the ref,
    or None if there was nothing to keep.
    """
    tip = git.output(["rev-parse", f"refs/heads/{branch}"], project.root) if branch_exists(project, branch) else None
    head = head_commit(worktree)
    start = head or tip or base
    if start is None:
        return None
    commit = start
    if worktree.is_dir() and (is_broken(worktree) or is_unpopulated(worktree)):
        with _salvaged(project, worktree, start, ignored, leave_out) as (env, cwd):
            files = git.output(["write-tree"], cwd, env=env)
    elif worktree.is_dir():
        with scratch_index(worktree) as env:
            _unstage(worktree, env, leave_out)  # even staged by the agent
            staged = git.output(["write-tree"], worktree, env=env)
            git.run(["add", "--all", *_excluding(leave_out)], worktree, env=env)
            _add_ignored(worktree, env, ignored)
            files = git.output(["write-tree"], worktree, env=env)
        if staged not in (files, _tree(project, start)):
            commit = _commit(project, staged, [commit], f"orchestra: staged changes of agent {name}")
    else:
        files = _tree(project, start)
    left = left_behind(project, worktree)
    others = [t for t in dict.fromkeys([tip, *left]) if t and t != start and not _contains(project, start, t)]
    if files != _tree(project, commit) or others:
        commit = _commit(project, files, [commit, *others], f"orchestra: uncommitted work of agent {name}")
    ref = _free_ref(project, TRASH_PREFIX + name)
    git.run(["update-ref", ref, commit], project.root)
    return ref


def too_big(worktree: Path, paths: list[str]) -> list[str]:
    """Those of `paths` larger than IGNORED_SIZE_LIMIT (symbolic links are never too big)."""
    return [p for p in paths if (worktree / p).is_file() and os.lstat(worktree / p).st_size > IGNORED_SIZE_LIMIT]


def _paths(out: str) -> list[str]:
    return [p for p in out.split("\0") if p]


def _add_ignored(cwd: Path, env: dict[str, str], ignored: Sequence[str]) -> None:
    if ignored:
        paths = "\0".join(ignored) + "\0"
        git.run(["add", "--force", "--pathspec-from-file=-", "--pathspec-file-nul"], cwd, env=env, input=paths)


def _excluding(paths: Sequence[str]) -> list[str]:
    return ["--", ".", *(f":(exclude,literal){p}" for p in paths)] if paths else []


def _unstage(cwd: Path, env: dict[str, str], paths: Sequence[str]) -> None:
    if paths:
        literal = [f":(literal){p}" for p in paths]
        git.run(["rm", "--cached", "--quiet", "--ignore-unmatch", "-r", "--", *literal], cwd, env=env)


@contextmanager
def _salvaged(
    project: Project, worktree: Path, start: str, ignored: Sequence[str] = (), leave_out: Sequence[str] = ()
) -> Iterator[tuple[dict[str, str], Path]]:
    """An index holding `start`'s tree with the files the folder holds laid over it: what is missing
    stays as `start` has it. Works without the folder's `.git`, through the project's git folder."""
    import tempfile  # here: its import (random, hashlib) is on spawn's path otherwise

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "GIT_DIR": str(project.common_dir),
            "GIT_WORK_TREE": str(worktree),
            "GIT_INDEX_FILE": os.path.join(tmp, "index"),
        }
        git.run(["read-tree", start], worktree, env=env)
        git.run(["add", "--ignore-removal", *(_excluding(leave_out) or ["."])], worktree, env=env)
        _add_ignored(worktree, env, ignored)
        yield env, worktree


def _tree(project: Project, commit: str) -> str:
    return git.output(["rev-parse", f"{commit}^{{tree}}"], project.root)


def _contains(project: Project, commit: str, other: str) -> bool:
    return git.succeeds(["merge-base", "--is-ancestor", other, commit], project.root)


def _commit(project: Project, tree: str, parents: list[str], message: str) -> str:
    args = ["commit-tree", tree, *[arg for p in parents for arg in ("-p", p)], "-m", message]
    return git.output(args, project.root, git.identity_env(project.root))


def _free_ref(project: Project, ref: str) -> str:
    candidate, n = ref, 2
    while git.succeeds(["rev-parse", "--verify", "--quiet", candidate], project.root):
        candidate, n = f"{ref}-{n}", n + 1
    return candidate


def finish_checkout(worktree: Path) -> None:
    """Check out an unpopulated worktree's HEAD; files already there (copied in) are left as they are."""
    git.run(["read-tree", "HEAD"], worktree)
    git.run(["checkout-index", "--all", "--quiet", "-u"], worktree, check=False)  # exits 1 when one file existed
