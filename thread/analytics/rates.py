"""Failure rates with exposure: a group of parts against the rest, many groups at once.

Failures are counted against unit-hours in service (a Poisson rate with exposure).
A group is compared with the rest of the population by the exact conditional test
for two Poisson rates: given the failures of both, the group's count is binomial
with the group's share of the exposure (one-sided: is the group's rate higher?).
The rate ratio's interval is statsmodels' score interval. Many groups are tested
at once, so their p-values are corrected for the false discovery rate
(Benjamini-Hochberg).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binom
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.rates import confint_poisson_2indep

#: Rates are given per million unit-hours (FPMH), the unit reliability engineers quote.
PER = 1_000_000.0
RATE_UNIT = "failures per million unit-hours"


def elevated_p(failures: NDArray[np.float64], hours: NDArray[np.float64],
               total_failures: float, total_hours: float) -> NDArray[np.float64]:
    """One-sided p-values of the exact conditional test that each group's rate is higher
    than the rest's (1 where a group or the rest has no exposure)."""
    rest_hours = total_hours - hours
    n = np.rint(total_failures).astype(np.int64)
    share = np.divide(hours, total_hours, out=np.zeros_like(hours), where=total_hours > 0)
    p = binom.sf(np.rint(failures).astype(np.int64) - 1, n, share)
    return np.where((hours > 0) & (rest_hours > 0) & (failures > 0), p, 1.0)


def false_discovery(p_values: Sequence[float], alpha: float) -> NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (q-values) of ``p_values``."""
    if not len(p_values):
        return np.zeros(0)
    _, q, _, _ = multipletests(np.asarray(p_values, dtype=float), alpha=alpha,
                               method="fdr_bh")
    return np.asarray(q, dtype=float)


def ratio_interval(failures: float, hours: float, rest_failures: float, rest_hours: float,
                   confidence: float) -> tuple[float | None, float | None]:
    """The score interval of the rate ratio group / rest (None where it is unbounded)."""
    if hours <= 0 or rest_hours <= 0 or rest_failures <= 0:
        return None, None
    low, high = confint_poisson_2indep(failures, hours, rest_failures, rest_hours,
                                       method="score", compare="ratio",
                                       alpha=1 - confidence)
    return _finite(low), _finite(high)


def _finite(value: object) -> float | None:
    number = float(np.asarray(value).item())
    return number if np.isfinite(number) else None
