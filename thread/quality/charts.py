"""Control charts: limits, the plotted statistic and the rules it breaks.

:func:`control_chart` builds one of nine charts from measurements or counts:

=========  =============================================  ================================
chart      plotted statistic                              sigma (``sigma_method``)
=========  =============================================  ================================
i-mr       individual values; MR chart below              average-moving-range (default),
                                                          median-moving-range
xbar-r     subgroup means; R chart below                  r-bar (default), s-bar, pooled
xbar-s     subgroup means; S chart below                  s-bar (default), pooled, r-bar
ewma       EWMA of individuals or subgroup means          as i-mr, or r-bar for subgroups
cusum      upper (points) and lower (lower_points) sums   as ewma
p, np      proportion, count nonconforming                binomial, from the centre line
c, u       nonconformities, per unit                      poisson, from the centre line
=========  =============================================  ================================

Phase I and phase II: with ``phase1=None`` every point is in the baseline that estimates
the centre and sigma (a phase I study). With ``phase1=N`` the first N points (individuals,
subgroups or samples) estimate them and the rest are judged against those fixed limits.
A known ``center`` or ``sigma`` replaces the estimate and the result says "given".

Rules (see :mod:`thread.quality.rules`) apply to the plotted statistic with zones from its
own centre and sigma; the secondary (dispersion) chart gets the limit rule only. EWMA and
CUSUM charts are judged by their limits only: a named rule set ('western-electric',
'nelson') is cut to its limit rule with a note, and a run rule asked for by id is refused.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from thread.quality.attributes import attribute_chart
from thread.quality.base import Built, check_int, one_of
from thread.quality.errors import QualityInputError
from thread.quality.memory import cusum, ewma, limit_violations
from thread.quality.rules import Rule, RuleSpec, Violation, evaluate_rules, resolve_rules
from thread.quality.variables import individuals, subgroup_means
from thread.read.result import Model

ChartKind = Literal["i-mr", "xbar-r", "xbar-s", "ewma", "cusum", "p", "np", "c", "u"]
CHARTS: tuple[str, ...] = ("i-mr", "xbar-r", "xbar-s", "ewma", "cusum", "p", "np", "c", "u")


class DispersionChart(Model):
    """The moving-range, range or standard-deviation chart under a variables chart."""

    kind: Literal["mr", "r", "s"]
    center: float
    lcl: float
    ucl: float
    #: One per point of the primary chart; None where there is none (the first MR).
    points: list[float | None]
    violations: list[Violation]


class ControlChart(Model):
    """A control chart: its limits, its plotted points and the rules they break.

    ``sigma`` is the standard deviation the limits are built from: of one measurement for
    variables charts (``i-mr``, ``xbar-*``, ``ewma``, ``cusum``), of one unit for p and u
    charts (``sqrt(p(1-p))``, ``sqrt(u)``; a point's is that over ``sqrt(n_i)``), of the
    plotted count for np and c charts. ``statistic_sigma`` is the plotted statistic's
    (sigma/sqrt(n) for X-bar, the steady-state EWMA sigma), None when it varies per point.

    ``lcl``/``ucl`` are the constant limits: steady-state for EWMA, H for the CUSUM sums
    (``lcl`` None), those at the average sample size for p and u charts with unequal
    sizes. ``lcl_points``/``ucl_points`` give each point's own limits where they vary.
    For the CUSUM ``points`` are the upper sums C+ and ``lower_points`` the lower sums
    C- (both >= 0, as in Montgomery's tabular CUSUM) and ``center`` the target mu0.
    """

    chart: ChartKind
    center: float
    lcl: float | None
    ucl: float | None
    sigma: float
    sigma_method: str
    center_method: Literal["estimated", "given"]
    statistic_sigma: float | None
    #: Points (individuals, subgroups, samples) in the baseline that estimated the limits.
    phase1: int
    subgroup_size: int
    #: Trailing measurements left out because they did not fill a subgroup.
    dropped: int
    points: list[float]
    lcl_points: list[float] | None
    ucl_points: list[float] | None
    lower_points: list[float] | None
    sizes: list[float] | None
    #: The ids of the rules applied, in their order.
    rules: list[str]
    #: Chart parameters: lambda and width (EWMA); k, h, reference_value, decision_interval
    #: (CUSUM, k and h in sigmas of the plotted statistic, the others in data units).
    parameters: dict[str, float]
    violations: list[Violation]
    dispersion: DispersionChart | None
    notes: list[str]

    @property
    def out_of_control(self) -> bool:
        """Whether any point of either chart breaks a rule."""
        return bool(self.violations) or bool(self.dispersion and self.dispersion.violations)

    @property
    def flagged(self) -> list[int]:
        """Indices of the primary chart's points that break a rule, in order."""
        return sorted({v.index for v in self.violations})


def control_chart(values: Any, chart: str = "i-mr", *, subgroup_size: int = 1,
                  phase1: int | None = None, center: float | None = None,
                  sigma: float | None = None, rules: RuleSpec = "western-electric",
                  sizes: Any = None, sigma_method: str | None = None,
                  ewma_lambda: float = 0.2, ewma_width: float = 3.0, cusum_k: float = 0.5,
                  cusum_h: float = 5.0) -> ControlChart:
    """Build a control chart and check its points against the rules.

    ``values``: measurements in time order (cut into consecutive subgroups of
    ``subgroup_size`` for X-bar charts, or given as a list of subgroups), or counts for
    p, np, c and u charts with ``sizes`` (one sample size, or one per point).
    ``rules``: 'western-electric' (default), 'nelson', 'none', a rule id, or a list of
    rule ids and :class:`~thread.quality.rules.Rule` objects with custom parameters.
    ``ewma_lambda`` and ``ewma_width`` (L) shape the EWMA; ``cusum_k`` (reference value)
    and ``cusum_h`` (decision interval) the CUSUM, both in sigmas of the plotted statistic.

    Raises :class:`~thread.quality.errors.QualityInputError` naming the bad input.
    """
    if chart not in CHARTS:
        raise one_of("chart", chart, CHARTS)
    resolved = resolve_rules(rules)
    notes: list[str] = []
    if chart in ("ewma", "cusum"):
        resolved = _limit_rules_only(chart, rules, resolved, notes)
    if sizes is not None and chart not in ("p", "np", "u", "c"):
        raise QualityInputError(f"sizes cannot be given for the {chart} chart: sample sizes "
                                "belong to p, np and u charts")
    if chart in ("i-mr", "p", "np", "c", "u"):
        check_int("subgroup_size", subgroup_size, 1, f"1 for a {chart} chart")
        if subgroup_size != 1:
            raise QualityInputError(f"subgroup_size {subgroup_size} is not valid for a {chart}"
                                    " chart: expected 1 (use xbar-r or xbar-s for subgroups)")
    if sigma_method is not None and chart in ("p", "np", "c", "u"):
        raise QualityInputError(f"sigma_method {sigma_method!r} cannot be given for a {chart} "
                                "chart: its sigma follows from the centre line")
    built = _build(values, chart, subgroup_size=subgroup_size, phase1=phase1, center=center,
                   sigma=sigma, sizes=sizes, sigma_method=sigma_method,
                   ewma_lambda=ewma_lambda, ewma_width=ewma_width, cusum_k=cusum_k,
                   cusum_h=cusum_h)
    if chart in ("ewma", "cusum"):
        violations = limit_violations(built, "ewma" if chart == "ewma" else "cusum",
                                      resolved)
        order: dict[str, int] = {rule.id: place for place, rule in enumerate(resolved)}
        violations.sort(key=lambda v: (v.index, order[v.rule]))
    else:
        z = (built.points - built.center) / built.point_sigma
        violations = evaluate_rules(z, built.points, resolved)
    return ControlChart(
        chart=chart,
        center=built.center, lcl=built.lcl, ucl=built.ucl, sigma=built.sigma,
        sigma_method=built.sigma_method,
        center_method="given" if built.center_given else "estimated",
        statistic_sigma=_statistic_sigma(built, chart), phase1=built.phase1,
        subgroup_size=built.subgroup_size, dropped=built.dropped,
        points=built.points.tolist(), lcl_points=_listed(built.lcl_points),
        ucl_points=_listed(built.ucl_points), lower_points=_listed(built.lower_points),
        sizes=_listed(built.sizes), rules=[rule.id for rule in resolved],
        parameters=dict(built.parameters), violations=violations,
        dispersion=_dispersion(built, resolved), notes=[*built.notes, *notes])


def _build(values: Any, chart: str, *, subgroup_size: int, phase1: int | None, center: Any,
           sigma: Any, sizes: Any, sigma_method: str | None, ewma_lambda: Any,
           ewma_width: Any, cusum_k: Any, cusum_h: Any) -> Built:
    match chart:
        case "i-mr":
            return individuals(values, phase1=phase1, center=center, sigma=sigma,
                               sigma_method=sigma_method)
        case "xbar-r" | "xbar-s":
            return subgroup_means(values, chart=chart, subgroup_size=subgroup_size,
                                  phase1=phase1, center=center, sigma=sigma,
                                  sigma_method=sigma_method)
        case "ewma":
            return ewma(values, subgroup_size=subgroup_size, phase1=phase1, center=center,
                        sigma=sigma, sigma_method=sigma_method, lam=ewma_lambda,
                        width=ewma_width)
        case "cusum":
            return cusum(values, subgroup_size=subgroup_size, phase1=phase1, center=center,
                         sigma=sigma, sigma_method=sigma_method, k=cusum_k, h=cusum_h)
        case _:
            return attribute_chart(values, chart, sizes=sizes,  # type: ignore[arg-type]
                                   phase1=phase1, center=center, sigma=sigma)


def _limit_rules_only(chart: str, asked: RuleSpec, resolved: tuple[Rule, ...],
                      notes: list[str]) -> tuple[Rule, ...]:
    """EWMA and CUSUM points are autocorrelated: only the limit rule keeps its meaning."""
    others = [rule.id for rule in resolved if not rule.is_limit_rule]
    if not others:
        return resolved
    named = isinstance(asked, str) and asked.strip().lower() in ("western-electric", "nelson")
    if not named:
        raise QualityInputError(f"rules {others} do not apply to the {chart} chart: expected "
                                "only the limit rule (WE1 or N1)")
    notes.append(f"the run rules {', '.join(others)} do not apply to the {chart} chart: "
                 "only the limit rule was applied")
    return tuple(rule for rule in resolved if rule.is_limit_rule)


def _statistic_sigma(built: Built, chart: str) -> float | None:
    if chart == "ewma":
        width = dict(built.parameters)["width"]
        assert built.ucl is not None
        return (built.ucl - built.center) / width
    first = float(built.point_sigma[0])
    return first if bool(np.all(built.point_sigma == first)) else None


def _listed(array: np.ndarray[Any, Any] | None) -> list[float] | None:
    return None if array is None else array.tolist()


def _dispersion(built: Built, rules: tuple[Rule, ...]) -> DispersionChart | None:
    spread = built.dispersion
    if spread is None:
        return None
    z = (spread.points - spread.center) / spread.spread
    violations = evaluate_rules(z, spread.points,
                                [rule for rule in rules if rule.is_limit_rule], "dispersion")
    points: list[float | None] = [None if value != value else value
                                  for value in spread.points.tolist()]
    return DispersionChart(kind=spread.kind, center=spread.center, lcl=spread.lcl,
                           ucl=spread.ucl, points=points, violations=violations)
