"""Machine facts: the machine's own stream of condition, alarms, maintenance, calibration."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from thread.domain.facts.base import Digest, Identifier, Instant, MachineFact, Text
from thread.domain.facts.measures import ConditionMetric
from thread.domain.units import Unit

_Ratio = Annotated[float, Field(ge=0, le=1)]


class MachineRegistered(MachineFact):
    """A machine joins the ledger."""

    topic = "machine.registered"
    name: Text
    kind: Identifier
    site: Identifier | None = None
    line: Identifier | None = None


class ConditionRecorded(MachineFact):
    """Machine condition over a time window: signals against thresholds, alarms, OEE."""

    topic = "machine.condition-recorded"
    window_start: Instant
    window_end: Instant
    metrics: tuple[ConditionMetric, ...] = ()
    alarms_active: tuple[Identifier, ...] = ()
    availability: _Ratio | None = None
    performance: _Ratio | None = None
    quality: _Ratio | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.window_end <= self.window_start:
            raise ValueError("window_end after window_start")
        return self

    @property
    def oee(self) -> float | None:
        """Overall equipment effectiveness, when all three factors are known."""
        if self.availability is None or self.performance is None or self.quality is None:
            return None
        return self.availability * self.performance * self.quality


class AlarmRaised(MachineFact):
    """An alarm on the machine, cleared or still active."""

    topic = "machine.alarm-raised"
    code: Identifier
    text: Text
    severity: Literal["info", "warning", "fault"] = "warning"
    raised_at: Instant
    cleared_at: Instant | None = None


class MachineMaintenancePerformed(MachineFact):
    """Maintenance on the machine."""

    topic = "machine.maintenance-performed"
    kind: Literal["preventive", "corrective", "predictive"]
    work_order: Identifier | None = None
    description: Text
    technician: Text | None = None


class ConditionLimitChanged(MachineFact):
    """A condition metric's alarm limit is changed (a corrective action, say)."""

    topic = "machine.condition-limit-changed"
    metric: Identifier
    threshold: float
    unit: Unit
    previous: float | None = None
    reason: Text
    reference: Identifier | None = None


class MaintenanceScheduled(MachineFact):
    """Maintenance on the machine is planned for a date."""

    topic = "machine.maintenance-scheduled"
    kind: Literal["preventive", "corrective", "predictive"]
    due: Instant
    description: Text
    work_order: Identifier | None = None
    reference: Identifier | None = None


class CalibrationRecorded(MachineFact):
    """A calibration of the machine or one of its instruments."""

    topic = "machine.calibration-recorded"
    instrument: Identifier | None = None
    result: Literal["pass", "fail", "adjusted"]
    certificate_digest: Digest | None = None
    due: Instant | None = None


class CollectionGapRecorded(MachineFact):
    """Data from the machine was lost or not collected between two moments.

    A collector writes this when its connection dropped, a server restarted
    or a sequence number skipped, so that a missing stretch of process data
    is itself on the record rather than silently absent.
    """

    topic = "machine.collection-gap-recorded"
    gap_start: Instant
    gap_end: Instant
    protocol: Identifier
    reason: Text
    lost_messages: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.gap_end < self.gap_start:
            raise ValueError("gap_end at or after gap_start")
        return self
