"""Several writers on one part: the chain never forks, losers retry or get a clear error."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from conftest import bearing, inspection, released_bearing

import thread
from thread import facts as f
from thread import ledger as ledger_module

PER_WORKER = 40


def _append(url: str, worker: int, barrier: Any) -> None:
    ledger = thread.open(url, actor=f"worker-{worker}")
    ledger.history("SN-1")  # warm up the connection before the race starts
    barrier.wait(timeout=60)
    for index in range(PER_WORKER):
        ledger.record(inspection("SN-1", measured=20 - worker - index / 1000),
                      source=f"worker-{worker}", source_record_id=str(index))
    ledger.close()


def test_two_processes_appending_to_one_part_never_fork_the_chain(ledger_url: str) -> None:
    """Two OS processes append to the same part at once; every fact lands once, in one chain."""
    setup = thread.open(ledger_url)
    setup.record(released_bearing())
    setup.record(bearing("SN-1"))
    setup.close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_append, args=(ledger_url, n, barrier), daemon=True)
               for n in (1, 2)]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            worker.join(timeout=240)
            assert worker.exitcode == 0, f"writer process ended with {worker.exitcode}"
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
    check = thread.open(ledger_url)
    history = check.history("SN-1")  # verifies every link
    assert [event.originator_version for event in history] == list(range(1, 2 * PER_WORKER + 2))
    by_worker = {
        source: sorted(int(e.source_record_id or -1) for e in history if e.source == source)
        for source in ("worker-1", "worker-2")
    }
    assert by_worker == {"worker-1": list(range(PER_WORKER)), "worker-2": list(range(PER_WORKER))}
    assert len({event.prev_hash for event in history}) == len(history)
    check.close()


def test_stale_writer_retries_transparently(ledger_url: str) -> None:
    """A writer whose cached view is stale reloads and appends after the other's events."""
    first, second = thread.open(ledger_url), thread.open(ledger_url)
    first.record(released_bearing())
    first.record(bearing("SN-1"))
    second.record(inspection("SN-1"))  # second now caches SN-1 at version 2
    first.record(inspection("SN-1"))  # first's cache is at version 3 now, second's is stale
    receipt = second.record(inspection("SN-1"))
    assert receipt.version == 4
    assert len(first.history("SN-1")) == 4
    first.close()
    second.close()


def _interleave(monkeypatch: pytest.MonkeyPatch, loser: thread.Ledger, winner: thread.Ledger,
                times: int) -> list[int]:
    """Make ``winner`` commit on SN-1 just before each of ``loser``'s first ``times`` writes,
    after ``loser`` decided; returns how many writes ``loser`` attempted."""
    insert = loser.store.insert_ledger_events
    calls = [0]

    def interleaved(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= times:
            winner.record(inspection("SN-1"))
        return insert(*args, **kwargs)

    monkeypatch.setattr(loser.store, "insert_ledger_events", interleaved)
    return calls


def test_loser_gets_a_clear_conflict_error_when_retries_run_out(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no retries left, a conflicting write raises ConcurrencyConflict and writes nothing."""
    first, second = thread.open(ledger_url), thread.open(ledger_url)
    first.record(released_bearing())
    first.record(bearing("SN-1"))
    second.history("SN-1")
    monkeypatch.setattr(ledger_module, "MAX_ATTEMPTS", 1)
    _interleave(monkeypatch, second, first, times=1)
    with pytest.raises(thread.ConcurrencyConflict, match="collided with other writers"):
        second.record(inspection("SN-1"))
    assert len(second.history("SN-1")) == 2  # the registration and the winner's inspection
    first.close()
    second.close()


def test_a_batch_that_lost_takes_the_lock_and_lands_on_its_next_attempt(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After losing to another writer, the retry holds the write lock: it lands at once, after
    the winner's event, and the writer's cached copy follows."""
    first, second = thread.open(ledger_url), thread.open(ledger_url)
    first.record(released_bearing())
    first.record(bearing("SN-1"))
    second.record(inspection("SN-1", measured=19.991))  # second caches SN-1 at version 2
    calls = _interleave(monkeypatch, second, first, times=1)
    receipt = second.record(inspection("SN-1", measured=19.992))
    assert (receipt.version, calls[0]) == (4, 2)  # the winner's version 3, then ours
    assert second.record(inspection("SN-1", measured=19.993)).version == 5
    assert [e.originator_version for e in first.history("SN-1")] == [1, 2, 3, 4, 5]
    assert second.part("SN-1").inspections == 4
    first.close()
    second.close()


def test_a_locked_attempt_that_trusted_a_stale_design_reads_everything_again(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Holding the lock, a writer trusts a design it only reads from its cache; when the
    commit finds it changed, the next attempt looks everything up and lands."""
    first, second = thread.open(ledger_url), thread.open(ledger_url)
    first.record(released_bearing())
    first.record(bearing("SN-1"))
    second.record(inspection("SN-1", measured=19.991))  # caches the design at version 1
    calls = _interleave(monkeypatch, second, first, times=1)
    second.record(inspection("SN-1", measured=19.992))  # lost once: the next batches lock
    first.record(released_bearing(revision="B"))  # the design moves on
    before = calls[0]
    receipt = second.record(inspection("SN-1", measured=19.993))
    assert (receipt.version, calls[0] - before) == (5, 2)
    assert [e.originator_version for e in first.history_of("design", "BRG-6204")] == [1, 2]
    first.close()
    second.close()


def test_a_writer_behind_reads_only_the_events_it_has_not_seen(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached part that another process extended is brought up to date with the new
    events alone, never reloaded whole, and the next fact lands after them."""
    first, second = thread.open(ledger_url), thread.open(ledger_url)
    first.record(released_bearing())
    first.record(bearing("SN-1"))
    for index in range(5):
        second.record(inspection("SN-1", measured=19.991 + index / 1000))  # cached at v6
    for _ in range(3):
        first.record(inspection("SN-1"))
    newer = second.store.select_newer
    read: list[int] = []

    def spied(after: Any) -> Any:
        rows = newer(after)
        read.extend(row.originator_version for row in rows)
        return rows

    def whole(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a cached aggregate was loaded whole")

    monkeypatch.setattr(second.store, "select_newer", spied)
    monkeypatch.setattr(second._app.repository, "get", whole)
    assert second.record(inspection("SN-1")).version == 10
    assert read == [7, 8, 9]
    first.close()
    second.close()


def test_a_batch_that_fails_leaves_the_cached_part_as_it_was(ledger: thread.Ledger) -> None:
    """A refused batch that already recorded on a cached part leaves no trace in the cache."""
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    ledger.record(inspection("SN-1"))
    with pytest.raises(thread.UnknownSubject), ledger.batch() as batch:
        batch.record(inspection("SN-1", measured=19.2))
        batch.record(inspection("SN-404"))
    assert ledger.record(inspection("SN-1")).version == 3
    assert ledger.part("SN-1").failed_inspections == 0
    assert len(ledger.history("SN-1")) == 3


def test_concurrent_moves_cannot_build_a_loop_through_a_stale_ancestor(ledger_url: str) -> None:
    """An install checks that the ancestors it read are unchanged when it commits."""
    first, second = thread.open(ledger_url), thread.open(ledger_url)
    for serial in ("X", "A", "B", "Y"):
        first.record(f.PartRegistered(serial=serial, part_number="ASM", revision="A",
                                      undocumented=True))
    first.record(f.ComponentInstalled(serial="B", component="Y"))  # Y in B
    first.record(f.ComponentInstalled(serial="X", component="A"))  # A in X
    # second puts B into A, so X > A > B > Y; first still sees B as top level.
    second.record(f.ComponentInstalled(serial="A", component="B"))
    # first writes only X and Y, which second did not touch; only the read of B can tell.
    with pytest.raises(thread.GenealogyViolation, match="Y in B in A in X"):
        first.record(f.ComponentInstalled(serial="Y", component="X"))
    first.close()
    second.close()
