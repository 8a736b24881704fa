"""Process capability: how the spread of a stable process compares with its specification.

Indices (Montgomery, *Introduction to Statistical Quality Control*, chapter 8):

* potential (within) capability with the short-term sigma_within:
  ``Cp = (USL - LSL) / 6 sigma_w``, ``Cpu = (USL - mean) / 3 sigma_w``,
  ``Cpl = (mean - LSL) / 3 sigma_w``, ``Cpk = min(Cpu, Cpl)``;
* overall performance with the sample standard deviation s (ddof 1): Pp, Ppu, Ppl, Ppk;
* ``Cpm = (USL - LSL) / (6 sqrt(s^2 + (mean - T)^2))`` (Taguchi), T the target or else the
  midpoint of the specification.

With one limit only the indices of that side exist; Cp, Pp and Cpm are then None.

sigma_within: individuals (``subgroup_size`` 1): average moving range / d2(2); subgroups:
the pooled standard deviation / c4(d + 1) (Minitab's default) or, with ``within_method``,
R-bar/d2(n) or S-bar/c4(n). ``sigma_within=`` gives it.

Confidence intervals (two-sided, at ``confidence``), each an :class:`Interval`:

* ``cp_interval``, ``pp_interval``: chi-square, ``C * sqrt(chi2(a/2, n-1) / (n-1))`` to
  ``C * sqrt(chi2(1-a/2, n-1) / (n-1))`` (Montgomery eq. 8.19);
* ``cpk_interval``, ``cpu_interval``, ``cpl_interval`` and the ``pp*`` ones: Bissell's
  normal approximation ``C (1 -/+ z(1-a/2) sqrt(1 / (9 n C^2) + 1 / (2 (n - 1))))``;
* ``cpm_interval``: chi-square with Boyles' degrees of freedom
  ``nu = n (1 + a^2)^2 / (1 + 2 a^2)``, ``a = (mean - T) / s``.

n is the number of individual values throughout, as in the textbook formulas.

Normality: the Anderson-Darling test with mean and variance estimated (as Minitab's
capability analysis uses; the same statistic and p-value as statsmodels' ``normal_ad``),
normal when p >= 0.05. The indices
above and the expected out-of-specification fractions assume normality; when the test
rejects it, ``warning`` says so and points to the percentile indices.

Percentile indices (ISO 22514-2's percentile method, after Clements), which assume no
distribution: the empirical 0.135 %, 50 % and 99.865 % quantiles (linear interpolation)
take the place of mean -/+ 3 sigma: ``pp_percentile = (USL - LSL) / (P99.865 - P0.135)``,
``ppu_percentile = (USL - P50) / (P99.865 - P50)``,
``ppl_percentile = (P50 - LSL) / (P50 - P0.135)``, ``ppk_percentile`` the smaller. The
outer quantiles need many values (about a thousand or more) to be estimated well; with
fewer they lie close to the extremes of the sample.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from scipy.special import chdtri, log_ndtr, ndtr, ndtri

from thread.quality.base import (
    SUBGROUP_METHODS,
    FloatArray,
    check_finite,
    check_int,
    check_positive,
    finite_array,
    nonzero_sigma,
    one_of,
    sigma_individuals,
    sigma_subgroups,
)
from thread.quality.errors import QualityInputError
from thread.read.result import Model

NORMALITY_ALPHA = 0.05
_TAILS = (0.00135, 0.5, 0.99865)


class Interval(Model):
    """A two-sided confidence interval."""

    low: float
    high: float


class NormalityTest(Model):
    """A test of the hypothesis that the values come from a normal distribution."""

    test: Literal["anderson-darling"]
    statistic: float
    p_value: float
    alpha: float
    #: Not rejected at ``alpha``.
    normal: bool


class Capability(Model):
    """Capability and performance indices with intervals, normality and percentile indices.

    Fractions out of specification are fractions (multiply by 1e6 for PPM): observed in
    the data, and expected under a normal distribution with sigma_within or sigma_overall.
    """

    n: int
    mean: float
    median: float
    lsl: float | None
    usl: float | None
    #: The target used by Cpm: as given, else the midpoint of a two-sided specification.
    target: float | None
    subgroup_size: int
    #: Trailing values that did not fill a subgroup (left out of sigma_within only).
    dropped: int
    confidence: float
    sigma_within: float
    sigma_within_method: str
    sigma_overall: float
    cp: float | None
    cpu: float | None
    cpl: float | None
    cpk: float | None
    pp: float | None
    ppu: float | None
    ppl: float | None
    ppk: float | None
    cpm: float | None
    cp_interval: Interval | None
    cpu_interval: Interval | None
    cpl_interval: Interval | None
    cpk_interval: Interval | None
    pp_interval: Interval | None
    ppu_interval: Interval | None
    ppl_interval: Interval | None
    ppk_interval: Interval | None
    cpm_interval: Interval | None
    percentile_low: float
    percentile_high: float
    pp_percentile: float | None
    ppu_percentile: float | None
    ppl_percentile: float | None
    ppk_percentile: float | None
    observed_out_of_spec: float
    expected_out_of_spec_within: float
    expected_out_of_spec_overall: float
    normality: NormalityTest | None
    warning: str | None


def capability(values: Any, *, lsl: float | None = None, usl: float | None = None,
               target: float | None = None, subgroup_size: int = 1,
               confidence: float = 0.95, sigma_within: float | None = None,
               within_method: str = "pooled") -> Capability:
    """Capability of ``values`` (in time order) against ``lsl`` and/or ``usl``.

    ``subgroup_size`` > 1 cuts the values into consecutive subgroups for sigma_within
    (``within_method``: 'pooled', 'r-bar' or 's-bar'); ``sigma_within`` gives it instead.
    Raises :class:`~thread.quality.errors.QualityInputError` naming the bad input.
    """
    x = finite_array(values, minimum=2)
    low = None if lsl is None else check_finite("lsl", lsl)
    high = None if usl is None else check_finite("usl", usl)
    if low is None and high is None:
        raise QualityInputError("lsl and usl are both missing: expected at least one "
                                "specification limit")
    if low is not None and high is not None and not low < high:
        raise QualityInputError(f"lsl {low:g} is not below usl {high:g}: expected lsl < usl")
    aim = None if target is None else check_finite("target", target)
    if aim is None and low is not None and high is not None:
        aim = (low + high) / 2.0
    level = check_positive("confidence", confidence)
    if not level < 1:
        raise QualityInputError(f"confidence {confidence!r} is not valid: expected a "
                                "number between 0 and 1")
    size = check_int("subgroup_size", subgroup_size, 1, "at least 1")
    within, method, dropped = _within(x, size, sigma_within, within_method)
    n = x.size
    mean = float(np.mean(x))
    overall = nonzero_sigma(float(np.std(x, ddof=1)), "the values")
    potential = _indices(mean, within, low, high)
    performance = _indices(mean, overall, low, high)
    cpm = None
    if low is not None and high is not None and aim is not None:
        cpm = (high - low) / (6.0 * math.sqrt(overall**2 + (mean - aim) ** 2))
    q_low, median, q_high = (float(v) for v in np.quantile(x, _TAILS))
    percentile = _percentile_indices(q_low, median, q_high, low, high)
    normality = _normality(x)
    warning = None
    if normality is not None and not normality.normal:
        warning = (f"the values are not normal (Anderson-Darling p = {normality.p_value:.3g}):"
                   " Cp, Cpk, Pp, Ppk, Cpm and the expected out-of-spec fractions assume "
                   "normality and are misleading; use pp_percentile and ppk_percentile")
    z = float(ndtri(0.5 + level / 2.0))
    return Capability(
        n=n, mean=mean, median=median, lsl=low, usl=high, target=aim, subgroup_size=size,
        dropped=dropped, confidence=level, sigma_within=within, sigma_within_method=method,
        sigma_overall=overall, cp=potential[0], cpu=potential[1], cpl=potential[2],
        cpk=potential[3], pp=performance[0], ppu=performance[1], ppl=performance[2],
        ppk=performance[3], cpm=cpm,
        cp_interval=_chi_square(potential[0], n - 1.0, level),
        cpu_interval=_bissell(potential[1], n, z), cpl_interval=_bissell(potential[2], n, z),
        cpk_interval=_bissell(potential[3], n, z),
        pp_interval=_chi_square(performance[0], n - 1.0, level),
        ppu_interval=_bissell(performance[1], n, z),
        ppl_interval=_bissell(performance[2], n, z),
        ppk_interval=_bissell(performance[3], n, z),
        cpm_interval=_boyles(cpm, n, (mean - aim) / overall if aim is not None else 0.0,
                             level),
        percentile_low=q_low, percentile_high=q_high, pp_percentile=percentile[0],
        ppu_percentile=percentile[1], ppl_percentile=percentile[2],
        ppk_percentile=percentile[3],
        observed_out_of_spec=_observed(x, low, high),
        expected_out_of_spec_within=_expected(mean, within, low, high),
        expected_out_of_spec_overall=_expected(mean, overall, low, high),
        normality=normality, warning=warning)


def _within(x: FloatArray, size: int, given: Any, method: str) -> tuple[float, str, int]:
    """sigma_within, how it was found, and the values left out of it."""
    if method not in SUBGROUP_METHODS:
        raise one_of("within_method", method, SUBGROUP_METHODS)
    if given is not None:
        return check_positive("sigma_within", given), "given", 0
    if size == 1:
        return (nonzero_sigma(sigma_individuals(x, "average-moving-range"), "the values"),
                "average-moving-range", 0)
    count, dropped = divmod(x.size, size)
    if count < 1:
        raise QualityInputError(f"values has {x.size} value(s): expected at least one full "
                                f"subgroup of {size}")
    groups = x[: count * size].reshape(count, size)
    return nonzero_sigma(sigma_subgroups(groups, method), "the subgroups"), method, dropped


Indices = tuple[float | None, float | None, float | None, float | None]


def _indices(mean: float, sigma: float, low: float | None, high: float | None) -> Indices:
    """(C, upper, lower, k-index) for one sigma; None for a side without a limit."""
    upper = None if high is None else (high - mean) / (3.0 * sigma)
    lower = None if low is None else (mean - low) / (3.0 * sigma)
    spread = None if low is None or high is None else (high - low) / (6.0 * sigma)
    sides = [v for v in (upper, lower) if v is not None]
    return spread, upper, lower, min(sides)


def _percentile_indices(q_low: float, median: float, q_high: float, low: float | None,
                        high: float | None) -> Indices:
    def ratio(numerator: float, denominator: float) -> float | None:
        return numerator / denominator if denominator > 0 else None

    upper = None if high is None else ratio(high - median, q_high - median)
    lower = None if low is None else ratio(median - low, median - q_low)
    spread = None if low is None or high is None else ratio(high - low, q_high - q_low)
    sides = [v for v in (upper, lower) if v is not None]
    return spread, upper, lower, min(sides) if sides else None


def _chi_square(index: float | None, freedom: float, level: float) -> Interval | None:
    if index is None:
        return None
    alpha = 1.0 - level
    # chdtri(nu, p) is the chi-square quantile with upper-tail probability p.
    low, high = float(chdtri(freedom, 1.0 - alpha / 2.0)), float(chdtri(freedom, alpha / 2.0))
    return Interval(low=index * math.sqrt(low / freedom), high=index * math.sqrt(high / freedom))


def _bissell(index: float | None, n: int, z: float) -> Interval | None:
    if index is None:
        return None
    if index == 0:
        # The approximation's 1/(9 n C^2) term has no limit at zero.
        return None
    half = z * math.sqrt(1.0 / (9.0 * n * index**2) + 1.0 / (2.0 * (n - 1)))
    ends = sorted((index * (1.0 - half), index * (1.0 + half)))
    return Interval(low=ends[0], high=ends[1])


def _boyles(index: float | None, n: int, offset: float, level: float) -> Interval | None:
    if index is None:
        return None
    freedom = n * (1.0 + offset**2) ** 2 / (1.0 + 2.0 * offset**2)
    return _chi_square(index, freedom, level)


def _observed(x: FloatArray, low: float | None, high: float | None) -> float:
    outside = np.zeros(x.size, dtype=bool)
    if low is not None:
        outside |= x < low
    if high is not None:
        outside |= x > high
    return float(np.mean(outside))


def _expected(mean: float, sigma: float, low: float | None, high: float | None) -> float:
    below = 0.0 if low is None else float(ndtr((low - mean) / sigma))
    above = 0.0 if high is None else float(ndtr((mean - high) / sigma))
    return below + above


def _normality(x: FloatArray) -> NormalityTest | None:
    """Anderson-Darling; None when fewer than 3 values leave it undefined."""
    if x.size < 3:
        return None
    statistic, p_value = anderson_darling(x)
    return NormalityTest(test="anderson-darling", statistic=statistic, p_value=p_value,
                         alpha=NORMALITY_ALPHA, normal=bool(p_value >= NORMALITY_ALPHA))


def anderson_darling(x: FloatArray) -> tuple[float, float]:
    """A^2 for normality with mean and variance estimated, and its p-value.

    ``A^2 = -n - (1/n) sum (2i - 1) [ln Phi(z_(i)) + ln(1 - Phi(z_(n+1-i)))]`` over the
    sorted standardised values; the p-value is D'Agostino and Stephens' (1986, table 4.9)
    for ``A*^2 = A^2 (1 + 0.75/n + 2.25/n^2)``. This is what statsmodels' ``normal_ad``
    computes; written out here because importing statsmodels takes about a second.
    """
    n = x.size
    z = np.sort((x - np.mean(x)) / np.std(x, ddof=1))
    weights = 2.0 * np.arange(1, n + 1) - 1.0
    a2 = float(-n - np.sum(weights * (log_ndtr(z) + log_ndtr(-z[::-1]))) / n)
    adjusted = a2 * (1.0 + 0.75 / n + 2.25 / n**2)
    if adjusted >= 0.6:
        p_value = math.exp(1.2937 - 5.709 * adjusted + 0.0186 * adjusted**2)
    elif adjusted >= 0.34:
        p_value = math.exp(0.9177 - 4.279 * adjusted - 1.38 * adjusted**2)
    elif adjusted >= 0.2:
        p_value = 1.0 - math.exp(-8.318 + 42.796 * adjusted - 59.938 * adjusted**2)
    else:
        p_value = 1.0 - math.exp(-13.436 + 101.14 * adjusted - 223.73 * adjusted**2)
    return a2, p_value
