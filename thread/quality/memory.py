"""Charts with memory: the EWMA and the tabular CUSUM (Montgomery, chapter 9).

Both plot individual values, or subgroup means when ``subgroup_size`` > 1. Sigma comes
from the moving ranges of the individuals (or R-bar/d2 of the subgroups; the plotted
means then have sigma/sqrt(n)), unless given.

EWMA: ``z_i = lambda * x_i + (1 - lambda) * z_(i-1)``, ``z_0`` the centre. Point i is
judged against its exact limits, centre +/- L * sigma_x * sqrt(lambda / (2 - lambda) *
(1 - (1 - lambda)^(2i))), which widen to the steady-state limits reported as ``lcl`` and
``ucl`` (those NIST's e-Handbook, section 6.3.2.4, uses throughout).

CUSUM: ``C+_i = max(0, x_i - (mu0 + K) + C+_(i-1))`` and
``C-_i = max(0, (mu0 - K) - x_i + C-_(i-1))`` with the reference value ``K = k * sigma_x``
and the decision interval ``H = h * sigma_x`` (k and h in units of the plotted statistic's
sigma; k = 0.5, h = 5 detects a one-sigma shift with an in-control ARL of about 465). A
sum above H signals. Both recursions are evaluated in closed form over the whole array
(a CUSUM is the cumulative sum minus its running minimum), so long series cost no Python
loop.

Only the limit rule (WE1/N1) applies to these charts: their points are not independent,
so the run rules' false-alarm rates do not hold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from thread.quality.base import (
    INDIVIDUAL_METHODS,
    SUBGROUP_METHODS,
    Built,
    FloatArray,
    baseline,
    check_positive,
    finite_array,
    is_nested,
    nonzero_sigma,
    one_of,
    sigma_individuals,
    sigma_subgroups,
    subgroups,
)
from thread.quality.errors import QualityInputError
from thread.quality.rules import Rule, Violation
from thread.quality.variables import center_and_sigma, dropped_note


def _level(values: Any, *, chart: str, subgroup_size: int, phase1: int | None, center: Any,
           sigma: Any, sigma_method: str | None) -> tuple[FloatArray, Built]:
    """The plotted values (individuals or subgroup means) and their centre and sigma."""
    known_center, known_sigma = center_and_sigma(center, sigma)
    estimated = known_center is None or known_sigma is None
    if subgroup_size == 1 and not is_nested(values):
        x = finite_array(values)
        method = sigma_method or "average-moving-range"
        if method not in INDIVIDUAL_METHODS:
            raise one_of("sigma_method", method, INDIVIDUAL_METHODS)
        base = baseline(phase1, x.size, "individuals",
                        minimum=2 if known_sigma is None else 1, estimated=estimated)
        size, dropped = 1, 0
        sd = known_sigma or nonzero_sigma(sigma_individuals(x[:base], method),
                                          "the baseline individuals")
    else:
        groups, dropped = subgroups(values, subgroup_size, minimum_size=2, chart=chart)
        size = groups.shape[1]
        method = sigma_method or "r-bar"
        if method not in SUBGROUP_METHODS:
            raise one_of("sigma_method", method, SUBGROUP_METHODS)
        base = baseline(phase1, groups.shape[0], "subgroups", minimum=1, estimated=estimated)
        x = groups.mean(axis=1)
        sd = known_sigma or nonzero_sigma(sigma_subgroups(groups[:base], method),
                                          "the baseline subgroups")
    mean = float(np.mean(x[:base])) if known_center is None else known_center
    spread = sd / math.sqrt(size)
    level = Built(points=x, center=mean, sigma=sd,
                  sigma_method="given" if known_sigma is not None else method,
                  center_given=known_center is not None, point_sigma=np.full(x.size, spread),
                  lcl=None, ucl=None, phase1=base, subgroup_size=size, dropped=dropped,
                  notes=dropped_note(dropped, size))
    return x, level


def ewma(values: Any, *, subgroup_size: int, phase1: int | None, center: Any, sigma: Any,
         sigma_method: str | None, lam: Any, width: Any) -> Built:
    """The EWMA chart with its exact, time-varying limits."""
    lam = check_positive("ewma_lambda", lam)
    if lam > 1:
        raise QualityInputError(f"ewma_lambda {lam!r} is not valid: expected 0 < lambda <= 1")
    width = check_positive("ewma_width", width)
    x, level = _level(values, chart="ewma", subgroup_size=subgroup_size, phase1=phase1,
                      center=center, sigma=sigma, sigma_method=sigma_method)
    spread = level.point_sigma[0]
    # scipy.signal takes most of a second to import: load it only when an EWMA is drawn.
    from scipy.signal import lfilter

    smoothed = lfilter([lam], [1.0, lam - 1.0], x, zi=[(1.0 - lam) * level.center])[0]
    periods = np.arange(1, x.size + 1, dtype=np.float64)
    point_sigma = spread * np.sqrt(lam / (2.0 - lam) * (1.0 - (1.0 - lam) ** (2.0 * periods)))
    steady = spread * math.sqrt(lam / (2.0 - lam))
    return Built(
        points=np.asarray(smoothed, dtype=np.float64), center=level.center, sigma=level.sigma,
        sigma_method=level.sigma_method, center_given=level.center_given,
        point_sigma=point_sigma, lcl=level.center - width * steady,
        ucl=level.center + width * steady, phase1=level.phase1,
        subgroup_size=level.subgroup_size, dropped=level.dropped,
        lcl_points=level.center - width * point_sigma,
        ucl_points=level.center + width * point_sigma,
        parameters=(("lambda", lam), ("width", width)), notes=level.notes)


def _tabular(excess: FloatArray) -> FloatArray:
    """max(0, previous + excess_i) for every i at once: the sum minus its running minimum."""
    total = np.cumsum(excess)
    return total - np.minimum(np.minimum.accumulate(total), 0.0)


def cusum(values: Any, *, subgroup_size: int, phase1: int | None, center: Any, sigma: Any,
          sigma_method: str | None, k: Any, h: Any) -> Built:
    """The tabular CUSUM: upper sums as points, lower sums as lower_points, H as ucl."""
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 <= k < math.inf:
        raise QualityInputError(f"cusum_k {k!r} is not valid: expected a number >= 0 "
                                "(in units of sigma)")
    h = check_positive("cusum_h", h)
    x, level = _level(values, chart="cusum", subgroup_size=subgroup_size, phase1=phase1,
                      center=center, sigma=sigma, sigma_method=sigma_method)
    spread = float(level.point_sigma[0])
    reference, interval = k * spread, h * spread
    upper = _tabular(x - level.center - reference)
    lower = _tabular(level.center - reference - x)
    return Built(
        points=upper, center=level.center, sigma=level.sigma,
        sigma_method=level.sigma_method, center_given=level.center_given,
        point_sigma=level.point_sigma, lcl=None, ucl=interval, phase1=level.phase1,
        subgroup_size=level.subgroup_size, dropped=level.dropped, lower_points=lower,
        parameters=(("k", float(k)), ("h", h), ("reference_value", reference),
                    ("decision_interval", interval)),
        notes=level.notes)


def _start_of_excursion(sums: FloatArray) -> FloatArray:
    """Index of the first point of the run of nonzero sums that each point belongs to."""
    positions = np.arange(sums.size)
    last_zero = np.maximum.accumulate(np.where(sums == 0.0, positions, -1))
    return last_zero + 1


def limit_violations(built: Built, chart: Literal["ewma", "cusum"],
                     rules: Sequence[Rule]) -> list[Violation]:
    """Points beyond the limits, reported once per limit rule asked for."""
    violations: list[Violation] = []
    if chart == "ewma":
        assert built.lcl_points is not None
        assert built.ucl_points is not None
        above = built.points > built.ucl_points
        below = built.points < built.lcl_points
        for rule in rules:
            for i in np.flatnonzero(above | below).tolist():
                side = "above" if above[i] else "below"
                violations.append(Violation(
                    index=i, rule=rule.id, points=[i], value=float(built.points[i]),
                    description=f"EWMA beyond its control limit ({side})"))
        return violations
    assert built.lower_points is not None
    assert built.ucl is not None
    upper, lower, interval = built.points, built.lower_points, built.ucl
    h = dict(built.parameters)["h"]
    starts = (_start_of_excursion(upper), _start_of_excursion(lower))
    for rule in rules:
        for i in np.flatnonzero((upper > interval) | (lower > interval)).tolist():
            is_upper = bool(upper[i] > interval)
            start = int(starts[0 if is_upper else 1][i])
            # The pattern is the one point beyond H, as for rule 1; how long the sum has
            # been growing (Montgomery's N+ or N-) dates the shift, and goes in the text
            # rather than in ``points``, which would grow with every point of a long shift.
            violations.append(Violation(
                index=i, rule=rule.id, points=[i],
                value=float(upper[i] if is_upper else lower[i]),
                description=(f"{'upper' if is_upper else 'lower'} CUSUM beyond the decision "
                             f"interval H = {h:g} sigma, above zero for {i - start + 1} "
                             f"point(s) since index {start}")))
    return violations
