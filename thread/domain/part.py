"""Parts and lots: the aggregates that carry a manufactured item's story."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from thread.domain import facts as f
from thread.domain.chain import Aggregate, Recorded
from thread.domain.facts.base import Fact, SubjectKind
from thread.domain.topics import moves
from thread.domain.whereabouts import NOWHERE, Whereabouts
from thread.errors import (
    AlreadyRegistered,
    GenealogyViolation,
    QualityRuleViolation,
    RuleViolation,
)


@dataclass
class NonConformance:
    """A non-conformance as the item knows it."""

    id: str
    description: str
    severity: str
    decision: str | None = None


@dataclass
class Consumption:
    """Material taken from a lot."""

    lot: str
    quantity: float
    unit: str


class Item(Aggregate):
    """What parts and lots share: registration, quality, genealogy, service, actions."""

    def __init__(self, *, kind_key: str, id: UUID | None = None) -> None:
        super().__init__(kind_key=kind_key, id=id)
        self.part_number: str | None = None
        self.revision: str | None = None
        self.work_order: str | None = None
        self.quantity = 1
        self.udi: str | None = None
        self.undocumented = False
        self.materials: list[Consumption] = []
        self.components: dict[str, str | None] = {}
        self.installed_in: str | None = None
        self.operations = 0
        self.inspections = 0
        self.failed_inspections = 0
        self.non_conformances: dict[str, NonConformance] = {}
        self.open_capas: set[str] = set()
        self.claims: list[str] = []
        #: Where it is and the holds on it: the domain's one fold over its facts.
        self.whereabouts: Whereabouts = NOWHERE

    @property
    def location(self) -> str:
        """Where it is, in words (``shipped to ACME (Berlin)``)."""
        return self.whereabouts.location

    @property
    def quarantined(self) -> bool:
        """Held: it may not ship or be installed."""
        return self.whereabouts.quarantined

    @property
    def scrapped(self) -> bool:
        """Dispositioned scrap."""
        return self.whereabouts.state == "scrapped"

    @property
    def recalls(self) -> list[str]:
        """Recalls it is in the scope of."""
        return list(self.whereabouts.recalls)

    @property
    def open_non_conformances(self) -> list[str]:
        """Ids of non-conformances still waiting for a disposition."""
        return [nc.id for nc in self.non_conformances.values() if nc.decision is None]

    @classmethod
    def creators(cls) -> tuple[type[Fact], ...]:
        return (f.PartRegistered,)

    def check(self, fact: Fact) -> None:
        if isinstance(fact, self.creators()) and self.exists:
            raise AlreadyRegistered(
                f"{self.label} is already registered (part number {self.part_number}, "
                f"revision {self.revision}); record a correction instead of registering again"
            )
        if isinstance(fact, f.DispositionRecorded):
            nc = self.non_conformances.get(fact.non_conformance)
            if nc is None or nc.decision is not None:
                state = "already dispositioned" if nc is not None else "never opened"
                raise QualityRuleViolation(
                    f"disposition for {self.label} names non-conformance "
                    f"{fact.non_conformance}, which is {state}; open non-conformances: "
                    f"{', '.join(self.open_non_conformances) or 'none'}"
                )
        elif isinstance(fact, f.NonConformanceOpened):
            if fact.non_conformance in self.non_conformances:
                raise QualityRuleViolation(
                    f"{self.label} already has non-conformance {fact.non_conformance}"
                )
        elif isinstance(fact, f.ReleasedFromQuarantine):
            if not self.quarantined:
                raise RuleViolation(f"{self.label} is not quarantined, so it cannot be released")
        elif isinstance(fact, f.CorrectiveActionClosed):
            if fact.capa not in self.open_capas:
                raise QualityRuleViolation(
                    f"{self.label} has no open corrective action {fact.capa}"
                )
        elif isinstance(fact, f.CorrectiveActionOpened):
            if fact.capa in self.open_capas:
                raise QualityRuleViolation(f"{self.label} already has open CAPA {fact.capa}")
        elif isinstance(fact, (f.Shipped, f.InstalledInto, f.InstalledAtSite)):
            self._check_usable(type(fact).__name__)
            if isinstance(fact, f.InstalledInto):
                if fact.assembly == self.key:
                    raise GenealogyViolation(f"{self.label} cannot be installed into itself")
                if self.installed_in is not None:
                    raise GenealogyViolation(
                        f"{self.label} is already installed in {self.installed_in}; "
                        f"record its removal before installing it into {fact.assembly}"
                    )
        elif isinstance(fact, f.RemovedFrom):
            if self.installed_in != fact.assembly:
                raise GenealogyViolation(
                    f"{self.label} is not installed in {fact.assembly} "
                    f"(installed in: {self.installed_in or 'nothing'})"
                )
        elif isinstance(fact, f.ComponentInstalled):
            if fact.component in self.components:
                raise GenealogyViolation(f"{fact.component} is already a component of {self.label}")
        elif isinstance(fact, f.ComponentRemoved):
            if fact.component not in self.components:
                raise GenealogyViolation(f"{fact.component} is not a component of {self.label}")
        else:
            check_reference(self, fact)

    def _check_usable(self, action: str) -> None:
        if self.scrapped:
            raise RuleViolation(f"{self.label} was dispositioned scrap; {action} refused")
        if self.quarantined:
            raise RuleViolation(
                f"{self.label} is quarantined; release it from quarantine before {action}"
            )

    def apply(self, event: Recorded) -> None:
        fact = event.fact
        move = moves().get(fact.topic)
        if move is not None:
            self.whereabouts = move(self.whereabouts, fact.__dict__)
        if isinstance(fact, f.PartRegistered):
            self.part_number, self.revision = fact.part_number, fact.revision
            self.work_order, self.quantity = fact.work_order, fact.quantity
            self.udi, self.undocumented = fact.udi, fact.undocumented
        elif isinstance(fact, f.MaterialLotReceived):
            self.part_number = fact.material
            self.quantity = int(fact.quantity)
        elif isinstance(fact, f.MaterialConsumed):
            self.materials.append(Consumption(fact.material_lot, fact.quantity, fact.unit))
        elif isinstance(fact, f.ComponentInstalled):
            self.components[fact.component] = fact.position
        elif isinstance(fact, f.ComponentRemoved):
            self.components.pop(fact.component, None)
        elif isinstance(fact, f.InstalledInto):
            self.installed_in = fact.assembly
        elif isinstance(fact, f.RemovedFrom):
            self.installed_in = None
        elif isinstance(fact, f.OperationPerformed):
            self.operations += 1
        elif isinstance(fact, f.InspectionRecorded):
            self.inspections += 1
            self.failed_inspections += fact.verdict == "fail"
        elif isinstance(fact, f.NonConformanceOpened):
            self.non_conformances[fact.non_conformance] = NonConformance(
                fact.non_conformance, fact.description, fact.severity
            )
        elif isinstance(fact, f.DispositionRecorded):
            self.non_conformances[fact.non_conformance].decision = fact.decision
        elif isinstance(fact, f.FailureReported):
            self.claims.append(fact.claim)
        elif isinstance(fact, f.CorrectiveActionOpened):
            self.open_capas.add(fact.capa)
        elif isinstance(fact, f.CorrectiveActionClosed):
            self.open_capas.discard(fact.capa)



class Part(Item):
    """One serialised part."""

    kind: ClassVar[SubjectKind] = "part"


class Lot(Item):
    """A production lot of parts, or a lot of raw material."""

    kind: ClassVar[SubjectKind] = "lot"

    @classmethod
    def creators(cls) -> tuple[type[Fact], ...]:
        return (f.PartRegistered, f.MaterialLotReceived)


def _check_reference(aggregate: Aggregate, fact: f.SignatureApplied | f.CorrectionRecorded) -> None:
    version = fact.signed_version if isinstance(fact, f.SignatureApplied) else fact.corrects_version
    digest = fact.signed_hash if isinstance(fact, f.SignatureApplied) else fact.corrects_hash
    if not 1 <= version <= aggregate.version or aggregate.hash_of(version).hex() != digest:
        raise RuleViolation(
            f"{type(fact).__name__} on {aggregate.label} names version {version} with hash "
            f"{digest[:16]}..., which is not an event of this subject"
        )


def check_reference(aggregate: Aggregate, fact: Fact) -> None:
    """Signatures and corrections must name an existing event of the same subject by hash."""
    if isinstance(fact, (f.SignatureApplied, f.CorrectionRecorded)):
        _check_reference(aggregate, fact)
