"""Design facts: revisions released, change orders, simulation results."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from thread.domain.facts.base import DesignFact, Digest, Identifier, Text
from thread.domain.facts.measures import Characteristic


class RevisionReleased(DesignFact):
    """A design revision is released for production, with its characteristics."""

    topic = "design.revision-released"
    revision: Identifier
    part_name: Text
    drawing: Identifier
    drawing_revision: Identifier | None = None
    cad_digest: Digest | None = None
    material_spec: Text | None = None
    change_order: Identifier | None = None
    characteristics: tuple[Characteristic, ...] = ()

    @model_validator(mode="after")
    def _unique_balloons(self) -> Self:
        seen: set[str] = set()
        for characteristic in self.characteristics:
            if characteristic.balloon in seen:
                raise ValueError(f"unique balloon numbers ({characteristic.balloon} repeats)")
            seen.add(characteristic.balloon)
        return self


class ChangeOrderIssued(DesignFact):
    """An engineering change order (ECO) against revisions of this part number."""

    topic = "design.change-order-issued"
    change_order: Identifier
    title: Text
    reason: Text
    affected_revisions: Annotated[tuple[Identifier, ...], Field(min_length=1)]
    new_revision: Identifier | None = None
    effectivity: Text | None = None


class SimulationRecorded(DesignFact):
    """A reference to a simulation result (FEA, CFD, tolerance stack) for a revision."""

    topic = "design.simulation-recorded"
    revision: Identifier
    kind: Identifier
    digest: Digest
    summary: Text
