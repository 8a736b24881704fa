"""A small plant with known answers, for the read-side tests.

Two grinders with condition windows (GR-1 vibrates badly on 3 March between
10:00 and 11:00), a material lot, bearings ground on each machine, a failed
inspection with a signed disposition, and a five-level assembly tree
(vehicle > axle > hub > bearing-pack > bearing) shipped and installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread import facts as f
from thread.domain.signature import Signer

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
BAD_START = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
BAD_END = datetime(2026, 3, 3, 11, 0, tzinfo=UTC)
LEVELS = [("VEH", "VEHICLE-1"), ("AXL", "AXLE-1"), ("HUB", "HUB-1"), ("PACK", "PACK-1")]


@dataclass
class Plant:
    """What the plant recorded, so tests can compare answers with it."""

    ground: dict[str, tuple[str, datetime, float]] = field(default_factory=dict)
    bad_window_on_gr1: list[str] = field(default_factory=list)
    tree: list[str] = field(default_factory=list)
    failed: str = ""
    signer: Signer | None = None


def design(part_number: str, name: str) -> f.RevisionReleased:
    """A released revision A with one characteristic."""
    return f.RevisionReleased(
        part_number=part_number, revision="A", part_name=name, drawing=f"DWG-{part_number}",
        characteristics=(f.Characteristic(balloon="1", name="Bore diameter", nominal=20.0,
                                          unit="mm", lower_tolerance=-0.01,
                                          upper_tolerance=0.0, designator="key"),),
    )


def condition(machine: str, start: datetime, vibration: float, coolant: float
              ) -> f.ConditionRecorded:
    """A 30-minute condition window."""
    return f.ConditionRecorded(
        machine=machine, window_start=start, window_end=start + timedelta(minutes=30),
        metrics=(
            f.ConditionMetric(name="vibration", unit="mm/s", n=30, min=vibration / 2,
                              max=vibration, mean=vibration * 0.7, threshold=4.5),
            f.ConditionMetric(name="spindle_temp", unit="Cel", n=30, min=coolant,
                              max=coolant + 5, mean=coolant + 2, threshold=60.0),
        ),
        availability=0.95, performance=0.9, quality=0.99,
    )


def build(ledger: thread.Ledger, bearings: int = 24) -> Plant:
    """Record the plant; returns what a correct read side must answer."""
    plant = Plant()
    plant.signer = Signer("qe-7", "Dana Quality", Ed25519PrivateKey.generate())
    with ledger.batch(source="test") as batch:
        batch.record(design("BRG-6204", "Bearing"), occurred_at=T0 - DAY)
        for number, name in (("VEH", "Vehicle"), ("AXL", "Axle"), ("HUB", "Hub"),
                             ("PACK", "Bearing pack")):
            batch.record(design(number, name), occurred_at=T0 - DAY)
        for machine in ("GR-1", "GR-2"):
            batch.record(f.MachineRegistered(machine=machine, name=machine, kind="grinder"),
                         occurred_at=T0 - DAY)
        batch.record(f.MaterialLotReceived(
            lot="ML-1", material="100Cr6", supplier="Ovako", quantity=100, unit="kg",
            certificate_number="3.1-4711", certificate_digest="sha256:" + "ab" * 32,
        ), occurred_at=T0 - DAY)
    # Condition every 30 minutes over two days on both machines.
    with ledger.batch(source="test") as batch:
        for machine in ("GR-1", "GR-2"):
            start = T0
            while start < T0 + 2 * DAY:
                bad = machine == "GR-1" and BAD_START <= start < BAD_END
                batch.record(condition(machine, start, 6.0 if bad else 2.0, 31.0 if bad else 25.0),
                             occurred_at=start + timedelta(minutes=30))
                start += timedelta(minutes=30)
    with ledger.batch(source="test") as batch:
        for i in range(bearings):
            serial = f"B-{i:03d}"
            machine = "GR-1" if i % 2 == 0 else "GR-2"
            started = T0 + timedelta(hours=2 * i)
            ended = started + timedelta(minutes=10)
            coolant = 32.0 if i % 4 == 0 else 24.0
            batch.record(f.PartRegistered(serial=serial, part_number="BRG-6204", revision="A",
                                          work_order="WO-1"), occurred_at=started)
            batch.record(f.MaterialConsumed(serial=serial, material_lot="ML-1", quantity=0.2,
                                            unit="kg"), occurred_at=started)
            batch.record(f.OperationPerformed(
                serial=serial, operation="OP30-grind", station="CELL-1", machine=machine,
                operator="op-1", program="P-7", program_revision="3", started_at=started,
                ended_at=ended, cycle_time_s=600,
            ), occurred_at=ended)
            batch.record(f.ProcessRecorded(
                serial=serial, operation="OP30-grind", machine=machine, started_at=started,
                ended_at=ended, parameters=(
                    f.ParameterSummary(name="coolant_temp", unit="Cel", n=60, min=coolant - 1,
                                       max=coolant + 1, mean=coolant, sd=0.4),
                    f.ParameterSummary(name="spindle_speed", unit="rpm", n=60, min=11900,
                                       max=12100, mean=12000, sd=30),
                ),
            ), occurred_at=ended)
            plant.ground[serial] = (machine, started, coolant)
            if machine == "GR-1" and started < BAD_END and ended > BAD_START:
                plant.bad_window_on_gr1.append(serial)
    failed = "B-001"
    plant.failed = failed
    ledger.record(f.InspectionRecorded(
        serial=failed, characteristic="1", method="cmm", measured=20.02, unit="mm",
        nominal=20.0, lower_tolerance=-0.01, upper_tolerance=0.0, verdict="fail",
        non_conformance="NC-1",
    ), occurred_at=T0 + DAY)
    ledger.record(f.NonConformanceOpened(serial=failed, non_conformance="NC-1",
                                         description="bore oversize"), occurred_at=T0 + DAY)
    ledger.record(f.DispositionRecorded(serial=failed, non_conformance="NC-1", decision="scrap",
                                        rationale="cannot rework oversize bore"),
                  occurred_at=T0 + DAY, sign=plant.signer)
    # Five levels: VEHICLE-1 > AXLE-1 > HUB-1 > PACK-1 > B-002.
    with ledger.batch(source="test") as batch:
        for number, serial in LEVELS:
            batch.record(f.PartRegistered(serial=serial, part_number=number, revision="A"),
                         occurred_at=T0 + DAY)
    at = T0 + DAY + timedelta(hours=1)
    chain = [serial for _, serial in LEVELS] + ["B-002"]
    for parent, child in zip(chain[-2::-1], chain[:0:-1], strict=True):
        ledger.record(f.ComponentInstalled(serial=parent, component=child, position="pos-1"),
                      occurred_at=at)
        at += timedelta(minutes=5)
    ledger.record(f.Shipped(serial="VEHICLE-1", customer="Nordwind", order="SO-9"),
                  occurred_at=T0 + 2 * DAY)
    ledger.record(f.InstalledAtSite(serial="VEHICLE-1", site="Ulm depot"),
                  occurred_at=T0 + 3 * DAY)
    plant.tree = chain
    return plant
