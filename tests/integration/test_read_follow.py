"""Following the log live: PostgreSQL wakes read models on commit; SQLite polls."""

from __future__ import annotations

import threading
import time

from conftest import Clock

import thread
from thread import facts as f


def test_follow_projects_new_events_as_they_commit(ledger_url: str, backend: str,
                                                   clock: Clock) -> None:
    """A follower catches up with a commit from another connection without being asked.

    On PostgreSQL the poll interval is 60 s, so only the commit notice can wake it in time.
    """
    writer = thread.open(ledger_url, clock=clock)
    follower = thread.open(ledger_url, clock=clock)
    stop = threading.Event()
    interval = 60.0 if backend == "postgres" else 0.05
    runner = threading.Thread(target=follower.read_models.follow, args=(stop,),
                              kwargs={"interval": interval}, daemon=True)
    try:
        follower.read_models.catch_up()
        runner.start()
        time.sleep(0.3)  # let the follower reach its wait
        writer.record(f.MachineRegistered(machine="M-1", name="Mill", kind="mill"))
        writer.record(f.RevisionReleased(part_number="P", revision="A", part_name="P",
                                         drawing="D"))
        writer.record(f.PartRegistered(serial="S-1", part_number="P", revision="A"))
        head = writer.count()
        deadline = time.monotonic() + 20
        while min(p.position for p in follower.read_models.positions()) < head:
            assert time.monotonic() < deadline, "the follower did not catch up"
            time.sleep(0.05)
        assert follower.trace("S-1", catch_up=False).part_number == "P"
    finally:
        stop.set()
        if backend == "postgres":
            writer.record(f.MachineRegistered(machine="M-2", name="Wake", kind="mill"))
        runner.join(timeout=10)
        writer.close()
        follower.close()
    assert not runner.is_alive()
