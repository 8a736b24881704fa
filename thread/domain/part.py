"""Parts and lots: the aggregates that carry a manufactured item's story."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
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
        rule = _CHECKS.find(type(fact))
        if rule is not None:
            rule(self, fact)
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
        change = _APPLIES.find(type(fact))
        if change is not None:
            change(self, fact)


Rule = Callable[[Item, Any], None]


class _Table:
    """Rules (or changes) by fact class, found for a subclass too, looked up once per class."""

    def __init__(self) -> None:
        self.declared: dict[type[Fact], Rule] = {}
        self._found: dict[type[Fact], Rule | None] = {}

    def __call__(self, *classes: type[Fact]) -> Callable[[Rule], Rule]:
        def declare(rule: Rule) -> Rule:
            self.declared.update(dict.fromkeys(classes, rule))
            self._found.clear()
            return rule
        return declare

    def find(self, cls: type[Fact]) -> Rule | None:
        try:
            return self._found[cls]
        except KeyError:
            found = next((self.declared[base] for base in cls.__mro__
                          if base in self.declared), None)
            self._found[cls] = found
            return found


#: What an item refuses, by fact class; other facts only need their references checked.
_CHECKS = _Table()
#: How a fact changes an item's state beyond its whereabouts, by fact class.
_APPLIES = _Table()


@_CHECKS(f.DispositionRecorded)
def _disposition(item: Item, fact: f.DispositionRecorded) -> None:
    nc = item.non_conformances.get(fact.non_conformance)
    if nc is None or nc.decision is not None:
        state = "already dispositioned" if nc is not None else "never opened"
        raise QualityRuleViolation(
            f"disposition for {item.label} names non-conformance "
            f"{fact.non_conformance}, which is {state}; open non-conformances: "
            f"{', '.join(item.open_non_conformances) or 'none'}"
        )


@_CHECKS(f.NonConformanceOpened)
def _non_conformance(item: Item, fact: f.NonConformanceOpened) -> None:
    if fact.non_conformance in item.non_conformances:
        raise QualityRuleViolation(
            f"{item.label} already has non-conformance {fact.non_conformance}"
        )


@_CHECKS(f.ReleasedFromQuarantine)
def _release(item: Item, fact: f.ReleasedFromQuarantine) -> None:
    if not item.quarantined:
        raise RuleViolation(f"{item.label} is not quarantined, so it cannot be released")


@_CHECKS(f.CorrectiveActionClosed)
def _capa_closed(item: Item, fact: f.CorrectiveActionClosed) -> None:
    if fact.capa not in item.open_capas:
        raise QualityRuleViolation(f"{item.label} has no open corrective action {fact.capa}")


@_CHECKS(f.CorrectiveActionOpened)
def _capa_opened(item: Item, fact: f.CorrectiveActionOpened) -> None:
    if fact.capa in item.open_capas:
        raise QualityRuleViolation(f"{item.label} already has open CAPA {fact.capa}")


@_CHECKS(f.Shipped, f.InstalledAtSite)
def _leaving(item: Item, fact: f.Shipped | f.InstalledAtSite) -> None:
    item._check_usable(type(fact).__name__)


@_CHECKS(f.InstalledInto)
def _installed_into(item: Item, fact: f.InstalledInto) -> None:
    item._check_usable(type(fact).__name__)
    if fact.assembly == item.key:
        raise GenealogyViolation(f"{item.label} cannot be installed into itself")
    if item.installed_in is not None:
        raise GenealogyViolation(
            f"{item.label} is already installed in {item.installed_in}; "
            f"record its removal before installing it into {fact.assembly}"
        )


@_CHECKS(f.RemovedFrom)
def _removed_from(item: Item, fact: f.RemovedFrom) -> None:
    if item.installed_in != fact.assembly:
        raise GenealogyViolation(
            f"{item.label} is not installed in {fact.assembly} "
            f"(installed in: {item.installed_in or 'nothing'})"
        )


@_CHECKS(f.ComponentInstalled)
def _component_installed(item: Item, fact: f.ComponentInstalled) -> None:
    if fact.component in item.components:
        raise GenealogyViolation(f"{fact.component} is already a component of {item.label}")


@_CHECKS(f.ComponentRemoved)
def _component_removed(item: Item, fact: f.ComponentRemoved) -> None:
    if fact.component not in item.components:
        raise GenealogyViolation(f"{fact.component} is not a component of {item.label}")


@_APPLIES(f.PartRegistered)
def _registered(item: Item, fact: f.PartRegistered) -> None:
    item.part_number, item.revision = fact.part_number, fact.revision
    item.work_order, item.quantity = fact.work_order, fact.quantity
    item.udi, item.undocumented = fact.udi, fact.undocumented


@_APPLIES(f.MaterialLotReceived)
def _received(item: Item, fact: f.MaterialLotReceived) -> None:
    item.part_number = fact.material
    item.quantity = int(fact.quantity)


@_APPLIES(f.MaterialConsumed)
def _consumed(item: Item, fact: f.MaterialConsumed) -> None:
    item.materials.append(Consumption(fact.material_lot, fact.quantity, fact.unit))


@_APPLIES(f.ComponentInstalled)
def _add_component(item: Item, fact: f.ComponentInstalled) -> None:
    item.components[fact.component] = fact.position


@_APPLIES(f.ComponentRemoved)
def _drop_component(item: Item, fact: f.ComponentRemoved) -> None:
    item.components.pop(fact.component, None)


@_APPLIES(f.InstalledInto)
def _into(item: Item, fact: f.InstalledInto) -> None:
    item.installed_in = fact.assembly


@_APPLIES(f.RemovedFrom)
def _out(item: Item, fact: f.RemovedFrom) -> None:
    item.installed_in = None


@_APPLIES(f.OperationPerformed)
def _operated(item: Item, fact: f.OperationPerformed) -> None:
    item.operations += 1


@_APPLIES(f.InspectionRecorded)
def _inspected(item: Item, fact: f.InspectionRecorded) -> None:
    item.inspections += 1
    item.failed_inspections += fact.verdict == "fail"


@_APPLIES(f.NonConformanceOpened)
def _opened(item: Item, fact: f.NonConformanceOpened) -> None:
    item.non_conformances[fact.non_conformance] = NonConformance(
        fact.non_conformance, fact.description, fact.severity)


@_APPLIES(f.DispositionRecorded)
def _decided(item: Item, fact: f.DispositionRecorded) -> None:
    item.non_conformances[fact.non_conformance].decision = fact.decision


@_APPLIES(f.FailureReported)
def _failed(item: Item, fact: f.FailureReported) -> None:
    item.claims.append(fact.claim)


@_APPLIES(f.CorrectiveActionOpened)
def _capa_open(item: Item, fact: f.CorrectiveActionOpened) -> None:
    item.open_capas.add(fact.capa)


@_APPLIES(f.CorrectiveActionClosed)
def _capa_close(item: Item, fact: f.CorrectiveActionClosed) -> None:
    item.open_capas.discard(fact.capa)


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
    """Signatures and corrections must name an existing event of the same subject by hash;
    a classification of one event, an existing version."""
    if isinstance(fact, (f.SignatureApplied, f.CorrectionRecorded)):
        _check_reference(aggregate, fact)
    elif isinstance(fact, f.Withheld):
        raise RuleViolation(f"a Withheld stands in for a controlled event in what a reader "
                            f"is shown; it is never recorded (on {aggregate.label})")
    elif isinstance(fact, f.ExportClassified) and (fact.version or 0) > aggregate.version:
        raise RuleViolation(f"ExportClassified names version {fact.version} of "
                            f"{aggregate.label}, which has {aggregate.version} events")
