"""A site's log as the hub mirrors it, read like a local one: the read side's
:class:`~thread.read.source.EventLog` and :class:`~thread.read.source.LogTree` over the
entries the hub cosigned, so the library's own read models and queries (trace, genealogy,
recall scope) answer over a site's events at the hub, each site in read models of its own.

Only the cosigned entries are read (up to the mirror's size), never entries pending a
checkpoint. Proofs are served from the subtrees the hub stored as the entries arrived
(:mod:`thread.sites.mirror_index`), a few dozen rows whatever the site log's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from thread.domain.envelope import aggregate_id
from thread.errors import UnknownSubject
from thread.log.merkle import consistency_proof, inclusion_proof, tree_root
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
        size = self.size()
        return size, self.mirror.from_subtrees(self._origin,
                                               lambda subtree: tree_root(size, subtree))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return self.mirror.from_subtrees(self._origin, lambda subtree: consistency_proof(
            size1, size2, subtree))

    def inclusion_proof(self, kind: str, key: str, version: int,
                        size: int | None = None) -> MirroredInclusion:
        size = self.size() if size is None else size
        found = self.mirror.subject_entries(self._origin, aggregate_id(kind, key).bytes, size)
        if version > len(found):
            raise UnknownSubject(f"{kind} {key} has no version {version} in {self._origin}'s "
                                 f"log of {size} entries at the hub")
        index, _ = found[version - 1]
        return self.mirror.from_subtrees(self._origin, lambda subtree: MirroredInclusion(
            index, size, subtree(0, index), inclusion_proof(index, size, subtree),
            tree_root(size, subtree)))
