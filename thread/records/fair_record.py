"""The first article inspection report as typed, JSON-serialisable data: forms and rows.

How each field is filled is set out in :mod:`thread.records.fair`, which builds it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from thread.records.evidence import (
    Derivation,
    DocumentInfo,
    EventRef,
    Model,
    RecordField,
    SignatureRecord,
)
from thread.records.verification import VerificationResult

STANDARD = "AS9102 Rev C First Article Inspection"
DueKind = Literal["design", "process", "program", "location", "lapse", "incomplete"]


class ComponentAccountability(Model):
    """Form 1 fields 15-18 for one component of an assembly."""

    serial: str
    fields: tuple[RecordField, ...]


class Form1(Model):
    """Part number accountability: fields 1-26."""

    fields: tuple[RecordField, ...]
    components: tuple[ComponentAccountability, ...]


class ProductRow(Model):
    """One Form 2 row (fields 5-13): a material, a process, a functional test or a certificate."""

    kind: Literal["material", "process", "functional test", "certificate"]
    fields: tuple[RecordField, ...]


class Form2(Model):
    """Product accountability: header fields 1-4 and a row per material, process and test."""

    header: tuple[RecordField, ...]
    rows: tuple[ProductRow, ...]


class CharacteristicRow(Model):
    """One Form 3 row (fields 5-12) and the results behind it."""

    balloon: str
    on_drawing: bool
    fields: tuple[RecordField, ...]
    results: tuple[VerificationResult, ...]
    conforms: bool | None


class Form3(Model):
    """Characteristic accountability: header fields 1-4 and a row per characteristic."""

    header: tuple[RecordField, ...]
    rows: tuple[CharacteristicRow, ...]


class DueReason(Model):
    """One reason a new (full or partial) FAI is due."""

    kind: DueKind
    finding: str
    first_serial: str | None
    at: datetime | None
    serials: int
    evidence: tuple[EventRef, ...]


class FaiDue(Model):
    """Whether a new FAI is due, why, and what was checked to say so."""

    due: bool
    evaluated_at: datetime
    reasons: tuple[DueReason, ...]
    checked: tuple[str, ...]


class FirstArticleReport(Model):
    """An AS9102 Rev C FAIR as typed, JSON-serialisable data."""

    document: DocumentInfo
    part_number: str
    revision: str
    serial: str
    selection: str
    form1: Form1
    form2: Form2
    form3: Form3
    fai_due: FaiDue
    signatures: tuple[SignatureRecord, ...]
    derivations: tuple[Derivation, ...]
    evidence: tuple[EventRef, ...]

    def to_json(self) -> dict[str, object]:
        """The report as plain JSON values."""
        return self.model_dump(mode="json")


