"""Drive units after the line: shipped by order, installed, reporting, and some failing.

A unit's field story is planned from its own generator and the machine
health its detail parts were ground in, without making the unit again, so a
resumed run can plan the field events of units it skips. The events are
written when their time comes: by the chunk of production that covers
their moment, or at the end of a run for those still in the future.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from plant.catalogue import CUSTOMERS, LAYOUT, LEVELS, START, UNIT_STEP, UNITS_PER_ORDER, serial
from plant.health import Health
from plant.journal import Entry, Journal
from plant.production import GRIND_AFTER, grind_machine, leaf_start
from thread import facts as f

_TOP = LAYOUT[-1]
_LEAVES = tuple(slot for slot in LAYOUT if slot.level == LEVELS)
_FAILURE_MODES = (
    ("gearbox bearing noise", "output shaft bearing BRG-6208 raceway spalling"),
    ("gear whine under load", "output gear GWH-232 tooth flank pitting"),
    ("oil leak at output seal", "seal carrier SLC-152 wear ring scored"),
    ("motor bearing noise", "rotor bearing BRG-6206 raceway indentation"),
)


@dataclass(frozen=True)
class FieldPlan:
    """What happens to one drive unit after the plant, decided when it is planned."""

    unit: int
    serial: str
    order: int
    customer: int
    shipped: datetime
    installed: datetime
    equipment: str
    hours_per_day: float
    reports: tuple[int, ...]  # days after installation
    failure: tuple[datetime, float, int] | None  # when, operating hours, failure mode
    analysed: datetime | None

    def moments(self) -> list[tuple[datetime, int]]:
        """(when, step) of each field event; steps 0 ship, 1 install, 2.. reports, -1/-2."""
        found = [(self.shipped, 0), (self.installed, 1)]
        found += [(self.installed + timedelta(days=days), 2 + i)
                  for i, days in enumerate(self.reports)]
        if self.failure is not None:
            found.append((self.failure[0], -1))
        if self.analysed is not None:
            found.append((self.analysed, -2))
        return found


def plan(journal: Journal, health: Health, unit: int) -> FieldPlan:
    """The field story of drive unit ``unit``."""
    rng = journal.rng("field", unit)
    order = unit // UNITS_PER_ORDER
    chooser = journal.rng("order", order)
    weights = [customer.weight for customer in CUSTOMERS]
    customer = chooser.choices(range(len(CUSTOMERS)), weights=weights)[0]
    last = (order + 1) * UNITS_PER_ORDER - 1
    done = START + last * UNIT_STEP + timedelta(hours=15, minutes=30)
    shipped = (done + timedelta(days=1)).replace(hour=14, minute=0, second=0, microsecond=0)
    installed = shipped + timedelta(days=rng.randint(5, 20), hours=rng.randint(0, 9))
    vibrated = any(
        health.state(grind_machine(unit, slot.ordinal),
                     leaf_start(unit, slot.ordinal) + GRIND_AFTER)[0]
        for slot in _LEAVES
    )
    hours_per_day = rng.uniform(6.0, 16.0)
    failure: tuple[datetime, float, int] | None = None
    analysed = None
    if rng.random() < (0.12 if vibrated else 0.01):
        hours = rng.uniform(80.0, 3000.0)
        failure = (installed + timedelta(days=hours / hours_per_day, hours=rng.randint(0, 8)),
                   round(hours, 1), rng.randrange(len(_FAILURE_MODES)))
        if rng.random() < 0.6:
            analysed = failure[0] + timedelta(days=rng.randint(21, 40))
    reports: list[int] = []
    if rng.random() < 0.45:
        for days in (30, 90, 180):
            if failure is not None and installed + timedelta(days=days) >= failure[0]:
                break
            reports.append(days)
    return FieldPlan(unit, serial(_TOP, unit), order, customer, shipped, installed,
                     f"{CUSTOMERS[customer].fleet}-{rng.randint(10000, 99999)}", hours_per_day,
                     tuple(reports), failure, analysed)


def field_fact(journal: Journal, plan: FieldPlan, step: int, at: datetime) -> Entry:
    """The fact of one step of a unit's field story."""
    number = plan.serial
    customer = CUSTOMERS[plan.customer]
    rng = journal.rng("field", plan.unit, step)
    fact: f.Fact
    if step == 0:
        fact, actor, tag = f.Shipped(
            serial=number, customer=customer.name, order=f"SO-{plan.order + 1:06d}",
            destination=customer.destination, carrier=customer.carrier,
            tracking=f"{customer.fleet}{plan.order + 1:07d}",
        ), "shipping", "shipped"
    elif step == 1:
        fact, actor, tag = f.InstalledAtSite(
            serial=number, site=customer.site, equipment=plan.equipment,
            installer=f"{customer.fleet} line fitter",
        ), "field-service", "installed"
    elif step >= 2:
        days = plan.reports[step - 2]
        fact, actor, tag = f.FieldPerformanceReported(
            serial=number, operating_hours=round(days * plan.hours_per_day, 1), readings=(
                f.Reading(name="oil_temperature", value=round(rng.gauss(68.0, 4.0), 1),
                          unit="Cel"),
                f.Reading(name="vibration", value=round(rng.gauss(1.4, 0.2), 2), unit="mm/s"),
                f.Reading(name="efficiency", value=round(rng.gauss(93.8, 0.5), 2), unit="%"),
            ),
        ), "telematics", f"report/{days}"
    else:
        assert plan.failure is not None
        _, hours, mode = plan.failure
        symptom, cause = _FAILURE_MODES[mode]
        claim = f"WC-{plan.unit + 1:07d}"
        if step == -1:
            fact, actor, tag = f.FailureReported(
                serial=number, claim=claim, failure_mode=symptom, operating_hours=hours,
                description=f"reported by {customer.name} on {plan.equipment}",
            ), "warranty", "failure"
        else:
            fact, actor, tag = f.FailureAnalysisRecorded(
                serial=number, claim=claim, method="teardown and metallography",
                root_cause=cause, conclusion="manufacturing-related; see machine history of "
                                             "the detail parts",
            ), "warranty", "analysis"
    return Entry(fact, at, actor, f"{journal.seed}/{number}/{tag}", None)


class FieldQueue:
    """Field events planned but not yet due, in time order."""

    def __init__(self, journal: Journal, health: Health) -> None:
        self.journal = journal
        self.health = health
        self._heap: list[tuple[datetime, int, int]] = []
        self._plans: dict[int, FieldPlan] = {}
        self._left: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._heap)

    def plan(self, unit: int) -> FieldPlan:
        """Plan unit ``unit``'s field story and queue its events."""
        planned = plan(self.journal, self.health, unit)
        moments = planned.moments()
        self._plans[unit] = planned
        self._left[unit] = len(moments)
        for at, step in moments:
            heapq.heappush(self._heap, (at, unit, step))
        return planned

    def due(self, until: datetime | None) -> list[Entry]:
        """The queued events before ``until`` (all of them when None), oldest first."""
        found: list[Entry] = []
        heap = self._heap
        while heap and (until is None or heap[0][0] < until):
            at, unit, step = heapq.heappop(heap)
            found.append(field_fact(self.journal, self._plans[unit], step, at))
            self._left[unit] -= 1
            if not self._left[unit]:
                del self._left[unit], self._plans[unit]
        return found

    def drop(self, until: datetime) -> None:
        """Forget the queued events before ``until`` (a run before this one wrote them)."""
        heap = self._heap
        while heap and heap[0][0] < until:
            _, unit, _ = heapq.heappop(heap)
            self._left[unit] -= 1
            if not self._left[unit]:
                del self._left[unit], self._plans[unit]
