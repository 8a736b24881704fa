"""Reading never writes: queries, records and proofs leave the ledger as it was, on every store;
the origin is fixed when a ledger is created; a time that is not a time is refused by name."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Clock, drop_append_only_triggers, raw_sql, stored_bytes
from read_plant import BAD_END, BAD_START, build

import thread
from thread import facts as f
from thread.bootstrap import read_models_file
from thread.cli import main
from thread.storage.recorder import legacy_origin

LEDGER_TABLES = ("ledger_events", "ledger_sources", "ledger_meta", "ledger_leaves",
                 "ledger_nodes", "ledger_checkpoints")


def ledger_state(url: str) -> str:
    """A digest of everything the ledger holds: the file's bytes, or every ledger table's rows."""
    if not url.startswith("postgresql://"):
        return hashlib.sha256(Path(url).read_bytes()).hexdigest()
    digest = hashlib.sha256()
    for table in LEDGER_TABLES:
        rows = raw_sql(url, f"SELECT * FROM {table}")
        digest.update(repr(sorted(rows, key=repr)).encode())
    return digest.hexdigest()


def _cli(url: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--db", url, *args], env={"THREAD_DB": None})
    assert result.exit_code == 0, f"thread {' '.join(args)}: {result.output}"
    return result.output


def test_read_commands_leave_the_ledger_unchanged(ledger_url: str, clock: Clock,
                                                  tmp_path: Path) -> None:
    """trace, genealogy, recall, rebuild, dhr, fair, verify and dossier change no byte of it."""
    ledger = thread.open(ledger_url, clock=clock)
    build(ledger)
    ledger.close()
    key = tmp_path / "ledger.key"
    _cli(ledger_url, "keygen", "-o", str(key))
    _cli(ledger_url, "checkpoint", "--key", str(key))  # a write, so dossiers can be proved
    before = ledger_state(ledger_url)
    window = ["--from", BAD_START.isoformat(), "--to", BAD_END.isoformat()]
    for args in (["trace", "B-014"], ["genealogy", "B-002", "--up"],
                 ["recall", "--machine", "GR-1", *window], ["rebuild"],
                 ["dhr", "B-000", "-o", str(tmp_path / "dhr.json")],
                 ["fair", "BRG-6204", "--revision", "A", "-o", str(tmp_path / "fair.json")],
                 ["verify"], ["dossier", "B-000", "-o", str(tmp_path / "dossier.json")],
                 ["history", "B-000"], ["parts"]):
        _cli(ledger_url, *args)
        assert ledger_state(ledger_url) == before, f"thread {args[0]} wrote to the ledger"


def test_read_models_live_outside_the_ledger_file(ledger_url: str, clock: Clock) -> None:
    """A ledger file keeps no read models; they go beside it (PostgreSQL: the ledger's schema)."""
    ledger = thread.open(ledger_url, clock=clock)
    try:
        build(ledger, bearings=4)
        assert ledger.trace("B-000").part_number == "BRG-6204"
        assert ledger.read_models.notice is None
    finally:
        ledger.close()
    if ledger_url.startswith("postgresql://"):
        assert raw_sql(ledger_url, "SELECT COUNT(*) FROM read_story")[0][0] != 0
        return
    assert raw_sql(ledger_url, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'read_%'"
                   ) == [(0,)]
    sidecar = read_models_file(ledger_url)
    assert sidecar.name == "ledger.reads.db"
    assert raw_sql(str(sidecar), "SELECT COUNT(*) > 0 FROM read_story") == [(1,)]


def test_origin_is_fixed_when_the_ledger_is_created(ledger_url: str) -> None:
    """A new ledger stores its origin before any fact; reading it again gives the same one."""
    ledger = thread.open(ledger_url)
    try:
        stored = raw_sql(ledger_url, "SELECT value FROM ledger_meta WHERE name = 'origin'")
        assert stored == [(ledger.origin,)]
        assert ledger.origin.startswith("thread-ledger/")
    finally:
        ledger.close()
    again = thread.open(ledger_url, create=False)
    try:
        assert again.origin == stored[0][0]
    finally:
        again.close()


def test_a_ledger_made_before_origins_reads_one_origin_and_stores_it_on_its_next_write(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Without a stored origin the log's first leaf names it; reading stores nothing, the
    next write stores that same origin."""
    ledger = thread.open(ledger_url, clock=clock)
    build(ledger)
    ledger.close()
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "DELETE FROM ledger_meta WHERE name = 'origin'")
    [(first,)] = raw_sql(ledger_url, "SELECT hash FROM ledger_leaves WHERE position = 0")
    expected = legacy_origin(stored_bytes(first))
    before = ledger_state(ledger_url)
    for _ in range(2):
        reader = thread.open(ledger_url, create=False)
        try:
            assert reader.origin == expected
        finally:
            reader.close()
    _cli(ledger_url, "dhr", "B-000", "-o", str(tmp_path / "dhr.json"))
    assert ledger_state(ledger_url) == before
    writer = thread.open(ledger_url, clock=clock)
    try:
        writer.record(f.Quarantined(serial="B-000", reason="suspect lot"))
        assert writer.origin == expected
    finally:
        writer.close()
    assert raw_sql(ledger_url, "SELECT value FROM ledger_meta WHERE name = 'origin'") == [
        (expected,)]


@pytest.mark.parametrize("when", ["yesterday", 1_772_400_000, date(2026, 3, 1)])
def test_occurred_at_that_is_not_a_time_is_refused_naming_the_field(
        ledger: thread.Ledger, when: object) -> None:
    """record(occurred_at="yesterday") raises the ledger's InvalidFact naming the field."""
    ledger.record(f.MachineRegistered(machine="GR-1", name="Grinder", kind="grinder"))
    with pytest.raises(thread.InvalidFact, match="field 'occurred_at'") as caught:
        ledger.record(f.MachineRegistered(machine="GR-2", name="Grinder", kind="grinder"),
                      occurred_at=when)  # type: ignore[arg-type]
    assert caught.value.field == "occurred_at" and caught.value.value == when
    assert "machine GR-2" in str(caught.value)
    with pytest.raises(thread.InvalidFact, match="occurred_at"), ledger.batch() as batch:
        batch.record(f.MachineRegistered(machine="GR-3", name="Grinder", kind="grinder"),
                     occurred_at=when)  # type: ignore[arg-type]
    assert ledger.count() == 1
    ledger.record(f.MachineRegistered(machine="GR-4", name="Grinder", kind="grinder"),
                  occurred_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert ledger.count() == 2
