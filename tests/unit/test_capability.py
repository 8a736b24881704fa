"""Process capability against hand computations, Montgomery's worked examples and scipy.

References: Montgomery, *Introduction to Statistical Quality Control* (6th ed.): the piston
rings of Table 6.3 with specifications 74.000 +/- 0.05 mm (section 6.2: sigma-hat =
R-bar/d2 = 0.0099, Cp = 1.68); section 8.3.5, the confidence interval on Cp (USL 62,
LSL 38, n 20, s 1.75: Cp 2.29, 1.57 <= Cp <= 3.01) and Bissell's interval on Cpk (n 20,
Cpk 1.33: 0.88 <= Cpk <= 1.78).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2, norm
from statsmodels.stats.diagnostic import normal_ad
from test_control_charts import PISTON_RINGS

from thread.quality import QualityInputError, capability, control_chart, d2

pytestmark = pytest.mark.unit


def exactly(mean: float, sd: float, n: int, seed: int = 0) -> list[float]:
    """n values whose sample mean and standard deviation (ddof 1) are exactly these."""
    z = np.random.default_rng(seed).standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    return [float(v) for v in mean + sd * z]


def test_the_indices_by_hand() -> None:
    """4,6,4,6,4,6 in 2..11: MR-bar 2, sigma_w 2/d2(2), s sqrt(1.2), Cpm with T = 6.5.

    Cp = 9 / (6 * 1.77245) = 0.8463, Cpk = 3 / (3 * 1.77245) = 0.5642,
    Pp = 9 / (6 * 1.09545) = 1.3693, Ppk = 3 / (3 * 1.09545) = 0.9129,
    Cpm = 9 / (6 * sqrt(1.2 + 1.5^2)) = 0.8076.
    """
    result = capability([4, 6, 4, 6, 4, 6], lsl=2, usl=11)
    sigma_w = 2 / d2(2)
    assert result.sigma_within == pytest.approx(sigma_w)
    assert result.sigma_within_method == "average-moving-range"
    assert result.sigma_overall == pytest.approx(math.sqrt(1.2))
    assert result.cp == pytest.approx(0.8463, abs=1e-4)
    assert result.cpu == pytest.approx(1.1284, abs=1e-4)
    assert result.cpl == pytest.approx(0.5642, abs=1e-4)
    assert result.cpk == result.cpl
    assert result.pp == pytest.approx(1.3693, abs=1e-4)
    assert result.ppk == pytest.approx(0.9129, abs=1e-4)
    assert result.target == 6.5
    assert result.cpm == pytest.approx(0.8076, abs=1e-4)
    assert (result.n, result.mean, result.median) == (6, 5.0, 5.0)


def test_the_piston_rings_have_montgomerys_cp() -> None:
    """74.000 +/- 0.05 with sigma R-bar/d2: Cp 1.68 (Montgomery rounds sigma to 0.0099)."""
    flat = [value for group in PISTON_RINGS for value in group]
    result = capability(flat, lsl=73.95, usl=74.05, subgroup_size=5, within_method="r-bar")
    assert result.sigma_within == pytest.approx(0.02324 / d2(5))
    assert round(result.sigma_within, 4) == 0.0100
    assert result.cp == pytest.approx(1.68, abs=0.015)
    assert result.sigma_within_method == "r-bar"
    pooled = capability(flat, lsl=73.95, usl=74.05, subgroup_size=5)
    assert pooled.sigma_within_method == "pooled"
    assert pooled.sigma_within == pytest.approx(
        control_chart(PISTON_RINGS, "xbar-s", sigma_method="pooled").sigma)
    assert pooled.cp == pytest.approx(1.68, abs=0.03)


def test_the_cp_interval_is_montgomerys_example() -> None:
    """USL 62, LSL 38, n 20, s 1.75: Cp 2.29 and 1.57 <= Cp <= 3.01 (chi-square)."""
    result = capability(exactly(50.0, 1.75, 20), lsl=38, usl=62, sigma_within=1.75)
    assert round(result.cp or 0, 2) == 2.29
    assert result.cp_interval is not None
    # Montgomery multiplies the rounded 2.29: within 0.01.
    assert result.cp_interval.low == pytest.approx(1.57, abs=0.01)
    assert result.cp_interval.high == pytest.approx(3.01, abs=0.01)
    assert result.pp_interval is not None
    assert (result.pp_interval.low, result.pp_interval.high) == pytest.approx(
        (result.cp_interval.low, result.cp_interval.high))


def test_the_cpk_interval_is_bissells_as_montgomery_prints_it() -> None:
    """n 20, Cpk 1.33: 0.88 <= Cpk <= 1.78 (Bissell's normal approximation)."""
    mean = 62 - 3 * 1.75 * 1.33
    result = capability(exactly(mean, 1.75, 20), lsl=38, usl=62, sigma_within=1.75)
    assert result.cpk == pytest.approx(1.33)
    assert result.cpk_interval is not None
    assert (round(result.cpk_interval.low, 2), round(result.cpk_interval.high, 2)) == (
        0.88, 1.78)
    assert result.ppk_interval is not None
    assert (result.ppk_interval.low, result.ppk_interval.high) == pytest.approx(
        (result.cpk_interval.low, result.cpk_interval.high))


def test_every_interval_follows_its_formula() -> None:
    """Chi-square for Cp/Pp, Bissell for the one-sided and k indices, Boyles for Cpm."""
    values = np.random.default_rng(4).normal(10.3, 0.5, 80)
    result = capability(values, lsl=8.5, usl=12, target=10.0, confidence=0.9)
    n, z = 80, norm.ppf(0.95)
    low_q, high_q = chi2.ppf(0.05, n - 1), chi2.ppf(0.95, n - 1)
    for index, interval in ((result.cp, result.cp_interval), (result.pp, result.pp_interval)):
        assert interval is not None
        assert index is not None
        assert interval.low == pytest.approx(index * math.sqrt(low_q / (n - 1)))
        assert interval.high == pytest.approx(index * math.sqrt(high_q / (n - 1)))
    for index, interval in ((result.cpk, result.cpk_interval), (result.cpu, result.cpu_interval),
                            (result.cpl, result.cpl_interval), (result.ppk, result.ppk_interval),
                            (result.ppu, result.ppu_interval), (result.ppl, result.ppl_interval)):
        assert interval is not None
        assert index is not None
        half = z * math.sqrt(1 / (9 * n * index**2) + 1 / (2 * (n - 1)))
        assert (interval.low, interval.high) == pytest.approx((index * (1 - half),
                                                               index * (1 + half)))
    s = float(np.std(values, ddof=1))
    a = (float(np.mean(values)) - 10.0) / s
    nu = n * (1 + a * a) ** 2 / (1 + 2 * a * a)
    assert result.cpm == pytest.approx(3.5 / (6 * math.sqrt(s * s + (a * s) ** 2)))
    assert result.cpm_interval is not None
    assert result.cpm is not None
    assert result.cpm_interval.low == pytest.approx(result.cpm * math.sqrt(chi2.ppf(0.05, nu) / nu))
    assert result.cpm_interval.high == pytest.approx(
        result.cpm * math.sqrt(chi2.ppf(0.95, nu) / nu))


def test_the_pp_interval_covers_the_true_pp_about_95_percent_of_the_time() -> None:
    """300 normal samples of 25 with true Pp 1.0: coverage within 0.95 +/- 0.05."""
    rng = np.random.default_rng(8)
    covered = 0
    for _ in range(300):
        result = capability(rng.normal(0.0, 1.0, 25), lsl=-3, usl=3)
        assert result.pp_interval is not None
        covered += result.pp_interval.low <= 1.0 <= result.pp_interval.high
    assert abs(covered / 300 - 0.95) < 0.05


def test_one_sided_specifications_give_only_their_side() -> None:
    """Only USL: Cpu, Cpk, Ppu, Ppk; Cp, Cpl, Pp, Cpm and their intervals are None."""
    result = capability([4.0, 6.0, 5.0, 5.5, 4.5], usl=9)
    assert result.cp is None
    assert result.cpl is None
    assert result.pp is None
    assert result.cpm is None
    assert result.cp_interval is None
    assert result.cpm_interval is None
    assert result.target is None
    assert result.cpk == result.cpu
    assert result.ppk == result.ppu
    assert result.ppk_percentile == result.ppu_percentile
    lower_only = capability([4.0, 6.0, 5.0, 5.5, 4.5], lsl=1)
    assert lower_only.cpk == lower_only.cpl
    assert lower_only.cpu is None


def test_normal_data_pass_the_anderson_darling_test_without_a_warning() -> None:
    """200 normal values: the AD statistic by its formula, not rejected, no warning."""
    values = np.random.default_rng(2).normal(5.0, 1.0, 200)
    result = capability(values, lsl=1, usl=9)
    assert result.normality is not None
    assert result.normality.test == "anderson-darling"
    # A^2 = -n - (1/n) sum (2i - 1) [ln F(z_i) + ln(1 - F(z_(n+1-i)))], z with ddof 1.
    z = np.sort((values - values.mean()) / values.std(ddof=1))
    i = np.arange(1, 201)
    a2 = -200 - np.sum((2 * i - 1) * (norm.logcdf(z) + norm.logsf(z[::-1]))) / 200
    assert result.normality.statistic == pytest.approx(a2, rel=1e-9)
    assert result.normality.normal
    assert result.warning is None


@pytest.mark.parametrize(("seed", "n", "skew"), [(1, 5, 0.0), (2, 30, 0.0), (3, 200, 0.0),
                                                  (4, 60, 0.5), (5, 400, 0.2), (6, 1000, 1.0)])
def test_the_anderson_darling_test_agrees_with_statsmodels(seed: int, n: int,
                                                           skew: float) -> None:
    """Statistic and p-value equal statsmodels' normal_ad, normal and skewed samples alike."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(n) + skew * rng.exponential(1.0, n)
    result = capability(values, usl=100.0)
    statistic, p_value = normal_ad(values)
    assert result.normality is not None
    assert result.normality.statistic == pytest.approx(statistic, rel=1e-9)
    assert result.normality.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    assert result.normality.normal == (p_value >= 0.05)


def test_skewed_data_are_flagged_and_the_percentile_indices_take_over() -> None:
    """Exponential values: not normal, a warning naming the percentile indices."""
    values = np.random.default_rng(6).exponential(1.0, 5_000)
    result = capability(values, lsl=-0.5, usl=8.0)
    assert result.normality is not None
    assert not result.normality.normal
    assert result.warning is not None
    assert "ppk_percentile" in result.warning
    q_low, median, q_high = np.quantile(values, [0.00135, 0.5, 0.99865])
    assert result.pp_percentile == pytest.approx(8.5 / (q_high - q_low))
    assert result.ppu_percentile == pytest.approx((8.0 - median) / (q_high - median))
    assert result.ppl_percentile == pytest.approx((median + 0.5) / (median - q_low))
    assert result.ppk_percentile == min(result.ppu_percentile or 0, result.ppl_percentile or 0)
    # The long right tail makes the normal-theory Ppu look better than the data allow.
    assert (result.ppu or 0) > (result.ppu_percentile or 0)


def test_for_normal_data_the_percentile_indices_approach_pp_and_ppk() -> None:
    """200,000 normal values: percentile Pp and Ppk within 4 % of the normal ones."""
    values = np.random.default_rng(9).normal(0.5, 1.0, 200_000)
    result = capability(values, lsl=-4, usl=4)
    assert result.pp_percentile == pytest.approx(result.pp, rel=0.04)
    assert result.ppk_percentile == pytest.approx(result.ppk, rel=0.04)


def test_out_of_specification_fractions_observed_and_expected() -> None:
    """Observed: share outside; expected: normal tails with sigma_within and sigma_overall."""
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    result = capability(values, lsl=1.5, usl=9.0)
    assert result.observed_out_of_spec == pytest.approx(0.2)
    mean, s, w = 5.5, result.sigma_overall, result.sigma_within
    assert result.expected_out_of_spec_overall == pytest.approx(
        norm.cdf((1.5 - mean) / s) + norm.sf((9.0 - mean) / s))
    assert result.expected_out_of_spec_within == pytest.approx(
        norm.cdf((1.5 - mean) / w) + norm.sf((9.0 - mean) / w))
    assert w == pytest.approx(1 / d2(2))


def test_a_trailing_incomplete_subgroup_is_left_out_of_sigma_within_only() -> None:
    """12 values in subgroups of 5: two left out of sigma_within, all 12 in the mean."""
    values = [10.0, 11.0, 9.0, 10.5, 9.5, 10.2, 10.8, 9.9, 10.1, 9.6, 20.0, 0.0]
    result = capability(values, lsl=5, usl=15, subgroup_size=5)
    assert result.dropped == 2
    assert result.n == 12
    groups = np.array(values[:10]).reshape(2, 5)
    assert result.sigma_within == pytest.approx(
        control_chart(groups.tolist(), "xbar-s", sigma_method="pooled").sigma)


def test_the_result_serialises_to_json() -> None:
    """model_dump(mode='json') holds no NaN or infinity."""
    result = capability([4.0, 6.0, 5.0, 5.5, 4.5], usl=9)
    json.dumps(result.model_dump(mode="json"), allow_nan=False)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"values": [1.0], "usl": 2.0}, "values has 1 value"),
    ({"values": [1.0, 2.0, 3.0], "lsl": 5.0, "usl": 5.0}, "lsl 5 is not below usl 5"),
    ({"values": [1.0, 2.0, 3.0]}, "lsl and usl are both missing"),
    ({"values": [1.0, float("nan"), 3.0], "usl": 4.0}, r"values\[1\] is nan"),
    ({"values": [1.0, 2.0, 3.0], "usl": 4.0, "confidence": 1.5}, "confidence 1.5"),
    ({"values": [1.0, 2.0, 3.0], "usl": 4.0, "within_method": "range"}, "within_method"),
    ({"values": [2.0, 2.0, 2.0], "usl": 4.0}, "sigma is 0"),
    ({"values": [1.0, 2.0, 3.0], "usl": float("inf")}, "usl inf is not valid"),
])
def test_bad_input_is_refused_in_one_line(arguments: dict[str, object], message: str) -> None:
    """Each bad input raises QualityInputError with one line naming it."""
    with pytest.raises(QualityInputError, match=message) as caught:
        capability(**arguments)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e3),
       shift=st.floats(-1e4, 1e4), subgroup=st.sampled_from([1, 4]))
def test_the_indices_are_invariant_under_an_affine_change_of_units(
        seed: int, scale: float, shift: float, subgroup: int) -> None:
    """Data and limits mapped by a*x + b (a > 0): every index and interval is unchanged."""
    values = np.random.default_rng(seed).normal(0.0, 1.0, 40)
    base = capability(values, lsl=-3.5, usl=2.5, target=-0.2, subgroup_size=subgroup)
    moved = capability(values * scale + shift, lsl=-3.5 * scale + shift,
                       usl=2.5 * scale + shift, target=-0.2 * scale + shift,
                       subgroup_size=subgroup)
    for name in ("cp", "cpk", "cpu", "cpl", "pp", "ppk", "cpm", "pp_percentile",
                 "ppk_percentile", "observed_out_of_spec", "expected_out_of_spec_within"):
        assert getattr(moved, name) == pytest.approx(getattr(base, name), rel=1e-6, abs=1e-9)
    assert moved.cpk_interval is not None
    assert base.cpk_interval is not None
    assert moved.cpk_interval.low == pytest.approx(base.cpk_interval.low, rel=1e-6)
    assert moved.sigma_within == pytest.approx(base.sigma_within * scale, rel=1e-9)
