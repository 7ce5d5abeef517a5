"""Merging commits in memory, for the conflict forecast: which pairs of commits would conflict,
in which files, and which files both changed.

`git merge-tree --write-tree` merges two commits without a worktree. Most pairs need none: two
commits that share their merge base with the target, and have no commit in common since it,
merge at that base; when the paths they changed cannot meet (the same path, a file where the
other has a folder, a folder one side emptied that the other added to, renames counted at both
their old and new paths), the merge is clean. The merge bases come from one `git rev-list` of
every commit the target lacks, the changed paths from one `git diff-tree --stdin`; the merges left
run in `git merge-tree --stdin` batches, one per processor.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orchestra import git
from orchestra.errors import GitError
from orchestra.worktrees import Project


@dataclass(frozen=True)
class _Changes:
    """What one commit changed since its merge base with the target."""

    base: str | None  # the one merge base with the target (None: several, or none)
    own: frozenset[str]  # commits since that base
    paths: frozenset[str]  # changed, added or deleted since it (renames: both paths)
    folders: frozenset[str]  # every folder above those paths
    emptied: frozenset[str]  # every folder above a deleted path (a folder it may have renamed)


@dataclass(frozen=True)
class Overlay:
    """Uncommitted work on top of `commit`, before a commit of it is made: every path it changes
    (those `git status` lists), and those of them that are gone."""

    commit: str
    paths: frozenset[str]
    deleted: frozenset[str]


def meeting(
    project: Project,
    target: str,
    sides: dict[str, str | Overlay],
    pairs: list[tuple[str, str]],
    known: Known | None = None,
) -> set[str]:
    """The names of `sides` (a commit, or an `Overlay`) in one of `pairs` ("" stands for the
    target) whose changes may meet, so that only a merge can tell the pair's result; the others'
    pairs all merge cleanly, with no path in common. An overlay counts its commit's changes and
    every path it lists, more than its commit would change, never less: a side is left out only
    when that is sure. `known` is kept for `pair_results` (see `_changes_of`)."""
    heads = {side.commit if isinstance(side, Overlay) else side for side in sides.values()}
    changes, target_changes = _changes_of(project, sorted(heads - {target}), target, known)
    nothing = _Changes(target, frozenset(), frozenset(), frozenset(), frozenset())

    def of(name: str) -> _Changes | None:
        side = sides[name] if name else target
        if isinstance(side, str):
            return changes.get(side)  # None for the target
        base = changes.get(side.commit, nothing)  # the target's own commit: its own merge base
        own = base.own | {f"uncommitted {name}"}
        paths = base.paths | side.paths
        return _Changes(base.base, own, paths, _folders(paths), base.emptied | _folders(side.deleted))

    found: set[str] = set()
    for x, y in pairs:
        a, b = of(x), of(y)
        a = a if a is not None else target_changes.get(b.base or "") if b is not None else None
        b = b if b is not None else target_changes.get(a.base or "") if a is not None else None
        if a is None or b is None or a.base is None or a.base != b.base or a.own & b.own or _may_meet(a, b):
            found.update(name for name in (x, y) if name)
    return found


def pair_results(
    project: Project, target: str, pairs: list[tuple[str, ...]], known: Known | None = None
) -> dict[str, dict[str, Any]]:
    """Conflicts and overlaps of each pair of commits, keyed by `pair_key`: {"conflicts": [paths],
    "overlaps": [paths]}. `known`: what `meeting` found for the same target (see `_changes_of`)."""
    if not pairs:
        return {}
    commits = sorted({c for pair in pairs for c in pair} - {target})
    changes, target_changes = _changes_of(project, commits, target, known)
    results: dict[str, dict[str, Any]] = {}
    merges: list[tuple[str, str]] = []
    known_overlaps: dict[str, list[str] | None] = {}
    for x, y in pairs:
        if x == y:
            results[pair_key(x, y)] = {"conflicts": [], "overlaps": []}
            continue
        a = changes.get(x) or target_changes.get(changes[y].base or "")
        b = changes.get(y) or target_changes.get(changes[x].base or "")
        if a is not None and b is not None and a.base is not None and a.base == b.base and not a.own & b.own:
            if not _may_meet(a, b):
                results[pair_key(x, y)] = {"conflicts": [], "overlaps": []}
                continue
            known_overlaps[pair_key(x, y)] = sorted(a.paths & b.paths)
        else:
            known_overlaps[pair_key(x, y)] = None
        merges.append((x, y))
    conflicts = _merge_trees(project, merges)
    unknown = [(x, y) for x, y in merges if known_overlaps[pair_key(x, y)] is None]
    overlaps = dict(
        zip(unknown, in_parallel(lambda pair: _overlaps_at_merge_base(project, *pair), unknown), strict=True)
    )
    for x, y in merges:
        key = pair_key(x, y)
        both = known_overlaps[key]
        both = overlaps[(x, y)] if both is None else both
        found = conflicts[key]
        results[key] = {"conflicts": found, "overlaps": sorted(set(both) - set(found))}
    return results


def _may_meet(a: _Changes, b: _Changes) -> bool:
    """Whether two sides' changes since one merge base can touch: only then can their merge conflict."""
    return bool(
        a.paths & b.paths
        or a.paths & b.folders
        or b.paths & a.folders
        or a.emptied & b.folders
        or b.emptied & a.folders
    )


Known = dict[str, dict[str, "_Changes"]]  # what `_changes_of` found, by target: reused by a later call


def changes_of(project: Project, commits: list[str], target: str, known: Known) -> None:
    """Read what `commits` changed since they left `target` into `known`, for a later
    `meeting` or `pair_results` with the same target."""
    _changes_of(project, commits, target, known)


def _changes_of(
    project: Project, commits: list[str], target: str, known: Known | None = None
) -> tuple[dict[str, _Changes], dict[str, _Changes]]:
    """What each commit changed since its merge base with the target, and what the target changed
    since each of those merge bases. `known` (for the same target) holds what an earlier call
    found: only the commits it lacks are asked of git, and what they add is kept in it."""
    known = {} if known is None else known
    have, have_target = known.setdefault("commits", {}), known.setdefault("target", {})
    missing = [commit for commit in commits if commit not in have]
    if missing:
        forks = _forks(project, missing, target)
        wanted = [(commit, base) for commit, (base, _) in forks.items() if base and base != commit]
        bases = sorted({base for base, _ in forks.values() if base} - set(have_target))
        wanted += [(target, base) for base in bases]
        diffs = dict(zip(wanted, _diffs(project, wanted), strict=True))
        empty: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
        for commit, (base, own) in forks.items():
            if base is None:
                have[commit] = _Changes(None, own, frozenset(), frozenset(), frozenset())
            else:
                have[commit] = _changes(base, own, *diffs.get((commit, base), empty))
        have_target.update({base: _changes(base, frozenset(), *diffs.get((target, base), empty)) for base in bases})
    return {commit: have[commit] for commit in commits}, have_target


def _forks(project: Project, commits: list[str], target: str) -> dict[str, tuple[str | None, frozenset[str]]]:
    """Each commit's one merge base with the target (None when it has several, or none) and its
    own commits since, from one `git rev-list` of every commit the target lacks.

    Walked from a commit through the parents the target lacks, those are its own commits; the
    target's commits that walk reaches are where they come from: when that is one commit, every
    common ancestor is reachable from it, so it is the merge base. A commit the target has is
    its own merge base."""
    out = git.run(["rev-list", "--parents", *commits, "--not", target], project.root).stdout
    parents = {line.split(" ", 1)[0]: line.split()[1:] for line in out.splitlines() if line}
    forks: dict[str, tuple[str | None, frozenset[str]]] = {}
    for commit in commits:
        if commit not in parents:
            forks[commit] = (commit, frozenset())
            continue
        own, boundary, stack = {commit}, set(), [commit]
        while stack:
            for parent in parents[stack.pop()]:
                if parent not in parents:
                    boundary.add(parent)
                elif parent not in own:
                    own.add(parent)
                    stack.append(parent)
        forks[commit] = (boundary.pop() if len(boundary) == 1 else None, frozenset(own))
    return forks


def _diffs(project: Project, wanted: list[tuple[str, str]]) -> list[tuple[frozenset[str], frozenset[str]]]:
    """For each (new, old): the paths changed from old to new (a rename as its two paths), and
    those deleted; all from one `git diff-tree --stdin`."""
    if not wanted:
        return []
    # A line "NEW OLD" is read as a commit and its parent: the diff from OLD to NEW, after a line with NEW.
    lines = "".join(f"{new} {old}\n" for new, old in wanted)
    args = ["diff-tree", "--stdin", "--always", "-r", "-z", "--no-renames", "--name-status"]
    fields = git.run(args, project.root, input=lines).stdout.split("\0")
    found: list[tuple[frozenset[str], frozenset[str]]] = []
    position = 0
    for new, _ in wanted:
        if fields[position] != new:
            raise GitError(f"git diff-tree gave {fields[position]!r} where {new} was expected.", ["git", *args])
        position += 1
        paths, deleted = set(), set()
        while position + 1 < len(fields) and not _is_commit_id(fields[position]):
            status, path = fields[position], fields[position + 1]
            paths.add(path)
            if status.startswith("D"):
                deleted.add(path)
            position += 2
        found.append((frozenset(paths), frozenset(deleted)))
    return found


def _is_commit_id(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _changes(base: str, own: frozenset[str], paths: frozenset[str], deleted: frozenset[str]) -> _Changes:
    return _Changes(base, own, paths, _folders(paths), _folders(deleted))


def _folders(paths: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    for path in paths:
        parts = path.split("/")
        found.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(found)


def _overlaps_at_merge_base(project: Project, x: str, y: str) -> list[str]:
    """Paths both commits changed since their merge base (for pairs the prefilter could not take)."""
    found = git.run(["merge-base", x, y], project.root, check=False).stdout.strip()
    if not found:
        return []
    (one, _), (other, _) = _diffs(project, [(x, found), (y, found)])
    return sorted(one & other)


def _merge_trees(project: Project, pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The conflicting paths of each pair's merge, from `git merge-tree --stdin` batches, one per processor."""
    if not pairs:
        return {}
    count = min(len(pairs), os.cpu_count() or 1)
    batches = [pairs[i::count] for i in range(count)]
    found: dict[str, list[str]] = {}
    for batch in in_parallel(lambda batch: _merge_batch(project, batch), batches):
        found.update(batch)
    return found


def _merge_batch(project: Project, pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    lines = "".join(f"{x} {y}\n" for x, y in pairs)
    args = ["merge-tree", "--stdin", "--name-only", "--no-messages", "-z", "--allow-unrelated-histories"]
    result = git.run(args, project.root, input=lines, check=False)
    if result.returncode != 0:
        detail = result.stderr.strip() or f"exit code {result.returncode}"
        raise GitError(
            f"git merge-tree failed in {project.root}: {detail}", ["git", *args], result.returncode, result.stderr
        )
    fields = iter(result.stdout.split("\0"))
    found: dict[str, list[str]] = {}
    for x, y in pairs:
        clean = next(fields) == "1"
        next(fields)  # the merged tree
        paths = []
        for path in iter(fields.__next__, ""):
            paths.append(_unsuffixed(path, (x, y)))
        found[pair_key(x, y)] = [] if clean else sorted(set(paths))
    return found


def _unsuffixed(path: str, labels: tuple[str, str]) -> str:
    """A path git moved aside in a file/folder conflict (`d~<commit>`) as the path itself."""
    for label in labels:
        if path.endswith(f"~{label}"):
            return path[: -len(label) - 1]
    return path


def pair_key(x: str, y: str) -> str:
    return f"{min(x, y)} {max(x, y)}"


def in_parallel(function: Any, items: list[Any]) -> list[Any]:
    """`function` over `items`, several at once when there are several; the first failure (in
    the items' order) is raised once every thread has stopped. Plain threads: a thread pool's
    module imports `logging`, which costs each command that forecasts more than the threads."""
    if len(items) < 2:
        return [function(item) for item in items]
    import threading

    results: list[Any] = [None] * len(items)
    failures: dict[int, BaseException] = {}
    left = iter(range(len(items)))
    taking = threading.Lock()

    def work() -> None:
        while not failures:
            with taking:
                position = next(left, None)
            if position is None:
                return
            try:
                results[position] = function(items[position])
            except BaseException as error:  # noqa: BLE001 - raised again in the calling thread
                failures[position] = error

    # Twice the processors: each item is mostly a git process starting, which waits as much as it computes.
    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(len(items), 2 * (os.cpu_count() or 1)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[min(failures)]
    return results
