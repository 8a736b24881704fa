"""The unit tier keeps its promise: a unit test that opens a database or a socket is stopped."""

from __future__ import annotations

import re
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
import sqlalchemy.engine
from conftest import TESTS, UnitGuard, UnitTierViolation, tier_of

import thread

OPENERS: dict[str, Callable[[], object]] = {
    "sqlite3.connect": lambda: sqlite3.connect(":memory:"),
    "sqlalchemy.create_engine": lambda: sqlalchemy.create_engine("sqlite://"),
    "psycopg.connect": lambda: psycopg.connect("postgresql://postgres@127.0.0.1:5432/test"),
    "socket.socket.connect": lambda: socket.create_connection(("127.0.0.1", 5432), timeout=1),
}


@pytest.mark.parametrize("name", sorted(OPENERS))
def test_connecting_raises_an_error_that_names_the_test(
    name: str, unit_guard: UnitGuard | None, request: pytest.FixtureRequest
) -> None:
    """sqlite3, SQLAlchemy, psycopg and sockets refuse, naming the unit test that asked."""
    assert unit_guard is not None
    with pytest.raises(UnitTierViolation,
                       match=re.escape(f"{request.node.nodeid} is a unit test")):
        OPENERS[name]()
    assert unit_guard.refused == [name]
    unit_guard.refused.clear()  # else the guard fails this test at teardown


def test_names_bound_before_the_test_are_guarded_too(unit_guard: UnitGuard | None) -> None:
    """A module that did ``from sqlalchemy import create_engine`` gets the guard as well."""
    assert unit_guard is not None
    with pytest.raises(UnitTierViolation, match=r"sqlalchemy\.create_engine"):
        sqlalchemy.engine.create_engine("sqlite://")
    unit_guard.refused.clear()


def test_opening_a_ledger_is_stopped_even_when_the_error_is_wrapped(
    tmp_path: Path, unit_guard: UnitGuard | None
) -> None:
    """thread.open wraps the refusal in its own error; the guard still saw the attempt."""
    assert unit_guard is not None
    with pytest.raises(thread.ConfigurationError, match="is a unit test"):
        thread.open(str(tmp_path / "ledger.db"))
    assert unit_guard.refused == ["sqlite3.connect"]
    unit_guard.refused.clear()


def test_each_test_is_marked_with_its_tier_folder(request: pytest.FixtureRequest) -> None:
    """The folder gives the marker; a module in no tier folder has no tier."""
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("contract") is None
    assert tier_of(TESTS / "contract" / "test_store_contract.py") == "contract"
    assert tier_of(TESTS / "test_anywhere.py") is None
    assert tier_of(TESTS.parent / "examples" / "test_x.py") is None
