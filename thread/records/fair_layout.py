"""The FAIR laid out as AS9102 Rev C Forms 1, 2 and 3, then when a new FAI is due."""

from __future__ import annotations

from thread.records.evidence import EventRef, RecordField, field, moment
from thread.records.fair_record import FirstArticleReport
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
)


def fair_document(report: FirstArticleReport) -> Document:
    """The report as a landscape document: the three forms, the FAI status, the sign-offs."""
    due = report.fai_due
    drawn = [row for row in report.form3.rows if row.on_drawing]
    summary = (
        field("First article", f"{report.serial}: {report.selection}",
              "how the first article was chosen", status="derived"),
        field("Characteristics conforming",
              f"{sum(bool(row.conforms) for row in drawn)} of {len(drawn)}",
              "Form 3 field 9 and signed dispositions", status="derived"),
        *_by_number(report.form1.fields, 19),
        field("New FAI due", f"YES: {len(due.reasons)} reason(s)" if due.due else "No",
              f"the FAI-due analysis at {moment(due.evaluated_at)}", status="derived"),
    )
    sections = (_form1(report), _form2(report), _form3(report), _due(report))
    derivations = Section("How this report was derived", (Grid(
        ("Part of the report", "Derived from"),
        tuple((Cell(d.field), Cell(d.derived_from)) for d in report.derivations), (1, 4)),),
        basis="Fields marked Not recorded have no fact in the ledger that gives them; nothing "
              "in this report is typed in by hand.", cites=False)
    return Document(
        info=report.document, landscape=True, summary=summary, sections=sections,
        subtitle=(f"{report.part_number} rev {report.revision}, first article "
                  f"{report.serial}"),
        signatures=report.signatures, evidence=report.evidence, appendix=(derivations,))


def _refs(fields: tuple[RecordField, ...]) -> tuple[EventRef, ...]:
    return tuple(dict.fromkeys(ref for fld in fields for ref in fld.evidence))


def _by_number(fields: tuple[RecordField, ...], *numbers: int) -> tuple[RecordField, ...]:
    wanted = [str(n) for n in numbers]
    found = {fld.number: fld for fld in fields if fld.number in wanted}
    return tuple(found[n] for n in wanted if n in found)


def _form1(report: FirstArticleReport) -> Section:
    form = report.form1
    fields = form.fields
    blocks: list[Block] = [Boxes(_by_number(fields, *range(1, 15)), 4)]
    if form.components:
        blocks += [Caption("Fields 15-18: components of the assembly"), Grid(
            ("Serial", "15. Part Number", "16. Part Name", "17. Part Type",
             "18. FAIR Identifier"),
            tuple((Cell(c.serial), *(_cell(fld) for fld in c.fields)) for c in form.components),
            (1, 1.3, 1.6, 1, 1.8))]
    else:
        blocks.append(Boxes(_by_number(fields, 15, 16, 17, 18), 4))
    blocks += [Boxes(_by_number(fields, 19), 1),
               Boxes(_by_number(fields, 20, 21, 22, 23, 24, 25), 6),
               Boxes(_by_number(fields, 26), 1)]
    component_refs = tuple(ref for c in form.components for fld in c.fields
                           for ref in fld.evidence)
    return Section("Form 1: Part Number Accountability", tuple(blocks), basis=(
        "One signature on Form 1 covers all three forms. Each box names the facts it was "
        "derived from."), evidence=tuple(dict.fromkeys(_refs(fields) + component_refs)))


def _cell(fld: RecordField, tone: Tone = "plain") -> Cell:
    if fld.status == "not recorded":
        return Cell("Not recorded", "missing")
    if fld.status == "not applicable":
        return Cell("N/A", "missing")
    return Cell(fld.text, tone)


def _form2(report: FirstArticleReport) -> Section:
    headers = ("5. Material or Process Name", "6. Specification Number", "7. Code",
               "8. Special Process Supplier Code", "9. Customer Approval Verification",
               "10. Certificate of Conformance Number", "11. Functional Test Procedure Number",
               "12. Acceptance Report Number", "13. Comments")
    rows = tuple(tuple(_cell(fld) for fld in row.fields) for row in report.form2.rows)
    refs = tuple(ref for row in report.form2.rows for fld in row.fields for ref in fld.evidence)
    return Section("Form 2: Product Accountability - Raw Material, Specifications, Special "
                   "Processes, Functional Testing", (
                       Boxes(report.form2.header, 4),
                       Grid(headers, rows, (1.3, 1, 0.6, 1.1, 0.9, 1.1, 1, 1, 3.2),
                            empty="No material, process, functional test or certificate is "
                                  "recorded for the first article."),
                   ), basis="One row per material consumed, operation performed, functional "
                            "test and certificate of the first article.",
                   evidence=tuple(dict.fromkeys(_refs(report.form2.header) + refs)))


def _form3(report: FirstArticleReport) -> Section:
    headers = ("5. Char. No.", "6. Reference Location", "7. Characteristic Designator",
               "8. Requirement", "9. Results", "10. Designed / Qualified Tooling",
               "11. Nonconformance Number", "12. Additional Data / Comments")
    rows = []
    for row in report.form3.rows:
        tone: Tone = ("plain" if row.conforms is None else "pass" if row.conforms else "fail")
        cells = [_cell(fld) for fld in row.fields]
        cells[4] = _cell(row.fields[4], tone)
        if row.fields[2].value not in (None, "none"):
            cells[2] = Cell(str(row.fields[2].value).upper(), "warn")
        rows.append(tuple(cells))
    refs = tuple(ref for row in report.form3.rows for fld in row.fields for ref in fld.evidence)
    return Section("Form 3: Characteristic Accountability, Verification and Compatibility "
                   "Evaluation", (
                       Boxes(report.form3.header, 4),
                       Grid(headers, tuple(rows), (0.5, 0.9, 0.8, 1.9, 1.5, 1.3, 1.1, 2.2),
                            empty="The revision has no characteristics."),
                   ), basis="One row per characteristic of the released revision (and per "
                            "inspected characteristic that is not on it); field 9 is green "
                            "when the latest result conforms or a signed disposition accepts "
                            "it.", evidence=tuple(dict.fromkeys(
                                _refs(report.form3.header) + refs)))


def _due(report: FirstArticleReport) -> Section:
    due = report.fai_due
    verdict = (f"A new FAI is due, for {len(due.reasons)} reason(s); evaluated at "
               f"{moment(due.evaluated_at)}." if due.due else
               f"No new FAI is due as of {moment(due.evaluated_at)}.")
    reasons = Grid(
        ("Reason", "Finding", "First serial", "When (UTC)", "Serials"),
        tuple((Cell(r.kind, "fail" if r.kind in ("design", "incomplete") else "warn"),
               Cell(r.finding), Cell(r.first_serial or "-"),
               Cell(moment(r.at) if r.at else "-"), Cell(str(r.serials)))
              for r in due.reasons),
        (0.7, 5, 1, 1.3, 0.5), empty="None.")
    checked = Grid(("Check and its outcome",), tuple((Cell(c),) for c in due.checked), (1,))
    blocks: tuple[Block, ...] = (
        Note(verdict, "fail" if due.due else "pass"),
        Caption("Reasons (AS9102: design change; change of manufacturing process, NC program, "
                "tooling or location; production lapse over two years)"),
        reasons, Caption("What was checked"), checked)
    refs = tuple(dict.fromkeys(ref for r in due.reasons for ref in r.evidence))
    return Section("When a new FAI is due", blocks, evidence=refs)
