"""How a characteristic is verified (thread.records.verification): by inspection of its balloon,
by a functional test reading named for it, by the installed components its requirement names;
the DHR and the FAIR apply the same rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Clock

import thread
from thread import facts as f
from thread.records import device_history_record, first_article_report
from thread.records.dhr_record import CharacteristicAcceptance

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A floor time, minutes after T0."""
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[thread.Ledger]:
    """A hub design verified by a torque test, an axial-play test in µm and two bearings,
    and three bearings made and accepted."""
    ledger = thread.open(str(tmp_path / "verify.db"), clock=Clock(), actor="tester")
    ledger.record(f.RevisionReleased(
        part_number="BRG-1", revision="A", part_name="Bearing", drawing="DWG-1",
        characteristics=(f.Characteristic(balloon="1", name="Bore", nominal=20.0, unit="mm",
                                          lower_tolerance=-0.01, upper_tolerance=0.0),)),
        occurred_at=at(-600))
    ledger.record(f.RevisionReleased(
        part_number="HUB-1", revision="B", part_name="Hub", drawing="DWG-2",
        characteristics=(
            f.Characteristic(balloon="1", name="Rolling torque", nominal=1.2, unit="N.m",
                             lower_tolerance=-0.4, upper_tolerance=0.4, designator="key"),
            f.Characteristic(balloon="2", name="Axial play", nominal=20.0, unit="um",
                             lower_tolerance=-10.0, upper_tolerance=10.0),
            f.Characteristic(balloon="3", name="Bearing complement",
                             requirement="two BRG-1 rev A, inboard and outboard"),
        )), occurred_at=at(-500))
    for number in (1, 2, 3):
        serial = f"B-{number}"
        ledger.record(f.PartRegistered(serial=serial, part_number="BRG-1", revision="A"),
                      occurred_at=at(number))
        ledger.record(f.InspectionRecorded(
            serial=serial, characteristic="1", method="gauge", measured=19.995, unit="mm",
            nominal=20.0, lower_tolerance=-0.01, upper_tolerance=0.0, verdict="pass"),
            occurred_at=at(number + 5))
    yield ledger
    ledger.close()


def hub(ledger: thread.Ledger, serial: str, *, torque: float = 1.13, play_mm: float = 0.025,
        bearings: tuple[str, ...] = ("B-1", "B-2")) -> None:
    """A hub assembled from ``bearings`` and tested: torque in N·m, axial play in mm."""
    ledger.record(f.PartRegistered(serial=serial, part_number="HUB-1", revision="B"),
                  occurred_at=at(30))
    for position, bearing in zip(("inboard", "outboard"), bearings, strict=False):
        ledger.record(f.ComponentInstalled(serial=serial, component=bearing, position=position),
                      occurred_at=at(35))
    ledger.record(f.TestRecorded(
        serial=serial, procedure="TP-7", procedure_revision="2", verdict="pass",
        values=(f.Reading(name="rolling_torque", value=torque, unit="N.m"),
                f.Reading(name="axial-play", value=play_mm, unit="mm"))), occurred_at=at(40))


def chars(ledger: thread.Ledger, serial: str) -> dict[str, CharacteristicAcceptance]:
    """The DHR's characteristics of ``serial`` by balloon."""
    record = device_history_record(ledger, serial)
    return {c.balloon: c for c in record.acceptance.characteristics}


def test_tests_and_installed_components_verify_what_they_name(plant: thread.Ledger) -> None:
    """A test reading named for a characteristic (converted mm -> µm) and the two bearings the
    requirement names verify an assembly that has no inspection at all."""
    hub(plant, "H-1")
    found = chars(plant, "H-1")
    assert [(c.verified_by, c.accepted, c.status) for c in found.values()] == [
        ("functional test TP-7 rev 2", True, "accepted"),
        ("functional test TP-7 rev 2", True, "accepted"),
        ("installed components", True, "accepted")]
    assert found["1"].final == "1.13 N\u00b7m"
    assert found["2"].final == "0.025 mm"
    assert found["3"].final == "2 BRG-1 rev A installed"
    summary = device_history_record(plant, "H-1").acceptance.summary.value
    assert str(summary).startswith("3 of 3 characteristics of HUB-1 rev B accepted")


def test_a_reading_outside_the_band_fails_even_when_the_test_passed(
        plant: thread.Ledger) -> None:
    """The reading is held to the characteristic's tolerance, not to the test's own verdict."""
    hub(plant, "H-2", torque=1.7, play_mm=0.031)
    found = chars(plant, "H-2")
    assert not found["1"].accepted
    assert found["1"].status == ("rejected: functional test TP-7 rev 2 1.7 N\u00b7m outside "
                                 "0.8 N\u00b7m to 1.6 N\u00b7m")
    assert not found["2"].accepted and "0.031 mm outside 10 \u00b5m to 30 \u00b5m" in (
        found["2"].status)


def test_missing_removed_or_held_components_do_not_count(plant: thread.Ledger) -> None:
    """One bearing short, or a bearing on hold, leaves the complement unverified, saying why."""
    hub(plant, "H-3", bearings=("B-1",))
    assert chars(plant, "H-3")["3"].status == (
        "rejected: 1 acceptable BRG-1 rev A installed, the requirement asks for 2")
    hub(plant, "H-4", bearings=("B-2", "B-3"))
    plant.record(f.Quarantined(serial="B-3", reason="dropped"), occurred_at=at(50))
    held = chars(plant, "H-4")["3"]
    assert not held.accepted
    assert "B-3 (outboard): on hold (quarantined)" in held.status


def test_a_failed_kind_is_not_outweighed_by_a_passed_one(plant: thread.Ledger) -> None:
    """An inspection that passes does not accept a characteristic whose test reading fails."""
    hub(plant, "H-5", torque=0.5)
    plant.record(f.InspectionRecorded(serial="H-5", characteristic="1", method="manual",
                                      measured=1.2, unit="N.m", nominal=1.2,
                                      lower_tolerance=-0.4, upper_tolerance=0.4,
                                      verdict="pass"), occurred_at=at(45))
    torque = chars(plant, "H-5")["1"]
    assert torque.verified_by == "inspection and functional test TP-7 rev 2"
    assert not torque.accepted and torque.status.startswith("rejected: functional test TP-7")


def test_the_fair_applies_the_same_rule(plant: thread.Ledger) -> None:
    """Form 3 of the hub's first article shows the test reading and the bearings as results."""
    hub(plant, "H-1")
    report = first_article_report(plant, "HUB-1", "B")
    rows = {row.balloon: {fld.number: fld.text for fld in row.fields} for row in
            report.form3.rows}
    assert [row.conforms for row in report.form3.rows] == [True, True, True]
    assert rows["1"]["8"] == "1.2 N\u00b7m \u00b10.4 (0.8 to 1.6 N\u00b7m)"
    assert rows["1"]["9"] == "1.13 N\u00b7m PASS"
    assert rows["1"]["10"] == "functional test TP-7 rev 2"
    assert rows["3"]["9"] == "B-1 (inboard) PASS; B-2 (outboard) PASS"
    assert not [r for r in report.fai_due.reasons if r.kind == "incomplete"]


def test_a_result_off_the_drawing_gets_its_own_form_3_row(plant: thread.Ledger) -> None:
    """An inspection of a balloon the revision does not have is listed, judged by its own
    verdict against what it states, and said to be off the drawing."""
    plant.record(f.InspectionRecorded(serial="B-1", characteristic="9", name="Chamfer",
                                      method="manual", measured=0.52, unit="mm", nominal=0.5,
                                      lower_tolerance=-0.1, upper_tolerance=0.1, verdict="pass"),
                 occurred_at=at(20))
    report = first_article_report(plant, "BRG-1", "A", serial="B-1")
    extra = report.form3.rows[-1]
    fields = {fld.number: fld.text for fld in extra.fields}
    assert (extra.balloon, extra.on_drawing, extra.conforms) == ("9", False, True)
    assert fields["8"] == "0.5 mm \u00b10.1 (0.4 to 0.6 mm)"
    assert fields["9"] == "0.52 mm PASS"
    assert fields["12"] == "not a characteristic of revision A"
