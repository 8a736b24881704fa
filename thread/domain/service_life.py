"""How long a part has been in service: its exposure in operating hours, failed or still running.

One rule, used by every reliability view (failure patterns, the warranty chart,
Weibull fits, the effectiveness check of a corrective action):

- **Service starts** at the part's installation in the field, or at that of the
  top assembly it is built into (a bearing in a wheel hub serves while the hub
  does). A part that was never installed (nor shipped, for one that failed) is
  not at risk and has no service life.
- **A failure** is a ``FailureReported`` on the part itself: a claim on an
  assembly counts against the component when the failure analysis attributes it
  to that component and records the failure on it.
- **Service ends** at the part's failure, at the failure of the assembly that
  holds it (the part leaves service with it: right-censored there, unless the
  part's own failure names the same claim: then the part failed with it), or at
  the moment of the question (still running: right-censored).
- **Operating hours** at the end are the hours reported then (a failure report
  that gives them), otherwise the latest hours reported before it (by the part or
  its assembly: field performance reports, maintenance, failures) carried forward
  at the part's own usage rate, or at the fleet's when it never reported: such
  hours are marked *estimated*.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import median
from typing import NamedTuple

#: Nanoseconds in a day.
DAY_NS = 86_400 * 10**9

_INSTALLED = "service.installed-at-site"
_SHIPPED = "service.shipped"
_FAILED = "service.failure-reported"


class FieldRecord(NamedTuple):
    """One service fact of a part or of the assembly that holds it."""

    topic: str
    occurred_ns: int
    hours: float | None = None
    claim: str | None = None
    detail: str | None = None


class Run(NamedTuple):
    """An operation that made the part on a machine, over ``[started_ns, ended_ns)``."""

    machine: str
    operation: str
    started_ns: int
    ended_ns: int


class UnitRecord(NamedTuple):
    """What a reliability question needs of one serial: how and when it was made, the
    values recorded while it was made, and its service facts (own and its top assembly's)."""

    key: str
    produced_ns: int
    runs: tuple[Run, ...]
    values: dict[str, float]
    own: tuple[FieldRecord, ...]
    holder: tuple[FieldRecord, ...] = ()
    top: str | None = None


class ServiceLife(NamedTuple):
    """A part's time in service under the rule above."""

    installed_ns: int
    end_ns: int
    hours: float
    failed: bool
    estimated: bool
    claim: str | None = None
    failure_mode: str | None = None


def usage_rate(unit: UnitRecord) -> float | None:
    """Operating hours per day of service, from the latest report of hours (None: none)."""
    start = _start(unit)
    if start is None:
        return None
    reports = [r for r in (*unit.own, *unit.holder)
               if r.hours is not None and r.occurred_ns > start]
    if not reports:
        return None
    latest = max(reports, key=lambda r: r.occurred_ns)
    assert latest.hours is not None
    return latest.hours / ((latest.occurred_ns - start) / DAY_NS)


def fleet_rate(units: Iterable[UnitRecord]) -> float | None:
    """The median usage rate of the parts that reported hours (None: none did)."""
    rates = [rate for unit in units if (rate := usage_rate(unit)) is not None]
    return median(rates) if rates else None


def service_life(unit: UnitRecord, now_ns: int, fleet: float | None) -> ServiceLife | None:
    """The part's service life as of ``now_ns`` (None: never in service, or its hours cannot
    be known because nothing in the fleet reports them)."""
    start = _start(unit)
    if start is None or start > now_ns:
        return None
    own_failure = _first(r for r in unit.own if r.topic == _FAILED and r.occurred_ns >= start)
    holder_failure = _first(r for r in unit.holder
                            if r.topic == _FAILED and r.occurred_ns >= start)
    end, failed, ending = now_ns, False, None
    if own_failure is not None and own_failure.occurred_ns <= now_ns:
        end, failed, ending = own_failure.occurred_ns, True, own_failure
    if holder_failure is not None and holder_failure.occurred_ns < end:
        # A failure lab records the component's failure after the assembly's claim, under
        # the same claim: the component failed when the assembly did; it was not censored.
        attributed = (failed and own_failure is not None and own_failure.claim is not None
                      and own_failure.claim == holder_failure.claim)
        end, failed, ending = holder_failure.occurred_ns, attributed, holder_failure
    if ending is not None and ending.hours is not None:
        hours, estimated = ending.hours, False
    else:
        carried = _carried(unit, start, end, fleet)
        if carried is None:
            return None
        hours, estimated = carried
    return ServiceLife(start, end, hours, failed, estimated,
                       own_failure.claim if failed and own_failure else None,
                       own_failure.detail if failed and own_failure else None)


def months_in_service(life: ServiceLife) -> float:
    """Calendar months (of 30.44 days) from installation to the end of service."""
    return (life.end_ns - life.installed_ns) / DAY_NS / 30.44


def _start(unit: UnitRecord) -> int | None:
    records = (*unit.own, *unit.holder)
    installed = _first(r for r in records if r.topic == _INSTALLED)
    if installed is not None:
        return installed.occurred_ns
    if any(r.topic == _FAILED for r in unit.own):
        shipped = _first(r for r in records if r.topic == _SHIPPED)
        return None if shipped is None else shipped.occurred_ns
    return None


def _carried(unit: UnitRecord, start: int, end: int, fleet: float | None
             ) -> tuple[float, bool] | None:
    """Hours at ``end``: the latest report before it, carried forward at the usage rate."""
    reports = [r for r in (*unit.own, *unit.holder)
               if r.hours is not None and start < r.occurred_ns <= end]
    rate = usage_rate(unit)
    if rate is None:
        rate = fleet
    if not reports:
        if rate is None:
            return None
        return rate * (end - start) / DAY_NS, True
    latest = max(reports, key=lambda r: r.occurred_ns)
    assert latest.hours is not None
    if latest.occurred_ns == end or rate is None:
        return latest.hours, latest.occurred_ns != end
    return latest.hours + rate * (end - latest.occurred_ns) / DAY_NS, True


def _first(records: Iterable[FieldRecord]) -> FieldRecord | None:
    found: Sequence[FieldRecord] = sorted(records, key=lambda r: r.occurred_ns)
    return found[0] if found else None
