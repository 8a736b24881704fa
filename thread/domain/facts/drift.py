"""Drift facts: control charts watched as data arrives, and the alerts they raise.

A quality engineer subscribes a chart (what is charted, for which part number,
machine and operation, which chart, its limits or baseline, which rules, who is
told) on the machine it watches, or on the design item when it watches a part
number on every machine. When a new point breaks a rule the ledger records a
:class:`DriftAlertRaised` on that subject with the points behind it, and a
:class:`DriftAlertNoted` on the part whose point completed the pattern, so the
part's story shows it. Acknowledging and closing an alert are signed facts.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from thread.domain.facts.base import Identifier, Instant, PartFact, SubjectFact, Text
from thread.domain.facts.measures import Value

ChartKind = Literal["i-mr", "xbar-r", "xbar-s", "ewma", "cusum", "p", "np", "c", "u"]
_WATCHED = ("machine", "design")


class _OnWatchedSubject(SubjectFact):
    """A drift fact on the machine or design item a chart watches."""

    @model_validator(mode="after")
    def _watched(self) -> Self:
        if self.kind not in _WATCHED:
            raise ValueError(f"a machine or design subject for a chart (got {self.kind})")
        return self


class ChartSubscribed(_OnWatchedSubject):
    """A control chart is watched as data arrives: what, where, how judged, who is told.

    ``metric`` names the charted values as the ledger's charts do
    (``process.spindle_load.mean``, ``inspection.C3``, ``condition.vibration.max``).
    Limits are ``center`` and ``sigma`` when given, else estimated from the first
    ``phase1`` points from ``since`` on (the baseline); later points are judged.
    """

    topic = "quality.chart-subscribed"
    chart: Identifier
    metric: Identifier
    chart_kind: ChartKind = "i-mr"
    part_number: Identifier | None = None
    machine: Identifier | None = None
    operation: Identifier | None = None
    subgroup_size: Annotated[int, Field(ge=1, le=1000)] = 1
    phase1: Annotated[int, Field(ge=2)] | None = None
    center: float | None = None
    sigma: Annotated[float, Field(gt=0)] | None = None
    rules: Annotated[tuple[Identifier, ...], Field(min_length=1)] = ("WE1", "WE2", "WE3", "WE4")
    since: Instant | None = None
    notify: tuple[Text, ...] = ()

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if self.phase1 is None and (self.center is None or self.sigma is None):
            raise ValueError("a baseline: phase1 points, or both center and sigma")
        if self.kind == "machine" and self.machine not in (None, self.key):
            raise ValueError(f"the watched machine {self.key} (got machine {self.machine})")
        if self.kind == "design" and self.part_number not in (None, self.key):
            raise ValueError(f"the watched part number {self.key} (got {self.part_number})")
        return self


class ChartUnsubscribed(_OnWatchedSubject):
    """A watched chart is no longer watched; the alerts it raised stay as they are."""

    topic = "quality.chart-unsubscribed"
    chart: Identifier
    reason: Text


class AlertPoint(Value):
    """One point behind an alert: its index on the chart, value, part and event."""

    index: Annotated[int, Field(ge=0)]
    value: float
    serial: Identifier | None = None
    position: Annotated[int, Field(ge=1)]
    at: Instant


class DriftAlertRaised(_OnWatchedSubject):
    """A watched chart broke a rule at a new point: which rule, and the points that did."""

    topic = "quality.drift-alert-raised"
    alert: Identifier
    chart: Identifier
    metric: Identifier
    chart_kind: ChartKind
    rule: Identifier
    description: Text
    center: float
    lcl: float | None = None
    ucl: float | None = None
    points: Annotated[tuple[AlertPoint, ...], Field(min_length=1)]
    notify: tuple[Text, ...] = ()


class DriftAlertNoted(PartFact):
    """This part's point completed a pattern that raised a drift alert."""

    topic = "quality.drift-alert-noted"
    alert: Identifier
    chart: Identifier
    rule: Identifier
    watched: Text
    value: float


class DriftAlertAcknowledged(_OnWatchedSubject):
    """Someone has seen the alert and owns it (a signed fact)."""

    topic = "quality.drift-alert-acknowledged"
    needs_signature = True
    alert: Identifier
    note: Text


class DriftAlertClosed(_OnWatchedSubject):
    """The alert is dealt with (a signed fact): the cause found, or a false alarm."""

    topic = "quality.drift-alert-closed"
    needs_signature = True
    alert: Identifier
    resolution: Text
    outcome: Literal["assignable-cause", "false-alarm", "process-changed"] = "assignable-cause"
    reference: Identifier | None = None
