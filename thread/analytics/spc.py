"""Control charts and capability over the ledger's own values, every point linked to its part.

The statistics are :mod:`thread.quality`'s pure functions; this module feeds them a
:class:`~thread.read.series.Series` and maps each chart point back to the
measurements, process records or condition windows behind it, so a rule violation
names the serials and log positions a quality engineer opens next.

Variables charts (I-MR, EWMA, CUSUM) plot one value per point; X-bar charts group
``subgroup_size`` consecutive values. Attribute charts count failed measurements
in samples of ``subgroup_size`` consecutive parts: p and np the failing parts, c and
u the failed measurements (one per part for one characteristic, so c equals np).
A trailing sample smaller than ``subgroup_size`` is left out, and said.
"""

from __future__ import annotations

from collections.abc import Sequence

from thread.errors import LedgerError
from thread.quality import Capability, ControlChart, capability, control_chart
from thread.read.result import Model
from thread.read.series import Series, SeriesPoint

VARIABLES = ("i-mr", "xbar-r", "xbar-s", "ewma", "cusum")
ATTRIBUTES = ("p", "np", "c", "u")


class LinkedViolation(Model):
    """A rule broken at a chart point, with the parts and events behind its points.

    A rule broken on the dispersion chart (moving range, range, standard deviation) is
    named with that chart first: ``MR:WE1``, ``R:WE1``, ``S:WE1``.
    """

    rule: str
    index: int
    value: float
    description: str
    points: tuple[int, ...]
    behind: tuple[SeriesPoint, ...]


class SpcChart(Model):
    """A control chart of a metric in a scope: the chart, and each point's evidence."""

    series: Series
    chart: ControlChart
    #: For each chart point, the indices (into ``series.points``) of the values behind it.
    members: tuple[tuple[int, ...], ...]
    violations: tuple[LinkedViolation, ...]
    #: Values left out: measurements without a value on a variables chart, and a last
    #: incomplete subgroup or sample.
    left_out: int


def chart_series(found: Series, chart: str = "i-mr", *, subgroup_size: int = 1,
                 phase1: int | None = None, center: float | None = None,
                 sigma: float | None = None, rules: str | Sequence[str] = "western-electric",
                 ewma_lambda: float = 0.2, ewma_width: float = 3.0, cusum_k: float = 0.5,
                 cusum_h: float = 5.0) -> SpcChart:
    """The control chart of ``found`` with every violation linked to its points' parts."""
    if chart in ATTRIBUTES and found.source != "inspection":
        raise LedgerError(f"a {chart} chart counts failed measurements: chart an "
                          f"inspection.CHARACTERISTIC, not {found.metric}")
    if chart in ATTRIBUTES:
        usable = [i for i, p in enumerate(found.points) if p.failed is not None]
    else:
        usable = [i for i, p in enumerate(found.points) if p.value is not None]
    if not usable:
        scope = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in (
            ("part_number", found.part_number), ("revision", found.revision),
            ("machine", found.machine), ("operation", found.operation)) if value)
        raise LedgerError(f"no values of {found.metric} to chart"
                          + (f" for {scope}" if scope else "") + " in this ledger")
    size = subgroup_size if chart in ("xbar-r", "xbar-s", *ATTRIBUTES) else 1
    whole = len(usable) - len(usable) % size
    members = tuple(tuple(usable[k:k + size]) for k in range(0, whole, size))
    if chart in ATTRIBUTES:
        counts = [float(sum(1 for i in group if found.points[i].failed)) for group in members]
        drawn = control_chart(counts, chart=chart, sizes=[len(g) for g in members],
                              phase1=phase1, center=center, sigma=sigma, rules=rules)
    else:
        values = [float(found.points[i].value) for i in usable[:whole]]  # type: ignore[arg-type]
        drawn = control_chart(values, chart=chart, subgroup_size=size, phase1=phase1,
                              center=center, sigma=sigma, rules=rules,
                              ewma_lambda=ewma_lambda, ewma_width=ewma_width, cusum_k=cusum_k,
                              cusum_h=cusum_h)
    dispersion = drawn.dispersion
    broken = [(v.rule, v) for v in drawn.violations] + (
        [(f"{dispersion.kind.upper()}:{v.rule}", v) for v in dispersion.violations]
        if dispersion is not None else [])
    violations = tuple(sorted((
        LinkedViolation(rule=rule, index=v.index, value=v.value, description=v.description,
                        points=tuple(v.points),
                        behind=tuple(found.points[i] for k in v.points for i in members[k]))
        for rule, v in broken), key=lambda v: (v.index, v.rule)))
    return SpcChart(series=found, chart=drawn, members=members, violations=violations,
                    left_out=len(found.points) - whole)


def capability_of(found: Series, *, lsl: float | None = None, usl: float | None = None,
                  target: float | None = None, subgroup_size: int = 1,
                  confidence: float = 0.95) -> Capability:
    """The capability of ``found``'s values against the given limits, or the tolerance its
    measurements state."""
    if lsl is None and usl is None:
        if found.tolerance is None:
            raise LedgerError(f"{found.metric} states no tolerance: give the limits")
        lsl, usl = found.tolerance.lsl, found.tolerance.usl
        target = found.tolerance.nominal if target is None else target
    values = [p.value for p in found.points if p.value is not None]
    return capability(values, lsl=lsl, usl=usl, target=target, subgroup_size=subgroup_size,
                      confidence=confidence)
