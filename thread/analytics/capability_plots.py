"""Capability pictures: a characteristic's values against its tolerance, for the design team.

- :func:`capability_figure`: the values against the tolerance, with the fitted normal
  curves and the capability indices;
- :func:`capability_by_machine_figure`: each machine's Cpk with its interval, and the
  tightest tolerance each holds at Cpk 1.33;
- :func:`capability_by_period_figure`: Cpk and Ppk period by period;
- :func:`capability_summary_figure`: every characteristic's Cpk, overall and per machine.

Needs matplotlib and numpy (the ``analytics`` extra).
"""

from __future__ import annotations

import math
import re
import textwrap
from typing import Any

from thread.analytics import require

try:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import blended_transform_factory
    from numpy.typing import NDArray
except ModuleNotFoundError:  # name the extra to install, not only the module
    require("matplotlib", "numpy")
    raise

from thread.analytics.feedback import HELD_AT, CharacteristicFeedback, DesignFeedback
from thread.analytics.figures import figure as _figure
from thread.analytics.figures import number, png
from thread.errors import LedgerError
from thread.quality import Capability

Floats = NDArray[np.float64]

_LABEL_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8}
_LIMIT = "#b2182b"


def capability_png(c: CharacteristicFeedback, *, part_number: str | None = None) -> bytes:
    """:func:`capability_figure` as PNG bytes."""
    return png(capability_figure(c, part_number=part_number))


def capability_by_machine_png(c: CharacteristicFeedback, *,
                              part_number: str | None = None) -> bytes:
    """:func:`capability_by_machine_figure` as PNG bytes."""
    return png(capability_by_machine_figure(c, part_number=part_number))


def capability_figure(c: CharacteristicFeedback, *, part_number: str | None = None) -> Figure:
    """A histogram of the values against the tolerance, each machine's as a coloured step
    line, the normal curves of sigma within and overall, and the indices beside it."""
    figure = _figure(8.8, 4.8)
    ax, side = figure.subplots(1, 2, width_ratios=(2.7, 1))
    side.axis("off")
    values = np.asarray(c.values, dtype=float)
    handles: list[Any] = []
    if values.size:
        edges = _bins(values)
        counts, _, _ = ax.hist(values, bins=edges, color="#c9d3e0", edgecolor="#8fa1b8",
                               linewidth=0.5, zorder=1)
        handles.append(Patch(facecolor="#c9d3e0", edgecolor="#8fa1b8",
                             label=f"all parts (n = {c.n})"))
        for index, (machine, taken) in enumerate(c.values_by_machine.items()):
            if len(c.values_by_machine) < 2:
                break
            ax.hist(np.asarray(taken, dtype=float), bins=edges, histtype="step",
                    color=f"C{index}", linewidth=1.4, zorder=3)
            handles.append(Line2D([], [], color=f"C{index}", linewidth=1.4,
                                  label=f"{machine} (n = {len(taken)})"))
        if c.overall is not None:
            handles += _normal_curves(ax, c.overall, values.size * float(np.diff(edges)[0]),
                                      edges)
        ax.set_ylim(0, max(float(counts.max()), ax.get_ylim()[1]) * 1.1)
    else:
        ax.text(0.5, 0.5, "no measured values (recorded by verdict only)",
                transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
    handles += _tolerance_lines(ax, c, values)
    ax.set_xlabel(f"measured value{f' ({c.unit})' if c.unit else ''}", fontsize=9)
    ax.set_ylabel("parts", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", alpha=0.25, linewidth=0.6)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _indices_panel(side, c, handles)
    spec = _tolerance_text(c)
    figure.suptitle(f"{part_number + ' ' if part_number else ''}characteristic "
                    f"{_characteristic(c)}\n{spec}; {c.n} values, "
                    f"{c.out_of_tolerance:.2%} out of tolerance", fontsize=11.5)
    return figure


def _normal_curves(ax: Axes, found: Capability, scale: float, edges: Floats) -> list[Any]:
    """The normal densities of the mean with sigma within and overall, in parts per bin."""
    low = min(edges[0], found.mean - 4 * found.sigma_overall)
    high = max(edges[-1], found.mean + 4 * found.sigma_overall)
    x = np.linspace(low, high, 400)
    handles = []
    for sigma, style, label in ((found.sigma_within, "-", "within"),
                                (found.sigma_overall, "--", "overall")):
        density = np.exp(-0.5 * ((x - found.mean) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        handles.append(ax.plot(x, density * scale, color="#222222", linestyle=style,
                               linewidth=1.4, zorder=4,
                               label=f"normal, σ {label} {sigma:.3g}")[0])
    return handles


def _tolerance_lines(ax: Axes, c: CharacteristicFeedback, values: Floats) -> list[Any]:
    """LSL, USL and nominal as vertical lines named above the plot; the x range covers them."""
    marks = [(c.lsl, "LSL", _LIMIT, "--"), (c.usl, "USL", _LIMIT, "--"),
             (c.nominal, "nominal", "#2b7a2b", "-.")]
    where = blended_transform_factory(ax.transData, ax.transAxes)
    handles: list[Any] = []
    shown = [v for v, *_ in marks if v is not None]
    span = [*shown, *(values.tolist() if values.size else [])]
    if span:
        low, high = min(span), max(span)
        pad = 0.06 * (high - low or abs(high) or 1.0)
        ax.set_xlim(min(ax.get_xlim()[0], low - pad) if values.size else low - pad,
                    max(ax.get_xlim()[1], high + pad) if values.size else high + pad)
    for value, name, colour, style in marks:
        if value is None:
            continue
        if name == "nominal" and value in (c.lsl, c.usl):
            continue  # a one-sided tolerance's nominal is its limit: one line, one name
        ax.axvline(value, color=colour, linestyle=style, linewidth=1.6, zorder=5)
        ax.text(value, 1.01, f"{name}\n{number(value)}", transform=where, ha="center",
                va="bottom", fontsize=8, color=colour)
    if c.lsl is not None or c.usl is not None:
        handles.append(Line2D([], [], color=_LIMIT, linestyle="--", linewidth=1.6,
                              label="tolerance limits"))
    if c.nominal is not None and c.nominal not in (c.lsl, c.usl):
        handles.append(Line2D([], [], color="#2b7a2b", linestyle="-.", linewidth=1.6,
                              label="nominal"))
    return handles


def _indices_panel(ax: Axes, c: CharacteristicFeedback, handles: list[Any]) -> None:
    """The indices as lines of text, Cpk coloured by how it compares with 1.33; the legend
    below them, outside the histogram so it never covers a bar."""
    lines: list[tuple[str, str, bool]] = []  # text, colour, bold
    found = c.overall
    if found is None:
        lines.append(("No capability indices:", "#333333", True))
        lines.append(("no two-sided or one-sided numeric" if c.lsl is None and c.usl is None
                      else "fewer than 3 distinct values", "#333333", False))
    else:
        level = f"{found.confidence:.0%}"
        lines += [(f"Capability ({level} CI)", "#111111", True),
                  (_index("Cp ", found.cp, found.cp_interval), "#111111", False),
                  (_index("Cpk", found.cpk, found.cpk_interval), _tone(found.cpk), True),
                  (_index("Pp ", found.pp, found.pp_interval), "#111111", False),
                  (_index("Ppk", found.ppk, found.ppk_interval), _tone(found.ppk), False)]
        # Cpm's target is the nominal: one at a tolerance limit (0 for a roughness) would
        # make it say nothing about the process.
        if found.cpm is not None and c.nominal not in (c.lsl, c.usl):
            lines.append((_index("Cpm", found.cpm, found.cpm_interval), "#111111", False))
        lines += [(f"σ within  {found.sigma_within:.3g}", "#333333", False),
                  (f"  ({found.sigma_within_method})", "#555555", False),
                  (f"σ overall {found.sigma_overall:.3g}", "#333333", False),
                  ("", "#111111", False)]
        normality = found.normality
        if normality is None:
            lines.append(("Normality: not tested", "#555555", False))
        elif normality.normal:
            lines.append((f"Normal (Anderson-Darling p = {normality.p_value:.2g})", "#1b5e20",
                          False))
        else:
            lines.append((f"NOT normal (Anderson-Darling p = {normality.p_value:.2g}):",
                          "#8a4b00", True))
            lines.append((f"  percentile Ppk = {number(found.ppk_percentile)}", "#8a4b00",
                          False))
        lines += [("", "#111111", False),
                  (f"Out of tolerance: {c.out_of_tolerance:.2%} observed", "#111111", False),
                  (f"  expected {found.expected_out_of_spec_within:.2%} within, "
                   f"{found.expected_out_of_spec_overall:.2%} overall", "#555555", False)]
    if c.held is not None:
        lines += [("", "#111111", False),
                  (f"Held at Cpk {HELD_AT:.2f}: ±{c.held.as_running:.3g}", "#111111", False),
                  (f"  re-centred ±{c.held.centred:.3g}", "#555555", False)]
        half = c.half_width
        if half is not None:
            lines.append((f"  released ±{number(half)}", "#555555", False))
    step = 0.043
    for row, (text, colour, bold) in enumerate(lines):
        ax.text(0.0, 1.0 - row * step, text, transform=ax.transAxes, va="top", ha="left",
                fontsize=8, color=colour, fontweight="bold" if bold else "normal",
                family="DejaVu Sans Mono")
    ax.legend(handles=handles, loc="upper left",
              bbox_to_anchor=(0.0, 1.0 - len(lines) * step - 0.02), fontsize=7.5,
              frameon=False, borderaxespad=0.0)


def capability_by_machine_figure(c: CharacteristicFeedback, *,
                                 part_number: str | None = None) -> Figure:
    """Each machine's Cpk with its interval (and Ppk) against 1.33, beside the tightest
    symmetric tolerance each holds at Cpk 1.33, as running and re-centred."""
    groups = [("all parts", c.n, c.overall, c.held)] + [
        (g.group, g.n, g.capability, g.held) for g in c.by_machine]
    if not any(found is not None for _, _, found, _ in groups):
        raise LedgerError(f"characteristic {c.characteristic} has no capability to draw: "
                          "it needs a numeric tolerance and 3 or more distinct values")
    figure = _figure(8.8, 1.9 + 0.42 * len(groups))
    index_ax, held_ax = figure.subplots(1, 2, sharey=True, width_ratios=(1.25, 1))
    figure.get_layout_engine().set(wspace=0.05)  # type: ignore[union-attr,call-arg]
    y = np.arange(len(groups))[::-1].astype(float)
    for row, (_, _, found, _) in zip(y, groups, strict=True):
        if found is None or found.cpk is None:
            continue
        colour = _tone(found.cpk)
        interval = found.cpk_interval
        if interval is not None:
            index_ax.errorbar([found.cpk], [row], xerr=[[found.cpk - interval.low],
                                                        [interval.high - found.cpk]],
                              fmt="o", color=colour, markersize=6, capsize=4, linewidth=1.6)
        else:
            index_ax.plot([found.cpk], [row], "o", color=colour, markersize=6)
        if found.ppk is not None:
            index_ax.plot([found.ppk], [row - 0.22], "D", markerfacecolor="none",
                          markeredgecolor="#555555", markersize=5)
        index_ax.annotate(f"{found.cpk:.2f}", (found.cpk, row), xytext=(0, 6),
                          textcoords="offset points", ha="center", va="bottom", fontsize=7.5,
                          color=colour, bbox=_LABEL_BOX)
    index_ax.axvline(HELD_AT, color="#1b5e20", linestyle="--", linewidth=1.2)
    index_ax.axvline(1.0, color="#8a4b00", linestyle=":", linewidth=1.2)
    low, high = index_ax.get_xlim()
    index_ax.set_xlim(min(low, 0.0), max(high, HELD_AT * 1.15))
    index_ax.set_yticks(y, [f"{name}\n(n = {n})" for name, n, _, _ in groups], fontsize=8)
    index_ax.set_ylim(y[-1] - 0.7, y[0] + 0.7)
    level = next((found.confidence for _, _, found, _ in groups if found is not None), 0.95)
    index_ax.set_xlabel("capability index", fontsize=8.5)
    index_ax.tick_params(axis="x", labelsize=8)
    index_ax.grid(axis="x", alpha=0.25)
    index_ax.legend(handles=[
        Line2D([], [], color="#555555", marker="o", label=f"Cpk, {level:.0%} interval"),
        Line2D([], [], color="#555555", marker="D", markerfacecolor="none", linestyle="none",
               label="Ppk"),
        Line2D([], [], color="#1b5e20", linestyle="--", label=f"required {HELD_AT:.2f}"),
        Line2D([], [], color="#8a4b00", linestyle=":", label="1.00")],
        loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, fontsize=7.5, frameon=False,
        borderaxespad=0.2, handlelength=1.6, columnspacing=1.2)
    _held_panel(held_ax, c, groups, y)
    figure.suptitle(f"{part_number + ' ' if part_number else ''}characteristic "
                    f"{_characteristic(c)}: capability by machine\n{_tolerance_text(c)}",
                    fontsize=11)
    return figure


def capability_summary_figure(report: DesignFeedback) -> Figure:
    """Every characteristic's Cpk at a glance: all parts with its interval, and each
    machine's, against 1.33 and 1.00."""
    rows = [c for c in report.characteristics if c.overall is not None
            or any(g.capability is not None for g in c.by_machine)]
    if not rows:
        raise LedgerError(f"no characteristic of {report.part_number} has capability indices "
                          "to draw: they need a numeric tolerance and 3 or more distinct values")
    machines = sorted({g.group for c in rows for g in c.by_machine})
    figure = _figure(8.8, 1.6 + 0.55 * len(rows))
    ax = figure.subplots()
    y = np.arange(len(rows))[::-1].astype(float)
    # each machine on its own line under the characteristic's dot, in its histogram colour
    below = 0.5 / (len(machines) + 1)
    handles: list[Any] = []
    right = blended_transform_factory(ax.transAxes, ax.transData)
    for row, c in zip(y, rows, strict=True):
        found = c.overall
        if found is not None and found.cpk is not None:
            interval = found.cpk_interval
            spread = [[found.cpk - interval.low], [interval.high - found.cpk]] if interval \
                else None
            ax.errorbar([found.cpk], [row], xerr=spread, fmt="o", color="#222222",
                        markersize=6.5, capsize=4, linewidth=1.6, zorder=4)
            ax.text(1.01, row, f"{found.cpk:.2f}", transform=right, ha="left", va="center",
                    fontsize=8.5, color=_tone(found.cpk), fontweight="bold")
        for g in c.by_machine:
            if g.capability is not None and g.capability.cpk is not None:
                index = machines.index(g.group)
                ax.plot([g.capability.cpk], [row - below * (index + 1)], marker="v",
                        linestyle="none", color=f"C{index}", markersize=5.5, zorder=3)
    handles.append(Line2D([], [], color="#222222", marker="o",
                          label="all parts: Cpk, 95% interval (value at right)"))
    handles += [Line2D([], [], color=f"C{i}", marker="v", linestyle="none", label=m)
                for i, m in enumerate(machines)]
    ax.axvline(HELD_AT, color="#1b5e20", linestyle="--", linewidth=1.2)
    ax.axvline(1.0, color="#8a4b00", linestyle=":", linewidth=1.2)
    handles += [Line2D([], [], color="#1b5e20", linestyle="--", label=f"{HELD_AT:.2f}"),
                Line2D([], [], color="#8a4b00", linestyle=":", label="1.00")]
    low, high = ax.get_xlim()
    ax.set_xlim(min(low, 0.0), max(high, HELD_AT * 1.15))
    ax.set_yticks(y, [textwrap.fill(_characteristic(c), 28) for c in rows], fontsize=8)
    ax.set_ylim(y[-1] - 0.65, y[0] + 0.45)
    ax.set_xlabel("Cpk (sigma within)", fontsize=8.5)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.25)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0),
              ncol=min(len(handles), 7), fontsize=7.5, frameon=False, borderaxespad=0.2,
              handlelength=1.6, columnspacing=1.2)
    figure.suptitle(f"{report.part_number}: Cpk of each characteristic, all parts and by "
                    "machine", fontsize=11)
    return figure


def capability_by_period_figure(c: CharacteristicFeedback, *, part_number: str | None = None,
                                period: str = "period") -> Figure:
    """Cpk with its interval and Ppk, period by period: whether the capability drifts."""
    groups = [g for g in c.by_period if g.capability is not None
              and g.capability.cpk is not None]
    if not groups:
        raise LedgerError(f"characteristic {c.characteristic} has no {period} with capability "
                          "indices to draw")
    figure = _figure(8.8, 3.6)
    ax = figure.subplots()
    x = np.arange(len(groups), dtype=float)
    for index, g in zip(x, groups, strict=True):
        found = g.capability
        assert found is not None
        assert found.cpk is not None
        colour = _tone(found.cpk)
        interval = found.cpk_interval
        spread = [[found.cpk - interval.low], [interval.high - found.cpk]] if interval else None
        ax.errorbar([index], [found.cpk], yerr=spread, fmt="o", color=colour, markersize=5.5,
                    capsize=3, linewidth=1.4, zorder=3)
        if found.ppk is not None:
            ax.plot([index + 0.18], [found.ppk], "D", markerfacecolor="none",
                    markeredgecolor="#555555", markersize=4.5, zorder=3)
    ax.axhline(HELD_AT, color="#1b5e20", linestyle="--", linewidth=1.2)
    ax.axhline(1.0, color="#8a4b00", linestyle=":", linewidth=1.2)
    low, high = ax.get_ylim()
    ax.set_ylim(min(low, 0.0), max(high, HELD_AT * 1.12))
    names = [g.group.removeprefix("week of ") for g in groups]
    years = {name[:5] for name in names}
    year = ""
    if len(years) == 1 and re.fullmatch(r"\d{4}-", next(iter(years))):  # said once, below
        year, names = f" ({names[0][:4]})", [name[5:] for name in names]
    crowded = len(groups) > 16
    step = math.ceil(len(groups) / 32) if crowded else 1
    ax.set_xticks(x[::step], [name if crowded else f"{name}\nn = {g.n}" for name, g in
                              zip(names[::step], groups[::step], strict=True)],
                  fontsize=7, rotation=90 if crowded else 0)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    what = "week, from its Monday" if period == "week" else period
    ax.set_xlabel(f"{what}{year}" + ("" if crowded else "; n: parts measured"),
                  fontsize=8.5)
    ax.set_ylabel("capability index", fontsize=8.5)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="y", alpha=0.25)
    level = groups[0].capability.confidence if groups[0].capability else 0.95
    ax.legend(handles=[
        Line2D([], [], color="#555555", marker="o", label=f"Cpk, {level:.0%} interval"),
        Line2D([], [], color="#555555", marker="D", markerfacecolor="none", linestyle="none",
               label="Ppk"),
        Line2D([], [], color="#1b5e20", linestyle="--", label=f"{HELD_AT:.2f}"),
        Line2D([], [], color="#8a4b00", linestyle=":", label="1.00")],
        loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, fontsize=7.5, frameon=False,
        borderaxespad=0.2)
    figure.suptitle(f"{part_number + ' ' if part_number else ''}characteristic "
                    f"{_characteristic(c)}: capability {period} by {period}", fontsize=11)
    return figure


def _held_panel(ax: Axes, c: CharacteristicFeedback,
                groups: list[tuple[str, int, Capability | None, Any]], y: Floats) -> None:
    unit = f" ({c.unit})" if c.unit else ""
    for row, (_, _, _, held) in zip(y, groups, strict=True):
        if held is None:
            continue
        ax.barh([row + 0.17], [held.as_running], height=0.32, color="#4c72b0")
        ax.barh([row - 0.17], [held.centred], height=0.32, color="#a6bddb")
        ax.annotate(f"±{held.as_running:.3g}", (held.as_running, row + 0.17), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=7.5, bbox=_LABEL_BOX)
    half = c.half_width
    handles: list[Any] = [Patch(color="#4c72b0", label="as running"),
                          Patch(color="#a6bddb", label="re-centred on the midpoint")]
    if half is not None:
        ax.axvline(half, color=_LIMIT, linestyle="--", linewidth=1.4)
        handles.append(Line2D([], [], color=_LIMIT, linestyle="--",
                              label=f"released ±{number(half)}"))
    ax.set_xlim(0, ax.get_xlim()[1] * 1.15)
    ax.set_xlabel(f"tightest tolerance about the midpoint held at Cpk {HELD_AT:.2f}: "
                  f"± half width{unit}", fontsize=8.5)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.25)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3,
              fontsize=7.5, frameon=False, borderaxespad=0.2)


def _bins(values: Floats) -> Floats:
    """Histogram edges: Freedman-Diaconis width, 8 to 60 bins over the data, and a whole
    number of measuring steps when the values are rounded to a resolution (otherwise
    some bins catch one more step than their neighbours and the histogram turns to a comb)."""
    low, high = float(values.min()), float(values.max())
    span = high - low
    if span == 0:
        return np.array([low - 0.5, low + 0.5]) if low == 0 else np.array(
            [low - abs(low) * 1e-3, low + abs(low) * 1e-3])
    q1, q3 = np.percentile(values, [25, 75])
    width = 2 * (q3 - q1) / values.size ** (1 / 3) if q3 > q1 else span / 20
    width = min(max(width, span / 60), span / 8)
    unique = np.unique(values)
    steps = np.diff(unique)
    resolution = float(steps.min()) if steps.size else 0.0
    if resolution > 0 and unique.size < values.size / 2 and np.allclose(
            steps / resolution, np.round(steps / resolution), atol=1e-3):
        width = max(1, round(width / resolution)) * resolution
        low -= resolution / 2
    count = math.ceil((high - low) / width + 1e-9) + (1 if low == values.min() else 0)
    return np.asarray(low + width * np.arange(max(count, 1) + 1), dtype=float)


# -- text -------------------------------------------------------------------------------------

def _characteristic(c: CharacteristicFeedback) -> str:
    name = f" {c.name}" if c.name else ""
    # "none" is how a design says a characteristic has no special classification
    designator = f" ({c.designator})" if c.designator and c.designator != "none" else ""
    return f"{c.characteristic}{name}{designator}"


def _tolerance_text(c: CharacteristicFeedback) -> str:
    unit = f" {c.unit}" if c.unit else ""
    nominal = f"nominal {number(c.nominal)}{unit}, " if c.nominal is not None else ""
    return nominal + (f"tolerance {c.limits_text}" if c.half_width is not None
                      else f"tolerance: {c.limits_text}")


def _index(name: str, value: float | None, interval: Any) -> str:
    if value is None:
        return f"{name}  -"
    ci = f"  ({interval.low:.2f}–{interval.high:.2f})" if interval is not None else ""
    return f"{name}  {value:.2f}{ci}"


def _tone(value: float | None) -> str:
    """Green at or above 1.33, amber from 1.00, red below."""
    if value is None:
        return "#555555"
    return "#1b5e20" if value >= HELD_AT else "#b26a00" if value >= 1.0 else "#b71c1c"
