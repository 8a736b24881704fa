"""Genealogy: what went into an assembly (down), and where a component or lot went (up)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection

from thread.domain.condition import moment
from thread.domain.topics import fold
from thread.domain.whereabouts import Whereabouts
from thread.errors import UnknownSubject
from thread.read.clock import AsOf
from thread.read.result import Model
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
#: The detail of a move that reads no field.
_NOTHING: Mapping[str, object] = MappingProxyType({})
#: Keys per ``IN`` list, under the drivers' parameter limits.
_CHUNK = 900


def query(conn: Connection, template: str, keys: list[str], as_of: AsOf) -> list[Any]:
    """Rows of an ``IN :keys`` read-model query as of a moment, as named tuples."""
    return list(map(_SHAPES[template]._make, _query(conn, template, keys, as_of)))


def _query(conn: Connection, template: str, keys: list[str], as_of: AsOf) -> list[Any]:
    found: list[Any] = []
    for first in range(0, len(keys), _CHUNK):
        found.extend(rows(conn, template, as_of, keys=keys[first:first + _CHUNK]))
    if len(keys) > _CHUNK and "ORDER BY position" in template:
        found.sort(key=lambda row: row[0])
    return found


def whereabouts(conn: Connection, keys: list[str], as_of: AsOf) -> dict[str, Whereabouts]:
    """Where each of ``keys`` is, as of a moment: the domain's fold over its moves."""
    moved: dict[str, list[tuple[str, Mapping[str, object]]]] = {}
    for _, key, topic, detail in _query(conn, _WHEREABOUTS, keys, as_of):
        moved.setdefault(key, []).append((topic, json.loads(detail) if detail else _NOTHING))
    return {key: fold(facts) for key, facts in moved.items()}


def holders(conn: Connection, keys: list[str], as_of: AsOf) -> dict[str, str]:
    """The assembly each part is installed in as of a moment, for ``keys`` and for the
    assemblies that hold them, up to the top (a part in nothing is not listed)."""
    parent_of: dict[str, str] = {}
    level, seen = keys, set(keys)
    while level:
        latest: dict[tuple[str, str], Any] = {}
        for row in query(conn, _PARENTS, level, as_of):
            if row.action != "consume":
                latest[(row.parent, row.child)] = row
        level = []
        for (parent, child), row in latest.items():
            if row.action == "install":
                parent_of[child] = parent
                if parent not in seen:
                    seen.add(parent)
                    level.append(parent)
    return parent_of


def top_of(parent_of: dict[str, str], key: str) -> str | None:
    """The top assembly holding ``key`` in a :func:`holders` map (None: it is in nothing)."""
    top, seen = None, {key}
    while key in parent_of and parent_of[key] not in seen:
        key = top = parent_of[key]
        seen.add(key)
    return top


class Node(Model):
    """One serial or lot in a genealogy, with the nodes below (down) or above (up) it.

    ``relation``, ``slot`` and ``since`` say how this node is linked to the one that
    holds it (none for the root). A subject linked at several places (a material lot
    in two parts of one assembly) appears at each, with the same subtree.
    """

    kind: str
    key: str
    part_number: str | None
    revision: str | None
    location: str
    relation: str | None = None
    slot: str | None = None
    since: datetime | None = None
    nodes: tuple[Node, ...] = ()

    def depth(self) -> int:
        """Levels in this tree, counting this node."""
        return 1 + max((node.depth() for node in self.nodes), default=0)

    def subjects(self) -> list[str]:
        """Every key in the tree once, this node first."""
        found = [self.key, *(key for node in self.nodes for key in node.subjects())]
        return list(dict.fromkeys(found))


class _Link(NamedTuple):
    """How a subject holds (down) or is held by (up) another, as the tree shows it."""

    kind: str
    other: str
    relation: str
    slot: str | None
    occurred_ns: int


def genealogy(conn: Connection, key: str, direction: Direction, as_of: AsOf,
              *, depth: int | None = None) -> Node:
    """The as-built tree below ``key`` (down) or the chain of users above it (up)."""
    registered = {row.key: row for row in query(conn, _REGISTRY, [key], as_of)}
    if key not in registered:
        raise UnknownSubject(f"no part or lot {key} in this ledger{as_of.phrase()}")
    # Breadth first, so each subject's links are read once, at the shallowest level it
    # appears: a subject deeper than the limit there is deeper everywhere.
    links: dict[str, list[_Link]] = {}
    level, seen, levels = [key], {key}, 0
    while level and (depth is None or levels < depth):
        found = _links(conn, level, direction, as_of)
        links.update(found)
        level = [link.other for held in found.values() for link in held
                 if link.other not in seen]
        seen.update(level)
        level, levels = list(dict.fromkeys(level)), levels + 1
    keys = sorted(seen)
    designs = {row.key: row for row in query(conn, _REGISTRY, keys, as_of)}
    places = whereabouts(conn, keys, as_of)

    def node(kind: str, subject: str, trail: frozenset[str], link: _Link | None) -> Node:
        design = designs.get(subject)
        place = places.get(subject)
        below = () if subject in trail else tuple(
            node(held.kind, held.other, trail | {subject}, held)
            for held in links.get(subject, ()))
        return Node(kind=kind, key=subject,
                    part_number=design.part_number if design else None,
                    revision=design.revision if design else None,
                    location=place.location if place is not None else "not registered",
                    relation=link.relation if link else None,
                    slot=link.slot if link else None,
                    since=moment(link.occurred_ns) if link else None, nodes=below)

    return node(registered[key].kind, key, frozenset(), None)


def _links(conn: Connection, keys: list[str], direction: Direction, as_of: AsOf
           ) -> dict[str, list[_Link]]:
    """Current links from each of ``keys`` one level down or up: the last word on each pair."""
    template = _CHILDREN if direction == "down" else _PARENTS
    latest: dict[tuple[str, str], Any] = {}
    for row in query(conn, template, keys, as_of):
        latest[(row.parent, row.child)] = row
    links: dict[str, list[_Link]] = {}
    for (parent, child), row in latest.items():
        if row.action == "remove":
            continue
        holder, other = (parent, child) if direction == "down" else (child, parent)
        links.setdefault(holder, []).append(
            _Link(row.other_kind, other, row.action, row.slot, row.occurred_ns))
    return links
