"""The project, branches, worktrees, and saving work before anything is removed.

Every git command goes through `orchestra.git.run` (errors keep the command, exit code and stderr).
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestra import files, git
from orchestra.errors import GitError, NotARepository, OrchestraError

TRASH_PREFIX = "refs/orchestra/trash/"
BROKEN = (
    "the worktree {worktree} has lost its .git (a removal that stopped part-way), so git cannot read it: "
    "`orchestra kill {name} --force` or `orchestra doctor --fix` finishes removing the agent, keeping what it holds."
)


@dataclass(frozen=True)
class Project:
    """One git repository: its main checkout and the folder git keeps its data in."""

    root: Path  # the main checkout
    common_dir: Path  # `git rev-parse --git-common-dir`, shared by every worktree
    cwd: Path  # where the command was run; config lookup starts here

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def state_dir(self) -> Path:
        return self.common_dir / "orchestra"


# -- the project ------------------------------------------------------------------------


def discover(cwd: Path | str | None = None) -> Project:
    """The project that contains `cwd`, from any of its worktrees."""
    if cwd is None:
        try:
            cwd = os.getcwd()
        except FileNotFoundError:  # a shell left in a folder since removed, such as a killed agent's worktree
            raise NotARepository(
                "the folder you are in is gone (deleted while you were in it, perhaps with an agent's worktree): "
                "cd to your project's checkout and try again."
            ) from None
    cwd = Path(cwd).resolve()
    result = git.run(["rev-parse", "--git-common-dir", "--is-bare-repository"], cwd, check=False)
    if result.returncode != 0:
        raise NotARepository(
            f"{cwd} is not inside a git repository: run orchestra in your project's checkout (or `git init` one)."
        )
    common_dir, bare = result.stdout.split("\n")[:2]
    if bare.strip() == "true":
        raise NotARepository(
            f"{cwd} is a bare repository, which has no checkout for agents to branch from: "
            "run orchestra in a clone with a working tree."
        )
    common = (cwd / common_dir.strip()).resolve()  # relative when run from the main checkout
    if common.name == ".git":
        root = common.parent
    else:  # a repository whose git dir lives elsewhere (`git init --separate-git-dir`)
        root = Path(git.run(["rev-parse", "--show-toplevel"], cwd).stdout.strip())
    return Project(root=root, common_dir=common, cwd=cwd)


def resolve_commit(project: Project, ref: str) -> str:
    """The commit id `ref` names, or a clear error (including for a repository with no commits)."""
    if ref.startswith("-") or "\0" in ref:  # an option to git, or no argument a program can be given
        raise OrchestraError(f"'{ref}' is not a git revision: give a branch, tag or commit as the base.")
    result = git.run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], project.root, check=False)
    if result.returncode == 0:
        return result.stdout.strip()
    if git.run(["rev-parse", "--verify", "--quiet", "HEAD"], project.root, check=False).returncode != 0:
        raise OrchestraError(
            f"the repository {project.root} has no commits yet: make a first commit, since agents branch from it."
        )
    raise OrchestraError(f"the base '{ref}' is not a branch, tag or commit in {project.root}: check `git branch -a`.")


def current_branch(project: Project) -> str | None:
    result = git.run(["symbolic-ref", "--quiet", "--short", "HEAD"], project.root, check=False)
    return result.stdout.strip() or None


def branch_exists(project: Project, branch: str) -> bool:
    return (
        git.run(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], project.root, check=False).returncode == 0
    )


def is_valid_branch(project: Project, branch: str) -> bool:
    return git.run(["check-ref-format", "--branch", branch], project.root, check=False).returncode == 0


def branches(project: Project) -> set[str]:
    """Every local branch, in one git call (a spawn's name checks, instead of one call per name)."""
    out = git.output(["for-each-ref", "--format=%(refname)", "refs/heads/"], project.root)
    return {line.removeprefix("refs/heads/") for line in out.splitlines() if line}


def branch_namer(project: Project, prefix: str) -> Callable[[str], bool]:
    """Whether `prefix + name` is a valid branch, asking git once for every name `check_name`
    allows: about the prefix, followed by a name that cannot add a problem of its own.

    Such a name (a letter or digit first; no '/', '..', '@{', nothing else git refuses; not
    ending in '.' or '.lock') spoils the branch only where it meets the prefix in a way that
    one check cannot see: the branch `HEAD`, or one ending in `.lock` (`x.` and `lock`). Any
    other name is asked about on its own."""
    prefix_ok = is_valid_branch(project, f"{prefix}x")

    def valid(name: str) -> bool:
        branch = f"{prefix}{name}"
        if not plain_name(name):
            return is_valid_branch(project, branch)
        return prefix_ok and branch != "HEAD" and not branch.endswith(".lock")

    return valid


# -- names ------------------------------------------------------------------------------

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def slugify(text: str, max_length: int = 32) -> str:
    """A short branch-safe name from a task: 'Build the auth API!' -> 'build-the-auth-api'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    if not slug and words:
        slug = words[0][:max_length]
    return slug or "agent"


def plain_name(name: str) -> bool:
    """Whether `name` can be a branch component, a folder and a tmux window name."""
    return bool(NAME_PATTERN.match(name)) and ".." not in name and not name.endswith((".", ".lock"))


def check_name(name: str) -> None:
    """Refuse a `--name` that cannot be a branch component, a folder and a tmux window name."""
    if not plain_name(name):
        raise OrchestraError(
            f"'{name}' is not a valid agent name: use letters, digits, '-', '_' and '.', at most 63 characters, "
            "starting with a letter or digit, not ending in '.' or '.lock', without '..' "
            "(it becomes part of a branch name)."
        )


def check_task(task: str) -> None:
    """Refuse a task no agent can be given: empty, or holding a NUL byte, which cannot be part
    of a program's argument or environment (the agent would die before it starts)."""
    if not task.strip():
        raise OrchestraError("a task is empty: say what the agent should do.")
    if "\0" in task:
        raise OrchestraError("a task holds a NUL byte (\\0), which no program can be given: remove it from the task.")


# -- worktrees --------------------------------------------------------------------------


def worktree_root(project: Project, template: str) -> Path:
    """`[orchestra] worktree_root` as a folder, refused where worktrees cannot live: the root
    folder, git's own folder, or the main checkout (where git would list them as untracked
    files of the project) unless the folder is one git ignores there."""
    root = (project.root / template.format(repo=project.name)).resolve()
    problem = ""
    if root == Path(root.anchor):
        problem = "is the root folder"
    elif _inside(root, project.common_dir) or _inside(root, project.root / ".git"):
        problem = f"is inside git's own folder {project.common_dir}"
    elif root == project.root.resolve():
        problem = "is the main checkout itself"
    elif _inside(root, project.root) and not _ignored(project, root):
        problem = (
            "is inside the main checkout, where the worktrees would show as untracked files (unless git ignores it)"
        )
    if problem:
        raise OrchestraError(
            f"`worktree_root` {root} {problem}: set [orchestra] worktree_root in orchestra.toml to a folder "
            'outside the checkout, such as the default "../{repo}.worktrees".'
        )
    return root


def _ignored(project: Project, path: Path) -> bool:
    relative = path.relative_to(project.root.resolve()).as_posix() + "/"
    return git.run(["check-ignore", "--quiet", "--no-index", relative], project.root, check=False).returncode == 0


def registered_worktrees(project: Project) -> dict[Path, str | None]:
    """Every worktree git knows of, with its branch (None when detached)."""
    out = git.run(["worktree", "list", "--porcelain"], project.root).stdout
    found: dict[Path, str | None] = {}
    path: Path | None = None
    for line in out.splitlines():
        if line.startswith("worktree "):
            path = Path(line[len("worktree ") :])
            found[path] = None
        elif line.startswith("branch ") and path is not None:
            found[path] = line[len("branch ") :].removeprefix("refs/heads/")
    return found


@contextlib.contextmanager
def _metadata_lock(project: Project) -> Iterator[None]:
    """Serialize changes to git's worktree records.

    Concurrent `git worktree add` calls race on `.git/worktrees/` ("failed to read
    .git/worktrees/<name>/commondir"), so records are made one at a time, across processes.
    """
    project.state_dir.mkdir(parents=True, exist_ok=True)
    with files.locked(project.state_dir / "worktrees.lock"):
        yield


def make_branches(project: Project, branches: dict[str, str]) -> None:
    """Create each branch (name -> commit) in one transaction: all of them, or none when any
    already exists. One git process for a spawn's agents, where `worktree add -b` runs `git
    branch` for each of them, one after the other, under the worktree lock."""
    if branches:
        lines = "".join(f"create refs/heads/{branch} {commit}\n" for branch, commit in branches.items())
        git.run(["update-ref", "-m", "branch: Created by orchestra", "--stdin"], project.root, input=lines)


def add_worktree(project: Project, path: Path, branch: str, base: str, new_branch: bool = True) -> None:
    """Check `branch` out at `path`: created at `base` (`new_branch`), or made already at `base`
    (`make_branches`).

    The record is made under a lock with `--no-checkout`, which is quick; the checkout itself,
    the slow part in a large repository, runs unlocked, so several worktrees fill in parallel.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OrchestraError(
            f"cannot create the worktree folder {path.parent} ({error.strerror}): "
            "set [orchestra] worktree_root in orchestra.toml to a folder you can write to."
        ) from None
    with _metadata_lock(project):
        where = ["-b", branch, str(path), base] if new_branch else [str(path), branch]
        git.run(["worktree", "add", "--quiet", "--no-checkout", *where], project.root)
    git.run(["reset", "--quiet", "--hard", base], path)


INCLUDE_FILE = ".worktreeinclude"  # Claude Code's own list of ignored files a new worktree gets


def populate(project: Project, worktree: Path, copy: list[str], symlink: list[str]) -> None:
    """Apply `[worktree] copy` and `symlink`, and the main checkout's `.worktreeinclude`: files
    from the main checkout, when present there and not already checked out.

    An entry is a path inside the repository; the file there may itself be a symlink to a file
    anywhere (secrets kept out of the checkout): a copy gets its content, a link points at it.
    """
    import shutil  # here: its import costs every command that reads a worktree milliseconds

    entries = [(c, False) for c in [*copy, *included_files(project)]] + [(s, True) for s in symlink]
    for entry, link in entries:
        source = project.root / entry
        if not _inside(Path(os.path.normpath(source)), project.root):
            raise OrchestraError(
                f"[worktree] entry '{entry}' is outside the repository: give a path relative to the main "
                f"checkout {project.root}, inside it (the file there may be a symlink to anywhere)."
            )
        if not source.exists():
            continue  # absent, or a symlink to nothing
        target = worktree / entry
        if target.exists() or target.is_symlink():
            continue  # tracked in git, so already checked out
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if link:
                target.symlink_to(source)
            elif source.is_dir():
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target)
        except OSError as error:
            raise OrchestraError(
                f"could not {'link' if link else 'copy'} '{entry}' from the main checkout into the new worktree: "
                f"{error.strerror or error}{f' ({error.filename})' if error.filename else ''}."
            ) from None


def included_files(project: Project) -> list[str]:
    """The files `.worktreeinclude` in the main checkout names (gitignore syntax) that git ignores
    there, as Claude Code reads it: a tracked or merely untracked file is never copied."""
    if not (project.root / INCLUDE_FILE).is_file():
        return []
    matched = git.run(
        ["ls-files", "-z", "--others", "--ignored", f"--exclude-from={INCLUDE_FILE}"], project.root
    ).stdout.split("\0")
    matched = [path for path in matched if path]
    if not matched:
        return []
    ignored = git.run(["check-ignore", "-z", "--stdin"], project.root, check=False, input="\0".join(matched))
    return [path for path in ignored.stdout.split("\0") if path]


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root.resolve())
        return True
    except ValueError:
        return False


def remove_worktree(project: Project, path: Path, root: Path | None = None) -> None:
    """Remove a worktree folder and git's record of it (the caller has saved any work).

    A folder that lost its `.git` (a removal that stopped part-way) is deleted here, since git no
    longer can, when git still records it or it sits directly in `root` (`worktree_root`, where a
    pruned record leaves it); any other folder without one is left alone, with a sentence.
    """
    with _metadata_lock(project):
        if path.exists() and not (path / ".git").exists():
            where = path.resolve()
            known = {p.resolve() for p in registered_worktrees(project)}
            ours = where in known or (root is not None and where.parent == root.resolve())
            if where == project.root.resolve() or not ours:
                raise OrchestraError(
                    f"{path} is not a git worktree of {project.root}, so orchestra does not delete it: "
                    "remove it yourself once nothing in it is needed."
                )
            import shutil

            shutil.rmtree(path)
        elif path.exists():
            git.run(["worktree", "remove", "--force", "--force", str(path)], project.root)
        git.run(["worktree", "prune"], project.root, check=False)


def add_detached_worktree(project: Project, path: Path, start: str) -> None:
    """Check out `start` at `path` on no branch (a scratch worktree, such as a merge's)."""
    with _metadata_lock(project):
        git.run(["worktree", "add", "--quiet", "--detach", str(path), start], project.root)


def add_unchecked_worktree(project: Project, path: Path, start: str) -> None:
    """A worktree at `path` on no branch at `start`, its record made under the lock and its
    checkout unlocked (a pool member, made off the clock: spawns must not wait for its checkout)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _metadata_lock(project):
        git.run(["worktree", "add", "--quiet", "--detach", "--no-checkout", str(path), start], project.root)
    git.run(["reset", "--quiet", "--hard", start], path)


def move_worktree(project: Project, source: Path, target: Path) -> None:
    """Move a worktree and git's record of it: a rename, no checkout (a pool member claimed)."""
    with _metadata_lock(project):
        git.run(["worktree", "move", str(source), str(target)], project.root)


def remove_clean_worktree(project: Project, path: Path) -> None:
    """`git worktree remove` without --force: git itself refuses one with changed or untracked files."""
    with _metadata_lock(project):
        git.run(["worktree", "remove", str(path)], project.root)


def discard_worktree(project: Project, path: Path) -> None:
    """Remove a scratch worktree and git's record of it, as far as possible: called on the way
    out of a failed merge, where an error of its own would hide the merge's."""
    with _metadata_lock(project):
        git.run(["worktree", "remove", "--force", "--force", str(path)], project.root, check=False)
        git.run(["worktree", "prune"], project.root, check=False)


def delete_branch(project: Project, branch: str) -> None:
    if branch_exists(project, branch):
        git.run(["branch", "-D", branch], project.root)


def prune_worktrees(project: Project) -> str:
    with _metadata_lock(project):
        return git.run(["worktree", "prune", "--verbose"], project.root).stderr.strip()


# -- reading a worktree without touching it ---------------------------------------------


@contextlib.contextmanager
def scratch_index(worktree: Path) -> Iterator[dict[str, str]]:
    """An environment whose GIT_INDEX_FILE is a copy of the worktree's index.

    Lets orchestra stage untracked files to read or save them without touching the index the
    agent (or the person) is using.
    """
    index = (worktree / git.run(["rev-parse", "--git-path", "index"], worktree).stdout.strip()).resolve()
    import shutil
    import tempfile  # here: its import (random, hashlib, shutil) is on spawn's path otherwise

    with tempfile.TemporaryDirectory() as tmp:
        scratch = os.path.join(tmp, "index")
        if index.exists():
            shutil.copy2(index, scratch)
        yield {**os.environ, "GIT_INDEX_FILE": scratch}


# -- what an agent changed --------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    files: int = 0
    added: int = 0
    removed: int = 0
    untracked: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"files": self.files, "added": self.added, "removed": self.removed, "untracked": self.untracked}


def changes(worktree: Path, base: str, untracked: int | None = None) -> Changes | None:
    """Lines added and removed against the base commit, committed or not, plus new untracked files
    (or `untracked` as given, when the caller knows no file was added or removed)."""
    if not worktree.is_dir() or not (worktree / ".git").exists():
        return None  # gone, or half-removed: git there would read whatever repository holds the folder
    index = git.index_file(worktree)
    if index is not None and not index.exists():
        return None  # never checked out (a spawn stopped part-way): git would take every file for deleted
    try:
        diff = git.run(["diff", "--numstat", base, "--"], worktree, check=False)
        if diff.returncode != 0:
            return None
        if untracked is None:
            untracked = untracked_count(worktree)
    except GitError:
        if worktree.is_dir():
            raise
        return None  # removed while it was read (an `orchestra kill` under way): no changes to show
    files = added = removed = 0
    for line in diff.stdout.splitlines():
        plus, minus, _ = line.split("\t", 2)
        files += 1
        added += int(plus) if plus.isdigit() else 0
        removed += int(minus) if minus.isdigit() else 0
    return Changes(files=files, added=added, removed=removed, untracked=untracked)


def untracked_count(worktree: Path) -> int:
    """How many files git would list as new: untracked and not ignored."""
    others = git.run(["ls-files", "--others", "--exclude-standard"], worktree, check=False).stdout
    return len(others.splitlines())


def branch_changes(project: Project, base: str, branch: str) -> Changes | None:
    """Lines added and removed by the commits on `branch` since `base` (for a worktree that is gone)."""
    if not branch_exists(project, branch):
        return None
    out = git.run(["diff", "--numstat", base, f"refs/heads/{branch}", "--"], project.root, check=False)
    if out.returncode != 0:
        return None
    rows = [line.split("\t", 2) for line in out.stdout.splitlines() if line.count("\t") >= 2]
    return Changes(
        files=len(rows),
        added=sum(int(plus) for plus, _, _ in rows if plus.isdigit()),
        removed=sum(int(minus) for _, minus, _ in rows if minus.isdigit()),
    )


def commits_since(project: Project, base: str, branch: str) -> list[dict[str, str]]:
    """The commits on `branch` since `base`, oldest first: id, subject, author time (ISO 8601)."""
    if not branch_exists(project, branch):
        return []
    out = git.run(["log", "--reverse", "--format=%H%x1f%s%x1f%aI", f"{base}..refs/heads/{branch}", "--"], project.root)
    commits = []
    for line in out.stdout.splitlines():
        sha, subject, when = ([*line.split("\x1f"), "", ""])[:3]
        commits.append({"id": sha, "subject": subject, "time": when})
    return commits


def diff(worktree: Path, base: str, stat: bool = False) -> str:
    """The agent's changes against its base, untracked files included, leaving its index alone."""
    if not worktree.is_dir():
        raise OrchestraError(f"the worktree {worktree} is gone, so there is nothing to diff.")
    if not (worktree / ".git").exists():
        raise OrchestraError(BROKEN.format(worktree=worktree, name=worktree.name))
    with scratch_index(worktree) as env:
        git.run(["add", "--all", "--intent-to-add"], worktree, env=env)
        return git.run(["diff", "--stat" if stat else "--patch", base, "--"], worktree, env=env).stdout
