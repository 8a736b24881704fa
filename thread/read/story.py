"""What ``trace`` returns: a serial's or lot's story as frozen typed models.

Every part is a frozen pydantic model, so a story reads by attribute
(``story.operations[0].condition.metric("vibration").max``) and serialises with
``model_dump(mode="json")``. Positions are the log's leaf indices, from 0.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from thread.domain.condition import ConditionSummary
from thread.domain.topics import Section
from thread.domain.whereabouts import Whereabouts
from thread.read.result import AsOfNote, Model

if TYPE_CHECKING:
    from thread.access.reading import Withholding


class TimelineEntry(Model):
    """One event of the subject, in its own chain's order, with its place in the log."""

    position: int
    version: int
    topic: str
    section: Section
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    source: str
    hash: str
    summary: str
    fact: dict[str, Any]
    corrected_by: int | None


class StoryFact(Model):
    """A fact as a section of the story lists it."""

    position: int
    version: int
    event: str
    at: datetime
    summary: str
    fact: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        """A field of the fact: ``inspection["verdict"]``."""
        return self.fact[name]


class ProcessParameter(Model):
    """One process parameter's summary over an operation."""

    name: str
    unit: str
    n: int
    min: float
    max: float
    mean: float
    sd: float


class StoryOperation(Model):
    """An operation on the subject, its process data and the machine's condition meanwhile."""

    operation: str
    machine: str | None
    station: str | None
    operator: str | None
    program: str | None
    program_revision: str | None
    started_at: datetime
    ended_at: datetime
    cycle_time_s: float | None
    position: int
    version: int
    process: tuple[ProcessParameter, ...]
    condition: ConditionSummary | None


class StorySignature(Model):
    """An electronic signature on one of the subject's events."""

    position: int
    signed_version: int
    signed_topic: str | None
    signer: str
    printed_name: str
    meaning: str
    signed_at: datetime
    signed_hash: str


class StoryDisposition(Model):
    """The decision that closed a non-conformance."""

    position: int
    version: int
    decision: str
    rationale: str
    reference: str | None
    at: datetime


class StoryNonConformance(Model):
    """A non-conformance, its disposition and the signatures on that disposition."""

    non_conformance: str
    description: str
    severity: str
    characteristic: str | None
    opened_at: datetime
    disposition: StoryDisposition | None
    signatures: tuple[StorySignature, ...]


class MaterialLot(Model):
    """What a material lot's receipt says."""

    material: str
    specification: str | None
    supplier: str
    heat: str | None
    certificate_number: str | None
    certificate_digest: str | None


class StoryMaterial(Model):
    """Material consumed from a lot, with the lot's receipt and certificates."""

    material_lot: str
    quantity: float
    unit: str
    at: datetime
    certificate_digest: str | None
    lot: MaterialLot | None
    certificates: tuple[dict[str, Any], ...]


class StoryComponent(Model):
    """A component installed in the subject."""

    serial: str
    position: str | None
    installed_at: datetime
    part_number: str | None
    revision: str | None


class StoryParent(Model):
    """The assembly the subject is installed in."""

    assembly: str
    position: str | None
    since: datetime
    part_number: str | None
    revision: str | None


class StoryDesign(Model):
    """The design revision the subject was registered against."""

    part_number: str
    revision: str | None
    released: bool
    part_name: str | None = None
    drawing: str | None = None
    released_at: datetime | None = None
    characteristics: tuple[dict[str, Any], ...] = ()
    change_orders: tuple[dict[str, Any], ...] = ()


class Story(Model):
    """Everything the ledger knows about one serial or lot, as of a moment."""

    kind: str
    key: str
    log_size: int
    #: Built from chain-verified events, each proved at its position in the log of
    #: ``log_size`` events and root ``log_root``, and checked against every read-model
    #: row it used (``trace(verified=True)``); False: from the read models as they are.
    verified: bool = False
    log_root: str | None = None
    as_of: AsOfNote | None
    part_number: str | None
    revision: str | None
    work_order: str | None
    udi: str | None
    whereabouts: Whereabouts
    design: StoryDesign | None
    operations: tuple[StoryOperation, ...]
    inspections: tuple[StoryFact, ...]
    tests: tuple[StoryFact, ...]
    non_conformances: tuple[StoryNonConformance, ...]
    materials: tuple[StoryMaterial, ...]
    certifications: tuple[StoryFact, ...]
    environment: tuple[StoryFact, ...]
    parent: StoryParent | None
    components: tuple[StoryComponent, ...]
    service: tuple[StoryFact, ...]
    actions: tuple[StoryFact, ...]
    signatures: tuple[StorySignature, ...]
    timeline: tuple[TimelineEntry, ...]

    @property
    def location(self) -> str:
        """Where it is now, in words."""
        return self.whereabouts.location

    @property
    def quarantined(self) -> bool:
        """Whether it is on hold."""
        return self.whereabouts.quarantined

    def section(self, name: Section) -> tuple[TimelineEntry, ...]:
        """The current (not superseded) events of one story section, oldest first."""
        return tuple(e for e in self.timeline if e.section == name and e.corrected_by is None)

    def withholding(self, withheld: Withholding) -> Story:
        """This story as a reader not cleared for the ``withheld`` events sees it: each keeps
        its place in the timeline (position, version, kind, times, hash) with its content
        replaced by the labels that withhold it; the sections leave them out. When the whole
        subject is withheld, only the timeline and where it is remain."""
        def hidden(version: int) -> bool:
            return withheld.of(version) is not None

        timeline = tuple(
            entry if not hidden(entry.version) else entry.model_copy(update={
                "summary": f"withheld ({', '.join(withheld.of(entry.version) or ())})",
                "fact": {}, "actor": "", "source": ""})
            for entry in self.timeline)
        if withheld.subject is not None:
            return self.model_copy(update={
                "timeline": timeline, "design": None, "revision": None, "work_order": None,
                "udi": None, "operations": (), "inspections": (), "tests": (),
                "non_conformances": (), "materials": (), "certifications": (),
                "environment": (), "parent": None, "components": (), "service": (),
                "actions": (), "signatures": ()})
        return self.model_copy(update={
            "timeline": timeline,
            "operations": tuple(x for x in self.operations if not hidden(x.version)),
            "inspections": tuple(x for x in self.inspections if not hidden(x.version)),
            "tests": tuple(x for x in self.tests if not hidden(x.version)),
            "certifications": tuple(x for x in self.certifications if not hidden(x.version)),
            "environment": tuple(x for x in self.environment if not hidden(x.version)),
            "service": tuple(x for x in self.service if not hidden(x.version)),
            "actions": tuple(x for x in self.actions if not hidden(x.version)),
            "signatures": tuple(x for x in self.signatures if not hidden(x.signed_version)),
            "non_conformances": tuple(
                x for x in self.non_conformances
                if x.disposition is None or not hidden(x.disposition.version))})
