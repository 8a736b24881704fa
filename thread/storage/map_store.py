"""The subject map as stored: a view of it at one checkpoint, the cache a writer keeps
between checkpoints, and proofs served from it (format in :mod:`thread.log.subject_map`).

Each checkpoint appends the heads that changed since the one before and every
stored subtree (at depths 0, 4, 8, 12, 16 and 20) that changed with them; the map at
a checkpoint is each key's latest row at or before its size. Nothing is
updated in place, like every other table of the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from thread.log.subject_map import (
    BUCKET_DEPTH,
    STRIDE,
    Head,
    MapProof,
    Sub,
    index_at,
    prove,
    subject_key,
)
from thread.storage.recorder import LedgerRecorder

#: Leaves read at a time when the map catches up with many events at once.
_CHANGES_PAGE = 50_000


class MapRows(Protocol):
    """Where a stored map is read from: the ledger's store, or a site's map at the hub."""

    def select_map_bucket(self, index: int, size: int) -> list[Head]: ...

    def select_map_buckets(self, indexes: Sequence[int], size: int
                           ) -> dict[int, list[Head]]: ...

    def select_map_nodes(self, keys: Sequence[tuple[int, int]], size: int
                         ) -> dict[tuple[int, int], Sub]: ...

    def select_map_groups(self, depth: int, groups: Sequence[int], size: int
                          ) -> dict[int, Sub]: ...


class StoredMap:
    """The stored map as of checkpoint ``size``, with what is known of it in memory."""

    def __init__(self, store: MapRows, size: int,
                 known: dict[int, Sub] | None = None,
                 expanded: set[tuple[int, int]] | None = None, *,
                 complete: bool = False) -> None:
        self._store = store
        self._size = size
        self.known = {} if known is None else known
        self.expanded = set() if expanded is None else expanded
        self.complete = complete or size == 0

    def buckets(self, indexes: Sequence[int]) -> dict[int, list[Head]]:
        return self._store.select_map_buckets(indexes, self._size) if self._size else {}

    def nodes(self, depth: int, indexes: Sequence[int]) -> dict[int, Sub]:
        if not self._size:
            return {}
        if depth == BUCKET_DEPTH:  # whole groups of buckets, each read by index range
            groups = self._store.select_map_groups(
                depth, sorted({index >> STRIDE for index in indexes}), self._size)
            return {index: groups[index] for index in indexes if index in groups}
        found = self._store.select_map_nodes([(depth, index) for index in indexes], self._size)
        return {index: found[(depth, index)] for index in indexes if (depth, index) in found}


class MapCache:
    """What a writer (or a verifier) knows of the stored map, valid while it is at ``size``.

    It holds at most the subtrees down to depth 16 (about 131,000), so a writer that
    checkpoints often reads again only the buckets its changes fall in and their
    siblings.
    """

    def __init__(self) -> None:
        self.size = -1
        self._known: dict[int, Sub] = {}
        self._expanded: set[tuple[int, int]] = set()
        self._complete = False  # followed the map from the empty one

    def view(self, store: MapRows, size: int) -> StoredMap:
        """The stored map at ``size``; what is known is dropped if the map moved elsewhere."""
        if size != self.size:
            self.forget()
            self.size = size
            self._complete = size == 0
        return StoredMap(store, size, self._known, self._expanded, complete=self._complete)

    def advanced(self, size: int) -> None:
        """The map was brought to ``size`` through the last view (and stored there)."""
        self.size = size

    def forget(self) -> None:
        """Drop everything (a checkpoint failed to commit, say)."""
        self.size = -1
        self._known = {}
        self._expanded = set()
        self._complete = False


def changed_heads(store: LedgerRecorder, start: int, end: int, *, kept: bool = True
                  ) -> list[Head]:
    """Each subject's latest head among the leaves from ``start`` to ``end``: as this writer
    appended them (if ``kept``: only while holding the write lock), or read from the log."""
    moved = store.log.moved(start, end) if kept else None
    if moved is not None:
        return [Head(subject_key(raw), version, leaf) for raw, (version, leaf) in moved.items()]
    latest: dict[bytes, Head] = {}
    for low in range(start, end, _CHANGES_PAGE):
        for ident, version, digest in store.select_map_changes(low, min(end, low + _CHANGES_PAGE)):
            raw = ident.bytes
            latest[raw] = Head(subject_key(raw), version, digest)
    return list(latest.values())


def stored_proof(store: MapRows, size: int, aggregate_id: bytes) -> MapProof:
    """The map proof of a subject at the checkpoint of ``size``, from the stored map."""
    key = subject_key(aggregate_id)
    wanted = [(depth, first + offset)
              for depth in range(BUCKET_DEPTH, 0, -STRIDE)
              for first in [index_at(key, depth - STRIDE) << STRIDE]
              for offset in range(1 << STRIDE)]
    bucket = store.select_map_bucket(index_at(key, BUCKET_DEPTH), size)
    return prove(key, sorted(bucket), store.select_map_nodes(wanted, size))
