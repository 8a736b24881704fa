"""Machine health over time: vibration and coolant episodes, condition blocks and alarms.

A machine's health on a given day is drawn from its own generator (seed,
machine, day), so asking about any moment never depends on what was asked
before: the part generator, the condition blocks and the probe picker all
see the same episodes. Grinder 2's spindle bearing is wearing, so it vibrates
more often than the others, and its coolant chiller trips every four weeks
(a scripted incident on day 2 of each cycle) with the spindle heating and
vibrating along.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from plant.catalogue import BUSY, MACHINE, START
from plant.journal import Journal
from thread import facts as f

#: Vibration alarm limit of the machines' condition monitoring, mm/s.
VIBRATION_LIMIT = 4.5
#: Coolant temperature alarm limit, Cel.
COOLANT_LIMIT = 28.0
SPINDLE_LIMIT = 65.0
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Episode:
    """A stretch of time a machine ran unhealthy."""

    kind: str  # "vibration" or "coolant"
    start: datetime
    end: datetime
    code: str


def _episodes_of_day(seed: int, machine: str, day: int) -> tuple[Episode, ...]:
    spec = MACHINE[machine]
    rng = random.Random(f"{seed}/health/{machine}/{day}")
    busy = machine == BUSY
    midnight = START.replace(hour=0) + day * DAY
    found: list[Episode] = []
    if rng.random() < (0.10 if busy else 0.03 if spec.machining else 0.01):
        start = midnight + timedelta(seconds=rng.uniform(0, 86_400))
        found.append(Episode("vibration", start, start + timedelta(hours=rng.uniform(1.5, 6.0)),
                             "VIB-HIGH"))
    if spec.machining and rng.random() < (0.07 if busy else 0.05):
        start = midnight + timedelta(seconds=rng.uniform(0, 86_400))
        end = start + timedelta(hours=rng.uniform(2.0, 8.0))
        found.append(Episode("coolant", start, end, "COOLANT-TEMP"))
        if rng.random() < 0.5:  # thermal growth of the spindle: it vibrates too
            found.append(Episode("vibration", start + timedelta(minutes=20), end, "VIB-HIGH"))
    if busy and day % 28 == 2:
        start = midnight + timedelta(hours=10, minutes=rng.randint(0, 59))
        end = start + timedelta(hours=rng.uniform(5.0, 7.0))
        found.append(Episode("coolant", start, end, "COOLANT-TEMP"))
        found.append(Episode("vibration", start + timedelta(minutes=30), end, "VIB-HIGH"))
    return tuple(found)


class Health:
    """The episodes of every machine, asked for by time."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._days = lru_cache(maxsize=8192)(self._day)
        self._overrides = lru_cache(maxsize=8192)(self._override)

    def _day(self, machine: str, day: int) -> tuple[Episode, ...]:
        return _episodes_of_day(self.seed, machine, day)

    def _override(self, machine: str, day: int) -> float:
        rng = random.Random(f"{self.seed}/override/{machine}/{day}")
        return rng.uniform(0.03, 0.06) if rng.random() < 0.05 else 0.0

    def override(self, machine: str, day: int) -> float:
        """A feed override an operator left on for the day (a drift of a few per cent)."""
        return self._overrides(machine, day)

    def episodes(self, machine: str, start: datetime, end: datetime) -> list[Episode]:
        """The episodes of ``machine`` that overlap [start, end)."""
        first = math.floor((start - START.replace(hour=0)) / DAY) - 1  # episodes last < 1 day
        last = math.floor((end - START.replace(hour=0)) / DAY)
        return [episode for day in range(first, last + 1) for episode in self._days(machine, day)
                if episode.start < end and episode.end > start]

    def state(self, machine: str, at: datetime) -> tuple[bool, bool]:
        """Whether ``machine`` vibrates and whether its coolant runs hot at ``at``."""
        vibrating = hot = False
        for episode in self.episodes(machine, at, at + timedelta(seconds=1)):
            if episode.kind == "vibration":
                vibrating = True
            else:
                hot = True
        return vibrating, hot

    def window_index(self, machine: str, at: datetime) -> int:
        """The number of ``machine``'s condition block that ``at`` falls in."""
        return math.floor((at - START) / MACHINE[machine].window)

    def window(self, machine: str, index: int) -> tuple[datetime, datetime]:
        """Start and end of one of ``machine``'s condition blocks."""
        length = MACHINE[machine].window
        return START + index * length, START + (index + 1) * length

    def exceeded(self, machine: str, index: int) -> bool:
        """Whether vibration passed its limit in this condition block."""
        start, end = self.window(machine, index)
        return any(e.kind == "vibration" for e in self.episodes(machine, start, end))

    def record(self, journal: Journal, machine: str, index: int) -> None:
        """One condition block of ``machine``, and the alarms that cleared within it."""
        spec = MACHINE[machine]
        start, end = self.window(machine, index)
        rng = random.Random(f"{self.seed}/condition/{machine}/{index}")
        episodes = self.episodes(machine, start, end)
        vibrating = any(e.kind == "vibration" for e in episodes)
        hot = any(e.kind == "coolant" for e in episodes)
        samples = int(spec.window.total_seconds())
        if vibrating:
            vibration = rng.uniform(2.8, 3.8)
            peak = rng.uniform(VIBRATION_LIMIT + 0.1, 7.0)
        else:
            vibration = rng.uniform(1.3, 2.2)
            peak = vibration + rng.uniform(0.6, 1.6)
        spindle = rng.uniform(50.0, 58.0) if hot else rng.uniform(38.0, 46.0)
        metrics = [
            f.ConditionMetric(name="vibration", unit="mm/s", n=samples,
                              min=round(vibration - rng.uniform(0.5, 0.9), 2),
                              max=round(peak, 2), mean=round(vibration, 2),
                              threshold=VIBRATION_LIMIT),
            f.ConditionMetric(name="spindle_temp", unit="Cel", n=samples,
                              min=round(spindle - rng.uniform(1.0, 2.5), 1),
                              max=round(spindle + rng.uniform(1.0, 2.5), 1),
                              mean=round(spindle, 1), threshold=SPINDLE_LIMIT),
        ]
        alarms = [e.code for e in episodes]
        if spec.machining:
            coolant = rng.uniform(29.5, 34.0) if hot else rng.uniform(21.0, 24.0)
            metrics.append(f.ConditionMetric(
                name="coolant_temp", unit="Cel", n=samples,
                min=round(coolant - rng.uniform(0.3, 0.9), 1),
                max=round(coolant + rng.uniform(0.3, 0.9), 1), mean=round(coolant, 1),
                threshold=COOLANT_LIMIT))
        minor = rng.random() < 0.02
        if minor:
            alarms.append("LUBE-LOW" if spec.machining else "GUARD-OPEN")
        journal.counts["condition blocks"] += 1
        journal.add(f.ConditionRecorded(
            machine=machine, window_start=start, window_end=end, metrics=tuple(metrics),
            alarms_active=tuple(dict.fromkeys(alarms)),
            availability=round(rng.uniform(0.70, 0.85) if episodes or minor
                               else rng.uniform(0.86, 0.97), 3),
            performance=round(rng.uniform(0.88, 0.98), 3),
            quality=round(rng.uniform(0.90, 0.96) if vibrating else rng.uniform(0.97, 1.0), 3),
        ), end, machine, machine, f"cb/{index}")
        for episode in episodes:
            if start <= episode.end < end:  # an alarm is reported once it has cleared
                journal.counts["alarms"] += 1
                text = (f"vibration above {VIBRATION_LIMIT} mm/s" if episode.kind == "vibration"
                        else f"coolant temperature above {COOLANT_LIMIT} Cel")
                journal.add(f.AlarmRaised(
                    machine=machine, code=episode.code, text=text, severity="warning",
                    raised_at=episode.start, cleared_at=episode.end,
                ), episode.end, machine, machine, f"alarm/{index}/{episode.code}"
                   f"/{episode.start:%H%M%S}")
        if minor:
            raised = start + timedelta(seconds=rng.randint(30, samples - 200))
            code = alarms[-1]
            journal.counts["alarms"] += 1
            journal.add(f.AlarmRaised(
                machine=machine, code=code, severity="info",
                text="way lube level low" if code == "LUBE-LOW" else "safety guard opened",
                raised_at=raised, cleared_at=raised + timedelta(seconds=rng.randint(20, 180)),
            ), raised, machine, machine, f"alarm/{index}/{code}")

    def joint_overlap(self, machine: str, start: datetime, end: datetime) -> float:
        """Seconds in [start, end) during which ``machine`` both vibrated and ran hot."""
        episodes = self.episodes(machine, start, end)
        hot = [(max(e.start, start), min(e.end, end)) for e in episodes if e.kind == "coolant"]
        shaky = [(max(e.start, start), min(e.end, end)) for e in episodes
                 if e.kind == "vibration"]
        total = 0.0
        for h0, h1 in hot:
            for v0, v1 in shaky:
                total += max(0.0, (min(h1, v1) - max(h0, v0)).total_seconds())
        return total
