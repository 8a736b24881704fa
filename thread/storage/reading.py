"""The event store as the read side reads it (:class:`thread.read.source.EventLog`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from thread.storage.mapper import FactMapper
from thread.storage.recorder import LedgerRecorder


class StoredLog:
    """Leaves and events of one store, paged in log order by leaf index."""

    def __init__(self, store: LedgerRecorder, mapper: FactMapper) -> None:
        self._store = store
        self._mapper = mapper

    def size(self) -> int:
        return self._store.tree_size()

    def origin(self) -> str | None:
        return self._store.origin()

    def pages(self, start: int, size: int, topics: Sequence[str] = ()
              ) -> Iterator[list[tuple[int, bytes]]]:
        plaintext, opened = self._mapper.plaintext, self._mapper.opened
        while True:
            if not topics:
                found = self._store.select_states_by_leaf(start, size)
                if found:
                    yield [(position, opened(state)) for position, state in found]
                if len(found) < size:
                    return
                start = found[-1][0] + 1
                continue
            leaves = self._store.select_leaves(start, size)
            if not leaves:
                return
            first, last = leaves[0][1], leaves[-1][1]
            index = {notification: position for position, notification, _ in leaves}
            rows = self._store.select_notifications(first, len(leaves), stop=last,
                                                    topics=self._mapper.topic_tokens(topics))
            page = [(index[row.id], plaintext(row)) for row in rows if row.id in index]
            if page:
                yield page
            if len(leaves) < size:
                return
            start = leaves[-1][0] + 1

    def canonical_of(self, kind: str, key: str) -> dict[int, bytes]:
        plaintext = self._mapper.plaintext
        return {row.originator_version: plaintext(row)
                for row in self._store.select_events(self._mapper.subject_id(kind, key))}

    def exists(self, kind: str, key: str) -> bool:
        return bool(self._store.select_versions([self._mapper.subject_id(kind, key)]))
