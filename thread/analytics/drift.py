"""Drift alerts as data arrives: watched charts judged at each catch-up, alerts raised once.

:func:`subscribe` records a :class:`~thread.domain.facts.ChartSubscribed` on the
machine (or design item) a chart watches. :func:`check_drift` reads every watched
chart's values (:meth:`~thread.ledger.Ledger.series`), draws its chart
(:mod:`thread.analytics.spc`), and for each rule that fires at a point recorded
after the subscription records one :class:`~thread.domain.facts.DriftAlertRaised`
on the watched subject and a :class:`~thread.domain.facts.DriftAlertNoted` on the
part whose point completed the pattern, in one transaction.

An alert is raised once: while an alert of a chart and rule is open or
acknowledged, that rule raises no other alert on that chart; after it is closed,
only a point recorded after the closure raises the next one. Baseline (phase I)
points never raise alerts. Alert ids are the chart, the rule and the log position
of the completing point, so two watchers, or one restarted, record each alert once.

:func:`watch` runs :func:`check_drift` after every catch-up of the read models:
on PostgreSQL it wakes on the ledger's commit notification, within a second of
the commit; on SQLite it looks every ``interval`` seconds (``thread alerts follow`` does
both). :func:`acknowledge` and :func:`close` are signed facts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from thread.analytics.spc import LinkedViolation, SpcChart, chart_series
from thread.domain import facts as f
from thread.errors import LedgerError, UnknownSubject
from thread.quality import resolve_rules
from thread.read.drift import AlertPointRef, DriftAlert, DriftState, WatchedChart

if TYPE_CHECKING:
    from thread.domain.facts.drift import ChartKind
    from thread.domain.signature import Signer
    from thread.ledger import Batch, Ledger, Receipt
    from thread.quality import ControlChart

#: The source every watcher-written fact names; its record ids are the alert ids.
SOURCE = "drift-watch"


def subscribe(ledger: Ledger, *, chart: str, metric: str, chart_kind: ChartKind = "i-mr",
              part_number: str | None = None, machine: str | None = None,
              operation: str | None = None, subgroup_size: int = 1,
              phase1: int | None = None, center: float | None = None,
              sigma: float | None = None, rules: Sequence[str] = ("western-electric",),
              since: datetime | None = None, notify: Sequence[str] = (),
              signer: Signer | None = None, actor: str | None = None) -> Receipt:
    """Watch a chart from now on; it is recorded on ``machine``, else on ``part_number``."""
    if machine is None and part_number is None:
        raise LedgerError("a watched chart needs a machine or a part number to be recorded on")
    if any(c.chart == chart and c.active for c in ledger.drift().charts):
        raise LedgerError(f"chart {chart} is already watched; unsubscribe it first or choose "
                          f"another id")
    kind, key = ("machine", machine) if machine is not None else ("design", part_number)
    fact = f.ChartSubscribed(
        kind=kind, key=key, chart=chart, metric=metric, chart_kind=chart_kind,
        part_number=part_number, machine=machine, operation=operation,
        subgroup_size=subgroup_size, phase1=phase1, center=center, sigma=sigma,
        rules=tuple(_rule_ids(rules)), since=since, notify=tuple(notify))
    # Charting the values now refuses a metric or scope the watcher could never read.
    ledger.series(metric, part_number=part_number, machine=machine, operation=operation)
    return ledger.record(fact, actor=actor or (signer.signer if signer else None),
                         sign=signer, meaning="authorship")


def unsubscribe(ledger: Ledger, chart: str, *, reason: str,
                actor: str | None = None) -> Receipt:
    """Stop watching ``chart``; its alerts stay as they are."""
    watched = _watched(ledger.drift(), chart)
    return ledger.record(f.ChartUnsubscribed(kind=watched.kind, key=watched.key, chart=chart,
                                             reason=reason), actor=actor)


def check_drift(ledger: Ledger) -> list[DriftAlert]:
    """Judge every watched chart's new points; record and return the alerts raised now."""
    state = ledger.drift()
    raised: list[DriftAlert] = []
    for watched in state.charts:
        if watched.active:
            found = _judge(ledger, watched, state)
            if found:
                raised.extend(found)
    return raised


def watch(ledger: Ledger, stop: threading.Event, *, interval: float = 1.0) -> None:
    """Keep the read models current and check for drift after each catch-up, until ``stop``."""
    check_drift(ledger)
    ledger.read_models.follow(stop, interval=interval,
                              on_progress=lambda _: check_drift(ledger))


def acknowledge(ledger: Ledger, alert: str, *, note: str, signer: Signer) -> Receipt:
    """Acknowledge an open alert: a fact signed by ``signer`` (meaning: review)."""
    found = _alert(ledger, alert)
    if found.status != "open":
        raise LedgerError(f"drift alert {alert} is {found.status}; only an open alert is "
                          f"acknowledged")
    fact = f.DriftAlertAcknowledged(kind=found.kind, key=found.key, alert=alert, note=note)
    return ledger.record(fact, actor=signer.signer, sign=signer, meaning="review")


def close(ledger: Ledger, alert: str, *, resolution: str, signer: Signer,
          outcome: Literal["assignable-cause", "false-alarm", "process-changed"]
          = "assignable-cause", reference: str | None = None,
          at: datetime | None = None) -> Receipt:
    """Close an alert with what was found (``at``: when; default now): a fact signed by
    ``signer`` (meaning: approval)."""
    found = _alert(ledger, alert)
    if found.status == "closed":
        raise LedgerError(f"drift alert {alert} is already closed")
    fact = f.DriftAlertClosed(kind=found.kind, key=found.key, alert=alert,
                              resolution=resolution, outcome=outcome, reference=reference)
    return ledger.record(fact, occurred_at=at, actor=signer.signer, sign=signer,
                         meaning="approval", source=SOURCE,
                         source_record_id=f"{alert}/closed")


def _judge(ledger: Ledger, watched: WatchedChart, state: DriftState) -> list[DriftAlert]:
    found = ledger.series(watched.metric, part_number=watched.part_number,
                          machine=watched.machine, operation=watched.operation,
                          since=watched.since)
    if not found.points or (found.points[-1].position <= watched.position and not any(
            p.position > watched.position for p in found.points)):
        return []
    rules: str | list[str] = list(watched.rules)
    try:
        drawn = chart_series(found, watched.chart_kind, subgroup_size=watched.subgroup_size,
                             phase1=watched.phase1, center=watched.center,
                             sigma=watched.sigma, rules=rules)
    except (LedgerError, ValueError):
        return []  # too few points for the baseline yet
    baseline = watched.phase1 if watched.center is None or watched.sigma is None else 0
    mine = [a for a in state.alerts if a.chart == watched.chart]
    recorded: list[DriftAlert] = []
    with ledger.batch(actor=SOURCE, source=SOURCE) as batch:
        for rule in dict.fromkeys(v.rule for v in drawn.violations):
            of_rule = [a for a in mine if a.rule == rule]
            if any(a.status != "closed" for a in of_rule):
                continue
            mark = max([watched.position, *(a.points[-1].position for a in of_rule),
                        *(a.closed.position for a in of_rule if a.closed is not None)])
            due = next((v for v in drawn.violations
                        if v.rule == rule and v.index >= (baseline or 0)
                        and drawn.series.points[drawn.members[v.index][-1]].position > mark),
                       None)
            if due is None:
                continue
            alert = _raise(batch, watched, drawn, due)
            recorded.append(alert)
    return recorded if batch.receipts and not all(r.duplicate for r in batch.receipts) else []


def _raise(batch: Batch, watched: WatchedChart, drawn: SpcChart,
           due: LinkedViolation) -> DriftAlert:
    """Record the alert on the watched subject and a note on the part that completed it."""
    chart = drawn.chart
    last = drawn.series.points[drawn.members[due.index][-1]]
    alert = f"{watched.chart}-{due.rule}-{last.position}"
    points = tuple(
        f.AlertPoint(index=k, value=_plotted(chart, due, k),
                     serial=drawn.series.points[drawn.members[k][-1]].serial,
                     position=drawn.series.points[drawn.members[k][-1]].position,
                     at=drawn.series.points[drawn.members[k][-1]].at)
        for k in due.points)
    fact = f.DriftAlertRaised(
        kind=watched.kind, key=watched.key, alert=alert, chart=watched.chart,
        metric=watched.metric, chart_kind=watched.chart_kind, rule=due.rule,
        description=due.description, center=chart.center, lcl=_limit(chart.lcl),
        ucl=_limit(chart.ucl), points=points, notify=watched.notify)
    batch.record(fact, occurred_at=last.at, source_record_id=alert)
    if last.serial is not None:
        batch.record(f.DriftAlertNoted(serial=last.serial, alert=alert, chart=watched.chart,
                                       rule=due.rule, watched=f"{watched.kind} {watched.key}",
                                       value=due.value),
                     occurred_at=last.at, source_record_id=f"{alert}/part")
    return DriftAlert(alert=alert, chart=watched.chart, kind=watched.kind, key=watched.key,
                      metric=watched.metric, chart_kind=watched.chart_kind, rule=due.rule,
                      description=due.description, center=chart.center, lcl=fact.lcl,
                      ucl=fact.ucl, points=tuple(AlertPointRef(**p.model_dump())
                                                 for p in points),
                      notify=watched.notify, raised_at=last.at, position=0, status="open")


def _plotted(chart: ControlChart, due: LinkedViolation, index: int) -> float:
    """The value plotted at ``index`` on the chart the violation is on."""
    if ":" in due.rule and chart.dispersion is not None:
        found = chart.dispersion.points[index]
        return due.value if found is None else found
    return chart.points[index]


def _limit(value: float | Sequence[float] | None) -> float | None:
    """A chart's limit as one number (the steady-state one where it varies by point)."""
    if value is None or isinstance(value, float | int):
        return value
    return float(value[-1]) if len(value) else None


def _rule_ids(rules: Sequence[str]) -> list[str]:
    """Rule ids, named sets spelled out (``nelson``: N1..N8), each checked."""
    return [rule.id for name in rules for rule in resolve_rules(name)]


def _watched(state: DriftState, chart: str) -> WatchedChart:
    found = next((c for c in state.charts if c.chart == chart and c.active), None)
    if found is None:
        raise UnknownSubject(f"no watched chart {chart} in this ledger")
    return found


def _alert(ledger: Ledger, alert: str) -> DriftAlert:
    found = ledger.drift().alert(alert)
    if found is None:
        raise UnknownSubject(f"no drift alert {alert} in this ledger")
    return found
