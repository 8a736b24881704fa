"""Plain DBAPI queries for the hot read paths: rows as tuples, parameters by name.

SQLAlchemy builds the schema and runs the writes; queries that return
thousands of rows go straight to the driver's cursor, which avoids building
a result object per row (a recall over a busy machine-week reads tens of
thousands of rows).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from thread.read.clock import AsOf

_PARAMETER = re.compile(r":([a-z_][a-z0-9_]*)")
_SQL: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
#: Statements kept ready; beyond it the cache starts again (recall predicates make new ones).
_SQL_KEPT = 512


def not_superseded(table: str) -> str:
    """A ``WHERE`` condition: the row of ``table`` (an alias with ``kind``, ``key`` and
    ``version``) records an event no correction had replaced as of the bound."""
    return (f"NOT EXISTS (SELECT 1 FROM read_superseded x WHERE x.kind = {table}.kind "  # noqa: S608
            f"AND x.key = {table}.key AND x.version = {table}.version "
            f"AND x.{{clock}} <= :bound)")


def rows(conn: Connection, template: str, as_of: AsOf, **params: Any) -> list[tuple[Any, ...]]:
    """Run ``template`` (``{clock}`` for the as-of column, ``:name`` parameters; a list
    or tuple parameter expands for ``IN :name``) and return every row."""
    params["bound"] = as_of.bound_ns
    style = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    lists = {name: len(value) for name, value in params.items()
             if isinstance(value, (list, tuple))}
    if any(size == 0 for size in lists.values()):
        return []
    key = (template, as_of.column, style + repr(sorted(lists.items())))
    cached = _SQL.get(key)
    if cached is None:
        order: list[str] = []

        def marker(match: re.Match[str]) -> str:
            name = match.group(1)
            order.append(name)
            if name in lists:
                return "(" + ", ".join([style] * lists[name]) + ")"
            return style

        sql = _PARAMETER.sub(marker, template.replace("{clock}", as_of.column))
        if len(_SQL) >= _SQL_KEPT:
            _SQL.clear()
        cached = _SQL[key] = (sql, order)
    sql, order = cached
    values: list[Any] = []
    for name in order:
        value = params[name]
        if name in lists:
            values.extend(value)
        else:
            values.append(value)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, values)
        return list(cursor.fetchall())
    finally:
        cursor.close()
