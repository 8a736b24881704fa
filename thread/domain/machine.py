"""Machines: their own stream of condition, alarms, maintenance and calibration."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from thread.domain import facts as f
from thread.domain.chain import Aggregate, Recorded
from thread.domain.facts.base import Fact, SubjectKind
from thread.domain.part import check_reference
from thread.errors import AlreadyRegistered


class Machine(Aggregate):
    """A machine or station, keyed by its machine id."""

    kind: ClassVar[SubjectKind] = "machine"

    def __init__(self, *, kind_key: str, id: UUID | None = None) -> None:
        super().__init__(kind_key=kind_key, id=id)
        self.name: str | None = None
        self.machine_kind: str | None = None
        self.site: str | None = None
        self.line: str | None = None
        self.condition_windows = 0
        self.threshold_exceedances = 0
        self.alarms = 0
        self.last_calibration: str | None = None
        self.calibration_due: datetime | None = None
        self.maintenance = 0
        self.limits: dict[str, float] = {}
        self.scheduled: list[tuple[datetime, str]] = []

    @classmethod
    def creators(cls) -> tuple[type[Fact], ...]:
        return (f.MachineRegistered,)

    def check(self, fact: Fact) -> None:
        if isinstance(fact, f.MachineRegistered) and self.exists:
            raise AlreadyRegistered(f"{self.label} is already registered as {self.name!r}")
        check_reference(self, fact)

    def apply(self, event: Recorded) -> None:
        fact = event.fact
        if isinstance(fact, f.MachineRegistered):
            self.name, self.machine_kind = fact.name, fact.kind
            self.site, self.line = fact.site, fact.line
        elif isinstance(fact, f.ConditionRecorded):
            self.condition_windows += 1
            self.threshold_exceedances += sum(metric.exceeded for metric in fact.metrics)
        elif isinstance(fact, f.AlarmRaised):
            self.alarms += 1
        elif isinstance(fact, f.MachineMaintenancePerformed):
            self.maintenance += 1
        elif isinstance(fact, f.ConditionLimitChanged):
            self.limits[fact.metric] = fact.threshold
        elif isinstance(fact, f.MaintenanceScheduled):
            self.scheduled.append((fact.due, fact.description))
        elif isinstance(fact, f.CalibrationRecorded):
            self.last_calibration, self.calibration_due = fact.result, fact.due
