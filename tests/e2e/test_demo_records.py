"""The demo plant's quality records read as a plant's: characteristics verified by inspection,
test and installed components; every DHR verified and approved; every FAIR signed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

import thread
from thread.cli import main
from thread.demo import fill, signer_keys
from thread.records import device_history_record, first_article_report


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[thread.Ledger]:
    """The demo plant with 60 bearings (seed 7)."""
    ledger = thread.open(str(tmp_path_factory.mktemp("plant") / "demo.db"))
    fill(ledger, bearings=60)
    yield ledger
    ledger.close()


def test_every_released_unit_is_accepted_verified_and_approved(plant: thread.Ledger) -> None:
    """Each hub's two characteristics are accepted by its torque test and its two bearings,
    each good bearing's five by inspection; each DHR names who verified and who approved it,
    and every signature verifies against the demo's pinned keys."""
    keys = signer_keys()
    for serial in plant.parts():
        record = device_history_record(plant, serial, trusted_keys=keys)
        if plant.part(serial).scrapped:
            assert record.approval.status == "not recorded", serial
            continue
        accepted = "2 of 2" if serial.startswith("HUB-") else "5 of 5"
        assert str(record.acceptance.summary.value).startswith(
            f"{accepted} characteristics"), (serial, record.acceptance.summary.value)
        assert record.verified_by.status == "recorded", serial
        assert record.approval.status == "recorded", serial
        assert "Abena Mensah" in str(record.approval.value)
        assert record.signatures and all(s.status == "verified" for s in record.signatures)
    hub = device_history_record(plant, "HUB-000001", trusted_keys=keys)
    by = {c.balloon: c.verified_by for c in hub.acceptance.characteristics}
    assert by == {"1": "functional test TP-3100-ROT rev 2", "2": "installed components"}


@pytest.mark.parametrize(("part_number", "first", "count"), [
    ("BRG-6204", "BRG-000001", 5), ("WH-3100", "HUB-000001", 2)])
def test_each_fair_is_verified_and_approved_by_two_people(
        plant: thread.Ledger, part_number: str, first: str, count: int) -> None:
    """Form 1 fields 20-23 name the inspector and the quality manager with dates; every
    characteristic conforms; no FAI is due for an incomplete first article."""
    report = first_article_report(plant, part_number, "A", trusted_keys=signer_keys())
    assert report.serial == first
    form1 = {fld.number: fld for fld in report.form1.fields}
    assert form1["20"].text == "Kenji Nakamura (review, signature verified)"
    assert form1["22"].text == "Abena Mensah (approval, signature verified)"
    assert form1["21"].status == form1["23"].status == "recorded"
    assert form1["10"].text == "Thread Demo Bearing Works, Plant 1"
    assert [row.conforms for row in report.form3.rows] == [True] * count
    assert not [r for r in report.fai_due.reasons if r.kind == "incomplete"]


def test_without_pinned_keys_no_signature_reads_verified(plant: thread.Ledger) -> None:
    """The same records read by someone who pinned no key say what was checked, not VERIFIED."""
    record = device_history_record(plant, "HUB-000001")
    assert record.signatures
    assert {s.status for s in record.signatures} == {"key not pinned"}
    assert all(not s.verified for s in record.signatures)
    assert "signer's key is not pinned" in record.signatures[0].verification
    assert str(record.approval.value).endswith("(signature intact, signer's key not pinned)")


def test_the_demo_hub_dhr_from_the_command_line(tmp_path: Path) -> None:
    """thread demo, then thread dhr HUB-000126 -o x.pdf: page 2 accepts both characteristics
    and the record is verified and approved (the steps of the report in issue 10)."""
    db, pdf = str(tmp_path / "thread.db"), tmp_path / "x.pdf"
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db, "demo"]).exit_code == 0
    result = runner.invoke(main, ["--db", db, "dhr", "HUB-000126", "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    pages = [page.get_textpage().get_text_range().replace("\r\n", "\n")
             for page in pdfium.PdfDocument(pdf)]
    text = "\n".join(pages)
    assert "2 of 2 characteristics of WH-3100 rev A accepted" in pages[1]
    assert "0 of 2" not in text
    assert "Kenji Nakamura" in text and "Abena Mensah" in text
    assert "RECORD APPROVED BY" in text
