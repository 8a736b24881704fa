"""Shewhart charts for measurements: individuals with moving ranges, X-bar with R or S.

Limits are centre +/- 3 sigma of the plotted statistic (Montgomery, *Introduction to
Statistical Quality Control*, chapter 6). The secondary chart of each is built from the
same sigma: a range or standard deviation with mean m*sigma and standard deviation
v*sigma has limits m*sigma +/- 3 v*sigma, the lower one clipped at zero as the tables
print it (m, v = d2, d3 for ranges; c4, sqrt(1 - c4^2) for standard deviations). With
sigma = R-bar/d2 this is exactly D3*R-bar and D4*R-bar; with sigma = S-bar/c4, B3*S-bar
and B4*S-bar.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from thread.quality.base import (
    INDIVIDUAL_METHODS,
    SUBGROUP_METHODS,
    Built,
    Dispersion,
    FloatArray,
    baseline,
    check_finite,
    check_positive,
    finite_array,
    nonzero_sigma,
    one_of,
    sigma_individuals,
    sigma_subgroups,
    subgroups,
)
from thread.quality.constants import c4, d2, d3


def _dispersion(kind: Literal["mr", "r", "s"], points: FloatArray, sigma: float,
                size: int) -> Dispersion:
    if kind == "s":
        mean, spread = c4(size) * sigma, math.sqrt(1.0 - c4(size) ** 2) * sigma
    else:
        mean, spread = d2(size) * sigma, d3(size) * sigma
    return Dispersion(kind=kind, center=mean, lcl=max(0.0, mean - 3.0 * spread),
                      ucl=mean + 3.0 * spread, spread=spread, points=points)


def center_and_sigma(center: Any, sigma: Any) -> tuple[float | None, float | None]:
    """Known standards, checked: a finite centre and a positive sigma (None: estimate)."""
    return (None if center is None else check_finite("center", center),
            None if sigma is None else check_positive("sigma", sigma))


def individuals(values: Any, *, phase1: int | None, center: Any, sigma: Any,
                sigma_method: str | None) -> Built:
    """I-MR: individual values, sigma from their moving ranges."""
    x = finite_array(values)
    known_center, known_sigma = center_and_sigma(center, sigma)
    method = sigma_method or "average-moving-range"
    if method not in INDIVIDUAL_METHODS:
        raise one_of("sigma_method", method, INDIVIDUAL_METHODS)
    base = baseline(phase1, x.size, "individuals", minimum=2 if known_sigma is None else 1,
                    estimated=known_center is None or known_sigma is None)
    mean = float(np.mean(x[:base])) if known_center is None else known_center
    if known_sigma is None:
        sd = nonzero_sigma(sigma_individuals(x[:base], method), "the baseline individuals")
    else:
        sd = known_sigma
    ranges = np.concatenate(([np.nan], np.abs(np.diff(x))))
    return Built(points=x, center=mean, sigma=sd,
                 sigma_method="given" if known_sigma is not None else method,
                 center_given=known_center is not None, point_sigma=np.full(x.size, sd),
                 lcl=mean - 3.0 * sd, ucl=mean + 3.0 * sd, phase1=base,
                 dispersion=_dispersion("mr", ranges, sd, 2))


def subgroup_means(values: Any, *, chart: Literal["xbar-r", "xbar-s"], subgroup_size: int,
                   phase1: int | None, center: Any, sigma: Any,
                   sigma_method: str | None) -> Built:
    """X-bar with R or S: subgroup means, sigma from the subgroups' spread."""
    groups, dropped = subgroups(values, subgroup_size, minimum_size=2, chart=chart)
    count, size = groups.shape
    known_center, known_sigma = center_and_sigma(center, sigma)
    method = sigma_method or ("r-bar" if chart == "xbar-r" else "s-bar")
    if method not in SUBGROUP_METHODS:
        raise one_of("sigma_method", method, SUBGROUP_METHODS)
    base = baseline(phase1, count, "subgroups", minimum=1,
                    estimated=known_center is None or known_sigma is None)
    means = groups.mean(axis=1)
    grand = float(np.mean(means[:base])) if known_center is None else known_center
    if known_sigma is None:
        sd = nonzero_sigma(sigma_subgroups(groups[:base], method), "the baseline subgroups")
    else:
        sd = known_sigma
    spread = sd / math.sqrt(size)
    if chart == "xbar-r":
        dispersion = _dispersion("r", np.ptp(groups, axis=1), sd, size)
    else:
        dispersion = _dispersion("s", np.std(groups, axis=1, ddof=1), sd, size)
    return Built(points=means, center=grand, sigma=sd,
                 sigma_method="given" if known_sigma is not None else method,
                 center_given=known_center is not None, point_sigma=np.full(count, spread),
                 lcl=grand - 3.0 * spread, ucl=grand + 3.0 * spread, phase1=base,
                 subgroup_size=size, dropped=dropped, dispersion=dispersion,
                 notes=dropped_note(dropped, size))


def dropped_note(dropped: int, size: int) -> tuple[str, ...]:
    """Say so when the last values did not fill a subgroup."""
    if not dropped:
        return ()
    return (f"the last {dropped} value(s) did not fill a subgroup of {size} and were left "
            "out",)
