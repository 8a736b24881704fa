"""Manufacturing facts: registration, material, genealogy, operations, process data."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from thread.domain.facts.base import (
    Digest,
    Identifier,
    Instant,
    LotFact,
    PartFact,
    SubjectKind,
    Text,
)
from thread.domain.facts.measures import ParameterSummary, Reading
from thread.domain.units import Unit


class PartRegistered(PartFact):
    """A serialised part or a production lot starts its record against a design revision.

    ``undocumented=True`` registers it although the revision was never released
    in this ledger (legacy or supplier parts); that choice is itself recorded.
    """

    topic = "manufacturing.part-registered"
    part_number: Identifier
    revision: Identifier
    work_order: Identifier | None = None
    quantity: Annotated[int, Field(ge=1)] = 1
    udi: Annotated[str, Field(max_length=200)] | None = None
    site: Identifier | None = None
    undocumented: bool = False

    @model_validator(mode="after")
    def _quantity(self) -> Self:
        if self.serial is not None and self.quantity != 1:
            raise ValueError("quantity 1 for a serialised part")
        return self


class MaterialLotReceived(LotFact):
    """A lot of raw material arrives with its certificate."""

    topic = "manufacturing.material-lot-received"
    material: Text
    specification: Text | None = None
    supplier: Text
    heat: Identifier | None = None
    quantity: Annotated[float, Field(gt=0)]
    unit: Unit
    certificate_number: Identifier | None = None
    certificate_digest: Digest | None = None


class MaterialConsumed(PartFact):
    """Material from a lot went into this part or lot."""

    topic = "manufacturing.material-consumed"
    material_lot: Identifier
    quantity: Annotated[float, Field(gt=0)]
    unit: Unit
    certificate_digest: Digest | None = None

    def references(self) -> list[tuple[SubjectKind, str]]:
        return [("lot", self.material_lot)]


class ComponentInstalled(PartFact):
    """A serialised component is installed into this assembly."""

    topic = "manufacturing.component-installed"
    component: Identifier
    position: Identifier | None = None

    @model_validator(mode="after")
    def _serial_assembly(self) -> Self:
        if self.serial is None:
            raise ValueError("an assembly 'serial': components go into serialised assemblies")
        return self

    def references(self) -> list[tuple[SubjectKind, str]]:
        return [("part", self.component)]


class ComponentRemoved(PartFact):
    """A component is taken out of this assembly."""

    topic = "manufacturing.component-removed"
    component: Identifier
    reason: Text

    def references(self) -> list[tuple[SubjectKind, str]]:
        return [("part", self.component)]


class InstalledInto(PartFact):
    """This part went into an assembly (written by the ledger beside ComponentInstalled)."""

    topic = "manufacturing.installed-into"
    assembly: Identifier
    position: Identifier | None = None


class RemovedFrom(PartFact):
    """This part came out of an assembly (written by the ledger beside ComponentRemoved)."""

    topic = "manufacturing.removed-from"
    assembly: Identifier
    reason: Text


class OperationPerformed(PartFact):
    """An operation on a station or machine, with who ran it and which program."""

    topic = "manufacturing.operation-performed"
    operation: Identifier
    station: Identifier
    machine: Identifier | None = None
    operator: Identifier
    program: Identifier | None = None
    program_revision: Identifier | None = None
    started_at: Instant
    ended_at: Instant
    cycle_time_s: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at at or after started_at")
        return self

    def references(self) -> list[tuple[SubjectKind, str]]:
        return [("machine", self.machine)] if self.machine is not None else []


class ProcessRecorded(PartFact):
    """Process parameters captured while an operation ran on this part."""

    topic = "manufacturing.process-recorded"
    operation: Identifier
    machine: Identifier | None = None
    started_at: Instant
    ended_at: Instant
    parameters: Annotated[tuple[ParameterSummary, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at at or after started_at")
        names = [parameter.name for parameter in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("each parameter once per process record")
        return self

    def references(self) -> list[tuple[SubjectKind, str]]:
        return [("machine", self.machine)] if self.machine is not None else []


class EnvironmentRecorded(PartFact):
    """Work-environment conditions (temperature, humidity, cleanliness) while it was made."""

    topic = "manufacturing.environment-recorded"
    area: Identifier
    started_at: Instant
    ended_at: Instant
    readings: Annotated[tuple[Reading, ...], Field(min_length=1)]
