"""Checking read models against the log: every row derived again, compared, the first
difference in each table named.

Read models are derived data, and an answer is only as good as the rows it reads:
an edited ``read_metrics.max`` empties a recall scope, an edited ``occurred_ns``
moves a time. :func:`check` projects the log again, a page at a time, with the same
projections that built the rows, and compares each table with the rows it holds by
key (the log position, and the name where one event gives several rows). A row
that differs, one missing and one that no event gives are findings naming the
table, the key columns, the row the log gives and the row found. Memory stays within
a page; nothing is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, or_, select

from thread.read import basis
from thread.read import schema as s
from thread.read.events import decode, iso
from thread.read.pipeline import rows_of, until
from thread.read.projections import PROJECTIONS
from thread.read.result import Model

if TYPE_CHECKING:
    from thread.read.models import ReadModels

Row = tuple[Any, ...]
#: Events read from the log per comparison.
PAGE = 10_000


class ReadModelFinding(Model):
    """A read-model row (or position) that the log does not give."""

    table: str
    #: The key columns of the row: its log position, and its name where it has one.
    key: dict[str, Any]
    #: The row the log gives (None: none).
    expected: dict[str, Any] | None
    #: The row the read model holds (None: none).
    found: dict[str, Any] | None
    #: What differs, in words.
    what: str

    def describe(self) -> str:
        """``read_metrics position 57, name 'vibration': max is 1.0; the log gives 6.0``."""
        key = ", ".join(f"{name} {value!r}" if isinstance(value, str) else f"{name} {value}"
                        for name, value in self.key.items())
        return f"{self.table}{' ' + key if key else ''}: {self.what}"


class ReadModelReport(Model):
    """What checking the read models against the log found."""

    #: The log they were checked against: its size and root.
    tree_size: int
    root: str
    #: How far each read model had read that log: rows up to there were compared.
    positions: dict[str, int]
    #: Rows compared.
    rows: int
    findings: tuple[ReadModelFinding, ...]

    @property
    def ok(self) -> bool:
        """True when every row is the row the log gives."""
        return not self.findings

    @property
    def first(self) -> ReadModelFinding | None:
        """The first finding, or None."""
        return self.findings[0] if self.findings else None


def check(models: ReadModels, *, progress: Callable[[int], object] | None = None
          ) -> ReadModelReport:
    """Compare every read model with the rows the log gives (see the module)."""
    head = basis.head_of(models.tree)
    findings: list[ReadModelFinding] = []
    with models.engine.connect() as conn:
        built_on = basis.stored(conn).built_on
        why = basis.departure(models.tree, built_on, head)
        if why is not None:
            findings.append(ReadModelFinding(
                table=s.basis.name, key={}, expected={"size": head.size, "root": head.root.hex()},
                found={"size": built_on.size, "root": built_on.root.hex()},
                what=f"{why}; rebuild them (thread rebuild)"))
        at = _positions(conn)
        findings.extend(_past_the_log(at, head.size))
        tables = [(table, projection.name) for projection in PROJECTIONS.values()
                  for table in projection.tables]
        limit = {table.name: min(at.get(name, 0), head.size) for table, name in tables}
        failed: set[str] = set()
        compared, longest = 0, 0
        for page in until(models.log.pages(0, PAGE), head.size):
            events = [decode(position, canonical) for position, canonical in page]
            expected = rows_of(list(PROJECTIONS.values()), dict.fromkeys(PROJECTIONS, 0), events)
            longest = max([longest, *(cast(int, row[3]) - cast(int, row[2])
                                      for row in expected.get(s.conditions, ())
                                      if cast(int, row[0]) < limit[s.conditions.name])])
            low, high = page[0][0], page[-1][0]
            for table, _ in tables:
                end = min(high, limit[table.name] - 1)
                if table.name in failed or low > end:
                    continue
                want = [row for row in expected.get(table, ()) if cast(int, row[0]) <= end]
                have = [tuple(row) for row in conn.execute(
                    select(table).where(table.c.position.between(low, end)))]
                compared += len(have)
                finding = first_difference(table, want, have)
                if finding is not None:
                    failed.add(table.name)
                    findings.append(finding)
            if progress is not None:
                progress(len(page))
        # Positions only move forward, so rows at or past a position read now were written
        # without moving it: no catch-up writes those.
        now = _positions(conn)
        for table, name in tables:
            if table.name not in failed:
                findings.extend(_past_position(conn, table, name, now.get(name, 0)))
        if "production" in at and not failed & {s.conditions.name}:
            stored = _longest(conn)
            if at["production"] <= head.size and stored != longest:
                findings.append(ReadModelFinding(
                    table=s.positions.name, key={"projection": "production"},
                    expected={"longest_window_ns": longest}, found={"longest_window_ns": stored},
                    what=f"longest_window_ns is {stored}; the log's condition windows give "
                         f"{longest}, so overlap queries look back "
                         f"{'too far' if stored > longest else 'too little'}"))
    return ReadModelReport(tree_size=head.size, root=head.root.hex(),
                           positions={name: min(position, head.size)
                                      for name, position in at.items()},
                           rows=compared, findings=tuple(sorted(findings, key=_order)))


def _positions(conn: Connection) -> dict[str, int]:
    return {name: int(position) for name, position in conn.execute(
        select(s.positions.c.projection, s.positions.c.position))}


def _longest(conn: Connection) -> int:
    found = conn.execute(select(s.positions.c.longest_window_ns)
                         .where(s.positions.c.projection == "production")).scalar()
    return int(found or 0)


def _past_the_log(at: dict[str, int], size: int) -> Iterable[ReadModelFinding]:
    for name, position in at.items():
        if position > size:
            yield ReadModelFinding(
                table=s.positions.name, key={"projection": name},
                expected={"position": size}, found={"position": position},
                what=f"{name} says it has read {position} events of a log that holds {size}")


def _past_position(conn: Connection, table: Table, projection: str, position: int
                   ) -> Iterable[ReadModelFinding]:
    row = conn.execute(select(table).where(or_(table.c.position >= position,
                                               table.c.position < 0))
                       .order_by(table.c.position).limit(1)).first()
    if row is not None:
        found = tuple(row)
        yield ReadModelFinding(
            table=table.name, key=_key(table, found), expected=None, found=_named(table, found),
            what=f"is past the {position} events {projection} has read: no event it read "
                 f"gives this row")


def first_difference(table: Table, want: Sequence[Row], have: Sequence[Row]
                      ) -> ReadModelFinding | None:
    """The first row, by key, where ``want`` (from the log) and ``have`` (stored) differ."""
    keys = _key_indexes(table)
    wanted = {tuple(row[i] for i in keys): row for row in want}
    held = {tuple(row[i] for i in keys): row for row in have}
    if len(wanted) == len(held) and all(
            key in held and _same_row(row, held[key]) for key, row in wanted.items()):
        return None
    for key in sorted(wanted.keys() | held.keys()):
        expected, found = wanted.get(key), held.get(key)
        if expected is not None and found is not None and _same_row(expected, found):
            continue
        row = expected if expected is not None else found
        assert row is not None
        return ReadModelFinding(
            table=table.name, key=_key(table, row),
            expected=None if expected is None else _named(table, expected),
            found=None if found is None else _named(table, found),
            what=_what(table, expected, found))
    return None  # pragma: no cover - a difference was found above


def _what(table: Table, expected: Row | None, found: Row | None) -> str:
    if found is None:
        return "is missing: the event at this log position gives this row"
    if expected is None:
        return "is not derived from the log: the event at this log position gives no such row"
    names = [column.name for column in table.columns]
    return "; ".join(f"{names[i]} is {_shown(names[i], found[i])}, the log gives "
                     f"{_shown(names[i], expected[i])}"
                     for i in range(len(names)) if not _same(expected[i], found[i]))


def _shown(column: str, value: Any) -> str:
    if column.endswith("_ns") and isinstance(value, int) and not isinstance(value, bool):
        try:
            return f"{value} ({iso(value)})"
        except (OverflowError, ValueError, OSError):
            return str(value)
    return repr(value)


def _same_row(expected: Row, found: Row) -> bool:
    return len(expected) == len(found) and all(map(_same, expected, found))


def _same(expected: Any, found: Any) -> bool:
    if isinstance(expected, float) or isinstance(found, float):
        if not isinstance(expected, int | float) or not isinstance(found, int | float):
            return False
        return float(expected) == float(found) or (math.isnan(expected) and math.isnan(found))
    return bool(expected == found)


def _key_indexes(table: Table) -> list[int]:
    names = [column.name for column in table.columns]
    return [names.index(column.name) for column in table.primary_key.columns]


def _key(table: Table, row: Row) -> dict[str, Any]:
    names = [column.name for column in table.columns]
    return {names[i]: row[i] for i in _key_indexes(table)}


def _named(table: Table, row: Row) -> dict[str, Any]:
    return {column.name: value for column, value in zip(table.columns, row, strict=True)}


def _order(finding: ReadModelFinding) -> tuple[int, int, str]:
    position = finding.key.get("position")
    if finding.table in (s.basis.name, s.positions.name):
        return (0, 0, finding.table)
    return (1, position if isinstance(position, int) else 0, finding.table)
