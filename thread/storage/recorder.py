"""What the ledger needs from a store beyond eventsourcing's application recorder."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Generic, NamedTuple, NoReturn, TypeVar
from uuid import UUID, uuid4, uuid5

from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent

from thread.errors import LedgerError, ReadOnlyLedger
from thread.log.subject_map import Head, Sub
from thread.storage.log import TreeLog, from_leaves, stored_as_node

#: Table names, the same on every backend.
EVENTS_TABLE = "ledger_events"
SOURCES_TABLE = "ledger_sources"
META_TABLE = "ledger_meta"

APPEND_ONLY_MESSAGE = "ledger rows are append-only"

#: Settings bootstrap passes to a store: why this process may only read the ledger
#: (absent or empty: it may write), and how messages name the ledger.
READ_ONLY_SETTING = "THREAD_LEDGER_READ_ONLY"
NAME_SETTING = "THREAD_LEDGER_NAME"

#: Names the origins of ledgers created before the origin was fixed at creation.
_LEGACY_ORIGINS = UUID("6f1c2a8e-3d4b-5e6f-8a9b-0c1d2e3f4a5b")


def new_origin() -> str:
    """A fresh log name for a ledger being created."""
    return f"thread-ledger/{uuid4()}"


def legacy_origin(first_leaf: bytes) -> str:
    """The origin of a ledger made before origins were fixed at creation.

    It follows from the log's first leaf, so byte-identical copies agree on it
    without writing anything, and the write that finally stores it stores this.
    """
    return f"thread-ledger/{uuid5(_LEGACY_ORIGINS, first_leaf.hex())}"


#: A stored event as verification reads it in bulk: (row id, originator id, version, topic,
#: stored bytes), a plain tuple (a LogRow is one too).
LogTuple = tuple[int, "UUID | str", int, str, bytes]


class LogRow(NamedTuple):
    """A stored event as verification reads it: cheap to build, a million times over."""

    id: int
    originator_id: UUID | str
    originator_version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class SourceRecord:
    """Which event a source record became: the key of idempotent ingest."""

    source: str
    record_id: str
    originator_id: UUID
    originator_version: int
    event_hash: bytes


class SourceLink(NamedTuple):
    """A stored source record and the event row it names (None: no event has that
    aggregate id and version), read together so the record is never trusted alone."""

    record: SourceRecord
    event: LogRow | None


C = TypeVar("C")


class HeldConnection(Generic[C]):
    """The connection of the transaction this thread holds, if it holds one.

    A datastore hands it out instead of a pooled connection, so that every read
    and write the thread makes inside :meth:`LedgerRecorder.locked` (or every read
    inside :meth:`LedgerRecorder.snapshot`) is part of that transaction; other
    threads keep using the pool.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def connection(self) -> C | None:
        """This thread's transaction connection, or None outside one."""
        held: C | None = getattr(self._local, "connection", None)
        return held

    @contextmanager
    def holding(self, connection: C) -> Iterator[None]:
        """Hand out ``connection`` to this thread for the duration of the block."""
        self._local.connection = connection
        try:
            yield
        finally:
            self._local.connection = None


class LedgerRecorder(ApplicationRecorder, ABC):
    """An application recorder that also keeps source keys, read checks and ledger metadata."""

    #: How messages name the ledger (a file's path, a URL without its password).
    name: str = "the ledger"
    #: Why this process may only read the ledger, or None when it may write.
    read_only: str | None = None
    #: This writer's view of the Merkle log (and of the heads its commits moved).
    log: TreeLog

    def check_writable(self) -> None:
        """Refuse a write up front when the ledger was opened read-only."""
        if self.read_only is not None:
            raise self.read_only_error(self.read_only)

    def read_only_error(self, why: str) -> ReadOnlyLedger:
        """The one-line error for a write this process may not make."""
        return ReadOnlyLedger(f"ledger {self.name} is read-only: {why}; nothing was written")

    def origin(self) -> str | None:
        """The log's name: as stored, else (a ledger made before origins were fixed at
        creation) the one its first leaf implies; None for such a ledger with no events."""
        stored = self.get_meta("origin")
        if stored is not None:
            return stored
        first = self.select_leaves(0, 1)
        return legacy_origin(first[0][2]) if first else None

    def refuse_bare_insert(self) -> NoReturn:
        """Events enter only with their Merkle leaves (:meth:`insert_ledger_events`)."""
        raise LedgerError(
            "events are appended only with their leaves in the global log: record facts "
            "through Ledger.record() or Ledger.batch(); a bare insert_events() is refused"
        )

    @abstractmethod
    def insert_ledger_events(
        self,
        stored_events: Sequence[StoredEvent],
        sources: Sequence[SourceRecord],
        reads: Sequence[tuple[UUID, int]],
        leaves: Sequence[bytes],
    ) -> Sequence[int]:
        """Insert events, their Merkle leaves (one per event, in order) and source keys in
        one transaction, after checking that every aggregate in ``reads`` is still at the
        version the caller saw (else IntegrityError). Returns the notification ids."""

    @abstractmethod
    def locked(self) -> AbstractContextManager[None]:
        """One write transaction that holds the ledger's write lock from its start.

        Inside it, every read and write this thread makes through the store is part
        of the transaction: reads see the latest commits and what the transaction
        wrote so far, :meth:`insert_ledger_events` may be called many times (a file
        imported in chunks), and no other writer commits in between. It commits when
        the block ends and rolls back on any error; nested, it joins the open one.
        """

    def lock_timed_out(self, error: BaseException) -> bool:
        """Whether ``error`` is a write that gave up waiting for the write lock (another
        writer held it longer than the store waits: a large import, say)."""
        return False

    def select_newer(self, after: Sequence[tuple[UUID, int]]) -> list[StoredEvent]:
        """The events of each aggregate in ``after`` above the version given, in aggregate
        and version order: what a writer holding copies at those versions has not seen."""
        return [event for originator_id, version in after
                for event in self.select_events(originator_id, gt=version)]

    @abstractmethod
    def select_sources(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SourceRecord]:
        """The source keys among ``keys`` that are already recorded."""

    @abstractmethod
    def select_source_links(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SourceLink]:
        """The source keys among ``keys`` that are recorded, each with the event it names."""

    @abstractmethod
    def select_source_page(self, after: tuple[str, str] | None, limit: int) -> list[SourceLink]:
        """Stored source records in (source, record id) order after ``after``, each with the
        event it names: every record, a page at a time."""

    @abstractmethod
    def count_sources(self) -> int:
        """How many source records the store holds."""

    @abstractmethod
    def select_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The current version of each aggregate among ``originator_ids`` that exists."""

    @abstractmethod
    def tree_size(self) -> int:
        """How many leaves the global log holds."""

    @abstractmethod
    def subtree_hash(self, level: int, index: int) -> bytes:
        """The stored hash of perfect subtree ``index`` at ``level`` (level 0: a leaf)."""

    @abstractmethod
    def select_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of the subtrees ``(level, index)`` above the leaves."""

    def select_log(self, start: int, limit: int) -> Sequence[LogTuple]:
        """Rows in commit order from notification id ``start``, as cheaply as the store can
        (the originator id may come back as text)."""
        return [LogRow(row.id, row.originator_id, row.originator_version, row.topic, row.state)
                for row in self.select_notifications(start, limit)]

    def select_states_by_leaf(self, start: int, limit: int) -> list[tuple[int, bytes | str]]:
        """The stored bytes of events with their leaf index, in log order from leaf
        ``start``: what a rebuild reads."""
        return [(position, row.state) for position, row in self.select_log_by_leaf(start, limit)]

    def select_log_by_leaf(self, start: int, limit: int) -> list[tuple[int, LogRow]]:
        """Events with their leaf index, in log order from leaf ``start``: the log as the
        read side pages it."""
        leaves = self.select_leaves(start, limit)
        if not leaves:
            return []
        index = {notification: position for position, notification, _ in leaves}
        rows = self.select_log(leaves[0][1], leaves[-1][1] - leaves[0][1] + 1)
        return [(index[row[0]], LogRow._make(row)) for row in rows if row[0] in index]

    def select_subtrees(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Stored hashes of the subtrees ``(level, index)``, leaves included."""
        found = self.select_nodes([key for key in keys if stored_as_node(key[0])])
        for level, index in keys:
            if not stored_as_node(level):
                start, count = index << level, 1 << level
                leaves = [digest for position, _, digest in self.select_leaves(start, count)
                          if start <= position < start + count]
                if len(leaves) == count:
                    found[(level, index)] = leaves[0] if level == 0 else from_leaves(
                        level, index, leaves)
        return found

    @abstractmethod
    def select_leaves(self, start: int, limit: int) -> list[tuple[int, int, bytes]]:
        """Stored leaves (position, notification id, hash) from ``start``, in order."""

    @abstractmethod
    def leaf_position(self, originator_id: UUID, version: int) -> int | None:
        """The log position of an aggregate's event, or None if it is not in the log."""

    @abstractmethod
    def select_by_aggregate(
        self, after: tuple[UUID, int] | None, limit: int
    ) -> list[tuple[Notification, int]]:
        """Rows in (aggregate id, version) order after ``after``, each with its notification
        id, so chains can be checked one aggregate at a time in constant memory."""

    def select_chains(self, after: tuple[UUID | str, int] | None, limit: int
                      ) -> Sequence[LogTuple]:
        """:meth:`select_by_aggregate` as cheaply as the store can (the originator id may
        come back as text, and ``after`` may name it so)."""
        start = None if after is None else (
            after[0] if isinstance(after[0], UUID) else UUID(after[0]), after[1])
        return [LogRow(notification, row.originator_id, row.originator_version, row.topic,
                       row.state) for row, notification in self.select_by_aggregate(start, limit)]

    @abstractmethod
    def rank_of(self, notification_id: int) -> int:
        """How many events were committed before the one with ``notification_id``."""

    @abstractmethod
    def insert_checkpoint(self, size: int, note: str, heads: Sequence[Head] = (),
                          nodes: Mapping[tuple[int, int], Sub] | None = None) -> None:
        """Store a signed checkpoint, with what it changed in the subject map, at once."""

    @abstractmethod
    def select_map_changes(self, start: int, end: int) -> list[tuple[UUID, int, bytes]]:
        """(aggregate id, version, leaf hash) of the leaves from ``start`` to ``end``, in
        log order: what moved the subjects' heads between two checkpoints."""

    def select_map_bucket(self, index: int, size: int) -> list[Head]:
        """The subject map's heads in bucket ``index`` as of checkpoint ``size`` (each key's
        latest row at or before it), sorted by key."""
        return self.select_map_buckets([index], size).get(index, [])

    @abstractmethod
    def select_map_buckets(self, indexes: Sequence[int], size: int) -> dict[int, list[Head]]:
        """:meth:`select_map_bucket` for many buckets at once (empty ones left out)."""

    @abstractmethod
    def select_map_nodes(self, keys: Sequence[tuple[int, int]], size: int
                         ) -> dict[tuple[int, int], Sub]:
        """The subject map's stored subtrees ``(depth, index)`` as of checkpoint ``size``;
        empty ones are left out."""

    @abstractmethod
    def select_map_groups(self, depth: int, groups: Sequence[int], size: int
                          ) -> dict[int, Sub]:
        """The subject map's stored subtrees at ``depth`` under each of ``groups`` (indexes
        STRIDE levels up: sixteen each), as of checkpoint ``size``, by index; one range read
        per group; empty ones are left out."""

    @abstractmethod
    def select_map_rows(self, size: int) -> tuple[list[Head], dict[tuple[int, int], Sub]]:
        """The heads and subtrees written with the checkpoint of ``size``, exactly."""

    @abstractmethod
    def count_map_rows(self, after: int) -> dict[int, int]:
        """How many map rows (heads and subtrees) each size above ``after`` has."""

    @abstractmethod
    def select_checkpoints(self) -> list[tuple[int, str]]:
        """Every stored checkpoint (size, note), oldest first."""

    @abstractmethod
    def get_meta(self, name: str) -> str | None:
        """A ledger setting written when the ledger was created."""

    @abstractmethod
    def put_meta(self, name: str, value: str) -> str:
        """Write a setting unless present; return the value that is stored."""

    @abstractmethod
    def count_events(self) -> int:
        """How many events the store holds."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[None]:
        """Until the block ends, every read this thread makes sees the ledger as of one
        moment (one read transaction), however many writers commit meanwhile.

        Only for reading. Opened inside another snapshot or inside :meth:`locked`, it is
        that transaction, which already sees one moment.
        """
