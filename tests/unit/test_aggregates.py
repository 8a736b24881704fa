"""The aggregates on their own, in memory: what each subject refuses and how facts change it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from conftest import bearing, inspection, released_bearing

from thread import facts as f
from thread.domain.chain import GENESIS, Aggregate, Recorded
from thread.domain.design import DesignItem
from thread.domain.facts.base import Fact
from thread.domain.machine import Machine
from thread.domain.part import Lot, Part
from thread.errors import (
    AlreadyRegistered,
    GenealogyViolation,
    IntegrityFailure,
    LedgerError,
    QualityRuleViolation,
    RuleViolation,
    UnknownSubject,
    UnreleasedRevision,
)

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def record(aggregate: Aggregate, *facts: Fact) -> list[Recorded]:
    """Append ``facts`` to ``aggregate`` as a batch does after the cross-subject policies."""
    return [aggregate.record(fact, occurred_at=T0, recorded_at=T0.replace(second=n),
                             actor="tester", source="test")
            for n, fact in enumerate(facts)]


def part(serial: str = "SN-1", *facts: Fact) -> Part:
    """A registered bearing with ``facts`` recorded after its registration."""
    registered = Part(kind_key=serial)
    record(registered, bearing(serial), *facts)
    return registered


def test_nothing_is_recorded_before_registration() -> None:
    """An unregistered part names the fact that would register it."""
    with pytest.raises(UnknownSubject, match=r"^part SN-1 is not registered: record "
                                             r"PartRegistered before InspectionRecorded$"):
        record(Part(kind_key="SN-1"), inspection("SN-1"))


def test_registering_twice_is_refused_with_what_is_known() -> None:
    """A second registration names the part number and revision already on record."""
    with pytest.raises(AlreadyRegistered, match=r"part SN-1 is already registered "
                                                r"\(part number BRG-6204, revision A\)"):
        part("SN-1", bearing("SN-1"))


def test_a_fact_about_another_subject_is_refused() -> None:
    """A part's chain holds only facts about that part."""
    with pytest.raises(LedgerError, match=r"is about \('part', 'SN-2'\), not part SN-1"):
        record(part("SN-1"), inspection("SN-2"))


def test_whereabouts_follow_installation_removal_shipment_and_the_field() -> None:
    """Each moving fact changes where the part is, in the words every view uses."""
    sn = part("SN-1")
    assert (sn.whereabouts.state, sn.location) == ("in production", "in production")
    record(sn, f.InstalledInto(serial="SN-1", assembly="GBX-1", position="P1"))
    assert (sn.location, sn.installed_in) == ("in assembly GBX-1", "GBX-1")
    record(sn, f.RemovedFrom(serial="SN-1", assembly="GBX-1", reason="noise"))
    assert (sn.location, sn.installed_in) == ("in stock", None)
    record(sn, f.Shipped(serial="SN-1", customer="ACME", order="SO-7", destination="Berlin"))
    assert sn.location == "shipped to ACME (Berlin)"
    record(sn, f.InstalledAtSite(serial="SN-1", site="Plant 3"))
    assert sn.location == "installed at Plant 3"
    assert sn.whereabouts.customer == "ACME"


def test_quarantine_holds_shipment_and_installation_until_released() -> None:
    """A quarantined part may not ship or go into an assembly; release lifts the hold."""
    sn = part("SN-1", f.Quarantined(serial="SN-1", reason="bore out of tolerance"))
    assert sn.quarantined
    for fact in (f.Shipped(serial="SN-1", customer="ACME", order="SO-7"),
                 f.InstalledInto(serial="SN-1", assembly="GBX-1")):
        with pytest.raises(RuleViolation, match=r"part SN-1 is quarantined; release it from "
                                                rf"quarantine before {type(fact).__name__}"):
            record(sn, fact)
    record(sn, f.ReleasedFromQuarantine(serial="SN-1", reason="re-measured"))
    record(sn, f.Shipped(serial="SN-1", customer="ACME", order="SO-7"))
    assert (sn.quarantined, sn.location) == (False, "shipped to ACME")


def test_release_needs_a_quarantine() -> None:
    """A part that is not held cannot be released."""
    with pytest.raises(RuleViolation, match="part SN-1 is not quarantined, so it cannot be"):
        part("SN-1", f.ReleasedFromQuarantine(serial="SN-1", reason="why not"))


def test_scrap_ends_the_parts_life() -> None:
    """Dispositioned scrap closes the non-conformance and refuses shipping and installing."""
    sn = part("SN-1",
              f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1", description="bore"),
              f.DispositionRecorded(serial="SN-1", non_conformance="NC-1", decision="scrap",
                                    rationale="cannot be reworked"))
    assert (sn.scrapped, sn.location, sn.open_non_conformances) == (True, "scrapped", [])
    for fact in (f.Shipped(serial="SN-1", customer="ACME", order="SO-7"),
                 f.InstalledAtSite(serial="SN-1", site="Plant 3")):
        with pytest.raises(RuleViolation, match=rf"part SN-1 was dispositioned scrap; "
                                                rf"{type(fact).__name__} refused"):
            record(sn, fact)


def test_a_disposition_needs_an_open_non_conformance() -> None:
    """Never opened, opened twice and dispositioned twice are all refused by name."""
    sn = part("SN-1")
    accept = f.DispositionRecorded(serial="SN-1", non_conformance="NC-1", decision="use-as-is",
                                   rationale="within function")
    with pytest.raises(QualityRuleViolation, match=r"names non-conformance NC-1, which is never "
                                                   r"opened; open non-conformances: none"):
        record(sn, accept)
    opened = f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1", description="burr")
    record(sn, opened)
    assert sn.open_non_conformances == ["NC-1"]
    with pytest.raises(QualityRuleViolation, match="part SN-1 already has non-conformance NC-1"):
        record(sn, opened)
    record(sn, accept)
    assert (sn.open_non_conformances, sn.location) == ([], "in production")
    with pytest.raises(QualityRuleViolation, match="which is already dispositioned"):
        record(sn, accept)


def test_a_component_goes_into_one_assembly_at_a_time() -> None:
    """Not into itself, not into a second assembly, and removed only from where it is."""
    sn = part("SN-1")
    with pytest.raises(GenealogyViolation, match="part SN-1 cannot be installed into itself"):
        record(sn, f.InstalledInto(serial="SN-1", assembly="SN-1"))
    record(sn, f.InstalledInto(serial="SN-1", assembly="GBX-1"))
    with pytest.raises(GenealogyViolation, match=r"already installed in GBX-1; record its "
                                                 r"removal before installing it into GBX-2"):
        record(sn, f.InstalledInto(serial="SN-1", assembly="GBX-2"))
    with pytest.raises(GenealogyViolation, match=r"part SN-1 is not installed in GBX-2 "
                                                 r"\(installed in: GBX-1\)"):
        record(sn, f.RemovedFrom(serial="SN-1", assembly="GBX-2", reason="wrong one"))


def test_an_assembly_lists_each_component_once() -> None:
    """Components are installed once and removed only when present."""
    gbx = part("GBX-1", f.ComponentInstalled(serial="GBX-1", component="SN-1", position="P1"))
    assert gbx.components == {"SN-1": "P1"}
    with pytest.raises(GenealogyViolation, match="SN-1 is already a component of part GBX-1"):
        record(gbx, f.ComponentInstalled(serial="GBX-1", component="SN-1"))
    with pytest.raises(GenealogyViolation, match="SN-2 is not a component of part GBX-1"):
        record(gbx, f.ComponentRemoved(serial="GBX-1", component="SN-2", reason="none"))
    record(gbx, f.ComponentRemoved(serial="GBX-1", component="SN-1", reason="worn"))
    assert gbx.components == {}


def test_corrective_actions_open_once_and_close_once() -> None:
    """A CAPA cannot be closed before it is opened, nor opened while open."""
    sn = part("SN-1")
    close = f.CorrectiveActionClosed(serial="SN-1", capa="CAPA-1", resolution="fixed",
                                     effective=True)
    with pytest.raises(QualityRuleViolation, match="part SN-1 has no open corrective action"):
        record(sn, close)
    opened = f.CorrectiveActionOpened(serial="SN-1", capa="CAPA-1", problem="bore drift")
    record(sn, opened)
    with pytest.raises(QualityRuleViolation, match="part SN-1 already has open CAPA CAPA-1"):
        record(sn, opened)
    record(sn, close)
    assert sn.open_capas == set()


def test_counts_recalls_and_material_follow_the_facts() -> None:
    """Inspections, failures, recalls and consumed material are tallied as they land."""
    sn = part("SN-1", inspection("SN-1"), inspection("SN-1", 19.98, "fail"),
              f.Recalled(serial="SN-1", recall="R-1", reason="bore supplier"),
              f.MaterialConsumed(serial="SN-1", material_lot="LOT-9", quantity=0.4, unit="kg"))
    assert (sn.inspections, sn.failed_inspections, sn.recalls) == (2, 1, ["R-1"])
    assert [(m.lot, m.quantity, m.unit) for m in sn.materials] == [("LOT-9", 0.4, "kg")]
    assert sn.location == "in production"  # a recall flags the part, it does not move it


def test_a_lot_starts_in_stock_or_in_production() -> None:
    """A material lot is received into stock; a production lot is registered."""
    steel = Lot(kind_key="LOT-9")
    record(steel, f.MaterialLotReceived(lot="LOT-9", material="100Cr6", supplier="Ovako",
                                        quantity=250, unit="kg"))
    assert (steel.location, steel.part_number, steel.quantity) == ("in stock", "100Cr6", 250)
    batch = Lot(kind_key="LOT-1")
    record(batch, f.PartRegistered(lot="LOT-1", part_number="BRG-6204", revision="A",
                                   quantity=40))
    assert (batch.location, batch.quantity) == ("in production", 40)
    with pytest.raises(UnknownSubject, match="record PartRegistered before"):
        record(Part(kind_key="SN-9"), f.Quarantined(serial="SN-9", reason="hold"))


def test_a_correction_must_name_an_event_of_the_subject_by_hash() -> None:
    """A correction of a version this part does not have, or with another hash, is refused."""
    sn = part("SN-1", inspection("SN-1", 19.98, "fail"))
    wrong = f.CorrectionRecorded(kind="part", key="SN-1", corrects_version=2,
                                 corrects_hash="00" * 32, replaced_by_version=3, reason="typo")
    with pytest.raises(RuleViolation, match=r"CorrectionRecorded on part SN-1 names version 2 "
                                            r"with hash 0000000000000000\.\.\., which is not"):
        record(sn, wrong)
    record(sn, inspection("SN-1"), wrong.model_copy(update={"corrects_hash": sn.hash_of(2).hex()}))
    assert sn.version == 4


def test_events_chain_by_hash_and_replay_rebuilds_the_part() -> None:
    """Each event links to its predecessor; linking a changed event is refused."""
    events = record(Part(kind_key="SN-1"), bearing("SN-1"),
                    f.InstalledInto(serial="SN-1", assembly="GBX-1"),
                    f.Quarantined(serial="SN-1", reason="hold"))
    assert [e.prev_hash for e in events] == [GENESIS, events[0].hash, events[1].hash]
    rebuilt: Aggregate | None = None
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Part)
    assert (rebuilt.version, rebuilt.location, rebuilt.quarantined) == (3, "in assembly GBX-1",
                                                                        True)
    forged = replace(events[1], prev_hash=bytes(32))
    with pytest.raises(IntegrityFailure, match="does not link to the hash of version 1"):
        events[0].mutate(None).link(forged)


def test_a_revision_is_released_once_and_the_latest_is_current() -> None:
    """Design items refuse re-releasing a revision and remember the current one."""
    design = DesignItem(kind_key="BRG-6204")
    record(design, released_bearing(), released_bearing(revision="B"))
    assert (design.is_released("A"), design.is_released("C")) == (True, False)
    assert design.current_revision == "B"
    with pytest.raises(AlreadyRegistered, match="revision A of BRG-6204 is already released"):
        record(design, released_bearing())


def test_change_orders_and_simulations_name_released_revisions() -> None:
    """An ECO on an unreleased revision, a repeated ECO and a stray simulation are refused."""
    design = DesignItem(kind_key="BRG-6204")
    record(design, released_bearing())
    eco = f.ChangeOrderIssued(part_number="BRG-6204", change_order="ECO-1", title="seal",
                              reason="leak", affected_revisions=("A", "C"))
    with pytest.raises(UnreleasedRevision, match=r"affects revision\(s\) C of BRG-6204, never "
                                                 r"released \(released: A\)"):
        record(design, eco)
    record(design, eco.model_copy(update={"affected_revisions": ("A",)}))
    with pytest.raises(AlreadyRegistered, match="change order ECO-1 of BRG-6204 exists"):
        record(design, eco)
    with pytest.raises(UnreleasedRevision, match="simulation for revision B of BRG-6204"):
        record(design, f.SimulationRecorded(part_number="BRG-6204", revision="B", kind="fea",
                                            digest="sha256:" + "0" * 64, summary="ok"))
    assert list(design.change_orders) == ["ECO-1"]


def test_a_machine_keeps_its_condition_alarms_and_calibration() -> None:
    """A machine registers once and tallies windows, exceedances, alarms and calibration."""
    grinder = Machine(kind_key="GR-1")
    hot = f.ConditionMetric(name="vibration", unit="mm/s", n=60, min=1.0, mean=2.0, max=5.0,
                            threshold=4.0)
    calm = hot.model_copy(update={"max": 3.0})
    record(grinder, f.MachineRegistered(machine="GR-1", name="Grinder 1", kind="grinder"),
           f.ConditionRecorded(machine="GR-1", window_start=T0, window_end=T0.replace(minute=5),
                               metrics=(hot,)),
           f.ConditionRecorded(machine="GR-1", window_start=T0.replace(minute=5),
                               window_end=T0.replace(minute=10), metrics=(calm,)),
           f.AlarmRaised(machine="GR-1", code="E42", text="spindle hot", raised_at=T0),
           f.CalibrationRecorded(machine="GR-1", result="adjusted", due=T0.replace(year=2027)))
    assert (grinder.condition_windows, grinder.threshold_exceedances, grinder.alarms) == (2, 1, 1)
    assert (grinder.last_calibration, grinder.calibration_due) == ("adjusted",
                                                                   T0.replace(year=2027))
    with pytest.raises(AlreadyRegistered, match="machine GR-1 is already registered as "
                                                "'Grinder 1'"):
        record(grinder, f.MachineRegistered(machine="GR-1", name="Other", kind="grinder"))
