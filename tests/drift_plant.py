"""A grinder making bearings, one spindle-load value per part: what drift tests chart."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import thread
from thread.domain import facts as f

START = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)
MACHINE = "GR-9"
METRIC = "process.spindle_load.mean"


def made(ledger: thread.Ledger, serial: str, load: float, at: datetime) -> None:
    """A bearing ground on the machine with its spindle load."""
    with ledger.batch(source="mes") as batch:
        batch.record(f.PartRegistered(serial=serial, part_number="BRG-X", revision="A",
                                      undocumented=True), occurred_at=at)
        batch.record(f.ProcessRecorded(
            serial=serial, operation="OP30", machine=MACHINE, started_at=at,
            ended_at=at + timedelta(minutes=2),
            parameters=(f.ParameterSummary(name="spindle_load", unit="%", n=10,
                                           min=load, max=load, mean=load, sd=0.0),)),
            occurred_at=at + timedelta(minutes=2))


def plant(ledger: thread.Ledger, count: int = 30) -> datetime:
    ledger.record(f.MachineRegistered(machine=MACHINE, name="Grinder", kind="grinder"))
    rng = random.Random(7)
    at = START
    for index in range(count):
        made(ledger, f"SN-{index:03d}", round(50 + rng.gauss(0, 1), 3), at)
        at += timedelta(minutes=10)
    return at
