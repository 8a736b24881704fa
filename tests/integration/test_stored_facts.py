"""Facts as a ledger stores them: the same bytes in any process, old versions upcast on read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from conftest import bearing, released_bearing

import thread
from thread.domain.facts.base import PartFact
from thread.domain.units import Unit

_SCRIPT = """
import sys
from datetime import UTC, datetime, timedelta
import thread
from thread import facts as f
ticks = iter(range(1, 10**6))
clock = lambda: datetime(2026, 3, 2, tzinfo=UTC) + timedelta(seconds=next(ticks))
ledger = thread.open(sys.argv[1], clock=clock, actor="op")
ledger.record(f.RevisionReleased(part_number="P", revision="A", part_name="n", drawing="D"))
with ledger.batch(source="mes") as batch:
    for n in range(50):
        batch.record(f.PartRegistered(serial=f"S{n}", part_number="P", revision="A"),
                     occurred_at=datetime(2026, 1, 1, tzinfo=UTC), source_record_id=f"r{n}")
        batch.record(f.ProcessRecorded(serial=f"S{n}", operation="OP10",
                     started_at=datetime(2026, 1, 1, tzinfo=UTC),
                     ended_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
                     parameters=[f.ParameterSummary(name="speed", unit="rpm", n=3, min=1.5,
                                 max=3.25, mean=2.0 + n / 100, sd=0.1)]),
                     occurred_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
for _, event in ledger.scan():
    print(event.canonical.hex())
"""


def test_same_facts_in_two_fresh_processes_give_the_same_bytes(tmp_path: Path) -> None:
    """Two interpreters with different hash seeds write byte-identical events."""
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(tmp_path / f"ledger{seed}.db")],
            capture_output=True, text=True, env=env, check=True, timeout=120,
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].split()) == 101


def test_stored_v1_event_reads_back_as_v2_through_its_upcaster(tmp_path: Path) -> None:
    """Old events always load: a v1 payload is upcast to the v2 class when read."""

    class GaugeCheck(PartFact):
        topic: ClassVar[str] = "test.gauge-check"
        reading_mm: float

    url = str(tmp_path / "ledger.db")
    ledger = thread.open(url)
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    ledger.record(GaugeCheck(serial="SN-1", reading_mm=19.995))
    stored_hash = ledger.history("SN-1")[-1].hash
    ledger.close()

    class GaugeCheckV2(PartFact):
        topic: ClassVar[str] = "test.gauge-check"
        class_version: ClassVar[int] = 2
        reading: float
        unit: Unit

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reading"] = state.pop("reading_mm")
            state["unit"] = "mm"

    reopened = thread.open(url)
    old, = (event for event in reopened.history("SN-1") if event.topic == "test.gauge-check")
    assert isinstance(old.fact, GaugeCheckV2)
    assert (old.fact.reading, old.fact.unit) == (19.995, "mm")
    assert old.hash == stored_hash  # the hash is over the stored v1 bytes
    reopened.record(GaugeCheckV2(serial="SN-1", reading=20.0, unit="mm"))
    new = reopened.history("SN-1")[-1]
    assert isinstance(new.fact, GaugeCheckV2) and new.fact.reading == 20.0
    reopened.close()
