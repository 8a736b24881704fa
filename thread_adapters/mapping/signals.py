"""Per-tag buffers: growable arrays for numeric signals, reading lists for discrete tags.

A numeric signal (a process parameter or a condition metric) may deliver
thousands of readings a second, so its buffer is a pair of ``array.array``
columns (a C-level append costs tens of nanoseconds) that numpy reads
without copying when a cycle or window is summarised. Discrete tags
(serials, triggers, alarm bits, counters) change rarely and keep a list of
their readings, from which their changes follow.

Both keep readings in source-time order per tag. A reading usually arrives
after the tag's last one and is appended; one that arrives out of time order
(a store-and-forward replay after an outage) is merged into its place, as
long as it is not older than the tag's ``horizon``: the moment before which
the mapping layer has already resolved (recorded or let go of) what the tag
feeds. Older ones are counted as ``late`` and not used. A reading the buffer
already holds (same time, same value) is counted as ``dropped`` (delivered
again) and not kept twice.

Each ``observe`` returns what became of the reading: :data:`APPENDED`,
:data:`CHANGED` (appended, and a discrete tag's value changed),
:data:`MERGED`, :data:`DUPLICATE` or :data:`LATE`.
"""

from __future__ import annotations

import bisect
import math
import operator
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from thread_adapters.readings import TagValue

#: An index pair into a signal's buffer: readings [start, end).
Span = tuple[int, int]

#: No reading yet.
NEVER = -(2**63)

#: What became of a reading (the ones up to MERGED were kept).
APPENDED, CHANGED, MERGED, DUPLICATE, LATE = range(5)


class Signal:
    """A numeric tag's readings in time order."""

    __slots__ = (
        "dropped",
        "horizon",
        "key",
        "last_t",
        "last_v",
        "late",
        "late_at",
        "merged",
        "pruned",
        "threshold",
        "times",
        "values",
    )

    def __init__(self, key: str, threshold: float | None) -> None:
        self.key = key
        self.threshold = threshold
        self.times = array("q")
        self.values = array("d")
        self.last_t = NEVER
        self.last_v = float("nan")
        #: Readings before this moment are late: what they would feed is already resolved.
        self.horizon = NEVER
        #: Readings dropped as delivered again.
        self.dropped = 0
        #: Readings older than the horizon, left out; the source time of the latest of them.
        self.late = 0
        self.late_at = NEVER
        #: Readings merged into their place out of arrival order.
        self.merged = 0
        #: Readings already summarised and let go.
        self.pruned = 0

    @property
    def received(self) -> int:
        """Readings accepted so far."""
        return self.pruned + len(self.times)

    def observe(self, value: TagValue, at_ns: int) -> int:
        """Add one reading (raises TypeError for a value that is not a number)."""
        last = self.last_t
        if at_ns > last or (at_ns == last and value != self.last_v):
            self.values.append(value)  # type: ignore[arg-type]  # str raises TypeError here
            self.times.append(at_ns)
            self.last_t = at_ns
            self.last_v = value  # type: ignore[assignment]
            return APPENDED
        if at_ns == last:
            self.dropped += 1
            return DUPLICATE
        return self._insert(value, at_ns)

    def _insert(self, value: TagValue, at_ns: int) -> int:
        at_ns = operator.index(at_ns)  # before anything changes: a float time raises here
        if at_ns < self.horizon:
            self.late += 1
            self.late_at = max(self.late_at, at_ns)
            return LATE
        first = bisect.bisect_left(self.times, at_ns)
        after = bisect.bisect_right(self.times, at_ns, lo=first)
        if any(_same_number(self.values[index], value) for index in range(first, after)):
            self.dropped += 1
            return DUPLICATE
        self.values.insert(after, value)  # type: ignore[arg-type]  # str raises TypeError
        self.times.insert(after, at_ns)
        self.merged += 1
        return MERGED

    def extend(self, values: NDArray[np.float64], times: NDArray[np.int64]) -> NDArray[np.int64]:
        """Add many readings at once (one tag, any order); returns the times of those kept."""
        if len(times) > 1 and bool((times[1:] < times[:-1]).any()):
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
        merged: NDArray[np.int64] | None = None
        if len(times) and times[0] <= self.last_t:
            again = (times == self.last_t) & _equal(values, self.last_v)
            older = times < self.last_t
            if bool(older.any()):
                late = older & (times < self.horizon)
                if bool(late.any()):
                    self.late += int(np.count_nonzero(late))
                    self.late_at = max(self.late_at, int(times[late].max()))
                into = older & ~late
                if bool(into.any()):
                    merged = self._merge(values[into], times[into])
            self.dropped += int(np.count_nonzero(again))
            fresh = ~(older | again)
            times, values = times[fresh], values[fresh]
        if len(times):
            self.times.frombytes(times.astype(np.int64, copy=False).tobytes())
            self.values.frombytes(values.astype(np.float64, copy=False).tobytes())
            self.last_t = int(times[-1])
            self.last_v = float(values[-1])
        if merged is None:
            return times
        return np.concatenate((merged, times))

    def _merge(self, values: NDArray[np.float64], times: NDArray[np.int64]) -> NDArray[np.int64]:
        """Merge readings older than the last one into their places (times sorted)."""
        held_t = np.frombuffer(self.times, dtype=np.int64)
        held_v = np.frombuffer(self.values, dtype=np.float64)
        first = np.searchsorted(held_t, times, side="left")
        after = np.searchsorted(held_t, times, side="right")
        again = np.zeros(len(times), dtype=bool)
        for index in np.flatnonzero(after > first).tolist():
            again[index] = bool(_equal(held_v[first[index]:after[index]], values[index]).any())
        if len(times) > 1:  # the same reading twice in one delivery
            again[1:] |= (times[1:] == times[:-1]) & _equal(values[1:], values[:-1])
        self.dropped += int(np.count_nonzero(again))
        times, values = times[~again], values[~again]
        all_t = np.concatenate((held_t, times))
        all_v = np.concatenate((held_v, values))
        del held_t, held_v  # views pin the arrays being replaced
        order = np.argsort(all_t, kind="stable")  # held readings first at equal times
        self.times = array("q", all_t[order].tobytes())
        self.values = array("d", all_v[order].tobytes())
        self.merged += len(times)
        return times

    def span(self, start: int, end: int) -> tuple[Span, int | None]:
        """Readings with start <= t < end, and the index of the reading held at ``start``.

        The held reading is the last one before ``start``, when no reading is
        exactly at ``start``: the value the tag had when the span began.
        """
        times = np.frombuffer(self.times, dtype=np.int64)
        first, last = (int(i) for i in np.searchsorted(times, (start, end), side="left"))
        held = first - 1 if first > 0 and (first == len(times) or times[first] != start) else None
        return (first, last), held

    def columns(self, span: Span, held: int | None, at: int
                ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Copies of the readings in ``span``, the held reading first (re-timed to ``at``)."""
        first, last = span
        times = np.frombuffer(self.times, dtype=np.int64)
        values = np.frombuffer(self.values, dtype=np.float64)
        if held is None:
            return times[first:last].copy(), values[first:last].copy()
        out_t = np.empty(last - first + 1, dtype=np.int64)
        out_v = np.empty(last - first + 1, dtype=np.float64)
        out_t[0], out_v[0] = at, values[held]
        out_t[1:], out_v[1:] = times[first:last], values[first:last]
        return out_t, out_v

    def has_reading(self, start: int, end: int) -> bool:
        """Whether any reading lies in [start, end)."""
        (first, last), _ = self.span(start, end)
        return last > first

    def prune(self, before: int) -> None:
        """Let go of readings before ``before``, keeping the one held at that moment."""
        times = np.frombuffer(self.times, dtype=np.int64)
        cut = int(np.searchsorted(times, before, side="left")) - 1
        del times  # a numpy view pins the array's memory; it must go before the array shrinks
        if cut > 0:
            del self.times[:cut]
            del self.values[:cut]
            self.pruned += cut

    def repair(self) -> None:
        """Make both columns the same length again after an append that raised half-way."""
        size = min(len(self.times), len(self.values))
        del self.times[size:]
        del self.values[size:]
        self.last_t = self.times[-1] if size else NEVER
        self.last_v = self.values[-1] if size else float("nan")


@dataclass
class Discrete:
    """A discrete tag's readings and changes in time order: serials, batch ids, triggers, flags.

    Every reading is kept (until pruned), not only the changes: a reading
    merged out of order can turn the reading after it into a change, or
    make it no change at all, and only the readings tell.
    """

    key: str
    #: (time, value) of each reading, oldest first (equal times in arrival order).
    readings: list[tuple[int, TagValue]] = field(default_factory=list)
    #: (time, value) at each change, oldest first; the first reading counts as a change.
    changes: list[tuple[int, TagValue]] = field(default_factory=list)
    last_t: int = NEVER
    horizon: int = NEVER
    dropped: int = 0
    late: int = 0
    late_at: int = NEVER
    merged: int = 0
    received: int = 0

    def observe(self, value: TagValue, at_ns: int) -> int:
        """Record a reading; returns CHANGED when it is a change appended at the end.

        The first reading is a change too, though not an edge: a change that
        was not seen is not an edge (edges are pairs of changes).
        """
        at_ns = operator.index(at_ns)  # numpy integers too; a float time raises TypeError
        if at_ns >= self.last_t:
            if at_ns == self.last_t and self._holds(value, at_ns):
                self.dropped += 1
                return DUPLICATE
            self.last_t = at_ns
            self.received += 1
            self.readings.append((at_ns, value))
            if self.changes and _same(self.changes[-1][1], value):
                return APPENDED
            self.changes.append((at_ns, value))
            return CHANGED
        if at_ns < self.horizon:
            self.late += 1
            self.late_at = max(self.late_at, at_ns)
            return LATE
        if self._holds(value, at_ns):
            self.dropped += 1
            return DUPLICATE
        self.readings.insert(bisect.bisect_right(self.readings, at_ns, key=_time),
                             (at_ns, value))
        self.received += 1
        self.merged += 1
        self.changes = _changes_of(self.readings)
        return MERGED

    def _holds(self, value: TagValue, at_ns: int) -> bool:
        first = bisect.bisect_left(self.readings, at_ns, key=_time)
        after = bisect.bisect_right(self.readings, at_ns, lo=first, key=_time)
        return any(_same(held, value) for _, held in self.readings[first:after])

    def at(self, moment: int) -> TagValue | None:
        """The value in effect at ``moment`` (the last change at or before it), if any."""
        index = bisect.bisect_right(self.changes, moment, key=_time) - 1
        return self.changes[index][1] if index >= 0 else None

    def since(self, start: int, end: int) -> list[tuple[int, TagValue]]:
        """Changes with start <= t < end."""
        first = bisect.bisect_left(self.changes, start, key=_time)
        last = bisect.bisect_left(self.changes, end, key=_time)
        return self.changes[first:last]

    def first_at_or_after(self, moment: int) -> int | None:
        """The time of the first reading at or after ``moment``, if any."""
        index = bisect.bisect_left(self.readings, moment, key=_time)
        return self.readings[index][0] if index < len(self.readings) else None

    def prune(self, before: int) -> None:
        """Let go of readings before ``before``, keeping the change in effect then."""
        cut = bisect.bisect_left(self.changes, before, key=_time) - 1
        if cut > 0:
            since = self.changes[cut][0]
            del self.changes[:cut]
            del self.readings[:bisect.bisect_left(self.readings, since, key=_time)]

    def cap(self, keep: int) -> int:
        """Keep only the newest ``keep`` readings (memory bound); returns how many went."""
        cut = len(self.readings) - keep
        if cut <= 0:
            return 0
        del self.readings[:cut]
        self.changes = _changes_of(self.readings)
        return cut


def _time(reading: tuple[int, TagValue]) -> int:
    return reading[0]


def _same(held: TagValue, value: TagValue) -> bool:
    """The same reading value: equal and of the same type (1 and True differ)."""
    return held == value and type(held) is type(value)


def _same_number(held: float, value: TagValue) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return math.isnan(held)
    return held == value


def _equal(values: NDArray[np.float64], other: float | NDArray[np.float64]
           ) -> NDArray[np.bool_]:
    """Element-wise equality in which NaN equals NaN (a NaN delivered again is the same)."""
    same: NDArray[np.bool_] = (values == other) | (np.isnan(values) & np.isnan(other))
    return same


def _changes_of(readings: list[tuple[int, TagValue]]) -> list[tuple[int, TagValue]]:
    changes: list[tuple[int, TagValue]] = []
    for reading in readings:
        if not changes or not _same(changes[-1][1], reading[1]):
            changes.append(reading)
    return changes


def truthy(value: TagValue | None) -> bool:
    """A trigger or flag reading as a boolean: numbers by zero, texts by emptiness."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "off")
    return bool(value)


Edge = Callable[[TagValue | None, TagValue], bool]


def rising(previous: TagValue | None, value: TagValue) -> bool:
    """A flag went from off to on."""
    return not truthy(previous) and truthy(value)


def changed(previous: TagValue | None, value: TagValue) -> bool:
    """A counter or value changed."""
    return previous != value
