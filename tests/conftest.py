"""Shared fixtures: ledgers on a real SQLite file and on a real PostgreSQL schema; the tiers.

Every test module lives in one tier folder, whose name is its marker: ``unit`` (no
database, broker, server or network: enforced below), ``contract`` (what every store
keeps, on SQLite and PostgreSQL), ``integration`` (adapters against real services,
records) and ``e2e`` (the command line, the demo, the examples).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import sys
import uuid
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

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

    def __init__(self, start: datetime = datetime(2030, 1, 1, 6, 0, tzinfo=UTC)) -> None:
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
    serial: str, measured: float = 19.995, verdict: str | None = None
) -> f.InspectionRecorded:
    """A bore inspection of a bearing (20 mm -0.010/+0), its verdict from the value unless
    given."""
    if verdict is None:
        verdict = "pass" if 19.99 <= measured <= 20.0 else "fail"
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
                      "ledger_nodes", "ledger_checkpoints", "ledger_map_heads", "ledger_map_nodes")


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


# -- tiers --------------------------------------------------------------------------

TIERS = ("unit", "contract", "integration", "e2e")
TESTS = Path(__file__).resolve().parent


def tier_of(path: Path) -> str | None:
    """The tier folder a test module is in, or None when it is in none."""
    try:
        parts = path.resolve().relative_to(TESTS).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 and parts[0] in TIERS else None


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so it sees the tier markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier; refuse a test module that is in no tier folder."""
    misplaced: set[str] = set()
    for item in items:
        tier = tier_of(item.path)
        if tier is None:
            misplaced.add(item.nodeid.split("::")[0])
        else:
            item.add_marker(getattr(pytest.mark, tier))
    if misplaced:
        raise pytest.UsageError(
            "test modules outside the tier folders tests/{" + ",".join(TIERS) + "}/: "
            + ", ".join(sorted(misplaced)) + "; move each into the folder of its tier")


class UnitTierViolation(Exception):  # noqa: N818 - named for what the test did
    """A unit test opened a database or a network connection."""


class UnitGuard:
    """What a unit test tried that a unit test may not (reported even if it was caught)."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.refused: list[str] = []

    def refuse(self, what: str) -> Callable[..., Any]:
        def refused(*args: object, **kwargs: object) -> Any:
            self.refused.append(what)
            raise UnitTierViolation(
                f"{self.test} is a unit test but touched a database or the network "
                f"({what}); take the I/O out, or move it to tests/contract or "
                f"tests/integration")
        return refused


def _guarded() -> list[tuple[object, str, str]]:
    """(owner, attribute, name in messages) for every way to open a database or socket."""
    originals: list[tuple[object, str]] = [
        (sqlite3.connect, "sqlite3.connect"),
        (sqlalchemy.create_engine, "sqlalchemy.create_engine"),
    ]
    targets: list[tuple[object, str, str]] = []
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        originals.append((psycopg.connect, "psycopg.connect"))
        targets += [(psycopg.Connection, "connect", "psycopg.connect"),
                    (psycopg.AsyncConnection, "connect", "psycopg.connect")]
    # Also the names modules bound with ``from sqlite3 import connect`` and the like.
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", {})
        for original, name in originals:
            attribute = name.rsplit(".", 1)[1]
            if namespace.get(attribute) is original:
                targets.append((module, attribute, name))
    targets += [(socket.socket, "connect", "socket.socket.connect"),
                (socket.socket, "connect_ex", "socket.socket.connect_ex")]
    return targets


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport,
                                                              pytest.TestReport]:
    """Remember whether a test failed, so the guard does not report the same error twice."""
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


@pytest.fixture(autouse=True)
def _no_access_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own keyring, policy or identity never reaches a test (one that wants
    them sets them itself)."""
    for name in ("THREAD_KEYRING", "THREAD_POLICY", "THREAD_IDENTITY", "THREAD_ORIGIN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def unit_guard(request: pytest.FixtureRequest,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[UnitGuard | None]:
    """Unit tests touch no database and no network: connecting raises, naming the test."""
    if tier_of(request.node.path) != "unit":
        yield None
        return
    guard = UnitGuard(request.node.nodeid)
    for owner, attribute, name in _guarded():
        monkeypatch.setattr(owner, attribute, guard.refuse(name))
    yield guard
    if guard.refused and not request.node.stash.get(_FAILED, False):
        pytest.fail(f"{guard.test} is a unit test but tried {', '.join(guard.refused)} "
                    f"(and caught the error); unit tests touch no database or network",
                    pytrace=False)
