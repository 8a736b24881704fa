"""Shared fixtures: ledgers on a real SQLite file and on a real PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import thread
from thread import facts as f

#: Set by CI: PostgreSQL tests then fail instead of skipping when the server is absent.
POSTGRES_VARIABLE = "THREAD_TEST_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url() -> str | None:
    """The PostgreSQL server to test against, or None (with the reason) when there is none."""
    url = os.environ.get(POSTGRES_VARIABLE)
    mandatory = url is not None
    url = url or DEFAULT_POSTGRES
    try:
        import psycopg

        with psycopg.connect(url.split("?")[0], connect_timeout=3):
            pass
    except Exception as error:
        if mandatory:
            message = f"{POSTGRES_VARIABLE}={url} is set but unreachable: {error}"
            raise RuntimeError(message) from None
        return None
    return url


_POSTGRES = postgres_url()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each contract test runs once per store."""
    name: str = request.param
    if name == "postgres" and _POSTGRES is None:
        pytest.skip(f"PostgreSQL not reachable at {DEFAULT_POSTGRES}; set {POSTGRES_VARIABLE} "
                    "to make these tests mandatory")
    return name


@pytest.fixture
def ledger_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty ledger on the current backend (a fresh file or schema)."""
    if backend == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    assert _POSTGRES is not None
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = _POSTGRES.split("?")[0]
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{base}?schema={schema}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Clock:
    """A clock that advances one second per reading, from a fixed start."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A deterministic clock for recorded_at."""
    return Clock()


@pytest.fixture
def ledger(ledger_url: str, clock: Clock) -> Iterator[thread.Ledger]:
    """An open ledger on the current backend with a deterministic clock."""
    opened = thread.open(ledger_url, clock=clock, actor="tester")
    yield opened
    opened.close()


def released_bearing(part_number: str = "BRG-6204", revision: str = "A") -> f.RevisionReleased:
    """A released bearing design with two characteristics."""
    return f.RevisionReleased(
        part_number=part_number,
        revision=revision,
        part_name="Deep groove ball bearing",
        drawing="DWG-6204",
        characteristics=(
            f.Characteristic(balloon="1", name="Bore diameter", nominal=20.0, unit="mm",
                             lower_tolerance=-0.01, upper_tolerance=0.0, designator="key"),
            f.Characteristic(balloon="2", name="Outer diameter", nominal=47.0, unit="mm",
                             lower_tolerance=-0.011, upper_tolerance=0.0),
        ),
    )


def bearing(serial: str, revision: str = "A") -> f.PartRegistered:
    """A bearing registered against the released design."""
    return f.PartRegistered(serial=serial, part_number="BRG-6204", revision=revision,
                            work_order="WO-1")


def inspection(
    serial: str, measured: float = 19.995, verdict: str = "pass"
) -> f.InspectionRecorded:
    """A bore inspection of a bearing."""
    return f.InspectionRecorded(serial=serial, characteristic="1", method="cmm",
                                measured=measured, unit="mm", nominal=20.0,
                                lower_tolerance=-0.01, upper_tolerance=0.0, verdict=verdict)


Factory = Callable[[str], f.Fact]


def raw_sql(url: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run SQL straight against a ledger's database, as an insider with a SQL client would."""
    if url.startswith("postgresql://"):
        import psycopg

        base, _, query = url.partition("?schema=")
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'SET search_path TO "{query}"')
            cursor = connection.execute(statement.replace("?", "%s"), params)
            return list(cursor.fetchall()) if cursor.description else []
    import sqlite3

    database = sqlite3.connect(url)
    try:
        rows = list(database.execute(statement, params).fetchall())
        database.commit()
        return rows
    finally:
        database.close()


def stored_bytes(value: object) -> bytes:
    """A binary column's value from :func:`raw_sql` (BLOB or bytea) as bytes."""
    assert isinstance(value, bytes | bytearray | memoryview), f"not binary: {value!r}"
    return bytes(value)


APPEND_ONLY_TABLES = ("ledger_events", "ledger_sources", "ledger_meta", "ledger_leaves",
                      "ledger_nodes", "ledger_checkpoints")


def drop_append_only_triggers(url: str) -> None:
    """What an insider does first: remove the triggers that refuse changes."""
    if url.startswith("postgresql://"):
        for table in APPEND_ONLY_TABLES:
            raw_sql(url, f"DROP TRIGGER {table}_refuse_change ON {table}")
            raw_sql(url, f"DROP TRIGGER {table}_refuse_truncate ON {table}")
        return
    for table in APPEND_ONLY_TABLES:
        for operation in ("update", "delete"):
            raw_sql(url, f"DROP TRIGGER {table}_refuse_{operation}")


def row_counts(url: str) -> tuple[int, int]:
    """(events, source keys) stored."""
    events = raw_sql(url, "SELECT COUNT(*) FROM ledger_events")[0][0]
    sources = raw_sql(url, "SELECT COUNT(*) FROM ledger_sources")[0][0]
    return int(str(events)), int(str(sources))
