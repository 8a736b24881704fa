"""The service-life rule: when a part serves, how many hours, failed or censored."""

from __future__ import annotations

import pytest

from thread.domain.service_life import (
    DAY_NS,
    FieldRecord,
    UnitRecord,
    fleet_rate,
    service_life,
)

pytestmark = pytest.mark.unit

INSTALLED = FieldRecord("service.installed-at-site", 10 * DAY_NS)


def unit(own: tuple[FieldRecord, ...] = (), holder: tuple[FieldRecord, ...] = ()) -> UnitRecord:
    return UnitRecord(key="P-1", produced_ns=0, runs=(), values={}, own=own, holder=holder,
                      top="A-1" if holder else None)


def test_a_part_never_installed_is_not_at_risk() -> None:
    """A part never installed is not at risk."""
    assert service_life(unit(), 100 * DAY_NS, 10.0) is None


def test_a_failure_ends_service_with_the_hours_it_reports() -> None:
    """A failure ends service with the hours it reports."""
    failed = FieldRecord("service.failure-reported", 40 * DAY_NS, 300.0, "C-1", "spalling")
    life = service_life(unit((INSTALLED, failed)), 100 * DAY_NS, 10.0)
    assert life is not None
    assert (life.failed, life.hours, life.estimated, life.claim) == (True, 300.0, False, "C-1")


def test_a_running_part_is_censored_and_its_hours_carried_forward_at_its_own_rate() -> None:
    """A running part is censored and its hours carried forward at its own rate."""
    report = FieldRecord("service.performance-reported", 30 * DAY_NS, 400.0)
    life = service_life(unit((INSTALLED, report)), 50 * DAY_NS, 99.0)
    assert life is not None
    assert not life.failed
    assert life.estimated
    assert life.hours == pytest.approx(400.0 + 20 * 20.0)  # 400 h in 20 days: 20 h a day


def test_a_component_serves_with_its_assembly_and_leaves_service_when_it_fails() -> None:
    """A component serves with its assembly and leaves service when it fails."""
    holder = (INSTALLED, FieldRecord("service.performance-reported", 20 * DAY_NS, 100.0),
              FieldRecord("service.failure-reported", 30 * DAY_NS, 180.0, "C-9", "seal"))
    life = service_life(unit(holder=holder), 100 * DAY_NS, None)
    assert life is not None
    assert (life.failed, life.hours, life.end_ns) == (False, 180.0, 30 * DAY_NS)


def test_without_reports_the_fleet_rate_estimates_the_hours() -> None:
    """Without reports the fleet rate estimates the hours."""
    reporting = unit((INSTALLED, FieldRecord("service.performance-reported", 20 * DAY_NS,
                                             120.0)))
    silent = unit((INSTALLED,))
    fleet = fleet_rate([reporting, silent])
    assert fleet == pytest.approx(12.0)
    life = service_life(silent, 30 * DAY_NS, fleet)
    assert life is not None
    assert life.hours == pytest.approx(240.0)
    assert life.estimated
    assert service_life(silent, 30 * DAY_NS, None) is None


def test_a_component_failure_filed_after_the_assemblys_claim_is_a_failure() -> None:
    """The lab records the bearing's failure later, under the hub's claim: it failed then."""
    holder = (INSTALLED, FieldRecord("service.failure-reported", 30 * DAY_NS, 180.0, "C-9",
                                     "noise"))
    own = (FieldRecord("service.failure-reported", 44 * DAY_NS, 180.0, "C-9", "spalling"),)
    life = service_life(unit(own, holder), 100 * DAY_NS, None)
    assert life is not None
    assert (life.failed, life.hours, life.end_ns, life.claim) == (True, 180.0, 30 * DAY_NS,
                                                                  "C-9")


def test_a_failure_at_the_data_cut_off_counts() -> None:
    """The cut-off is the latest failure's own moment, to the nanosecond: it is counted."""
    from datetime import UTC, datetime

    from thread.analytics.patterns import failure_patterns

    # a moment whose float timestamp in nanoseconds falls below the exact one
    failed_at = datetime(2030, 3, 1, 12, 0, 0, 123451, tzinfo=UTC)
    at_ns = int(failed_at.timestamp()) * 10**9 + failed_at.microsecond * 1000
    record = UnitRecord(key="P-1", produced_ns=0, runs=(), values={}, own=(
        INSTALLED, FieldRecord("service.failure-reported", at_ns, 50.0, "C-1", "crack")))
    assert failure_patterns([record], part_number="P", now=failed_at).failures == 1
