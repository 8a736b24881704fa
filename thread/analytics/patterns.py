"""Failure patterns: which machine, production window or process condition made parts that
fail more often in the field, per hour of service.

Each serial's service life (:mod:`thread.domain.service_life`) gives its
operating hours and whether it failed; parts still running count as
right-censored. Three families of groups are compared with the rest of the part
number's population, by failures per unit-hour (:mod:`thread.analytics.rates`):

- **machine windows**: for each machine, every span of consecutive production
  weeks up to ``max_weeks`` long (the window is found from the data: the span
  whose rate stands out most, so adjacent weeks merge while the rate stays
  elevated);
- **parameter bins**: for each process parameter and condition metric recorded
  while the parts were made, the parts in each fifth of its values;
- all of them are counted in ``groups_tested`` and corrected together for the false
  discovery rate (Benjamini-Hochberg, 5 % by default).

A finding is a group whose q-value is within the rate; overlapping windows of one
machine keep the strongest. Each carries its evidence: the group's values of
every recorded parameter against the rest's (means, difference, Welch's test),
its Weibull fit, the serials behind it and the failed ones.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from pydantic import computed_field
from scipy.stats import ttest_ind

from thread.analytics.rates import PER, RATE_UNIT, elevated_p, false_discovery, ratio_interval
from thread.analytics.weibull import WeibullFit, fit_weibull
from thread.domain.condition import moment, nanoseconds
from thread.domain.service_life import (
    DAY_NS,
    ServiceLife,
    UnitRecord,
    fleet_rate,
    months_in_service,
    service_life,
)
from thread.read.result import AsOfNote, Model
from thread.read.story import Story

Grouping = Literal["machine", "parameter"]
WEEK_NS = 7 * DAY_NS
#: Bins per parameter (quintiles).
BINS = 5


class ParameterEvidence(Model):
    """One recorded value inside the group against the rest of the population."""

    name: str
    inside: float
    outside: float
    difference: float
    standardized: float | None
    n_inside: int
    n_outside: int
    p_value: float | None


class Finding(Model):
    """A group of parts whose field-failure rate per unit-hour stands out, with its evidence.

    ``kind`` is ``machine-window`` (``machine``, ``start``, ``end``: the parts that
    machine made in that window) or ``parameter`` (``parameter`` between ``low`` and
    ``high``). ``rate`` and ``rest_rate`` are in failures per million unit-hours.
    """

    id: str
    rank: int
    kind: Literal["machine-window", "parameter"]
    machine: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    parameter: str | None = None
    low: float | None = None
    high: float | None = None
    units: int
    failures: int
    unit_hours: float
    rate: float
    rest_failures: int
    rest_unit_hours: float
    rest_rate: float
    rate_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float
    q_value: float
    weibull: WeibullFit | None
    parameters: tuple[ParameterEvidence, ...]
    serials: tuple[str, ...]
    failed: tuple[str, ...]
    representative: str | None
    #: The story of the representative part (the earliest failure), as ``trace`` tells it.
    trace: Story | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def evidence_digest(self) -> str:
        """SHA-256 of the finding's evidence (everything but its rank, the representative's
        story and this digest), the digest a corrective action opened from it records."""
        body = self.model_dump_json(exclude={"rank", "trace", "evidence_digest"})
        return hashlib.sha256(body.encode()).hexdigest()


class WeekRate(Model):
    """One machine's production week: parts made, their failures and unit-hours."""

    machine: str
    week: datetime
    units: int
    failures: int
    unit_hours: float
    rate: float | None


class NevadaChart(Model):
    """The warranty view: for parts made in each month, failures in each month of service
    and the parts still at risk at its start."""

    periods: tuple[str, ...]
    months: int
    failures: tuple[tuple[int, ...], ...]
    at_risk: tuple[tuple[int, ...], ...]


class FailurePatterns(Model):
    """Field-failure rates of a part number's serials, grouped and tested, with findings."""

    part_number: str
    since: datetime | None
    until: datetime | None
    as_of: AsOfNote | None
    at: datetime
    alpha: float
    confidence: float
    max_weeks: int
    rate_unit: str
    units: int
    in_service: int
    failures: int
    unit_hours: float
    estimated_hours: int
    groups_tested: int
    findings: tuple[Finding, ...]
    parameter_findings: tuple[Finding, ...]
    weekly: tuple[WeekRate, ...]
    nevada: NevadaChart
    weibull: WeibullFit | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rate(self) -> float | None:
        """The population's failures per million unit-hours."""
        return self.failures / self.unit_hours * PER if self.unit_hours else None


@dataclass
class _Group:
    kind: Literal["machine-window", "parameter"]
    members: np.ndarray
    machine: str | None = None
    first_week: int = 0
    last_week: int = 0
    parameter: str | None = None
    low: float | None = None
    high: float | None = None
    p: float = 1.0
    q: float = 1.0


def failure_patterns(units: Sequence[UnitRecord], *, part_number: str, now: datetime,
                     since: datetime | None = None, until: datetime | None = None,
                     as_of: AsOfNote | None = None,
                     by: Sequence[Grouping] = ("machine", "parameter"), alpha: float = 0.05,
                     confidence: float = 0.95, max_weeks: int = 8) -> FailurePatterns:
    """Group, test and rank the field failures of ``units`` as of ``now``."""
    now_ns = nanoseconds(now)
    lives = service_lives(units, now)
    hours = np.array([life.hours for _, life in lives], dtype=float)
    failed = np.array([life.failed for _, life in lives], dtype=bool)
    total_failures, total_hours = float(failed.sum()), float(hours.sum())
    origin = _monday(min((u.produced_ns for u in units), default=now_ns))
    groups: list[_Group] = []
    weekly: list[WeekRate] = []
    if "machine" in by:
        window_groups, weekly = _machine_windows(lives, hours, failed, origin, max_weeks)
        groups += window_groups
    if "parameter" in by:
        groups += _parameter_bins(lives)
    if groups:
        x = np.array([failed[g.members].sum() for g in groups], dtype=float)
        e = np.array([hours[g.members].sum() for g in groups], dtype=float)
        p = elevated_p(x, e, total_failures, total_hours)
        q = false_discovery(p.tolist(), alpha)
        for group, p_value, q_value in zip(groups, p, q, strict=True):
            group.p, group.q = float(p_value), float(q_value)
    chosen = _strongest([g for g in groups if g.q <= alpha and g.kind == "machine-window"])
    by_parameter = _strongest([g for g in groups if g.q <= alpha and g.kind == "parameter"])
    build = _Builder(lives, hours, failed, origin, part_number, confidence)
    return FailurePatterns(
        part_number=part_number, since=since, until=until, as_of=as_of, at=now, alpha=alpha,
        confidence=confidence, max_weeks=max_weeks, rate_unit=RATE_UNIT, units=len(units),
        in_service=len(lives), failures=int(total_failures), unit_hours=total_hours,
        estimated_hours=sum(life.estimated for _, life in lives),
        groups_tested=len(groups),
        findings=tuple(build.finding(g, rank) for rank, g in enumerate(chosen, 1)),
        parameter_findings=tuple(build.finding(g, rank)
                                 for rank, g in enumerate(by_parameter, 1)),
        weekly=tuple(weekly), nevada=_nevada(lives),
        weibull=fit_weibull(hours.tolist(), failed.tolist(), confidence=confidence),
    )


def service_lives(units: Sequence[UnitRecord], now: datetime
                  ) -> list[tuple[UnitRecord, ServiceLife]]:
    """Each unit in service as of ``now`` with its service life (the domain's rule, hours
    carried forward at the fleet's usage rate for units that never reported)."""
    now_ns = nanoseconds(now)
    fleet = fleet_rate(units)
    return [(unit, life) for unit in units
            if (life := service_life(unit, now_ns, fleet)) is not None]


def _monday(ns: int) -> int:
    day = moment(ns).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=day.weekday())
    return int(start.timestamp()) * 10**9


def _machine_windows(lives: list[tuple[UnitRecord, ServiceLife]], hours: np.ndarray,
                     failed: np.ndarray, origin: int, max_weeks: int
                     ) -> tuple[list[_Group], list[WeekRate]]:
    """Every span of up to ``max_weeks`` consecutive production weeks of every machine."""
    made: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, (unit, _) in enumerate(lives):
        for machine, week in {(run.machine, (run.started_ns - origin) // WEEK_NS)
                              for run in unit.runs}:
            made[machine][week].append(index)
    groups: list[_Group] = []
    weekly: list[WeekRate] = []
    population = len(lives)
    for machine in sorted(made):
        weeks = made[machine]
        for week in sorted(weeks):
            members = np.unique(np.array(weeks[week], dtype=int))
            exposure = float(hours[members].sum())
            count = int(failed[members].sum())
            weekly.append(WeekRate(machine=machine, week=moment(origin + week * WEEK_NS),
                                   units=len(members), failures=count, unit_hours=exposure,
                                   rate=count / exposure * PER if exposure else None))
        first, last = min(weeks), max(weeks)
        for start in range(first, last + 1):
            for stop in range(start, min(start + max_weeks, last + 1)):
                # a part run twice on the machine (a rework) counts once
                members = np.unique(np.array(
                    [i for w in range(start, stop + 1) for i in weeks.get(w, ())], dtype=int))
                if not len(members) or len(members) == population:
                    continue
                groups.append(_Group("machine-window", members, machine=machine,
                                     first_week=start, last_week=stop))
    return groups, weekly


def _parameter_bins(lives: list[tuple[UnitRecord, ServiceLife]]) -> list[_Group]:
    """The parts in each fifth of every recorded value's distribution."""
    names = sorted({name for unit, _ in lives for name in unit.values})
    groups: list[_Group] = []
    for name in names:
        having = [(i, unit.values[name]) for i, (unit, _) in enumerate(lives)
                  if name in unit.values]
        if len(having) < 2 * BINS:
            continue
        index = np.array([i for i, _ in having], dtype=int)
        values = np.array([v for _, v in having], dtype=float)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)))
        if len(edges) < 2:
            continue
        bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
        for b in range(len(edges) - 1):
            members = index[bins == b]
            if len(members) and len(members) < len(lives):
                groups.append(_Group("parameter", members, parameter=name,
                                     low=float(edges[b]), high=float(edges[b + 1])))
    return groups


def _strongest(groups: list[_Group]) -> list[_Group]:
    """The strongest group first; a group overlapping one already taken (same machine and
    weeks, or same parameter) is left out."""
    taken: list[_Group] = []
    for group in sorted(groups, key=lambda g: (g.p, -len(g.members))):
        if not any(_overlap(group, other) for other in taken):
            taken.append(group)
    return taken


def _overlap(a: _Group, b: _Group) -> bool:
    if a.kind == "parameter":
        return a.parameter == b.parameter
    return (a.machine == b.machine and a.first_week <= b.last_week
            and b.first_week <= a.last_week)


class _Builder:
    """Turns a tested group into a :class:`Finding` with its evidence."""

    def __init__(self, lives: list[tuple[UnitRecord, ServiceLife]], hours: np.ndarray,
                 failed: np.ndarray, origin: int, part_number: str, confidence: float) -> None:
        self.lives, self.hours, self.failed = lives, hours, failed
        self.origin, self.part_number, self.confidence = origin, part_number, confidence
        self.names = sorted({name for unit, _ in lives for name in unit.values})

    def finding(self, group: _Group, rank: int) -> Finding:
        inside = np.zeros(len(self.lives), dtype=bool)
        inside[group.members] = True
        x, e = int(self.failed[inside].sum()), float(self.hours[inside].sum())
        rx, re = int(self.failed[~inside].sum()), float(self.hours[~inside].sum())
        low, high = ratio_interval(x, e, rx, re, self.confidence)
        rate, rest = x / e * PER if e else 0.0, rx / re * PER if re else 0.0
        serials = [self.lives[i][0].key for i in sorted(group.members)]
        failures = [(self.lives[i][1].hours, self.lives[i][0].key) for i in sorted(group.members)
                    if self.failed[i]]
        start = end = None
        if group.kind == "machine-window":
            start = moment(self.origin + group.first_week * WEEK_NS)
            end = moment(self.origin + (group.last_week + 1) * WEEK_NS)
            ident = f"{group.machine}/{start:%Y-%m-%d}/{end:%Y-%m-%d}"
        else:
            ident = f"{group.parameter}/{group.low:g}/{group.high:g}"
        return Finding(
            id=f"{self.part_number}/{ident}", rank=rank, kind=group.kind,
            machine=group.machine, start=start, end=end, parameter=group.parameter,
            low=group.low, high=group.high, units=int(inside.sum()), failures=x, unit_hours=e,
            rate=rate, rest_failures=rx, rest_unit_hours=re, rest_rate=rest,
            rate_ratio=rate / rest if rest else None, ci_low=low, ci_high=high,
            p_value=group.p, q_value=group.q,
            weibull=fit_weibull(self.hours[inside].tolist(), self.failed[inside].tolist(),
                                confidence=self.confidence),
            parameters=self._evidence(inside), serials=tuple(serials),
            failed=tuple(key for _, key in sorted(failures)),
            representative=min(failures)[1] if failures else None)

    def _evidence(self, inside: np.ndarray) -> tuple[ParameterEvidence, ...]:
        """Every recorded value inside against outside, the largest standardized
        difference first."""
        found = []
        for name in self.names:
            a = [u.values[name] for (u, _), k in zip(self.lives, inside, strict=True)
                 if k and name in u.values]
            b = [u.values[name] for (u, _), k in zip(self.lives, inside, strict=True)
                 if not k and name in u.values]
            if not a or not b:
                continue
            mean_a, mean_b = float(np.mean(a)), float(np.mean(b))
            spread = float(np.sqrt((np.var(a, ddof=1 if len(a) > 1 else 0) * (len(a) - 1)
                                    + np.var(b, ddof=1 if len(b) > 1 else 0) * (len(b) - 1))
                                   / max(len(a) + len(b) - 2, 1)))
            standardized = (mean_a - mean_b) / spread if spread > 0 else None
            p_value = None
            if len(a) > 1 and len(b) > 1 and np.ptp(a) > 0 and np.ptp(b) > 0:
                p_value = float(ttest_ind(a, b, equal_var=False).pvalue)
            found.append(ParameterEvidence(
                name=name, inside=mean_a, outside=mean_b, difference=mean_a - mean_b,
                standardized=standardized, n_inside=len(a), n_outside=len(b),
                p_value=p_value))
        found.sort(key=lambda ev: -abs(ev.standardized or 0.0))
        return tuple(found)


def _nevada(lives: list[tuple[UnitRecord, ServiceLife]]) -> NevadaChart:
    """Failures by production month and month in service, with the parts at risk."""
    by_period: dict[str, list[ServiceLife]] = defaultdict(list)
    for unit, life in lives:
        by_period[f"{moment(unit.produced_ns):%Y-%m}"].append(life)
    months = int(max((months_in_service(life) for _, life in lives), default=0.0)) + 1
    periods = sorted(by_period)
    failures, at_risk = [], []
    for period in periods:
        row_failures, row_risk = [0] * months, [0] * months
        for life in by_period[period]:
            served = months_in_service(life)
            for month in range(months):
                if served >= month:
                    row_risk[month] += 1
            if life.failed:
                row_failures[min(int(served), months - 1)] += 1
        failures.append(tuple(row_failures))
        at_risk.append(tuple(row_risk))
    return NevadaChart(periods=tuple(periods), months=months, failures=tuple(failures),
                       at_risk=tuple(at_risk))
