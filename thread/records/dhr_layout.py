"""The DHR laid out for people: numbered sections, boxes and tables, evidence under each."""

from __future__ import annotations

from collections.abc import Iterable

from thread.domain.udi import GS
from thread.records.dhr_record import DeviceHistoryRecord
from thread.records.evidence import EventRef, RecordField, field, moment
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
from thread.records.units import number, quantity, symbol


def dhr_document(record: DeviceHistoryRecord) -> Document:
    """The record as a document for the HTML and PDF writers."""
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
        ("Char.", "Characteristic", "Designator", "Requirement", "Verified by (results)",
         "Final", "Status"),
        tuple((Cell(c.balloon), Cell(c.name), Cell(c.designator), cell(c.requirement),
               Cell(f"{c.verified_by} ({c.results})" if c.results else c.verified_by,
                    "plain" if c.results else "missing"), cell(c.final),
               Cell(c.status, "pass" if c.accepted else "fail")) for c in acc.characteristics),
        (0.5, 1.4, 0.95, 1.9, 1.5, 1.05, 1.85), empty="No released revision to accept against.")
    inspections = Grid(
        ("Char.", "Method / gauge", "Measured", "Requirement", "Verdict", "Report / NC",
         "When (UTC) / by", "Remarks"),
        tuple((Cell(r.characteristic + (f" {r.name}" if r.name else "")),
               Cell(" / ".join(x for x in (r.method, r.gauge, r.program) if x)), cell(r.measured),
               cell(r.requirement), verdict(r.verdict),
               Cell(" / ".join(x for x in (r.report, r.non_conformance) if x) or "-"),
               Cell(f"{moment(r.occurred_at)} {r.actor}"), Cell(r.remarks or "", "warn"))
              for r in acc.inspections),
        (1.2, 1.1, 0.9, 1.7, 0.6, 1.5, 1.3, 1.1), empty="No inspection result recorded.")
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
        (1.3, 1, 1.8, 0.8, 0.4, 0.4, 1.7), empty="No inspection report traceability "
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
        "Each characteristic of the released revision is verified by its latest inspection "
        "(a failure accepted only by a use-as-is disposition of its non-conformance), by its "
        "latest functional test reading against the tolerance, or, when its requirement names "
        "a part number, by the acceptable components of that part number installed."))


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
        tuple((Cell(p.operation), cell(p.machine), Cell(p.parameter), Cell(symbol(p.unit)),
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
        tuple((Cell(m.lot), Cell(quantity(m.quantity, m.unit)),
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
    fields = (record.verified_by, record.approval)
    return _section("8. Verification and approval of the record", (Boxes(fields, 2),), fields,
                    basis="ISO 13485 7.5.1: the record is verified and approved. Electronic "
                    "signatures on this unit's events follow in the signature block, each with "
                    "printed name, date and time (UTC), meaning and what was checked.")
