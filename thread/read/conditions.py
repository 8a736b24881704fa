"""A machine's condition windows over a stretch of time, folded for any interval in it.

Which windows count for an interval and how their values combine is the
domain's rule (:mod:`thread.domain.condition`): half-open overlap, lowest min,
highest max, n-weighted mean, lowest OEE factors. Recall scope and failure
patterns both read the machine's condition through this one class.
"""

from __future__ import annotations

import bisect
from datetime import datetime

from sqlalchemy import Connection

from thread.domain.condition import (
    Folded,
    Metric,
    Window,
    covering,
    fold_metrics,
    fold_oee,
    moment,
)
from thread.read.clock import AsOf
from thread.read.result import Model
from thread.read.sql import rows

_WINDOWS = (
    "SELECT position, start_ns, end_ns, availability, performance, quality "
    "FROM read_conditions WHERE machine = :machine AND start_ns >= :low AND start_ns < :end "
    "AND {clock} <= :bound"
)
_METRICS = (
    "SELECT position, start_ns, end_ns, name, n, min, max, mean, threshold FROM read_metrics "
    "WHERE machine = :machine AND start_ns >= :low AND start_ns < :end AND name IN :names "
    "AND {clock} <= :bound"
)
_SERIES = (
    "SELECT start_ns, end_ns, unit, n, min, max, mean, threshold FROM read_metrics "
    "WHERE machine = :machine AND name = :name AND start_ns >= :low AND start_ns < :high "
    "AND {clock} <= :bound ORDER BY start_ns"
)
_EVERY_METRIC = (
    "SELECT position, start_ns, end_ns, name, n, min, max, mean, threshold FROM read_metrics "
    "WHERE machine = :machine AND start_ns >= :low AND start_ns < :end AND {clock} <= :bound"
)


class Conditions:
    """The machine's condition windows that can count for intervals in ``[low, end)``.

    ``names`` are the metrics to read (None: all of them; empty: none, only the
    windows and their OEE factors); ``longest`` is the longest window the log
    holds, so a window that started before ``low`` and still counts is read too.
    """

    def __init__(self, conn: Connection, machine: str, low: int, end: int, as_of: AsOf,
                 longest: int, names: set[str] | None) -> None:
        self.longest = longest
        metrics: dict[int, list[Metric]] = {}
        self.names: set[str] = set()
        if names is None or names:
            found = (rows(conn, _EVERY_METRIC, as_of, machine=machine, low=low - longest,
                          end=end) if names is None else
                     rows(conn, _METRICS, as_of, machine=machine, low=low - longest, end=end,
                          names=sorted(names)))
            for position, _, _, name, n, least, most, mean, threshold in found:
                metrics.setdefault(position, []).append(
                    Metric(name, "", int(n), least, most, mean, threshold))
        windows = []
        for position, start, stop, availability, performance, quality in rows(
                conn, _WINDOWS, as_of, machine=machine, low=low - longest, end=end):
            window_metrics = tuple(metrics.get(position, ()))
            self.names.update(m.name for m in window_metrics)
            windows.append(Window(position, start, stop, window_metrics, (), availability,
                                  performance, quality))
        self.ordered = sorted(windows, key=lambda w: (w.start_ns, w.position))
        self.starts = [w.start_ns for w in self.ordered]

    def fold(self, start: int, end: int) -> tuple[dict[str, Folded], dict[str, float]]:
        """The metrics and OEE factors of the windows that count for ``[start, end)``."""
        first = bisect.bisect_left(self.starts, start - self.longest)
        last = bisect.bisect_right(self.starts, end)
        used = covering(self.ordered[first:last], start, end)
        return fold_metrics(used), fold_oee(used)


class ConditionPoint(Model):
    """One condition window's value of a metric."""

    start: datetime
    end: datetime
    n: int
    min: float
    max: float
    mean: float
    threshold: float | None


class ConditionSeries(Model):
    """A machine's metric window by window: the condition trace drawn under failure rates."""

    machine: str
    metric: str
    unit: str
    points: tuple[ConditionPoint, ...]


def condition_series(conn: Connection, machine: str, metric: str, low: int, high: int,
                     as_of: AsOf) -> ConditionSeries:
    """The windows of ``machine`` starting in ``[low, high)`` that recorded ``metric``."""
    found = rows(conn, _SERIES, as_of, machine=machine, name=metric, low=low, high=high)
    return ConditionSeries(
        machine=machine, metric=metric, unit=found[0][2] if found else "",
        points=tuple(ConditionPoint(start=moment(start), end=moment(end), n=int(n), min=least,
                                    max=most, mean=mean, threshold=threshold)
                     for start, end, _, n, least, most, mean, threshold in found))
