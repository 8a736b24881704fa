"""Watched charts and their alerts, as the drift facts in the log say they stand now.

A chart is watched from its :class:`~thread.domain.facts.ChartSubscribed` until a
:class:`~thread.domain.facts.ChartUnsubscribed`; an alert is open from its
:class:`~thread.domain.facts.DriftAlertRaised`, acknowledged by a signed
acknowledgement, and closed by a signed closure. Signatures are read from the
story of the watched subject, so an acknowledgement shows who signed it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from thread.domain import facts as f
from thread.domain.condition import moment
from thread.read.clock import AsOf
from thread.read.result import Model
from thread.read.sql import rows

AlertStatus = Literal["open", "acknowledged", "closed"]

_DRIFT = (
    "SELECT position, kind, key, version, topic, chart, alert, detail, occurred_ns, recorded_ns "
    "FROM read_drift WHERE {clock} <= :bound ORDER BY position"
)


class WatchedChart(Model):
    """A chart watched as data arrives, as its subscription states it."""

    chart: str
    kind: str
    key: str
    metric: str
    chart_kind: str
    part_number: str | None
    machine: str | None
    operation: str | None
    subgroup_size: int
    phase1: int | None
    center: float | None
    sigma: float | None
    rules: tuple[str, ...]
    since: datetime | None
    notify: tuple[str, ...]
    #: The log position of the subscription: only later points can raise an alert.
    position: int
    subscribed_at: datetime
    active: bool


class AlertPointRef(Model):
    """A point behind an alert."""

    index: int
    value: float
    serial: str | None
    position: int
    at: datetime


class Handling(Model):
    """An acknowledgement or closure of an alert: what was said, when, by whom (signed)."""

    text: str
    at: datetime
    position: int
    outcome: str | None = None
    signed_by: str | None = None


class DriftAlert(Model):
    """A drift alert and where it stands."""

    alert: str
    chart: str
    kind: str
    key: str
    metric: str
    chart_kind: str
    rule: str
    description: str
    center: float
    lcl: float | None
    ucl: float | None
    points: tuple[AlertPointRef, ...]
    notify: tuple[str, ...]
    raised_at: datetime
    position: int
    status: AlertStatus
    acknowledged: Handling | None = None
    closed: Handling | None = None


class DriftState(Model):
    """Every watched chart and every alert, oldest first."""

    charts: tuple[WatchedChart, ...]
    alerts: tuple[DriftAlert, ...]

    def alert(self, alert: str) -> DriftAlert | None:
        """The alert with this id, if there is one."""
        return next((a for a in self.alerts if a.alert == alert), None)


def drift_state(conn: Connection, as_of: AsOf) -> DriftState:
    """The watched charts and alerts as of ``as_of``, with who signed each handling."""
    charts: dict[str, WatchedChart] = {}
    alerts: dict[str, DriftAlert] = {}
    handled: list[tuple[str, str, str, int, int, dict[str, Any], int]] = []
    for position, kind, key, version, topic, chart, alert, detail, occurred, _ in rows(
            conn, _DRIFT, as_of):
        p = json.loads(detail)
        if topic == f.ChartSubscribed.topic:
            charts[chart] = _chart(kind, key, position, occurred, p)
        elif topic == f.ChartUnsubscribed.topic and chart in charts:
            charts[chart] = charts[chart].model_copy(update={"active": False})
        elif topic == f.DriftAlertRaised.topic:
            alerts[alert] = _alert(kind, key, position, occurred, p)
        elif topic in (f.DriftAlertAcknowledged.topic, f.DriftAlertClosed.topic):
            handled.append((topic, kind, key, version, position, p, occurred))
    signers = _signers(conn, as_of, {(kind, key) for _, kind, key, *_ in handled})
    for topic, kind, key, version, position, p, occurred in handled:
        found = alerts.get(p["alert"])
        if found is None:
            continue
        note = Handling(text=p.get("note") or p.get("resolution") or "", at=moment(occurred),
                        position=position, outcome=p.get("outcome"),
                        signed_by=signers.get((kind, key, version)))
        if topic == f.DriftAlertAcknowledged.topic and found.status == "open":
            alerts[found.alert] = found.model_copy(update={"status": "acknowledged",
                                                           "acknowledged": note})
        elif topic == f.DriftAlertClosed.topic:
            alerts[found.alert] = found.model_copy(update={"status": "closed", "closed": note})
    return DriftState(charts=tuple(charts.values()), alerts=tuple(alerts.values()))


def _chart(kind: str, key: str, position: int, occurred: int, p: dict[str, Any]
           ) -> WatchedChart:
    since = p.get("since")
    return WatchedChart(
        chart=p["chart"], kind=kind, key=key, metric=p["metric"],
        chart_kind=p.get("chart_kind", "i-mr"), part_number=p.get("part_number"),
        machine=p.get("machine") or (key if kind == "machine" else None),
        operation=p.get("operation"), subgroup_size=p.get("subgroup_size", 1),
        phase1=p.get("phase1"), center=p.get("center"), sigma=p.get("sigma"),
        rules=tuple(p.get("rules") or ()),
        since=datetime.fromisoformat(since) if since else None,
        notify=tuple(p.get("notify") or ()), position=position, subscribed_at=moment(occurred),
        active=True)


def _alert(kind: str, key: str, position: int, occurred: int, p: dict[str, Any]) -> DriftAlert:
    return DriftAlert(
        alert=p["alert"], chart=p["chart"], kind=kind, key=key, metric=p["metric"],
        chart_kind=p["chart_kind"], rule=p["rule"], description=p["description"],
        center=p["center"], lcl=p.get("lcl"), ucl=p.get("ucl"),
        points=tuple(AlertPointRef(index=q["index"], value=q["value"], serial=q.get("serial"),
                                   position=q["position"], at=datetime.fromisoformat(q["at"]))
                     for q in p["points"]),
        notify=tuple(p.get("notify") or ()), raised_at=moment(occurred), position=position,
        status="open")


def _signers(conn: Connection, as_of: AsOf, subjects: set[tuple[str, str]]
             ) -> dict[tuple[str, str, int], str]:
    """Who signed which version of the watched subjects (the drift projection keeps the
    signatures on machines and design items)."""
    if not subjects:
        return {}
    found: dict[tuple[str, str, int], str] = {}
    for _, kind, key, _, topic, _, _, detail, _, _ in rows(conn, _SIGNED, as_of,
                                                           keys=sorted(k for _, k in subjects)):
        if topic != f.SignatureApplied.topic:
            continue
        p = json.loads(detail)
        if (kind, key) in subjects:
            found[(kind, key, p["signed_version"])] = f"{p['printed_name']} ({p['signer']})"
    return found


_SIGNED = (
    "SELECT position, kind, key, version, topic, chart, alert, detail, occurred_ns, "
    "recorded_ns FROM read_drift WHERE topic = 'record.signature-applied' AND key IN :keys "
    "AND {clock} <= :bound"
)
