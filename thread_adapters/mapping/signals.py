"""Per-tag buffers: growable arrays for numeric signals, change lists for discrete tags.

A numeric signal (a process parameter or a condition metric) may deliver
thousands of readings a second, so its buffer is a pair of ``array.array``
columns (a C-level append costs tens of nanoseconds) that numpy reads
without copying when a cycle or window is summarised. Discrete tags
(serials, triggers, alarm bits, counters) change rarely and keep a list of
their changes.

Both keep readings in source-time order per tag and drop what a protocol
delivers again: a reading older than the tag's last, or one with the same
time and value.
"""

from __future__ import annotations

import bisect
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


class Signal:
    """A numeric tag's readings in time order, with threshold crossings found as they arrive."""

    __slots__ = (
        "_above",
        "crossings",
        "dropped",
        "key",
        "last_t",
        "last_v",
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
        #: Readings dropped as re-delivered or out of time order.
        self.dropped = 0
        #: Readings already summarised and let go.
        self.pruned = 0
        #: (time, now above the threshold) at each crossing not yet taken, oldest first.
        self.crossings: list[tuple[int, bool]] = []
        self._above = False

    @property
    def received(self) -> int:
        """Readings accepted so far."""
        return self.pruned + len(self.times)

    def observe(self, value: TagValue, at_ns: int) -> None:
        """Append one reading (raises TypeError for a value that is not a number)."""
        if at_ns <= self.last_t and (at_ns < self.last_t or value == self.last_v):
            self.dropped += 1
            return
        self.values.append(value)  # type: ignore[arg-type]  # str raises TypeError here
        self.times.append(at_ns)
        self.last_t = at_ns
        self.last_v = value  # type: ignore[assignment]
        if self.threshold is not None and (value > self.threshold) != self._above:  # type: ignore[operator]
            self._above = not self._above
            self.crossings.append((at_ns, self._above))

    def extend(self, values: NDArray[np.float64], times: NDArray[np.int64]) -> None:
        """Append many readings at once (one tag, any order; earlier ones are dropped)."""
        if len(times) > 1 and bool((times[1:] < times[:-1]).any()):
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
        if len(times) and times[0] <= self.last_t:
            fresh = (times > self.last_t) | ((times == self.last_t) & (values != self.last_v))
            self.dropped += int(len(times) - np.count_nonzero(fresh))
            times, values = times[fresh], values[fresh]
        if not len(times):
            return
        self.times.frombytes(times.astype(np.int64, copy=False).tobytes())
        self.values.frombytes(values.astype(np.float64, copy=False).tobytes())
        self.last_t = int(times[-1])
        self.last_v = float(values[-1])
        if self.threshold is not None:
            above = values > self.threshold
            changes = np.flatnonzero(above[1:] != above[:-1]) + 1
            if bool(above[0]) != self._above:
                changes = np.concatenate(([0], changes))
            for index in changes.tolist():
                self.crossings.append((int(times[index]), bool(above[index])))
            self._above = bool(above[-1])

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
    """A discrete tag's changes in time order: serials, batch ids, triggers, flags, counters."""

    key: str
    #: (time, value) at each change, oldest first; the first reading counts as a change.
    changes: list[tuple[int, TagValue]] = field(default_factory=list)
    last_t: int = NEVER
    dropped: int = 0
    received: int = 0

    def observe(self, value: TagValue, at_ns: int) -> TagValue | None:
        """Record a reading; return the previous value when it changed, else None.

        The first reading returns None too: a change that was not seen is not an edge.
        """
        at_ns = operator.index(at_ns)  # numpy integers too; a float time raises TypeError
        if at_ns < self.last_t:
            self.dropped += 1
            return None
        self.last_t = at_ns
        self.received += 1
        if not self.changes:
            self.changes.append((at_ns, value))
            return None
        previous = self.changes[-1][1]
        if value == previous and type(value) is type(previous):
            return None
        self.changes.append((at_ns, value))
        return previous

    def at(self, moment: int) -> TagValue | None:
        """The value in effect at ``moment`` (the last change at or before it), if any."""
        index = bisect.bisect_right(self.changes, moment, key=_time) - 1
        return self.changes[index][1] if index >= 0 else None

    def since(self, start: int, end: int) -> list[tuple[int, TagValue]]:
        """Changes with start <= t < end."""
        first = bisect.bisect_left(self.changes, start, key=_time)
        last = bisect.bisect_left(self.changes, end, key=_time)
        return self.changes[first:last]

    def prune(self, before: int) -> None:
        """Let go of changes before ``before``, keeping the one in effect then."""
        cut = bisect.bisect_left(self.changes, before, key=_time) - 1
        if cut > 0:
            del self.changes[:cut]


def _time(change: tuple[int, TagValue]) -> int:
    return change[0]


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
