"""A cause can be any machine, any window and any recorded parameter: each drawn at random is
found first, with the parameter that moved at the top of its evidence; plants without a cause
give no finding."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

import thread
from thread.analytics.patterns import FailurePatterns
from thread.demo.reliability import CONDITION, PART_NUMBER, PROCESS, START, Cause, Plant, plant

pytestmark = pytest.mark.integration


def investigate(path: Path, simulated: Plant) -> FailurePatterns:
    ledger = thread.open(str(path), clock=lambda: simulated.now, actor="tester")
    with ledger.batch(actor="simulation", source="reliability") as batch:
        for index, (fact, at) in enumerate(simulated.facts):
            batch.record(fact, occurred_at=at, source_record_id=str(index))
    try:
        return ledger.failure_patterns(part_number=PART_NUMBER)
    finally:
        ledger.close()


@pytest.mark.parametrize("seed", [101, 202, 303, 404])
def test_a_cause_drawn_at_random_is_found_first(tmp_path: Path, seed: int) -> None:
    """A cause drawn at random is found first."""
    draw = random.Random(seed)
    first = draw.randrange(0, 9)
    cause = Cause(machine=f"M-{draw.randrange(1, 5):02d}", first_week=first,
                  last_week=first + draw.randrange(1, 3),
                  parameter=draw.choice(sorted({*PROCESS, *CONDITION})))
    found = investigate(tmp_path / "plant.db",
                        plant(seed, machines=4, weeks=11, per_week=12, cause=cause))
    top = found.findings[0]
    assert top.machine == cause.machine, (cause, top.id)
    assert top.start is not None and top.end is not None
    assert top.start < START + timedelta(weeks=cause.last_week + 1), (cause, top.id)
    assert top.end > START + timedelta(weeks=cause.first_week), (cause, top.id)
    leading = [evidence.name for evidence in top.parameters[:3]]
    assert any(cause.parameter in name for name in leading), (cause, leading)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_plants_without_a_cause_give_no_finding(tmp_path: Path, seed: int) -> None:
    """Plants without a cause give no finding."""
    found = investigate(tmp_path / "plant.db", plant(seed, machines=4, weeks=11, per_week=12))
    assert (found.findings, found.parameter_findings) == ((), ())
