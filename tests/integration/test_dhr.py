"""Device history records: contents per 820.184 / ISO 13485 7.5.1, UDI, as-of, HTML, PDF, CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from conftest import Clock
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread import facts as f
from thread.cli import main
from thread.domain.udi import GS, UDI, gtin_check_digit
from thread.records import RecordUnavailable, device_history_record
from thread.records.html import render_html
from thread.records.pdf import render_pdf

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
SERIAL = "IMP-0001"
#: What the implant's label carries: a DataMatrix element string with a GS separator.
LABEL = f"01{GTIN}11260302173103021" + "0WO-77" + GS + f"21{SERIAL}"


def signer(name: str, printed: str) -> thread.Signer:
    """A person who signs, with a fresh key."""
    return thread.Signer(name, printed, Ed25519PrivateKey.generate())


ENGINEER = signer("a.chen", "Alice Chen")
MRB = signer("m.ruiz", "Marta Ruiz")
QA = signer("q.adeyemi", "Quentin Adeyemi")
#: The signers' keys as a reader pins them: only against these does a signature read VERIFIED.
PINNED = {s.signer: s.public_key for s in (ENGINEER, MRB, QA)}


def at(minutes: float) -> datetime:
    """A floor time, minutes after T0."""
    return T0 + timedelta(minutes=minutes)


def design(ledger: thread.Ledger) -> None:
    """A released implant design (signed), a mill and a titanium lot."""
    ledger.record(f.RevisionReleased(
        part_number="IMP-100", revision="A", part_name="Tibial plate", drawing="DWG-100",
        drawing_revision="4", material_spec="Ti-6Al-4V ELI (ASTM F136)",
        characteristics=(
            f.Characteristic(balloon="1", name="Hole diameter", nominal=5.0, unit="mm",
                             lower_tolerance=-0.02, upper_tolerance=0.02, designator="key",
                             location="sheet 1, zone C3"),
            f.Characteristic(balloon="2", name="Laser marking", requirement="UDI legible"),
        ),
    ), occurred_at=at(-600), sign=ENGINEER)
    ledger.record(f.MachineRegistered(machine="MILL-1", name="5-axis mill", kind="mill"),
                  occurred_at=at(-500))
    ledger.record(f.MaterialLotReceived(
        lot="TI-7", material="Ti-6Al-4V ELI bar", specification="ASTM F136", supplier="TiCo",
        heat="HT-991", quantity=40.0, unit="kg", certificate_number="C-991",
        certificate_digest="sha256:" + "a" * 64), occurred_at=at(-400))


def implant(ledger: thread.Ledger, serial: str = SERIAL, udi: str | None = LABEL,
            ship: bool = True) -> None:
    """An implant made, inspected (one NC accepted use-as-is), assembled, certified, shipped."""
    ledger.record(f.PartRegistered(serial="SCR-1", part_number="SCREW-2", revision="1",
                                   undocumented=True, udi="(01)09506000134352(21)SCR-1"),
                  occurred_at=at(-60))
    ledger.record(f.PartRegistered(serial=serial, part_number="IMP-100", revision="A",
                                   work_order="WO-77", site="CLEAN-1", udi=udi),
                  occurred_at=at(0))
    with ledger.batch(source="mes") as batch:
        batch.record(f.MaterialConsumed(serial=serial, material_lot="TI-7", quantity=0.2,
                                        unit="kg", certificate_digest="sha256:" + "a" * 64),
                     occurred_at=at(5))
        batch.record(f.OperationPerformed(
            serial=serial, operation="OP10-mill", station="CELL-2", machine="MILL-1",
            operator="op-7", program="P-100", program_revision="3", started_at=at(10),
            ended_at=at(20), cycle_time_s=600), occurred_at=at(20))
        batch.record(f.ProcessRecorded(
            serial=serial, operation="OP10-mill", machine="MILL-1", started_at=at(10),
            ended_at=at(20), parameters=(f.ParameterSummary(
                name="spindle_speed", unit="rpm", n=300, min=11900, max=12100, mean=12000,
                sd=20),)), occurred_at=at(20))
        batch.record(f.EnvironmentRecorded(
            serial=serial, area="ISO-7 cleanroom", started_at=at(10), ended_at=at(20),
            readings=(f.Reading(name="temperature", value=21.0, unit="Cel"),
                      f.Reading(name="humidity", value=41.0, unit="%RH"))),
            occurred_at=at(20))
    with ledger.batch(source="cmm") as batch:
        batch.record(f.InspectionRecorded(
            serial=serial, characteristic="1", method="cmm", gauge="CMM-1", measured=5.025,
            unit="mm", nominal=5.0, lower_tolerance=-0.02, upper_tolerance=0.02,
            verdict="fail", report="IR-1", non_conformance="NC-1"), occurred_at=at(30))
        batch.record(f.InspectionRecorded(
            serial=serial, characteristic="2", method="vision", verdict="pass", report="IR-1"),
            occurred_at=at(31))
        batch.record(f.NonConformanceOpened(
            serial=serial, non_conformance="NC-1", characteristic="1",
            description="hole 5.025 mm over 5.02 mm"), occurred_at=at(32))
    ledger.record(f.DispositionRecorded(serial=serial, non_conformance="NC-1",
                                        decision="use-as-is", rationale="screw still seats"),
                  occurred_at=at(90), sign=MRB, meaning="approval")
    ledger.record(f.ComponentInstalled(serial=serial, component="SCR-1", position="hole 1"),
                  occurred_at=at(100))
    ledger.record(f.TestRecorded(serial=serial, procedure="TP-9", procedure_revision="B",
                                 verdict="pass", values=(f.Reading(name="torque", value=1.1,
                                                                   unit="N.m"),)),
                  occurred_at=at(110))
    if ship:
        ledger.record(f.CertificationAttached(serial=serial, document="conformance",
                                              number="COC-77", digest="sha256:" + "b" * 64),
                      occurred_at=at(120), sign=QA, meaning="approval")
        ledger.record(f.Shipped(serial=serial, customer="Mercy Hospital", order="PO-5",
                                destination="Leeds, UK"), occurred_at=at(180))


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[thread.Ledger]:
    """A ledger on a SQLite file with a deterministic clock."""
    opened = thread.open(str(tmp_path / "dhr.db"), clock=Clock(), actor="tester")
    yield opened
    opened.close()


def obj(value: object) -> dict[str, object]:
    """A JSON object of a record's JSON form; the test fails if the value is not one."""
    assert isinstance(value, dict), value
    return value


def objs(value: object) -> list[dict[str, object]]:
    """A JSON array of objects of a record's JSON form."""
    assert isinstance(value, list), value
    return [obj(item) for item in value]


def text(value: object) -> str:
    """A JSON string of a record's JSON form."""
    assert isinstance(value, str), value
    return value


def texts(value: object) -> list[str]:
    """A JSON array of strings of a record's JSON form."""
    assert isinstance(value, list), value
    return [text(item) for item in value]


def by_name(fields: object) -> dict[object, dict[str, object]]:
    """A record's fields (a JSON array of objects) by name."""
    return {fld["name"]: fld for fld in objs(fields)}


def test_dhr_holds_what_820_184_and_7_5_1_ask(ledger: thread.Ledger) -> None:
    """Dates, quantities, acceptance, UDI, components, materials, environment, consignee and
    signatures are all there, field by field, on SQLite and PostgreSQL."""
    design(ledger)
    implant(ledger)
    record = device_history_record(ledger, SERIAL, trusted_keys=PINNED).to_json()

    ident = by_name(record["identification"])
    assert ident["Part number"]["value"] == "IMP-100"
    assert ident["Part name"]["value"] == "Tibial plate"
    assert ident["Work order"]["value"] == "WO-77"
    assert ident["Site of manufacture"]["value"] == "CLEAN-1"
    assert "material lot TI-7 (heat HT-991)" in text(ident["Other identification and control "
                                                           "numbers"]["value"])
    assert obj(record["quantity_manufactured"])["value"] == 1
    released = obj(record["quantity_released"])
    assert (released["value"], released["status"]) == (1, "derived")
    assert "Mercy Hospital" in text(released["note"])
    manufacture = by_name(record["manufacture"])
    assert manufacture["Manufacture started"]["value"] == "2026-03-02 08:10:00 UTC"
    assert manufacture["Manufacture completed"]["value"] == "2026-03-02 08:20:00 UTC"

    udi = obj(record["udi"])
    assert (udi["gtin"], udi["serial"], udi["lot"]) == (GTIN, SERIAL, "WO-77")
    assert (udi["production_date"], udi["expiry_date"]) == ("2026-03-02", "2031-03-02")
    assert udi["form"] == "GS1 element string"
    assert udi["digital_link"] == f"https://id.gs1.org/01/{GTIN}/10/WO-77/21/{SERIAL}" \
                                  "?11=260302&17=310302"
    assert any("(21) serial IMP-0001 matches" in check for check in texts(udi["checks"]))
    assert any("(11) production date 2026-03-02 matches" in c for c in texts(udi["checks"]))

    dmr = by_name(record["device_master_record"])
    assert dmr["Drawing"]["value"] == "DWG-100 rev 4"
    assert "Alice Chen (approval" in text(dmr["Release signed by"]["value"])

    acceptance = obj(record["acceptance"])
    chars = {c["balloon"]: c for c in objs(acceptance["characteristics"])}
    assert chars["1"]["accepted"] and "NC-1 (use-as-is" in text(chars["1"]["status"])
    assert chars["2"]["accepted"] and chars["2"]["final"] == "pass"
    summary = text(obj(acceptance["summary"])["value"])
    assert summary.startswith("2 of 2 characteristics of IMP-100 rev A")
    assert "1 of 1 functional tests passed" in summary
    (nc,) = objs(acceptance["non_conformances"])
    assert nc["decision"] == "use-as-is"
    assert text(nc["signed_by"]).startswith("Marta Ruiz (approval")
    assert [t["procedure"] for t in objs(acceptance["tests"])] == ["TP-9"]
    assert objs(acceptance["certificates"])[0]["number"] == "COC-77"

    (operation,) = objs(record["operations"])
    assert (operation["machine"], operation["program"], operation["program_revision"]) == (
        "MILL-1", "P-100", "3")
    assert operation["machine_condition"] == "no condition record covers the operation"
    assert objs(record["process_parameters"])[0]["mean"] == 12000
    (material,) = objs(record["materials"])
    assert (material["lot"], material["heat"], material["certificate_number"]) == (
        "TI-7", "HT-991", "C-991")
    assert material["certificate_check"] == "certificate digest matches the lot's receipt"
    (component,) = objs(record["components"])
    assert (component["serial"], component["part_number"], component["udi"]) == (
        "SCR-1", "SCREW-2", "(01)09506000134352(21)SCR-1")
    (environment,) = objs(record["environment"])
    assert environment["readings"] == "temperature 21 \u00b0C, humidity 41 %RH"
    assert [d["consignee"] for d in objs(record["distribution"])] == ["Mercy Hospital"]

    assert obj(record["labelling"])["status"] == "not recorded"
    approval = obj(record["approval"])
    assert approval["status"] == "recorded" and "Quentin Adeyemi" in text(approval["value"])
    signatures = {s["printed_name"]: s for s in objs(record["signatures"])}
    assert set(signatures) == {"Alice Chen", "Marta Ruiz", "Quentin Adeyemi"}
    assert all(s["verified"] for s in signatures.values())
    assert obj(signatures["Marta Ruiz"]["signed"])["topic"] == "quality.disposition-recorded"

    hashes = {(e.originator_version, e.hash.hex()) for e in ledger.history(SERIAL)}
    cited = [ref for ref in objs(record["evidence"]) if ref["key"] == SERIAL]
    assert cited and all((ref["version"], ref["hash"]) in hashes for ref in cited)
    assert all(ref["position"] is not None for ref in objs(record["evidence"]))
    assert obj(record["document"])["ledger_origin"] == ledger.origin


def test_as_of_by_recorded_time_leaves_out_later_facts(sqlite_ledger: thread.Ledger) -> None:
    """As of a recorded moment before the certificate and shipment, the unit is not released."""
    ledger = sqlite_ledger
    design(ledger)
    implant(ledger, ship=False)
    cutoff = ledger.history(SERIAL)[-1].recorded_at
    ledger.record(f.CertificationAttached(serial=SERIAL, document="conformance",
                                          number="COC-77", digest="sha256:" + "b" * 64),
                  occurred_at=at(120))
    ledger.record(f.Shipped(serial=SERIAL, customer="Mercy Hospital", order="PO-5"),
                  occurred_at=at(180))
    then = device_history_record(ledger, SERIAL, as_of=cutoff, by="recorded").to_json()
    now = device_history_record(ledger, SERIAL).to_json()
    assert (obj(then["quantity_released"])["value"],
            obj(now["quantity_released"])["value"]) == (0, 1)
    assert then["distribution"] == [] and obj(then["acceptance"])["certificates"] == []
    assert all(text(ref["recorded_at"]) <= cutoff.isoformat().replace("+00:00", "Z")
               for ref in objs(then["evidence"]))
    then_document, now_document = obj(then["document"]), obj(now["document"])
    assert then_document["as_of"] is not None and then_document["by"] == "recorded"
    assert then_document["document_id"] != now_document["document_id"]


def test_as_of_by_occurred_time_includes_late_records(sqlite_ledger: thread.Ledger) -> None:
    """A result recorded late but taken on the floor before the moment counts by occurred time,
    not by recorded time; a fact that happened after the moment counts by neither."""
    ledger = sqlite_ledger
    design(ledger)
    implant(ledger, ship=False)
    recorded_before = ledger.history(SERIAL)[-1].recorded_at
    ledger.record(f.InspectionRecorded(serial=SERIAL, characteristic="1", method="cmm",
                                       measured=5.001, unit="mm", nominal=5.0,
                                       lower_tolerance=-0.02, upper_tolerance=0.02,
                                       verdict="pass", report="IR-2"),
                  occurred_at=at(35))  # taken at 08:35, uploaded later
    ledger.record(f.Shipped(serial=SERIAL, customer="Mercy Hospital", order="PO-5"),
                  occurred_at=at(300))
    by_occurred = device_history_record(ledger, SERIAL, as_of=at(200), by="occurred").to_json()
    by_recorded = device_history_record(ledger, SERIAL, as_of=recorded_before,
                                        by="recorded").to_json()
    occurred_acceptance = obj(by_occurred["acceptance"])
    recorded_acceptance = obj(by_recorded["acceptance"])
    reports = {r["report"] for r in objs(occurred_acceptance["inspections"])}
    assert "IR-2" in reports
    assert "IR-2" not in {r["report"] for r in objs(recorded_acceptance["inspections"])}
    assert by_occurred["distribution"] == by_recorded["distribution"] == []
    chars = {c["balloon"]: c for c in objs(occurred_acceptance["characteristics"])}
    assert chars["1"]["final"] == "5.001 mm" and chars["1"]["status"] == "accepted"


def test_before_registration_the_unit_is_unknown(sqlite_ledger: thread.Ledger) -> None:
    """A DHR as of a moment before the unit existed is refused, naming the moment and clock."""
    design(sqlite_ledger)
    implant(sqlite_ledger)
    with pytest.raises(thread.UnknownSubject, match="not yet in the ledger as of 2026-03-02 "
                                                    r"07:00:00 UTC \(by occurred time\)"):
        device_history_record(sqlite_ledger, SERIAL, as_of=at(-60), by="occurred")


def test_lot_dhr_counts_the_lot(sqlite_ledger: thread.Ledger) -> None:
    """A production lot's DHR counts its quantity and checks the UDI's (10) lot."""
    ledger = sqlite_ledger
    design(ledger)
    udi = UDI(gtin=GTIN, lot="L-9", production_date="260302").digital_link()
    ledger.record(f.PartRegistered(lot="L-9", part_number="IMP-100", revision="A",
                                   quantity=50, udi=udi), occurred_at=at(0))
    ledger.record(f.Shipped(lot="L-9", customer="Distributor", order="SO-1"),
                  occurred_at=at(60))
    record = device_history_record(ledger, "L-9").to_json()
    assert record["kind"] == "lot"
    assert obj(record["quantity_manufactured"])["value"] == 50
    assert obj(record["quantity_released"])["value"] == 50
    parsed = obj(record["udi"])
    assert parsed["form"] == "GS1 Digital Link URI"
    assert any("(10) lot L-9 matches the lot number" in c for c in texts(parsed["checks"]))
    chars = objs(obj(record["acceptance"])["characteristics"])
    assert [c["status"] for c in chars] == ["not inspected: no result recorded"] * 2


def test_scrapped_quarantined_and_unreleased_units_release_nothing(
        sqlite_ledger: thread.Ledger) -> None:
    """A scrap disposition, a hold or no release at all gives quantity released 0, with why."""
    ledger = sqlite_ledger
    design(ledger)
    for serial in ("S-1", "S-2", "S-3"):
        ledger.record(f.PartRegistered(serial=serial, part_number="IMP-100", revision="A"))
    ledger.record(f.NonConformanceOpened(serial="S-1", non_conformance="NC-9",
                                         description="cracked"))
    ledger.record(f.DispositionRecorded(serial="S-1", non_conformance="NC-9", decision="scrap",
                                        rationale="cracked"), sign=MRB)
    ledger.record(f.Quarantined(serial="S-2", reason="vibration event"))
    notes = {serial: device_history_record(ledger, serial).quantity_released
             for serial in ("S-1", "S-2", "S-3")}
    assert {serial: fld.value for serial, fld in notes.items()} == {"S-1": 0, "S-2": 0, "S-3": 0}
    assert "scrap under NC-9" in (notes["S-1"].note or "")
    assert "quarantined (vibration event)" in (notes["S-2"].note or "")
    assert "no shipment" in (notes["S-3"].note or "")


def test_untrusted_key_and_bad_udi_are_shown_not_hidden(sqlite_ledger: thread.Ledger) -> None:
    """A signature checked against another trusted key reads NOT VERIFIED, one whose key is not
    pinned is not called verified; a malformed UDI is shown with the parser's error naming the
    AI."""
    ledger = sqlite_ledger
    design(ledger)
    implant(ledger, udi="(01)09506000134353(21)IMP-0001")
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    record = device_history_record(ledger, SERIAL, trusted_keys={"m.ruiz": other})
    by_signer = {s.signer: s for s in record.signatures}
    assert not by_signer["m.ruiz"].verified
    assert "NOT VERIFIED" in by_signer["m.ruiz"].verification
    assert by_signer["a.chen"].status == "key not pinned" and not by_signer["a.chen"].verified
    assert record.udi.error is not None and "(01)" in record.udi.error
    assert "check digit 2" in record.udi.error


def test_a_correction_supersedes_without_hiding(sqlite_ledger: thread.Ledger) -> None:
    """A corrected inspection stays in the record marked superseded; acceptance uses the
    correction, and the correction is listed with its reason."""
    ledger = sqlite_ledger
    design(ledger)
    implant(ledger, ship=False)
    wrong = next(e for e in ledger.history(SERIAL)
                 if isinstance(e.fact, f.InspectionRecorded) and e.fact.characteristic == "2")
    ledger.correct(f.InspectionRecorded(serial=SERIAL, characteristic="2", method="vision",
                                        verdict="fail", report="IR-1"),
                   corrects=wrong.originator_version, reason="marking was smudged",
                   occurred_at=at(31))
    record = device_history_record(ledger, SERIAL)
    rows = [r for r in record.acceptance.inspections if r.characteristic == "2"]
    assert [(r.verdict, r.remarks is None) for r in rows] == [("pass", False), ("fail", True)]
    assert rows[0].remarks is not None and rows[0].remarks.startswith("superseded by version")
    chars = {c.balloon: c for c in record.acceptance.characteristics}
    assert not chars["2"].accepted
    (correction,) = record.corrections
    assert (correction.corrects_version, correction.reason) == (wrong.originator_version,
                                                                 "marking was smudged")


def test_material_lot_has_no_dhr(sqlite_ledger: thread.Ledger) -> None:
    """Asking for the DHR of a raw-material lot says what it is instead of a bogus record."""
    design(sqlite_ledger)
    with pytest.raises(RecordUnavailable, match="TI-7 is a material lot"):
        device_history_record(sqlite_ledger, "TI-7")
    with pytest.raises(thread.UnknownSubject, match="no part or lot NOPE"):
        device_history_record(sqlite_ledger, "NOPE")


def test_html_copy_is_self_contained_and_shows_signatures(sqlite_ledger: thread.Ledger) -> None:
    """The HTML copy loads nothing from outside and shows printed names, times and meanings."""
    design(sqlite_ledger)
    implant(sqlite_ledger)
    record = device_history_record(sqlite_ledger, SERIAL)
    page = render_html(record)
    assert page.startswith("<!DOCTYPE html>")
    for outside in ("<script", "<link", "src=", "@import", "url("):
        assert outside not in page
    assert record.document.document_id in page
    assert "Marta Ruiz" in page and "2026-03-02 09:30:00 UTC" in page and "approval" in page
    assert "Not recorded" in page and "ISO-7 cleanroom" in page


def pdf_text(data: bytes) -> tuple[list[str], pdfium.PdfDocument]:
    """The text of each page of a PDF."""
    document = pdfium.PdfDocument(data)
    return [page.get_textpage().get_text_range() for page in document], document


def test_pdf_copy_is_headed_numbered_traceable_and_signed(sqlite_ledger: thread.Ledger,
                                                          tmp_path: Path) -> None:
    """Every page names the document and its page x of y; the text holds the ledger origin,
    event hashes and each signature's printed name, UTC time and meaning; pages render."""
    design(sqlite_ledger)
    implant(sqlite_ledger)
    record = device_history_record(sqlite_ledger, SERIAL)
    pages, document = pdf_text(render_pdf(record))
    total = len(pages)
    assert total >= 3
    for number, text in enumerate(pages, start=1):
        assert record.document.document_id in text
        assert f"Page {number} of {total}" in text
        assert sqlite_ledger.origin in text
    text = "\n".join(pages)
    for expected in ("DEVICE HISTORY RECORD", "Quantity released", "ISO 13485", "Marta Ruiz",
                     "APPROVAL", "2026-03-02 09:30:00 UTC", "VERIFIED", "Evidence index",
                     "TI-7", "SCR-1", "Mercy Hospital", GTIN):
        assert expected in text, expected
    for ref in record.evidence:
        assert ref.hash[:32] in text.replace("\r", "").replace("\n", "")
    image = document[0].render(scale=1).to_pil().convert("L")
    assert image.getextrema()[0] < 80  # ink on the first page, not a blank sheet


def test_cli_writes_pdf_html_and_json(tmp_path: Path) -> None:
    """thread dhr writes the format its -o extension names, JSON to stdout, and --as-of works."""
    path = str(tmp_path / "cli.db")
    ledger = thread.open(path, clock=Clock(), actor="tester")
    design(ledger)
    implant(ledger)
    ledger.close()
    runner = CliRunner()
    pdf = tmp_path / "dhr.pdf"
    result = runner.invoke(main, ["--db", path, "dhr", SERIAL, "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF") and "Wrote Device History Record" in result.output
    html = tmp_path / "dhr.html"
    result = runner.invoke(main, ["--db", path, "dhr", SERIAL, "-o", str(html), "--json"])
    assert json.loads(result.output)["format"] == "html"
    assert html.read_text().startswith("<!DOCTYPE html>")
    result = runner.invoke(main, ["--db", path, "dhr", SERIAL, "--as-of", "2026-03-02T08:15Z",
                                  "--by", "occurred"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["acceptance"]["inspections"] == []
    assert record["document"]["by"] == "occurred"
    result = runner.invoke(main, ["--db", path, "dhr", SERIAL, "--as-of", "2026-03-02"])
    assert result.exit_code == 2 and "no time zone" in result.output
    result = runner.invoke(main, ["--db", path, "dhr", "NOPE"])
    assert result.exit_code == 1 and "no part or lot NOPE" in result.output
    result = runner.invoke(main, ["--db", path, "dhr", SERIAL, "--format", "pdf"])
    assert result.exit_code == 2 and "-o FILE.pdf" in result.output


def vibration_window(start: datetime, minutes: float, peak: float) -> f.ConditionRecorded:
    """A condition window of MILL-1 from ``start``, vibration peaking at ``peak`` (limit 4.5)."""
    return f.ConditionRecorded(
        machine="MILL-1", window_start=start, window_end=start + timedelta(minutes=minutes),
        metrics=(f.ConditionMetric(name="vibration", unit="mm/s", n=10, min=1.0, max=peak,
                                   mean=2.0, threshold=4.5),))


def milled(ledger: thread.Ledger, *windows: f.ConditionRecorded) -> tuple[Any, list[Any]]:
    """A unit milled on MILL-1 from 06:00 to 06:10 with ``windows`` on the machine: its DHR's
    operation row and the machine's condition windows it cites."""
    design(ledger)
    six = T0.replace(hour=6)
    for window in windows:
        ledger.record(window, occurred_at=window.window_end)
    ledger.record(f.PartRegistered(serial=SERIAL, part_number="IMP-100", revision="A"),
                  occurred_at=six - timedelta(minutes=30))
    ledger.record(f.OperationPerformed(
        serial=SERIAL, operation="OP10-mill", station="CELL-2", machine="MILL-1",
        operator="op-7", started_at=six, ended_at=six + timedelta(minutes=10),
        cycle_time_s=600), occurred_at=six + timedelta(minutes=10))
    (row,) = device_history_record(ledger, SERIAL).operations
    cited = [ref for ref in row.evidence if ref.topic == f.ConditionRecorded.topic]
    return row, cited


def test_condition_windows_that_only_touch_the_operation_do_not_count(
        sqlite_ledger: thread.Ledger) -> None:
    """Windows ending as the operation starts or starting as it ends are not its condition."""
    six = T0.replace(hour=6)
    row, cited = milled(sqlite_ledger,
                        vibration_window(six - timedelta(minutes=10), 10, peak=7.0),
                        vibration_window(six + timedelta(minutes=10), 10, peak=9.0))
    assert row.machine_condition == "no condition record covers the operation"
    assert not row.machine_alert
    assert row.condition is not None and row.condition.windows == ()
    assert row.condition.metrics == () and cited == []


def test_a_condition_window_overlapping_the_operation_counts(
        sqlite_ledger: thread.Ledger) -> None:
    """A window sharing a moment with the operation is cited and its exceedance alerts."""
    six = T0.replace(hour=6)
    row, cited = milled(sqlite_ledger, vibration_window(six + timedelta(minutes=5), 10, 9.0))
    assert row.machine_alert
    assert row.machine_condition == "vibration max 9 mm/s over threshold 4.5"
    assert row.condition is not None
    vibration = row.condition.metric("vibration")
    assert vibration is not None and vibration.max == 9 and vibration.exceeded
    assert [ref.version for ref in cited] == list(row.condition.windows)
    assert len(cited) == 1 and cited[0].kind == "machine"
