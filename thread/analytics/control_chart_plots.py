"""Control charts drawn for a quality engineer to read at a glance.

:func:`control_chart_figure` draws a chart of :func:`thread.analytics.spc.chart_series` with
its limits, 1/2-sigma zones, phase I and II, the rules broken, and the moving-range, range
or standard-deviation chart below it. The x axis is the point number (what ``thread spc``
lists), labelled with the time of each point's last value: points are equally spaced
whatever the gaps between shifts, so runs and trends look like what the rules count.
Needs matplotlib and numpy (the ``analytics`` extra).
"""

from __future__ import annotations

import math
import re
import textwrap
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

from thread.analytics import require

try:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    from matplotlib.transforms import blended_transform_factory
    from numpy.typing import NDArray
except ModuleNotFoundError:  # name the extra to install, not only the module
    require("matplotlib", "numpy")
    raise

from thread.analytics.figures import figure as _figure
from thread.analytics.figures import png
from thread.analytics.spc import ATTRIBUTES, LinkedViolation, SpcChart
from thread.errors import LedgerError

#: Points annotated with their rule ids; the others are marked only, and counted.
ANNOTATED = 10

Floats = NDArray[np.float64]

_VIOLATION = "tab:red"
_CENTRE = "#2b7a2b"
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8}
_LOWER_SUM = "#7b3294"
_LIMIT = "#b2182b"
_POINTS = "#1f4e9c"
#: Zone C (within 1 sigma), B (1 to 2) and A (2 to 3), as the run rules name them.
_ZONES = (("#e3f1e0", "within 1σ"), ("#fbf3cf", "1σ to 2σ"), ("#fbe3da", "2σ to 3σ"))
_NAMES = {
    "i-mr": "Individuals and moving range (I-MR)",
    "xbar-r": "X̄ and R",
    "xbar-s": "X̄ and S",
    "ewma": "EWMA",
    "cusum": "Tabular CUSUM",
    "p": "p (proportion of failed parts)",
    "np": "np (failed parts per sample)",
    "c": "c (failed measurements per sample)",
    "u": "u (failed measurements per part)",
}
_PLOTTED = {
    "i-mr": "individual value",
    "xbar-r": "subgroup mean",
    "xbar-s": "subgroup mean",
    "ewma": "EWMA of the values",
    "cusum": "cumulative sum",
    "p": "proportion failed",
    "np": "failed parts per sample",
    "c": "failed measurements per sample",
    "u": "failed measurements per part",
}
_SPREAD = {"mr": "moving range", "r": "subgroup range", "s": "subgroup std. deviation"}


def control_chart_png(drawn: SpcChart) -> bytes:
    """:func:`control_chart_figure` as PNG bytes."""
    return png(control_chart_figure(drawn))


# -- control charts ------------------------------------------------------------------------

def control_chart_figure(drawn: SpcChart) -> Figure:
    """The chart's points, centre line and limits (stepped where they vary per point),
    1/2-sigma zones (Shewhart charts), phase I and II, and the broken rules in red; the
    dispersion chart below; a CUSUM as its upper and lower sums against ±H."""
    chart = drawn.chart
    if not chart.points:
        raise LedgerError(f"the {chart.chart} chart of {drawn.series.metric} has no points "
                          "to draw")
    primary_broken = [v for v in drawn.violations if ":" not in v.rule]
    spread_broken = [v for v in drawn.violations if ":" in v.rule]
    if chart.dispersion is not None:
        figure = _figure(11.0, 7.6)
        main, lower = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.5))
    else:
        figure = _figure(11.0, 5.8)
        main, lower = figure.subplots(), None
    if chart.chart == "cusum":
        _cusum(main, drawn, primary_broken)
    else:
        _primary(main, drawn, primary_broken)
    _phases(main, drawn, label=True)
    if lower is not None:
        _dispersion(lower, drawn, spread_broken)
        _phases(lower, drawn, label=False)
    _point_axis(lower if lower is not None else main, drawn)
    figure.suptitle(_chart_title(drawn), fontsize=11.5)
    notes = [*chart.notes]
    if drawn.left_out:
        notes.append(f"{drawn.left_out} value(s) left out: without a value, or a last "
                     "subgroup or sample not filled")
    if notes:
        figure.supxlabel("Note: " + "; ".join(notes), fontsize=7.5, color="#555555",
                         x=0.01, ha="left", wrap=True)
    return figure


def _primary(ax: Axes, drawn: SpcChart, broken: Sequence[LinkedViolation]) -> None:
    chart = drawn.chart
    y = np.asarray(chart.points, dtype=float)
    n = y.size
    edges = np.arange(n + 1) - 0.5
    lcl = _per_point(chart.lcl_points, chart.lcl, n)
    ucl = _per_point(chart.ucl_points, chart.ucl, n)
    floor = 0.0 if chart.chart in ATTRIBUTES else -math.inf
    number = _numbers(drawn)
    zones: list[Any] = []
    if chart.chart != "ewma" and not np.all(np.isnan(ucl)):
        sigma = (ucl - chart.center) / 3  # each point's own: varies with the sample size
        for k, (colour, label) in enumerate(_ZONES):
            for sign in (1, -1):
                inner = chart.center + sign * k * sigma
                outer = chart.center + sign * (k + 1) * sigma
                ax.stairs(np.maximum(outer, floor), edges, baseline=np.maximum(inner, floor),
                          fill=True, color=colour, linewidth=0, zorder=0)
            zones.append(Patch(color=colour, label=f"zone {label}"))
    for bound in (ucl, lcl):
        if not np.all(np.isnan(bound)):
            ax.stairs(bound, edges, baseline=None, color=_LIMIT, linewidth=1.3,
                      linestyle="--", zorder=2)
    ax.axhline(chart.center, color=_CENTRE, linewidth=1.2, zorder=2)
    handles: list[Any] = [
        _plot_points(ax, y, _PLOTTED[chart.chart]),
        Line2D([], [], color=_CENTRE, label=f"centre line {number(chart.center)}"
                                            f"{_suffix(drawn)} ({chart.center_method})"),
        Line2D([], [], color=_LIMIT, linestyle="--", label=_limit_label(drawn, number)),
        *zones]
    ax.set_xlim(edges[0], edges[-1])
    _pad(ax, floor)
    at = _rules_at(broken, n)
    handles += _mark(ax, [(i, float(y[i])) for i in at], at, broken, n, chart.center,
                     floor=floor)
    ax.set_ylabel(_PLOTTED[chart.chart] + _suffix(drawn, bracket=True))
    _finish(ax, handles)


def _cusum(ax: Axes, drawn: SpcChart, broken: Sequence[LinkedViolation]) -> None:
    """Upper sums above zero, lower sums drawn below it (as Minitab does), against ±H."""
    chart = drawn.chart
    upper = np.asarray(chart.points, dtype=float)
    lower = np.asarray(chart.lower_points or [0.0] * upper.size, dtype=float)
    h = chart.ucl if chart.ucl is not None else math.nan
    size = _marker(upper.size)
    number = _numbers(drawn)
    x = np.arange(upper.size)
    ax.axhline(0.0, color=_CENTRE, linewidth=1.0, zorder=2)
    for bound in (h, -h):
        ax.axhline(bound, color=_LIMIT, linestyle="--", linewidth=1.3, zorder=2)
    k = chart.parameters.get("k", math.nan)
    h_sigmas = chart.parameters.get("h", math.nan)
    handles: list[Any] = [
        ax.plot(x, upper, color=_POINTS, marker="o", markersize=size, linewidth=1.0, zorder=3,
                label="upper sum C+ (detects a shift up)")[0],
        ax.plot(x, -lower, color=_LOWER_SUM, marker="s", markersize=size * 0.9,
                linewidth=1.0, zorder=3, label="lower sum C− (detects a shift down),\n"
                                               "drawn below zero")[0],
        Line2D([], [], color=_LIMIT, linestyle="--",
               label=f"decision interval ±H = ±{number(h)}{_suffix(drawn)}\n"
                     f"(h = {h_sigmas:g}σ, reference k = {k:g}σ)"),
        Line2D([], [], color=_CENTRE, label=f"zero: the target μ0 = {number(chart.center)}"
                                            f"{_suffix(drawn)} ({chart.center_method})")]
    ax.set_xlim(-0.5, upper.size - 0.5)
    _pad(ax, -math.inf)
    at = _rules_at(broken, upper.size)
    # A point beyond H is marked on the sum that crossed it (on both, when both did).
    marks = [(i, float(upper[i])) for i in at if upper[i] > h]
    marks += [(i, -float(lower[i])) for i in at if lower[i] > h]
    handles += _mark(ax, marks, at, broken, upper.size, 0.0,
                     pattern="a sum beyond the decision interval H")
    ax.set_ylabel("cumulative sum" + _suffix(drawn, bracket=True))
    _finish(ax, handles)


def _dispersion(ax: Axes, drawn: SpcChart, broken: Sequence[LinkedViolation]) -> None:
    spread = drawn.chart.dispersion
    assert spread is not None
    y = np.array([math.nan if v is None else v for v in spread.points], dtype=float)
    number = _numbers(drawn, spread.center / 2)
    ax.axhline(spread.center, color=_CENTRE, linewidth=1.2, zorder=2)
    for bound in (spread.ucl, spread.lcl):
        ax.axhline(bound, color=_LIMIT, linestyle="--", linewidth=1.3, zorder=2)
    suffix = _suffix(drawn)
    handles: list[Any] = [
        _plot_points(ax, y, _SPREAD[spread.kind]),
        Line2D([], [], color=_CENTRE, label=f"centre line {number(spread.center)}{suffix}"),
        Line2D([], [], color=_LIMIT, linestyle="--",
               label=f"control limits: LCL {number(spread.lcl)}, UCL {number(spread.ucl)}"
                     f"{suffix}")]
    _pad(ax, 0.0)
    at = _rules_at(broken, y.size)
    handles += _mark(ax, [(i, float(y[i])) for i in at], at, broken, y.size, spread.center,
                     floor=0.0)
    ax.set_ylabel(_SPREAD[spread.kind] + _suffix(drawn, bracket=True))
    _finish(ax, handles)


def _plot_points(ax: Axes, y: Floats, label: str) -> Line2D:
    line: Line2D = ax.plot(np.arange(y.size), y, color=_POINTS, marker="o",
                           markersize=_marker(y.size), linewidth=1.0, zorder=3, label=label)[0]
    return line


def _pad(ax: Axes, floor: float) -> None:
    """Room above and below the data for the rule ids; never below ``floor``."""
    low, high = ax.get_ylim()
    room = 0.08 * (high - low)
    ax.set_ylim(max(low - room, floor) if low >= floor else low - room, high + room)


def _rules_at(broken: Sequence[LinkedViolation], count: int) -> dict[int, list[str]]:
    """The ids of the rules each flagged point breaks (without the dispersion prefix)."""
    rules: dict[int, list[str]] = defaultdict(list)
    for v in broken:
        rule = v.rule.split(":")[-1]
        if 0 <= v.index < count and rule not in rules[v.index]:
            rules[v.index].append(rule)
    return dict(sorted(rules.items()))


def _mark(ax: Axes, marks: list[tuple[int, float]], rules: dict[int, list[str]],
          broken: Sequence[LinkedViolation], count: int, centre: float, *,
          floor: float = -math.inf, pattern: str | None = None) -> list[Any]:
    """Red markers on every point that breaks a rule; the rule ids of at most
    :data:`ANNOTATED` of them, spread along the chart, and how many more there are. With one
    rule broken at many points the legend alone names it: the ids would say nothing more."""
    if not marks:
        return []
    xs, ys = [i for i, _ in marks], [v for _, v in marks]
    size = _marker(count)
    ax.plot(xs, ys, linestyle="none", marker="o", markersize=size + 3.5,
            markerfacecolor="none", markeredgecolor=_VIOLATION, markeredgewidth=1.5, zorder=4)
    ax.plot(xs, ys, linestyle="none", marker="o", markersize=size, color=_VIOLATION,
            zorder=5)
    kinds = {rule for ids in rules.values() for rule in ids}
    labels = {index: " ".join(ids) for index, ids in rules.items()}
    shown = _spread_out(labels, count, ax) if len(kinds) > 1 or len(rules) <= ANNOTATED \
        else []
    first = dict(reversed(marks))
    # The ids sit in a band above the data (points at or above the centre line) or below it,
    # joined to their points by thin lines: inside the data they would hide points and be
    # hidden by them. Where nothing is drawn below a floor (counts, ranges) all go above.
    up = {index: first[index] >= centre or math.isfinite(floor) for index in shown}
    low, high = ax.get_ylim()
    room = 0.17 * (high - low)
    ax.set_ylim(low - room if not all(up.values()) else low,
                high + room if any(up.values()) else high)
    band = ax.get_xaxis_transform()
    for turn, index in enumerate(shown):
        # at the ends of the chart the label leans inwards, not over the edge
        lean = "left" if index < 0.05 * count else "right" if index > 0.95 * count else "center"
        level = 0.975 - 0.065 * (turn % 2)
        ax.annotate(labels[index], (index, first[index]),
                    xytext=(index, level if up[index] else 1 - level), textcoords=band,
                    ha=lean, va="top" if up[index] else "bottom", fontsize=7,
                    color=_VIOLATION, zorder=6,
                    arrowprops={"arrowstyle": "-", "color": _VIOLATION, "linewidth": 0.5,
                                "alpha": 0.7, "shrinkA": 1, "shrinkB": 4},
                    bbox=_LABEL_BOX)
    more = len(rules) - len(shown)
    label = f"rule broken at {len(rules)} point(s), {len(broken)} violation(s)"
    if shown and more:
        label += f";\nrule ids shown at {len(shown)}, +{more} more"
    handle = Line2D([], [], linestyle="none", marker="o", color=_VIOLATION, label=label)
    return [handle, *(Patch(color="none", label=text)
                      for text in _rule_texts(broken, pattern))]


def _spread_out(labels: dict[int, str], count: int, ax: Axes) -> list[int]:
    """At most :data:`ANNOTATED` flagged points whose labels do not collide: the first of
    each cluster, left to right, a label's width apart."""
    # The axes take about two thirds of the figure's width once the legend is beside them.
    figure = ax.get_figure(root=True)
    assert figure is not None
    per_point = 0.65 * figure.get_figwidth() * 72 / max(count, 1)
    gap = (4.3 * max(len(text) for text in labels.values()) + 10) / per_point
    shown: list[int] = []
    for index in labels:
        if not shown or index - shown[-1] >= gap:
            shown.append(index)
    if len(shown) > ANNOTATED:  # evenly thinned, keeping the first and the last
        picks = np.linspace(0, len(shown) - 1, ANNOTATED).round().astype(int)
        shown = [shown[i] for i in sorted(set(picks.tolist()))]
    return shown


def _rule_texts(broken: Sequence[LinkedViolation], pattern: str | None) -> list[str]:
    """One legend line per rule broken: its id, how often, and the pattern it looks for."""
    counts: dict[str, int] = defaultdict(int)
    patterns: dict[str, str] = {}
    for v in broken:
        rule = v.rule.split(":")[-1]
        counts[rule] += 1
        patterns.setdefault(rule, pattern or re.sub(r" \((above|below)\)$", "",
                                                    v.description))
    return [textwrap.fill(f"{rule} ×{counts[rule]}: {patterns[rule]}", 46,
                          subsequent_indent="      ")
            for rule in sorted(counts, key=_rule_order)]


def _rule_order(rule: str) -> tuple[str, int]:
    letters = rule.rstrip("0123456789")
    return letters, int(rule[len(letters):] or 0)


def _phases(ax: Axes, drawn: SpcChart, *, label: bool) -> None:
    """A line between phase I (the baseline the limits come from) and phase II."""
    chart = drawn.chart
    n, base = len(chart.points), chart.phase1
    where = blended_transform_factory(ax.transData, ax.transAxes)
    style: dict[str, Any] = {"transform": where, "fontsize": 8, "color": "#333333", "va": "bottom"}
    if 0 < base < n:
        ax.axvline(base - 0.5, color="#333333", linewidth=1.1, linestyle="-.", zorder=2)
        if label:
            ax.text(base - 0.5, 1.01, f"phase I: limits from points 0–{base - 1}  ◀ ",
                    ha="right", **style)
            ax.text(base - 0.5, 1.01, " ▶  phase II: judged against those limits",
                    ha="left", **style)
    elif label and base == 0:
        ax.text(-0.5, 1.01, "phase II: every point judged against the given limits",
                ha="left", **style)
    elif label:
        ax.text(-0.5, 1.01, f"phase I: all {n} points estimate the limits", ha="left",
                **style)


def _point_axis(ax: Axes, drawn: SpcChart) -> None:
    """Point numbers, each with the time of its last value."""
    moments = [drawn.series.points[members[-1]].at.astimezone(UTC)
               for members in drawn.members if members]
    n = len(drawn.chart.points)
    dated = len(moments) == n
    short = dated and (moments[-1] - moments[0]).days < 3

    def tick(value: float, _: int) -> str:
        index = round(value)
        if not 0 <= index < n or abs(value - index) > 1e-6:
            return ""
        if not dated:
            return str(index)
        return f"{index}\n{moments[index]:%m-%d %H:%M}" if short else (
            f"{index}\n{moments[index]:%Y-%m-%d}")

    ax.xaxis.set_major_locator(MaxNLocator(nbins=7, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(tick))
    ax.tick_params(axis="x", labelsize=8)
    what = {"xbar-r": "subgroup", "xbar-s": "subgroup"}.get(
        drawn.chart.chart, "sample" if drawn.chart.chart in ATTRIBUTES else "point")
    if drawn.chart.subgroup_size > 1 and what == "point":
        what = "subgroup"
    ax.set_xlabel(f"{what} number" + (", and the time of its last value (UTC)" if dated
                                     else ""), fontsize=9)


def _finish(ax: Axes, handles: list[Any]) -> None:
    ax.grid(alpha=0.25, linewidth=0.6)
    ax.ticklabel_format(axis="y", useOffset=False)  # 19.995, not 0.005 + 1.999e1
    ax.tick_params(axis="y", labelsize=8)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5,
              frameon=False, borderaxespad=0.0, handlelength=1.8)


def _chart_title(drawn: SpcChart) -> str:
    chart, found = drawn.chart, drawn.series
    scope = ", ".join(f"{name} {value}" for name, value in (
        ("part number", found.part_number), ("revision", found.revision),
        ("machine", found.machine), ("operation", found.operation)) if value)
    name = _NAMES[chart.chart]
    if chart.chart == "ewma":
        name += (f" (λ = {chart.parameters.get('lambda', math.nan):g}, "
                 f"L = {chart.parameters.get('width', math.nan):g})")
    size = f", subgroups of {chart.subgroup_size}" if chart.subgroup_size > 1 else ""
    if chart.chart in ATTRIBUTES and chart.sizes:
        low, high = min(chart.sizes), max(chart.sizes)
        size = f", samples of {low:g}" + (f" to {high:g} parts" if high != low else " parts")
    rules = ", ".join(chart.rules) or "none"
    return (f"{name} chart of {found.metric} — {scope or 'every part'}\n"
            f"{len(chart.points)} points from {len(found.points)} values{size}; sigma "
            f"{chart.sigma:.3g}{_suffix(drawn)} ({chart.sigma_method}); rules: {rules}")


def _per_point(points: list[float] | None, constant: float | None, n: int) -> Floats:
    if points is not None:
        return np.asarray(points, dtype=float)
    return np.full(n, math.nan if constant is None else constant, dtype=float)


def _limit_label(drawn: SpcChart, number: Callable[[float | None], str]) -> str:
    chart = drawn.chart
    limits = f"LCL {number(chart.lcl)}, UCL {number(chart.ucl)}{_suffix(drawn)}"
    if chart.chart == "ewma":
        return f"control limits, widening to\n{limits}"
    if chart.lcl_points is not None or chart.ucl_points is not None:
        return f"control limits of each sample's size;\nat the average size {limits}"
    return f"control limits: {limits}"


def _numbers(drawn: SpcChart, scale: float | None = None) -> Callable[[float | None], str]:
    """A formatter with decimals to a tenth of the plotted statistic's sigma (``scale``)."""
    chart = drawn.chart
    if scale is None:
        scale = chart.statistic_sigma or (
            (chart.ucl - chart.center) / 3 if chart.ucl is not None and chart.lcl is not None
            else chart.sigma)
    return _fixed(scale)


def _fixed(scale: float) -> Callable[[float | None], str]:
    decimals = 2 - math.floor(math.log10(scale)) if scale > 0 and math.isfinite(scale) else 3
    decimals = min(max(decimals, 0), 9)

    def number(value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return "-"
        return f"{value:.{decimals}f}"

    return number


def _unit(drawn: SpcChart) -> str:
    """The unit of the plotted values: none for counts and proportions."""
    if drawn.chart.chart in ATTRIBUTES:
        return ""
    return drawn.series.unit or ""


def _suffix(drawn: SpcChart, *, bracket: bool = False) -> str:
    unit = _unit(drawn)
    if not unit:
        return ""
    return f" ({unit})" if bracket else f" {unit}"


def _marker(count: int) -> float:
    return 4.0 if count <= 80 else 3.0 if count <= 250 else 1.8


# -- capability -----------------------------------------------------------------------------
