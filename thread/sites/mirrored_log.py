"""A site's log as the hub mirrors it, read like a local one: the read side's
:class:`~thread.read.source.EventLog` and :class:`~thread.read.source.LogTree` over the
entries the hub cosigned, so the library's own read models and queries (trace, genealogy,
recall scope) answer over a site's events at the hub, each site in read models of its own.

Only the cosigned entries are read (up to the mirror's size), never entries pending a
checkpoint. The tree is kept in memory and extended with each new entry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from thread.domain.envelope import aggregate_id
from thread.errors import UnknownSubject
from thread.log.merkle import MemoryTree, consistency_proof, inclusion_proof
from thread.sites.mirror import SITE_ENTRIES, Mirror


@dataclass(frozen=True)
class MirroredInclusion:
    """Where a site event sits in the site's log, proved."""

    index: int
    tree_size: int
    leaf_hash: bytes
    path: list[bytes]
    root: bytes


class MirroredLog:
    """One site's mirrored log, read-only."""

    def __init__(self, mirror: Mirror, origin: str) -> None:
        self.mirror = mirror
        self._origin = origin
        self._tree = MemoryTree()
        self._lock = threading.Lock()

    # EventLog

    def size(self) -> int:
        return self.mirror.state(self._origin).mirror_size

    def origin(self) -> str | None:
        return self._origin

    def pages(self, start: int, size: int, topics: Sequence[str] = ()
              ) -> Iterator[list[tuple[int, bytes]]]:
        end = self.size()
        while start < end:
            query = (select(SITE_ENTRIES.c.idx, SITE_ENTRIES.c.canonical)
                     .where(SITE_ENTRIES.c.origin == self._origin,
                            SITE_ENTRIES.c.idx >= start, SITE_ENTRIES.c.idx < end)
                     .order_by(SITE_ENTRIES.c.idx).limit(size))
            if topics:
                query = query.where(SITE_ENTRIES.c.topic.in_(list(topics)))
            with self.mirror.engine.connect() as conn:
                page = [(int(idx), bytes(canonical)) for idx, canonical in conn.execute(query)]
            if not page:
                return
            yield page
            if len(page) < size:
                return
            start = page[-1][0] + 1

    def canonical_of(self, kind: str, key: str) -> dict[int, bytes]:
        found = self.mirror.subject_entries(self._origin, aggregate_id(kind, key).bytes,
                                            self.size())
        return {version: entry for version, (_, entry) in enumerate(found, start=1)}

    def exists(self, kind: str, key: str) -> bool:
        return bool(self.mirror.subject_entries(self._origin, aggregate_id(kind, key).bytes,
                                                self.size()))

    # LogTree

    def tree_head(self) -> tuple[int, bytes]:
        tree = self._grown()
        return tree.size, tree.root()

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return consistency_proof(size1, size2, self._grown().subtree)

    def inclusion_proof(self, kind: str, key: str, version: int,
                        size: int | None = None) -> MirroredInclusion:
        tree = self._grown()
        size = tree.size if size is None else size
        found = self.mirror.subject_entries(self._origin, aggregate_id(kind, key).bytes, size)
        if version > len(found):
            raise UnknownSubject(f"{kind} {key} has no version {version} in {self._origin}'s "
                                 f"log of {size} entries at the hub")
        index, _ = found[version - 1]
        return MirroredInclusion(index, size, tree.subtree(0, index),
                                 inclusion_proof(index, size, tree.subtree), tree.root(size))

    def _grown(self) -> MemoryTree:
        """The tree of the cosigned entries, extended with those mirrored since."""
        with self._lock:
            end = self.size()
            if self._tree.size < end:
                with self.mirror.engine.connect() as conn:
                    for leaf, in conn.execute(
                            select(SITE_ENTRIES.c.leaf)
                            .where(SITE_ENTRIES.c.origin == self._origin,
                                   SITE_ENTRIES.c.idx >= self._tree.size,
                                   SITE_ENTRIES.c.idx < end)
                            .order_by(SITE_ENTRIES.c.idx)):
                        self._tree.append(bytes(leaf))
            return self._tree
