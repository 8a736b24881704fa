"""The subject map as stored: a view of it at one checkpoint, the cache a writer keeps
between checkpoints, and proofs served from it (format in :mod:`thread.log.subject_map`).

Each checkpoint appends the heads that changed since the one before and every
stored subtree (at depths 0, 4, 8, 12 and 16) that changed with them; the map at
a checkpoint is each key's latest row at or before its size. Nothing is
updated in place, like every other table of the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence

from thread.log.subject_map import (
    BUCKET_DEPTH,
    EMPTY_SUB,
    STRIDE,
    Head,
    MapProof,
    MapUpdate,
    Sub,
    index_at,
    prove,
    subject_key,
)
from thread.storage.recorder import LedgerRecorder

#: Leaves read at a time when the map catches up with many events at once.
_CHANGES_PAGE = 50_000


class StoredMap:
    """The stored map as of checkpoint ``size``, reading through a cache of subtrees."""

    def __init__(self, store: LedgerRecorder, size: int,
                 cache: dict[tuple[int, int], Sub] | None = None) -> None:
        self._store = store
        self._size = size
        self._cache = {} if cache is None else cache

    def bucket(self, index: int) -> list[Head]:
        return self._store.select_map_bucket(index, self._size) if self._size else []

    def nodes(self, depth: int, indexes: Sequence[int]) -> dict[int, Sub]:
        cache = self._cache
        missing = [(depth, index) for index in indexes if (depth, index) not in cache]
        if missing:
            found = self._store.select_map_nodes(missing, self._size) if self._size else {}
            for key in missing:
                cache[key] = found.get(key, EMPTY_SUB)
        return {index: sub for index in indexes if (sub := cache[(depth, index)]).subjects}


class MapCache:
    """The subtrees a writer read or wrote, valid while the map is still at ``size``.

    It holds at most the stored subtrees (about 87,000 at depth 16 and above), so
    a writer that checkpoints often reads almost nothing of the map again.
    """

    def __init__(self) -> None:
        self.size = -1
        self._nodes: dict[tuple[int, int], Sub] = {}

    def view(self, store: LedgerRecorder, size: int) -> StoredMap:
        """The stored map at ``size``; the cache is dropped if the map moved elsewhere."""
        if size != self.size:
            self._nodes = {}
            self.size = size
        return StoredMap(store, size, self._nodes)

    def advanced(self, size: int, update: MapUpdate) -> None:
        """The map was stored at ``size`` with ``update``'s subtrees."""
        self._nodes.update(update.nodes)
        self.size = size

    def forget(self) -> None:
        """Drop everything (a checkpoint failed to commit)."""
        self.size = -1
        self._nodes = {}


def changed_heads(store: LedgerRecorder, start: int, end: int) -> list[Head]:
    """Each subject's latest head among the leaves from ``start`` to ``end``: as this writer
    appended them, or read from the log."""
    moved = store.log.moved(start, end)
    if moved is not None:
        return [Head(subject_key(raw), version, leaf) for raw, (version, leaf) in moved.items()]
    latest: dict[bytes, Head] = {}
    for low in range(start, end, _CHANGES_PAGE):
        for ident, version, digest in store.select_map_changes(low, min(end, low + _CHANGES_PAGE)):
            raw = ident.bytes
            latest[raw] = Head(subject_key(raw), version, digest)
    return list(latest.values())


def stored_proof(store: LedgerRecorder, size: int, aggregate_id: bytes) -> MapProof:
    """The map proof of a subject at the checkpoint of ``size``, from the stored map."""
    key = subject_key(aggregate_id)
    wanted = [(depth, first + offset)
              for depth in range(BUCKET_DEPTH, 0, -STRIDE)
              for first in [index_at(key, depth - STRIDE) << STRIDE]
              for offset in range(1 << STRIDE)]
    bucket = store.select_map_bucket(index_at(key, BUCKET_DEPTH), size)
    return prove(key, sorted(bucket), store.select_map_nodes(wanted, size))
