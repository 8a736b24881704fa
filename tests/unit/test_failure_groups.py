"""How failure patterns group parts: a part reworked on the machine counts once, every span of
weeks is tested, and the numbers of a finding add up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from thread.analytics.patterns import failure_patterns
from thread.domain.service_life import DAY_NS, FieldRecord, Run, UnitRecord

pytestmark = pytest.mark.unit

MONDAY = int(datetime(2030, 1, 7, tzinfo=UTC).timestamp()) * 10**9
WEEK = 7 * DAY_NS


def part(key: str, machine: str, week: int, failed: bool, *, rework_week: int | None = None
         ) -> UnitRecord:
    made = MONDAY + week * WEEK + DAY_NS
    runs = [Run(machine, "grind", made, made + 3600 * 10**9)]
    if rework_week is not None:
        again = MONDAY + rework_week * WEEK + DAY_NS
        runs.append(Run(machine, "grind", again, again + 3600 * 10**9))
    installed = made + 20 * DAY_NS
    own = [FieldRecord("service.installed-at-site", installed)]
    if failed:
        own.append(FieldRecord("service.failure-reported", installed + 50 * DAY_NS, 500.0,
                               f"C-{key}", "spalling"))
    else:
        own.append(FieldRecord("service.performance-reported", installed + 200 * DAY_NS, 2000.0))
    return UnitRecord(key=key, produced_ns=made, runs=tuple(runs), values={"x": float(week)},
                      own=tuple(own))


def plant() -> list[UnitRecord]:
    units = []
    for week in range(6):
        for machine in ("A", "B", "C"):
            for n in range(12):
                bad = machine == "B" and week in (2, 3)
                units.append(part(f"{machine}{week}-{n}", machine, week,
                                  failed=(n < 8) if bad else (n == 0 and week % 2 == 0),
                                  rework_week=week + 1 if bad and n == 0 else None))
    return units


def test_a_reworked_part_counts_once_and_a_finding_adds_up() -> None:
    """A part run twice on the machine (weeks 2 and 3) is one part of the window, once."""
    units = plant()
    found = failure_patterns(units, part_number="P", by=("machine",),
                             now=datetime(2031, 1, 1, tzinfo=UTC))
    top = found.findings[0]
    assert (top.machine, top.units, top.failures) == ("B", 24, 16)
    assert len(top.serials) == len(set(top.serials)) == 24
    assert top.start == datetime(2030, 1, 21, tzinfo=UTC)
    assert top.end == datetime(2030, 2, 4, tzinfo=UTC)
    assert top.failures + top.rest_failures == found.failures
    assert top.unit_hours + top.rest_unit_hours == pytest.approx(found.unit_hours)
    # the two reworked parts (both failed) show in both their weeks
    assert sum(w.failures for w in found.weekly) == found.failures + 2
    # three machines, weeks 0-5 (B's rework reaches week 4): every span of up to 8 weeks
    assert found.groups_tested == 21 + 21 + 21


def test_the_finding_and_its_evidence_do_not_depend_on_the_order_of_parts() -> None:
    """Shuffling the parts changes neither the findings nor their digests."""
    units = plant()
    now = datetime(2031, 1, 1, tzinfo=UTC)
    one = failure_patterns(units, part_number="P", now=now)
    other = failure_patterns(list(reversed(units)), part_number="P", now=now)
    assert [f.evidence_digest for f in one.findings] != []
    assert {f.id for f in one.findings} == {f.id for f in other.findings}
