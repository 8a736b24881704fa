"""Was the machine healthy while a part was made: the machine's condition during an interval.

One rule, used by ``trace``, ``recall_scope``, the DHR and every other view:

- **Half-open intervals.** An operation runs over ``[start, end)``; a condition
  window ``[window_start, window_end)`` counts when the two share a moment:
  ``window_start < end and window_end > start``. A window that ends when the
  operation starts, or starts when it ends, does not. An operation with no
  duration is the instant ``start``: a window counts when it contains it.
- **Metrics** over the windows that count: the lowest min, the highest max,
  the n-weighted mean, the total n and the lowest threshold; a metric exceeded
  its threshold when that max is above it.
- **Alarms** count when they were active at any moment of the interval:
  raised before it ended and not cleared before it started (an alarm never
  cleared is still active). Alarm codes a condition window lists count with it.
- **Collection gaps** that share a moment with the interval are reported as
  such: the machine's data is missing there, which is not the same as healthy.
- **OEE**: the lowest availability, performance and quality of the windows
  that carry all three.

Times are nanoseconds since the epoch (microsecond precision), as the read
models store them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Metric(NamedTuple):
    """One signal of one condition window."""

    name: str
    unit: str
    n: int
    min: float
    max: float
    mean: float
    threshold: float | None


class Window(NamedTuple):
    """A condition window of the machine's stream, at its log position."""

    position: int
    start_ns: int
    end_ns: int
    metrics: tuple[Metric, ...]
    alarms: tuple[str, ...] = ()
    availability: float | None = None
    performance: float | None = None
    quality: float | None = None


class Alarm(NamedTuple):
    """An alarm raised on the machine, at its log position."""

    position: int
    code: str
    text: str
    severity: str
    raised_ns: int
    cleared_ns: int | None


class Gap(NamedTuple):
    """A stretch in which the machine's data was not collected."""

    position: int
    start_ns: int
    end_ns: int
    reason: str


def overlaps(start_ns: int, end_ns: int, low_ns: int, high_ns: int | None) -> bool:
    """Whether ``[low, high)`` (``high`` None: still open) shares a moment with
    ``[start, end)``; an interval with no duration is the instant ``start``."""
    if end_ns <= start_ns:
        return low_ns <= start_ns and (high_ns is None or high_ns > start_ns)
    return low_ns < end_ns and (high_ns is None or high_ns > start_ns)


def covering(windows: Iterable[Window], start_ns: int, end_ns: int) -> list[Window]:
    """The windows that count for the interval ``[start, end)``."""
    return [w for w in windows if overlaps(start_ns, end_ns, w.start_ns, w.end_ns)]


class Folded(NamedTuple):
    """One metric over several windows: lowest min, highest max, n-weighted mean."""

    name: str
    unit: str
    n: int
    min: float
    max: float
    mean: float
    threshold: float | None

    @property
    def exceeded(self) -> bool:
        """The highest max is above the lowest threshold."""
        return self.threshold is not None and self.max > self.threshold


def fold_metrics(windows: Iterable[Window]) -> dict[str, Folded]:
    """Each metric of ``windows`` folded by the rule above, by name."""
    sums: dict[str, list[float]] = {}
    units: dict[str, str] = {}
    thresholds: dict[str, float | None] = {}
    for window in windows:
        for m in window.metrics:
            seen = sums.get(m.name)
            if seen is None:
                sums[m.name] = [m.min, m.max, m.mean * m.n, m.n]
                units[m.name], thresholds[m.name] = m.unit, m.threshold
                continue
            seen[0], seen[1] = min(seen[0], m.min), max(seen[1], m.max)
            seen[2] += m.mean * m.n
            seen[3] += m.n
            if m.threshold is not None:
                known = thresholds[m.name]
                thresholds[m.name] = m.threshold if known is None else min(known, m.threshold)
    return {name: Folded(name, units[name], int(n), least, most,
                         total / n if n else most, thresholds[name])
            for name, (least, most, total, n) in sums.items()}


def fold_oee(windows: Iterable[Window]) -> dict[str, float]:
    """The lowest availability, performance and quality, and their product as ``oee``."""
    factors = [(w.availability, w.performance, w.quality) for w in windows
               if w.availability is not None and w.performance is not None
               and w.quality is not None]
    if not factors:
        return {}
    lowest = {"availability": min(a for a, _, _ in factors),
              "performance": min(p for _, p, _ in factors),
              "quality": min(q for _, _, q in factors)}
    lowest["oee"] = lowest["availability"] * lowest["performance"] * lowest["quality"]
    return lowest


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricSummary(_Model):
    """A condition signal over the interval: worst values and whether it passed its threshold."""

    name: str
    unit: str
    n: int
    min: float
    max: float
    mean: float
    threshold: float | None
    exceeded: bool


class AlarmSummary(_Model):
    """An alarm active at some moment of the interval."""

    position: int
    code: str
    text: str
    severity: str
    raised_at: datetime
    cleared_at: datetime | None


class GapSummary(_Model):
    """A collection gap inside the interval: the machine's data is missing there."""

    position: int
    start: datetime
    end: datetime
    reason: str


class OEE(_Model):
    """The lowest OEE factors seen over the interval."""

    availability: float
    performance: float
    quality: float
    oee: float


class ConditionSummary(_Model):
    """The machine's condition during one interval, by the rule of this module."""

    machine: str
    start: datetime
    end: datetime
    windows: tuple[int, ...]
    metrics: tuple[MetricSummary, ...]
    alarms_active: tuple[str, ...]
    alarms: tuple[AlarmSummary, ...]
    gaps: tuple[GapSummary, ...]
    oee_lowest: OEE | None

    @property
    def covered(self) -> bool:
        """Whether any condition window counts for the interval."""
        return bool(self.windows)

    @property
    def exceeded(self) -> tuple[str, ...]:
        """Names of the metrics that passed their thresholds."""
        return tuple(m.name for m in self.metrics if m.exceeded)

    @property
    def healthy(self) -> bool:
        """Covered, within every threshold, no alarm, no gap in the data."""
        return (self.covered and not self.exceeded and not self.alarms_active
                and not self.gaps)

    def metric(self, name: str) -> MetricSummary | None:
        """One metric by name."""
        return next((m for m in self.metrics if m.name == name), None)

    def describe(self) -> str:
        """The condition in one line, as records and the CLI print it."""
        notes = [f"{m.name} max {m.max:g} {m.unit} over threshold {m.threshold:g}"
                 for m in self.metrics if m.exceeded and m.threshold is not None]
        notes += [f"alarm {code} active" for code in self.alarms_active]
        notes += [f"data collection gap ({gap.reason})" for gap in self.gaps]
        if not self.covered:
            notes.insert(0, "no condition record covers the operation")
        elif not notes:
            notes.insert(0, f"{len(self.windows)} condition window(s) within thresholds")
        return "; ".join(dict.fromkeys(notes))


def condition_during(machine: str, start_ns: int, end_ns: int, windows: Iterable[Window],
                     alarms: Iterable[Alarm] = (), gaps: Iterable[Gap] = ()
                     ) -> ConditionSummary:
    """The machine's condition during ``[start, end)``: windows, alarms and gaps that count."""
    used = sorted(covering(windows, start_ns, end_ns), key=lambda w: (w.start_ns, w.position))
    active = [a for a in alarms if overlaps(start_ns, end_ns, a.raised_ns, a.cleared_ns)]
    missing = [g for g in gaps if overlaps(start_ns, end_ns, g.start_ns, g.end_ns)]
    oee = fold_oee(used)
    return ConditionSummary(
        machine=machine, start=moment(start_ns), end=moment(end_ns),
        windows=tuple(w.position for w in used),
        metrics=tuple(MetricSummary(name=m.name, unit=m.unit, n=m.n, min=m.min, max=m.max,
                                    mean=m.mean, threshold=m.threshold, exceeded=m.exceeded)
                      for m in sorted(fold_metrics(used).values())),
        alarms_active=tuple(sorted({*(c for w in used for c in w.alarms),
                                    *(a.code for a in active)})),
        alarms=tuple(AlarmSummary(position=a.position, code=a.code, text=a.text,
                                  severity=a.severity, raised_at=moment(a.raised_ns),
                                  cleared_at=None if a.cleared_ns is None
                                  else moment(a.cleared_ns))
                     for a in sorted(active, key=lambda a: (a.raised_ns, a.position))),
        gaps=tuple(GapSummary(position=g.position, start=moment(g.start_ns),
                              end=moment(g.end_ns), reason=g.reason)
                   for g in sorted(missing, key=lambda g: (g.start_ns, g.position))),
        oee_lowest=OEE(**oee) if oee else None,
    )


def moment(ns: int) -> datetime:
    """The UTC time of nanoseconds since the epoch (microsecond precision)."""
    return _EPOCH + _MICROSECOND * (ns // 1000)


def nanoseconds(value: datetime) -> int:
    """Nanoseconds since the epoch of an aware time (microsecond precision)."""
    return (value - _EPOCH) // _MICROSECOND * 1000


def sorted_windows(windows: Sequence[Window]) -> list[Window]:
    """Windows in start order, as :func:`covering` callers bisect them."""
    return sorted(windows, key=lambda w: (w.start_ns, w.position))
