"""Turning one export row into the facts its mapping declares, or into what is wrong with it.

Every problem of a row is collected, not just the first: each cell that does
not convert (an unknown code, a time in another format), then what the fact
itself refuses, traced back from the fact field to the column it came from,
with the value as it stands in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from thread import facts as f
from thread.errors import InvalidFact
from thread_adapters.business.mapping import (
    ISO,
    Mapping,
    RecordKind,
    Shape,
    ValueSpec,
    field_shape,
)
from thread_adapters.business.rows import Row


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a row: where (column or template), the value, what was expected."""

    origin: str | None
    value: Any
    expected: str
    field: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.origin is not None:
            where = f"{self.origin} = {self.value!r}"
            if self.field is not None:
                where += f" ({self.field})"
            where += ": "
        elif self.field is not None:
            where = f"{self.field}: "
        return where + self.expected


@dataclass(frozen=True)
class PlannedFact:
    """A fact a row becomes, with what the ledger needs beside it."""

    line: int
    record: int
    fact: f.Fact
    occurred_at: datetime
    source_record_id: str
    actor: str | None


class RowInvalid(Exception):  # noqa: N818 - carried inside the importer, never escapes it
    """Everything wrong with one row."""

    def __init__(self, line: int, problems: list[Problem], topic: str | None = None) -> None:
        self.line = line
        self.problems = problems
        self.topic = topic
        super().__init__(f"line {line}: " + "; ".join(map(str, problems)))


class _Blank:
    """A value the row leaves empty: the fact field keeps its default."""


BLANK = _Blank()


def chosen(mapping: Mapping, row: Row) -> list[int]:
    """Indexes of the record kinds whose ``when`` takes this row."""
    found: list[int] = []
    for index, record in enumerate(mapping.records):
        when = record.when
        if when is None:
            found.append(index)
            continue
        cell = _text(row.get(when.column))
        if when.equals is not None:
            taken = cell == when.equals
        elif when.one_of is not None:
            taken = cell in when.one_of
        else:
            taken = bool(cell) == when.filled
        if taken:
            found.append(index)
    return found


def facts_of_row(mapping: Mapping, row: Row) -> list[PlannedFact]:
    """The facts a row becomes; raises :class:`RowInvalid` naming every problem in it.

    A row no record kind takes becomes no facts when the mapping says
    ``unmatched = "ignore"`` and is a problem otherwise.
    """
    if row.defect is not None:
        raise RowInvalid(row.line, [Problem(None, None, row.defect)])
    kinds = chosen(mapping, row)
    if not kinds:
        if mapping.unmatched == "ignore":
            return []
        tests = "; ".join(record.when.describe() for record in mapping.records
                          if record.when is not None)
        raise RowInvalid(row.line, [Problem(None, None, f"no record kind takes this row "
                                                        f"(expected {tests})")])
    planned: list[PlannedFact] = []
    problems: list[Problem] = []
    topic = None
    for index in kinds:
        try:
            planned.append(_fact(mapping.records[index], index, row))
        except RowInvalid as invalid:
            problems.extend(invalid.problems)
            topic = topic or invalid.topic
    if problems:
        raise RowInvalid(row.line, problems, topic)
    return planned


def _fact(record: RecordKind, index: int, row: Row) -> PlannedFact:
    cls = record.fact
    problems: list[Problem] = []
    data: dict[str, Any] = dict(record.constants)
    failed: set[str] = set()
    for name, spec in record.fields.items():
        shape = field_shape(cls, name)
        try:
            value = _value(record.time_spec(spec) if shape == "time" else spec, row, shape)
        except _CellError as error:
            problems.append(Problem(spec.describe(), error.value, error.expected, name))
            failed.add(name)
            continue
        if value is not BLANK:
            data[name] = value
    occurred_at = _required(record, record.occurred_at, row, "time", "occurred_at", problems)
    record_id = _required(record, record.source_record_id, row, "text", "source_record_id",
                          problems)
    actor = None
    if record.actor is not None:
        actor = _required(record, record.actor, row, "text", "actor", problems)
    fact: f.Fact | None = None
    try:
        fact = cls(**data)
    except InvalidFact as error:
        for field, value, expected in error.problems:
            name = field.split(".")[0]
            if name in failed:
                continue  # already reported with the cell it came from
            problems.append(_traced(record, row, name, field, value, expected))
    if problems:
        raise RowInvalid(row.line, problems, record.topic)
    assert fact is not None
    assert isinstance(occurred_at, datetime)
    return PlannedFact(row.line, index, fact, occurred_at, str(record_id),
                       None if actor is None else str(actor))


def _required(record: RecordKind, spec: ValueSpec, row: Row, shape: Shape, key: str,
              problems: list[Problem]) -> Any:
    try:
        value = _value(spec, row, shape)
    except _CellError as error:
        problems.append(Problem(spec.describe(), error.value, error.expected, key))
        return None
    if value is BLANK:
        problems.append(Problem(spec.describe(), _raw(spec, row), "expected a value "
                                f"(the mapping takes {key} from it)", key))
        return None
    return value


def _traced(record: RecordKind, row: Row, name: str, field: str, value: Any,
            expected: str) -> Problem:
    """A problem the fact reported on ``field``, named by the column it came from."""
    spec = record.fields.get(name)
    if spec is not None:
        raw = _raw(spec, row)
        if raw is not None and _text(raw) != _text(value) and value is not None:
            expected += f" (read as {value!r})"
        return Problem(spec.describe(), raw, expected, field)
    if name in record.constants:
        return Problem(f"constant '{name}'", record.constants[name], expected, field)
    if field == "(fact)":
        return Problem(None, None, expected)
    return Problem(None, value, expected, field)


class _CellError(Exception):
    def __init__(self, value: Any, expected: str) -> None:
        self.value = value
        self.expected = expected
        super().__init__(expected)


def _raw(spec: ValueSpec, row: Row) -> Any:
    """The value as it stands in the file: the cell, or the template filled in."""
    if spec.column is not None:
        return row.get(spec.column)
    cells = {column: _text(row.get(column)) for column in spec.columns}
    if not all(cells.values()) and spec.columns:
        return None
    return (spec.template or "").format_map(cells)


def _value(spec: ValueSpec, row: Row, shape: Shape) -> Any:
    """The fact's value for a spec: the cell, split, decoded and parsed as its field needs."""
    raw = _raw(spec, row)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return BLANK
    if isinstance(raw, str):
        raw = raw.strip()
    items: list[Any]
    if spec.split is not None and isinstance(raw, str):
        items = [part.strip() for part in raw.split(spec.split) if part.strip()]
    elif spec.split is not None and isinstance(raw, list):
        items = raw
    else:
        items = [raw]
    converted = [_item(spec, item, raw, shape) for item in items]
    if spec.split is not None:
        return tuple(converted)
    return converted[0]


def _item(spec: ValueSpec, item: Any, raw: Any, shape: Shape) -> Any:
    if spec.codes is not None:
        key = _text(item)
        if key in spec.codes:
            item = spec.codes[key]
        elif spec.other == "error":
            listed = ", ".join(repr(code) for code in spec.codes)
            raise _CellError(raw, f"expected one of the codes {listed}")
    if spec.decimal == "," and isinstance(item, str):
        item = item.replace(" ", "").replace(".", "").replace(",", ".")
    if shape == "time":
        return _time(spec, item, raw)
    if shape in ("text", "list") and isinstance(item, int | float) and not isinstance(item, bool):
        # JSON exports write order numbers and revisions as numbers; the fact wants text
        return str(item)
    return item


def _time(spec: ValueSpec, item: Any, raw: Any) -> datetime:
    """A zoned time from a cell, in the spec's format, in its zone when the cell has none."""
    if isinstance(item, datetime):
        moment = item
    elif not isinstance(item, str):
        raise _CellError(raw, "expected a time written as text")
    elif spec.format in (None, ISO):
        try:
            moment = datetime.fromisoformat(item)
        except ValueError:
            raise _CellError(raw, "expected an ISO 8601 time such as "
                                  "2026-03-02T06:00:00+01:00") from None
    else:
        try:
            moment = datetime.strptime(item, spec.format)  # the zone is added below
        except ValueError:
            raise _CellError(raw, f"expected a time in the format {spec.format!r}") from None
    if moment.tzinfo is None:
        if spec.zone is None:
            raise _CellError(raw, "expected a time with a UTC offset (the mapping gives no "
                                  "'zone' for times without one)")
        # a wall-clock time in the fall-back hour is taken as its first occurrence (fold=0)
        moment = moment.replace(tzinfo=ZoneInfo(spec.zone))
    return moment


def _text(value: Any) -> str:
    """A cell as text for comparing with codes and conditions (JSON true -> 'true')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()
