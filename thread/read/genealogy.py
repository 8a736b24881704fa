"""Genealogy: what went into an assembly (down), and where a component or lot went (up)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection

from thread.domain.topics import fold
from thread.domain.whereabouts import Whereabouts
from thread.errors import UnknownSubject
from thread.read.clock import AsOf
from thread.read.events import iso
from thread.read.sql import rows

Direction = Literal["down", "up"]

class _Edge(NamedTuple):
    position: int
    other_kind: str
    parent: str
    child: str
    action: str
    slot: str | None
    occurred_ns: int


class _Registered(NamedTuple):
    key: str
    kind: str
    part_number: str | None
    revision: str | None


class _Moved(NamedTuple):
    position: int
    key: str
    topic: str
    detail: str


_CHILDREN = (
    "SELECT position, child_kind, parent, child, action, slot, occurred_ns FROM read_edges "
    "WHERE parent IN :keys AND {clock} <= :bound ORDER BY position"
)
_PARENTS = (
    "SELECT position, parent_kind, parent, child, action, slot, occurred_ns FROM read_edges "
    "WHERE child IN :keys AND {clock} <= :bound ORDER BY position"
)
_REGISTRY = (
    "SELECT key, kind, part_number, revision FROM read_registry WHERE key IN :keys "
    "AND {clock} <= :bound"
)
_WHEREABOUTS = (
    "SELECT position, key, topic, detail FROM read_whereabouts WHERE key IN :keys "
    "AND {clock} <= :bound ORDER BY position"
)
_SHAPES: dict[str, Any] = {_CHILDREN: _Edge, _PARENTS: _Edge, _REGISTRY: _Registered,
                           _WHEREABOUTS: _Moved}
#: Keys per ``IN`` list, under the drivers' parameter limits.
_CHUNK = 900


def query(conn: Connection, template: str, keys: list[str], as_of: AsOf) -> list[Any]:
    """Rows of an ``IN :keys`` read-model query as of a moment, as named tuples."""
    shape = _SHAPES[template]
    found: list[Any] = []
    for first in range(0, len(keys), _CHUNK):
        found.extend(map(shape._make, rows(conn, template, as_of, keys=keys[first:first + _CHUNK])))
    if len(keys) > _CHUNK and "ORDER BY position" in template:
        found.sort(key=lambda row: row.position)
    return found


def whereabouts(conn: Connection, keys: list[str], as_of: AsOf) -> dict[str, Whereabouts]:
    """Where each of ``keys`` is, as of a moment: the domain's fold over its moves."""
    moved: dict[str, list[tuple[str, dict[str, object]]]] = {}
    for row in query(conn, _WHEREABOUTS, keys, as_of):
        moved.setdefault(row.key, []).append((row.topic, json.loads(row.detail)))
    return {key: fold(facts) for key, facts in moved.items()}


@dataclass
class Node:
    """One serial or lot in a genealogy, with the nodes below (down) or above (up) it."""

    kind: str
    key: str
    part_number: str | None
    revision: str | None
    location: str
    relation: str | None = None
    slot: str | None = None
    since: str | None = None
    nodes: list[Node] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The tree as plain JSON-ready data."""
        return asdict(self)

    def depth(self) -> int:
        """Levels in this tree, counting this node."""
        return 1 + max((node.depth() for node in self.nodes), default=0)

    def subjects(self) -> list[str]:
        """Every key in the tree once, this node first."""
        found = [self.key, *(key for node in self.nodes for key in node.subjects())]
        return list(dict.fromkeys(found))


def genealogy(conn: Connection, key: str, direction: Direction, as_of: AsOf,
              *, depth: int | None = None) -> Node:
    """The as-built tree below ``key`` (down) or the chain of users above it (up)."""
    registered = {row.key: row for row in query(conn, _REGISTRY, [key], as_of)}
    if key not in registered:
        raise UnknownSubject(f"no part or lot {key} in this ledger"
                             + ("" if as_of.moment is None else f" as of {as_of.describe()}"))
    root = registered[key]
    tree = Node(root.kind, key, root.part_number, root.revision, "")
    # A lot goes into many parts, and two parts of one assembly may share a lot: a
    # subject can sit at several places in the tree, so each key maps to its nodes.
    nodes: dict[str, list[Node]] = {key: [tree]}
    level, expanded, levels = [key], {key}, 0
    while level and (depth is None or levels < depth):
        next_level: list[str] = []
        for holder, kind, other, action, slot, at in _links(conn, level, direction, as_of):
            for place in nodes[holder]:
                node = Node(kind, other, None, None, "", relation=action, slot=slot,
                            since=iso(at))
                place.nodes.append(node)
                nodes.setdefault(other, []).append(node)
            if other not in expanded:  # each subject is followed once, so loops end
                expanded.add(other)
                next_level.append(other)
        level, levels = next_level, levels + 1
    _describe(conn, nodes, as_of)
    return tree


def _links(conn: Connection, keys: list[str], direction: Direction, as_of: AsOf
           ) -> list[tuple[str, str, str, str, str | None, int]]:
    """Current links from each of ``keys`` one level down or up: the last word on each pair."""
    template = _CHILDREN if direction == "down" else _PARENTS
    latest: dict[tuple[str, str], Any] = {}
    for row in query(conn, template, keys, as_of):
        latest[(row.parent, row.child)] = row
    links = []
    for (parent, child), row in latest.items():
        if row.action == "remove":
            continue
        if direction == "down":
            links.append((parent, row.other_kind, child, row.action, row.slot, row.occurred_ns))
        else:
            links.append((child, row.other_kind, parent, row.action, row.slot, row.occurred_ns))
    return links


def _describe(conn: Connection, nodes: dict[str, list[Node]], as_of: AsOf) -> None:
    keys = list(nodes)
    for row in query(conn, _REGISTRY, keys, as_of):
        for node in nodes[row.key]:
            node.part_number, node.revision = row.part_number, row.revision
    places = whereabouts(conn, keys, as_of)
    for key, found in nodes.items():
        place = places.get(key)
        for node in found:
            node.location = place.location if place is not None else "not registered"
