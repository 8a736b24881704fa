"""Streams: more facts than a batch should hold, written in chunks, landing whole or not at all."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import bearing, inspection, released_bearing
from psycopg.sql import SQL

import thread
from thread.log.audit import audit


def test_a_stream_lands_whole_across_chunks(ledger: thread.Ledger, ledger_url: str) -> None:
    """Facts written chunk by chunk commit together; other connections see none of them
    until the stream ends, then all; re-deliveries across chunks are counted once."""
    ledger.record(released_bearing())
    ledger.record(bearing("SN-0"), source="mes", source_record_id="SN-0")
    before = ledger.count()
    other = thread.open(ledger_url)
    with ledger.stream(source="mes", chunk=7) as stream:
        for index in range(60):
            stream.record(bearing(f"SN-{index}"), source_record_id=f"SN-{index}")
            stream.record(inspection(f"SN-{index}"), source_record_id=f"I-{index}")
        stream.record(bearing("SN-3"), source_record_id="SN-3")  # six chunks earlier
        assert other.count() == before  # written, not committed
    assert (stream.written, stream.duplicates) == (119, 2)
    assert other.count() == before + 119
    assert [e.originator_version for e in other.history("SN-59")] == [1, 2]
    assert ledger.record(inspection("SN-59")).version == 3
    assert audit(other).ok
    other.close()


def test_a_refused_fact_near_the_end_writes_nothing(ledger: thread.Ledger) -> None:
    """The 390th of 400 facts names a part never registered: the error says which fact it
    was, nothing of the stream lands, and the ledger goes on as before."""
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    before = ledger.count()
    with pytest.raises(thread.UnknownSubject) as refused, ledger.stream(chunk=50) as stream:
        for index in range(400):
            stream.record(inspection("SN-404") if index == 389 else bearing(f"S-{index}"))
    assert "fact 390 of a stream; nothing in the stream was written" in refused.value.__notes__
    assert ledger.count() == before
    with pytest.raises(thread.UnknownSubject):
        ledger.part("S-10")
    assert ledger.record(bearing("S-10")).version == 1
    assert ledger.record(inspection("SN-1")).version == 2


def test_an_error_in_the_block_rolls_the_stream_back(ledger: thread.Ledger) -> None:
    """Whatever raises inside the with block, after chunks were written, undoes them."""
    ledger.record(released_bearing())
    before = ledger.count()
    with pytest.raises(KeyError), ledger.stream(chunk=10) as stream:
        for index in range(35):
            stream.record(bearing(f"S-{index}"))
        raise KeyError("the file ended early")
    assert ledger.count() == before
    assert ledger.record(bearing("S-1")).version == 1


def test_a_stream_that_extends_cached_parts_leaves_the_cache_committed(
    ledger: thread.Ledger,
) -> None:
    """Parts the ledger had cached and a failed stream extended are as committed afterwards."""
    ledger.record(released_bearing())
    for index in range(5):
        ledger.record(bearing(f"S-{index}"))
    with pytest.raises(thread.UnknownSubject), ledger.stream(chunk=3) as stream:
        for index in range(5):
            stream.record(inspection(f"S-{index}", measured=19.2))
        stream.record(inspection("S-404"))
    assert [ledger.record(inspection(f"S-{index}")).version for index in range(5)] == [2] * 5
    assert ledger.part("S-0").failed_inspections == 0


def test_a_writer_waits_for_a_stream_longer_than_the_lock_timeout(
    ledger: thread.Ledger, ledger_url: str, backend: str
) -> None:
    """Another writer waits for an open stream to commit, past the store's lock timeout,
    and its fact lands after the stream's."""
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    other = thread.open(ledger_url)
    if backend == "postgres":  # wait one second per try instead of thirty
        recorder: Any = other.store
        recorder.lock_table_statements[0] = SQL("SET LOCAL lock_timeout = '1s'")
    receipts: list[thread.Receipt] = []
    writer = threading.Thread(target=lambda: receipts.append(other.record(inspection("SN-1"))))
    with ledger.stream(chunk=1) as stream:
        stream.record(inspection("SN-1", measured=19.991))
        writer.start()
        time.sleep(2.5)  # the other writer tries and times out, more than once on PostgreSQL
        assert not receipts
    writer.join(timeout=60)
    assert [receipt.version for receipt in receipts] == [3]
    other.close()


def test_record_outside_the_block_is_refused(ledger: thread.Ledger) -> None:
    """A stream records only while its transaction is open."""
    stream = ledger.stream()
    with pytest.raises(thread.LedgerError, match="inside its with block"):
        stream.record(released_bearing())
