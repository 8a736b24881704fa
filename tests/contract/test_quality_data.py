"""Quality data checked against the design it names: units of the right quantity, the
design's nominal and tolerances, and a verdict that follows from value against tolerance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import bearing, inspection, released_bearing

import thread
from thread import facts as f
from thread.domain.conformance import Requirement, UnitError, convert, verdict
from thread.errors import AlreadyRegistered, InvalidFact, LedgerError, QualityRuleViolation


@pytest.fixture
def part(ledger: thread.Ledger) -> thread.Ledger:
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    return ledger


def _measure(measured: object, unit: str | None = "mm", verdict: str = "pass",
             **more: object) -> f.InspectionRecorded:
    values: dict[str, object] = {
        "serial": "SN-1", "characteristic": "1", "method": "cmm", "measured": measured,
        "unit": unit, "verdict": verdict, **more}
    return f.InspectionRecorded(**values)


def test_a_verdict_that_contradicts_the_drawing_is_refused_and_writes_nothing(
        part: thread.Ledger) -> None:
    """25 mm against 20 mm -0.010/+0 recorded as a pass: one line naming both verdicts."""
    before = part.count()
    with pytest.raises(QualityRuleViolation) as refused:
        part.record(_measure(25.0))
    message = str(refused.value)
    assert "\n" not in message
    assert "verdict pass" in message and "gives fail" in message
    assert "19.99 to 20 mm" in message and "Bore diameter" in message
    assert part.count() == before


def test_a_verdict_that_says_why_it_differs_lands(part: thread.Ledger) -> None:
    """A guard band or a reviewed decision is a reason the ledger records, not refuses."""
    receipt = part.record(_measure(20.004, verdict="fail",
                                   verdict_reason="guard band 0.005 mm (gauge R&R)"))
    assert receipt.version == 2
    assert part.record(_measure(19.995)).version == 3  # and one that agrees needs none


def test_a_unit_of_another_quantity_is_refused(part: thread.Ledger) -> None:
    """kg cannot measure a bore; the message names both quantities."""
    with pytest.raises(QualityRuleViolation, match=r"unit kg \(mass\) cannot measure .* mm "
                                                   r"\(length\)"):
        part.record(_measure(19.995, unit="kg"))


def test_inches_convert_exactly(part: thread.Ledger) -> None:
    """0.7872 in is 19.99488 mm: inside; 0.7875 in is 20.0025 mm: outside."""
    part.record(_measure(0.7872, unit="in"))
    with pytest.raises(QualityRuleViolation, match="gives fail"):
        part.record(_measure(0.7875, unit="in"))
    part.record(_measure(0.7875, unit="in", verdict="fail"))


def test_a_stated_requirement_must_be_the_designs(part: thread.Ledger) -> None:
    """A nominal or tolerance that differs from the released characteristic is refused."""
    with pytest.raises(QualityRuleViolation, match="nominal 21 mm differs from the design's 20"):
        part.record(_measure(19.995, nominal=21.0))
    with pytest.raises(QualityRuleViolation, match=r"upper_tolerance 0\.01 mm differs"):
        part.record(_measure(19.995, nominal=20.0, lower_tolerance=-0.01, upper_tolerance=0.01))
    part.record(inspection("SN-1"))  # the same requirement, stated in full


def test_a_characteristic_the_design_does_not_have_keeps_its_verdict(
        part: thread.Ledger) -> None:
    """Nothing to check against: the fact stands as recorded."""
    part.record(_measure(99.0, characteristic="99"))


@pytest.mark.parametrize("field", ["measured", "nominal", "lower_tolerance", "upper_tolerance"])
def test_booleans_are_not_numbers(field: str) -> None:
    """measured=True was stored as 1 mm; now the fact names the field."""
    values: dict[str, object] = {"measured": 19.995, field: True}
    with pytest.raises(InvalidFact, match=field):
        _measure(**values)  # type: ignore[arg-type]


def test_times_before_1970_are_refused() -> None:
    """An inspection in year 1 is a typo, not a fact."""
    with pytest.raises(InvalidFact, match="from 1970 on"):
        f.OperationPerformed(serial="SN-1", operation="OP10", station="ST", operator="op",
                             started_at=datetime(1, 1, 1, tzinfo=UTC),
                             ended_at=datetime(2026, 1, 1, tzinfo=UTC), cycle_time_s=1)


def test_the_rule_against_published_values() -> None:
    """Ends of the band are inside; an inch is 25.4 mm by definition; no mass-to-length."""
    bore = Requirement("mm", 20.0, -0.01, 0.0)
    assert (verdict(19.99, bore), verdict(20.0, bore), verdict(19.9899, bore)) == (
        "pass", "pass", "fail")
    assert convert(1.0, "in", "mm") == 25.4
    assert convert(1000.0, "[mil_i]", "in") == 1.0
    with pytest.raises(UnitError):
        convert(1.0, "kg", "mm")


def test_a_time_far_ahead_of_the_ledgers_clock_is_refused(ledger_url: str) -> None:
    """An inspection dated 2099 is a source clock running fast or a typo: refused, naming the
    field, the value and the skew allowed; within the skew it lands; the skew is set on open."""
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    ledger = thread.open(ledger_url, clock=lambda: now, actor="tester")
    try:
        ledger.record(released_bearing())
        ledger.record(bearing("SN-1"))
        before = ledger.count()
        with pytest.raises(InvalidFact, match=r"'occurred_at' = '2099-01-01T00:00:00\+00:00': "
                                              r"a time no more than 0:05:00 ahead"):
            ledger.record(inspection("SN-1"), occurred_at=datetime(2099, 1, 1, tzinfo=UTC))
        assert ledger.count() == before
        ledger.record(inspection("SN-1"), occurred_at=now + timedelta(minutes=4))
    finally:
        ledger.close()
    lenient = thread.open(ledger_url, clock=lambda: now, max_clock_skew=timedelta(hours=1))
    try:
        lenient.record(inspection("SN-1"), occurred_at=now + timedelta(minutes=30))
    finally:
        lenient.close()


def test_a_serial_typed_decomposed_finds_the_part(ledger: thread.Ledger) -> None:
    """"SN-Å" registered precomposed is found when typed decomposed, in every view; the
    second registration is refused as the same part."""
    ledger.record(f.PartRegistered(serial="SN-\u00c5", part_number="P", revision="A",
                                   undocumented=True))
    typed = "SN-A\u030a"
    assert ledger.part(typed).exists and ledger.trace(typed).key == "SN-\u00c5"
    assert ledger.genealogy(typed).key == "SN-\u00c5" and len(ledger.history(typed)) == 1
    with pytest.raises(AlreadyRegistered):
        ledger.record(f.PartRegistered(serial=typed, part_number="P", revision="A",
                                       undocumented=True))


@pytest.mark.parametrize("moment", [datetime(1, 1, 1, tzinfo=UTC),
                                    datetime(9999, 12, 31, 23, 59, tzinfo=UTC)])
def test_as_of_outside_the_ledgers_times_is_one_error_in_the_library(
        part: thread.Ledger, moment: datetime) -> None:
    """Library callers get the library's error naming the range, not an OverflowError."""
    with pytest.raises(LedgerError, match="expected a time from 1970-01-01"):
        part.trace("SN-1", as_of=moment)
