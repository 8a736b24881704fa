"""A plant for testing failure investigations: machines, weeks of production, field life, and
optionally one injected cause (a machine, a window of weeks and a parameter that moved there).

Parts are made on several machines over some weeks; each records its process
parameters, each machine its daily condition. Parts are installed in the field,
report their operating hours monthly and fail at a background Weibull rate, the
same on every machine. With a :class:`Cause`, the parts one machine made in a
window of weeks carry a shifted value of one recorded parameter (a process
parameter of the part, or a condition metric of the machine) and fail ``factor``
times as fast. Deterministic per seed. Used by the tests and the investigation
benchmark to check that a cause is found wherever it is injected, and that
plants without one give no finding.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from thread.domain import facts as f
from thread.domain.facts.base import Fact

PART_NUMBER = "SHAFT-100"
START = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)  # a Monday
#: Process parameters of each part: name -> (unit, mean, sd).
PROCESS = {"feed_rate": ("mm/min", 120.0, 4.0), "spindle_speed": ("rpm", 3000.0, 40.0),
           "coolant_temperature": ("Cel", 21.0, 0.5)}
#: Condition metrics of each machine day: name -> (unit, mean, sd, threshold).
CONDITION = {"spindle_vibration": ("mm/s", 1.5, 0.15, 4.5),
             "spindle_temperature": ("Cel", 31.0, 0.8, 45.0)}
#: Background life of every part: Weibull shape and scale in operating hours.
SHAPE, SCALE = 1.3, 15_000.0


@dataclass(frozen=True)
class Cause:
    """What went wrong: ``machine`` in weeks ``first_week..last_week`` (from 0) moved
    ``parameter`` (a key of PROCESS or CONDITION) by ``shift`` of its sd, and the parts it
    made then fail ``factor`` times as fast."""

    machine: str
    first_week: int
    last_week: int
    parameter: str
    shift: float = 4.0
    factor: float = 8.0

    def holds(self, machine: str, week: int) -> bool:
        """Whether a part made on ``machine`` in ``week`` is affected."""
        return machine == self.machine and self.first_week <= week <= self.last_week


@dataclass(frozen=True)
class Plant:
    """The simulated facts (each with the time it happened) and when the field data ends."""

    facts: tuple[tuple[Fact, datetime], ...]
    machines: tuple[str, ...]
    weeks: int
    now: datetime
    cause: Cause | None


def plant(seed: int, *, machines: int = 3, weeks: int = 12, per_week: int = 15,
          cause: Cause | None = None, field_days: int = 240) -> Plant:
    """A plant of ``machines`` x ``weeks`` x ``per_week`` parts, with ``cause`` if given."""
    rng = random.Random(f"reliability/{seed}")
    names = tuple(f"M-{index + 1:02d}" for index in range(machines))
    made: list[tuple[Fact, datetime]] = [
        (f.RevisionReleased(part_number=PART_NUMBER, revision="A", part_name="Drive shaft",
                            drawing="DWG-SHAFT-100"), START - timedelta(days=30)),
        *((f.MachineRegistered(machine=name, name=f"machine {name}", kind="lathe"),
           START - timedelta(days=1)) for name in names)]
    now = START + timedelta(weeks=weeks, days=field_days)
    for machine in names:
        for day in range(weeks * 7):
            at = START + timedelta(days=day)
            week = day // 7
            metrics = []
            for name, (unit, mean, sd, threshold) in CONDITION.items():
                value = rng.gauss(mean, sd)
                if cause is not None and cause.parameter == name and cause.holds(machine, week):
                    value += cause.shift * sd
                metrics.append(f.ConditionMetric(
                    name=name, unit=unit, n=600, min=round(value - 2 * sd, 3),
                    max=round(value + 2 * sd, 3), mean=round(value, 3), threshold=threshold))
            made.append((f.ConditionRecorded(machine=machine, window_start=at,
                                             window_end=at + timedelta(days=1),
                                             metrics=tuple(metrics)), at + timedelta(days=1)))
    serial = 0
    for week in range(weeks):
        for machine in names:
            for _ in range(per_week):
                serial += 1
                made.extend(_part(rng, f"SH-{serial:06d}", machine, week, cause, now))
    made.sort(key=lambda item: item[1])
    return Plant(facts=tuple(made), machines=names, weeks=weeks, now=now, cause=cause)


def _part(rng: random.Random, serial: str, machine: str, week: int, cause: Cause | None,
          now: datetime) -> list[tuple[Fact, datetime]]:
    """One part: made, measured, installed, reporting hours, perhaps failing."""
    affected = cause is not None and cause.holds(machine, week)
    started = START + timedelta(weeks=week, days=rng.randrange(5), hours=rng.uniform(0, 16))
    ended = started + timedelta(minutes=20)
    parameters = []
    for name, (unit, mean, sd) in PROCESS.items():
        value = rng.gauss(mean, sd)
        if affected and cause is not None and cause.parameter == name:
            value += cause.shift * sd
        parameters.append(f.ParameterSummary(name=name, unit=unit, n=50,
                                             min=round(value - sd, 3), max=round(value + sd, 3),
                                             mean=round(value, 3), sd=round(sd / 2, 3)))
    facts: list[tuple[Fact, datetime]] = [
        (f.PartRegistered(serial=serial, part_number=PART_NUMBER, revision="A"), started),
        (f.OperationPerformed(serial=serial, operation="turn", station=f"{machine}-S1",
                              machine=machine, operator="op-1", started_at=started,
                              ended_at=ended, cycle_time_s=1200.0), ended),
        (f.ProcessRecorded(serial=serial, operation="turn", machine=machine,
                           started_at=started, ended_at=ended, parameters=tuple(parameters)),
         ended),
    ]
    shipped = ended + timedelta(days=rng.uniform(1, 3))
    installed = shipped + timedelta(days=rng.uniform(2, 9))
    facts.append((f.Shipped(serial=serial, customer="Fleet Operator", order=f"SO-{week:03d}"),
                  shipped))
    facts.append((f.InstalledAtSite(serial=serial, site="fleet"), installed))
    per_day = rng.uniform(8, 16)
    scale = SCALE / (cause.factor ** (1 / SHAPE) if affected and cause is not None else 1.0)
    life_hours = rng.weibullvariate(scale, SHAPE)
    failed_at = installed + timedelta(days=life_hours / per_day)
    report = installed + timedelta(days=30)
    while report < min(failed_at, now):
        hours = (report - installed).total_seconds() / 86_400 * per_day
        facts.append((f.FieldPerformanceReported(serial=serial, operating_hours=round(hours, 1)),
                      report))
        report += timedelta(days=30)
    if failed_at <= now:
        facts.append((f.FailureReported(serial=serial, claim=f"CL-{serial}",
                                        failure_mode="fracture",
                                        operating_hours=round(life_hours, 1)), failed_at))
    return facts
