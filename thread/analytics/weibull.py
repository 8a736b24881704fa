"""A Weibull life model fitted to failures and right-censored survivors.

The likelihood is scipy's Weibull density for failures and its survival function
for parts still running; statsmodels maximises it and gives Wald intervals on the
log scale (so both parameters stay positive). The shape says which part of the
bathtub the group is in: below 1 early-life (infant mortality), about 1 random,
above 1 wear-out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import weibull_min
from statsmodels.base.model import GenericLikelihoodModel

from thread.read.result import Model

Phase = Literal["early-life", "random", "wear-out"]


class WeibullFit(Model):
    """Shape (beta) and scale (eta, operating hours) with their confidence intervals."""

    shape: float
    scale: float
    shape_low: float
    shape_high: float
    scale_low: float
    scale_high: float
    failures: int
    censored: int
    confidence: float

    @property
    def phase(self) -> Phase:
        """Early-life when the whole shape interval is below 1, wear-out when above."""
        if self.shape_high < 1:
            return "early-life"
        if self.shape_low > 1:
            return "wear-out"
        return "random"


class _Censored(GenericLikelihoodModel):  # type: ignore[misc]
    """Weibull log-likelihood in (log shape, log scale) of failures and survivors."""

    def __init__(self, hours: NDArray[np.float64], failed: NDArray[np.bool_]) -> None:
        super().__init__(hours, None, extra_params_names=["log_shape", "log_scale"])
        self.hours, self.failed = hours, failed

    def loglike(self, params: NDArray[np.float64]) -> float:
        shape, scale = np.exp(params)
        logs = np.where(self.failed, weibull_min.logpdf(self.hours, shape, scale=scale),
                        weibull_min.logsf(self.hours, shape, scale=scale))
        return float(np.sum(logs))

    def nloglikeobs(self, params: NDArray[np.float64]) -> Any:
        shape, scale = np.exp(params)
        return -np.where(self.failed, weibull_min.logpdf(self.hours, shape, scale=scale),
                         weibull_min.logsf(self.hours, shape, scale=scale))


def fit_weibull(hours: Sequence[float], failed: Sequence[bool], *, confidence: float = 0.95,
                least_failures: int = 2) -> WeibullFit | None:
    """The maximum-likelihood Weibull of the sample (None: fewer than ``least_failures``
    failures, or no positive hours, so nothing can be fitted)."""
    h = np.asarray(hours, dtype=float)
    d = np.asarray(failed, dtype=bool)
    keep = h > 0
    h, d = h[keep], d[keep]
    if int(d.sum()) < least_failures:
        return None
    start = np.log([1.0, float(h.mean()) * 2])
    model = _Censored(h, d)
    result = model.fit(start_params=start, method="nm", maxiter=4000, disp=0)
    result = model.fit(start_params=result.params, method="bfgs", maxiter=200, disp=0)
    params = np.asarray(result.params, dtype=float)
    try:
        bounds = np.asarray(result.conf_int(alpha=1 - confidence), dtype=float)
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not np.all(np.isfinite(bounds)) or not np.all(np.isfinite(params)):
        return None
    shape, scale = np.exp(params)
    (shape_low, shape_high), (scale_low, scale_high) = np.exp(bounds)
    return WeibullFit(shape=float(shape), scale=float(scale), shape_low=float(shape_low),
                      shape_high=float(shape_high), scale_low=float(scale_low),
                      scale_high=float(scale_high), failures=int(d.sum()),
                      censored=int((~d).sum()), confidence=confidence)
