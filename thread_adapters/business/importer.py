"""Importing an export into the ledger: every row checked, then one stream, or nothing.

How a refused row is found. Rows are first validated into facts, with no
ledger involved, which finds every malformed row. What remains can still be
refused by the ledger's rules (a serial never registered, a shipment of a
scrapped part), and only the ledger knows those. The facts go to the
ledger as one stream (:meth:`thread.ledger.Ledger.stream`: written in
chunks inside one transaction); a stream that a rule refuses writes nothing,
and its error carries a note naming the position of the refused fact ("fact
7 of a stream"); the importer maps that position back to the row, sets the
row aside and tries again, until the stream goes through. When nothing may
be written (the default, with bad rows found), each try ends with a probe: a
fact about a part no ledger has, which the ledger is sure to refuse after it
has checked every row before it. A stream refused at the probe means every
row passed, and still nothing is written. Should the note ever be missing,
the refused fact is found by bisecting with probes instead.

Facts are recorded in the order they happened (``occurred_at``, file order
breaking ties), so an export sorted newest first still registers a part
before the non-conformance raised against it. Neither the rows nor the facts
are held in memory all at once (see
:mod:`~thread_adapters.business.chronology`), so an export of any size
imports in bounded memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any
from uuid import uuid4

from thread import facts as f
from thread.errors import InvalidFact, LedgerError, RuleViolation
from thread.ledger import Ledger
from thread_adapters.business.chronology import Chronology
from thread_adapters.business.conversion import PlannedFact, Problem, RowInvalid, facts_of_row
from thread_adapters.business.locations import dotted
from thread_adapters.business.mapping import Mapping, load_mapping
from thread_adapters.business.rows import Export, ExportFileError, read_export

#: How the ledger notes which fact of a stream it refused.
_REFUSED_NOTE = re.compile(r"^fact (\d+) of a stream\b")


@dataclass(frozen=True)
class RowError:
    """A row that cannot land: its line, the record it would be, and every problem with it."""

    line: int
    problems: tuple[Problem, ...]
    source_record_id: str | None = None
    topic: str | None = None
    refused: bool = False  # True when the ledger's rules refused it, not its own content

    def __str__(self) -> str:
        return f"line {self.line}: " + "; ".join(map(str, self.problems))

    def as_json(self) -> dict[str, Any]:
        """The row error as plain JSON values."""
        return {
            "line": self.line,
            "topic": self.topic,
            "source_record_id": self.source_record_id,
            "refused_by_rule": self.refused,
            "problems": [
                {"origin": p.origin, "field": p.field, "value": _plain(p.value),
                 "expected": p.expected}
                for p in self.problems
            ],
            "message": str(self),
        }


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, facts new and already present, rows skipped or ignored."""

    file: str
    mapping: str
    system: str
    rows: int
    facts: int
    new: int
    present: int
    ignored: tuple[int, ...]
    skipped: tuple[RowError, ...]
    written: bool

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON values."""
        return {
            "file": self.file, "mapping": self.mapping, "system": self.system,
            "rows": self.rows, "facts": self.facts, "new": self.new, "present": self.present,
            "ignored": list(self.ignored), "written": self.written,
            # rows left out of a written import were skipped; otherwise they stopped it
            ("skipped" if self.written else "errors"): [error.as_json()
                                                         for error in self.skipped],
        }


class RowsRefused(LedgerError):  # noqa: N818 - reads as what happened to the file
    """An export with bad rows, of which nothing was written: lists every bad row."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        self.errors = report.skipped
        count = len(self.errors)
        lines = [f"{report.file}: {count} bad row{'s' if count != 1 else ''}, nothing was "
                 f"written; fix them, or import the good rows with skip_bad_rows"]
        lines.extend(f"  {error}" for error in self.errors)
        super().__init__("\n".join(lines))


def import_file(ledger: Ledger, mapping: Mapping | str | Path, path: str | Path, *,
                format: str | None = None, skip_bad_rows: bool = False) -> ImportReport:
    """Import an export file (CSV, JSON array or JSON Lines) through a mapping.

    Without ``skip_bad_rows`` a file with any bad row writes nothing and
    raises :class:`RowsRefused` listing every bad row; with it the good rows
    land in one batch and the report lists the skipped lines.
    """
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    export = read_export(path, format=format, encoding=mapping.encoding, dialect=mapping.csv)
    return import_export(ledger, mapping, export, skip_bad_rows=skip_bad_rows)


def import_export(ledger: Ledger, mapping: Mapping, export: Export, *,
                  skip_bad_rows: bool = False) -> ImportReport:
    """Import rows already read (see :func:`import_file`)."""
    check_columns(mapping, export)
    with _plan(mapping, export) as planned:
        if skip_bad_rows:
            refused, landed = _land(ledger, mapping.system, planned, write=True)
            return _report(mapping, export, planned, planned.errors + refused, landed, True)
        if not planned.errors:
            try:  # the common case: one stream, checked and written by the ledger in one go
                new, present = _record(ledger, mapping.system, planned.facts)
            except (RuleViolation, InvalidFact):
                pass
            else:
                return _report(mapping, export, planned, [],
                               _Landed(new, present, planned.facts.count), True)
        refused, landed = _land(ledger, mapping.system, planned, write=False)
        raise RowsRefused(_report(mapping, export, planned, planned.errors + refused, landed,
                                  False))


def check_columns(mapping: Mapping, export: Export) -> None:
    """A CSV header must have every column the mapping reads."""
    if export.columns is None:
        return
    missing = [(column, path) for column, path in mapping.columns()
               if column not in export.columns]
    if missing:
        path = missing[0][1]
        names = ", ".join(repr(column) for column, _ in missing)
        raise ExportFileError(
            export.file, None,
            f"the header has no column {names}, which {mapping.file} reads "
            f"(first at line {mapping.line(path)}, {dotted(path)}); "
            f"its columns: {', '.join(export.columns)}",
        )


def plan(mapping: Mapping, export: Export) -> tuple[list[PlannedFact], list[RowError],
                                                    tuple[int, ...]]:
    """Every row as its facts in the order they happened, with the rows that are bad."""
    with _plan(mapping, export) as planned:
        return list(planned.facts), planned.errors, planned.ignored


@dataclass
class _Planned:
    """An export's rows as facts in the order they happened, and its bad and ignored rows."""

    facts: Chronology
    errors: list[RowError]
    ignored: tuple[int, ...]
    rows: int

    def __enter__(self) -> _Planned:
        return self

    def __exit__(self, *exc: object) -> None:
        self.facts.close()

    def without(self, lines: set[int]) -> Iterator[PlannedFact]:
        """The facts, leaving out those of ``lines``."""
        return (fact for fact in self.facts if fact.line not in lines)


def _plan(mapping: Mapping, export: Export) -> _Planned:
    facts = Chronology()
    errors: list[RowError] = []
    ignored: list[int] = []
    # Each source record id seen, with the line and a digest of the content it came with.
    first: dict[str, tuple[int, int | bytes]] = {}
    rows = 0
    try:
        for row in export.rows:
            rows += 1
            try:
                row_facts = facts_of_row(mapping, row)
            except RowInvalid as invalid:
                errors.append(RowError(row.line, tuple(invalid.problems), topic=invalid.topic))
                continue
            if not row_facts:
                ignored.append(row.line)
                continue
            this_row: dict[str, tuple[int, int | bytes]] = {}
            repeats: list[Problem] = []
            for fact in row_facts:
                key, content = fact.source_record_id, _content(fact)
                earlier = first.get(key) or this_row.get(key)
                if earlier is None:
                    this_row[key] = (fact.line, content)
                elif earlier[1] != content:
                    repeats.append(_repeat(earlier[0], fact))
            if repeats:
                errors.append(RowError(row.line, tuple(repeats), row_facts[0].source_record_id,
                                       row_facts[0].fact.topic))
                continue
            first.update(this_row)
            for fact in row_facts:
                facts.add(fact)
    except BaseException:
        facts.close()
        raise
    return _Planned(facts, errors, tuple(ignored), rows)


def _content(fact: PlannedFact) -> int | bytes:
    """A digest of what a fact says, to tell a repeated source record from a changed one."""
    said = (fact.fact, fact.occurred_at, fact.actor)
    try:
        return hash(said)  # frozen facts hash by value, as they compare
    except TypeError:  # a fact with a list or dict in it
        return hashlib.blake2b(repr(said).encode(), digest_size=16).digest()


def _repeat(first: int, again: PlannedFact) -> Problem:
    if first == again.line:
        return Problem(None, again.source_record_id,
                       f"two record kinds give this row the same source record id "
                       f"{again.source_record_id!r}; make their source_record_id templates "
                       f"differ", "source_record_id")
    return Problem(None, again.source_record_id,
                   f"source record id {again.source_record_id!r} already came with line "
                   f"{first}, with different content; one source record is one fact",
                   "source_record_id")


@dataclass(frozen=True)
class _Landed:
    """What a stream of the planned facts did: facts new and already present, of how many."""

    new: int
    present: int
    facts: int


def _record(ledger: Ledger, system: str, planned: Iterable[PlannedFact], *,
            probe: f.Fact | None = None) -> tuple[int, int]:
    """One stream of the planned facts: how many were new and how many already present;
    with a ``probe`` it is refused after the last one."""
    with ledger.stream(source=system) as stream:
        for fact in planned:
            stream.record(fact.fact, occurred_at=fact.occurred_at, actor=fact.actor,
                          source_record_id=fact.source_record_id)
        if probe is not None:
            stream.record(probe)
    return stream.written, stream.duplicates


def _land(ledger: Ledger, system: str, planned: _Planned, *,
          write: bool) -> tuple[list[RowError], _Landed]:
    """Set aside the rows the ledger's rules refuse, until the rest would land.

    With ``write`` the rest lands; otherwise nothing is written and only the
    refused rows (and how many facts the others have) are returned.
    """
    refused: list[RowError] = []
    lines: set[int] = set()
    pending = planned.facts.count
    while True:
        probe = None if write else _probe()
        try:
            new, present = _record(ledger, system, planned.without(lines), probe=probe)
        except (RuleViolation, InvalidFact) as error:
            if probe is not None and _names(error, probe):
                return refused, _Landed(0, 0, pending)  # only the probe: every row passed
            index = _refused_index(error, pending + (probe is not None))
            if index is None or index >= pending:
                index = _bisect(ledger, system, planned, lines, pending)
                if index is None:
                    raise  # refused, yet every row passes when checked: no row is to blame
            culprit = next(islice(planned.without(lines), index, None))
            refused.append(RowError(
                culprit.line, (Problem(None, None, f"refused by the ledger: {error}"),),
                culprit.source_record_id, culprit.fact.topic, refused=True,
            ))
            # a row lands whole or not at all, so its other facts go with it
            lines.add(culprit.line)
            pending = sum(1 for _ in planned.without(lines))
            continue
        if probe is not None:
            raise LedgerError("the ledger accepted the import's probe fact, so it cannot "
                              "check rows without writing them")
        return refused, _Landed(new, present, pending)


def _refused_index(error: LedgerError, size: int) -> int | None:
    """The position of the refused fact, from the note the ledger adds to a stream's error."""
    if size == 1:
        return 0
    for note in getattr(error, "__notes__", ()):
        match = _REFUSED_NOTE.match(note)
        if match:
            return int(match[1]) - 1
    return None


def _bisect(ledger: Ledger, system: str, planned: _Planned, lines: set[int],
            pending: int) -> int | None:
    """The first fact the rules refuse, by probing ever shorter prefixes (nothing is written)."""
    if _passes(ledger, system, planned.without(lines)):
        return None
    good, bad = 0, pending  # a prefix of `good` facts passes, one of `bad` is refused
    while bad - good > 1:
        middle = (good + bad) // 2
        if _passes(ledger, system, islice(planned.without(lines), middle)):
            good = middle
        else:
            bad = middle
    return bad - 1


def _passes(ledger: Ledger, system: str, prefix: Iterable[PlannedFact]) -> bool:
    probe = _probe()
    try:
        _record(ledger, system, prefix, probe=probe)
    except (RuleViolation, InvalidFact) as error:
        return _names(error, probe)
    raise LedgerError("the ledger accepted the import's probe fact, so it cannot check rows "
                      "without writing them")


def _probe() -> f.Fact:
    """A fact the ledger refuses whatever else it holds: a shipment of a part never registered."""
    return f.Shipped(serial=f"import-probe-{uuid4().hex}", customer="import check",
                     order="import-check")


def _names(error: LedgerError, probe: f.Fact) -> bool:
    """Whether the ledger refused the probe itself (its serial is in no other message)."""
    return probe.subject[1] in str(error)


def _report(mapping: Mapping, export: Export, planned: _Planned, errors: list[RowError],
            landed: _Landed, written: bool) -> ImportReport:
    return ImportReport(
        file=export.file, mapping=mapping.file, system=mapping.system,
        rows=planned.rows, facts=landed.facts, new=landed.new, present=landed.present,
        ignored=planned.ignored,
        skipped=tuple(sorted(errors, key=lambda error: error.line)),
        written=written,
    )


def _plain(value: Any) -> Any:
    """A cell value as JSON can hold it."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)
