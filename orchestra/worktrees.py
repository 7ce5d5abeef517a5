"""Git: finding the project, branches, worktrees, and saving work before anything is removed.

The only module that talks to git. Changes go through GitPython; the read-only queries on the
`orchestra ls` path run git directly, because importing GitPython costs about 50 ms and `ls`
runs in a loop on the board.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from orchestra.errors import GitError, NotARepository, OrchestraError

TRASH_PREFIX = "refs/orchestra/trash/"


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


def _run(args: list[str], cwd: Path | str, check: bool = True, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, errors="surrogateescape", env=env
        )
    except FileNotFoundError:
        raise OrchestraError("git is not installed: install git (2.25 or newer) and try again.") from None
    if check and result.returncode != 0:
        raise GitError(f"git {args[0]} failed in {cwd}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def _repo(path: Path):
    import git

    try:
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise NotARepository(f"{path} is not a git repository.") from None


def _git(path: Path, *args: str, env: Optional[dict] = None) -> str:
    """Run one git command through GitPython, turning its errors into `GitError`."""
    import git

    try:
        return _repo(path).git.execute(["git", *args], env=env)
    except git.GitCommandError as error:
        stderr = (error.stderr or "").strip().removeprefix("stderr:").strip().strip("'").strip()
        raise GitError(f"git {args[0]} failed: {stderr or error}") from None


# -- the project ------------------------------------------------------------------------


def discover(cwd: Path | str | None = None) -> Project:
    """The project that contains `cwd`, from any of its worktrees."""
    cwd = Path(cwd or os.getcwd()).resolve()
    result = _run(["rev-parse", "--git-common-dir", "--is-bare-repository"], cwd, check=False)
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
        root = Path(_run(["rev-parse", "--show-toplevel"], cwd).stdout.strip())
    return Project(root=root, common_dir=common, cwd=cwd)


def resolve_commit(project: Project, ref: str) -> str:
    """The commit id `ref` names, or a clear error (including for a repository with no commits)."""
    if ref.startswith("-"):
        raise OrchestraError(f"'{ref}' is not a git revision: give a branch, tag or commit as the base.")
    result = _run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], project.root, check=False)
    if result.returncode == 0:
        return result.stdout.strip()
    if _run(["rev-parse", "--verify", "--quiet", "HEAD"], project.root, check=False).returncode != 0:
        raise OrchestraError(
            f"the repository {project.root} has no commits yet: make a first commit, since agents branch from it."
        )
    raise OrchestraError(f"the base '{ref}' is not a branch, tag or commit in {project.root}: check `git branch -a`.")


def current_branch(project: Project) -> Optional[str]:
    result = _run(["symbolic-ref", "--quiet", "--short", "HEAD"], project.root, check=False)
    return result.stdout.strip() or None


def branch_exists(project: Project, branch: str) -> bool:
    return _run(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], project.root, check=False).returncode == 0


def is_valid_branch(project: Project, branch: str) -> bool:
    return _run(["check-ref-format", "--branch", branch], project.root, check=False).returncode == 0


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


def check_name(name: str) -> None:
    """Refuse a `--name` that cannot be a branch component, a folder and a tmux window name."""
    if not NAME_PATTERN.match(name) or ".." in name or name.endswith((".", ".lock")):
        raise OrchestraError(
            f"'{name}' is not a valid agent name: use letters, digits, '-', '_' and '.', at most 63 characters, "
            "starting with a letter or digit, not ending in '.' or '.lock', without '..' "
            "(it becomes part of a branch name)."
        )


# -- worktrees --------------------------------------------------------------------------


def worktree_root(project: Project, template: str) -> Path:
    return (project.root / template.format(repo=project.name)).resolve()


def registered_worktrees(project: Project) -> dict[Path, Optional[str]]:
    """Every worktree git knows of, with its branch (None when detached)."""
    out = _run(["worktree", "list", "--porcelain"], project.root).stdout
    found: dict[Path, Optional[str]] = {}
    path: Optional[Path] = None
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
    fd = os.open(project.state_dir / "worktrees.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def add_worktree(project: Project, path: Path, branch: str, base: str) -> None:
    """Create `branch` at `base` and check it out at `path`.

    The record is made under a lock with `--no-checkout`, which is quick; the checkout itself,
    the slow part in a large repository, runs unlocked, so several worktrees fill in parallel.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with _metadata_lock(project):
        _git(project.root, "worktree", "add", "--quiet", "--no-checkout", "-b", branch, str(path), base)
    _git(path, "reset", "--quiet", "--hard", base)


def populate(project: Project, worktree: Path, copy: list[str], symlink: list[str]) -> None:
    """Apply `[worktree] copy` and `symlink`: files from the main checkout, when present there."""
    for entry, link in [(c, False) for c in copy] + [(s, True) for s in symlink]:
        source = (project.root / entry).resolve()
        if not _inside(source, project.root):
            raise OrchestraError(f"[worktree] entry '{entry}' points outside the repository; use a relative path inside it.")
        if not source.exists():
            continue
        target = worktree / entry
        if target.exists() or target.is_symlink():
            continue  # tracked in git, so already checked out
        target.parent.mkdir(parents=True, exist_ok=True)
        if link:
            target.symlink_to(source)
        elif source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root.resolve())
        return True
    except ValueError:
        return False


def remove_worktree(project: Project, path: Path) -> None:
    """Remove a worktree folder and git's record of it (the caller has saved any work)."""
    with _metadata_lock(project):
        if path.exists():
            _git(project.root, "worktree", "remove", "--force", "--force", str(path))
        _run(["worktree", "prune"], project.root, check=False)


def delete_branch(project: Project, branch: str) -> None:
    if branch_exists(project, branch):
        _git(project.root, "branch", "-D", branch)


def prune_worktrees(project: Project) -> str:
    with _metadata_lock(project):
        return _run(["worktree", "prune", "--verbose"], project.root).stderr.strip()


# -- work that must not be lost ---------------------------------------------------------


def uncommitted_changes(worktree: Path) -> list[str]:
    """Changed and untracked files in a worktree, as `git status --porcelain` paths."""
    if not worktree.is_dir():
        return []
    out = _run(["status", "--porcelain", "--untracked-files=all"], worktree).stdout
    return [line[3:] for line in out.splitlines() if line]


def unmerged_commits(project: Project, branch: str, target: str) -> list[str]:
    """Commits on `branch` that `target` does not have, one `<short id> <subject>` each."""
    if not branch_exists(project, branch):
        return []
    out = _run(["log", "--format=%h %s", f"{target}..refs/heads/{branch}", "--"], project.root).stdout
    return out.splitlines()


def save_to_trash(project: Project, name: str, branch: str, worktree: Path) -> Optional[str]:
    """Keep an agent's commits and uncommitted files on a ref under `refs/orchestra/trash/`.

    Uncommitted and untracked files are committed through a temporary index, so the worktree's
    own index and files are left as they were. Returns the ref, or None if there was nothing.
    """
    if not branch_exists(project, branch):
        return None
    tip = _run(["rev-parse", f"refs/heads/{branch}"], project.root).stdout.strip()
    commit = tip
    if worktree.is_dir() and uncommitted_changes(worktree):
        with _scratch_index(worktree) as env:
            _git(worktree, "add", "--all", env=env)
            tree = _git(worktree, "write-tree", env=env).strip()
        head = _run(["rev-parse", "HEAD"], worktree).stdout.strip()
        commit = _git(
            worktree, "commit-tree", tree, "-p", head, "-m", f"orchestra: uncommitted work of agent {name}", env=_identity_env(worktree)
        ).strip()
    ref = _free_ref(project, TRASH_PREFIX + name)
    _git(project.root, "update-ref", ref, commit)
    return ref


def _free_ref(project: Project, ref: str) -> str:
    candidate, n = ref, 2
    while _run(["rev-parse", "--verify", "--quiet", candidate], project.root, check=False).returncode == 0:
        candidate, n = f"{ref}-{n}", n + 1
    return candidate


def _identity_env(cwd: Path) -> dict[str, str]:
    """Let orchestra's own commits work where the user has set no git identity."""
    env = dict(os.environ)
    if _run(["config", "user.email"], cwd, check=False).returncode != 0:
        env.setdefault("GIT_AUTHOR_NAME", "orchestra")
        env.setdefault("GIT_AUTHOR_EMAIL", "orchestra@localhost")
        env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
        env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    return env


@contextlib.contextmanager
def _scratch_index(worktree: Path) -> Iterator[dict[str, str]]:
    """An environment whose GIT_INDEX_FILE is a copy of the worktree's index.

    Lets orchestra stage untracked files to read or save them without touching the index the
    agent (or the person) is using.
    """
    index = (worktree / _run(["rev-parse", "--git-path", "index"], worktree).stdout.strip()).resolve()
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


def changes(worktree: Path, base: str) -> Optional[Changes]:
    """Lines added and removed against the base commit, committed or not, plus new untracked files."""
    if not worktree.is_dir():
        return None
    diff = _run(["diff", "--numstat", base, "--"], worktree, check=False)
    if diff.returncode != 0:
        return None
    files = added = removed = 0
    for line in diff.stdout.splitlines():
        plus, minus, _ = line.split("\t", 2)
        files += 1
        added += int(plus) if plus.isdigit() else 0
        removed += int(minus) if minus.isdigit() else 0
    others = _run(["ls-files", "--others", "--exclude-standard"], worktree, check=False).stdout
    return Changes(files=files, added=added, removed=removed, untracked=len(others.splitlines()))


def branch_changes(project: Project, base: str, branch: str) -> Optional[Changes]:
    """Lines added and removed by the commits on `branch` since `base` (for a worktree that is gone)."""
    if not branch_exists(project, branch):
        return None
    out = _run(["diff", "--numstat", base, f"refs/heads/{branch}", "--"], project.root, check=False)
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
    out = _run(["log", "--reverse", "--format=%H%x1f%s%x1f%aI", f"{base}..refs/heads/{branch}", "--"], project.root)
    commits = []
    for line in out.stdout.splitlines():
        sha, subject, when = (line.split("\x1f") + ["", ""])[:3]
        commits.append({"id": sha, "subject": subject, "time": when})
    return commits


def diff(worktree: Path, base: str, stat: bool = False) -> str:
    """The agent's changes against its base, untracked files included, leaving its index alone."""
    if not worktree.is_dir():
        raise OrchestraError(f"the worktree {worktree} is gone, so there is nothing to diff.")
    with _scratch_index(worktree) as env:
        _run(["add", "--all", "--intent-to-add"], worktree, env=env)
        return _run(["diff", "--stat" if stat else "--patch", base, "--"], worktree, env=env).stdout


# -- making a repository (the demo) -----------------------------------------------------


def init_repository(path: Path, files: dict[str, str], message: str) -> None:
    """A new repository at `path` on branch main with `files` in its first commit."""
    import git

    repo = git.Repo.init(path, initial_branch="main")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    repo.git.add("--all")
    repo.git.execute(["git", "commit", "--quiet", "-m", message], env=_identity_env(path))
