"""Reading a business-system export into rows that know the line they started on.

CSV rows carry the physical line their record starts on, so a quoted cell
that spans several lines does not shift the numbers of the rows after it.
JSON Lines rows carry their line; the objects of a JSON array carry the line
where each object opens (the array is walked with ``raw_decode`` so positions
survive). A file that cannot be read as a whole (wrong encoding, broken JSON
array, unterminated quote) is an :class:`ExportFileError`; a single broken
row is kept as a row with a defect, so the other rows are still checked.

CSV and JSON Lines files are read as a stream: their rows are read from the
file each time they are gone through, so an export of any size takes the
memory of a few rows. A JSON array is read whole.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Literal, overload

from thread.errors import LedgerError
from thread_adapters.business.mapping import CsvDialect

#: The layouts an export can have.
ExportFormat = Literal["csv", "json", "jsonl"]
#: File name endings and the layout each one means.
SUFFIXES: dict[str, ExportFormat] = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
}


class ExportFileError(LedgerError):
    """An export that cannot be read at all: names the file, the line and what is wrong."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        super().__init__(f"{file}" + (f" line {line}" if line else "") + f": {message}")


@dataclass(frozen=True)
class Row:
    """One record of an export: its line, its cells by column, and why it is broken, if it is."""

    line: int
    cells: dict[str, Any] = field(default_factory=dict)
    defect: str | None = None

    def get(self, column: str) -> Any:
        """The cell of ``column``; a dotted name reaches into nested JSON objects."""
        if column in self.cells:
            return self.cells[column]
        value: Any = self.cells
        for part in column.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value


@dataclass(frozen=True)
class Export:
    """A whole export: where it came from, its layout, its CSV header, its rows."""

    file: str
    format: ExportFormat
    columns: tuple[str, ...] | None
    rows: Sequence[Row]


class FileRows(Sequence[Row]):
    """The rows of a CSV or JSON Lines export file, read from the file each time they are
    gone through, so that a large export is never held in memory whole.

    Going through them raises :class:`ExportFileError` where the file cannot be read.
    Indexing reads the file up to the row (it is for small files and tests).
    """

    def __init__(self, path: Path, name: str, layout: ExportFormat, encoding: str,
                 dialect: CsvDialect) -> None:
        self.path = path
        self.name = name
        self.layout = layout
        self.encoding = encoding
        self.dialect = dialect
        #: The CSV header, once the file has been gone through.
        self.columns: tuple[str, ...] | None = None
        self._count: int | None = None

    def __iter__(self) -> Iterator[Row]:
        try:
            binary = self.path.open("rb")
        except OSError as error:
            raise ExportFileError(self.name, None, f"cannot read it: {error.strerror}") from None
        # Undecodable bytes become escapes, found per line, so the error names its line.
        with binary, io.TextIOWrapper(binary, encoding=self.encoding, errors="surrogateescape",
                                      newline="" if self.layout == "csv" else "\n") as text:
            lines = _decoded(text, self.name, self.encoding)
            if self.layout == "csv":
                count = 0
                for item in _csv_records(lines, self.name, self.dialect):
                    if isinstance(item, tuple):
                        self.columns = item
                        continue
                    count += 1
                    yield item
            else:
                count = 0
                for number, line in enumerate(lines, start=1):
                    row = _json_line(number, line)
                    if row is not None:
                        count += 1
                        yield row
        self._count = count

    def __len__(self) -> int:
        if self._count is None:
            for _ in self:
                pass
        assert self._count is not None
        return self._count

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice) or index < 0:
            return list(self)[index]
        for row in islice(self, index, None):
            return row
        raise IndexError(index)


def export_format(path: str | Path, explicit: str | None = None) -> ExportFormat:
    """The layout of an export: as given, else from the file name's ending."""
    if explicit is not None:
        if explicit not in ("csv", "json", "jsonl"):
            raise ExportFileError(str(path), None, f"unknown format {explicit!r}; "
                                                   "expected csv, json or jsonl")
        return explicit  # type: ignore[return-value]  # checked just above
    suffix = Path(path).suffix.lower()
    try:
        return SUFFIXES[suffix]
    except KeyError:
        raise ExportFileError(
            str(path), None, f"cannot tell the layout from the ending {suffix or '(none)'!r}; "
            "name it .csv, .json or .jsonl, or give --format"
        ) from None


def read_export(path: str | Path, *, format: str | None = None, encoding: str = "utf-8-sig",
                dialect: CsvDialect | None = None) -> Export:
    """Read an export file into rows with their line numbers.

    A CSV or JSON Lines file is gone through once here, so that a file that cannot be
    read is refused now, and its rows are read again from the file when they are used.
    """
    name = str(path)
    layout = export_format(path, format)
    if layout != "json":
        rows = FileRows(Path(path), name, layout, encoding, dialect or CsvDialect())
        len(rows)
        return Export(name, layout, rows.columns, rows)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ExportFileError(name, None, f"cannot read it: {error.strerror}") from None
    return parse_export(data, name, layout, encoding=encoding, dialect=dialect)


def parse_export(data: bytes, name: str, layout: ExportFormat, *, encoding: str = "utf-8-sig",
                 dialect: CsvDialect | None = None) -> Export:
    """Rows of an export given as bytes; ``name`` is how errors name the file."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ExportFileError(
            name, line, f"byte {data[error.start]:#04x} is not {encoding} text; "
            "set 'encoding' in the mapping (for example 'cp1252' or 'latin-1')"
        ) from None
    if layout == "csv":
        columns, rows = _csv_rows(text, name, dialect or CsvDialect())
        return Export(name, layout, columns, rows)
    if layout == "jsonl":
        return Export(name, layout, None, list(_json_lines(text)))
    return Export(name, layout, None, _json_array(text, name))


def _csv_rows(text: str, name: str, dialect: CsvDialect) -> tuple[tuple[str, ...], list[Row]]:
    header: tuple[str, ...] = ()
    rows: list[Row] = []
    for item in _csv_records(io.StringIO(text, newline=""), name, dialect):
        if isinstance(item, tuple):
            header = item
        else:
            rows.append(item)
    return header, rows


def _csv_records(lines: Iterable[str], name: str, dialect: CsvDialect
                 ) -> Iterator[tuple[str, ...] | Row]:
    """The header, then the rows, of CSV text given line by line."""
    # strict: an unterminated quote is an error, not a cell that swallows the rest of the file
    reader = csv.reader(lines, delimiter=dialect.delimiter, quotechar=dialect.quote,
                        strict=True)
    header: tuple[str, ...] | None = None
    ended = 0  # the physical line the previous record ended on
    try:
        for cells in reader:
            start, ended = ended + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines and rows of empty cells (";;;;") are no records
            if header is None:
                header = tuple(cell.strip() for cell in cells)
                _check_header(header, name, start)
                yield header
                continue
            if len(cells) != len(header):
                yield Row(start, defect=f"has {len(cells)} cells, the header has "
                                        f"{len(header)}; a delimiter or quote is off")
                continue
            yield Row(start, dict(zip(header, cells, strict=True)))
    except csv.Error as error:
        # name the line the broken record starts on: where an unclosed quote was opened
        hint = "; is a quote opened here never closed?" if "end of data" in str(error) else ""
        raise ExportFileError(name, ended + 1, f"not readable as CSV: {error}{hint}") from None
    if header is None:
        raise ExportFileError(name, None, "is empty: expected a header row of column names")


_ESCAPED = re.compile("[\udc80-\udcff]")


def _decoded(lines: Iterable[str], name: str, encoding: str) -> Iterator[str]:
    """Lines decoded with escaped bytes (``surrogateescape``); the first escape is an error
    naming its line, as reading the whole file would name it."""
    for number, line in enumerate(lines, start=1):
        bad = _ESCAPED.search(line)
        if bad is not None:
            raise ExportFileError(
                name, number, f"byte {ord(bad.group()) - 0xDC00:#04x} is not {encoding} text; "
                "set 'encoding' in the mapping (for example 'cp1252' or 'latin-1')")
        yield line


def _check_header(header: tuple[str, ...], name: str, line: int) -> None:
    seen: set[str] = set()
    for column in header:
        if not column:
            raise ExportFileError(name, line, "the header has an unnamed column")
        if column in seen:
            raise ExportFileError(name, line, f"the header names column {column!r} twice")
        seen.add(column)


def _json_lines(text: str) -> Iterator[Row]:
    # split on "\n" only: str.splitlines would also split on U+2028 inside JSON strings
    for number, line in enumerate(text.split("\n"), start=1):
        row = _json_line(number, line)
        if row is not None:
            yield row


def _json_line(number: int, line: str) -> Row | None:
    """The row of one JSON Lines line; None for a blank line."""
    if not line.strip():
        return None
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return Row(number, defect=f"not valid JSON at column {error.colno}: {error.msg}")
    if not isinstance(value, dict):
        return Row(number, defect=f"expected a JSON object, found {_json_kind(value)}")
    return Row(number, value)


def _json_array(text: str, name: str) -> list[Row]:
    decoder = json.JSONDecoder()
    rows: list[Row] = []
    position = _skip_blank(text, 0)
    if text[position : position + 1] != "[":
        raise ExportFileError(name, _line_at(text, position),
                              "expected a JSON array of objects (or name it .jsonl)")
    position = _skip_blank(text, position + 1)
    line, counted = 1, 0  # lines counted incrementally, so a long file stays linear
    if text[position : position + 1] == "]":
        return rows
    while True:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise ExportFileError(name, error.lineno,
                                  f"not valid JSON at column {error.colno}: {error.msg}") from None
        line += text.count("\n", counted, position)
        counted = position
        if not isinstance(value, dict):
            raise ExportFileError(name, line, f"expected a JSON object in the array, "
                                              f"found {_json_kind(value)}")
        rows.append(Row(line, value))
        position = _skip_blank(text, end)
        separator = text[position : position + 1]
        if separator == "]":
            if text[_skip_blank(text, position + 1):].strip():
                raise ExportFileError(name, _line_at(text, position),
                                      "unexpected text after the array")
            return rows
        if separator != ",":
            raise ExportFileError(name, _line_at(text, position),
                                  "expected ',' or ']' after an object")
        position = _skip_blank(text, position + 1)


def _skip_blank(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _json_kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "true or false", type(None): "null"}.get(
        type(value), "a number")
