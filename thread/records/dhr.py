"""The device history record of a serialised unit or a production lot.

Since 2 February 2026 21 CFR Part 820 (the QMSR) incorporates ISO 13485:2016
by reference (820.10); section 820.184 is gone, and the record is the clause
7.5.1 record of production, which people still call the Device History
Record. Its contents are what 7.5.1 asks and what auditors still look for
from the old 820.184: dates of manufacture, quantity manufactured and
released for distribution, acceptance records against the device master
record, identification and labelling with the UDI (820.35), traceability
(7.5.8) and, as for implantable devices (7.5.9.2), the components, materials
and work-environment conditions used and the consignee; and the record
verified and approved (7.5.1). Every field names the facts it was derived
from; a field the ledger holds no fact for says so instead of being left
blank.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal, cast

from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.domain.part import Item, Lot, Part
from thread.domain.udi import InvalidUDI, parse_udi
from thread.errors import UnknownSubject
from thread.ledger import Ledger
from thread.records.dhr_record import (
    STANDARD,
    Acceptance,
    CertificateRow,
    CharacteristicAcceptance,
    CorrectionRow,
    DeviceHistoryRecord,
    InspectionRow,
    NonConformanceRow,
    ReportRow,
    TestRow,
    UDIRecord,
)
from thread.records.dhr_trace import Traceability
from thread.records.evidence import (
    Cutoff,
    Derivation,
    Reader,
    RecordField,
    RecordUnavailable,
    SignatureRecord,
    Stream,
    TimeAxis,
    field,
    moment,
)
from thread.records.units import quantity, readings, requirement
from thread.records.verification import Verifier

__all__ = ["DeviceHistoryRecord", "device_history_record"]


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

class _Builder(Traceability):
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
        verified_by, approval = self.approval(signatures)
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
            verified_by=verified_by, approval=approval, signatures=signatures,
            derivations=tuple(self.derivations),
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
            field("Release signed by", "; ".join(s.signed_by for s in signed) or None,
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
        inside = (f"; installed in assembly {state.installed_in}, whose DHR records its "
                  "distribution" if state.installed_in is not None else "")
        if conformance:
            event, certificate = conformance[0]
            return released(quantity, "CertificationAttached (conformance)",
                            f"certificate of conformance {certificate.number} attached "
                            f"{moment(event.occurred_at)}{inside}", [event])
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
        verifier = Verifier(self.reader, stream)
        characteristics = tuple(
            self.characteristic(c, verifier) for c in design_chars.values())
        tests = tuple(TestRow(
            procedure=fact.procedure, procedure_revision=fact.procedure_revision,
            values=readings(fact.values) or None,
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
        self.derive("Acceptance records", "each characteristic of the released revision "
                    "verified by the rule of thread.records.verification: InspectionRecorded "
                    "naming its balloon, a TestRecorded reading named for it, or the "
                    "ComponentInstalled its requirement names; TestRecorded; InspectionReported; "
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
        if fact.verdict_reason is not None:
            remarks.append(f"verdict kept against value and tolerance: {fact.verdict_reason}")
        stated = requirement(fact.nominal, fact.lower_tolerance, fact.upper_tolerance, fact.unit,
                             name=design.name if design else fact.name)
        if design is None:
            remarks.append("characteristic not on the released revision")
        else:
            drawn = requirement(design.nominal, design.lower_tolerance, design.upper_tolerance,
                                design.unit, design.requirement, design.name)
            if stated is not None and stated != drawn:
                remarks.append(f"requirement differs from the released revision ({drawn})")
            stated = stated or drawn
        measured = quantity(fact.measured, fact.unit) if fact.measured is not None else None
        return InspectionRow(
            characteristic=fact.characteristic, name=fact.name or (design.name if design else None),
            method=fact.method, gauge=fact.gauge, program=fact.program, measured=measured,
            requirement=stated, verdict=fact.verdict, report=fact.report,
            non_conformance=fact.non_conformance, occurred_at=event.occurred_at,
            actor=event.actor, remarks="; ".join(remarks) or None, event=self.ref(event))

    def characteristic(self, char: f.Characteristic, verifier: Verifier
                       ) -> CharacteristicAcceptance:
        found = verifier.verify(char)
        stated = requirement(char.nominal, char.lower_tolerance, char.upper_tolerance, char.unit,
                             char.requirement, char.name)
        return CharacteristicAcceptance(
            balloon=char.balloon, name=char.name, designator=char.designator,
            requirement=stated, verified_by=found.verified_by, results=len(found.results),
            final=found.final, status=found.status, accepted=found.accepted,
            evidence=found.evidence)

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
            signed_by = "; ".join(s.signed_by for s in signatures) or None
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
                     "each characteristic of the released revision verified by its latest "
                     "inspection (a failure accepted only by a use-as-is or accept "
                     "disposition), its latest functional test reading, or the components "
                     "its requirement names (thread.records.verification); latest "
                     "TestRecorded per procedure", refs, status="derived")

    # Signatures and approval

    def signatures(self) -> tuple[SignatureRecord, ...]:
        found = self.reader.signatures(self.stream)
        if self.release is not None and self.design is not None:
            found += self.reader.signatures(self.design, [self.release[0].originator_version])
        self.derive("Signatures", "SignatureApplied on the unit's events and on the release of "
                    "its revision, each verified (Ed25519) and checked against the signed "
                    "event's hash")
        return tuple(sorted(found, key=lambda s: s.signed_at))

    def approval(self, signatures: tuple[SignatureRecord, ...]
                 ) -> tuple[RecordField, RecordField]:
        """Who verified the record and who approved the unit's release (ISO 13485 7.5.1): a
        review signature on the unit's acceptance records or release, and an approval
        signature on its release."""
        own = [s for s in signatures if s.signed.kind == self.kind and s.signed.key == self.key]
        verified = [s for s in own if s.meaning == "review"
                    and s.signed.topic in _REVIEWED_TOPICS]
        approved = [s for s in own if s.meaning == "approval"
                    and s.signed.topic in _RELEASE_TOPICS]
        self.derive("Record verified by (ISO 13485 7.5.1)", "a SignatureApplied with meaning "
                    "review on the unit's acceptance records or release (InspectionReported, "
                    "TestRecorded, CertificationAttached, Shipped, ReleasedFromQuarantine)")
        self.derive("Record approved by (ISO 13485 7.5.1)", "a SignatureApplied with meaning "
                    "approval on a release of the unit (CertificationAttached, Shipped, "
                    "ReleasedFromQuarantine)")
        return (
            _signed("Record verified by (ISO 13485 7.5.1)", verified,
                    "SignatureApplied (review) on an acceptance record or release",
                    "no signature with meaning review on the unit's inspection or test report "
                    "or release"),
            _signed("Record approved by (ISO 13485 7.5.1)", approved,
                    "SignatureApplied (approval) on a release event",
                    "no signature with meaning approval on a release of the unit (certificate "
                    "of conformance, shipment, release from quarantine)"),
        )


#: Events whose signature with meaning review verifies the record: acceptance and release.
_REVIEWED_TOPICS = frozenset({
    f.InspectionReported.topic, f.TestRecorded.topic, f.CertificationAttached.topic,
    f.Shipped.topic, f.ReleasedFromQuarantine.topic})
#: Events that release the unit, whose signature with meaning approval approves it.
_RELEASE_TOPICS = frozenset({
    f.CertificationAttached.topic, f.Shipped.topic, f.ReleasedFromQuarantine.topic})


def _signed(name: str, signatures: list[SignatureRecord], source: str, missing: str
            ) -> RecordField:
    if not signatures:
        return field(name, None, missing)
    return field(name, "; ".join(
        f"{s.printed_name}, {moment(s.signed_at)}, on {s.signed.topic} ({s.checked})"
        for s in signatures), source, [s.signature_event for s in signatures])


def _compare(what: str, found: str | None, expected: str, named: str) -> str:
    if found is None:
        return f"{what}: not in the UDI"
    if found == expected:
        return f"{what} {found} matches {named}"
    return f"MISMATCH: {what} {found} differs from {named} {expected}"
