"""Summaries of readings: per-parameter statistics, condition metrics and OEE factors."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from thread import facts as f
from thread_adapters import samples
from thread_adapters.mapping.signals import Discrete, truthy
from thread_adapters.readings import TagValue

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant(at_ns: int) -> datetime:
    """A source time in ns as a UTC datetime (datetimes hold microseconds)."""
    return EPOCH + timedelta(microseconds=at_ns // 1000)


def finite(times: NDArray[np.int64], values: NDArray[np.float64]
           ) -> tuple[NDArray[np.int64], NDArray[np.float64], int]:
    """The readings that are numbers (NaN and infinities dropped), and how many were not."""
    ok = np.isfinite(values)
    if bool(ok.all()):
        return times, values, 0
    return times[ok], values[ok], int(len(values) - np.count_nonzero(ok))


def parameter_summary(
    name: str, unit: str, times: NDArray[np.int64], values: NDArray[np.float64], *,
    resolution: float | None, keep: bool, codec: samples.Codec, level: int | None,
) -> f.ParameterSummary:
    """n, min, max, mean, sample standard deviation and the raw-samples block."""
    n = len(values)
    low, high = float(values.min()), float(values.max())
    # Rounding can put the mean of equal values a hair outside them.
    mean = min(max(float(values.mean()), low), high)
    sd = float(values.std(ddof=1)) if n > 1 else 0.0
    block = samples.encode(times, values, resolution=resolution, codec=codec,
                           level=level) if keep else None
    return f.ParameterSummary(
        name=name, unit=unit, n=n, min=low, max=high, mean=mean, sd=sd,
        samples=block, samples_encoding=samples.ENCODING if keep else None,
    )


def condition_metric(name: str, unit: str, values: NDArray[np.float64],
                     threshold: float | None) -> f.ConditionMetric:
    """n, min, max and mean of a condition signal over a window, with its threshold."""
    low, high = float(values.min()), float(values.max())
    return f.ConditionMetric(
        name=name, unit=unit, n=len(values), min=low, max=high,
        mean=min(max(float(values.mean()), low), high), threshold=threshold,
    )


def running_time(running: Discrete, start: int, end: int) -> tuple[int, int]:
    """(ns running, ns the state was known) within [start, end)."""
    state = running.at(start)
    at = start
    on = known = 0
    for moment, value in [*running.since(start, end), (end, None)]:
        if state is not None:
            known += moment - at
            on += moment - at if truthy(state) else 0
        at, state = moment, value if value is not None else state
    return on, known


def counted(counter: Discrete, start: int, end: int) -> int | None:
    """Parts a cumulative counter added within [start, end); a drop is a reset to zero."""
    held = counter.at(start)
    values: list[TagValue] = ([held] if held is not None else []) + [
        value for _, value in counter.since(start, end)]
    numbers = [int(value) for value in values if isinstance(value, (int, float))]
    if not numbers:
        return None
    total = 0
    for previous, current in itertools.pairwise(numbers):
        total += current - previous if current >= previous else current
    return total


def ratio(numerator: float, denominator: float) -> float | None:
    """A factor of OEE within [0, 1], or None when nothing was measured."""
    if denominator <= 0:
        return None
    return min(max(numerator / denominator, 0.0), 1.0)
