"""What control charts and capability read: a metric's values in a scope, each linked to its
part and event, corrections and later records left out, and design feedback from them."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from drift_plant import MACHINE, METRIC, START, made, plant

import thread
from thread.analytics.feedback import HELD_AT, design_feedback
from thread.analytics.spc import capability_of, chart_series
from thread.domain import facts as f
from thread.errors import LedgerError
from thread.quality import control_chart

pytestmark = pytest.mark.contract


def _gauged(ledger: thread.Ledger, serial: str, bore: float, at_minutes: int) -> None:
    """A bore measurement (20 mm -0.010/+0) of an undocumented bearing."""
    verdict = "pass" if 19.99 <= bore <= 20.0 else "fail"
    ledger.record(f.InspectionRecorded(serial=serial, characteristic="1", method="cmm",
                                       measured=bore, unit="mm", nominal=20.0,
                                       lower_tolerance=-0.01, upper_tolerance=0.0,
                                       verdict=verdict),
                  occurred_at=START + timedelta(minutes=at_minutes))


def test_a_series_links_each_value_to_its_part_and_event(ledger: thread.Ledger) -> None:
    """Each value names its serial, machine, operation and log position, oldest first."""
    plant(ledger, 12)
    found = ledger.series(METRIC, machine=MACHINE, operation="OP30")
    assert [p.serial for p in found.points] == [f"SN-{i:03d}" for i in range(12)]
    assert {p.machine for p in found.points} == {MACHINE} and found.unit == "%"
    positions = [p.position for p in found.points]
    assert positions == sorted(positions)
    history = ledger.history("SN-003")
    assert found.points[3].value == history[1].fact.parameters[0].mean  # type: ignore[attr-defined]
    assert ledger.series(METRIC, machine="GR-OTHER").points == ()
    assert ledger.series(METRIC, operation="OP99").points == ()
    assert len(ledger.series(METRIC, part_number="BRG-X", revision="A").points) == 12
    assert ledger.series(METRIC, part_number="BRG-Y").points == ()


def test_a_corrected_record_leaves_the_chart_and_as_of_shows_the_past(
        ledger: thread.Ledger) -> None:
    """A corrected process record is charted by its correction; as of before, the old value."""
    plant(ledger, 5)
    before = ledger.series(METRIC).points
    moment = ledger.history("SN-004")[-1].timestamp
    wrong = ledger.history("SN-002")[1]
    assert isinstance(wrong.fact, f.ProcessRecorded)
    fixed = wrong.fact.model_copy(update={"parameters": (f.ParameterSummary(
        name="spindle_load", unit="%", n=10, min=1.0, max=1.0, mean=1.0, sd=0.0),)})
    ledger.correct(fixed, corrects=wrong.originator_version, reason="mis-scaled sensor")
    values = [p.value for p in ledger.series(METRIC).points]
    assert values.count(1.0) == 1 and before[2].value not in values
    past = ledger.series(METRIC, as_of=moment)
    assert [p.value for p in past.points] == [p.value for p in before]


def test_bad_metrics_and_scopes_are_refused_with_one_line(ledger: thread.Ledger) -> None:
    """A bad metric or scope names what was expected."""
    plant(ledger, 3)
    with pytest.raises(LedgerError, match=r"expected process\.NAME\.STAT"):
        ledger.series("process.spindle_load.median")
    with pytest.raises(LedgerError, match="name the machine"):
        ledger.series("condition.vibration.max")
    with pytest.raises(LedgerError, match="revision needs its part number"):
        ledger.series(METRIC, revision="A")


def test_violations_name_the_parts_behind_their_points(ledger: thread.Ledger) -> None:
    """A chart of the ledger's values equals the pure chart, and its violations name parts."""
    at = plant(ledger, 25)
    made(ledger, "SN-HIGH", 70.0, at)
    found = ledger.series(METRIC, machine=MACHINE)
    drawn = chart_series(found, "i-mr", phase1=20, rules="western-electric")
    pure = control_chart([p.value for p in found.points], "i-mr", phase1=20)
    assert drawn.chart == pure
    [beyond] = [v for v in drawn.violations if v.rule == "WE1"]
    assert beyond.behind[-1].serial == "SN-HIGH" and beyond.index == 25
    subgrouped = chart_series(found, "xbar-r", subgroup_size=5)
    assert subgrouped.left_out == 1 and len(subgrouped.chart.points) == 5
    assert [len(m) for m in subgrouped.members] == [5] * 5
    assert found.points[subgrouped.members[4][-1]].serial == "SN-024"


def test_attribute_charts_count_failed_measurements(ledger: thread.Ledger) -> None:
    """A p chart's points are each sample's share of parts failing the characteristic."""
    plant(ledger, 20)
    for index in range(20):
        _gauged(ledger, f"SN-{index:03d}", 20.005 if index in (3, 4, 15) else 19.995,
                30 + index)
    found = ledger.series("inspection.1", part_number="BRG-X")
    assert found.tolerance is not None and found.tolerance.lsl == pytest.approx(19.99)
    drawn = chart_series(found, "p", subgroup_size=5)
    assert drawn.chart.points == pytest.approx([0.4, 0.0, 0.0, 0.2])
    capability = capability_of(found)
    assert capability.usl == 20.0 and capability.n == 20


def test_design_feedback_says_what_each_machine_holds(ledger: thread.Ledger) -> None:
    """Held: the distance of the mean from the tolerance's middle plus four within sigmas."""
    plant(ledger, 40)
    bores = np.random.default_rng(5).normal(19.996, 0.001, 40)
    for index, bore in enumerate(bores):
        _gauged(ledger, f"SN-{index:03d}", round(float(bore), 5), 500 + index)
    report = design_feedback(ledger, "BRG-X")
    [bore] = report.characteristics
    assert bore.n == 40 and [g.group for g in bore.by_machine] == [MACHINE]
    overall = bore.overall
    assert overall is not None and bore.held is not None
    middle = (19.99 + 20.0) / 2
    assert bore.held.as_running == pytest.approx(
        abs(overall.mean - middle) + 3 * HELD_AT * overall.sigma_within)
    assert overall.cpk == pytest.approx(min(20.0 - overall.mean, overall.mean - 19.99)
                                        / (3 * overall.sigma_within))
    with pytest.raises(LedgerError, match="never measured"):
        design_feedback(ledger, "BRG-X", characteristics=["9"])


def test_a_chart_that_cannot_read_its_metric_says_why(ledger: thread.Ledger) -> None:
    """An attribute chart of a process value, or an empty scope, is one line naming it."""
    plant(ledger, 5)
    found = ledger.series(METRIC, machine=MACHINE)
    with pytest.raises(LedgerError, match="a p chart counts failed measurements"):
        chart_series(found, "p", subgroup_size=5)
    with pytest.raises(LedgerError, match="for machine GR-NONE in this ledger"):
        chart_series(ledger.series(METRIC, machine="GR-NONE"))
