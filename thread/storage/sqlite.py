"""The SQLite event store (WAL file): eventsourcing's recorder plus append-only triggers,
source keys and read checks, written under BEGIN IMMEDIATE so concurrent writers queue."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler queues writers
    fcntl = None  # type: ignore[assignment]

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

from thread.errors import NotALedger
from thread.log.subject_map import BUCKET_DEPTH, STRIDE, Head, Sub, bucket_bounds, index_at
from thread.storage.log import (
    CHECKPOINTS_TABLE,
    LEAVES_TABLE,
    MAP_HEADS_TABLE,
    MAP_NODES_TABLE,
    NODES_TABLE,
    TreeLog,
    from_leaves,
    leaf_rows,
    missing_subtree,
    node_rows,
    originator_bytes,
    stored_as_node,
)
from thread.storage.recorder import (
    APPEND_ONLY_MESSAGE,
    EVENTS_TABLE,
    META_TABLE,
    NAME_SETTING,
    READ_ONLY_SETTING,
    SOURCES_TABLE,
    HeldConnection,
    LedgerRecorder,
    LogRow,
    LogTuple,
    SourceLink,
    SourceRecord,
)


class LedgerSQLiteRecorder(SQLiteApplicationRecorder, LedgerRecorder):
    """Events, source keys and metadata in one SQLite file."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        """Refused: an event without its leaf would break the log (see the ledger's record)."""
        self.refuse_bare_insert()

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = EVENTS_TABLE):
        super().__init__(datastore, events_table_name)
        self.log = TreeLog()
        self.held = _Datastore.adopt(datastore)

    def construct_create_table_statements(self) -> list[str]:
        # A BLOB must stay a BLOB: SQL string functions would otherwise turn it into TEXT.
        statements = [
            statement.replace("state BLOB", "state BLOB NOT NULL CHECK (typeof(state) = 'blob')")
            for statement in super().construct_create_table_statements()
        ]
        statements += [
            f"CREATE TABLE IF NOT EXISTS {SOURCES_TABLE} ("
            "source TEXT NOT NULL, record_id TEXT NOT NULL, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "event_hash BLOB NOT NULL, PRIMARY KEY (source, record_id)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} ("
            "name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {LEAVES_TABLE} (position INTEGER PRIMARY KEY, "
            "notification_id INTEGER NOT NULL UNIQUE, hash BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {NODES_TABLE} (level INTEGER NOT NULL, "
            "idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS_TABLE} (size INTEGER PRIMARY KEY, "
            "note TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {MAP_HEADS_TABLE} (size INTEGER NOT NULL, "
            "key BLOB NOT NULL, version INTEGER NOT NULL, head BLOB NOT NULL, "
            "PRIMARY KEY (size, key)) WITHOUT ROWID",
            # Covering: a bucket's heads (a key range, latest at or before a size) and a
            # group's subtrees read from the index alone, not a table lookup per row.
            f"DROP INDEX IF EXISTS {MAP_HEADS_TABLE}_by_key",
            f"CREATE INDEX IF NOT EXISTS {MAP_HEADS_TABLE}_covering ON {MAP_HEADS_TABLE} "
            "(key, size, version, head)",
            f"CREATE TABLE IF NOT EXISTS {MAP_NODES_TABLE} (size INTEGER NOT NULL, "
            "depth INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, "
            "count INTEGER NOT NULL, PRIMARY KEY (size, depth, idx)) WITHOUT ROWID",
            f"DROP INDEX IF EXISTS {MAP_NODES_TABLE}_by_node",
            f"CREATE INDEX IF NOT EXISTS {MAP_NODES_TABLE}_covering ON {MAP_NODES_TABLE} "
            "(depth, idx, size, hash, count)",
        ]
        for table in (self.events_table_name, SOURCES_TABLE, META_TABLE, LEAVES_TABLE,
                      NODES_TABLE, CHECKPOINTS_TABLE, MAP_HEADS_TABLE, MAP_NODES_TABLE):
            for operation in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_refuse_{operation.lower()} "
                    f"BEFORE {operation} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: {operation} on {table} "
                    f"refused'); END"
                )
        return statements

    def insert_ledger_events(
        self,
        stored_events: Sequence[StoredEvent],
        sources: Sequence[SourceRecord],
        reads: Sequence[tuple[UUID, int]],
        leaves: Sequence[bytes],
    ) -> Sequence[int]:
        with self.locked(), self.datastore.transaction(commit=True) as cursor:
            self._check_reads(cursor, reads)
            cursor.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
            first = (cursor.fetchone()[0] or 0) + 1
            cursor.executemany(
                self.insert_events_statement,
                [
                    (s.originator_id.hex if isinstance(s.originator_id, UUID)
                     else s.originator_id, s.originator_version, s.topic, s.state)
                    for s in stored_events
                ],
            )
            cursor.executemany(
                f"INSERT INTO {SOURCES_TABLE} VALUES (?,?,?,?,?)",
                [(s.source, s.record_id, s.originator_id.hex, s.originator_version,
                  s.event_hash) for s in sources],
            )
            # Under BEGIN IMMEDIATE no one else writes, so rowids follow MAX(rowid) in order.
            ids = range(first, first + len(stored_events))
            size = self._tree_size(cursor)
            tree, completed = self.log.extend(
                size, lambda level, index: self._subtree(cursor, level, index), leaves
            )
            cursor.executemany(f"INSERT INTO {LEAVES_TABLE} VALUES (?,?,?)",
                               leaf_rows(size, ids, leaves))
            cursor.executemany(f"INSERT INTO {NODES_TABLE} VALUES (?,?,?)",
                               node_rows(completed))
            self.log.committed(tree)  # forgotten again if the transaction rolls back
            self.log.appended(size, [(originator_bytes(s.originator_id), s.originator_version)
                                     for s in stored_events], leaves)
        return list(ids)

    @contextmanager
    def locked(self) -> Iterator[None]:
        if self.held.connection is not None:
            yield
            return
        self.check_writable()
        with self._in_line(), self.datastore.get_connection(commit=True) as connection:
            try:
                begin = connection.cursor()
                begin.execute("BEGIN IMMEDIATE")
                begin.sqlite_cursor.close()
                with self.held.holding(connection):
                    yield
                connection.commit()
            except sqlite3.IntegrityError as error:
                connection.rollback()
                self.log.forget()
                raise IntegrityError(error) from error
            except sqlite3.OperationalError as error:
                connection.rollback()
                self.log.forget()
                if _refused_write(error):
                    raise self.read_only_error(self._why_read_only(error)) from None
                raise OperationalError(error) from error
            except BaseException:
                connection.rollback()
                self.log.forget()
                raise

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.held.connection is not None:  # a snapshot, or the write lock: one moment
            yield
            return
        with self.datastore.get_connection(commit=False) as connection:
            cursor = connection.cursor()
            try:
                # A deferred BEGIN takes its WAL snapshot at the first read: take it now.
                cursor.execute("BEGIN")
                cursor.execute(f"SELECT COUNT(*) FROM {META_TABLE}")
                with self.held.holding(connection):
                    yield
            finally:
                cursor.sqlite_cursor.close()
                connection.rollback()

    def select_newer(self, after: Sequence[tuple[UUID, int]]) -> list[StoredEvent]:
        found: list[StoredEvent] = []
        with self.datastore.transaction(commit=False) as cursor:
            for start in range(0, len(after), 400):
                chunk = after[start : start + 400]
                cursor.execute(
                    f"WITH k(id, version) AS (VALUES {','.join(['(?,?)'] * len(chunk))}) "
                    f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM k "
                    f"JOIN {self.events_table_name} e ON e.originator_id = k.id AND "
                    "e.originator_version > k.version ORDER BY e.originator_id, "
                    "e.originator_version",
                    [value for ident, version in chunk for value in (ident.hex, version)],
                )
                found += [StoredEvent(originator_id=UUID(row[0]), originator_version=row[1],
                                      topic=row[2], state=_blob(row[3]))
                          for row in cursor.fetchall()]
        return found

    @contextmanager
    def _in_line(self) -> Iterator[None]:
        """Wait for the write lock in line with the other writers of the file.

        SQLite's busy handler polls ever more slowly, so a writer that has waited long
        is overtaken by newcomers again and again (seconds, with four busy writers). A
        lock on a file beside the ledger (``<file>-writer``) wakes waiting writers as
        soon as the last one is done; where it cannot be had, the busy handler decides.
        """
        line = cast(_Datastore, self.datastore).line()
        if line is None:
            yield
            return
        fcntl.flock(line, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(line, fcntl.LOCK_UN)

    @staticmethod
    def _tree_size(cursor: Any) -> int:
        cursor.execute(f"SELECT MAX(position) FROM {LEAVES_TABLE}")
        last = cursor.fetchone()[0]
        return 0 if last is None else int(last) + 1

    @staticmethod
    def _subtree(cursor: Any, level: int, index: int) -> bytes:
        if level == 0:
            cursor.execute(f"SELECT hash FROM {LEAVES_TABLE} WHERE position=?", (index,))
        elif not stored_as_node(level):
            cursor.execute(f"SELECT hash FROM {LEAVES_TABLE} WHERE position >= ? AND "
                           "position < ? ORDER BY position", (index << level, index + 1 << level))
            return from_leaves(level, index, [_blob(row[0]) for row in cursor.fetchall()])
        else:
            cursor.execute(f"SELECT hash FROM {NODES_TABLE} WHERE level=? AND idx=?",
                           (level, index))
        row = cursor.fetchone()
        if row is None:
            raise missing_subtree(level, index)
        return _blob(row[0])

    def tree_size(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            return self._tree_size(cursor)

    def subtree_hash(self, level: int, index: int) -> bytes:
        with self.datastore.transaction(commit=False) as cursor:
            return self._subtree(cursor, level, index)

    def _tuples(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Every row of one query as plain tuples (no row objects: verification and rebuilds
        read every row of the log once)."""
        with self.datastore.transaction(commit=False) as cursor:
            raw = cursor.sqlite_cursor
            raw.row_factory = None
            raw.execute(sql, params)
            return raw.fetchall()

    def select_log(self, start: int, limit: int) -> Sequence[LogTuple]:
        return _log_rows(self._tuples(
            f"SELECT rowid, originator_id, originator_version, topic, state FROM "
            f"{self.events_table_name} WHERE rowid >= ? ORDER BY rowid LIMIT ?", (start, limit)))

    def select_states_by_leaf(self, start: int, limit: int) -> list[tuple[int, bytes | str]]:
        return self._tuples(
            f"SELECT l.position, e.state FROM {LEAVES_TABLE} l JOIN {self.events_table_name} e "
            f"ON e.rowid = l.notification_id WHERE l.position >= ? ORDER BY l.position LIMIT ?",
            (start, limit))

    def select_log_by_leaf(self, start: int, limit: int) -> list[tuple[int, LogRow]]:
        rows = self._tuples(
            f"SELECT l.position, e.rowid, e.originator_id, e.originator_version, e.topic, "
            f"e.state FROM {LEAVES_TABLE} l JOIN {self.events_table_name} e "
            f"ON e.rowid = l.notification_id WHERE l.position >= ? ORDER BY l.position "
            f"LIMIT ?", (start, limit))
        return [(row[0], LogRow(row[1], row[2], row[3], row[4],
                                row[5] if type(row[5]) is bytes else _blob(row[5])))
                for row in rows]

    def select_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        # The subtrees a proof or a page of verification needs are runs of neighbours
        # at each level: one range read per level serves them.
        levels: dict[int, list[int]] = {}
        for level, index in keys:
            levels.setdefault(level, []).append(index)
        wanted = set(keys)
        found: dict[tuple[int, int], bytes] = {}
        with self.datastore.transaction(commit=False) as cursor:
            for level, indexes in levels.items():
                for low, high in _runs(sorted(indexes)):
                    cursor.execute(
                        f"SELECT idx, hash FROM {NODES_TABLE} WHERE level=? AND idx BETWEEN ? "
                        "AND ?", (level, low, high),
                    )
                    found.update(((level, int(r[0])), _blob(r[1])) for r in cursor.fetchall()
                                 if (level, r[0]) in wanted)
        return found

    def select_leaves(self, start: int, limit: int) -> list[tuple[int, int, bytes]]:
        rows = self._tuples(f"SELECT position, notification_id, hash FROM {LEAVES_TABLE} "
                            "WHERE position >= ? ORDER BY position LIMIT ?", (start, limit))
        if all(type(row[2]) is bytes for row in rows):
            return rows
        return [(r[0], r[1], r[2] if type(r[2]) is bytes else _blob(r[2])) for r in rows]

    def leaf_position(self, originator_id: UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT l.position FROM {self.events_table_name} e JOIN {LEAVES_TABLE} l "
                "ON l.notification_id = e.rowid WHERE e.originator_id=? AND "
                "e.originator_version=?", (originator_id.hex, version),
            )
            row = cursor.fetchone()
        return None if row is None else int(row[0])

    def select_by_aggregate(
        self, after: tuple[UUID, int] | None, limit: int
    ) -> list[tuple[Notification, int]]:
        where, params = "", list[object]([limit])
        if after is not None:
            where = "WHERE (originator_id, originator_version) > (?, ?) "
            params = [after[0].hex, after[1], limit]
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT rowid, * FROM {self.events_table_name} {where}"
                "ORDER BY originator_id, originator_version LIMIT ?", params,
            )
            return [
                (Notification(id=row["rowid"], originator_id=UUID(row["originator_id"]),
                              originator_version=row["originator_version"], topic=row["topic"],
                              state=_blob(row["state"])), int(row["rowid"]))
                for row in cursor.fetchall()
            ]

    def select_chains(self, after: tuple[UUID | str, int] | None, limit: int
                      ) -> Sequence[LogTuple]:
        where, params = "", list[object]([limit])
        if after is not None:
            ident = after[0].hex if isinstance(after[0], UUID) else after[0]
            where = "WHERE (originator_id, originator_version) > (?, ?) "
            params = [ident, after[1], limit]
        return _log_rows(self._tuples(
            f"SELECT rowid, originator_id, originator_version, topic, state FROM "
            f"{self.events_table_name} {where}ORDER BY originator_id, originator_version "
            "LIMIT ?", params))

    def rank_of(self, notification_id: int) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {self.events_table_name} WHERE rowid < ?",
                           (notification_id,))
            return int(cursor.fetchone()[0])

    def insert_checkpoint(self, size: int, note: str, heads: Sequence[Head] = (),
                          nodes: Mapping[tuple[int, int], Sub] | None = None) -> None:
        with self._writing(), self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"INSERT INTO {CHECKPOINTS_TABLE} VALUES (?,?)", (size, note))
            cursor.executemany(f"INSERT INTO {MAP_HEADS_TABLE} VALUES (?,?,?,?)",
                               [(size, h.key, h.version, h.head) for h in heads])
            cursor.executemany(f"INSERT INTO {MAP_NODES_TABLE} VALUES (?,?,?,?,?)",
                               [(size, depth, index, sub.hash, sub.subjects)
                                for (depth, index), sub in (nodes or {}).items()])

    def select_map_changes(self, start: int, end: int) -> list[tuple[UUID, int, bytes]]:
        rows = self._tuples(
            f"SELECT e.originator_id, e.originator_version, l.hash FROM {LEAVES_TABLE} l "
            f"JOIN {self.events_table_name} e ON e.rowid = l.notification_id "
            "WHERE l.position >= ? AND l.position < ? ORDER BY l.position", (start, end))
        return [(UUID(row[0]), row[1], _blob(row[2])) for row in rows]

    def select_map_buckets(self, indexes: Sequence[int], size: int) -> dict[int, list[Head]]:
        found: dict[int, dict[bytes, Head]] = {}
        with self.datastore.transaction(commit=False) as cursor:
            raw = cursor.sqlite_cursor
            raw.row_factory = None
            for start in range(0, len(indexes), 400):
                chunk = indexes[start:start + 400]
                bounds = [bound for index in chunk for bound in bucket_bounds(index)]
                raw.execute(
                    f"WITH r(lo, hi) AS (VALUES {','.join(['(?,?)'] * len(chunk))}) "
                    f"SELECT h.key, h.version, h.head FROM r CROSS JOIN {MAP_HEADS_TABLE} h "
                    "WHERE h.key >= r.lo AND h.key < r.hi AND h.size <= ? ORDER BY h.key, h.size",
                    (*bounds, size))
                for key, version, head in raw.fetchall():
                    key = _blob(key)
                    found.setdefault(index_at(key, BUCKET_DEPTH), {})[key] = Head(
                        key, version, _blob(head))
        return {index: list(heads.values()) for index, heads in found.items()}

    def select_map_nodes(self, keys: Sequence[tuple[int, int]], size: int
                         ) -> dict[tuple[int, int], Sub]:
        found: dict[tuple[int, int], Sub] = {}
        with self.datastore.transaction(commit=False) as cursor:
            raw = cursor.sqlite_cursor
            raw.row_factory = None
            for depth, index in keys:
                raw.execute(
                    f"SELECT hash, count FROM {MAP_NODES_TABLE} WHERE depth=? AND idx=? AND "
                    "size <= ? ORDER BY size DESC LIMIT 1", (depth, index, size))
                row = raw.fetchone()
                if row is not None and row[1]:
                    found[(depth, index)] = Sub(_blob(row[0]), row[1])
        return found

    def select_map_groups(self, depth: int, groups: Sequence[int], size: int
                          ) -> dict[int, Sub]:
        found: dict[int, Sub] = {}
        with self.datastore.transaction(commit=False) as cursor:
            raw = cursor.sqlite_cursor
            raw.row_factory = None
            for start in range(0, len(groups), 400):
                chunk = groups[start:start + 400]
                bounds = [bound for group in chunk
                          for bound in (group << STRIDE, (group + 1) << STRIDE)]
                raw.execute(
                    f"WITH r(lo, hi) AS (VALUES {','.join(['(?,?)'] * len(chunk))}) "
                    f"SELECT n.idx, n.hash, n.count FROM r CROSS JOIN {MAP_NODES_TABLE} n "
                    "WHERE n.depth = ? AND n.idx >= r.lo AND n.idx < r.hi AND n.size <= ? "
                    "ORDER BY n.idx, n.size", (*bounds, depth, size))
                for index, digest, count in raw.fetchall():
                    found[index] = Sub(_blob(digest), count)
        return {index: sub for index, sub in found.items() if sub.subjects}

    def count_map_rows(self, after: int) -> dict[int, int]:
        counts: dict[int, int] = {}
        with self.datastore.transaction(commit=False) as cursor:
            for table in (MAP_HEADS_TABLE, MAP_NODES_TABLE):
                cursor.execute(f"SELECT size, COUNT(*) FROM {table} WHERE size > ? GROUP BY size",
                               (after,))
                for size, count in cursor.fetchall():
                    counts[int(size)] = counts.get(int(size), 0) + int(count)
        return counts

    def select_map_rows(self, size: int) -> tuple[list[Head], dict[tuple[int, int], Sub]]:
        with self.datastore.transaction(commit=False) as cursor:
            raw = cursor.sqlite_cursor
            raw.row_factory = None
            raw.execute(f"SELECT key, version, head FROM {MAP_HEADS_TABLE} WHERE size=? "
                        "ORDER BY key", (size,))
            heads = [Head(_blob(r[0]), r[1], _blob(r[2])) for r in raw.fetchall()]
            raw.execute(f"SELECT depth, idx, hash, count FROM {MAP_NODES_TABLE} WHERE size=?",
                        (size,))
            nodes = {(r[0], r[1]): Sub(_blob(r[2]), r[3]) for r in raw.fetchall()}
        return heads, nodes

    def select_checkpoints(self) -> list[tuple[int, str]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT size, note FROM {CHECKPOINTS_TABLE} ORDER BY size")
            return [(int(r[0]), str(r[1])) for r in cursor.fetchall()]

    def _check_reads(self, cursor: Any, reads: Sequence[tuple[UUID, int]]) -> None:
        for originator_id, version in reads:
            cursor.execute(
                f"SELECT MAX(originator_version) FROM {self.events_table_name} "
                "WHERE originator_id=?",
                (originator_id.hex,),
            )
            current = cursor.fetchone()[0] or 0
            if current != version:
                raise sqlite3.IntegrityError(
                    f"aggregate {originator_id} is at version {current}, not {version}"
                )

    def select_sources(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SourceRecord]:
        found: dict[tuple[str, str], SourceRecord] = {}
        with self.datastore.transaction(commit=False) as cursor:
            for start in range(0, len(keys), 400):
                chunk = keys[start : start + 400]
                condition = " OR ".join(["(source=? AND record_id=?)"] * len(chunk))
                params = [part for key in chunk for part in key]
                cursor.execute(f"SELECT * FROM {SOURCES_TABLE} WHERE {condition}", params)
                for row in cursor.fetchall():
                    record = SourceRecord(
                        row["source"], row["record_id"],
                        UUID(row["originator_id"]), row["originator_version"],
                        _blob(row["event_hash"]),
                    )
                    found[(record.source, record.record_id)] = record
        return found

    def select_source_links(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SourceLink]:
        found: dict[tuple[str, str], SourceLink] = {}
        for start in range(0, len(keys), 400):
            chunk = keys[start : start + 400]
            condition = " OR ".join(["(s.source=? AND s.record_id=?)"] * len(chunk))
            for link in self._source_links(condition, [part for key in chunk for part in key]):
                found[(link.record.source, link.record.record_id)] = link
        return found

    def select_source_page(self, after: tuple[str, str] | None, limit: int) -> list[SourceLink]:
        condition, params = "1", list[object]()
        if after is not None:
            condition, params = "(s.source, s.record_id) > (?, ?)", [*after]
        return self._source_links(f"{condition} ORDER BY s.source, s.record_id LIMIT ?",
                                  [*params, limit])

    def count_sources(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {SOURCES_TABLE}")
            return int(cursor.fetchone()[0])

    def _source_links(self, condition: str, params: Sequence[object]) -> list[SourceLink]:
        with self.datastore.transaction(commit=False) as cursor:
            raw = cursor.sqlite_cursor
            raw.row_factory = None
            raw.execute(
                f"SELECT s.source, s.record_id, s.originator_id, s.originator_version, "
                f"s.event_hash, e.rowid, e.originator_id, e.originator_version, e.topic, e.state "
                f"FROM {SOURCES_TABLE} s "
                f"LEFT JOIN {self.events_table_name} e ON e.originator_id = s.originator_id AND "
                f"e.originator_version = s.originator_version WHERE {condition}", params,
            )
            rows = raw.fetchall()
        return [_source_link(row) for row in rows]

    def select_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        versions: dict[UUID, int] = {}
        with self.datastore.transaction(commit=False) as cursor:
            for start in range(0, len(originator_ids), 500):
                chunk = [ident.hex for ident in originator_ids[start : start + 500]]
                # One index seek per id: "IN (...) GROUP BY" reads every version of each.
                cursor.execute(
                    f"WITH k(id) AS (VALUES {','.join(['(?)'] * len(chunk))}) "
                    f"SELECT id, (SELECT MAX(originator_version) FROM {self.events_table_name} "
                    "WHERE originator_id = k.id) FROM k",
                    chunk,
                )
                versions.update((UUID(row[0]), row[1]) for row in cursor.fetchall()
                                if row[1] is not None)
        return versions

    def get_meta(self, name: str) -> str | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT value FROM {META_TABLE} WHERE name=?", (name,))
            row = cursor.fetchone()
        return None if row is None else str(row[0])

    def put_meta(self, name: str, value: str) -> str:
        with self._writing(), self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"INSERT OR IGNORE INTO {META_TABLE} VALUES (?,?)", (name, value))
        stored = self.get_meta(name)
        assert stored is not None
        return stored

    def count_events(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {self.events_table_name}")
            return int(cursor.fetchone()[0])

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write, refused in one line when the file cannot be written."""
        self.check_writable()
        try:
            yield
        except OperationalError as error:
            cause = error.__cause__
            if isinstance(cause, sqlite3.OperationalError) and _refused_write(cause):
                raise self.read_only_error(self._why_read_only(cause)) from None
            raise

    def _why_read_only(self, error: sqlite3.Error) -> str:
        path = self.datastore.pool.db_name
        return (read_only_reason(path) if not path.startswith("file:") else None) or str(error)


def read_only_reason(path: str) -> str | None:
    """Why this process cannot write the ledger file at ``path``, or None if it can.

    A file in WAL mode is written together with its ``-wal`` and ``-shm`` files,
    so its directory must be writable too.
    """
    file = Path(path).resolve()
    directory = file.parent
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    except OSError:
        pass
    effective = os.access in os.supports_effective_ids
    if file.exists() and not os.access(file, os.W_OK, effective_ids=effective):
        return "the file is not writable"
    if not os.access(directory, os.W_OK | os.X_OK, effective_ids=effective):
        return f"its directory {directory} is not writable"
    return None


def read_only_database(path: str) -> str:
    """The SQLite URI that reads the ledger file at ``path`` without writing beside it.

    When a writer has the file open (its ``-shm`` exists), read through that shared
    WAL index, so its commits are seen; otherwise read the file as it is
    (``immutable``), creating no ``-wal`` or ``-shm`` file next to it.
    """
    uri = "file:" + quote(str(Path(path).resolve()))
    if Path(f"{path}-shm").exists():
        shared = f"{uri}?mode=ro"
        try:
            connection = sqlite3.connect(shared, uri=True)
            try:
                connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return shared
            finally:
                connection.close()
        except sqlite3.Error:
            pass
    return f"{uri}?immutable=1"


def check_ledger_file(path: str, database: str) -> None:
    """Refuse a file that holds no ledger (empty, not SQLite, or without ledger tables)."""
    if Path(path).stat().st_size == 0:
        raise NotALedger(f"{Path(path).resolve()} is not a ledger: the file is empty")
    try:
        connection = sqlite3.connect(database, uri=True)
        try:
            row = connection.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                (EVENTS_TABLE,)).fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise NotALedger(f"{Path(path).resolve()} is not a ledger: {error}") from None
    if not row[0]:
        raise NotALedger(f"{Path(path).resolve()} is not a ledger: an SQLite database "
                         f"without the ledger's tables")


def _refused_write(error: sqlite3.Error) -> bool:
    """Whether SQLite refused a write because the file (or its directory) is read-only."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) or (
        "readonly database" in str(error))


class _TolerantPool(SQLiteConnectionPool):
    """Connections that read a TEXT value in a BLOB column back as its exact bytes.

    Editing a row with SQL string functions turns its BLOB into TEXT; reading
    that must not crash verification, it must return the edited bytes so the
    chain and the log can say which event was changed.
    """

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection._sqlite_conn.text_factory = _text
        return connection


# partial() of the str type decodes in C, so every text read stays as fast as the default.
_text = partial(str, encoding="utf-8", errors="surrogateescape")


def _runs(indexes: list[int], gap: int = 64) -> list[tuple[int, int]]:
    """Sorted indexes as (first, last) ranges, splitting where they lie far apart."""
    runs: list[tuple[int, int]] = []
    for index in indexes:
        if runs and index - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def _source_link(row: Sequence[Any]) -> SourceLink:
    """A source record and the event it names, from one joined row, whatever an insider
    stored in it: a value that cannot name an event (not an aggregate id, not a version)
    is read as one that names none (the nil id, version 0)."""
    source, record_id, originator, version, digest, rowid, *event = row
    try:
        aggregate = UUID(str(originator))
    except ValueError:
        aggregate = UUID(int=0)
    record = SourceRecord(str(source), str(record_id), aggregate,
                          version if type(version) is int else 0,
                          _blob(digest) if isinstance(digest, bytes | str) else b"")
    if rowid is None:
        return SourceLink(record, None)
    return SourceLink(record, LogRow(rowid, event[0], event[1], event[2], _blob(event[3])))


def _log_rows(rows: list[Any]) -> list[LogTuple]:
    """Rows (rowid, originator id, version, topic, state) as verification reads them: as
    SQLite gives them, unless someone rewrote a state as text."""
    if all(type(row[4]) is bytes for row in rows):
        return rows
    return [row if type(row[4]) is bytes else (*row[:4], _blob(row[4])) for row in rows]


def _blob(value: bytes | str) -> bytes:
    """A BLOB column's bytes, also when it was rewritten as TEXT."""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


class _Datastore(SQLiteDatastore):
    """Hands a thread that holds the write transaction its connection, not a pooled one."""

    held: HeldConnection[SQLiteConnection]
    _line: int | None  # the descriptor of the file writers queue on (-1: none)

    @staticmethod
    def adopt(datastore: SQLiteDatastore) -> HeldConnection[SQLiteConnection]:
        """Make ``datastore`` one of these (once); its held connection."""
        if not isinstance(datastore, _Datastore):
            datastore.__class__ = _Datastore
            assert isinstance(datastore, _Datastore)
            datastore.held = HeldConnection()
            datastore._line = None
        return datastore.held

    def line(self) -> int | None:
        """The open file writers of this ledger queue on, or None where there is none."""
        if self._line is None:
            path = self.pool.db_name
            self._line = -1
            if fcntl is not None and not path.startswith("file:"):
                with suppress(OSError):
                    self._line = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT, 0o644)
        return None if self._line < 0 else self._line

    def close(self) -> None:
        if self._line is not None and self._line >= 0:
            os.close(self._line)
        self._line = None
        super().close()

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        held = self.held.connection
        if held is None:
            with super().transaction(commit=commit) as cursor:
                yield cursor
            return
        cursor = held.cursor()
        try:
            yield cursor
        finally:
            cursor.sqlite_cursor.close()

    @contextmanager
    def get_connection(self, *, commit: bool) -> Iterator[SQLiteConnection]:
        held = self.held.connection
        if held is None:
            with super().get_connection(commit=commit) as connection:
                yield connection
        else:
            yield held


class Factory(SQLiteFactory):
    """Selected by ``PERSISTENCE_MODULE=thread.storage.sqlite``."""

    application_recorder_class = LedgerSQLiteRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        pool.__class__ = _TolerantPool
        self.read_only = self.env.get(READ_ONLY_SETTING) or None
        if self.read_only is not None:
            pool.is_journal_mode_wal = True  # reading never switches the file's journal mode

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        assert isinstance(recorder, LedgerSQLiteRecorder)
        recorder.name = self.env.get(NAME_SETTING) or self.datastore.pool.db_name
        recorder.read_only = self.read_only
        return recorder
