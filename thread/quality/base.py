"""What every chart and capability study shares: checked inputs and the sigma estimators.

Every bad input raises :class:`~thread.quality.errors.QualityInputError` with one line
that names the field, the value and what was expected.

The within-subgroup sigma estimators (Montgomery, *Introduction to Statistical Quality
Control*, sections 6.2-6.4; Minitab's "Methods and formulas"):

* ``average-moving-range``: mean of |x_i - x_(i-1)| / d2(2).
* ``median-moving-range``: median of |x_i - x_(i-1)| / 0.954 (sqrt(2) * z(0.75), the median
  of the range of two normal values), robust to a few wild moving ranges.
* ``r-bar``: mean subgroup range / d2(n).
* ``s-bar``: mean subgroup standard deviation / c4(n).
* ``pooled``: sqrt(sum of squared deviations from each subgroup mean / d) / c4(d + 1),
  with d = k (n - 1) degrees of freedom (Minitab's unbiased pooled standard deviation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from thread.quality.constants import MEDIAN_MR_FACTOR, c4, d2
from thread.quality.errors import QualityInputError

FloatArray = NDArray[np.float64]
SigmaMethod = Literal["average-moving-range", "median-moving-range", "r-bar", "s-bar",
                      "pooled"]
INDIVIDUAL_METHODS: tuple[SigmaMethod, ...] = ("average-moving-range", "median-moving-range")
SUBGROUP_METHODS: tuple[SigmaMethod, ...] = ("r-bar", "s-bar", "pooled")


def one_of(field: str, value: object, allowed: Sequence[str]) -> QualityInputError:
    """The error for a value outside a fixed vocabulary."""
    return QualityInputError(f"{field} {value!r} is not one of: {', '.join(allowed)}")


def finite_array(values: Any, field: str = "values", *, minimum: int = 1) -> FloatArray:
    """A one-dimensional float array of at least ``minimum`` finite numbers."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise QualityInputError(f"{field} is not a sequence of numbers: expected numbers "
                                "such as [10.2, 10.4, ...]") from None
    if array.ndim != 1:
        raise QualityInputError(f"{field} has {array.ndim} dimensions: expected a flat "
                                "sequence of numbers")
    if array.size < minimum:
        raise QualityInputError(f"{field} has {array.size} value(s): expected at least "
                                f"{minimum}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise QualityInputError(f"{field}[{bad[0]}] is {array[bad[0]]}: expected a finite "
                                "number")
    return array


def is_nested(values: Any) -> bool:
    if isinstance(values, np.ndarray):
        return values.ndim == 2
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        return False
    first = values[0]
    return isinstance(first, (Sequence, np.ndarray)) and not isinstance(first, (str, bytes))


def subgroups(values: Any, subgroup_size: int, *, minimum_size: int,
              chart: str) -> tuple[FloatArray, int]:
    """Measurements as a (subgroups x size) array and the count of trailing values dropped.

    ``values`` is either a flat sequence in time order, cut into consecutive subgroups of
    ``subgroup_size`` (a trailing incomplete subgroup is dropped and counted), or a
    sequence of equally sized subgroups.
    """
    if is_nested(values):
        sizes = {len(group) for group in values}
        if len(sizes) != 1:
            raise QualityInputError(f"subgroups have sizes {sorted(sizes)}: expected "
                                    "subgroups of one size")
        size = sizes.pop()
        if subgroup_size not in (1, size):
            raise QualityInputError(f"subgroup_size {subgroup_size} disagrees with the "
                                    f"subgroups given, which have {size} values each")
        subgroup_size = size
        flat = finite_array([v for group in values for v in group])
    else:
        flat = finite_array(values)
    check_int("subgroup_size", subgroup_size, minimum_size,
              f"at least {minimum_size} for a {chart} chart")
    count, dropped = divmod(flat.size, subgroup_size)
    if count < 1:
        raise QualityInputError(f"values has {flat.size} value(s): expected at least one "
                                f"full subgroup of {subgroup_size}")
    return flat[: count * subgroup_size].reshape(count, subgroup_size), dropped


def check_int(field: str, value: Any, minimum: int, expected: str) -> int:
    """An integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise QualityInputError(f"{field} {value!r} is not valid: expected an integer, "
                                f"{expected}")
    return int(value)


def check_positive(field: str, value: Any) -> float:
    """A finite number above zero."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise QualityInputError(f"{field} {value!r} is not a number: expected a positive "
                                "number")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise QualityInputError(f"{field} {value!r} is not valid: expected a positive number")
    return number


def check_finite(field: str, value: Any) -> float:
    """A finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise QualityInputError(f"{field} {value!r} is not a number: expected a finite "
                                "number")
    number = float(value)
    if not math.isfinite(number):
        raise QualityInputError(f"{field} {value!r} is not valid: expected a finite number")
    return number


def baseline(phase1: int | None, count: int, unit: str, *, minimum: int,
             estimated: bool) -> int:
    """How many leading points estimate the limits (all when ``phase1`` is None).

    Nothing is estimated when both centre and sigma are given: the baseline is then empty.
    """
    if phase1 is None:
        if estimated and count < minimum:
            raise QualityInputError(f"values gives {count} {unit}: expected at least "
                                    f"{minimum} to estimate the limits")
        return count if estimated else 0
    low = minimum if estimated else 0
    check_int("phase1", phase1, low, f"at least {low} {unit}")
    if phase1 > count:
        raise QualityInputError(f"phase1 {phase1} is larger than the data: expected at most "
                                f"{count} {unit}")
    return int(phase1)


def moving_ranges(x: FloatArray) -> FloatArray:
    """|x_i - x_(i-1)| for i >= 1."""
    return np.abs(np.diff(x))


def sigma_individuals(x: FloatArray, method: str) -> float:
    """Within sigma of individual values from their moving ranges."""
    ranges = moving_ranges(x)
    if method == "average-moving-range":
        return float(np.mean(ranges)) / d2(2)
    if method == "median-moving-range":
        return float(np.median(ranges)) / MEDIAN_MR_FACTOR
    raise one_of("sigma_method", method, INDIVIDUAL_METHODS)


def sigma_subgroups(groups: FloatArray, method: str) -> float:
    """Within sigma from equally sized subgroups (rows of ``groups``)."""
    count, size = groups.shape
    if method == "r-bar":
        ranges = np.ptp(groups, axis=1)
        return float(np.mean(ranges)) / d2(size)
    if method == "s-bar":
        return float(np.mean(np.std(groups, axis=1, ddof=1))) / c4(size)
    if method == "pooled":
        freedom = count * (size - 1)
        squares = float(np.sum((groups - groups.mean(axis=1, keepdims=True)) ** 2))
        return math.sqrt(squares / freedom) / c4(freedom + 1)
    raise one_of("sigma_method", method, SUBGROUP_METHODS)


def nonzero_sigma(sigma: float, what: str) -> float:
    """Refuse a zero sigma, which would make every limit coincide with the centre line."""
    if not sigma > 0:
        raise QualityInputError(f"sigma is {sigma:g}: {what} do not vary; give sigma= "
                                "or a baseline that varies")
    return sigma


@dataclass(frozen=True)
class Dispersion:
    """The secondary chart of a variables chart before rules are applied."""

    kind: Literal["mr", "r", "s"]
    center: float
    lcl: float
    ucl: float
    #: Standard deviation of the plotted range or standard deviation.
    spread: float
    #: NaN where a point has no value (the first moving range).
    points: FloatArray


@dataclass(frozen=True)
class Built:
    """A chart's numbers before rules are applied and before it becomes a result model."""

    points: FloatArray
    center: float
    sigma: float
    sigma_method: str
    center_given: bool
    #: Standard deviation of each plotted point (the zones of the run rules).
    point_sigma: FloatArray
    lcl: float | None
    ucl: float | None
    phase1: int
    subgroup_size: int = 1
    dropped: int = 0
    lcl_points: FloatArray | None = None
    ucl_points: FloatArray | None = None
    lower_points: FloatArray | None = None
    sizes: FloatArray | None = None
    dispersion: Dispersion | None = None
    parameters: tuple[tuple[str, float], ...] = ()
    notes: tuple[str, ...] = ()
