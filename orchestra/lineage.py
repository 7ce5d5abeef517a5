"""Which agent spawned which (`Agent.parent`, set by `orchestra mcp`'s spawn): children, depth,
and the order in which `ls`, the board and `report` show a family, children under their parent.

Works on anything with a `name` and a `parent` (agent records, `ls --json` rows as objects,
reports); standard library only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar


class Member(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def parent(self) -> str | None: ...


M = TypeVar("M", bound=Member)


def children(members: Iterable[M], name: str) -> list[M]:
    """The members whose parent is `name`, in the order given."""
    return [m for m in members if m.parent == name]


def descendants(members: Sequence[M], names: Iterable[str]) -> list[M]:
    """Every child, grandchild, ... of the named members (not the named ones themselves), each once."""
    found: dict[str, M] = {}
    todo = list(names)
    while todo:
        for child in children(members, todo.pop()):
            if child.name not in found:
                found[child.name] = child
                todo.append(child.name)
    return list(found.values())


def depth(members: Iterable[M], name: str | None) -> int:
    """How many generations `name` is from a person: 0 for a person (None), 1 for an agent a
    person spawned, 2 for its child, ... A parent no longer recorded ends the chain there."""
    parents = {m.name: m.parent for m in members}
    level, seen = 0, set()
    while name is not None and name not in seen:
        seen.add(name)
        level += 1
        name = parents.get(name)
    return level


def ordered(members: Sequence[M]) -> list[tuple[M, int]]:
    """The members with their indent level, each child right under its parent (children in the
    order given); a member whose parent is not among them stands at the top level."""
    names = {m.name for m in members}
    shown: list[tuple[M, int]] = []
    placed: set[str] = set()

    def place(member: M, level: int) -> None:
        if member.name in placed:
            return
        placed.add(member.name)
        shown.append((member, level))
        for child in children(members, member.name):
            place(child, level + 1)

    for member in members:
        if member.parent is None or member.parent not in names or member.parent == member.name:
            place(member, 0)
    for member in members:  # a loop of parents (hand-edited state): shown, at the top level
        place(member, 0)
    return shown
