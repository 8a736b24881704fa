"""Small SVG charts for the web app's story page: for each operation, its process parameters
(their raw samples where the record keeps them, else their minimum, mean and maximum) and
its machine's condition metrics on one time axis, the operation's window with a margin,
drawn server-side so a page works with no script and prints as seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from thread.read.conditions import ConditionSeries
from thread.read.story import StoryOperation

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 800, 96, 240, 12, 8, 22
#: How far back a condition window is looked for around an operation (see pages.py).
AROUND = timedelta(hours=1)
#: The margin on each side of an operation on its chart's axis: a tenth of its length, at
#: least this.
MARGIN = timedelta(seconds=30)
#: How far back a condition window may start and still cover the operation.
LOOK_BACK = timedelta(hours=24)
#: The narrowest an operation is drawn, in the chart's units (a 90 s cycle in a two-hour
#: axis would be a hairline).
NARROWEST = 8.0


@dataclass(frozen=True)
class Panel:
    """One row of an operation's chart: a process parameter or a condition metric."""

    label: str
    unit: str
    #: (start, end, min, mean, max) spans: the parameter over the operation, or each
    #: condition window.
    spans: tuple[tuple[datetime, datetime, float, float, float], ...]
    threshold: float | None = None
    #: The raw readings over the operation, where the process record keeps them.
    samples: tuple[tuple[datetime, float], ...] = ()


def operation_panels(operation: StoryOperation, series: list[ConditionSeries],
                     samples: dict[str, list[tuple[datetime, float]]] | None = None
                     ) -> list[Panel]:
    """The rows of an operation's chart: its parameters (with their raw ``samples`` by
    parameter name, where kept), then its machine's metrics."""
    kept = samples or {}
    panels = [Panel(f"{p.name} (process)", p.unit,
                    ((operation.started_at, operation.ended_at, p.min, p.mean, p.max),),
                    samples=tuple(kept.get(p.name, ())))
              for p in operation.process]
    low, high = operation.started_at - AROUND, operation.ended_at + AROUND
    for trace in series:
        points = [q for q in trace.points if q.end > low and q.start < high]
        if points:
            panels.append(Panel(f"{trace.metric} ({trace.machine})", trace.unit,
                                tuple((q.start, q.end, q.min, q.mean, q.max) for q in points),
                                next((q.threshold for q in points
                                      if q.threshold is not None), None)))
    return panels


def operation_chart(operation: StoryOperation, panels: list[Panel]) -> Markup:
    """The SVG of an operation's panels on one time axis."""
    margin = max((operation.ended_at - operation.started_at) / 10, MARGIN)
    start, end = operation.started_at - margin, operation.ended_at + margin
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        seconds = min(max((moment - start).total_seconds(), 0.0), span)
        return LEFT + (WIDTH - LEFT - RIGHT) * seconds / span

    height = len(panels) * HEIGHT + BOTTOM
    parts = [f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-label="{escape(operation.operation)}: process and condition over time">']
    op_left, op_right = x(operation.started_at), x(operation.ended_at)
    op_right = max(op_right, op_left + NARROWEST)
    parts.append(f'<rect x="{op_left:.1f}" y="0" width="{op_right - op_left:.1f}" '
                 f'height="{height - BOTTOM}" fill="#fff3bf"><title>'
                 f'{escape(operation.operation)}</title></rect>')
    for row, panel in enumerate(panels):
        top = row * HEIGHT + TOP
        inner = HEIGHT - TOP - 10
        values = [v for s in panel.spans for v in (s[2], s[4])] + [v for _, v in
                                                                    panel.samples]
        if panel.threshold is not None:
            values.append(panel.threshold)
        low, high = min(values), max(values)
        if high - low < 1e-12:
            low, high = low - 1, high + 1

        def y(value: float, top: int = top, low: float = low, high: float = high,
              inner: int = inner) -> float:
            return top + inner * (high - value) / (high - low)

        parts.append(f'<text x="0" y="{top + inner / 2 + 4:.1f}">{escape(panel.label)}</text>')
        parts.append(f'<text x="{LEFT - 6}" y="{top + 9:.1f}" text-anchor="end" '
                     f'class="muted">{high:.4g}</text>')
        parts.append(f'<text x="{LEFT - 6}" y="{top + inner:.1f}" text-anchor="end">'
                     f'{low:.4g} {escape(panel.unit)}</text>')
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{top + inner}" '
                     f'y2="{top + inner}" stroke="#d0d7de"/>')
        if panel.samples:
            points = " ".join(f"{x(at):.1f},{y(value):.1f}" for at, value in panel.samples)
            parts.append(f'<polyline class="samples" points="{points}" fill="none" '
                         f'stroke="#0a58ca" stroke-width="1.2"><title>{len(panel.samples)} '
                         f'readings of {escape(panel.label)}</title></polyline>')
        for begin, finish, minimum, mean, maximum in ([] if panel.samples else panel.spans):
            left, right = x(begin), max(x(finish), x(begin) + NARROWEST)
            over = panel.threshold is not None and maximum > panel.threshold
            colour = "#b42318" if over else "#0a58ca"
            parts.append(f'<rect x="{left:.1f}" y="{y(maximum):.1f}" width="{right - left:.1f}"'
                         f' height="{max(y(minimum) - y(maximum), 1):.1f}" fill="{colour}" '
                         f'fill-opacity="0.35"><title>{begin:%H:%M}-{finish:%H:%M}: min '
                         f'{minimum:.4g}, mean {mean:.4g}, max {maximum:.4g} '
                         f'{escape(panel.unit)}</title></rect>')
            parts.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y(mean):.1f}" '
                         f'y2="{y(mean):.1f}" stroke="{colour}" stroke-width="2"/>')
        if panel.threshold is not None:
            parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(panel.threshold):.1f}"'
                         f' y2="{y(panel.threshold):.1f}" stroke="#b42318" '
                         f'stroke-dasharray="5 4"><title>threshold {panel.threshold:.4g}'
                         f'</title></line>')
    axis = height - 6
    parts.append(f'<text x="{LEFT}" y="{axis}">{start:%Y-%m-%d %H:%M:%S}</text>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{axis}" text-anchor="end">{end:%H:%M:%S} UTC'
                 f'</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped or a number
