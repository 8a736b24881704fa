"""The grinders' own stream: their condition window by window, and the alarms they raise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from thread.demo.catalogue import GRINDERS, NOISY, START, VIBRATION_LIMIT, WINDOW
from thread.demo.journal import Journal
from thread.domain import facts as f

Severity = Literal["info", "warning", "fault"]


@dataclass(frozen=True)
class Window:
    """A grinder's condition over one window, decided before any part is made in it."""

    machine: str
    index: int
    start: datetime
    end: datetime
    exceeded: bool

    @property
    def hold(self) -> str:
        """The quarantine reference for parts ground in this window."""
        return f"QH-{self.machine}-{self.index:04d}"


def window_index(at: datetime) -> int:
    """The number of the condition window ``at`` falls in."""
    return int((at - START) / WINDOW)


class Grinders:
    """The grinders' condition windows, and how far their condition blocks are recorded."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.windows: dict[tuple[str, int], Window] = {}
        self.emitted = dict.fromkeys(GRINDERS, -1)

    def window(self, machine: str, index: int) -> Window:
        """A grinder's condition window, the same whenever it is asked for."""
        key = (machine, index)
        if key not in self.windows:
            start = START + index * WINDOW
            exceeded = (machine == NOISY
                        and self.journal.rng("window", machine, index).random() < 0.25)
            self.windows[key] = Window(machine, index, start, start + WINDOW, exceeded)
        return self.windows[key]

    def record_until(self, until: datetime) -> None:
        """Every grinder's condition blocks up to the window of ``until`` not recorded yet."""
        last = window_index(until)
        for machine in GRINDERS:
            for index in range(self.emitted[machine] + 1, last + 1):
                self.condition(self.window(machine, index))
            self.emitted[machine] = max(self.emitted[machine], last)

    def condition(self, window: Window) -> None:
        """A grinder's condition block for one window, with the alarms it raised."""
        rng = self.journal.rng("condition", window.machine, window.index)
        alarms: list[tuple[str, str, Severity]] = []
        if window.exceeded:
            vibration = rng.uniform(2.8, 3.4)
            peak = VIBRATION_LIMIT + rng.uniform(0.2, 1.5)
            alarms.append(("VIB-HIGH", f"spindle vibration above {VIBRATION_LIMIT} mm/s",
                           "warning"))
        else:
            vibration = rng.uniform(1.3, 1.9)
            peak = vibration + rng.uniform(0.8, 1.8)
        if rng.random() < 0.04:
            alarms.append(("COOLANT-LVL", "coolant tank level low", "info"))
        spindle, coolant = rng.uniform(29.0, 33.0), rng.uniform(20.2, 21.0)
        samples = int(WINDOW.total_seconds())
        self.journal.counts["windows"] += 1
        self.journal.add(f.ConditionRecorded(
            machine=window.machine, window_start=window.start, window_end=window.end,
            metrics=(
                f.ConditionMetric(name="spindle_vibration", unit="mm/s", n=samples,
                                  min=round(vibration - rng.uniform(0.5, 0.9), 2),
                                  max=round(peak, 2), mean=round(vibration, 2),
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
            quality=round(rng.uniform(0.85, 0.93) if window.exceeded
                          else rng.uniform(0.97, 1.0), 3),
        ), window.end, window.machine, tag=str(window.index))
        for code, text, severity in alarms:
            raised = window.start + timedelta(seconds=rng.randint(60, 1500))
            self.journal.counts["alarms"] += 1
            self.journal.add(f.AlarmRaised(
                machine=window.machine, code=code, text=text,
                severity=severity,
                raised_at=raised, cleared_at=raised + timedelta(seconds=rng.randint(120, 600)),
            ), raised, window.machine, tag=f"{window.index}/{code}")
