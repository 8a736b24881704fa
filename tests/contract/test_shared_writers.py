"""Several processes writing batches about the same parts: every batch lands, chains intact."""

from __future__ import annotations

import multiprocessing
import random
from typing import Any

from conftest import bearing, inspection, released_bearing

import thread
from thread.log.audit import audit

WRITERS = 4
BATCHES = 40
PARTS = [f"SH-{index}" for index in range(8)]
PER_BATCH = 4


def _write(url: str, writer: int, barrier: Any, conflicts: Any) -> None:
    ledger = thread.open(url, actor=f"writer-{writer}")
    chooser = random.Random(writer)
    ledger.history(PARTS[0])  # connect before the common start
    barrier.wait(timeout=60)
    lost = 0
    for number in range(BATCHES):
        try:
            with ledger.batch(source=f"writer-{writer}") as batch:
                for position, serial in enumerate(chooser.sample(PARTS, PER_BATCH)):
                    batch.record(inspection(serial, measured=19.99 + chooser.random() / 100),
                                 source_record_id=f"{number}/{position}")
        except thread.ConcurrencyConflict:
            lost += 1
    ledger.close()
    conflicts.put(lost)


def test_writers_on_shared_parts_never_give_up_and_keep_every_chain_intact(
    ledger_url: str,
) -> None:
    """Four processes write batches about the same eight parts at once: no batch raises
    ConcurrencyConflict, every fact lands once, and the audit verifies every chain and leaf."""
    setup = thread.open(ledger_url)
    with setup.batch() as batch:
        batch.record(released_bearing())
        for serial in PARTS:
            batch.record(bearing(serial))
    before = setup.count()
    setup.close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    conflicts = context.Queue()
    workers = [context.Process(target=_write, args=(ledger_url, n, barrier, conflicts),
                               daemon=True) for n in range(WRITERS)]
    for worker in workers:
        worker.start()
    try:
        lost = [conflicts.get(timeout=240) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0, f"writer process ended with {worker.exitcode}"
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
    assert lost == [0] * WRITERS
    check = thread.open(ledger_url)
    assert check.count() == before + WRITERS * BATCHES * PER_BATCH
    landed = sorted((event.source, event.source_record_id) for serial in PARTS
                    for event in check.history(serial)[1:])
    assert landed == sorted((f"writer-{w}", f"{n}/{p}") for w in range(WRITERS)
                            for n in range(BATCHES) for p in range(PER_BATCH))
    report = audit(check)
    assert report.ok, [finding.describe() for finding in report.findings]
    check.close()
