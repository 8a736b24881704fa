"""The statistics of failure patterns against the libraries and published reference results."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import CensoredData, weibull_min
from statsmodels.stats import rates as statsmodels_rates

from thread.analytics.rates import elevated_p, false_discovery, ratio_interval
from thread.analytics.weibull import fit_weibull

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("x1", "e1", "x2", "e2"), [
    (12, 40_000.0, 30, 400_000.0), (3, 10_000.0, 40, 500_000.0), (0, 5_000.0, 9, 80_000.0),
    (25, 100_000.0, 25, 100_000.0),
])
def test_the_exact_test_is_statsmodels_exact_conditional_test(x1: int, e1: float, x2: int,
                                                               e2: float) -> None:
    """The exact test is statsmodels exact conditional test."""
    ours = elevated_p(np.array([x1], float), np.array([e1]), x1 + x2, e1 + e2)[0]
    if x1 == 0:
        assert ours == 1.0
        return
    theirs = statsmodels_rates.test_poisson_2indep(x1, e1, x2, e2, method="exact-cond",
                                                   alternative="larger").pvalue
    assert ours == pytest.approx(theirs, rel=1e-9)


def test_benjamini_hochberg_rejects_what_the_paper_rejects() -> None:
    """Benjamini hochberg rejects what the paper rejects."""
    # Benjamini & Hochberg (1995), section 4: 15 p-values; at q = 0.05 the four smallest
    # hypotheses are rejected (Bonferroni would reject three).
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
         0.4262, 0.5719, 0.6528, 0.7590, 1.000]
    q = false_discovery(p, 0.05)
    assert [bool(value <= 0.05) for value in q] == [True] * 4 + [False] * 11


def test_the_rate_ratio_interval_covers_the_ratio_and_is_unbounded_without_rest_failures(
) -> None:
    """The rate ratio interval covers the ratio and is unbounded without rest failures."""
    low, high = ratio_interval(12, 40_000.0, 30, 400_000.0, 0.95)
    assert low is not None and high is not None
    assert low < (12 / 40_000) / (30 / 400_000) < high
    assert ratio_interval(5, 1_000.0, 0, 9_000.0, 0.95) == (None, None)


def test_the_censored_weibull_fit_agrees_with_scipy_and_reads_the_bathtub() -> None:
    """The censored weibull fit agrees with scipy and reads the bathtub."""
    rng = np.random.default_rng(11)
    for shape, phase in ((0.6, "early-life"), (3.0, "wear-out")):
        life = weibull_min.rvs(shape, scale=2_000.0, size=400, random_state=rng)
        hours = np.minimum(life, 2_500.0)
        failed = life < 2_500.0
        fit = fit_weibull(hours.tolist(), failed.tolist())
        assert fit is not None
        scipy_shape, _, scipy_scale = weibull_min.fit(
            CensoredData(uncensored=hours[failed], right=hours[~failed]), floc=0)
        assert fit.shape == pytest.approx(scipy_shape, rel=2e-3)
        assert fit.scale == pytest.approx(scipy_scale, rel=2e-3)
        assert fit.shape_low < shape < fit.shape_high
        assert fit.phase == phase
        assert (fit.failures, fit.censored) == (int(failed.sum()), int((~failed).sum()))


def test_no_weibull_without_two_failures() -> None:
    """No weibull without two failures."""
    assert fit_weibull([100.0, 200.0, 300.0], [True, False, False]) is None
