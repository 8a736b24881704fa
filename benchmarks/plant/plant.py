"""The plant as a whole: its master data first, then production chunk by chunk.

A chunk is CHUNK_UNITS drive units in a row and everything that happens on
the floor while they start: their parts, the machines' condition blocks, the
design changes that take effect and the field events that fall due. Chunks
are fixed by unit number, so a run for more units extends the same plant and
a resumed run can skip the chunks already written.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from plant.catalogue import (
    BUSY,
    CHANGE_ORDERS,
    DESIGNS,
    LAYOUT,
    LEVELS,
    MACHINES,
    SITE,
    START,
    TOP,
    UNIT_STEP,
    checks,
    digest,
    serial,
)
from plant.field import FieldPlan, FieldQueue
from plant.health import Health
from plant.journal import Entry, Journal
from plant.production import Made, Production, Watch
from thread import facts as f

#: Drive units per chunk (one ledger batch): about 5,000 events.
CHUNK_UNITS = 16
#: After a unit starts, its parts are on machines for up to this long.
MAKING = timedelta(hours=16)
WEEK = timedelta(days=7)


class Plant:
    """The simulation of ``units`` drive units under one seed."""

    def __init__(self, seed: int, units: int, chunk_units: int = CHUNK_UNITS) -> None:
        self.seed = seed
        self.units = units
        self.chunk_units = chunk_units
        self.journal = Journal(seed)
        self.health = Health(seed)
        self.engineer = self.journal.signer("k.haas", "Katrin Haas")
        self.mrb = self.journal.signer("m.oduya", "Michael Oduya")
        self.production = Production(self.journal, self.health, self.mrb)
        self.field = FieldQueue(self.journal, self.health)
        self.claims: list[FieldPlan] = []
        self.made: list[Made] = []

    @property
    def chunks(self) -> int:
        return math.ceil(self.units / self.chunk_units)

    def boundary(self, chunk: int) -> datetime:
        """When the first unit of ``chunk`` starts."""
        return START + chunk * self.chunk_units * UNIT_STEP

    def units_of(self, chunk: int) -> range:
        return range(chunk * self.chunk_units, min((chunk + 1) * self.chunk_units, self.units))

    @property
    def end(self) -> datetime:
        """When the last unit's parts are off the machines."""
        return START + (self.units - 1) * UNIT_STEP + MAKING

    def marker(self, chunk: int) -> str:
        """The record id whose presence shows that ``chunk`` (as far as this run goes) is
        written: the registration of its last drive unit, written in the chunk's one batch."""
        return f"{self.seed}/{serial(LAYOUT[-1], self.units_of(chunk)[-1])}/reg"

    @property
    def setup_marker(self) -> str:
        return f"{self.seed}/{TOP}/rev/A"

    def setup(self) -> list[Entry]:
        """Released designs with their characteristics, simulations and the machines."""
        journal = self.journal
        released = START - timedelta(days=30)
        for number, design in enumerate(DESIGNS.values()):
            at = released + timedelta(minutes=10 * number)
            journal.add(f.RevisionReleased(
                part_number=design.part_number, revision="A", part_name=design.name,
                drawing=f"DWG-{design.part_number}", drawing_revision="A",
                cad_digest=digest(f"CAD model {design.part_number} revision A"),
                material_spec=design.material,
                characteristics=tuple(check.characteristic for check in design.checks),
            ), at, self.engineer.signer, design.part_number, "rev/A", sign=self.engineer)
        for part_number, kind, summary in (
            ("GBX-220", "fea", "housing stiffness under 410 N.m peak torque: max deflection "
                               "0.042 mm at output bearing seat"),
            (TOP, "thermal", "continuous 60 kW: oil sump 78 Cel, winding hot spot 142 Cel"),
        ):
            journal.add(f.SimulationRecorded(
                part_number=part_number, revision="A", kind=kind, summary=summary,
                digest=digest(f"{kind} study {part_number} A"),
            ), released + timedelta(days=2), self.engineer.signer, part_number, f"sim/{kind}")
        for machine in MACHINES:
            journal.add(f.MachineRegistered(
                machine=machine.machine, name=machine.name, kind=machine.kind, site=SITE,
                line=machine.line,
            ), START - timedelta(days=20), "maintenance", machine.machine, "registered")
        return journal.take()

    def produce(self, chunk: int) -> list[Entry]:
        """Every fact of ``chunk``, in an order the ledger accepts."""
        journal = self.journal
        first, following = self.boundary(chunk), self.boundary(chunk + 1)
        for change in CHANGE_ORDERS:
            if first <= change.effective < following or (chunk == 0 and change.effective
                                                            < first):
                self.change(change.part_number, change.change_order, change.revision,
                            change.effective, change.title, change.reason)
        self.made = []
        for unit in self.units_of(chunk):
            self.made.append(self.production.unit(unit))
            self.plan(unit)
        last = chunk == self.chunks - 1
        until = max(following, self.end) if last else following
        for machine in MACHINES:
            length = machine.window
            for index in range(math.ceil((first - START) / length),
                               math.ceil((until - START) / length)):
                self.health.record(journal, machine.machine, index)
        entries = journal.take()
        entries += self.field.due(following)
        return entries

    def skip(self, chunk: int) -> None:
        """Account for a chunk a previous run wrote: plan its units' field events and
        forget those already due."""
        for unit in self.units_of(chunk):
            self.plan(unit)
        self.field.drop(self.boundary(chunk + 1))

    def plan(self, unit: int) -> None:
        planned = self.field.plan(unit)
        if planned.failure is not None and len(self.claims) < 5:
            self.claims.append(planned)

    def finish(self) -> list[Entry]:
        """The field events still in the future when the last unit is made."""
        return self.field.due(None)

    def change(self, part_number: str, change_order: str, revision: str, effective: datetime,
               title: str, reason: str) -> None:
        """An engineering change: the order, then the new revision it releases."""
        self.journal.add(f.ChangeOrderIssued(
            part_number=part_number, change_order=change_order, title=title, reason=reason,
            affected_revisions=("A",), new_revision=revision,
            effectivity=f"parts registered from {effective:%Y-%m-%d %H:%M} UTC",
        ), effective - timedelta(days=5), self.engineer.signer, part_number,
            f"eco/{change_order}")
        design = DESIGNS[part_number]
        self.journal.add(f.RevisionReleased(
            part_number=part_number, revision=revision, part_name=design.name,
            drawing=f"DWG-{part_number}", drawing_revision=revision,
            cad_digest=digest(f"CAD model {part_number} revision {revision}"),
            material_spec=design.material, change_order=change_order,
            characteristics=tuple(check.characteristic
                                  for check in checks(part_number, revision)),
        ), effective - timedelta(days=1), self.engineer.signer, part_number,
            f"rev/{revision}", sign=self.engineer)

    # Probes

    def probe_window(self) -> tuple[datetime, datetime, str]:
        """A week on the busy grinder with the most time both vibrating and running hot,
        and a predicate that picks the parts ground then."""
        weeks = max(1, int((self.end - START) / WEEK))
        starts = [START + week * WEEK for week in range(weeks)]
        scores = [self.health.joint_overlap(BUSY, s, s + WEEK) for s in starts]
        if max(scores) > 0:
            best = starts[scores.index(max(scores))]
            return best, best + WEEK, "vibration.max > 4.0 and coolant_temp.mean > 30"
        shaky = [sum((min(e.end, s + WEEK) - max(e.start, s)).total_seconds()
                     for e in self.health.episodes(BUSY, s, s + WEEK) if e.kind == "vibration")
                 for s in starts]
        best = starts[shaky.index(max(shaky))]
        return best, best + WEEK, "vibration.max > 4.0"

    def watching(self, chunk: int, watch: Watch) -> bool:
        """Whether ``chunk`` grinds anything inside the watched window."""
        return self.boundary(chunk) < watch.end and self.boundary(chunk + 1) + MAKING > (
            watch.start)


def levels(units: int) -> list[dict[str, Any]]:
    """A few serials at each level: of the first, a middle and the last unit."""
    picks = sorted({0, units // 2, units - 1})
    found = []
    for level in range(1, LEVELS + 1):
        slots = [slot for slot in LAYOUT if slot.level == level]
        found.append({
            "level": level,
            "part_numbers": sorted({slot.part_number for slot in slots}),
            "serials": [serial(slots[0], unit) for unit in picks],
            "per_unit": len(slots),
        })
    return found
