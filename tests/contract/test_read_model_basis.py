"""Read models notice when the log under them changed: a ledger restored from an older copy,
or cut at its tail, then written past where the read models stood, is answered from the log
as it is, with a warning once and a record ``thread read-models`` shows."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Clock, drop_append_only_triggers, raw_sql

import thread
from thread import facts as f
from thread.cli import main
from thread.read.models import StaleReadModel

#: Events recorded before the backup: a design and four parts.
KEPT = 5


def serials(prefix: str, count: int, start: int = 0) -> list[str]:
    """``S-0``, ``S-1``, ..."""
    return [f"{prefix}-{i}" for i in range(start, start + count)]


def record_parts(ledger: thread.Ledger, keys: list[str]) -> None:
    """Register one part per key against design P rev A."""
    for key in keys:
        ledger.record(f.PartRegistered(serial=key, part_number="P", revision="A"))


@pytest.fixture
def opened(ledger_url: str, clock: Clock) -> Iterator[list[thread.Ledger]]:
    """Ledgers a test opens, closed at its end."""
    ledgers: list[thread.Ledger] = []
    yield ledgers
    for ledger in ledgers:
        ledger.close()


def backed_up_then_grown(ledger_url: str, clock: Clock, tmp_path: Path,
                         opened: list[thread.Ledger]) -> Path | None:
    """Five events, a backup (SQLite: a copy of the file), five more events and a quarantine,
    each seen by the read models; returns the copy (None on PostgreSQL)."""
    ledger = thread.open(ledger_url, clock=clock)
    opened.append(ledger)
    ledger.record(f.RevisionReleased(part_number="P", revision="A", part_name="P", drawing="D"))
    record_parts(ledger, serials("S", KEPT - 1))
    assert ledger.serials("P") == serials("S", KEPT - 1)
    copy = None
    if not ledger_url.startswith("postgresql://"):
        copy = tmp_path / "backup.db"
        _sqlite_copy(ledger_url, str(copy))
    record_parts(ledger, serials("S", 5, start=KEPT - 1))
    ledger.record(f.Quarantined(serial="S-1", reason="suspect"))
    assert ledger.serials("P") == serials("S", KEPT + 4)
    assert ledger.trace("S-1").quarantined
    assert ledger.read_models.basis().built_on.size == KEPT + 6
    return copy


def cut_tail(url: str, keep: int) -> None:
    """What an insider (or a bad restore) does: every event from log position ``keep`` on
    deleted with its leaf, the subtrees over it, its source keys and later checkpoints."""
    drop_append_only_triggers(url)
    event_id = "notification_id" if url.startswith("postgresql://") else "rowid"
    raw_sql(url, f"DELETE FROM ledger_events WHERE {event_id} IN (SELECT notification_id "
                 f"FROM ledger_leaves WHERE position >= ?)", (keep,))
    raw_sql(url, "DELETE FROM ledger_sources WHERE NOT EXISTS (SELECT 1 FROM ledger_events e "
                 "WHERE e.originator_id = ledger_sources.originator_id AND "
                 "e.originator_version = ledger_sources.originator_version)")
    raw_sql(url, "DELETE FROM ledger_leaves WHERE position >= ?", (keep,))
    raw_sql(url, "DELETE FROM ledger_nodes WHERE (idx + 1) * (1 << level) > ?", (keep,))
    raw_sql(url, "DELETE FROM ledger_checkpoints WHERE size > ?", (keep,))


def restore(ledger_url: str, copy: Path | None) -> None:
    """Put the backup back: the file on SQLite, the rows as they were on PostgreSQL."""
    if copy is not None:
        _sqlite_copy(str(copy), ledger_url)
    else:
        cut_tail(ledger_url, KEPT)


def _sqlite_copy(source: str, target: str) -> None:
    """Copy a live SQLite database page by page, as a backup job (or a restore) does."""
    origin, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        origin.backup(copy)
    finally:
        origin.close()
        copy.close()


def assert_answers_from(ledger: thread.Ledger, expected: list[str]) -> None:
    """Queries answer from the log as it is: its parts and only those, none behind."""
    assert ledger.serials("P") == expected
    with pytest.raises(thread.UnknownSubject):
        ledger.trace("S-6")
    assert not ledger.trace("S-1").quarantined
    assert ledger.trace(expected[-1]).key == expected[-1]
    size, root = ledger.tree_head()
    assert ledger.read_models.basis().built_on.size == size
    assert ledger.read_models.basis().built_on.root == root
    ledger.read_models.catch_up()
    assert all(p.position == size and p.behind == 0 for p in ledger.read_models.positions())
    assert ledger.read_models.verify().ok


def test_a_restored_ledger_written_past_the_old_position_is_answered_as_it_is(
        ledger_url: str, clock: Clock, tmp_path: Path, opened: list[thread.Ledger],
        caplog: pytest.LogCaptureFixture) -> None:
    """Restore an older copy, write different facts past the read models' old position: the
    answers are the restored ledger's, the rebuild is said once and recorded."""
    copy = backed_up_then_grown(ledger_url, clock, tmp_path, opened)
    opened.pop().close()
    restore(ledger_url, copy)
    ledger = thread.open(ledger_url, clock=clock)
    opened.append(ledger)
    fresh = serials("T", 10)
    record_parts(ledger, fresh)  # 15 events: past the 11 the read models had read
    with caplog.at_level(logging.WARNING, logger="thread.read.models"):
        assert_answers_from(ledger, [*serials("S", KEPT - 1), *fresh])
        ledger.trace("T-3")
    [warning] = caplog.records
    assert "rebuilt from the log" in warning.getMessage()
    because = ledger.read_models.basis().rebuilt_because
    assert because is not None and "does not extend the 11 events" in because
    assert ledger.read_models.rebuilt == because
    assert ledger.read_models.basis().rebuilt_at is not None


def test_a_restore_seen_by_an_open_reader_is_answered_as_it_is(
        ledger_url: str, clock: Clock, tmp_path: Path, opened: list[thread.Ledger]) -> None:
    """A process that keeps its read models open (a follower, a server) notices a restore
    under it at its next query, also once the log has grown past the old position."""
    copy = backed_up_then_grown(ledger_url, clock, tmp_path, opened)
    reader = opened[0]
    restore(ledger_url, copy)
    writer = thread.open(ledger_url, clock=clock)
    opened.append(writer)
    record_parts(writer, serials("T", 8))
    assert_answers_from(reader, [*serials("S", KEPT - 1), *serials("T", 8)])
    assert reader.read_models.rebuilt is not None


def test_a_restore_written_back_to_the_same_size_is_noticed(
        ledger_url: str, clock: Clock, tmp_path: Path, opened: list[thread.Ledger]) -> None:
    """Restored and written back to exactly the size the read models had read: the root
    differs, and the open reader notices."""
    copy = backed_up_then_grown(ledger_url, clock, tmp_path, opened)
    reader = opened[0]
    restore(ledger_url, copy)
    writer = thread.open(ledger_url, clock=clock)
    opened.append(writer)
    record_parts(writer, serials("T", 6))
    assert writer.count() == reader.read_models.basis().built_on.size == KEPT + 6
    assert_answers_from(reader, [*serials("S", KEPT - 1), *serials("T", 6)])
    assert "events have root" in (reader.read_models.rebuilt or "")


def test_a_restore_is_refused_not_answered_when_asked_not_to_catch_up(
        ledger_url: str, clock: Clock, tmp_path: Path, opened: list[thread.Ledger]) -> None:
    """With catch_up=False the read models do not rebuild, and do not answer either."""
    copy = backed_up_then_grown(ledger_url, clock, tmp_path, opened)
    reader = opened[0]
    restore(ledger_url, copy)
    writer = thread.open(ledger_url, clock=clock)
    opened.append(writer)
    record_parts(writer, serials("T", 8))
    with pytest.raises(StaleReadModel, match=r"history the log no longer holds: the log of 13 "
                                             r"events .* does not extend the 11 events"):
        reader.trace("S-1", catch_up=False)
    assert not reader.read_models.verify().ok  # and verify --read-models says so


def test_a_cut_tail_rewritten_is_answered_as_it_is(ledger: thread.Ledger, ledger_url: str
                                                   ) -> None:
    """Rows cut from the tail (SQLite reuses their row ids) and new facts written past the old
    position: the read models rebuild from the log as it is."""
    ledger.record(f.RevisionReleased(part_number="P", revision="A", part_name="P", drawing="D"))
    record_parts(ledger, serials("S", 8))
    ledger.record(f.Quarantined(serial="S-1", reason="suspect"))
    assert ledger.serials("P") == serials("S", 8) and ledger.trace("S-1").quarantined
    cut_tail(ledger_url, KEPT)
    ledger.forget()
    assert ledger.count() == KEPT
    record_parts(ledger, serials("T", 9))
    assert ledger.count() == KEPT + 9 > 10
    assert_answers_from(ledger, [*serials("S", KEPT - 1), *serials("T", 9)])
    assert "does not extend the 10 events" in (ledger.read_models.rebuilt or "")


def test_a_shorter_log_is_found_when_the_read_models_open(
        ledger_url: str, clock: Clock, tmp_path: Path, opened: list[thread.Ledger]) -> None:
    """Restored and not yet written: the read models stand past the log's end; opening them
    says so and rebuilds, and thread read-models shows it."""
    copy = backed_up_then_grown(ledger_url, clock, tmp_path, opened)
    opened.pop().close()
    restore(ledger_url, copy)
    out = CliRunner().invoke(main, ["--db", ledger_url, "read-models"])
    assert out.exit_code == 0, out.output
    assert f"built on the log's first {KEPT} events" not in out.output  # not caught up yet
    assert "rebuilt from the log on their own at " in out.output
    assert f"the log holds {KEPT} events, fewer than the 11 events" in out.output
    ledger = thread.open(ledger_url, clock=clock)
    opened.append(ledger)
    assert_answers_from(ledger, serials("S", KEPT - 1))
