"""Shewhart charts for counts: p, np, c and u (Montgomery, chapter 7).

``values`` are counts: nonconforming units per sample for p and np, nonconformities per
sample for c and u. ``sizes`` are the sample sizes (units inspected for p and np,
inspection units, possibly fractional, for u), one number for all samples or one per
sample.

Sigma comes from the centre line: binomial ``sqrt(p(1 - p) / n_i)`` for p and
``sqrt(n p (1 - p))`` for np, Poisson ``sqrt(c)`` for c and ``sqrt(u / n_i)`` for u. The
centre is the pooled rate of the baseline samples (total count over total size), not the
mean of the rates. Lower limits below zero are clipped at zero, as textbooks print them.

With unequal sizes the p and u limits differ per point: ``lcl_points`` and ``ucl_points``
hold them and points are judged against their own limits (rules standardise each point
by its own sigma); the scalar ``lcl`` and ``ucl`` are then the limits at the average
sample size, for reference only, and ``statistic_sigma`` is None.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from thread.quality.base import Built, FloatArray, baseline, check_finite, finite_array
from thread.quality.errors import QualityInputError

AttributeChart = Literal["p", "np", "c", "u"]


def _counts(values: Any) -> FloatArray:
    counts = finite_array(values)
    negative = np.flatnonzero(counts < 0)
    if negative.size:
        i = negative[0]
        raise QualityInputError(f"values[{i}] is {counts[i]:g}: expected a count >= 0")
    fractional = np.flatnonzero(counts != np.round(counts))
    if fractional.size:
        i = fractional[0]
        raise QualityInputError(f"values[{i}] is {counts[i]:g}: expected a whole count")
    return counts


def _sizes(sizes: Any, count: int, chart: AttributeChart) -> FloatArray:
    if sizes is None:
        raise QualityInputError(f"sizes is missing: a {chart} chart needs the sample size "
                                "of each point (one number, or one per point)")
    if isinstance(sizes, (int, float, np.integer, np.floating)) and not isinstance(sizes, bool):
        array = np.full(count, float(sizes))
    else:
        array = finite_array(sizes, "sizes")
    if array.size != count:
        raise QualityInputError(f"sizes has {array.size} values: expected one per point "
                                f"({count})")
    bad = np.flatnonzero(array <= 0)
    if bad.size:
        raise QualityInputError(f"sizes[{bad[0]}] is {array[bad[0]]:g}: expected a "
                                "positive sample size")
    if chart in ("p", "np"):
        fractional = np.flatnonzero(array != np.round(array))
        if fractional.size:
            i = fractional[0]
            raise QualityInputError(f"sizes[{i}] is {array[i]:g}: expected a whole number "
                                    "of units")
    return array


def attribute_chart(values: Any, chart: AttributeChart, *, sizes: Any, phase1: int | None,
                    center: Any, sigma: Any) -> Built:
    """A p, np, c or u chart from counts (and sample sizes)."""
    if sigma is not None:
        raise QualityInputError(f"sigma {sigma!r} cannot be given for a {chart} chart: its "
                                "sigma follows from the centre line")
    counts = _counts(values)
    if chart == "c":
        if sizes is not None:
            raise QualityInputError("sizes cannot be given for a c chart: with sample "
                                    "sizes, use the u chart")
        n = np.ones(counts.size)
    else:
        n = _sizes(sizes, counts.size, chart)
    if chart in ("p", "np"):
        over = np.flatnonzero(counts > n)
        if over.size:
            i = over[0]
            raise QualityInputError(f"values[{i}] is {counts[i]:g}: expected at most the "
                                    f"sample size {n[i]:g}")
    equal = bool(np.all(n == n[0]))
    if chart == "np" and not equal:
        raise QualityInputError("sizes vary: an np chart needs one sample size; use the p "
                                "chart for unequal sizes")
    known = None if center is None else check_finite("center", center)
    base = baseline(phase1, counts.size, "samples", minimum=1, estimated=known is None)
    rate = _rate(counts, n, base, known, chart)
    binomial = chart in ("p", "np")
    unit_sigma = math.sqrt(rate * (1.0 - rate)) if binomial else math.sqrt(rate)
    if not unit_sigma > 0:
        raise QualityInputError(f"the centre line is {rate:g}: the limits are undefined "
                                "when the baseline has no (or only) nonconforming units")
    if chart in ("np", "c"):
        # The plotted count's own sigma: sqrt(n p (1 - p)) or sqrt(c).
        points, mean, point_sigma = counts, rate * n, unit_sigma * np.sqrt(n)
        sd = float(point_sigma[0])
    else:
        points, mean, point_sigma = counts / n, np.full(n.size, rate), unit_sigma / np.sqrt(n)
        sd = unit_sigma
    lcl_points = np.maximum(mean - 3.0 * point_sigma, 0.0)
    ucl_points = mean + 3.0 * point_sigma
    notes: tuple[str, ...] = ()
    if equal:
        lcl, ucl = float(lcl_points[0]), float(ucl_points[0])
    else:
        average = float(np.mean(n))
        at_average = unit_sigma / math.sqrt(average)
        lcl, ucl = max(rate - 3.0 * at_average, 0.0), rate + 3.0 * at_average
        notes = (f"sample sizes vary: each point has its own limits (lcl_points, "
                 f"ucl_points); lcl and ucl are those at the average size {average:g}",)
    return Built(
        points=points, center=float(mean[0]) if equal else rate, sigma=sd,
        sigma_method="binomial" if binomial else "poisson", center_given=known is not None,
        point_sigma=point_sigma, lcl=lcl, ucl=ucl, phase1=base,
        lcl_points=None if equal else lcl_points, ucl_points=None if equal else ucl_points,
        sizes=None if chart == "c" else n, notes=notes)


def _rate(counts: FloatArray, n: FloatArray, base: int, known: float | None,
          chart: AttributeChart) -> float:
    """The centre line per unit: p-bar or u-bar (c-bar per sample for c)."""
    if known is None:
        return float(np.sum(counts[:base]) / np.sum(n[:base]))
    if chart == "p" and not 0 < known < 1:
        raise QualityInputError(f"center {known:g} is not valid: expected a proportion "
                                "between 0 and 1")
    if chart == "np":
        if not 0 < known < n[0]:
            raise QualityInputError(f"center {known:g} is not valid: expected a count "
                                    f"between 0 and the sample size {n[0]:g}")
        return known / float(n[0])
    if known <= 0:
        raise QualityInputError(f"center {known:g} is not valid: expected a positive rate")
    return known
