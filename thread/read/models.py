"""Read models: SQL tables that follow the ledger's log, position tracked atomically.

Each projection records how far it has read the log in the same transaction
as the rows that reading produced, so a crash or a kill at any moment leaves
the tables and the position in agreement: the next catch-up continues from
there, with no gap and no duplicate. Two processes catching up at once cannot
both write a page: the position update is conditional on the position read.

They also keep the tree of the log they were built against (:mod:`thread.read.basis`)
and, on opening and before every catch-up, check that the log still extends it; one
built on a history the log no longer holds (an older copy restored, a tail cut) is
rebuilt, with a warning, instead of answering from it. :meth:`ReadModels.verify`
checks every row against the log (:mod:`thread.read.check`).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import (
    Connection,
    Engine,
    Index,
    Table,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.schema import CreateTable

from thread.errors import ConfigurationError, LedgerError
from thread.log.merkle import leaf_hash
from thread.read import basis
from thread.read import schema as s
from thread.read.basis import EMPTY, Basis, Head
from thread.read.pipeline import projected, until
from thread.read.projections import PROJECTIONS, Projection, tables_of
from thread.read.source import EventLog, LogTree
from thread.read.urls import shown

if TYPE_CHECKING:
    from thread.read.check import ReadModelReport

_log = logging.getLogger(__name__)

#: Events read from the log and written to the read models per transaction.
PAGE = 10_000

Progress = Callable[[int], object]


class StaleReadModel(LedgerError):  # noqa: N818 - reads as the situation it reports
    """A query was asked not to catch up, and its read model is behind the log."""


@dataclass(frozen=True)
class Position:
    """How far one projection has read the log: the log size it has read up to."""

    projection: str
    position: int
    head: int

    @property
    def behind(self) -> int:
        """Events in the log this projection has not read yet."""
        return max(0, self.head - self.position)


class ReadModels:
    """The projections of one ledger, in a database of their own (see :mod:`thread.read.location`).

    Opening them checks that this process can write there, so a place it may
    only read is found out at once, not halfway through a query. Opening them, and
    every catch-up, checks that the log still extends the tree they were built against
    (:mod:`thread.read.basis`); when it does not, they are rebuilt, with a warning.
    """

    def __init__(self, log: EventLog, url: str, *, tree: LogTree, page: int = PAGE) -> None:
        self.log = log
        self.tree = tree
        self.url = url
        self.page = page
        #: Where they are, as a message says it.
        self.location = shown(url)
        #: Why they are not where they would be by default (said once, as a warning), or None.
        self.notice: str | None = None
        #: A directory that holds them for this session only, removed on close.
        self.temporary: Path | None = None
        self.engine = engine_for(url)
        self._lock = threading.Lock()
        self.last_rebuild: dict[str, float] = {}
        #: Why this process found the read models built on a history the log no longer
        #: holds, and rebuilt them (said once, as a warning), or None.
        self.rebuilt: str | None = None
        #: The head this process last proved the basis against, and its last leaf.
        self._checked: tuple[Head, bytes] | None = None
        try:
            self._ensure()
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        """Release the read models' connections (and remove a temporary copy)."""
        self.engine.dispose()
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None

    # -- positions ----------------------------------------------------------

    def head(self) -> int:
        """The size of the ledger's log: how many events a current read model has read."""
        return self.log.size()

    def positions(self) -> list[Position]:
        """Where each projection stands against the log's head."""
        head = self.head()
        stored = self._stored()
        return [Position(name, stored.get(name, (0, 0))[0], head) for name in PROJECTIONS]

    def basis(self) -> Basis:
        """The tree of the log they were built against, and their last rebuild on their own."""
        with self.engine.connect() as conn:
            return basis.stored(conn)

    def longest_window_ns(self) -> int:
        """The longest machine condition window projected so far (bounds overlap queries)."""
        return self._stored().get("production", (0, 0))[1]

    def _stored(self) -> dict[str, tuple[int, int]]:
        """Each projection's (position, longest window), read straight from the driver."""
        return self._read(with_basis=False)[0]

    def _read(self, *, with_basis: bool = True) -> tuple[dict[str, tuple[int, int]], Head]:
        """Each projection's (position, longest window) and the tree they were built on, read
        straight from the driver (every query reads them)."""
        found = None
        with self.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute("SELECT projection, position, longest_window_ns "
                               "FROM read_positions")
                stored = {name: (int(position), int(longest))
                          for name, position, longest in cursor.fetchall()}
                if with_basis:
                    cursor.execute("SELECT size, root FROM read_basis")
                    found = cursor.fetchone()
            finally:
                cursor.close()
        built_on = EMPTY if found is None else Head(int(found[0]), bytes.fromhex(found[1]))
        return stored, built_on

    # -- keeping up ----------------------------------------------------------

    def fresh(self, names: Iterable[str], *, catch_up: bool = True) -> int:
        """Make the named projections current (or, with ``catch_up=False``, check they are).

        Returns the log size the answer will reflect. A query never answers
        silently from a stale view: it catches up first, or it raises
        :class:`StaleReadModel` saying how far behind the view is.
        """
        names = list(names)
        head, stored = self._settle(rebuild=catch_up)
        behind = [Position(name, stored.get(name, (0, 0))[0], head.size) for name in names
                  if stored.get(name, (0, 0))[0] < head.size]
        if not behind:
            return min(stored.get(name, (0, 0))[0] for name in names)
        if not catch_up:
            raise StaleReadModel(
                "read models behind the log: " + ", ".join(
                    f"{p.projection} at {p.position} of {p.head} ({p.behind} events behind)"
                    for p in behind
                ) + "; catch them up (ledger.read_models.catch_up(), or keep them current "
                "with thread follow), or let the query catch up"
            )
        self._project([PROJECTIONS[name] for name in _names(names)], head, None)
        stored = self._stored()
        return min(stored.get(name, (0, 0))[0] for name in names)

    def catch_up(self, names: Iterable[str] | None = None, *,
                 progress: Progress | None = None) -> int:
        """Read the log from where each projection stopped; returns events projected.

        First checks that the log still extends what they were built on, and rebuilds
        them if it does not (see :attr:`rebuilt`).
        """
        chosen = [PROJECTIONS[name] for name in _names(names)]
        return self._project(chosen, self._settle()[0], progress)

    def verify(self, *, progress: Progress | None = None) -> ReadModelReport:
        """Re-derive every read-model row from the log and compare: the first row that differs
        in each table, as typed findings (see :mod:`thread.read.check`). Writes nothing."""
        from thread.read.check import check

        return check(self, progress=progress)

    def rebuild(self, names: Iterable[str] | None = None, *,
                progress: Progress | None = None) -> int:
        """Drop the named read models (all by default) and project the whole log again."""
        chosen = _names(names)
        tables = tables_of(chosen)
        with self._lock, self.engine.begin() as conn:
            _drop(conn, tables)
            for table in tables:
                conn.execute(CreateTable(table))
            conn.execute(
                s.positions.update().where(s.positions.c.projection.in_(chosen))
                .values(position=0, longest_window_ns=0)
            )
        started = time.perf_counter()
        events = self.catch_up(chosen, progress=progress)
        projected_at = time.perf_counter()
        with self.engine.begin() as conn:
            _create_indexes(conn, tables)
        #: How the last rebuild's time divided: projecting the log, then building indexes.
        self.last_rebuild = {"events": events, "project_s": projected_at - started,
                             "index_s": time.perf_counter() - projected_at}
        return events

    def follow(self, stop: threading.Event, *, interval: float = 1.0,
               on_progress: Callable[[int], object] | None = None) -> None:
        """Keep every projection current until ``stop`` is set.

        On PostgreSQL the ledger notifies on channel ``thread_ledger`` after each
        commit, so the projections wake at once; elsewhere they poll every
        ``interval`` seconds.
        """
        waiter = _notification_waiter(self.url)
        try:
            while not stop.is_set():
                moved = self.catch_up()
                if moved and on_progress is not None:
                    on_progress(moved)
                if waiter is not None:
                    waiter(interval)
                else:
                    stop.wait(interval)
        finally:
            if waiter is not None:
                waiter(-1)

    # -- internals -------------------------------------------------------------

    def _project(self, chosen: Sequence[Projection], head: Head,
                 progress: Progress | None) -> int:
        with self._lock:
            while True:
                moved = self._catch_up_once(chosen, progress, head.size)
                if moved is not None:
                    return moved
                # another process advanced a position: read it again

    def _settle(self, *, rebuild: bool = True) -> tuple[Head, dict[str, tuple[int, int]]]:
        """The log's head, once the read models are known to be built on a prefix of it, and
        each projection's (position, longest window).

        When the log no longer extends the tree they were built against (an older copy
        restored, a tail cut), they are dropped for a rebuild and say so; with
        ``rebuild=False`` that is refused instead, as :class:`StaleReadModel`.
        """
        # The basis first, then the head: another process only ever advances the basis to
        # a head it read earlier, so the head read second is never shorter than it.
        stored, built_on = self._read()
        checked = self._checked
        if (checked is not None and checked[0] == built_on and self.log.size() == built_on.size
                and self._last_leaf(built_on.size) == checked[1]):
            # The log this process proved the basis against, unchanged since: the same size
            # and the same last event (an older copy written back to exactly this size would
            # end in another). Any other change is checked with a proof below.
            return built_on, stored
        head = basis.head_of(self.tree)
        why = basis.departure(self.tree, built_on, head)
        if why is None:
            if head.size > built_on.size:
                with self.engine.begin() as conn:
                    basis.advance(conn, head)
            self._checked = (head, self._last_leaf(head.size))
            return head, stored
        if not rebuild:
            raise StaleReadModel(f"read models at {self.location} answer from a history the "
                                 f"log no longer holds: {why}; let the query catch up (it "
                                 f"rebuilds them) or rebuild them (thread rebuild)")
        self._restart(built_on, why)
        return head, self._stored()

    def _last_leaf(self, size: int) -> bytes:
        """The leaf hash of the log's last event of a tree of ``size`` (empty for none)."""
        if size == 0:
            return b""
        for page in self.log.pages(size - 1, 1):
            for position, canonical in page:
                if position == size - 1:
                    return leaf_hash(canonical)
            break
        return b""

    def _restart(self, built_on: Head, why: str) -> None:
        """Drop every read model for a rebuild from the log as it is, and record why."""
        with self._lock, self.engine.begin() as conn:
            if not basis.restart(conn, built_on, why, time.time_ns()):
                return  # another process found it first and started over
            tables = tables_of(PROJECTIONS)
            _drop(conn, tables)
            for table in tables:
                conn.execute(CreateTable(table))
            _create_indexes(conn, tables)
            conn.execute(s.positions.update().values(position=0, longest_window_ns=0))
        self.rebuilt = why
        _log.warning("read models at %s rebuilt from the log: %s", self.location, why)

    def _ensure(self) -> None:
        origin = self.log.origin()
        with self.engine.begin() as conn:
            if self._outdated(conn, origin):
                # Read models are derived data: a new layout, or read models of another
                # log (a ledger replaced under the same name), is a rebuild, never a migration.
                _drop(conn, s.metadata.sorted_tables)
            s.metadata.create_all(conn, checkfirst=True)
            if conn.execute(select(s.layout.c.layout)).first() is None:
                conn.execute(s.layout.insert().values(layout=s.LAYOUT, origin=origin))
            basis.ensure(conn)
            _create_indexes(conn, tables_of(PROJECTIONS))
            known = set(conn.execute(select(s.positions.c.projection)).scalars())
            for name in PROJECTIONS:
                if name not in known:
                    conn.execute(s.positions.insert().values(projection=name, position=0))
        # Read models that are all there and current need no write to open; find out
        # now, not in the middle of a query, whether this process could write them.
        with self.engine.connect() as conn:
            conn.execute(s.layout.update().values(layout=s.LAYOUT))
            conn.rollback()
        self._settle()

    @staticmethod
    def _outdated(conn: Connection, origin: str | None) -> bool:
        names = set(inspect(conn).get_table_names())
        if s.positions.name not in names:
            return False  # nothing built yet
        if s.layout.name not in names:
            return True
        built = conn.execute(select(s.layout.c.layout, s.layout.c.origin)).first()
        # A log of the same origin that no longer extends them is found by their basis.
        return built is None or built.layout != s.LAYOUT or built.origin != origin

    def _catch_up_once(self, chosen: Sequence[Projection], progress: Progress | None,
                       head: int) -> int | None:
        with self.engine.connect() as conn:
            stored = {row[0]: row[1] for row in conn.execute(
                select(s.positions.c.projection, s.positions.c.position))}
        at = {p.name: int(stored.get(p.name, 0)) for p in chosen}
        start = min(at.values(), default=0)
        # Everything up to this head is visible, and the basis vouches for it, so once the
        # pages are read every position can move up to it, over events no chosen
        # projection wants; nothing past it is read, so no position passes the basis.
        done = 0
        raw = (until(self.log.pages(start, self.page, _topics(chosen)), head)
               if start < head else iter(()))
        for last, count, rows in projected(chosen, at, raw, behind=head - start):
            if not self._write(at, last + 1, rows):
                return None
            done += count
            for name in at:
                at[name] = max(at[name], last + 1)
            if progress is not None:
                progress(count)
        if any(position < head for position in at.values()) and not self._write(at, head, {}):
            return None
        return done

    def _write(self, at: dict[str, int], last: int, rows: dict[Table, list[tuple[object, ...]]]
               ) -> bool:
        longest = max((int(row[3]) - int(row[2])  # type: ignore[call-overload]
                       for row in rows.get(s.conditions, ())), default=0)
        with self.engine.begin() as conn:
            # Positions first: the conditional update takes the write lock, and a
            # concurrent catch-up that got there first makes this one start over.
            for name, position in at.items():
                if position >= last:
                    continue
                moved = conn.execute(
                    s.positions.update()
                    .where(s.positions.c.projection == name, s.positions.c.position == position)
                    .values(position=last)
                ).rowcount
                if moved != 1:
                    conn.rollback()
                    return False
            if longest:
                conn.execute(text(
                    "UPDATE read_positions SET longest_window_ns = :longest "
                    "WHERE projection = 'production' AND longest_window_ns < :longest"
                ), {"longest": longest})
            for table, values in rows.items():
                if values:
                    conn.exec_driver_sql(_insert_sql(conn, table), values)
        return True


def _topics(chosen: Sequence[Projection]) -> list[str]:
    """Topics to read from the log; all of them (an empty filter) if any projection wants all."""
    if any(projection.kinds for projection in chosen):
        return []
    return sorted({topic for projection in chosen for topic in projection.handlers})


def _names(names: Iterable[str] | None) -> list[str]:
    if names is None:
        return list(PROJECTIONS)
    chosen = list(names)
    unknown = [name for name in chosen if name not in PROJECTIONS]
    if unknown:
        raise ConfigurationError(
            f"no read model named {', '.join(unknown)}; expected one of {', '.join(PROJECTIONS)}"
        )
    return chosen


_INSERTS: dict[tuple[str, str], str] = {}


def _insert_sql(conn: Connection, table: Table) -> str:
    style = conn.dialect.paramstyle
    key = (table.name, style)
    if key not in _INSERTS:
        marker = "?" if style == "qmark" else "%s"
        columns = ", ".join(column.name for column in table.columns)
        markers = ", ".join(marker for _ in table.columns)
        _INSERTS[key] = f"INSERT INTO {table.name} ({columns}) VALUES ({markers})"  # noqa: S608
    return _INSERTS[key]


def _quoted(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _drop(conn: Connection, tables: Sequence[Table]) -> None:
    """Drop ``tables`` (last first) for a rebuild. On SQLite, without zeroing every page
    they free where the build does that by default (secure_delete): ten times faster for
    gigabytes of read models. The read models hold nothing the log does not hold
    unsealed, and the rebuild writes the same rows again into the pages freed; freed
    content is still zeroed where that costs no extra writes (FAST)."""
    with _dropping(conn):
        for table in reversed(tables):
            conn.execute(text(f"DROP TABLE IF EXISTS {_quoted(conn, table.name)}"))


@contextmanager
def _dropping(conn: Connection) -> Iterator[None]:
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA secure_delete = FAST")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA secure_delete = {int(before or 0)}")


def _create_indexes(conn: Connection, tables: Iterable[Table]) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA threads = 2")  # a second core sorts too
    for table in tables:
        index: Index
        for index in s.INDEXES.get(table.name, []):
            index.create(conn, checkfirst=True)


def engine_for(url: str) -> Engine:
    """A SQLAlchemy engine for a read-side URL: PostgreSQL with its schema on the search
    path, or SQLite in WAL mode with a long busy timeout."""
    parts = urlsplit(url)
    if parts.scheme.startswith("postgresql"):
        query = parse_qs(parts.query)
        schema = query.pop("schema", ["public"])[0]
        base = url.split("?", 1)[0]
        return create_engine(base, pool_size=2, pool_pre_ping=True,
                             connect_args={"options": f"-csearch_path={schema}"})
    engine = create_engine(url, pool_use_lifo=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA cache_size = -65536")  # 64 MB: index builds after a rebuild
        # Queries touch a few pages each across a large file: map it rather than copy pages.
        cursor.execute("PRAGMA mmap_size = 2147418112")
        cursor.close()

    return engine


def _notification_waiter(url: str) -> Callable[[float], None] | None:
    """On PostgreSQL, a function that waits up to N seconds for the ledger's commit notice."""
    if not urlsplit(url).scheme.startswith("postgresql"):
        return None
    import psycopg  # a PostgreSQL read model implies the postgres extra

    conninfo = url.split("?", 1)[0].replace("postgresql+psycopg://", "postgresql://")
    connection = psycopg.connect(conninfo, autocommit=True)
    connection.execute("LISTEN thread_ledger")

    def wait(seconds: float) -> None:
        if seconds < 0:
            connection.close()
            return
        # Several commits may notify while we catch up; one catch-up takes them all.
        for _ in connection.notifies(timeout=seconds, stop_after=1):
            pass

    return wait
