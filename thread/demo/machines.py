"""The grinders' own stream: their condition shift by shift, the alarms they raise, and the
maintenance that finds and replaces GR-02's failing spindle bearing.

A healthy spindle vibrates at its grinder's baseline. From RISE, NOISY's spindle bearing
fails: its vibration steps up and climbs (``vibration``) until the bearing is replaced at
REPAIR, crossing the alarm limit in more and more shifts. Any grinder now and then has a
short spike above the limit (a wheel dressing, a coolant hiccup) that harms nothing: the
parts of that shift are held and released all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from thread.demo.catalogue import GRINDERS, NOISY, REPAIR, RISE, VIBRATION_LIMIT
from thread.demo.journal import Journal
from thread.demo.shifts import SHIFT, shift_number, shift_start
from thread.domain import facts as f

Severity = Literal["info", "warning", "fault"]

#: Spindle vibration of each grinder with a healthy spindle, mm/s RMS.
BASELINE = {"GR-01": 1.5, "GR-02": 1.7, "GR-03": 1.9}
#: How far NOISY's vibration steps up at RISE, and how much more it climbs by REPAIR, mm/s.
STEP, CLIMB = 0.6, 2.0
#: Share of shifts with a harmless spike above the limit.
SPIKES = 0.02
#: The vibration analysis that finds NOISY's failing spindle bearing, and its repair:
#: kind, when, work order, what was done.
MAINTENANCE: tuple[tuple[Literal["predictive", "corrective"], datetime, str, str], ...] = (
    ("predictive", REPAIR - timedelta(days=8, hours=6), "MWO-26-0412",
     "spindle vibration trend reviewed after repeated VIB-HIGH alarms: defect frequency of "
     f"the spindle's rear bearing; replacement planned for {REPAIR:%d %B}"),
    ("corrective", REPAIR, "MWO-26-0419",
     "spindle bearing replaced (rear angular-contact pair); run-in vibration back to "
     f"{BASELINE[NOISY]} mm/s"),
)


def wear(machine: str, at: datetime) -> float | None:
    """How far ``machine``'s failing spindle bearing had gone at ``at``, from 0 at RISE to 1
    at REPAIR; None while its spindle is healthy."""
    if machine != NOISY or not RISE <= at < REPAIR:
        return None
    return (at - RISE) / (REPAIR - RISE)


def vibration(machine: str, at: datetime) -> float:
    """The spindle vibration level of ``machine`` at ``at``, mm/s RMS."""
    worn = wear(machine, at)
    return BASELINE[machine] + (0.0 if worn is None else STEP + CLIMB * worn ** 1.3)


@dataclass(frozen=True)
class Window:
    """A grinder's spindle vibration over one shift, decided before any part is made in it."""

    machine: str
    index: int  # the shift's number
    start: datetime
    end: datetime
    low: float
    mean: float
    peak: float

    @property
    def exceeded(self) -> bool:
        """The vibration passed the alarm limit in this shift."""
        return self.peak > VIBRATION_LIMIT

    @property
    def hold(self) -> str:
        """The quarantine reference for parts ground in this shift."""
        return f"QH-{self.machine}-{self.start:%y%m%d}-{self.index % 2 + 1}"


class Grinders:
    """The grinders' shifts, and how far their condition blocks are recorded."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.windows: dict[tuple[str, int], Window] = {}
        self.emitted = dict.fromkeys(GRINDERS, -1)
        self.maintained: set[str] = set()

    def window(self, machine: str, at: datetime) -> Window:
        """The shift of ``machine`` that ``at`` falls in, the same whenever it is asked for."""
        return self.shift(machine, shift_number(at))

    def shift(self, machine: str, index: int) -> Window:
        """Shift ``index`` of ``machine``."""
        key = (machine, index)
        if key not in self.windows:
            rng = self.journal.rng("window", machine, index)
            start = shift_start(index)
            mean = vibration(machine, start + SHIFT / 2) + rng.gauss(0.0, 0.08)
            low = mean - rng.uniform(0.5, 0.9)
            if wear(machine, start) is not None:
                peak = mean + rng.uniform(1.0, 2.2)
            elif rng.random() < SPIKES:
                peak = VIBRATION_LIMIT + rng.uniform(0.2, 1.2)
            else:
                peak = mean + rng.uniform(0.8, 1.8)
            self.windows[key] = Window(machine, index, start, start + SHIFT, round(low, 2),
                                       round(mean, 2), round(peak, 2))
        return self.windows[key]

    def record_until(self, until: datetime) -> None:
        """Every grinder's condition blocks up to the shift of ``until`` not recorded yet,
        and the spindle repair once production has passed it."""
        last = shift_number(until)
        for machine in GRINDERS:
            for index in range(self.emitted[machine] + 1, last + 1):
                self.condition(self.shift(machine, index))
            self.emitted[machine] = max(self.emitted[machine], last)
        self.maintenance(until)

    def condition(self, window: Window) -> None:
        """A grinder's condition block for one shift, with the alarms it raised."""
        rng = self.journal.rng("condition", window.machine, window.index)
        alarms: list[tuple[str, str, Severity]] = []
        if window.exceeded:
            alarms.append(("VIB-HIGH", f"spindle vibration above {VIBRATION_LIMIT} mm/s",
                           "warning"))
        if rng.random() < 0.04:
            alarms.append(("COOLANT-LVL", "coolant tank level low", "info"))
        spindle, coolant = rng.uniform(29.0, 33.0), rng.uniform(20.2, 21.0)
        samples = int(SHIFT.total_seconds())
        worn = wear(window.machine, window.start)
        self.journal.counts["windows"] += 1
        self.journal.add(f.ConditionRecorded(
            machine=window.machine, window_start=window.start, window_end=window.end,
            metrics=(
                f.ConditionMetric(name="spindle_vibration", unit="mm/s", n=samples,
                                  min=window.low, max=window.peak, mean=window.mean,
                                  threshold=VIBRATION_LIMIT),
                f.ConditionMetric(name="spindle_temperature", unit="Cel", n=samples,
                                  min=round(spindle - 1.5, 1), max=round(spindle + 1.5, 1),
                                  mean=round(spindle, 1), threshold=45.0),
                f.ConditionMetric(name="coolant_temperature", unit="Cel", n=samples,
                                  min=round(coolant - 0.6, 1), max=round(coolant + 0.6, 1),
                                  mean=round(coolant, 1), threshold=24.0),
            ),
            alarms_active=tuple(code for code, _, _ in alarms),
            availability=round(rng.uniform(0.78, 0.88) if window.exceeded
                               else rng.uniform(0.86, 0.97), 3),
            performance=round(rng.uniform(0.90, 0.98), 3),
            quality=round(rng.uniform(0.85, 0.93) if worn is not None and worn > 0.5
                          else rng.uniform(0.97, 1.0), 3),
        ), window.end, window.machine, tag=str(window.index))
        for code, text, severity in alarms:
            raised = window.start + timedelta(seconds=rng.randint(60, 27000))
            self.journal.counts["alarms"] += 1
            self.journal.add(f.AlarmRaised(
                machine=window.machine, code=code, text=text,
                severity=severity,
                raised_at=raised, cleared_at=raised + timedelta(seconds=rng.randint(120, 600)),
            ), raised, window.machine, tag=f"{window.index}/{code}")

    def maintenance(self, until: datetime) -> None:
        """The maintenance on NOISY's spindle done by ``until`` and not recorded yet."""
        for kind, at, order, text in MAINTENANCE:
            if at <= until and order not in self.maintained:
                self.maintained.add(order)
                self.journal.counts["maintenance"] += 1
                self.journal.add(f.MachineMaintenancePerformed(
                    machine=NOISY, kind=kind, work_order=order, description=text,
                    technician="Lars Becker (maintenance)",
                ), at, "maintenance", tag=order)
