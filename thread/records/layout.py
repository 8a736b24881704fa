"""A record laid out for people: sections of form boxes, tables and notes.

The DHR and the FAIR each lay themselves out once in these terms; the HTML
and the PDF writers render any such document, so both copies always show the
same fields, the same evidence and the same signatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from thread.records.evidence import DocumentInfo, EventRef, RecordField, SignatureRecord

#: How a cell reads: plain text, a missing value, a verdict, a warning, a hash.
Tone = Literal["plain", "missing", "pass", "fail", "warn", "mono"]


@dataclass(frozen=True)
class Cell:
    """One table cell."""

    text: str
    tone: Tone = "plain"


def cell(value: str | int | float | None, tone: Tone = "plain") -> Cell:
    """A cell for a value; no value reads "Not recorded"."""
    if value is None or value == "":
        return Cell("Not recorded", "missing")
    return Cell(value if isinstance(value, str) else f"{value:g}", tone)


def verdict(value: str | None) -> Cell:
    """A pass/fail verdict, coloured."""
    if value is None:
        return cell(None)
    return Cell(value.upper(), "pass" if value.lower() in ("pass", "accepted") else "fail")


@dataclass(frozen=True)
class Boxes:
    """Numbered fields laid out as the boxes of a form, ``columns`` to a row."""

    fields: tuple[RecordField, ...]
    columns: int = 4


@dataclass(frozen=True)
class Grid:
    """A table with a header row that repeats when it breaks across pages."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[float, ...]
    empty: str = "None recorded."

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.headers) or any(
                len(row) != len(self.headers) for row in self.rows):
            raise ValueError("every row of a grid has one cell per header")


@dataclass(frozen=True)
class Note:
    """A paragraph of text."""

    text: str
    tone: Tone = "plain"


@dataclass(frozen=True)
class Caption:
    """The title of the table or boxes that follow."""

    text: str


Block = Boxes | Grid | Note | Caption


@dataclass(frozen=True)
class Section:
    """A titled part of the record with the derivation and the events that back it."""

    title: str
    blocks: tuple[Block, ...]
    basis: str = ""
    evidence: tuple[EventRef, ...] = ()
    new_page: bool = False
    cites: bool = True  # False for parts about the record itself, which no event backs


@dataclass(frozen=True)
class Document:
    """A whole record, ready to render."""

    info: DocumentInfo
    subtitle: str
    sections: tuple[Section, ...]
    signatures: tuple[SignatureRecord, ...]
    evidence: tuple[EventRef, ...]
    landscape: bool = False
    summary: tuple[RecordField, ...] = ()
    appendix: tuple[Section, ...] = ()  # after the signatures, before the evidence index


def cited(refs: tuple[EventRef, ...], limit: int = 12) -> str:
    """The evidence line under a section: the events it was derived from."""
    if not refs:
        return "none: the ledger holds no fact of these kinds for this record as of this copy."
    ordered = sorted(set(refs), key=lambda r: (r.kind, r.key, r.version))
    shown = [ref.short() for ref in ordered[:limit]]
    more = len(ordered) - limit
    return "; ".join(shown) + (f"; and {more} more (see the evidence index)" if more > 0 else "")
