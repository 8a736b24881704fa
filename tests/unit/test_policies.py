"""Rules and effects across subjects, and the one whereabouts fold, driven in memory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import bearing, inspection, released_bearing

from thread import facts as f
from thread.domain import policies, topics
from thread.domain.chain import Aggregate
from thread.domain.facts.base import Fact, SubjectKind
from thread.domain.part import Part
from thread.domain.whereabouts import NOWHERE, Whereabouts
from thread.errors import GenealogyViolation, RuleViolation, UnknownSubject, UnreleasedRevision

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


class Plant:
    """Aggregates in a dict, each fact checked, recorded and followed by its effects as the
    ledger's batch does (which also discards the whole batch when one fact is refused)."""

    def __init__(self, *facts: Fact) -> None:
        self.subjects: dict[tuple[str, str], Aggregate] = {}
        self.relied: list[str] = []
        self.record(*facts)

    def load(self, kind: SubjectKind, key: str) -> Aggregate:
        if (kind, key) not in self.subjects:
            self.subjects[kind, key] = Aggregate.of_kind(kind)(kind_key=key)
        return self.subjects[kind, key]

    def rely(self, aggregate: Aggregate) -> None:
        self.relied.append(aggregate.label)

    def part(self, serial: str) -> Part:
        found = self.subjects["part", serial]
        assert isinstance(found, Part)
        return found

    def record(self, *facts: Fact) -> None:
        for fact in facts:
            aggregate = self.load(*fact.subject)
            policies.check(fact, aggregate, self.load, self.rely)
            for done in (fact, *policies.effects(fact)):
                self.load(*done.subject).record(done, occurred_at=T0, recorded_at=T0,
                                                actor="tester", source="test")


def install(assembly: str, component: str) -> f.ComponentInstalled:
    """``component`` goes into ``assembly``."""
    return f.ComponentInstalled(serial=assembly, component=component)


def test_a_part_needs_a_released_revision_or_says_it_is_undocumented() -> None:
    """PartRegistered names the revisions that were released, or none."""
    plant = Plant()
    with pytest.raises(UnreleasedRevision, match=r"part SN-1 names part number BRG-6204 revision "
                                                 r"A, which was never released \(released: "
                                                 r"none\); release it first"):
        plant.record(bearing("SN-1"))
    plant.record(released_bearing())
    with pytest.raises(UnreleasedRevision, match=r"revision B, which was never released "
                                                 r"\(released: A\)"):
        plant.record(bearing("SN-1", revision="B"))
    plant.record(bearing("SN-1"), f.PartRegistered(serial="SN-2", part_number="BRG-6204",
                                                   revision="B", undocumented=True))
    assert plant.part("SN-2").undocumented and plant.part("SN-1").revision == "A"


def test_a_fact_naming_an_unregistered_subject_is_refused() -> None:
    """Lots, machines and components a fact names must exist before it lands."""
    plant = Plant(released_bearing(), bearing("SN-1"))
    with pytest.raises(UnknownSubject, match=r"^MaterialConsumed for part SN-1 names lot "
                                             r"LOT-9, which is not registered$"):
        plant.record(f.MaterialConsumed(serial="SN-1", material_lot="LOT-9", quantity=1,
                                        unit="kg"))
    with pytest.raises(UnknownSubject, match="names part SN-404, which is not registered"):
        plant.record(install("SN-1", "SN-404"))
    assert plant.part("SN-1").version == 1


def test_installing_a_component_puts_it_into_the_assembly() -> None:
    """ComponentInstalled causes InstalledInto on the component; removal causes RemovedFrom."""
    installed = f.ComponentInstalled(serial="GBX-1", component="SN-1", position="P1")
    assert policies.effects(installed) == [
        f.InstalledInto(serial="SN-1", assembly="GBX-1", position="P1")]
    removed = f.ComponentRemoved(serial="GBX-1", component="SN-1", reason="worn")
    assert policies.effects(removed) == [
        f.RemovedFrom(serial="SN-1", assembly="GBX-1", reason="worn")]
    assert policies.effects(inspection("SN-1")) == []
    plant = Plant(released_bearing(), bearing("SN-1"), bearing("GBX-1"), installed)
    assert plant.part("GBX-1").components == {"SN-1": "P1"}
    assert (plant.part("SN-1").location, plant.part("SN-1").installed_in) == (
        "in assembly GBX-1", "GBX-1")
    plant.record(removed)
    assert (plant.part("SN-1").location, plant.part("GBX-1").components) == ("in stock", {})


def test_installation_cannot_make_a_cycle() -> None:
    """A part cannot go into itself or into anything it is already inside."""
    plant = Plant(released_bearing(), bearing("SN-1"), bearing("GBX-1"), bearing("CAR-1"),
                  install("GBX-1", "SN-1"), install("CAR-1", "GBX-1"))
    with pytest.raises(GenealogyViolation, match=r"^part SN-1 cannot be installed into itself$"):
        plant.record(install("SN-1", "SN-1"))
    with pytest.raises(GenealogyViolation, match=r"^installing part CAR-1 into part SN-1 would "
                                                 r"put it inside itself: SN-1 in GBX-1 in "
                                                 r"CAR-1$"):
        plant.record(install("SN-1", "CAR-1"))
    assert plant.relied == ["part GBX-1"]  # the ancestor the decision read but did not write
    assert plant.part("SN-1").components == {}


def test_the_effect_is_checked_by_the_component() -> None:
    """A quarantined component refuses the InstalledInto its installation causes."""
    plant = Plant(released_bearing(), bearing("SN-1"), bearing("GBX-1"),
                  f.Quarantined(serial="SN-1", reason="hold"))
    with pytest.raises(RuleViolation, match="part SN-1 is quarantined; release it from "
                                            "quarantine before InstalledInto"):
        plant.record(install("GBX-1", "SN-1"))
    assert plant.part("SN-1").installed_in is None


def test_the_fold_gives_where_a_part_is_after_its_facts() -> None:
    """Moving facts change the whereabouts in order; others leave them as they are."""
    facts: list[Fact] = [
        bearing("SN-1"), inspection("SN-1"),
        f.InstalledInto(serial="SN-1", assembly="GBX-1"),
        f.RemovedFrom(serial="SN-1", assembly="GBX-1", reason="noise"),
        f.Quarantined(serial="SN-1", reason="hold"),
        f.ReleasedFromQuarantine(serial="SN-1", reason="ok"),
        f.Shipped(serial="SN-1", customer="ACME", order="SO-7", destination="Berlin"),
        f.Recalled(serial="SN-1", recall="R-1", reason="supplier"),
    ]
    here = topics.fold((fact.topic, fact.model_dump()) for fact in facts)
    assert here == Whereabouts(state="shipped", customer="ACME", destination="Berlin",
                               quarantined=False, recalls=("R-1",))
    assert here.location == "shipped to ACME (Berlin)"
    assert topics.fold([]) == NOWHERE and NOWHERE.location == "not registered"
    assert topics.fold([("unknown.topic", {})], here) == here


def test_the_fold_and_the_aggregate_give_one_answer() -> None:
    """The part aggregate's whereabouts are the fold over the same facts."""
    facts: list[Fact] = [
        bearing("SN-1"), f.InstalledInto(serial="SN-1", assembly="GBX-1"),
        f.Quarantined(serial="SN-1", reason="hold"),
        f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1", description="bore"),
        f.DispositionRecorded(serial="SN-1", non_conformance="NC-1", decision="return-to-vendor",
                              rationale="supplier defect"),
    ]
    plant = Plant(released_bearing(), bearing("GBX-1"), *facts)
    folded = topics.fold((fact.topic, fact.model_dump()) for fact in facts)
    assert plant.part("SN-1").whereabouts == folded
    assert (folded.state, folded.assembly, folded.quarantined) == (
        "returned to vendor", "GBX-1", True)


@pytest.mark.parametrize(("decision", "state"), [
    ("scrap", "scrapped"), ("return-to-vendor", "returned to vendor"),
    ("use-as-is", "in production"), ("rework", "in production")])
def test_only_scrap_and_return_to_vendor_move_a_part(decision: str, state: str) -> None:
    """Other dispositions keep the part where it was."""
    payload = {"serial": "SN-1", "non_conformance": "NC-1", "decision": decision}
    here = topics.fold([(bearing("SN-1").topic, {}), ("quality.disposition-recorded", payload)])
    assert here.state == state


def test_whereabouts_in_words() -> None:
    """Each state reads as a view prints it."""
    assert Whereabouts(state="in assembly", assembly="GBX-1").location == "in assembly GBX-1"
    assert Whereabouts(state="shipped", customer="ACME").location == "shipped to ACME"
    assert Whereabouts(state="installed at site", site="Plant 3").location == (
        "installed at Plant 3")
    dumped = Whereabouts(state="in stock", recalls=("R-1",)).model_dump()
    assert (dumped["location"], dumped["recalls"]) == ("in stock", ["R-1"])
