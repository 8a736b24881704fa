"""The device history record of a serialised unit or a production lot.

Contents follow 21 CFR 820.184 and, since the QMSR of 2 February 2026, the
ISO 13485:2016 clause 7.5.1 record: dates of manufacture, quantity
manufactured and released for distribution, acceptance records against the
device master record, identification and labelling with the UDI (820.35),
traceability (7.5.8) and, as for implantable devices (7.5.9.2), the
components, materials and work-environment conditions used and the
consignee. Every field names the facts it was derived from; a field the
ledger holds no fact for says so instead of being left blank.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal, cast

from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.domain.part import Item, Lot, Part
from thread.domain.udi import GS, InvalidUDI, parse_udi
from thread.errors import UnknownSubject
from thread.ledger import Ledger
from thread.records.evidence import (
    Cutoff,
    Derivation,
    DocumentInfo,
    EventRef,
    Model,
    Reader,
    RecordField,
    RecordUnavailable,
    SignatureRecord,
    Status,
    Stream,
    TimeAxis,
    field,
    moment,
    number,
    requirement,
)
from thread.records.layout import (
    Block,
    Boxes,
    Caption,
    Cell,
    Document,
    Grid,
    Note,
    Section,
    Tone,
    cell,
    verdict,
)

STANDARD = "21 CFR 820.184 / ISO 13485:2016 7.5.1 (QMSR), UDI per 820.35"


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
    approval: RecordField
    signatures: tuple[SignatureRecord, ...]
    derivations: tuple[Derivation, ...]
    evidence: tuple[EventRef, ...]

    def to_json(self) -> dict[str, object]:
        """The record as plain JSON values."""
        return self.model_dump(mode="json")

    def layout(self) -> Document:
        """The record laid out for the HTML and PDF copies."""
        return _layout(self)


def device_history_record(
    ledger: Ledger,
    key: str,
    *,
    as_of: datetime | None = None,
    by: TimeAxis = "recorded",
    generated_at: datetime | None = None,
    trusted_keys: dict[str, bytes] | None = None,
) -> DeviceHistoryRecord:
    """The DHR of serial or production lot ``key``, now or as of a past moment.

    ``by`` chooses the clock ``as_of`` is read on: ``"recorded"`` shows what
    the ledger knew then, ``"occurred"`` what had happened on the floor by
    then. ``trusted_keys`` maps signer ids to the Ed25519 public keys to
    verify their signatures against.
    """
    reader = Reader(ledger, Cutoff(as_of, by), trusted_keys)
    stream = reader.stream("part", key) or reader.stream("lot", key)
    if stream is None:
        raise _absent(ledger, key, reader.cutoff)
    received = stream.first(f.MaterialLotReceived)
    if received is not None:
        raise RecordUnavailable(
            f"lot {key} is a material lot ({received[1].material} from {received[1].supplier}), "
            "not a production lot; a DHR covers a device or a production lot. Its use shows in "
            "the DHRs of the parts that consumed it")
    registered = stream.first(f.PartRegistered)
    if registered is None:
        raise RecordUnavailable(f"{stream.kind} {key} has no registration in this copy")
    return _Builder(reader, stream, registered).build(generated_at)


def _absent(ledger: Ledger, key: str, cutoff: Cutoff) -> UnknownSubject:
    for kind in ("part", "lot"):
        try:
            ledger.history_of(kind, key)
        except UnknownSubject:
            continue
        return UnknownSubject(
            f"{kind} {key} was not yet in the ledger as of {moment(cutoff.as_of)} "
            f"(by {cutoff.by} time)" if cutoff.as_of else f"{kind} {key} has no events")
    return UnknownSubject(f"no part or lot {key} in this ledger")


class _Builder:
    """Gathers one DHR from the unit's stream and the subjects it names."""

    def __init__(self, reader: Reader, stream: Stream,
                 registered: tuple[Recorded, f.PartRegistered]) -> None:
        self.reader = reader
        self.stream = stream
        self.registered_event, self.registration = registered
        self.kind: Literal["part", "lot"] = "part" if stream.kind == "part" else "lot"
        self.key = stream.key
        cls: type[Item] = Part if self.kind == "part" else Lot
        self.state = cast(Item, cls.replay(self.key, stream.events))
        self.design = reader.stream("design", self.registration.part_number)
        self.release: tuple[Recorded, f.RevisionReleased] | None = None
        if self.design is not None:
            for event, fact in self.design.facts(f.RevisionReleased):
                if fact.revision == self.registration.revision:
                    self.release = (event, fact)
        self.derivations: list[Derivation] = []

    def ref(self, event: Recorded) -> EventRef:
        return self.reader.ref(self.stream, event)

    def derive(self, name: str, source: str) -> None:
        self.derivations.append(Derivation(field=name, derived_from=source))

    def build(self, generated_at: datetime | None) -> DeviceHistoryRecord:
        identification = self.identification()
        udi = self.udi()
        dmr = self.device_master_record()
        manufacture = self.manufacture()
        acceptance = self.acceptance()
        operations = self.operations()
        parameters = self.parameters()
        materials = self.materials()
        components = self.components()
        environment = self.environment()
        distribution = self.distribution()
        actions = self.actions()
        corrections = tuple(
            CorrectionRow(corrects_version=fact.corrects_version,
                          replaced_by_version=fact.replaced_by_version, reason=fact.reason,
                          event=self.ref(event))
            for event, fact in self.stream.facts(f.CorrectionRecorded))
        manufactured = self.quantity_manufactured()
        released = self.quantity_released()
        signatures = self.signatures()
        approval = self.approval(signatures)
        labelling = field(
            "Primary identification label and labelling", None,
            "no fact kind of the ledger records label content or labelling; the UDI recorded "
            "at registration is the identification shown")
        self.derive("Labelling", labelling.derived_from)
        info = self.reader.document(
            f"DHR-{self.key}", f"Device History Record ({'lot' if self.kind == 'lot' else 'unit'})",
            STANDARD, generated_at)
        return DeviceHistoryRecord(
            document=info, kind=self.kind, key=self.key, identification=identification, udi=udi,
            labelling=labelling, device_master_record=dmr, manufacture=manufacture,
            quantity_manufactured=manufactured, quantity_released=released,
            acceptance=acceptance, operations=operations, process_parameters=parameters,
            materials=materials, components=components, environment=environment,
            distribution=distribution, actions=actions, corrections=corrections,
            approval=approval, signatures=signatures, derivations=tuple(self.derivations),
            evidence=self.reader.evidence(),
        )

    # Identification and the device master record

    def identification(self) -> tuple[RecordField, ...]:
        reg, at = self.registration, (self.ref(self.registered_event),)
        part_name = self.release[1].part_name if self.release else None
        release_refs = (self.reader.ref(self.design, self.release[0]),) if (
            self.release and self.design) else ()
        controls = self.control_numbers()
        self.derive("Identification", "PartRegistered (part number, revision, work order, "
                    "site, quantity, UDI); part name from RevisionReleased of that revision")
        return (
            field("Part number", reg.part_number, "PartRegistered.part_number", at),
            field("Part name", part_name, "RevisionReleased.part_name", release_refs),
            field("Revision", reg.revision, "PartRegistered.revision", at),
            field("Serial number" if self.kind == "part" else "Lot number", self.key,
                  f"PartRegistered.{'serial' if self.kind == 'part' else 'lot'}", at),
            field("Work order", reg.work_order, "PartRegistered.work_order", at),
            field("Site of manufacture", reg.site, "PartRegistered.site", at),
            field("Registered", moment(self.registered_event.occurred_at),
                  "PartRegistered occurred_at", at),
            field("Other identification and control numbers", controls or None,
                  "work order, material lots and heats, inspection and test reports, "
                  "non-conformances and hold references named by the unit's facts",
                  status="derived"),
            field("Status", self.status_text(), "the unit's facts replayed in order "
                  "(dispositions, holds, installation, shipment)", status="derived"),
        )

    def control_numbers(self) -> str:
        numbers: list[str] = []
        if self.registration.work_order:
            numbers.append(f"work order {self.registration.work_order}")
        for _, consumed in self.stream.facts(f.MaterialConsumed):
            lot = self.reader.stream("lot", consumed.material_lot)
            receipt = lot.first(f.MaterialLotReceived) if lot else None
            heat = f" (heat {receipt[1].heat})" if receipt and receipt[1].heat else ""
            numbers.append(f"material lot {consumed.material_lot}{heat}")
        reports = dict.fromkeys(
            [fact.report for _, fact in self.stream.facts(f.InspectionRecorded) if fact.report]
            + [fact.report for _, fact in self.stream.facts(f.TestRecorded) if fact.report])
        numbers += [f"report {report}" for report in reports]
        numbers += [f"non-conformance {fact.non_conformance}"
                    for _, fact in self.stream.facts(f.NonConformanceOpened)]
        numbers += [f"hold {fact.reference}" for _, fact in self.stream.facts(f.Quarantined)
                    if fact.reference]
        return "; ".join(dict.fromkeys(numbers))

    def status_text(self) -> str:
        state = self.state
        notes = [state.location]
        if state.quarantined:
            notes.append("quarantined")
        if state.open_non_conformances:
            notes.append("open non-conformances " + ", ".join(state.open_non_conformances))
        if state.recalls:
            notes.append("recalled (" + ", ".join(state.recalls) + ")")
        return "; ".join(notes)

    def udi(self) -> UDIRecord:
        raw = self.registration.udi
        refs = (self.ref(self.registered_event),)
        self.derive("UDI", "PartRegistered.udi parsed as a GS1 element string, HRI or Digital "
                    "Link URI; checked against the serial or lot and the dates of manufacture")
        if raw is None:
            return UDIRecord(raw=None, status="not recorded", evidence=refs, checks=(
                "PartRegistered carries no UDI for this unit",))
        form = ("GS1 Digital Link URI" if raw.lower().startswith("http")
                else "GS1 HRI" if raw.startswith("(") else "GS1 element string")
        try:
            udi = parse_udi(raw)
        except InvalidUDI as error:
            return UDIRecord(raw=raw, status="recorded", form=form, error=str(error),
                             checks=(f"the recorded UDI does not parse: {error}",),
                             evidence=refs)
        checks: list[str] = []
        if self.kind == "part":
            checks.append(_compare("(21) serial", udi.serial, self.key, "the unit's serial"))
        else:
            checks.append(_compare("(10) lot", udi.lot, self.key, "the lot number"))
        started = self.manufacture_start()
        if udi.production_day is not None and started is not None:
            checks.append(_compare("(11) production date", udi.production_day.isoformat(),
                                   started.date().isoformat(), "the first manufacturing date"))
        if udi.expiry_day is None:
            checks.append("no (17) expiry date in the UDI")
        return UDIRecord(
            raw=raw, status="recorded", form=form, gtin=udi.gtin, lot=udi.lot, serial=udi.serial,
            production_date=udi.production_day.isoformat() if udi.production_day else None,
            expiry_date=udi.expiry_day.isoformat() if udi.expiry_day else None,
            hri=udi.hri(), digital_link=udi.digital_link(), checks=tuple(checks), evidence=refs,
        )

    def device_master_record(self) -> tuple[RecordField, ...]:
        reg = self.registration
        self.derive("Device master record", "RevisionReleased of the registered revision, "
                    "ChangeOrderIssued naming it, and the signatures on the release")
        if reg.undocumented:
            return (field("Released revision", None, "PartRegistered.undocumented: the unit "
                          "was registered against a revision never released in this ledger",
                          (self.ref(self.registered_event),)),)
        if self.release is None or self.design is None:
            return (field("Released revision", None, f"no RevisionReleased of "
                          f"{reg.part_number} rev {reg.revision} as of this copy"),)
        event, release = self.release
        refs = (self.reader.ref(self.design, event),)
        orders = [(e, o) for e, o in self.design.facts(f.ChangeOrderIssued)
                  if reg.revision in o.affected_revisions]
        signed = self.reader.signatures(self.design, [event.originator_version])
        designators = [c.designator for c in release.characteristics if c.designator != "none"]
        return (
            field("Released revision", f"{release.part_number} rev {release.revision}, released "
                  f"{moment(event.occurred_at)}", "RevisionReleased", refs),
            field("Drawing", release.drawing + (f" rev {release.drawing_revision}"
                                                 if release.drawing_revision else
                                                 " (drawing revision not recorded)"),
                  "RevisionReleased.drawing, drawing_revision", refs),
            field("CAD model digest", release.cad_digest, "RevisionReleased.cad_digest", refs),
            field("Material specification", release.material_spec,
                  "RevisionReleased.material_spec", refs),
            field("Characteristics", f"{len(release.characteristics)} "
                  f"({len(designators)} designated key/critical/flight-safety)",
                  "RevisionReleased.characteristics", refs, status="derived"),
            field("Change orders affecting this revision",
                  "; ".join(f"{o.change_order} {o.title} ({moment(e.occurred_at)})"
                            for e, o in orders) or "none in the ledger",
                  "ChangeOrderIssued.affected_revisions",
                  self.reader.refs(self.design, [e for e, _ in orders]), status="derived"),
            field("Release signed by", "; ".join(
                f"{s.printed_name} ({s.meaning}, {moment(s.signed_at)}, "
                f"{'verified' if s.verified else 'NOT VERIFIED'})" for s in signed) or None,
                "SignatureApplied on the RevisionReleased event",
                [s.signature_event for s in signed]),
        )

    # Dates and quantities

    def manufacture_start(self) -> datetime | None:
        starts = [fact.started_at for _, fact in self.stream.facts(f.OperationPerformed)]
        starts += [fact.started_at for _, fact in self.stream.facts(f.ProcessRecorded)]
        return min(starts) if starts else None

    def manufacture(self) -> tuple[RecordField, ...]:
        operations = self.stream.facts(f.OperationPerformed)
        processes = self.stream.facts(f.ProcessRecorded)
        started = self.manufacture_start()
        ends = [(fact.ended_at, event) for event, fact in operations]
        checks = self.stream.facts(f.InspectionRecorded) + self.stream.facts(f.TestRecorded)
        last_check = max((event for event, _ in checks), key=lambda e: e.occurred_at,
                         default=None)
        self.derive("Dates of manufacture", "OperationPerformed and ProcessRecorded started_at / "
                    "ended_at; registration and acceptance dates from the events' occurred_at")
        start_refs = self.reader.refs(self.stream, [e for e, fact in operations + processes
                                                    if fact.started_at == started])
        end = max(ends, key=lambda pair: pair[0], default=None)
        return (
            field("Registered for manufacture", moment(self.registered_event.occurred_at),
                  "PartRegistered occurred_at", (self.ref(self.registered_event),)),
            field("Manufacture started", moment(started) if started else None,
                  "earliest OperationPerformed / ProcessRecorded started_at", start_refs),
            field("Manufacture completed", moment(end[0]) if end else None,
                  "latest OperationPerformed ended_at", (self.ref(end[1]),) if end else ()),
            field("Last acceptance activity",
                  moment(last_check.occurred_at) if last_check else None,
                  "latest InspectionRecorded / TestRecorded occurred_at",
                  (self.ref(last_check),) if last_check else ()),
        )

    def quantity_manufactured(self) -> RecordField:
        at = (self.ref(self.registered_event),)
        if self.kind == "part":
            self.derive("Quantity manufactured", "1 for a serialised unit (PartRegistered.serial)")
            return field("Quantity manufactured", 1, "PartRegistered.serial: one serialised unit",
                         at, status="derived")
        self.derive("Quantity manufactured", "PartRegistered.quantity of the lot")
        return field("Quantity manufactured", self.registration.quantity,
                     "PartRegistered.quantity", at)

    def quantity_released(self) -> RecordField:
        name, quantity = "Quantity released for distribution", self.registration.quantity
        self.derive(name, "Shipped or an attached certificate of conformance release the "
                    "quantity manufactured; a scrap disposition, a hold or an open "
                    "non-conformance releases none")
        state = self.state

        def released(value: int, source: str, note: str,
                     events: Iterable[Recorded] = ()) -> RecordField:
            return field(name, value, source, self.reader.refs(self.stream, events),
                         status="derived", note=note)

        scrap = [(e, d) for e, d in self.stream.facts(f.DispositionRecorded)
                 if d.decision == "scrap"]
        shipped = self.stream.facts(f.Shipped)
        conformance = [(e, c) for e, c in self.stream.facts(f.CertificationAttached)
                       if c.document == "conformance"]
        if scrap:
            event, decision = scrap[-1]
            return released(0, "DispositionRecorded (scrap)", "not released: dispositioned "
                            f"scrap under {decision.non_conformance}", [event])
        if state.quarantined:
            event, hold = self.stream.facts(f.Quarantined)[-1]
            return released(0, "Quarantined, not released from quarantine",
                            f"not released: quarantined ({hold.reason})", [event])
        if state.open_non_conformances:
            return released(0, "NonConformanceOpened without a DispositionRecorded",
                            "not released: open non-conformance(s) "
                            + ", ".join(state.open_non_conformances))
        if shipped:
            event, ship = shipped[0]
            lot_note = ("; the Shipped fact names the lot, not a count, so the lot quantity is "
                        "shown" if self.kind == "lot" else "")
            return released(quantity, "Shipped", f"shipped to {ship.customer}, order "
                            f"{ship.order}, {moment(event.occurred_at)}{lot_note}",
                            [e for e, _ in shipped])
        if conformance:
            event, certificate = conformance[0]
            return released(quantity, "CertificationAttached (conformance)",
                            f"certificate of conformance {certificate.number} attached "
                            f"{moment(event.occurred_at)}", [event])
        if state.installed_in is not None:
            installed = self.stream.facts(f.InstalledInto)
            return released(0, "InstalledInto", "not released as a unit: installed in "
                            f"assembly {state.installed_in}, whose DHR records its "
                            "distribution", [e for e, _ in installed[-1:]])
        return released(0, "no Shipped, no CertificationAttached (conformance)",
                        "not released: no shipment and no certificate of conformance recorded")

    # Acceptance records

    def acceptance(self) -> Acceptance:
        stream = self.stream
        inspections = stream.facts(f.InspectionRecorded, current=False)
        opened = {fact.non_conformance: (event, fact)
                  for event, fact in stream.facts(f.NonConformanceOpened)}
        decided = {fact.non_conformance: (event, fact)
                   for event, fact in stream.facts(f.DispositionRecorded)}
        design_chars = {c.balloon: c for c in self.release[1].characteristics} if (
            self.release) else {}
        rows = tuple(self.inspection_row(event, fact, design_chars.get(fact.characteristic))
                     for event, fact in inspections)
        characteristics = tuple(
            self.characteristic(c, opened, decided) for c in design_chars.values())
        tests = tuple(TestRow(
            procedure=fact.procedure, procedure_revision=fact.procedure_revision,
            values=", ".join(f"{v.name} {number(v.value)} {v.unit}" for v in fact.values) or None,
            verdict=fact.verdict, report=fact.report, occurred_at=event.occurred_at,
            actor=event.actor, event=self.ref(event)) for event, fact in stream.facts(
                f.TestRecorded))
        reports = tuple(ReportRow(
            report=fact.report, preparer=fact.preparer, organization=fact.organization,
            supplier=fact.supplier, purchase_order=fact.purchase_order, program=fact.program,
            measurements=fact.measurements, failures=fact.failures,
            document_digest=fact.document_digest, event=self.ref(event))
            for event, fact in stream.facts(f.InspectionReported))
        ncs = tuple(self.non_conformance(event, fact, decided.get(fact.non_conformance))
                    for event, fact in opened.values())
        certificates = tuple(CertificateRow(
            document=fact.document, number=fact.number, digest=fact.digest, issuer=fact.issuer,
            event=self.ref(event)) for event, fact in stream.facts(f.CertificationAttached))
        self.derive("Acceptance records", "InspectionRecorded against the characteristics of "
                    "the released revision; TestRecorded; InspectionReported; "
                    "NonConformanceOpened with DispositionRecorded and its signature; "
                    "CertificationAttached")
        return Acceptance(summary=self.acceptance_summary(characteristics, tests, ncs, rows),
                          characteristics=characteristics, inspections=rows, tests=tests,
                          reports=reports, non_conformances=ncs, certificates=certificates)

    def inspection_row(self, event: Recorded, fact: f.InspectionRecorded,
                       design: f.Characteristic | None) -> InspectionRow:
        remarks: list[str] = []
        replaced = self.stream.superseded.get(event.originator_version)
        if replaced is not None:
            remarks.append(f"superseded by version {replaced}")
        stated = requirement(fact.nominal, fact.lower_tolerance, fact.upper_tolerance, fact.unit)
        if design is None:
            remarks.append("characteristic not on the released revision")
        else:
            drawn = requirement(design.nominal, design.lower_tolerance, design.upper_tolerance,
                                design.unit, design.requirement)
            if stated is not None and stated != drawn:
                remarks.append(f"requirement differs from the released revision ({drawn})")
            stated = stated or drawn
        measured = (f"{number(fact.measured)} {fact.unit or ''}".strip()
                    if fact.measured is not None else None)
        return InspectionRow(
            characteristic=fact.characteristic, name=fact.name or (design.name if design else None),
            method=fact.method, gauge=fact.gauge, program=fact.program, measured=measured,
            requirement=stated, verdict=fact.verdict, report=fact.report,
            non_conformance=fact.non_conformance, occurred_at=event.occurred_at,
            actor=event.actor, remarks="; ".join(remarks) or None, event=self.ref(event))

    def characteristic(
        self, char: f.Characteristic,
        opened: dict[str, tuple[Recorded, f.NonConformanceOpened]],
        decided: dict[str, tuple[Recorded, f.DispositionRecorded]],
    ) -> CharacteristicAcceptance:
        results = [(e, r) for e, r in self.stream.facts(f.InspectionRecorded)
                   if r.characteristic == char.balloon]
        results.sort(key=lambda pair: pair[0].occurred_at)
        refs = [self.ref(e) for e, _ in results]
        stated = requirement(char.nominal, char.lower_tolerance, char.upper_tolerance, char.unit,
                             char.requirement)
        if not results:
            status, accepted, final = "not inspected: no result recorded", False, None
        else:
            last = results[-1][1]
            final = (f"{number(last.measured)} {last.unit or ''}".strip()
                     if last.measured is not None else last.verdict)
            status, accepted = "accepted", True
            if last.verdict == "fail":
                nc = last.non_conformance or next(
                    (n for n, (_, o) in opened.items() if o.characteristic == char.balloon), None)
                disposition = decided.get(nc) if nc else None
                if disposition is not None:
                    refs.append(self.ref(disposition[0]))
                decision = disposition[1].decision if disposition else None
                accepted = decision in ("use-as-is", "accept")
                status = (f"accepted under {nc} ({decision}, signed MRB disposition)" if accepted
                          else f"rejected: {nc} dispositioned {decision}" if decision
                          else f"rejected: {nc} open" if nc
                          else "rejected: failed with no non-conformance recorded")
        return CharacteristicAcceptance(
            balloon=char.balloon, name=char.name, designator=char.designator,
            requirement=stated, results=len(results), final=final, status=status,
            accepted=accepted, evidence=tuple(refs))

    def non_conformance(self, event: Recorded, fact: f.NonConformanceOpened,
                        disposition: tuple[Recorded, f.DispositionRecorded] | None,
                        ) -> NonConformanceRow:
        refs = [self.ref(event)]
        signed_by = None
        if disposition is not None:
            refs.append(self.ref(disposition[0]))
            signatures = self.reader.signatures(self.stream,
                                                [disposition[0].originator_version])
            refs += [s.signature_event for s in signatures]
            signed_by = "; ".join(
                f"{s.printed_name} ({s.meaning}, {moment(s.signed_at)}, "
                f"{'verified' if s.verified else 'NOT VERIFIED'})" for s in signatures) or None
        decision = disposition[1] if disposition else None
        return NonConformanceRow(
            non_conformance=fact.non_conformance, severity=fact.severity,
            characteristic=fact.characteristic, description=fact.description,
            opened_at=event.occurred_at, decision=decision.decision if decision else None,
            rationale=decision.rationale if decision else None,
            reference=decision.reference if decision else None,
            decided_at=disposition[0].occurred_at if disposition else None,
            signed_by=signed_by, evidence=tuple(refs))

    def acceptance_summary(self, characteristics: tuple[CharacteristicAcceptance, ...],
                           tests: tuple[TestRow, ...], ncs: tuple[NonConformanceRow, ...],
                           rows: tuple[InspectionRow, ...]) -> RecordField:
        refs = [ref for c in characteristics for ref in c.evidence] + [t.event for t in tests]
        if self.release is None:
            return field("Acceptance against the device master record", None,
                         "no released revision to accept against as of this copy")
        accepted = [c for c in characteristics if c.accepted]
        parts = [f"{len(accepted)} of {len(characteristics)} characteristics of "
                 f"{self.registration.part_number} rev {self.registration.revision} accepted"]
        refused = [f"{c.balloon} ({c.status})" for c in characteristics if not c.accepted]
        if refused:
            parts.append("not accepted: " + "; ".join(refused))
        finals: dict[str, str] = {}
        for test in tests:
            finals[test.procedure] = test.verdict
        if finals:
            passed = sum(v == "pass" for v in finals.values())
            parts.append(f"{passed} of {len(finals)} functional tests passed")
        extra = sorted({r.characteristic for r in rows} - {c.balloon for c in characteristics})
        if extra:
            parts.append("results for characteristics not on the revision: " + ", ".join(extra))
        open_ncs = [n.non_conformance for n in ncs if n.decision is None]
        if open_ncs:
            parts.append("open non-conformances: " + ", ".join(open_ncs))
        return field("Acceptance against the device master record", "; ".join(parts),
                     "latest current InspectionRecorded per characteristic of the released "
                     "revision, with the signed disposition of a failure; latest TestRecorded "
                     "per procedure", refs, status="derived")

    # Production

    def operations(self) -> tuple[OperationRow, ...]:
        self.derive("Operations", "OperationPerformed; machine condition from the machine's "
                    "ConditionRecorded, AlarmRaised, CollectionGapRecorded and "
                    "CalibrationRecorded around the operation's window")
        rows = []
        for event, fact in self.stream.facts(f.OperationPerformed):
            condition, alert, refs = self.machine_condition(fact.machine, fact.started_at,
                                                            fact.ended_at)
            rows.append(OperationRow(
                operation=fact.operation, station=fact.station, machine=fact.machine,
                operator=fact.operator, program=fact.program,
                program_revision=fact.program_revision, started_at=fact.started_at,
                ended_at=fact.ended_at, cycle_time_s=fact.cycle_time_s,
                machine_condition=condition, machine_alert=alert,
                evidence=(self.ref(event), *refs)))
        return tuple(rows)

    def machine_condition(self, machine: str | None, start: datetime,
                          end: datetime) -> tuple[str, bool, tuple[EventRef, ...]]:
        """What the machine's stream says about the window of one operation, and whether
        anything in it (threshold, alarm, data gap, overdue calibration) needs a look."""
        if machine is None:
            return "no machine named", False, ()
        stream = self.reader.stream("machine", machine)
        if stream is None:
            return f"machine {machine} not in this copy", True, ()
        used: list[Recorded] = []
        notes: list[str] = []
        alert = False
        windows = [(e, c) for e, c in stream.facts(f.ConditionRecorded)
                   if c.window_start <= end and c.window_end >= start]
        for event, condition in windows:
            used.append(event)
            for metric in condition.metrics:
                if metric.exceeded:
                    alert = True
                    notes.append(f"{metric.name} max {number(metric.max)} {metric.unit} over "
                                 f"threshold {number(metric.threshold or 0)}")
            notes += [f"alarm {code} active" for code in condition.alarms_active]
            alert |= bool(condition.alarms_active)
        for event, alarm in stream.facts(f.AlarmRaised):
            cleared = alarm.cleared_at or end
            if alarm.raised_at <= end and cleared >= start:
                used.append(event)
                alert = True
                notes.append(f"alarm {alarm.code} ({alarm.severity})")
        for event, gap in stream.facts(f.CollectionGapRecorded):
            if gap.gap_start <= end and gap.gap_end >= start:
                used.append(event)
                alert = True
                notes.append(f"data collection gap ({gap.reason})")
        calibrations = [(e, c) for e, c in stream.facts(f.CalibrationRecorded)
                        if e.occurred_at <= start]
        if calibrations:
            event, calibration = calibrations[-1]
            used.append(event)
            overdue = calibration.due is not None and calibration.due < start
            alert |= overdue or calibration.result == "fail"
            notes.append(f"last calibration {calibration.result} "
                         f"{moment(event.occurred_at)}" + (" (OVERDUE)" if overdue else ""))
        if not windows:
            notes.insert(0, "no condition record covers the operation")
        elif not alert:
            notes.insert(0, f"{len(windows)} condition window(s) within thresholds")
        unique = list(dict.fromkeys(notes))
        return "; ".join(unique), alert, self.reader.refs(stream, dict.fromkeys(used))

    def parameters(self) -> tuple[ParameterRow, ...]:
        self.derive("Process parameters", "ProcessRecorded parameter summaries")
        return tuple(ParameterRow(
            operation=fact.operation, machine=fact.machine, parameter=p.name, unit=p.unit, n=p.n,
            min=p.min, max=p.max, mean=p.mean, sd=p.sd, event=self.ref(event))
            for event, fact in self.stream.facts(f.ProcessRecorded) for p in fact.parameters)

    def materials(self) -> tuple[MaterialRow, ...]:
        self.derive("Materials", "MaterialConsumed, with the lot's MaterialLotReceived; the "
                    "certificate digest of the consumption is compared with the receipt's")
        rows = []
        for event, consumed in self.stream.facts(f.MaterialConsumed):
            refs = [self.ref(event)]
            lot = self.reader.stream("lot", consumed.material_lot)
            receipt = lot.first(f.MaterialLotReceived) if lot else None
            received = receipt[1] if receipt else None
            if lot is not None and receipt is not None:
                refs.append(self.reader.ref(lot, receipt[0]))
            if received is None:
                check = "no receipt of the lot in this copy"
            elif consumed.certificate_digest is None or received.certificate_digest is None:
                check = "not checked: a certificate digest is not recorded"
            elif consumed.certificate_digest == received.certificate_digest:
                check = "certificate digest matches the lot's receipt"
            else:
                check = "MISMATCH: certificate digest differs from the lot's receipt"
            rows.append(MaterialRow(
                lot=consumed.material_lot, quantity=consumed.quantity, unit=consumed.unit,
                material=received.material if received else None,
                specification=received.specification if received else None,
                supplier=received.supplier if received else None,
                heat=received.heat if received else None,
                certificate_number=received.certificate_number if received else None,
                certificate_digest=consumed.certificate_digest or (
                    received.certificate_digest if received else None),
                certificate_check=check, evidence=tuple(refs)))
        return tuple(rows)

    def components(self) -> tuple[ComponentRow, ...]:
        self.derive("Components", "ComponentInstalled / ComponentRemoved on the unit; each "
                    "component's PartRegistered and acceptance from its own facts")
        removed = {fact.component: (event, fact)
                   for event, fact in self.stream.facts(f.ComponentRemoved)}
        rows = []
        for event, installed in self.stream.facts(f.ComponentInstalled):
            refs = [self.ref(event)]
            component = self.reader.stream("part", installed.component)
            registration = component.first(f.PartRegistered) if component else None
            reg = registration[1] if registration else None
            acceptance = "component not in this copy"
            if component is not None:
                if registration is not None:
                    refs.append(self.reader.ref(component, registration[0]))
                state = cast(Part, Part.replay(installed.component, component.events))
                decisions = [n.id + " " + (n.decision or "open")
                             for n in state.non_conformances.values()]
                acceptance = (f"{state.inspections} inspections, {state.failed_inspections} "
                              "failed" + (f"; {', '.join(decisions)}" if decisions else "")
                              + ("; QUARANTINED" if state.quarantined else "")
                              + ("; registered undocumented (no released revision)"
                                 if reg is not None and reg.undocumented else ""))
            removal = removed.get(installed.component)
            if removal is not None:
                refs.append(self.ref(removal[0]))
            rows.append(ComponentRow(
                serial=installed.component, position=installed.position,
                part_number=reg.part_number if reg else None,
                revision=reg.revision if reg else None, udi=reg.udi if reg else None,
                installed_at=event.occurred_at,
                removed=(f"{moment(removal[0].occurred_at)}: {removal[1].reason}"
                         if removal else None),
                acceptance=acceptance, evidence=tuple(refs)))
        return tuple(rows)

    def environment(self) -> tuple[EnvironmentRow, ...]:
        self.derive("Work environment", "EnvironmentRecorded")
        return tuple(EnvironmentRow(
            area=fact.area, started_at=fact.started_at, ended_at=fact.ended_at,
            readings=", ".join(f"{r.name} {number(r.value)} {r.unit}" for r in fact.readings),
            event=self.ref(event)) for event, fact in self.stream.facts(f.EnvironmentRecorded))

    def distribution(self) -> tuple[DistributionRow, ...]:
        self.derive("Distribution (consignee)", "Shipped and InstalledAtSite")
        rows = [DistributionRow(
            kind="shipped", consignee=fact.customer, reference=fact.order,
            destination=fact.destination,
            carrier=" ".join(x for x in (fact.carrier, fact.tracking) if x) or None,
            at=event.occurred_at, event=self.ref(event))
            for event, fact in self.stream.facts(f.Shipped)]
        rows += [DistributionRow(
            kind="installed at site", consignee=fact.site, reference=fact.equipment,
            destination=None, carrier=fact.installer, at=event.occurred_at, event=self.ref(event))
            for event, fact in self.stream.facts(f.InstalledAtSite)]
        return tuple(sorted(rows, key=lambda row: row.at))

    def actions(self) -> tuple[ActionRow, ...]:
        self.derive("Holds, releases, recalls, CAPA", "Quarantined, ReleasedFromQuarantine, "
                    "Recalled, CorrectiveActionOpened, CorrectiveActionClosed")
        rows = []
        for event in self.stream.events:
            fact = event.fact
            match fact:
                case f.Quarantined() | f.ReleasedFromQuarantine():
                    action = "quarantined" if isinstance(fact, f.Quarantined) else "released"
                    rows.append((action, fact.reference, fact.reason, event))
                case f.Recalled():
                    rows.append(("recalled", fact.recall, fact.reason, event))
                case f.CorrectiveActionOpened():
                    rows.append(("CAPA opened", fact.capa, fact.problem, event))
                case f.CorrectiveActionClosed():
                    rows.append(("CAPA closed", fact.capa, fact.resolution + (
                        "" if fact.effective else " (not effective)"), event))
        return tuple(ActionRow(action=action, reference=reference, text=text,
                               at=event.occurred_at, actor=event.actor, event=self.ref(event))
                     for action, reference, text, event in rows
                     if event.originator_version not in self.stream.superseded)

    # Signatures and approval

    def signatures(self) -> tuple[SignatureRecord, ...]:
        found = self.reader.signatures(self.stream)
        if self.release is not None and self.design is not None:
            found += self.reader.signatures(self.design, [self.release[0].originator_version])
        self.derive("Signatures", "SignatureApplied on the unit's events and on the release of "
                    "its revision, each verified (Ed25519) and checked against the signed "
                    "event's hash")
        return tuple(sorted(found, key=lambda s: s.signed_at))

    def approval(self, signatures: tuple[SignatureRecord, ...]) -> RecordField:
        name = "Record verified and approved (ISO 13485 7.5.1)"
        release_topics = {f.Shipped.topic, f.CertificationAttached.topic,
                          f.ReleasedFromQuarantine.topic}
        approvals = [s for s in signatures if s.meaning == "approval"
                     and s.signed.kind == self.kind and s.signed.topic in release_topics]
        self.derive(name, "a SignatureApplied with meaning approval on a release of the unit "
                    "(Shipped, CertificationAttached, ReleasedFromQuarantine)")
        if not approvals:
            return field(name, None, "no signature with meaning approval on a release of the "
                         "unit (shipment, certificate of conformance, release from quarantine)")
        return field(name, "; ".join(
            f"{s.printed_name}, {moment(s.signed_at)}, on {s.signed.topic}"
            + ("" if s.verified else " (NOT VERIFIED)") for s in approvals),
            "SignatureApplied (approval) on a release event",
            [s.signature_event for s in approvals])


def _compare(what: str, found: str | None, expected: str, named: str) -> str:
    if found is None:
        return f"{what}: not in the UDI"
    if found == expected:
        return f"{what} {found} matches {named}"
    return f"MISMATCH: {what} {found} differs from {named} {expected}"


# The layout shared by the HTML and PDF copies

def _layout(record: DeviceHistoryRecord) -> Document:
    info = record.document
    ident = {f.name: f for f in record.identification}
    summary = (
        ident["Part number"], ident["Revision"], ident["Serial number" if record.kind == "part"
                                                      else "Lot number"],
        ident["Work order"],
        RecordField(name="UDI", value=record.udi.hri or record.udi.raw, status=record.udi.status,
                    derived_from="PartRegistered.udi"),
        record.quantity_manufactured, record.quantity_released,
        RecordField(name="Acceptance", value=record.acceptance.summary.value,
                    status=record.acceptance.summary.status,
                    derived_from=record.acceptance.summary.derived_from),
    )
    subtitle = (f"{'Serial' if record.kind == 'part' else 'Lot'} {record.key}, "
                f"{ident['Part number'].text} rev {ident['Revision'].text}"
                + (f", {ident['Part name'].text}" if ident["Part name"].value else ""))
    sections = (
        _identification_section(record),
        _section("2. Device master record", (Boxes(record.device_master_record, 2),),
                 record.device_master_record),
        _section("3. Dates of manufacture and quantities",
                 (Boxes((*record.manufacture, record.quantity_manufactured,
                         record.quantity_released), 2),),
                 (*record.manufacture, record.quantity_manufactured, record.quantity_released)),
        _acceptance_section(record),
        _production_section(record),
        _traceability_section(record),
        _distribution_section(record),
        _approval_section(record),
    )
    derivations = Section("9. How this record was derived", (Grid(
        ("Part of the record", "Derived from"),
        tuple((Cell(d.field), Cell(d.derived_from)) for d in record.derivations),
        (1, 3)),), basis="Fields marked Not recorded have no fact in the ledger that gives "
                         "them; nothing in this record is typed in by hand.", cites=False)
    return Document(info=info, subtitle=subtitle, sections=sections,
                    signatures=record.signatures, evidence=record.evidence, summary=summary,
                    appendix=(derivations,))


def _section(title: str, blocks: tuple[Block, ...],
             fields: Iterable[RecordField] = (), refs: Iterable[EventRef] = (),
             basis: str = "") -> Section:
    evidence = tuple(ref for fld in fields for ref in fld.evidence) + tuple(refs)
    return Section(title, blocks, basis=basis, evidence=tuple(dict.fromkeys(evidence)))


def _identification_section(record: DeviceHistoryRecord) -> Section:
    udi = record.udi
    udi_fields = (
        RecordField(name="UDI as recorded", value=udi.raw and udi.raw.replace(GS, "<GS>"),
                    status=udi.status, derived_from="PartRegistered.udi (a GS separator "
                    "printed as <GS>)"),
        field("Form", udi.form, "how the recorded UDI is written", status="derived"),
        field("(01) GTIN, device identifier", udi.gtin, "the recorded UDI", status="derived"),
        field("(11) Production date", udi.production_date, "the recorded UDI",
              status="derived"),
        field("(17) Expiry date", udi.expiry_date, "the recorded UDI", status="derived"),
        field("(10) Lot", udi.lot, "the recorded UDI", status="derived"),
        field("(21) Serial", udi.serial, "the recorded UDI", status="derived"),
        field("GS1 Digital Link", udi.digital_link, "written from the parsed UDI",
              status="derived"),
    ) if udi.raw else (RecordField(name="UDI", value=None, status="not recorded",
                                   derived_from="PartRegistered.udi"),)
    checks = "UDI checks: " + "; ".join(udi.checks) if udi.checks else ""
    tone: Tone = "warn" if udi.error or any("MISMATCH" in c for c in udi.checks) else "plain"
    blocks: tuple[Block, ...] = (
        Boxes(record.identification, 3), Boxes(udi_fields, 4),
        *((Note(checks, tone),) if checks else ()), Boxes((record.labelling,), 1))
    return _section("1. Identification, UDI and labelling", blocks,
                    (*record.identification, record.labelling), udi.evidence)


def _acceptance_section(record: DeviceHistoryRecord) -> Section:
    acc = record.acceptance
    chars = Grid(
        ("Char.", "Characteristic", "Designator", "Requirement", "Results", "Final", "Status"),
        tuple((Cell(c.balloon), Cell(c.name), Cell(c.designator), cell(c.requirement),
               Cell(str(c.results)), cell(c.final),
               Cell(c.status, "pass" if c.accepted else "fail")) for c in acc.characteristics),
        (0.5, 1.6, 0.9, 2.2, 0.6, 1, 2.2), empty="No released revision to accept against.")
    inspections = Grid(
        ("Char.", "Method / gauge", "Measured", "Requirement", "Verdict", "Report / NC",
         "When (UTC) / by", "Remarks"),
        tuple((Cell(r.characteristic + (f" {r.name}" if r.name else "")),
               Cell(" / ".join(x for x in (r.method, r.gauge, r.program) if x)), cell(r.measured),
               cell(r.requirement), verdict(r.verdict),
               Cell(" / ".join(x for x in (r.report, r.non_conformance) if x) or "-"),
               Cell(f"{moment(r.occurred_at)} {r.actor}"), Cell(r.remarks or "", "warn"))
              for r in acc.inspections),
        (1.2, 1.1, 0.9, 1.9, 0.6, 1.3, 1.3, 1.1), empty="No inspection result recorded.")
    tests = Grid(
        ("Procedure", "Rev.", "Values", "Verdict", "Report", "When (UTC) / by"),
        tuple((Cell(t.procedure), cell(t.procedure_revision), cell(t.values), verdict(t.verdict),
               cell(t.report), Cell(f"{moment(t.occurred_at)} {t.actor}")) for t in acc.tests),
        (1.2, 0.4, 2.4, 0.6, 1, 1.4), empty="No functional test recorded.")
    reports = Grid(
        ("Report", "Preparer", "Organization / supplier / PO", "Program", "Meas.", "Fail",
         "Document digest"),
        tuple((Cell(r.report), cell(r.preparer),
               Cell(" / ".join(x or "not recorded" for x in (r.organization, r.supplier,
                                                             r.purchase_order))),
               cell(r.program), Cell(str(r.measurements)), Cell(str(r.failures)),
               Cell(r.document_digest or "Not recorded",
                    "mono" if r.document_digest else "missing")) for r in acc.reports),
        (1, 1, 1.8, 0.8, 0.4, 0.4, 2), empty="No inspection report traceability "
                                             "(InspectionReported) recorded.")
    ncs = Grid(
        ("NC", "Severity / char.", "Description", "Disposition", "Rationale", "Signed"),
        tuple((Cell(n.non_conformance), Cell(f"{n.severity} / {n.characteristic or '-'}"),
               Cell(f"{n.description} (opened {moment(n.opened_at)})"),
               Cell(f"{n.decision} {n.reference or ''} {moment(n.decided_at)}"
                    if n.decision and n.decided_at else "OPEN", "plain" if n.decision else "fail"),
               cell(n.rationale), cell(n.signed_by)) for n in acc.non_conformances),
        (0.9, 0.9, 2.2, 1.3, 1.8, 1.6), empty="No non-conformance recorded.")
    certificates = Grid(
        ("Document", "Number", "Issuer", "Digest"),
        tuple((Cell(c.document), Cell(c.number), cell(c.issuer), Cell(c.digest, "mono"))
              for c in acc.certificates),
        (1, 1, 1.4, 3.4), empty="No certificate attached.")
    blocks: tuple[Block, ...] = (
        Boxes((acc.summary,), 1), Caption("Characteristics of the device master record"), chars,
        Caption("Inspection results (every result, superseded ones marked)"), inspections,
        Caption("Functional tests"), tests, Caption("Inspection reports"), reports,
        Caption("Non-conformances and dispositions"), ncs, Caption("Certificates"), certificates)
    refs = ([ref for c in acc.characteristics for ref in c.evidence]
            + [r.event for r in acc.inspections] + [t.event for t in acc.tests]
            + [r.event for r in acc.reports] + [ref for n in acc.non_conformances
                                               for ref in n.evidence]
            + [c.event for c in acc.certificates])
    return _section("4. Acceptance records", blocks, (acc.summary,), refs, basis=(
        "Each characteristic of the released revision is accepted by its latest result, or by "
        "a signed use-as-is disposition of the non-conformance that result raised."))


def _production_section(record: DeviceHistoryRecord) -> Section:
    operations = Grid(
        ("Operation", "Station / machine", "Operator", "Program / rev.", "Start - end (UTC)",
         "Cycle", "Machine condition during the operation"),
        tuple((Cell(o.operation), Cell(f"{o.station} / {o.machine or '-'}"), Cell(o.operator),
               Cell(f"{o.program or 'not recorded'} / {o.program_revision or 'not recorded'}"),
               Cell(f"{moment(o.started_at)} - {o.ended_at:%H:%M:%S}"),
               Cell(f"{o.cycle_time_s:g} s"),
               Cell(o.machine_condition, "warn" if o.machine_alert else "plain"))
              for o in record.operations),
        (1.6, 1.1, 0.7, 1, 1.5, 0.5, 2.0), empty="No operation recorded.")
    parameters = Grid(
        ("Operation", "Machine", "Parameter", "Unit", "n", "Min", "Mean", "Max", "SD"),
        tuple((Cell(p.operation), cell(p.machine), Cell(p.parameter), Cell(p.unit),
               Cell(str(p.n)), Cell(number(p.min)), Cell(number(p.mean)), Cell(number(p.max)),
               Cell(number(p.sd))) for p in record.process_parameters),
        (1.6, 0.7, 1.3, 0.7, 0.4, 0.7, 0.7, 0.7, 0.6), empty="No process record.")
    refs = ([ref for o in record.operations for ref in o.evidence]
            + [p.event for p in record.process_parameters])
    return _section("5. Manufacturing operations and process records",
                    (operations, Caption("Process parameters"), parameters), refs=refs)


def _traceability_section(record: DeviceHistoryRecord) -> Section:
    materials = Grid(
        ("Material lot", "Qty", "Material / spec.", "Supplier / heat", "Certificate",
         "Certificate check"),
        tuple((Cell(m.lot), Cell(f"{number(m.quantity)} {m.unit}"),
               Cell(f"{m.material or 'not recorded'} / {m.specification or 'not recorded'}"),
               Cell(f"{m.supplier or 'not recorded'} / {m.heat or 'not recorded'}"),
               Cell(f"{m.certificate_number or 'number not recorded'} "
                    f"{(m.certificate_digest or '')[:19]}"),
               Cell(m.certificate_check, "warn" if "MISMATCH" in m.certificate_check
                    else "plain")) for m in record.materials),
        (1, 0.5, 1.8, 1.3, 1.5, 1.5), empty="No material consumption recorded.")
    components = Grid(
        ("Component", "Position", "Part no. / rev.", "UDI", "Installed (UTC)", "Removed",
         "Component acceptance"),
        tuple((Cell(c.serial), cell(c.position),
               Cell(f"{c.part_number or 'not recorded'} / {c.revision or 'not recorded'}"),
               cell(c.udi), Cell(moment(c.installed_at)), Cell(c.removed or "-"),
               Cell(c.acceptance, "warn" if "QUARANTINED" in c.acceptance else "plain"))
              for c in record.components),
        (1, 0.7, 1, 1.2, 1.3, 0.8, 1.6), empty="No component installed.")
    environment = Grid(
        ("Area", "Window (UTC)", "Readings"),
        tuple((Cell(e.area), Cell(f"{moment(e.started_at)} - {moment(e.ended_at)}"),
               Cell(e.readings)) for e in record.environment),
        (1, 2, 3), empty="Not recorded: no work-environment condition (EnvironmentRecorded) for "
                         "this unit.")
    refs = ([ref for m in record.materials for ref in m.evidence]
            + [ref for c in record.components for ref in c.evidence]
            + [e.event for e in record.environment])
    return _section("6. Materials, components and work environment (ISO 13485 7.5.8, 7.5.9.2)",
                    (Caption("Materials"), materials, Caption("Components"), components,
                     Caption("Work environment"), environment), refs=refs)


def _distribution_section(record: DeviceHistoryRecord) -> Section:
    actions = Grid(
        ("Action", "Reference", "Reason / text", "When (UTC)", "By"),
        tuple((Cell(a.action, "warn" if a.action in ("quarantined", "recalled") else "plain"),
               cell(a.reference), Cell(a.text), Cell(moment(a.at)), Cell(a.actor))
              for a in record.actions),
        (0.9, 1.1, 3, 1.3, 0.8), empty="No hold, release, recall or corrective action.")
    distribution = Grid(
        ("Event", "Consignee / site", "Order / equipment", "Destination", "Carrier / installer",
         "When (UTC)"),
        tuple((Cell(d.kind), Cell(d.consignee), cell(d.reference), cell(d.destination),
               cell(d.carrier), Cell(moment(d.at))) for d in record.distribution),
        (0.8, 1.6, 1, 1, 1.3, 1.2), empty="No shipment or installation recorded.")
    corrections = Grid(
        ("Corrected version", "Replaced by", "Reason"),
        tuple((Cell(str(c.corrects_version)), Cell(str(c.replaced_by_version)), Cell(c.reason))
              for c in record.corrections),
        (1, 1, 4), empty="No correction: no event of this unit was superseded.")
    refs = ([a.event for a in record.actions] + [d.event for d in record.distribution]
            + [c.event for c in record.corrections])
    return _section("7. Holds, distribution and corrections",
                    (Caption("Holds, releases, recalls and corrective actions"), actions,
                     Caption("Distribution (consignee)"), distribution,
                     Caption("Corrections (Part 11: the superseded entry stays visible)"),
                     corrections), refs=refs)


def _approval_section(record: DeviceHistoryRecord) -> Section:
    return _section("8. Verification and approval of the record", (Boxes((record.approval,), 1),),
                    (record.approval,), basis="Electronic signatures on this unit's events "
                    "follow in the signature block, each with printed name, date and time (UTC) "
                    "and meaning.")
