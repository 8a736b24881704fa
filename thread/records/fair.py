"""The AS9102 Rev C first article inspection report of a part number and revision.

Form 1 (part number accountability), Form 2 (product accountability:
materials, processes, functional tests) and Form 3 (characteristic
accountability) are filled field by field, with AS9102's field numbers, from
the design revision's characteristics, the first article's inspection
results and its material and process records. The report also says when a
new FAI is due: a design change after the first article, a change of
machine, station, NC program, program revision or site in later production,
or a production lapse of more than two years.
"""

from __future__ import annotations

from datetime import UTC, datetime

from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.errors import UnknownSubject
from thread.ledger import Ledger
from thread.records.evidence import (
    Cutoff,
    Reader,
    RecordField,
    RecordUnavailable,
    SignatureRecord,
    TimeAxis,
    field,
    moment,
    not_applicable,
)
from thread.records.fair_context import Production, fair_identifier, serials_of
from thread.records.fair_due import DueAnalysis
from thread.records.fair_products import Products
from thread.records.fair_record import (
    STANDARD,
    CharacteristicRow,
    ComponentAccountability,
    FaiDue,
    FirstArticleReport,
    Form1,
    Form2,
    Form3,
)
from thread.records.units import requirement
from thread.records.verification import Verification, Verifier

__all__ = ["FirstArticleReport", "fair_identifier", "first_article_report", "serials_of"]


def first_article_report(
    ledger: Ledger,
    part_number: str,
    revision: str,
    *,
    serial: str | None = None,
    as_of: datetime | None = None,
    by: TimeAxis = "recorded",
    evaluated_at: datetime | None = None,
    generated_at: datetime | None = None,
    trusted_keys: dict[str, bytes] | None = None,
) -> FirstArticleReport:
    """The FAIR of ``part_number`` rev ``revision``, now or as of a past moment.

    The first article is the earliest produced serial of that revision, or
    ``serial``. Whether a new FAI is due is judged at ``evaluated_at``
    (default: ``as_of``, else now); ``by`` picks the clock ``as_of`` is read on.
    """
    reader = Reader(ledger, Cutoff(as_of, by), trusted_keys)
    design = reader.stream("design", part_number)
    if design is None:
        raise UnknownSubject(f"no design item {part_number} in this ledger"
                             + (f" as of {moment(as_of)} (by {by} time)" if as_of else ""))
    releases = design.facts(f.RevisionReleased)
    release = next(((e, r) for e, r in releases if r.revision == revision), None)
    if release is None:
        raise RecordUnavailable(
            f"revision {revision} of {part_number} was not released"
            + (f" as of {moment(as_of)}" if as_of else "") + "; released: "
            + (", ".join(r.revision for _, r in releases) or "none"))
    production = Production(reader, serials_of(ledger, part_number, revision, reader.cutoff))
    if not production.serials:
        raise RecordUnavailable(
            f"no serial of {part_number} rev {revision} is registered"
            + (f" as of {moment(as_of)} (by {by} time)" if as_of else "")
            + "; a first article needs a produced part")
    if serial is None:
        serial, selection = production.serials[0], (
            f"earliest produced serial of {part_number} rev {revision} "
            f"({len(production.serials)} produced)")
    elif serial not in production.streams:
        raise RecordUnavailable(
            f"serial {serial} is not a part of {part_number} rev {revision}"
            + (f" as of {moment(as_of)}" if as_of else ""))
    else:
        selection = f"named by the requester ({len(production.serials)} produced)"
    moment_evaluated = evaluated_at or as_of or datetime.now(UTC)
    builder = _Builder(reader, design, release, production, serial, moment_evaluated)
    return builder.build(selection, generated_at)


class _Builder(Products, DueAnalysis):
    """Fills the three forms and the FAI-due analysis for one first article."""

    def build(self, selection: str, generated_at: datetime | None) -> FirstArticleReport:
        header = self.header()
        form3 = Form3(header=header, rows=self.characteristics())
        form2 = Form2(header=header, rows=self.products())
        due = self.fai_due(form3)
        signatures = self.signatures()
        form1 = self.form1(header, form3, due, signatures)
        info = self.reader.document(self.fair_id, "First Article Inspection Report", STANDARD,
                                    generated_at)
        order = ("Fields 1-4", "Form 1", "Form 2", "Form 3", "FAI due", "Signatures")
        derivations = sorted(self.derivations, key=lambda d: next(
            (i for i, name in enumerate(order) if d.field.startswith(name)), len(order)))
        return FirstArticleReport(
            document=info, part_number=self.part_number, revision=self.revision,
            serial=self.serial, selection=selection, form1=form1, form2=form2, form3=form3,
            fai_due=due, signatures=signatures, derivations=tuple(derivations),
            evidence=self.reader.evidence())


    # Form 1

    def header(self) -> tuple[RecordField, ...]:
        release = (self.reader.ref(self.design, self.release_event),)
        registered = (self.ref(self.registered_event),)
        self.derive("Fields 1-4 (every form)", "RevisionReleased.part_number and part_name; "
                    "the first article's PartRegistered.serial; the FAIR identifier is "
                    "FAIR-<part number>-<revision>-<serial>")
        return (
            field("Part Number", self.part_number, "RevisionReleased.part_number", release,
                  number="1"),
            field("Part Name", self.release.part_name, "RevisionReleased.part_name", release,
                  number="2"),
            field("Serial Number", self.serial, "PartRegistered.serial of the first article",
                  registered, number="3"),
            field("FAIR Identifier", self.fair_id, "part number, revision and first-article "
                  "serial", number="4", status="derived"),
        )

    def form1(self, header: tuple[RecordField, ...], form3: Form3, due: FaiDue,
              signatures: tuple[SignatureRecord, ...]) -> Form1:
        release = (self.reader.ref(self.design, self.release_event),)
        orders = [(e, o) for e, o in self.design.facts(f.ChangeOrderIssued)
                  if self.revision in o.affected_revisions and e.occurred_at <= self.produced]
        operations = self.stream.facts(f.OperationPerformed)
        process = "; ".join(
            f"{o.operation}: {o.station}" + (f" / {o.machine}" if o.machine else "")
            + (f", program {o.program}" if o.program else "")
            + (f" rev {o.program_revision}" if o.program_revision else "")
            for _, o in operations)
        if process and self.registration.work_order:
            process += f"; work order {self.registration.work_order}"
        installed = self.stream.facts(f.ComponentInstalled)
        removed = {fact.component for _, fact in self.stream.facts(f.ComponentRemoved)}
        components = tuple(self.component(event, fact) for event, fact in installed
                           if fact.component not in removed)
        ncs = sorted({nc for row in form3.rows for nc in _ncs(row)}
                     | {fact.non_conformance for _, fact in self.stream.facts(
                         f.NonConformanceOpened)})
        report = self.reports[-1] if self.reports else None
        report_refs = (self.ref(report[0]),) if report else ()
        verified, approved = self.verifier(signatures), self.approver(signatures)
        self.derive("Form 1", "RevisionReleased (drawing), ChangeOrderIssued before the first "
                    "article (field 8), OperationPerformed (9), InspectionReported (10-12, "
                    "20-23 with SignatureApplied), ComponentInstalled (13, 15-18)")
        fields = (
            *header,
            field("Part Revision Level", self.revision, "RevisionReleased.revision", release,
                  number="5"),
            field("Drawing Number", self.release.drawing, "RevisionReleased.drawing", release,
                  number="6"),
            field("Drawing Revision Level", self.release.drawing_revision,
                  "RevisionReleased.drawing_revision", release, number="7"),
            field("Additional Changes",
                  "; ".join(f"{o.change_order}: {o.title}" for _, o in orders)
                  or "None (no change order affects this revision before the first article)",
                  "ChangeOrderIssued naming this revision, issued before the first article",
                  self.reader.refs(self.design, [e for e, _ in orders]), number="8",
                  status="derived"),
            field("Manufacturing Process Reference", process or None,
                  "OperationPerformed of the first article and PartRegistered.work_order",
                  [self.ref(e) for e, _ in operations], number="9", status="derived"),
            field("Organization Name", report[1].organization if report else None,
                  "InspectionReported.organization", report_refs, number="10"),
            field("Supplier Code", report[1].supplier if report else None,
                  "InspectionReported.supplier", report_refs, number="11"),
            field("PO Number", report[1].purchase_order if report else None,
                  "InspectionReported.purchase_order", report_refs, number="12"),
            field("Detail FAI / Assembly FAI", "Assembly FAI" if components else "Detail FAI",
                  "ComponentInstalled on the first article", number="13", status="derived"),
            field("Full FAI / Partial FAI", "Full FAI", "every characteristic of the revision "
                  "is accounted for on Form 3; baseline part number and reason for a partial "
                  "FAI: not applicable", number="14", status="derived"),
            *self.component_summary(components),
            field("Does FAIR Contain a Documented Nonconformance(s)?",
                  f"Yes: {', '.join(ncs)}" if ncs else "No",
                  "Form 3 field 11 and NonConformanceOpened on the first article", number="19",
                  status="derived"),
            *verified, *approved,
            field("Customer FAIR Approval", None, "no fact kind of the ledger records a "
                  "customer's FAIR approval", number="24"),
            field("Date", None, "no customer approval recorded", number="25"),
            field("Comments", self.comments(form3, due), "the FAI-due analysis and Form 3",
                  number="26", status="derived"),
        )
        return Form1(fields=fields, components=components)

    def component(self, event: Recorded, installed: f.ComponentInstalled
                  ) -> ComponentAccountability:
        refs = [self.ref(event)]
        stream = self.reader.stream("part", installed.component)
        registration = stream.first(f.PartRegistered) if stream else None
        if stream is None or registration is None:
            return ComponentAccountability(serial=installed.component, fields=(
                field("Part Number", None, f"component {installed.component} is not in this "
                      "copy", number="15"),
                field("Part Name", None, "no registration", number="16"),
                field("Part Type", None, "no registration", number="17"),
                field("FAIR Identifier", None, "no registration", number="18")))
        reg_event, reg = registration
        refs.append(self.reader.ref(stream, reg_event))
        design = self.reader.stream("design", reg.part_number)
        release = next(((e, r) for e, r in (design.facts(f.RevisionReleased) if design else [])
                        if r.revision == reg.revision), None)
        name_refs = (self.reader.ref(design, release[0]),) if design and release else ()
        has_components = bool(stream.facts(f.ComponentInstalled))
        component_fair = None if reg.undocumented else self.first_serial(reg.part_number,
                                                                          reg.revision)
        if component_fair is not None:
            component_fair = fair_identifier(reg.part_number, reg.revision, component_fair)
        return ComponentAccountability(serial=installed.component, fields=(
            field("Part Number", f"{reg.part_number} rev {reg.revision}",
                  "PartRegistered of the component", refs, number="15"),
            field("Part Name", release[1].part_name if release else None,
                  "RevisionReleased.part_name of the component's revision", name_refs,
                  number="16"),
            field("Part Type", None if reg.undocumented else (
                "sub-assembly" if has_components else "detail"),
                "made in this ledger against a released revision: detail, or sub-assembly "
                "when it has components; an undocumented registration may be standard "
                "catalog or COTS, which the ledger does not record", number="17",
                status="derived"),
            field("FAIR Identifier", component_fair, "the FAIR of the component's part number "
                  "and revision: its earliest produced serial", number="18",
                  status="derived"),
        ))

    def first_serial(self, part_number: str, revision: str) -> str | None:
        """The first article of another part number and revision (components share them)."""
        wanted = (part_number, revision)
        if wanted not in self.first_serials:
            production = Production(self.reader, serials_of(
                self.reader.ledger, part_number, revision, self.reader.cutoff))
            self.first_serials[wanted] = production.serials[0] if production.serials else None
        return self.first_serials[wanted]

    def component_summary(self, components: tuple[ComponentAccountability, ...]
                          ) -> tuple[RecordField, ...]:
        names = ("Part Number", "Part Name", "Part Type", "FAIR Identifier")
        if not components:
            return tuple(not_applicable(name, "detail FAI, no components", number=str(15 + i))
                         for i, name in enumerate(names))
        return tuple(field(name, "; ".join(c.fields[i].text for c in components),
                           "one entry per component; see the component table",
                           number=str(15 + i), status="derived")
                     for i, name in enumerate(names))

    def verifier(self, signatures: tuple[SignatureRecord, ...]) -> tuple[RecordField, ...]:
        """Fields 20-21: a review, responsibility or authorship signature on the inspection
        report, else the report's named preparer (unsigned)."""
        signed = [s for s in signatures if s.meaning in ("review", "responsibility", "authorship")
                  and s.signed.topic in (f.InspectionReported.topic, f.InspectionRecorded.topic)
                  and s.signed.key == self.serial]
        if signed:
            s = signed[-1]
            return (field("FAIR Verified By", f"{s.printed_name} ({s.meaning}, {s.checked})",
                          "SignatureApplied on the first article's inspection report",
                          (s.signature_event,), number="20"),
                    field("Date", moment(s.signed_at), "SignatureApplied.signed_at",
                          (s.signature_event,), number="21"))
        report = next(((e, r) for e, r in reversed(self.reports) if r.preparer), None)
        if report is not None:
            return (field("FAIR Verified By", f"{report[1].preparer} (named preparer; no "
                          "electronic signature)", "InspectionReported.preparer",
                          (self.ref(report[0]),), number="20"),
                    field("Date", moment(report[0].occurred_at), "InspectionReported "
                          "occurred_at", (self.ref(report[0]),), number="21"))
        return (field("FAIR Verified By", None, "no signature with meaning review, "
                      "responsibility or authorship on an inspection of the first article, and "
                      "no InspectionReported.preparer", number="20"),
                field("Date", None, "nothing verified", number="21"))

    def approver(self, signatures: tuple[SignatureRecord, ...]) -> tuple[RecordField, ...]:
        """Fields 22-23: an approval signature on the first article's inspection report."""
        signed = [s for s in signatures if s.meaning == "approval"
                  and s.signed.topic == f.InspectionReported.topic
                  and s.signed.key == self.serial]
        if not signed:
            return (field("FAIR Reviewed/Approved By", None, "no signature with meaning "
                          "approval on the first article's InspectionReported", number="22"),
                    field("Date", None, "nothing approved", number="23"))
        s = signed[-1]
        return (field("FAIR Reviewed/Approved By", f"{s.printed_name} (approval, {s.checked})",
                      "SignatureApplied (approval) on InspectionReported",
                      (s.signature_event,), number="22"),
                field("Date", moment(s.signed_at), "SignatureApplied.signed_at",
                      (s.signature_event,), number="23"))

    def comments(self, form3: Form3, due: FaiDue) -> str:
        notes = []
        open_rows = [row.balloon for row in form3.rows if row.on_drawing and not row.conforms]
        if open_rows:
            notes.append("characteristics without a conforming result: " + ", ".join(open_rows))
        others = [r for r in due.reasons if r.kind != "incomplete"]  # the note above says it
        if others:
            notes.append("a new FAI is due: " + "; ".join(r.finding for r in others[:3])
                         + (f" (and {len(others) - 3} more)" if len(others) > 3 else ""))
        notes.append("Form 2 lists every recorded operation: the ledger does not mark special "
                     "processes")
        return "; ".join(notes)

    # Form 3

    def characteristics(self) -> tuple[CharacteristicRow, ...]:
        self.derive("Form 3", "RevisionReleased.characteristics (fields 5-8); each "
                    "characteristic verified on the first article by the rule of "
                    "thread.records.verification: its current InspectionRecorded results, a "
                    "TestRecorded reading named for it, or the ComponentInstalled its "
                    "requirement names (9, 10); NonConformanceOpened and DispositionRecorded "
                    "(11, 12)")
        verifier = Verifier(self.reader, self.stream)
        results = self.stream.facts(f.InspectionRecorded)
        decided = {d.non_conformance: (e, d) for e, d in self.stream.facts(f.DispositionRecorded)}
        opened = self.stream.facts(f.NonConformanceOpened)
        rows = [self.characteristic(c, verifier.verify(c), [(e, r) for e, r in results
                                                            if r.characteristic == c.balloon],
                                    opened, decided)
                for c in self.release.characteristics]
        drawn = {c.balloon for c in self.release.characteristics}
        extra = dict.fromkeys(r.characteristic for _, r in results if r.characteristic not in drawn)
        for balloon in extra:
            found = [(e, r) for e, r in results if r.characteristic == balloon]
            first = found[0][1]
            # Not on the drawing: verified like any characteristic, against what it states.
            banded = (first.nominal is not None and first.unit is not None
                      and first.lower_tolerance is not None
                      and first.upper_tolerance is not None
                      and first.lower_tolerance <= first.upper_tolerance)
            stated = f.Characteristic(
                balloon=balloon, name=first.name or balloon,
                nominal=first.nominal if banded else None, unit=first.unit if banded else None,
                lower_tolerance=first.lower_tolerance if banded else None,
                upper_tolerance=first.upper_tolerance if banded else None,
                requirement=None if banded else "not on the drawing")
            rows.append(self.characteristic(None, verifier.verify(stated), found, opened,
                                            decided, stated=stated))
        return tuple(rows)

    def characteristic(
        self, char: f.Characteristic | None, verification: Verification,
        results: list[tuple[Recorded, f.InspectionRecorded]],
        opened: list[tuple[Recorded, f.NonConformanceOpened]],
        decided: dict[str, tuple[Recorded, f.DispositionRecorded]],
        stated: f.Characteristic | None = None,
    ) -> CharacteristicRow:
        balloon = verification.balloon
        release = (self.reader.ref(self.design, self.release_event),) if char else ()
        measured = verification.results
        result_refs = list(verification.evidence)
        ncs = list(dict.fromkeys(
            [r.non_conformance for _, r in results if r.non_conformance]
            + [o.non_conformance for _, o in opened if o.characteristic == balloon]))
        comments: list[str] = []
        if char is None:
            comments.append(f"not a characteristic of revision {self.revision}")
        stated_location = next((r.location for _, r in results if r.location), None)
        location = (char.location if char else None) or stated_location
        shown = char or stated
        drawn = requirement(shown.nominal, shown.lower_tolerance, shown.upper_tolerance,
                            shown.unit, shown.requirement if char else None,
                            shown.name) if shown else None
        if char is not None:
            for _, r in results:
                said = requirement(r.nominal, r.lower_tolerance, r.upper_tolerance, r.unit,
                                   name=char.name)
                if said is not None and said != drawn:
                    comments.append(f"inspection states {said}, the drawing {drawn}")
                if r.designator != "none" and r.designator != char.designator:
                    comments.append(f"inspection states designator {r.designator}, the drawing "
                                    f"{char.designator}")
        nc_text = []
        for nc in ncs:
            disposition = decided.get(nc)
            if disposition is not None:
                result_refs.append(self.ref(disposition[0]))
                nc_text.append(f"{nc} ({disposition[1].decision})")
            else:
                nc_text.append(f"{nc} (open)")
        conforms: bool | None = verification.accepted if measured else None
        if verification.disposition is not None:
            decision = verification.disposition[1].decision
            comments.append(f"accepted by signed disposition ({decision})"
                            if verification.accepted else f"dispositioned {decision}")
        if not verification.accepted and measured and verification.disposition is None:
            comments.append(verification.status)
        inspected = [r for r in measured if r.kind == "inspection"]
        if len(inspected) > 1:
            comments.append(f"{len(inspected)} results; the latest decides")
        comments += [f"{r.measured}: {r.note}" for r in measured if r.note]
        tooling = "; ".join(dict.fromkeys(r.tooling for r in measured))
        results_text = "; ".join(f"{m.measured or 'no value'} {m.verdict.upper()}"
                                 for m in measured)
        nc_status = "not recorded" if not measured and not ncs else "derived"
        return CharacteristicRow(
            balloon=balloon, on_drawing=char is not None, results=measured, conforms=conforms,
            fields=(
                field("Char. No.", balloon, "Characteristic.balloon" if char else
                      "InspectionRecorded.characteristic", release or result_refs[:1],
                      number="5"),
                field("Reference Location", location, "Characteristic.location, else "
                      "InspectionRecorded.location", release, number="6"),
                field("Characteristic Designator", char.designator if char else None,
                      "Characteristic.designator", release, number="7"),
                field("Requirement", drawn, "Characteristic nominal, tolerances and unit, or "
                      "its requirement text", release, number="8"),
                field("Results", results_text or None, "InspectionRecorded.measured and "
                      "verdict, TestRecorded readings named for the characteristic, or the "
                      "components installed that its requirement names, on the first article "
                      "(thread.records.verification)", result_refs, number="9"),
                field("Designed / Qualified Tooling", tooling or None,
                      "InspectionRecorded.method, gauge and program; TestRecorded.procedure "
                      "and revision; the assembly record", result_refs, number="10"),
                RecordField(number="11", name="Nonconformance Number",
                            value="; ".join(nc_text) or (None if not measured else "None"),
                            status=nc_status, derived_from="InspectionRecorded."
                            "non_conformance and NonConformanceOpened.characteristic",
                            evidence=tuple(result_refs)),
                field("Additional Data / Comments", "; ".join(dict.fromkeys(comments)) or "-",
                      "comparison of the results with the drawing", number="12",
                      status="derived"),
            ))

    # Signatures

    def signatures(self) -> tuple[SignatureRecord, ...]:
        found = self.reader.signatures(self.stream)
        found += self.reader.signatures(self.design, [self.release_event.originator_version])
        self.derive("Signatures", "SignatureApplied on the first article's events and on the "
                    "release of its revision, verified (Ed25519) and checked against the "
                    "signed event's hash")
        return tuple(sorted(found, key=lambda s: s.signed_at))


def _ncs(row: CharacteristicRow) -> list[str]:
    return [r.non_conformance for r in row.results if r.non_conformance]


