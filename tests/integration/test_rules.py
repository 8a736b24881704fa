"""The rules a quality engineer expects the ledger to enforce."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import bearing, inspection, released_bearing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread import facts as f

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
#: The quality engineer who signs dispositions, releases and CAPA closures.
QE = thread.Signer("qe-4", "Dana Quality", Ed25519PrivateKey.generate())


@pytest.fixture
def plant(tmp_path: object) -> thread.Ledger:
    """A ledger with a released bearing design and a hub registered as undocumented."""
    ledger = thread.open(f"{tmp_path}/rules.db")
    ledger.record(released_bearing())
    return ledger


def hub(serial: str) -> f.PartRegistered:
    """A hub assembly, registered without a released design on purpose."""
    return f.PartRegistered(serial=serial, part_number="HUB-1", revision="A", undocumented=True)


def test_nothing_is_recorded_against_an_unregistered_part(plant: thread.Ledger) -> None:
    """Every kind of part fact needs the part registered first."""
    with pytest.raises(thread.UnknownSubject, match="part SN-1 is not registered"):
        plant.record(inspection("SN-1"))
    with pytest.raises(thread.UnknownSubject):
        plant.record(f.Shipped(serial="SN-1", customer="ACME", order="PO-1"))


def test_unreleased_revision_is_refused_unless_declared_undocumented(plant: thread.Ledger) -> None:
    """A part needs a released design revision, or an explicit undocumented registration."""
    with pytest.raises(thread.UnreleasedRevision, match=r"revision B.*released: A"):
        plant.record(bearing("SN-1", revision="B"))
    with pytest.raises(thread.UnreleasedRevision, match="released: none"):
        plant.record(hub("HUB-1").model_copy(update={"undocumented": False}))
    plant.record(hub("HUB-1"))
    assert plant.part("HUB-1").undocumented


def test_registering_twice_is_refused(plant: thread.Ledger) -> None:
    """A serial is registered once; a second registration is a mistake, not an update."""
    plant.record(bearing("SN-1"))
    with pytest.raises(thread.AlreadyRegistered, match="already registered"):
        plant.record(bearing("SN-1"))


def test_references_to_lots_and_machines_must_exist(plant: thread.Ledger) -> None:
    """Material comes from a received lot; operations run on a registered machine."""
    plant.record(bearing("SN-1"))
    with pytest.raises(thread.UnknownSubject, match="names lot HEAT-7"):
        plant.record(f.MaterialConsumed(serial="SN-1", material_lot="HEAT-7", quantity=0.2,
                                        unit="kg"))
    plant.record(f.MaterialLotReceived(lot="HEAT-7", material="100Cr6", supplier="Steelco",
                                       quantity=500, unit="kg"))
    plant.record(f.MaterialConsumed(serial="SN-1", material_lot="HEAT-7", quantity=0.2, unit="kg"))
    operation = f.OperationPerformed(serial="SN-1", operation="OP20", station="G1",
                                     machine="GRINDER-1", operator="op-3", started_at=T0,
                                     ended_at=T0, cycle_time_s=42)
    with pytest.raises(thread.UnknownSubject, match="names machine GRINDER-1"):
        plant.record(operation)
    plant.record(f.MachineRegistered(machine="GRINDER-1", name="Grinder 1", kind="grinder"))
    plant.record(operation)
    assert plant.part("SN-1").materials[0].lot == "HEAT-7"
    assert plant.part("SN-1").operations == 1


def test_a_part_cannot_go_into_itself_or_its_own_descendant(plant: thread.Ledger) -> None:
    """Installing an assembly into something inside it would make the tree a loop."""
    for serial in ("A", "B", "C", "D"):
        plant.record(hub(serial))
    plant.record(f.ComponentInstalled(serial="A", component="B"))
    plant.record(f.ComponentInstalled(serial="B", component="C"))
    plant.record(f.ComponentInstalled(serial="C", component="D"))
    with pytest.raises(thread.GenealogyViolation, match="into itself"):
        plant.record(f.ComponentInstalled(serial="A", component="A"))
    with pytest.raises(thread.GenealogyViolation, match="D in C in B in A"):
        plant.record(f.ComponentInstalled(serial="D", component="A"))
    with pytest.raises(thread.GenealogyViolation, match="already installed in"):
        plant.record(f.ComponentInstalled(serial="A", component="D"))
    assert plant.part("D").installed_in == "C"
    assert plant.part("C").components == {"D": None}


def test_removal_then_reinstallation_elsewhere(plant: thread.Ledger) -> None:
    """A component taken out of one assembly may go into another; both sides record it."""
    for serial in ("H1", "H2"):
        plant.record(hub(serial))
    plant.record(bearing("SN-1"))
    plant.record(f.ComponentInstalled(serial="H1", component="SN-1", position="inboard"))
    with pytest.raises(thread.GenealogyViolation, match="not a component of part H2"):
        plant.record(f.ComponentRemoved(serial="H2", component="SN-1", reason="x"))
    plant.record(f.ComponentRemoved(serial="H1", component="SN-1", reason="noise on test"))
    plant.record(f.ComponentInstalled(serial="H2", component="SN-1"))
    topics = [event.topic for event in plant.history("SN-1")]
    assert topics == ["manufacturing.part-registered", "manufacturing.installed-into",
                      "manufacturing.removed-from", "manufacturing.installed-into"]
    assert plant.part("SN-1").installed_in == "H2"
    assert plant.part("H1").components == {}


def test_disposition_needs_an_open_non_conformance(plant: thread.Ledger) -> None:
    """A disposition closes a non-conformance that is open, once."""
    plant.record(bearing("SN-1"))
    disposition = f.DispositionRecorded(serial="SN-1", non_conformance="NC-1", decision="rework",
                                        rationale="regrind")
    with pytest.raises(thread.QualityRuleViolation, match="never opened"):
        plant.record(disposition, sign=QE)
    plant.record(f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1",
                                        description="bore oversize"))
    plant.record(disposition, sign=QE)
    with pytest.raises(thread.QualityRuleViolation, match="already dispositioned"):
        plant.record(disposition, sign=QE)
    assert plant.part("SN-1").open_non_conformances == []


def test_out_of_tolerance_measurement_is_a_fact_not_an_error(plant: thread.Ledger) -> None:
    """A failing inspection is recorded with its verdict."""
    plant.record(bearing("SN-1"))
    plant.record(inspection("SN-1", measured=20.5, verdict="fail"))
    assert plant.part("SN-1").failed_inspections == 1


def test_quarantined_or_scrapped_parts_cannot_ship_or_be_installed(plant: thread.Ledger) -> None:
    """Held parts stay in the plant until released; scrap never leaves."""
    plant.record(bearing("SN-1"))
    plant.record(hub("H1"))
    plant.record(f.Quarantined(serial="SN-1", reason="suspect heat lot"))
    with pytest.raises(thread.RuleViolation, match="quarantined"):
        plant.record(f.Shipped(serial="SN-1", customer="ACME", order="PO-1"))
    with pytest.raises(thread.RuleViolation, match="quarantined"):
        plant.record(f.ComponentInstalled(serial="H1", component="SN-1"))
    plant.record(f.ReleasedFromQuarantine(serial="SN-1", reason="lot cleared"), sign=QE)
    with pytest.raises(thread.RuleViolation, match="not quarantined"):
        plant.record(f.ReleasedFromQuarantine(serial="SN-1", reason="again"), sign=QE)
    plant.record(f.NonConformanceOpened(serial="SN-1", non_conformance="NC-2",
                                        description="crack"))
    plant.record(f.DispositionRecorded(serial="SN-1", non_conformance="NC-2", decision="scrap",
                                       rationale="crack"), sign=QE)
    with pytest.raises(thread.RuleViolation, match="scrap"):
        plant.record(f.ComponentInstalled(serial="H1", component="SN-1"))
    assert plant.part("SN-1").location == "scrapped"


def test_change_orders_and_simulations_name_released_revisions(plant: thread.Ledger) -> None:
    """Design changes refer to revisions that exist."""
    with pytest.raises(thread.UnreleasedRevision, match="affects revision"):
        plant.record(f.ChangeOrderIssued(part_number="BRG-6204", change_order="ECO-9",
                                         title="t", reason="r", affected_revisions=["C"]))
    plant.record(f.ChangeOrderIssued(part_number="BRG-6204", change_order="ECO-9", title="t",
                                     reason="r", affected_revisions=["A"], new_revision="B"))
    plant.record(released_bearing(revision="B"))
    with pytest.raises(thread.AlreadyRegistered):
        plant.record(released_bearing(revision="B"))
    design = plant.design("BRG-6204")
    assert list(design.revisions) == ["A", "B"] and design.current_revision == "B"


def test_capa_lifecycle(plant: thread.Ledger) -> None:
    """A corrective action is opened once and closed once."""
    plant.record(bearing("SN-1"))
    with pytest.raises(thread.QualityRuleViolation, match="no open corrective action"):
        plant.record(f.CorrectiveActionClosed(serial="SN-1", capa="CAPA-1", resolution="x",
                                              effective=True), sign=QE)
    plant.record(f.CorrectiveActionOpened(serial="SN-1", capa="CAPA-1", problem="bore drift"))
    plant.record(f.CorrectiveActionClosed(serial="SN-1", capa="CAPA-1", resolution="new wheel",
                                          effective=True), sign=QE)
    assert plant.part("SN-1").open_capas == set()


def test_machine_stream(plant: thread.Ledger) -> None:
    """Machines keep their own chain of condition, alarms and calibration."""
    plant.record(f.MachineRegistered(machine="G1", name="Grinder 1", kind="grinder"))
    plant.record(f.ConditionRecorded(
        machine="G1", window_start=T0, window_end=T0.replace(hour=7),
        metrics=[f.ConditionMetric(name="vibration", unit="mm/s", n=60, min=1.0, max=4.6,
                                   mean=2.0, threshold=4.5)],
        availability=0.9, performance=0.95, quality=0.99))
    plant.record(f.AlarmRaised(machine="G1", code="A12", text="coolant low", raised_at=T0))
    machine = plant.machine("G1")
    assert (machine.condition_windows, machine.threshold_exceedances, machine.alarms) == (1, 1, 1)
    with pytest.raises(thread.AlreadyRegistered):
        plant.record(f.MachineRegistered(machine="G1", name="Grinder 1", kind="grinder"))
