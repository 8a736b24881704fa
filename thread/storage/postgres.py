"""The PostgreSQL event store: eventsourcing's recorder plus append-only triggers,
source keys and read checks, written under the table lock that orders commits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment, EnvType
from psycopg import Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier, Literal

from thread.errors import ConfigurationError, NotALedger
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

#: Advisory lock key that serialises schema creation ("thread" in ASCII).
_SCHEMA_LOCK = 0x746872656164
#: Tables that refuse changes, and the triggers a complete schema has (change and truncate).
_APPEND_ONLY = (SOURCES_TABLE, META_TABLE, LEAVES_TABLE, NODES_TABLE, CHECKPOINTS_TABLE,
                MAP_HEADS_TABLE, MAP_NODES_TABLE)
_TRIGGERS = 2 * (len(_APPEND_ONLY) + 1) + 1
#: Channel on which each commit of events is announced, so read models can follow live.
NOTIFY_CHANNEL = "thread_ledger"


class LedgerPostgresRecorder(PostgresApplicationRecorder, LedgerRecorder):
    """Events, source keys and metadata in one PostgreSQL schema."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        """Refused: an event without its leaf would break the log (see the ledger's record)."""
        self.refuse_bare_insert()

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = EVENTS_TABLE):
        super().__init__(datastore, events_table_name=events_table_name)
        self.log = TreeLog()
        self.held = _Datastore.adopt(datastore)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "source text NOT NULL, record_id text NOT NULL, "
                "originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
                "event_hash bytea NOT NULL, PRIMARY KEY (source, record_id))"
            ).format(schema=schema, table=Identifier(SOURCES_TABLE)),
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "name text PRIMARY KEY, value text NOT NULL)"
            ).format(schema=schema, table=Identifier(META_TABLE)),
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} (position bigint PRIMARY KEY, "
                "notification_id bigint NOT NULL UNIQUE, hash bytea NOT NULL)"
            ).format(schema=schema, table=Identifier(LEAVES_TABLE)),
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} (level int NOT NULL, "
                "idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx))"
            ).format(schema=schema, table=Identifier(NODES_TABLE)),
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} (size bigint PRIMARY KEY, "
                "note text NOT NULL)"
            ).format(schema=schema, table=Identifier(CHECKPOINTS_TABLE)),
            *(statement for table, columns, key, by, index in (
                (MAP_HEADS_TABLE, "size bigint NOT NULL, key bytea NOT NULL, version bigint "
                 "NOT NULL, head bytea NOT NULL", "size, key", "key", "key, size"),
                (MAP_NODES_TABLE, "size bigint NOT NULL, depth int NOT NULL, idx int NOT NULL, "
                 "hash bytea NOT NULL, count bigint NOT NULL", "size, depth, idx", "node",
                 "depth, idx, size"),
            ) for statement in (
                SQL("CREATE TABLE IF NOT EXISTS {schema}.{table} ({columns}, PRIMARY KEY "
                    "({key}))").format(schema=schema, table=Identifier(table),
                                       columns=SQL(columns), key=SQL(key)),
                SQL("CREATE INDEX IF NOT EXISTS {name} ON {schema}.{table} ({index})").format(
                    name=Identifier(f"{table}_by_{by}"), schema=schema,
                    table=Identifier(table), index=SQL(index)),
            )),
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.ledger_refuse_change() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{message}: % on % refused', "
                "TG_OP, TG_TABLE_NAME; END $$"
            ).format(schema=schema, message=SQL(APPEND_ONLY_MESSAGE)),
        ]
        for table in (self.events_table_name, *_APPEND_ONLY):
            for name, when, level in (
                ("refuse_change", "UPDATE OR DELETE", "ROW"),
                ("refuse_truncate", "TRUNCATE", "STATEMENT"),
            ):
                self.sql_create_statements.append(
                    SQL(
                        "CREATE OR REPLACE TRIGGER {trigger} BEFORE {when} ON {schema}.{table} "
                        "FOR EACH {level} EXECUTE FUNCTION {schema}.ledger_refuse_change()"
                    ).format(
                        trigger=Identifier(f"{table}_{name}"), when=SQL(when),
                        schema=schema, table=Identifier(table), level=SQL(level),
                    )
                )
        # One notice per statement, not per row: a COPY of thousands of events wakes
        # the read models once.
        self.sql_create_statements += [
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.ledger_announce() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify({channel}, TG_TABLE_SCHEMA); "
                "RETURN NULL; END $$"
            ).format(schema=schema, channel=Literal(NOTIFY_CHANNEL)),
            SQL(
                "CREATE OR REPLACE TRIGGER {trigger} AFTER INSERT ON {schema}.{table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION {schema}.ledger_announce()"
            ).format(trigger=Identifier(f"{self.events_table_name}_announce"), schema=schema,
                     table=Identifier(self.events_table_name)),
        ]
        self.sql_sources = SQL(
            "INSERT INTO {schema}.{table} SELECT * FROM "
            "unnest(%s::text[], %s::text[], %s::uuid[], %s::bigint[], %s::bytea[])"
        ).format(schema=schema, table=Identifier(SOURCES_TABLE))
        self.sql_copy = SQL(
            "COPY {schema}.{table} (originator_id, originator_version, topic, state) FROM STDIN"
        ).format(schema=schema, table=Identifier(self.events_table_name))
        self.sql_last_id = SQL(
            "SELECT currval(pg_get_serial_sequence({name}, 'notification_id')) AS last"
        ).format(name=Literal(f"{self.datastore.schema}.{self.events_table_name}"))
        self.sql_version = SQL(
            "SELECT MAX(originator_version) AS v FROM {schema}.{table} WHERE originator_id=%s"
        ).format(schema=schema, table=Identifier(self.events_table_name))

    def create_table(self) -> None:
        """Create what is missing, one process at a time: concurrent DDL deadlocks."""
        schema = self.datastore.schema
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            cursor.execute(
                "SELECT count(*) AS n FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace s ON s.oid = c.relnamespace "
                "WHERE s.nspname = %s AND (t.tgname LIKE %s OR t.tgname LIKE %s)",
                (schema, "%\\_refuse\\_%", "%\\_announce"),
            )
            row = cursor.fetchone()
            if not row or row["n"] < _TRIGGERS:
                for statement in self.sql_create_statements:
                    text = statement.as_string()
                    if "CREATE TYPE" in text:
                        cursor.execute("SELECT to_regtype(%s) AS t",
                                       (f"{schema}.{self.stored_event_type_name}",))
                        found = cursor.fetchone()
                        if found and found["t"] is not None:
                            continue
                    cursor.execute(statement, prepare=False)
        self.datastore.register_type_adapters()

    def insert_ledger_events(
        self,
        stored_events: Sequence[StoredEvent],
        sources: Sequence[SourceRecord],
        reads: Sequence[tuple[UUID, int]],
        leaves: Sequence[bytes],
    ) -> Sequence[int]:
        with (
            self.locked(),
            self.datastore.get_connection() as connection,
            connection.cursor() as cursor,
        ):
            for originator_id, version in reads:
                cursor.execute(self.sql_version, (originator_id,), prepare=True)
                row = cursor.fetchone()
                current = (row["v"] if row else None) or 0
                if current != version:
                    raise IntegrityError(
                        f"aggregate {originator_id} is at version {current}, not {version}"
                    )
            self._notify_channel(cursor)
            # COPY is several times faster than INSERT ... unnest(composite[]) here, and
            # under the table lock the sequence hands out consecutive ids to this copy.
            with cursor.copy(self.sql_copy) as copy:
                for event in stored_events:
                    copy.write_row(
                        (event.originator_id, event.originator_version, event.topic, event.state)
                    )
            cursor.execute(self.sql_last_id)
            row = cursor.fetchone()
            last = int(row["last"]) if row else 0
            ids = list(range(last - len(stored_events) + 1, last + 1))
            size = self._tree_size(cursor)
            tree, completed = self.log.extend(
                size, lambda level, index: self._subtree(cursor, level, index), leaves
            )
            for table, rows in ((LEAVES_TABLE, leaf_rows(size, ids, leaves)),
                                (NODES_TABLE, node_rows(completed))):
                if rows:
                    with cursor.copy(SQL("COPY {schema}.{table} FROM STDIN").format(
                        schema=Identifier(self.datastore.schema), table=Identifier(table),
                    )) as copy:
                        for values in rows:
                            copy.write_row(values)
            if sources:
                cursor.execute(
                    self.sql_sources,
                    (
                        [s.source for s in sources],
                        [s.record_id for s in sources],
                        [s.originator_id for s in sources],
                        [s.originator_version for s in sources],
                        [s.event_hash for s in sources],
                    ),
                )
            self.log.committed(tree)  # forgotten again if the transaction rolls back
            self.log.appended(size, [(originator_bytes(e.originator_id), e.originator_version)
                                     for e in stored_events], leaves)
        return ids

    @contextmanager
    def locked(self) -> Iterator[None]:
        if self.held.connection is not None:
            yield
            return
        try:
            with (
                self._writing(),
                self.datastore.get_connection() as connection,
                connection.transaction(),
            ):
                with connection.cursor() as cursor:
                    self._lock_table(cursor)
                    self._notify_channel(cursor)
                with self.held.holding(connection):
                    yield
        except BaseException:
            self.log.forget()
            raise

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.held.connection is not None:  # a snapshot, or the write lock: one moment
            yield
            return
        with self.datastore.get_connection() as connection, connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            with self.held.holding(connection):
                yield

    def lock_timed_out(self, error: BaseException) -> bool:
        cause: BaseException | None = error
        while cause is not None:
            if isinstance(cause, psycopg.errors.LockNotAvailable):
                return True
            cause = cause.__cause__ or cause.__context__
        return False

    def select_newer(self, after: Sequence[tuple[UUID, int]]) -> list[StoredEvent]:
        if not after:
            return []
        statement = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%s::uuid[], %s::bigint[]) AS k(id, version) "
            "CROSS JOIN LATERAL (SELECT * FROM {t} WHERE originator_id = k.id AND "
            "originator_version > k.version ORDER BY originator_version) AS e"
        ).format(t=self._table(self.events_table_name))
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, ([a[0] for a in after], [a[1] for a in after]))
            return [StoredEvent(originator_id=row["originator_id"],
                                originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"]))
                    for row in cursor.fetchall()]

    def _table(self, name: str) -> Composed:
        return SQL("{schema}.{table}").format(
            schema=Identifier(self.datastore.schema), table=Identifier(name)
        )

    def _tree_size(self, cursor: Cursor[DictRow]) -> int:
        cursor.execute(SQL("SELECT MAX(position) AS last FROM {t}").format(
            t=self._table(LEAVES_TABLE)))
        row = cursor.fetchone()
        return 0 if row is None or row["last"] is None else int(row["last"]) + 1

    def _subtree(self, cursor: Cursor[DictRow], level: int, index: int) -> bytes:
        if level == 0:
            cursor.execute(SQL("SELECT hash FROM {t} WHERE position=%s").format(
                t=self._table(LEAVES_TABLE)), (index,), prepare=True)
        elif not stored_as_node(level):
            cursor.execute(SQL(
                "SELECT hash FROM {t} WHERE position >= %s AND position < %s ORDER BY position"
            ).format(t=self._table(LEAVES_TABLE)), (index << level, index + 1 << level))
            return from_leaves(level, index, [bytes(row["hash"]) for row in cursor.fetchall()])
        else:
            cursor.execute(SQL("SELECT hash FROM {t} WHERE level=%s AND idx=%s").format(
                t=self._table(NODES_TABLE)), (level, index), prepare=True)
        row = cursor.fetchone()
        if row is None:
            raise missing_subtree(level, index)
        return bytes(row["hash"])

    def tree_size(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            return self._tree_size(cursor)

    def subtree_hash(self, level: int, index: int) -> bytes:
        with self.datastore.transaction(commit=False) as cursor:
            return self._subtree(cursor, level, index)

    def select_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not keys:
            return {}
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL(
                "SELECT n.level, n.idx, n.hash FROM unnest(%s::int[], %s::bigint[]) "
                "AS k(level, idx) CROSS JOIN LATERAL (SELECT * FROM {t} t "
                "WHERE t.level = k.level AND t.idx = k.idx) AS n"
            ).format(t=self._table(NODES_TABLE)),
                ([key[0] for key in keys], [key[1] for key in keys]))
            return {(int(r["level"]), int(r["idx"])): bytes(r["hash"]) for r in cursor.fetchall()}

    def select_leaves(self, start: int, limit: int) -> list[tuple[int, int, bytes]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL(
                "SELECT position, notification_id, hash FROM {t} WHERE position >= %s "
                "ORDER BY position LIMIT %s").format(t=self._table(LEAVES_TABLE)), (start, limit))
            return [(int(r["position"]), int(r["notification_id"]), bytes(r["hash"]))
                    for r in cursor.fetchall()]

    def leaf_position(self, originator_id: UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL(
                "SELECT l.position FROM {e} e JOIN {l} l ON l.notification_id = e.notification_id "
                "WHERE e.originator_id=%s AND e.originator_version=%s").format(
                    e=self._table(self.events_table_name), l=self._table(LEAVES_TABLE)),
                (originator_id, version))
            row = cursor.fetchone()
        return None if row is None else int(row["position"])

    def select_by_aggregate(
        self, after: tuple[UUID, int] | None, limit: int
    ) -> list[tuple[Notification, int]]:
        where, params = SQL(""), list[object]([limit])
        if after is not None:
            where = SQL("WHERE (originator_id, originator_version) > (%s, %s) ")
            params = [after[0], after[1], limit]
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL(
                "SELECT * FROM {t} {where}ORDER BY originator_id, originator_version LIMIT %s"
            ).format(t=self._table(self.events_table_name), where=where), params)
            return [
                (Notification(id=row["notification_id"], originator_id=row["originator_id"],
                              originator_version=row["originator_version"], topic=row["topic"],
                              state=bytes(row["state"])), int(row["notification_id"]))
                for row in cursor.fetchall()
            ]

    def select_chains(self, after: tuple[UUID | str, int] | None, limit: int
                      ) -> Sequence[LogTuple]:
        where, params = SQL(""), list[object]([limit])
        if after is not None:
            where = SQL("WHERE (originator_id, originator_version) > (%s, %s) ")
            params = [after[0], after[1], limit]
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM {t} "
                "{where}ORDER BY originator_id, originator_version LIMIT %s"
            ).format(t=self._table(self.events_table_name), where=where), params)
            return [LogRow(r["notification_id"], r["originator_id"], r["originator_version"],
                           r["topic"], bytes(r["state"])) for r in cursor.fetchall()]

    def rank_of(self, notification_id: int) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL("SELECT COUNT(*) AS n FROM {t} WHERE notification_id < %s").format(
                t=self._table(self.events_table_name)), (notification_id,))
            row = cursor.fetchone()
            return int(row["n"]) if row else 0

    def insert_checkpoint(self, size: int, note: str, heads: Sequence[Head] = (),
                          nodes: Mapping[tuple[int, int], Sub] | None = None) -> None:
        with self._writing(), self.datastore.transaction(commit=True) as cursor:
            cursor.execute(SQL("INSERT INTO {t} VALUES (%s, %s)").format(
                t=self._table(CHECKPOINTS_TABLE)), (size, note))
            for table, rows in (
                (MAP_HEADS_TABLE, [(size, h.key, h.version, h.head) for h in heads]),
                (MAP_NODES_TABLE, [(size, depth, index, sub.hash, sub.subjects)
                                   for (depth, index), sub in (nodes or {}).items()]),
            ):
                if rows:
                    with cursor.copy(SQL("COPY {t} FROM STDIN").format(
                            t=self._table(table))) as copy:
                        for values in rows:
                            copy.write_row(values)

    def select_map_changes(self, start: int, end: int) -> list[tuple[UUID, int, bytes]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL(
                "SELECT e.originator_id, e.originator_version, l.hash FROM {l} l JOIN {e} e "
                "ON e.notification_id = l.notification_id WHERE l.position >= %s AND "
                "l.position < %s ORDER BY l.position").format(
                    l=self._table(LEAVES_TABLE), e=self._table(self.events_table_name)),
                (start, end))
            return [(r["originator_id"], int(r["originator_version"]), bytes(r["hash"]))
                    for r in cursor.fetchall()]

    def select_map_buckets(self, indexes: Sequence[int], size: int) -> dict[int, list[Head]]:
        if not indexes:
            return {}
        lows, highs = zip(*(bucket_bounds(index) for index in indexes), strict=True)
        with self.datastore.transaction(commit=False) as cursor:
            # One index range scan per bucket: OFFSET 0 keeps the planner from flattening the
            # subquery into a join that, past a few hundred buckets, compares every head
            # with every bucket (seconds at a million subjects).
            cursor.execute(SQL(
                "SELECT h.key, h.version, h.head FROM unnest(%s::bytea[], %s::bytea[]) AS "
                "r(lo, hi) CROSS JOIN LATERAL (SELECT key, version, head, size FROM {t} WHERE "
                "key >= r.lo AND key < r.hi AND size <= %s OFFSET 0) AS h "
                "ORDER BY h.key, h.size").format(t=self._table(MAP_HEADS_TABLE)),
                (list(lows), list(highs), size))
            rows = cursor.fetchall()
        found: dict[int, dict[bytes, Head]] = {}
        for r in rows:
            key = bytes(r["key"])
            found.setdefault(index_at(key, BUCKET_DEPTH), {})[key] = Head(
                key, int(r["version"]), bytes(r["head"]))
        return {index: list(heads.values()) for index, heads in found.items()}

    def select_map_nodes(self, keys: Sequence[tuple[int, int]], size: int
                         ) -> dict[tuple[int, int], Sub]:
        if not keys:
            return {}
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL(
                "SELECT k.depth, k.idx, n.hash, n.count FROM unnest(%s::int[], %s::int[]) "
                "AS k(depth, idx) CROSS JOIN LATERAL (SELECT hash, count FROM {t} m WHERE "
                "m.depth = k.depth AND m.idx = k.idx AND m.size <= %s ORDER BY m.size DESC "
                "LIMIT 1) AS n").format(t=self._table(MAP_NODES_TABLE)),
                ([key[0] for key in keys], [key[1] for key in keys], size))
            return {(int(r["depth"]), int(r["idx"])): Sub(bytes(r["hash"]), int(r["count"]))
                    for r in cursor.fetchall() if r["count"]}

    def select_map_groups(self, depth: int, groups: Sequence[int], size: int
                          ) -> dict[int, Sub]:
        if not groups:
            return {}
        with self.datastore.transaction(commit=False) as cursor:
            # One index range scan per group (OFFSET 0: see select_map_buckets).
            cursor.execute(SQL(
                "SELECT n.idx, n.hash, n.count FROM unnest(%s::int[], %s::int[]) AS r(lo, hi) "
                "CROSS JOIN LATERAL (SELECT idx, hash, count, size FROM {t} WHERE depth = %s "
                "AND idx >= r.lo AND idx < r.hi AND size <= %s OFFSET 0) AS n "
                "ORDER BY n.idx, n.size").format(t=self._table(MAP_NODES_TABLE)),
                ([group << STRIDE for group in groups], [(group + 1) << STRIDE for group in groups],
                 depth, size))
            found = {int(r["idx"]): Sub(bytes(r["hash"]), int(r["count"]))
                     for r in cursor.fetchall()}
        return {index: sub for index, sub in found.items() if sub.subjects}

    def count_map_rows(self, after: int) -> dict[int, int]:
        counts: dict[int, int] = {}
        with self.datastore.transaction(commit=False) as cursor:
            for table in (MAP_HEADS_TABLE, MAP_NODES_TABLE):
                cursor.execute(SQL("SELECT size, COUNT(*) AS n FROM {t} WHERE size > %s "
                                   "GROUP BY size").format(t=self._table(table)), (after,))
                for row in cursor.fetchall():
                    counts[int(row["size"])] = counts.get(int(row["size"]), 0) + int(row["n"])
        return counts

    def select_map_rows(self, size: int) -> tuple[list[Head], dict[tuple[int, int], Sub]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL("SELECT key, version, head FROM {t} WHERE size = %s "
                               "ORDER BY key").format(t=self._table(MAP_HEADS_TABLE)), (size,))
            heads = [Head(bytes(r["key"]), int(r["version"]), bytes(r["head"]))
                     for r in cursor.fetchall()]
            cursor.execute(SQL("SELECT depth, idx, hash, count FROM {t} WHERE size = %s").format(
                t=self._table(MAP_NODES_TABLE)), (size,))
            nodes = {(int(r["depth"]), int(r["idx"])): Sub(bytes(r["hash"]), int(r["count"]))
                     for r in cursor.fetchall()}
        return heads, nodes

    def select_checkpoints(self) -> list[tuple[int, str]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL("SELECT size, note FROM {t} ORDER BY size").format(
                t=self._table(CHECKPOINTS_TABLE)))
            return [(int(r["size"]), str(r["note"])) for r in cursor.fetchall()]

    def select_sources(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SourceRecord]:
        if not keys:
            return {}
        statement = SQL(
            "SELECT s.* FROM unnest(%s::text[], %s::text[]) AS k(source, record_id) "
            "CROSS JOIN LATERAL (SELECT * FROM {schema}.{table} t WHERE t.source = k.source "
            "AND t.record_id = k.record_id) AS s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(SOURCES_TABLE))
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, ([k[0] for k in keys], [k[1] for k in keys]))
            rows: list[dict[str, Any]] = cursor.fetchall()
        return {
            (row["source"], row["record_id"]): SourceRecord(
                row["source"], row["record_id"], row["originator_id"], row["originator_version"],
                bytes(row["event_hash"]),
            )
            for row in rows
        }

    def select_source_links(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SourceLink]:
        if not keys:
            return {}
        links = self._source_links(
            SQL("unnest(%s::text[], %s::text[]) AS k(source, record_id) JOIN {t} s "
                "ON s.source = k.source AND s.record_id = k.record_id").format(
                    t=self._table(SOURCES_TABLE)),
            SQL(""), [[key[0] for key in keys], [key[1] for key in keys]])
        return {(link.record.source, link.record.record_id): link for link in links}

    def select_source_page(self, after: tuple[str, str] | None, limit: int) -> list[SourceLink]:
        where, params = SQL(""), list[object]()
        if after is not None:
            where, params = SQL("WHERE (s.source, s.record_id) > (%s, %s) "), [*after]
        return self._source_links(
            SQL("{t} s").format(t=self._table(SOURCES_TABLE)),
            where + SQL("ORDER BY s.source, s.record_id LIMIT %s"), [*params, limit])

    def count_sources(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL("SELECT COUNT(*) AS n FROM {t}").format(
                t=self._table(SOURCES_TABLE)))
            row = cursor.fetchone()
        return int(row["n"]) if row else 0

    def _source_links(self, sources: Composed, tail: Composed | SQL,
                      params: Sequence[object]) -> list[SourceLink]:
        statement = SQL(
            "SELECT s.source, s.record_id, s.originator_id, s.originator_version, s.event_hash, "
            "e.notification_id, e.topic, e.state FROM {sources} LEFT JOIN {e} e "
            "ON e.originator_id = s.originator_id AND e.originator_version = s.originator_version "
            "{tail}"
        ).format(sources=sources, e=self._table(self.events_table_name), tail=tail)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            rows: list[dict[str, Any]] = cursor.fetchall()
        links = []
        for row in rows:
            record = SourceRecord(row["source"], row["record_id"], row["originator_id"],
                                  row["originator_version"], bytes(row["event_hash"]))
            event = None if row["notification_id"] is None else LogRow(
                row["notification_id"], record.originator_id, record.originator_version,
                row["topic"], bytes(row["state"]))
            links.append(SourceLink(record, event))
        return links

    def select_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        if not originator_ids:
            return {}
        # One index probe per id: "= ANY(...) GROUP BY" makes the planner scan a young table.
        statement = SQL(
            "SELECT k.id AS originator_id, v.v FROM unnest(%s::uuid[]) AS k(id) "
            "CROSS JOIN LATERAL (SELECT MAX(originator_version) AS v FROM {schema}.{table} "
            "WHERE originator_id = k.id) AS v WHERE v.v IS NOT NULL"
        ).format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (list(originator_ids),))
            rows: list[dict[str, Any]] = cursor.fetchall()
        return {row["originator_id"]: row["v"] for row in rows}

    def get_meta(self, name: str) -> str | None:
        statement = SQL("SELECT value FROM {schema}.{table} WHERE name=%s").format(
            schema=Identifier(self.datastore.schema), table=Identifier(META_TABLE)
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (name,))
            row = cursor.fetchone()
        return None if row is None else str(row["value"])

    def put_meta(self, name: str, value: str) -> str:
        statement = SQL(
            "INSERT INTO {schema}.{table} VALUES (%s, %s) ON CONFLICT (name) DO NOTHING"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(META_TABLE))
        with self._writing(), self.datastore.transaction(commit=True) as cursor:
            cursor.execute(statement, (name, value))
        stored = self.get_meta(name)
        assert stored is not None
        return stored

    def count_events(self) -> int:
        statement = SQL("SELECT COUNT(*) AS n FROM {schema}.{table}").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement)
            row = cursor.fetchone()
        return int(row["n"]) if row else 0


    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write, refused in one line when this role or server may only read."""
        self.check_writable()
        try:
            yield
        except (psycopg.Error, PersistenceError) as error:
            refused = _refused_write(error)
            if refused is None:
                raise
            raise self.read_only_error(refused) from None


def _refused_write(error: BaseException) -> str | None:
    """Why the server refused a write for lack of privilege or a read-only session, if so."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, psycopg.Error):
        cause = cause.__cause__
    if isinstance(cause, psycopg.errors.InsufficientPrivilege
                  | psycopg.errors.ReadOnlySqlTransaction):
        return _first_line(cause)
    return None


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def check_server(env: dict[str, str], *, create: bool) -> str | None:
    """Connect once to say plainly what is wrong, and find out whether the role may write.

    The connection pool, given a missing database, only says it could not get a
    connection in time. Returns why this role may only read (None: it may write);
    without ``create``, a schema with no ledger is refused.
    """
    name = env.get(NAME_SETTING, "the ledger")
    schema = env.get("POSTGRES_SCHEMA", "public")
    try:
        connection = psycopg.connect(
            host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"], dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"], password=env.get("POSTGRES_PASSWORD") or None,
            connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT", "5")),
        )
    except psycopg.Error as error:
        raise ConfigurationError(f"cannot open ledger at {name}: {_reason(error)}") from None
    with connection:
        row = connection.execute(
            "SELECT c.oid, pg_is_in_recovery(), current_setting('transaction_read_only') "
            "FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid "
            "AND c.relname = %s WHERE n.nspname = %s", (EVENTS_TABLE, schema),
        ).fetchone()
        if row is None or row[0] is None:
            if not create:
                where = "no such schema" if row is None else f"no {EVENTS_TABLE} table"
                raise NotALedger(f"{name} holds no ledger: schema {schema} ({where})")
            return None
        table, standby, read_only = row
        may = connection.execute(
            "SELECT has_schema_privilege(%s, 'USAGE'), has_table_privilege(%s, 'SELECT'), "
            "has_table_privilege(%s, 'INSERT')", (schema, table, table)).fetchone()
        usage, select, insert = may if may is not None else (True, True, True)
        role = env["POSTGRES_USER"]
        if not (usage and select):
            missing = f"USAGE on schema {schema}" if not usage else (
                f"SELECT on {schema}.{EVENTS_TABLE}")
            raise ConfigurationError(f"cannot open ledger at {name}: role {role} may not "
                                     f"read it (no {missing})")
        if standby:
            return "the server is a read-only standby"
        if read_only == "on":
            return "the server's sessions are read-only (default_transaction_read_only)"
        if not insert:
            return f"role {role} may only read it (no INSERT privilege on {schema}.{EVENTS_TABLE})"
    return None


def _reason(error: psycopg.Error) -> str:
    """A connection error in one line: what the server said, without the driver's preamble."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    said = first.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
    return said if len(lines) < 2 else f"{said} ({' '.join(lines[1:])})"


class _Datastore(PostgresDatastore):
    """Hands a thread that holds the write transaction its connection, not a pooled one."""

    held: HeldConnection[Connection[DictRow]]

    @staticmethod
    def adopt(datastore: PostgresDatastore) -> HeldConnection[Connection[DictRow]]:
        """Make ``datastore`` one of these (once); its held connection."""
        if not isinstance(datastore, _Datastore):
            datastore.__class__ = _Datastore
            assert isinstance(datastore, _Datastore)
            datastore.held = HeldConnection()
        return datastore.held

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        held = self.held.connection
        if held is None:
            with super().get_connection() as connection:
                yield connection
        else:
            yield held

    @contextmanager
    def transaction(self, *, commit: bool = False) -> Iterator[Cursor[DictRow]]:
        held = self.held.connection
        if held is None:
            with super().transaction(commit=commit) as cursor:
                yield cursor
        else:
            with held.cursor() as cursor:
                yield cursor


class Factory(PostgresFactory):
    """Selected by ``PERSISTENCE_MODULE=thread.storage.postgres``."""

    application_recorder_class = LedgerPostgresRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.read_only = self.env.get(READ_ONLY_SETTING) or None

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        assert isinstance(recorder, LedgerPostgresRecorder)
        recorder.name = self.env.get(NAME_SETTING) or recorder.name
        recorder.read_only = self.read_only
        return recorder
