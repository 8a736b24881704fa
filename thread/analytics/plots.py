"""Pictures of a failure investigation, for a quality engineer to read at a glance.

Four figures, each a matplotlib :class:`~matplotlib.figure.Figure` drawn on the
non-interactive Agg canvas (never pyplot's global figure manager, so plotting is
safe in a server or a test run):

- :func:`rates_with_condition`: failure rate per machine and production week, above
  the condition trace of the finding's machine on the same time axis;
- :func:`nevada_chart`: the warranty chart, production month by month in service;
- :func:`weibull_plot`: groups of field lives on Weibull probability paper, with fits;
- :func:`before_after`: a corrective action's effect on the machine's rate.

:func:`save` writes any of them as PNG or SVG. Rates are in failures per million
unit-hours (:mod:`thread.analytics.rates`). Needs the ``analytics`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from thread.analytics import require

try:
    import matplotlib as mpl
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator
    from numpy.typing import NDArray
    from statsmodels.duration.survfunc import SurvfuncRight
    from statsmodels.stats.rates import confint_poisson
except ModuleNotFoundError:  # name the extra to install, not only the module
    require("matplotlib", "numpy", "scipy", "statsmodels")
    raise

from thread.analytics.patterns import FailurePatterns, Finding
from thread.analytics.rates import PER, ratio_interval
from thread.analytics.weibull import fit_weibull
from thread.errors import LedgerError
from thread.read.conditions import ConditionSeries

if TYPE_CHECKING:
    from thread.ledger import Ledger

#: Resolution of every figure: sharp enough to print in a report at its drawn size.
DPI = 150
#: What :func:`save` writes, by suffix.
FORMATS = {".png": "png", ".svg": "svg"}
RATE_LABEL = "failures per 10⁶ unit-hours"
#: The fraction failed by the Weibull scale (characteristic life), whatever the shape.
_AT_SCALE = 1 - math.exp(-1)
#: Cumulative fractions failed marked on the Weibull axis.
_WEIBULL_TICKS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, _AT_SCALE, 0.8, 0.9, 0.99)
_FINDING_COLOUR = "tab:red"

#: One group of field lives for :func:`weibull_plot`: its label, each part's operating
#: hours, and whether it failed then (False: still running, right-censored).
Lives = tuple[str, Sequence[float], Sequence[bool]]


class RateSample(NamedTuple):
    """Failures over an exposure, for :func:`before_after`."""

    label: str
    failures: int
    unit_hours: float


def save(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as PNG or SVG, chosen by the suffix of ``path``; returns the path."""
    target = Path(path)
    kind = FORMATS.get(target.suffix.lower())
    if kind is None:
        what = repr(target.suffix) if target.suffix else "a file without a suffix"
        raise LedgerError(f"cannot save a picture as {what} ({target}); name the file "
                          f"{' or '.join(FORMATS)}")
    # SVG text stays text (searchable, selectable in a report), and without a date or
    # random ids the same figure gives the same bytes, so its digest can be recorded.
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "thread"}):
        figure.savefig(target, format=kind, dpi=DPI,
                       metadata={"Date": None} if kind == "svg" else None)
    return target


def rates_with_condition(patterns: FailurePatterns, series: ConditionSeries,
                         finding: Finding | None = None) -> Figure:
    """Failure rate per machine and production week above ``series`` (the condition of
    ``finding``'s machine), with the finding's window shaded (None: no window marked)."""
    if finding is not None:
        _span(finding)  # refuses a finding without a production window
        if finding.machine != series.machine:
            raise LedgerError(f"finding {finding.id} is on {finding.machine} but the condition "
                              f"trace is of {series.machine}; read the trace of "
                              f"{finding.machine}")
    if not patterns.weekly:
        raise LedgerError(f"no production weeks of {patterns.part_number} to draw")
    figure = _figure(11.0, 7.5)
    rates, condition = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    colours = {machine: f"C{index}" for index, machine
               in enumerate(sorted({w.machine for w in patterns.weekly}))}
    _weekly_rates(rates, patterns, colours, finding)
    _condition_trace(condition, series, colours.get(series.machine, "tab:blue"), finding)
    figure.suptitle(f"{patterns.part_number}: field-failure rate by machine and production "
                    f"week, and {series.machine}'s {_words(series.metric)}\n"
                    f"(field data to {patterns.at:%Y-%m-%d}; {patterns.units} parts, "
                    f"{patterns.failures} failures)", fontsize=12)
    return figure


def _weekly_rates(ax: Axes, patterns: FailurePatterns, colours: dict[str, str],
                  finding: Finding | None) -> None:
    """One step line per machine; weeks the machine made nothing in service stay blank."""
    weeks = sorted({w.week for w in patterns.weekly})
    grid = [weeks[0] + timedelta(weeks=i)
            for i in range((weeks[-1] - weeks[0]).days // 7 + 2)]
    for machine, colour in colours.items():
        rate = {w.week: w.rate for w in patterns.weekly if w.machine == machine}
        values = np.array([rate.get(week) for week in grid[:-1]], dtype=float)  # None: nan
        marked = finding is not None and finding.machine == machine
        ax.stairs(values, _moments(grid), baseline=None, label=machine, color=colour,
                  linewidth=2.4 if marked else 1.4, zorder=3 if marked else 2)
    if patterns.rate is not None:
        ax.axhline(patterns.rate, color="grey", linestyle=":", linewidth=1.2,
                   label=f"all parts: {_number(patterns.rate)}")
    if finding is not None:
        _shade(ax, finding, _finding_text(finding, patterns.confidence))
    ax.set_ylim(0, ax.get_ylim()[1] * 1.08)  # room for the finding's name above the lines
    ax.set_ylabel(f"failure rate\n({RATE_LABEL})")
    ax.set_title("Field-failure rate of the parts made each week, by machine", loc="left",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="machine",
              title_fontsize=8)


def _condition_trace(ax: Axes, series: ConditionSeries, colour: str,
                     finding: Finding | None) -> None:
    """Window means and maxima of the metric in its machine's colour, its threshold dashed."""
    middle = _moments([p.start + (p.end - p.start) / 2 for p in series.points])
    unit = f" ({series.unit})" if series.unit else ""
    if series.points:
        ax.plot(middle, [p.mean for p in series.points], color=colour, linewidth=1.6,
                label="window mean")
        ax.plot(middle, [p.max for p in series.points], color=colour, linewidth=0.9,
                linestyle="-.", alpha=0.7, label="window maximum")
    else:
        ax.text(0.5, 0.5, f"no {_words(series.metric)} recorded on {series.machine}",
                transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
    thresholds = [np.nan if p.threshold is None else p.threshold for p in series.points]
    if not np.all(np.isnan(thresholds)):
        ax.plot(middle, thresholds, color="black", linestyle="--", linewidth=1.2,
                drawstyle="steps-mid", label="alarm threshold")
    if finding is not None:
        _shade(ax, finding, None)
    ax.set_ylabel(f"{_words(series.metric)}{unit}")
    ax.set_xlabel("production date (UTC)")
    ax.set_title(f"{series.machine} {_words(series.metric)} per condition window", loc="left",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    # ISO dates, as the finding names its window
    ax.xaxis.set_major_locator(AutoDateLocator(maxticks=9))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]


def _shade(ax: Axes, finding: Finding, legend: str | None) -> None:
    start, end = _moments(_span(finding))
    ax.axvspan(start, end, color=_FINDING_COLOUR, alpha=0.12, zorder=1,
               label=legend or f"finding: {_window(finding)}")
    if legend is not None:  # the panel that explains the finding also names it on the span
        ax.text(start + (end - start) / 2, 0.98, f"finding {finding.rank}",
                transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8,
                color=_FINDING_COLOUR, fontweight="bold")


def _finding_text(finding: Finding, confidence: float) -> str:
    ratio = "ratio not bounded" if finding.rate_ratio is None else (
        f"{finding.rate_ratio:.1f}× the rest")
    if finding.ci_low is not None and finding.ci_high is not None:
        ratio += f" ({confidence:.0%} CI {finding.ci_low:.1f}–{finding.ci_high:.1f})"
    return (f"finding {finding.rank}: {_window(finding)}\n"
            f"rate {_number(finding.rate)} vs {_number(finding.rest_rate)} for the rest\n"
            f"{ratio}\nq = {finding.q_value:.2g} (false-discovery adjusted)")


def nevada_chart(patterns: FailurePatterns) -> Figure:
    """The warranty chart: failures per 100 parts at risk by production month (rows) and
    month in service (columns), each cell annotated failures/at risk; blank: none at risk."""
    chart = patterns.nevada
    if not chart.periods:
        raise LedgerError(f"no part of {patterns.part_number} is in service; no warranty "
                          "chart to draw")
    failures = np.array(chart.failures, dtype=float)
    at_risk = np.array(chart.at_risk, dtype=float)
    share = np.ma.masked_where(at_risk == 0, np.divide(
        failures * 100, at_risk, out=np.zeros_like(failures), where=at_risk > 0))
    rows, columns = failures.shape
    figure = _figure(max(7.0, 2.5 + 0.75 * columns), 2.4 + 0.6 * rows)
    ax = figure.subplots()
    cmap = mpl.colormaps["YlOrRd"].with_extremes(bad="white")
    image = ax.imshow(share, cmap=cmap, aspect="auto", vmin=0)
    top = float(share.max()) if share.count() else 1.0
    for row in range(rows):
        for column in range(columns):
            if at_risk[row, column]:
                dark = share[row, column] > 0.6 * top
                ax.text(column, row, f"{failures[row, column]:.0f}/{at_risk[row, column]:.0f}",
                        ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set_xticks(range(columns), [str(m + 1) for m in range(columns)])
    ax.set_yticks(range(rows), [f"{period}\n({int(at_risk[i, 0])} in service)"
                                for i, period in enumerate(chart.periods)], fontsize=8)
    ax.set_xlabel("month in service")
    ax.set_ylabel("production month")
    ax.set_xticks(np.arange(columns + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="lightgrey", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    figure.colorbar(image, ax=ax, label="failures per 100 parts at risk", shrink=0.9)
    ax.set_title(f"{patterns.part_number} warranty (Nevada) chart: failures / parts at risk "
                 f"by month in service\n(field data to {patterns.at:%Y-%m-%d}; blank: no part "
                 "has been in service that long)", fontsize=11)
    return figure


def weibull_plot(groups: Sequence[Lives], *, title: str = "Weibull plot of field life",
                 confidence: float = 0.95) -> Figure:
    """Each group's failures on Weibull paper (Kaplan-Meier positions, running parts
    censored) with its maximum-likelihood line; shape and scale in the legend."""
    figure = _figure(9.0, 7.0)
    ax = figure.subplots()
    lowest, highest = 1.0, 0.0
    for index, (label, hours, failed) in enumerate(groups):
        colour = f"C{index}"
        h, d = np.asarray(hours, dtype=float), np.asarray(failed, dtype=bool)
        h, d = h[h > 0], d[h > 0]
        times, fraction = _positions(h, d)
        fit = fit_weibull(h.tolist(), d.tolist(), confidence=confidence)
        ax.plot(times, _weibull_y(fraction), "o", color=colour, markersize=4, alpha=0.8,
                label=f"{label}: {int(d.sum())} failed, {int((~d).sum())} running"
                      + ("" if fit else " (too few failures to fit)"))
        if len(fraction):
            lowest, highest = min(lowest, fraction.min()), max(highest, fraction.max())
        if fit is None:
            continue
        span = np.geomspace(h.min() / 2, h.max() * 2, 100)
        ax.plot(span, fit.shape * np.log(span / fit.scale), color=colour, linewidth=1.4,
                label=(f"{label} fit: β = {fit.shape:.2f} ({fit.shape_low:.2f}–"
                       f"{fit.shape_high:.2f}), η = {fit.scale:,.0f} h ({fit.phase})"))
    low, high = max(lowest / 2, 1e-4), min(max(highest, 0.7) + (1 - highest) / 2, 0.999)
    ax.set_ylim(_weibull_y(np.array([low, high])).tolist())
    ticks = [t for t in _WEIBULL_TICKS if low <= t <= high]
    ax.set_yticks(_weibull_y(np.array(ticks)).tolist(),
                  [f"{t * 100:.3g} %" + (" = η" if t == _AT_SCALE else "") for t in ticks])
    ax.axhline(0.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    ax.set_xlabel("operating hours at failure (log scale)")
    ax.set_ylabel("cumulative fraction failed (Weibull scale)")
    ax.grid(which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{title}\npoints: Kaplan-Meier, running parts censored; lines: maximum-"
                 f"likelihood fit,\nβ shape with its {confidence:.0%} CI, η scale (characteristic "
                 "life)", fontsize=11)
    return figure


def _positions(hours: NDArray[np.float64], failed: NDArray[np.bool_]
               ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Failure times and their fractions failed: the middle of each Kaplan-Meier step, so
    the last failure of a group that all failed stays on the paper (F below 1)."""
    if not failed.any():
        return np.zeros(0), np.zeros(0)
    survival = SurvfuncRight(hours, failed.astype(int))
    after = np.asarray(survival.surv_prob, dtype=float)
    before = np.concatenate(([1.0], after[:-1]))
    return np.asarray(survival.surv_times, dtype=float), 1 - (before + after) / 2


def _weibull_y(fraction: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.log(-np.log1p(-fraction)), dtype=float)


def before_after(before: RateSample, after: RateSample, *, title: str,
                 rest: RateSample | None = None, confidence: float = 0.95) -> Figure:
    """A corrective action's effect: the rate before and after with exact Poisson intervals,
    against ``rest`` (the rest of the population, a band) when given."""
    figure = _figure(8.0, 6.0)
    ax = figure.subplots()
    for x, sample in enumerate((before, after)):
        rate, low, high = _rate_interval(sample, confidence)
        ax.errorbar([x], [rate], yerr=[[rate - low], [high - rate]], fmt="o", markersize=8,
                    capsize=8, linewidth=1.6, color="tab:blue")
        ax.annotate(f"{_number(rate)}\n({confidence:.0%} CI {_number(low)}–{_number(high)})\n"
                    f"{sample.failures} failures in {sample.unit_hours:,.0f} unit-hours",
                    (x, rate), xytext=(14, 4), textcoords="offset points", va="bottom",
                    fontsize=8, bbox={"boxstyle": "round", "fc": "white", "ec": "none",
                                      "alpha": 0.8})
    if rest is not None:
        rate, low, high = _rate_interval(rest, confidence)
        ax.axhspan(low, high, color="grey", alpha=0.15, zorder=0)
        ax.axhline(rate, color="grey", linestyle="--", linewidth=1.2, zorder=0,
                   label=f"{rest.label}: {_number(rate)} ({confidence:.0%} CI "
                         f"{_number(low)}–{_number(high)}), {rest.failures} failures")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xticks([0, 1], [before.label, after.label])
    ax.set_xlim(-0.5, 1.9)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(f"failure rate ({RATE_LABEL})")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title + _change(before, after, confidence), fontsize=11)
    return figure


def _change(before: RateSample, after: RateSample, confidence: float) -> str:
    """The rate ratio after / before with its interval, as a second title line."""
    low, high = ratio_interval(after.failures, after.unit_hours, before.failures,
                               before.unit_hours, confidence)
    if low is None or high is None or not before.failures:
        return ""
    ratio = (after.failures / after.unit_hours) / (before.failures / before.unit_hours)
    return f"\nrate ratio after / before: {ratio:.2f} ({confidence:.0%} CI {low:.2f}–{high:.2f})"


def _rate_interval(sample: RateSample, confidence: float) -> tuple[float, float, float]:
    """Rate and exact Poisson interval, in failures per million unit-hours."""
    if sample.unit_hours <= 0:
        raise LedgerError(f"{sample.label} has no unit-hours in service; no rate to draw")
    low, high = confint_poisson(sample.failures, sample.unit_hours, method="exact-c",
                                alpha=1 - confidence)
    return (sample.failures / sample.unit_hours * PER, float(low) * PER, float(high) * PER)


def _figure(width: float, height: float) -> Figure:
    # whole tenths of an inch: whole pixels at DPI, so the PNG is exactly the drawn size
    figure = Figure(figsize=(round(width, 1), round(height, 1)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _span(finding: Finding) -> tuple[datetime, datetime]:
    """The finding's production window ``[start, end)``."""
    if finding.start is None or finding.end is None:
        raise LedgerError(f"finding {finding.id} is about a {finding.parameter} range, not a "
                          "production window; only a machine-window finding can be marked")
    return finding.start, finding.end


def _window(finding: Finding) -> str:
    """The production window as the days it covers (its end is exclusive)."""
    start, end = _span(finding)
    return f"{finding.machine} made {start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}"


def _moments(values: Sequence[datetime]) -> NDArray[np.datetime64]:
    """Moments as UTC datetime64, which matplotlib draws on a date axis."""
    seconds = np.array([round(value.timestamp()) for value in values], dtype=np.int64)
    return seconds.astype("datetime64[s]")


def _number(rate: float) -> str:
    if rate == 0:
        return "0"
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:#.3g}"


def _words(name: str) -> str:
    return name.replace("_", " ")


def investigation_pictures(ledger: Ledger, found: FailurePatterns) -> dict[str, Figure]:
    """The pictures of an investigation: its Nevada chart; for its top finding, the weekly
    failure rates over the machine's condition (when a condition metric is part of its
    evidence) and the Weibull plot of field life inside the finding against the rest."""
    from thread.analytics.patterns import service_lives

    top = found.findings[0] if found.findings else None
    pictures = {"nevada": nevada_chart(found)}
    if top is not None and top.machine is not None:
        metric = next((p.name.split(".")[1] for p in top.parameters
                       if p.name.startswith("condition.")), None)
        if metric is not None:
            series = ledger.condition_series(machine=top.machine, metric=metric)
            pictures["rates"] = rates_with_condition(found, series, top)
    if top is not None:
        units, now = ledger.unit_records(
            part_number=found.part_number, since=found.since, until=found.until,
            as_of=found.as_of.moment if found.as_of else None,
            by=found.as_of.by if found.as_of else "recorded")
        groups: dict[bool, tuple[list[float], list[bool]]] = {True: ([], []), False: ([], [])}
        inside = set(top.serials)
        for unit, life in service_lives(units, now):
            hours, failed = groups[unit.key in inside]
            hours.append(life.hours)
            failed.append(life.failed)
        pictures["weibull"] = weibull_plot(
            [(f"{top.machine} window", *groups[True]), ("rest", *groups[False])],
            title=f"{found.part_number}: field life, finding 1 against the rest")
    return pictures
