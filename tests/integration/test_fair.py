"""First article inspection reports: AS9102 Rev C Forms 1-3 field by field, when a new FAI is
due, as-of by either clock, HTML, PDF and the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from conftest import Clock
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread import facts as f
from thread.cli import main
from thread.records import (
    FirstArticleReport,
    RecordUnavailable,
    first_article_report,
    serials_of,
)
from thread.records.evidence import Cutoff
from thread.records.html import render_html
from thread.records.pdf import render_pdf

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PN = "BRK-410"
INSPECTOR = thread.Signer("i.novak", "Irena Novak", Ed25519PrivateKey.generate())
QUALITY = thread.Signer("k.osei", "Kwame Osei", Ed25519PrivateKey.generate())
MRB = thread.Signer("m.ruiz", "Marta Ruiz", Ed25519PrivateKey.generate())


def at(days: float) -> datetime:
    """A floor time, days after T0."""
    return T0 + timedelta(days=days)


def release(ledger: thread.Ledger, revision: str = "A", bore: float = 12.0,
            when: datetime = T0 - timedelta(days=30)) -> None:
    """A bracket design revision with three characteristics."""
    ledger.record(f.RevisionReleased(
        part_number=PN, revision=revision, part_name="Actuator bracket", drawing="DWG-410",
        drawing_revision=revision,
        characteristics=(
            f.Characteristic(balloon="1", name="Bore", nominal=bore, unit="mm",
                             lower_tolerance=0.0, upper_tolerance=0.018,
                             designator="key", location="sheet 1, zone B2"),
            f.Characteristic(balloon="2", name="Flange thickness", nominal=4.0, unit="mm",
                             lower_tolerance=-0.1, upper_tolerance=0.1,
                             designator="flight-safety", location="sheet 2, zone A1"),
            f.Characteristic(balloon="3", name="Surface finish", requirement="Ra 0.8 max"),
        ),
    ), occurred_at=when)


def setup(ledger: thread.Ledger) -> None:
    """Rev A released, a machine and a lot of aluminium."""
    release(ledger)
    ledger.record(f.MachineRegistered(machine="VMC-3", name="Vertical mill 3", kind="mill"),
                  occurred_at=at(-20))
    ledger.record(f.MaterialLotReceived(
        lot="AL-55", material="7075-T7351 plate", specification="AMS 4078", supplier="Alcoa",
        heat="H-55", quantity=100.0, unit="kg", certificate_number="CERT-55",
        certificate_digest="sha256:" + "c" * 64), occurred_at=at(-10))


def make(ledger: thread.Ledger, serial: str, when: datetime, *, machine: str = "VMC-3",
         program_revision: str = "1", site: str = "PLANT-A", revision: str = "A") -> None:
    """One bracket machined on ``machine`` with NC program BRK-410-OP20 ``program_revision``."""
    ledger.record(f.PartRegistered(serial=serial, part_number=PN, revision=revision,
                                   work_order="WO-1", site=site), occurred_at=when)
    ledger.record(f.MaterialConsumed(serial=serial, material_lot="AL-55", quantity=0.5,
                                     unit="kg", certificate_digest="sha256:" + "c" * 64),
                  occurred_at=when)
    ledger.record(f.OperationPerformed(
        serial=serial, operation="OP20-mill", station="CELL-4", machine=machine, operator="op-3",
        program="BRK-410-OP20", program_revision=program_revision,
        started_at=when + timedelta(minutes=5), ended_at=when + timedelta(minutes=25),
        cycle_time_s=1200), occurred_at=when + timedelta(minutes=25))


def first_article(ledger: thread.Ledger, serial: str = "FA-1") -> None:
    """The first article: inspected, one failure reworked under a signed NC, report signed."""
    make(ledger, serial, T0)
    with ledger.batch(source="cmm") as batch:
        batch.record(f.InspectionRecorded(
            serial=serial, characteristic="1", name="Bore", method="cmm", gauge="CMM-2",
            program="CMM-410", measured=12.009, unit="mm", nominal=12.0, lower_tolerance=0.0,
            upper_tolerance=0.018, verdict="pass", report="FAI-R-1"), occurred_at=at(0.1))
        batch.record(f.InspectionRecorded(
            serial=serial, characteristic="2", method="manual", gauge="MIC-7", measured=4.13,
            unit="mm", nominal=4.0, lower_tolerance=-0.1, upper_tolerance=0.1, verdict="fail",
            report="FAI-R-1", non_conformance="NC-7"), occurred_at=at(0.11))
        batch.record(f.NonConformanceOpened(serial=serial, non_conformance="NC-7",
                                            characteristic="2", description="flange 4.13 mm"),
                     occurred_at=at(0.12))
    ledger.record(f.DispositionRecorded(serial=serial, non_conformance="NC-7", decision="rework",
                                        rationale="face flange"), occurred_at=at(0.2),
                  sign=MRB, meaning="approval")
    ledger.record(f.InspectionRecorded(
        serial=serial, characteristic="2", method="manual", gauge="MIC-7", measured=4.04,
        unit="mm", nominal=4.0, lower_tolerance=-0.1, upper_tolerance=0.1, verdict="pass",
        report="FAI-R-1"), occurred_at=at(0.3))
    ledger.record(f.InspectionReported(
        serial=serial, report="FAI-R-1", preparer="Irena Novak", organization="Aero Parts Ltd",
        supplier="SUP-0042", purchase_order="PO-881", program="CMM-410", measurements=3,
        failures=1), occurred_at=at(0.4), sign=INSPECTOR, meaning="review")
    reported = ledger.history(serial)[-2]  # the report, just before its review signature
    signature = QUALITY.sign(reported, "part", serial, "approval", at(0.5))
    ledger.record(signature, occurred_at=at(0.5))


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[thread.Ledger]:
    """A ledger on a SQLite file with a deterministic clock."""
    opened = thread.open(str(tmp_path / "fair.db"), clock=Clock(), actor="tester")
    yield opened
    opened.close()


def as_json(report: FirstArticleReport) -> dict[str, Any]:
    """The report's JSON form, whose nested shape the tests read and check field by field."""
    return cast("dict[str, Any]", report.to_json())


def numbered(fields: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A form's fields by AS9102 field number."""
    return {fld["number"]: fld for fld in fields}


def test_forms_1_2_3_have_every_as9102_field(ledger: thread.Ledger) -> None:
    """Form 1 fields 1-26, Form 2 fields 1-13 per row and Form 3 fields 1-12 per
    characteristic, filled from the ledger, on SQLite and PostgreSQL."""
    setup(ledger)
    first_article(ledger)
    make(ledger, "SN-2", at(1))
    pinned = {s.signer: s.public_key for s in (INSPECTOR, QUALITY, MRB)}
    report = as_json(first_article_report(ledger, PN, "A", evaluated_at=at(2),
                                          trusted_keys=pinned))
    assert report["serial"] == "FA-1" and report["selection"].startswith("earliest produced")

    form1 = numbered(report["form1"]["fields"])
    assert sorted(form1, key=int) == [str(n) for n in range(1, 27)]
    assert form1["1"]["value"] == PN and form1["2"]["value"] == "Actuator bracket"
    assert form1["3"]["value"] == "FA-1"
    assert form1["4"]["value"] == "FAIR-BRK-410-A-FA-1"
    assert (form1["5"]["value"], form1["6"]["value"], form1["7"]["value"]) == ("A", "DWG-410",
                                                                              "A")
    assert form1["9"]["value"] == ("OP20-mill: CELL-4 / VMC-3, program BRK-410-OP20 rev 1; "
                                   "work order WO-1")
    assert (form1["10"]["value"], form1["11"]["value"], form1["12"]["value"]) == (
        "Aero Parts Ltd", "SUP-0042", "PO-881")
    assert (form1["13"]["value"], form1["14"]["value"]) == ("Detail FAI", "Full FAI")
    assert {form1[str(n)]["status"] for n in range(15, 19)} == {"not applicable"}
    assert form1["19"]["value"] == "Yes: NC-7"
    assert form1["20"]["value"].startswith("Irena Novak (review, signature verified")
    assert form1["21"]["value"] == "2026-03-02 17:36:00 UTC"
    assert form1["22"]["value"].startswith("Kwame Osei (approval, signature verified")
    assert form1["23"]["value"] == "2026-03-02 20:00:00 UTC"
    assert (form1["24"]["status"], form1["25"]["status"]) == ("not recorded", "not recorded")

    form2 = report["form2"]
    assert sorted(numbered(form2["header"]), key=int) == ["1", "2", "3", "4"]
    rows = {row["kind"]: numbered(row["fields"]) for row in form2["rows"]}
    assert set(rows) == {"material", "process"}
    for row in rows.values():
        assert sorted(row, key=int) == [str(n) for n in range(5, 14)]
    material = rows["material"]
    assert (material["5"]["value"], material["6"]["value"], material["8"]["value"],
            material["10"]["value"]) == ("7075-T7351 plate", "AMS 4078", "Alcoa", "CERT-55")
    assert material["7"]["status"] == "not recorded"
    assert "certificate digest matches" in material["13"]["value"]
    assert rows["process"]["5"]["value"] == "OP20-mill"
    assert "program BRK-410-OP20 rev 1" in rows["process"]["13"]["value"]

    form3 = report["form3"]["rows"]
    assert [row["balloon"] for row in form3] == ["1", "2", "3"]
    for row in form3:
        assert sorted(numbered(row["fields"]), key=int) == [str(n) for n in range(5, 13)]
    bore, flange, finish = (numbered(row["fields"]) for row in form3)
    assert (bore["6"]["value"], bore["7"]["value"]) == ("sheet 1, zone B2", "key")
    assert bore["8"]["value"] == "12 mm +0.018/+0 (12 to 12.018 mm)"
    assert bore["9"]["value"] == "12.009 mm PASS"
    assert bore["10"]["value"] == "cmm CMM-2, program CMM-410 (revision not recorded)"
    assert bore["11"]["value"] == "None"
    assert flange["7"]["value"] == "flight-safety"
    assert flange["9"]["value"] == "4.13 mm FAIL; 4.04 mm PASS"
    assert flange["11"]["value"] == "NC-7 (rework)"
    assert [r["measured"] for r in form3[1]["results"]] == ["4.13 mm", "4.04 mm"]
    assert form3[1]["conforms"] is True and form3[2]["conforms"] is None
    assert finish["8"]["value"] == "Ra 0.8 max"
    assert finish["9"]["status"] == "not recorded"

    signatures = {s["printed_name"]: s for s in report["signatures"]}
    assert set(signatures) == {"Irena Novak", "Kwame Osei", "Marta Ruiz"}
    assert all(s["verified"] for s in signatures.values())
    assert all(ref["position"] is not None for ref in report["evidence"])


def reasons(report: FirstArticleReport) -> dict[str, list[str]]:
    """FAI-due findings by kind."""
    found: dict[str, list[str]] = {}
    for reason in report.fai_due.reasons:
        found.setdefault(reason.kind, []).append(reason.finding)
    return found


def test_design_change_after_the_first_article_makes_an_fai_due(
        sqlite_ledger: thread.Ledger) -> None:
    """A change order on the revision and a new revision with a changed characteristic, both
    after the first article, each make an FAI due and say what changed."""
    ledger = sqlite_ledger
    setup(ledger)
    first_article(ledger)
    before = first_article_report(ledger, PN, "A", evaluated_at=at(2))
    ledger.record(f.ChangeOrderIssued(part_number=PN, change_order="ECO-12", title="Open bore",
                                      reason="fit", affected_revisions=("A",),
                                      new_revision="B"), occurred_at=at(5))
    release(ledger, "B", bore=12.05, when=at(6))
    after = first_article_report(ledger, PN, "A", evaluated_at=at(7))
    assert "design" not in reasons(before)
    design = reasons(after)["design"]
    assert any("revision B released 2026-03-08" in r and "1: 12 mm +0.018/+0" in r
               and "-> 12.05 mm" in r for r in design)
    assert any("change order ECO-12 (Open bore) affects revision A" in r for r in design)
    assert after.fai_due.due


def test_program_machine_and_site_changes_in_later_production(
        sqlite_ledger: thread.Ledger) -> None:
    """Later serials with a new NC program revision, another machine or another site each give
    a reason naming the first serial that changed; identical production gives none."""
    ledger = sqlite_ledger
    setup(ledger)
    ledger.record(f.MachineRegistered(machine="VMC-9", name="Vertical mill 9", kind="mill"))
    first_article(ledger)
    make(ledger, "SN-2", at(1))
    unchanged = first_article_report(ledger, PN, "A", evaluated_at=at(2))
    assert set(reasons(unchanged)) == {"incomplete"}  # finish (3) never inspected
    make(ledger, "SN-3", at(3), program_revision="2")
    make(ledger, "SN-4", at(4), program_revision="2")
    make(ledger, "SN-5", at(5), machine="VMC-9")
    make(ledger, "SN-6", at(6), site="PLANT-B")
    report = first_article_report(ledger, PN, "A", evaluated_at=at(7))
    found = reasons(report)
    assert found["program"] == ["OP20-mill ran with program revision 2 (first article: 1), "
                                "first on SN-3 2026-03-05 08:05:00 UTC; 2 serial(s)"]
    assert found["process"] == ["OP20-mill ran with machine VMC-9 (first article: VMC-3), "
                                "first on SN-5 2026-03-07 08:05:00 UTC; 1 serial(s)"]
    assert found["location"] == ["made at site PLANT-B (first article: PLANT-A), first on SN-6 "
                                 "2026-03-08 08:05:00 UTC; 1 serial(s)"]
    by_kind = {r.kind: r for r in report.fai_due.reasons}
    assert by_kind["program"].first_serial == "SN-3" and by_kind["program"].serials == 2
    assert {ref.key for ref in by_kind["program"].evidence} == {"FA-1", "SN-3"}


def test_production_lapse_over_two_years(sqlite_ledger: thread.Ledger) -> None:
    """A gap of more than two years between serials, and two idle years before the evaluation,
    both make an FAI due; a gap just under two years does not."""
    ledger = sqlite_ledger
    ledger.max_clock_skew = timedelta(days=5 * 365)  # four simulated years, one test clock
    setup(ledger)
    first_article(ledger)
    make(ledger, "SN-2", at(700))  # 700 days: under two years
    make(ledger, "SN-3", at(700 + 740))  # 740 days later: over two years
    fresh = first_article_report(ledger, PN, "A", evaluated_at=at(700 + 741))
    lapses = reasons(fresh)["lapse"]
    assert lapses == ["production resumed with SN-3 2030-02-09 08:05:00 UTC after 740 days "
                      "without production (previous: SN-2 2028-01-31 08:05:00 UTC); a new FAI "
                      "was due before it"]
    idle = first_article_report(ledger, PN, "A", evaluated_at=at(700 + 740 + 731))
    assert any(r.startswith("no production since SN-3") for r in reasons(idle)["lapse"])
    within = first_article_report(ledger, PN, "A", evaluated_at=at(700 + 740 + 729))
    assert len(reasons(within)["lapse"]) == 1


def test_as_of_by_either_clock(sqlite_ledger: thread.Ledger) -> None:
    """As of a moment before a change order (by recorded or by occurred time) the FAIR shows no
    design reason; the later serial is left out as well."""
    ledger = sqlite_ledger
    setup(ledger)
    first_article(ledger)
    recorded_before = ledger.history("FA-1")[-1].recorded_at
    ledger.record(f.ChangeOrderIssued(part_number=PN, change_order="ECO-13", title="Chamfer",
                                      reason="burr", affected_revisions=("A",)),
                  occurred_at=at(5))
    make(ledger, "SN-2", at(6), program_revision="9")
    now = first_article_report(ledger, PN, "A", evaluated_at=at(7))
    assert {"design", "program"} <= set(reasons(now))
    by_recorded = first_article_report(ledger, PN, "A", as_of=recorded_before, by="recorded",
                                       evaluated_at=at(7))
    by_occurred = first_article_report(ledger, PN, "A", as_of=at(4), by="occurred")
    for then in (by_recorded, by_occurred):
        assert not {"design", "program"} & set(reasons(then))
        assert "ECO-13" not in json.dumps(then.to_json())
    assert by_occurred.fai_due.evaluated_at == at(4)
    assert serials_of(ledger, PN, "A", Cutoff(at(4), "occurred")) == ["FA-1"]


def test_a_part_registered_early_but_not_yet_made_is_not_the_first_article(
        sqlite_ledger: thread.Ledger) -> None:
    """The first article is the earliest part made, not the earliest registered: a part waiting
    for its first operation comes after every part that was machined."""
    ledger = sqlite_ledger
    setup(ledger)
    ledger.record(f.PartRegistered(serial="SN-0", part_number=PN, revision="A"),
                  occurred_at=at(-1))
    first_article(ledger)
    report = first_article_report(ledger, PN, "A", evaluated_at=at(1))
    assert report.serial == "FA-1"
    assert serials_of(ledger, PN, "A", Cutoff()) == ["SN-0", "FA-1"]


def test_named_serial_and_assembly_fields(sqlite_ledger: thread.Ledger) -> None:
    """--serial picks the first article; an assembly fills fields 15-18 per component."""
    ledger = sqlite_ledger
    setup(ledger)
    first_article(ledger)
    make(ledger, "SN-2", at(1))
    ledger.record(f.RevisionReleased(part_number="ACT-1", revision="C", part_name="Actuator",
                                     drawing="DWG-1",
                                     characteristics=(f.Characteristic(
                                         balloon="1", name="Stroke", requirement="40 mm"),)))
    ledger.record(f.PartRegistered(serial="ACT-001", part_number="ACT-1", revision="C"),
                  occurred_at=at(2))
    ledger.record(f.ComponentInstalled(serial="ACT-001", component="SN-2", position="left"),
                  occurred_at=at(2))
    assembly = as_json(first_article_report(ledger, "ACT-1", "C"))
    form1 = numbered(assembly["form1"]["fields"])
    assert form1["13"]["value"] == "Assembly FAI"
    (component,) = assembly["form1"]["components"]
    fields = numbered(component["fields"])
    assert (fields["15"]["value"], fields["16"]["value"], fields["17"]["value"],
            fields["18"]["value"]) == ("BRK-410 rev A", "Actuator bracket", "detail",
                                       "FAIR-BRK-410-A-FA-1")
    named = first_article_report(ledger, PN, "A", serial="SN-2")
    assert named.serial == "SN-2" and named.selection.startswith("named")


def test_refusals_name_what_is_missing(sqlite_ledger: thread.Ledger) -> None:
    """Unknown part numbers, unreleased revisions, revisions never produced and serials of
    another part are refused with the reason."""
    ledger = sqlite_ledger
    setup(ledger)
    with pytest.raises(thread.UnknownSubject, match="no design item NOPE"):
        first_article_report(ledger, "NOPE", "A")
    with pytest.raises(RecordUnavailable, match="revision Z of BRK-410 was not released; "
                                                "released: A"):
        first_article_report(ledger, PN, "Z")
    with pytest.raises(RecordUnavailable, match="no serial of BRK-410 rev A"):
        first_article_report(ledger, PN, "A")
    first_article(ledger)
    with pytest.raises(RecordUnavailable, match="serial X-9 is not a part of BRK-410 rev A"):
        first_article_report(ledger, PN, "A", serial="X-9")


def test_pdf_and_html_copies(sqlite_ledger: thread.Ledger) -> None:
    """The PDF has the three forms with their field numbers, page x of y and the document id
    on every page, the signatures with printed name, UTC time and meaning; the HTML too."""
    setup(sqlite_ledger)
    first_article(sqlite_ledger)
    report = first_article_report(sqlite_ledger, PN, "A", evaluated_at=at(2))
    document = pdfium.PdfDocument(render_pdf(report))
    pages = [page.get_textpage().get_text_range() for page in document]
    for number, text in enumerate(pages, start=1):
        assert report.document.document_id in text
        assert f"Page {number} of {len(pages)}" in text
    text = " ".join(" ".join(pages).split())  # table cells wrap their headings
    for expected in ("Form 1: Part Number Accountability", "19. DOES FAIR CONTAIN",
                     "Form 2: Product Accountability", "13. Comments",
                     "Form 3: Characteristic Accountability", "11. Nonconformance Number",
                     "When a new FAI is due", "Kwame Osei", "APPROVAL", "REVIEW",
                     "2026-03-02 20:00:00 UTC", "4.13 mm FAIL", "NC-7 (rework)",
                     sqlite_ledger.origin, "AS9102 Rev C"):
        assert expected in text, expected
    width, height = document[0].get_size()
    assert width > height  # the forms are landscape
    image = document[2].render(scale=1).to_pil().convert("L")
    assert image.getextrema()[0] < 80
    page = render_html(report)
    assert "8. Requirement" in page and "Irena Novak" in page and "<script" not in page


def test_cli_fair(tmp_path: Path) -> None:
    """thread fair writes a PDF, prints JSON on stdout, and honours --serial, --as-of, --by."""
    path = str(tmp_path / "cli.db")
    ledger = thread.open(path, clock=Clock(), actor="tester")
    setup(ledger)
    first_article(ledger)
    make(ledger, "SN-2", at(1))
    ledger.close()
    runner = CliRunner()
    pdf = tmp_path / "fair.pdf"
    result = runner.invoke(main, ["--db", path, "fair", PN, "--revision", "A", "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    result = runner.invoke(main, ["--db", path, "fair", PN, "-r", "A", "--serial", "SN-2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["serial"] == "SN-2"
    result = runner.invoke(main, ["--db", path, "fair", PN, "-r", "A", "--as-of",
                                  "2026-03-02T12:00Z", "--by", "occurred"])
    report = json.loads(result.output)
    assert report["document"]["by"] == "occurred"
    assert numbered(report["form3"]["rows"][1]["fields"])["9"]["value"] == "4.13 mm FAIL"
    result = runner.invoke(main, ["--db", path, "fair", PN, "-r", "Q"])
    assert result.exit_code == 1 and "revision Q of BRK-410 was not released" in result.output
