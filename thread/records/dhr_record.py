"""The device history record as typed, JSON-serialisable data: the record and its rows.

What each part holds is set out in :mod:`thread.records.dhr`, which builds it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from thread.domain.condition import ConditionSummary
from thread.records.evidence import (
    Derivation,
    DocumentInfo,
    EventRef,
    Model,
    RecordField,
    SignatureRecord,
    Status,
)

#: What the record answers to. Since 2 February 2026 21 CFR Part 820 (the QMSR) incorporates
#: ISO 13485:2016 by reference (820.10) and has no section 820.184: the record is the clause
#: 7.5.1 record of production, still called the Device History Record.
STANDARD = "ISO 13485:2016 7.5.1 record of production; 21 CFR 820.10 (QMSR); UDI per 820.35"


class UDIRecord(Model):
    """The UDI as registered and as parsed in GS1 form, with its consistency checks."""

    raw: str | None
    status: Status
    form: str | None = None
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    production_date: str | None = None
    expiry_date: str | None = None
    hri: str | None = None
    digital_link: str | None = None
    error: str | None = None
    checks: tuple[str, ...] = ()
    evidence: tuple[EventRef, ...] = ()


class CharacteristicAcceptance(Model):
    """Whether one characteristic of the device master record was accepted on this unit."""

    balloon: str
    name: str
    designator: str
    requirement: str | None
    #: How it was verified: inspection, a functional test, installed components
    #: (thread.records.verification), or "nothing recorded".
    verified_by: str
    results: int
    final: str | None
    status: str
    accepted: bool
    evidence: tuple[EventRef, ...]


class InspectionRow(Model):
    """One inspection result."""

    characteristic: str
    name: str | None
    method: str
    gauge: str | None
    program: str | None
    measured: str | None
    requirement: str | None
    verdict: str
    report: str | None
    non_conformance: str | None
    occurred_at: datetime
    actor: str
    remarks: str | None
    event: EventRef


class TestRow(Model):
    """One functional test."""

    __test__ = False  # not a pytest test class
    procedure: str
    procedure_revision: str | None
    values: str | None
    verdict: str
    report: str | None
    occurred_at: datetime
    actor: str
    event: EventRef


class ReportRow(Model):
    """An inspection report's traceability."""

    report: str
    preparer: str | None
    organization: str | None
    supplier: str | None
    purchase_order: str | None
    program: str | None
    measurements: int
    failures: int
    document_digest: str | None
    event: EventRef


class NonConformanceRow(Model):
    """A non-conformance and its disposition, with who signed it."""

    non_conformance: str
    severity: str
    characteristic: str | None
    description: str
    opened_at: datetime
    decision: str | None
    rationale: str | None
    reference: str | None
    decided_at: datetime | None
    signed_by: str | None
    evidence: tuple[EventRef, ...]


class CertificateRow(Model):
    """A certificate attached by digest."""

    document: str
    number: str
    digest: str
    issuer: str | None
    event: EventRef


class OperationRow(Model):
    """An operation, and the condition of its machine while it ran."""

    operation: str
    station: str
    machine: str | None
    operator: str
    program: str | None
    program_revision: str | None
    started_at: datetime
    ended_at: datetime
    cycle_time_s: float
    machine_condition: str
    machine_alert: bool
    #: The machine's condition over the operation's [start, end), by the domain's one rule;
    #: None when no machine is named or the machine is not in this copy.
    condition: ConditionSummary | None
    evidence: tuple[EventRef, ...]


class ParameterRow(Model):
    """One process parameter's summary over one operation."""

    operation: str
    machine: str | None
    parameter: str
    unit: str
    n: int
    min: float
    max: float
    mean: float
    sd: float
    event: EventRef


class MaterialRow(Model):
    """Material consumed from a lot, with the lot's receipt and certificate."""

    lot: str
    quantity: float
    unit: str
    material: str | None
    specification: str | None
    supplier: str | None
    heat: str | None
    certificate_number: str | None
    certificate_digest: str | None
    certificate_check: str
    evidence: tuple[EventRef, ...]


class ComponentRow(Model):
    """A component installed in the unit, with its own identification and acceptance."""

    serial: str
    position: str | None
    part_number: str | None
    revision: str | None
    udi: str | None
    installed_at: datetime
    removed: str | None
    acceptance: str
    evidence: tuple[EventRef, ...]


class EnvironmentRow(Model):
    """Work-environment readings over a window."""

    area: str
    started_at: datetime
    ended_at: datetime
    readings: str
    event: EventRef


class DistributionRow(Model):
    """Where the unit went: a shipment to a consignee or an installation at a site."""

    kind: Literal["shipped", "installed at site"]
    consignee: str
    reference: str | None
    destination: str | None
    carrier: str | None
    at: datetime
    event: EventRef


class ActionRow(Model):
    """A hold, release, recall or corrective action."""

    action: str
    reference: str | None
    text: str
    at: datetime
    actor: str
    event: EventRef


class CorrectionRow(Model):
    """An event superseded by a later one; both stay in the record."""

    corrects_version: int
    replaced_by_version: int
    reason: str
    event: EventRef


class Acceptance(Model):
    """Acceptance records that show the unit was made to its device master record."""

    summary: RecordField
    characteristics: tuple[CharacteristicAcceptance, ...]
    inspections: tuple[InspectionRow, ...]
    tests: tuple[TestRow, ...]
    reports: tuple[ReportRow, ...]
    non_conformances: tuple[NonConformanceRow, ...]
    certificates: tuple[CertificateRow, ...]


class DeviceHistoryRecord(Model):
    """A device history record as typed, JSON-serialisable data."""

    document: DocumentInfo
    kind: Literal["part", "lot"]
    key: str
    identification: tuple[RecordField, ...]
    udi: UDIRecord
    labelling: RecordField
    device_master_record: tuple[RecordField, ...]
    manufacture: tuple[RecordField, ...]
    quantity_manufactured: RecordField
    quantity_released: RecordField
    acceptance: Acceptance
    operations: tuple[OperationRow, ...]
    process_parameters: tuple[ParameterRow, ...]
    materials: tuple[MaterialRow, ...]
    components: tuple[ComponentRow, ...]
    environment: tuple[EnvironmentRow, ...]
    distribution: tuple[DistributionRow, ...]
    actions: tuple[ActionRow, ...]
    corrections: tuple[CorrectionRow, ...]
    #: Who verified the record: a review signature on its acceptance records or release.
    verified_by: RecordField
    #: Who approved the unit's release: an approval signature on a release event.
    approval: RecordField
    signatures: tuple[SignatureRecord, ...]
    derivations: tuple[Derivation, ...]
    evidence: tuple[EventRef, ...]

    def to_json(self) -> dict[str, object]:
        """The record as plain JSON values."""
        return self.model_dump(mode="json")


