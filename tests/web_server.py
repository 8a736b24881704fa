"""A real uvicorn server on a free loopback port, in a thread, for the HTTP API tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn
from conftest import Clock, bearing, inspection, released_bearing

import thread
from thread import facts as f

#: When the small plant's operations start.
T0 = datetime(2030, 1, 1, 6, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                          log_level="warning", lifespan="on"))
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not runner.is_alive():
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        runner.join(timeout=15)


def small_plant(url: str, clock: Clock) -> None:
    """A design, a grinder with a condition record, two machined (with process data) and
    inspected bearings, one in an assembly."""
    ledger = thread.open(url, clock=clock)
    ledger.record(released_bearing())
    ledger.record(f.MachineRegistered(machine="GR-01", name="Grinder", kind="grinder"))
    for serial in ("SN-1", "SN-2"):
        ledger.record(bearing(serial))
        ledger.record(f.OperationPerformed(serial=serial, operation="OP30", station="ST",
                                           machine="GR-01", operator="op", started_at=T0,
                                           ended_at=T0.replace(minute=10), cycle_time_s=600))
        ledger.record(f.ProcessRecorded(
            serial=serial, operation="OP30", machine="GR-01", started_at=T0,
            ended_at=T0.replace(minute=10), parameters=[f.ParameterSummary(
                name="spindle_speed", unit="rpm", n=60, min=23900, max=24100,
                mean=24000 if serial == "SN-1" else 24012, sd=40,
                **(_readings() if serial == "SN-1" else {}))]))
        ledger.record(inspection(serial))
    ledger.record(f.ConditionRecorded(
        machine="GR-01", window_start=T0.replace(hour=5), window_end=T0.replace(hour=7),
        availability=0.97, performance=0.9, quality=1.0, metrics=[f.ConditionMetric(
            name="vibration", unit="mm/s", n=120, min=0.8, max=5.1, mean=2.2,
            threshold=4.5)]))
    ledger.record(bearing("A-1"))
    ledger.record(f.ComponentInstalled(serial="A-1", component="SN-1", position="P1"))
    ledger.close()


def _readings() -> dict[str, object]:
    """Sixty raw spindle-speed readings over SN-1's operation, as a collector keeps them."""
    from thread_adapters import samples

    times = [int((T0.timestamp() + 10 * n) * 1e9) for n in range(60)]
    values = [24000 + 100 * ((n % 12) - 6) / 6 for n in range(60)]
    return {"samples": samples.encode(times, values), "samples_encoding": samples.ENCODING}
