"""Failure patterns on a real ledger: an injected cause is found first with the parameter that
moved, a plant without one gives no finding, and the evidence is what recall and trace show."""

from __future__ import annotations

from datetime import timedelta

import pytest

import thread
from thread.demo.reliability import PART_NUMBER, START, Cause, Plant, plant
from thread.errors import UnknownSubject

pytestmark = pytest.mark.contract


def recorded(url: str, simulated: Plant) -> thread.Ledger:
    ledger = thread.open(url, clock=lambda: simulated.now, actor="tester")
    with ledger.batch(actor="simulation", source="reliability") as batch:
        for index, (fact, at) in enumerate(simulated.facts):
            batch.record(fact, occurred_at=at, source_record_id=str(index))
    return ledger


def test_an_injected_cause_ranks_first_with_its_parameter_and_recall_agrees(
        ledger_url: str) -> None:
    """An injected cause ranks first with its parameter and recall agrees."""
    cause = Cause("M-03", 5, 7, "spindle_temperature")
    ledger = recorded(ledger_url, plant(21, weeks=10, per_week=12, cause=cause))
    found = ledger.failure_patterns(part_number=PART_NUMBER)
    top = found.findings[0]
    assert top.machine == "M-03"
    assert top.start is not None and top.end is not None
    assert top.start < START + timedelta(weeks=8) and top.end > START + timedelta(weeks=5)
    assert top.q_value <= 0.05 and top.rate_ratio is not None and top.rate_ratio > 2
    assert top.ci_low is not None and top.ci_low > 1
    assert any(cause.parameter in evidence.name for evidence in top.parameters[:2])
    assert top.representative in top.failed
    # the parts behind the finding are the runs recall finds on that machine and window
    scope = ledger.recall_scope(machine="M-03", start=top.start, end=top.end)
    assert sorted(scope.serials) == sorted(top.serials)
    # the numbers add up
    assert found.failures == sum(w.failures for w in found.weekly) // 1
    assert found.groups_tested >= len(found.weekly)
    ledger.close()


def test_a_plant_without_a_cause_gives_no_finding(ledger_url: str) -> None:
    """A plant without a cause gives no finding."""
    ledger = recorded(ledger_url, plant(5, weeks=10, per_week=12))
    found = ledger.failure_patterns(part_number=PART_NUMBER)
    assert found.findings == ()
    assert found.parameter_findings == ()
    assert found.failures > 10 and found.in_service == found.units == 360
    ledger.close()


def test_as_of_an_earlier_moment_counts_the_failures_known_then(ledger_url: str) -> None:
    """As of an earlier moment counts the failures known then."""
    simulated = plant(8, weeks=6, per_week=8)
    ledger = recorded(ledger_url, simulated)
    now = ledger.failure_patterns(part_number=PART_NUMBER, by=("machine",))
    earlier = ledger.failure_patterns(part_number=PART_NUMBER, by=("machine",),
                                      as_of=simulated.now - timedelta(days=120),
                                      by_clock="occurred")
    assert earlier.failures < now.failures
    assert earlier.unit_hours < now.unit_hours
    with pytest.raises(UnknownSubject, match="no serial of part number 'NOPE'"):
        ledger.failure_patterns(part_number="NOPE")
    ledger.close()
