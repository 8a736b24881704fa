"""Drift alerts as data arrives: a watcher raises the alert after another process's commit,
woken by the commit notice on PostgreSQL (its poll interval is a minute), by polling on
SQLite."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from drift_plant import MACHINE, METRIC, made, plant

import thread
from thread import facts as f
from thread.analytics import drift


@pytest.mark.integration
def test_a_watcher_raises_the_alert_after_a_commit(ledger_url: str, backend: str) -> None:
    """A watcher raises the alert after another process's commit without being asked."""
    writer = thread.open(ledger_url, actor="mes")
    watcher = thread.open(ledger_url, actor="watcher")
    stop = threading.Event()
    interval = 60.0 if backend == "postgres" else 0.05
    runner = threading.Thread(target=drift.watch, args=(watcher, stop),
                              kwargs={"interval": interval}, daemon=True)
    try:
        at = plant(writer)
        drift.subscribe(writer, chart="LIVE", metric=METRIC, machine=MACHINE, phase1=20,
                        rules=["WE1"])
        runner.start()
        time.sleep(0.5)  # let the watcher reach its wait
        made(writer, "SN-LIVE", 70.0, at + timedelta(minutes=5))
        deadline = time.monotonic() + 20
        while not any(a.rule == "WE1" for a in writer.drift().alerts):
            assert time.monotonic() < deadline, "the watcher raised no alert"
            time.sleep(0.05)
        [alert] = [a for a in writer.drift().alerts if a.rule == "WE1"]
        assert alert.points[-1].serial == "SN-LIVE"
    finally:
        stop.set()
        if backend == "postgres":
            writer.record(f.MachineRegistered(machine="M-WAKE", name="Wake", kind="mill"))
        runner.join(timeout=10)
        writer.close()
        watcher.close()
    assert not runner.is_alive()
