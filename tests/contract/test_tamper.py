"""Tamper matrix: an insider attacks the database with raw SQL; the audit says what and where.

Every attack starts as an insider would, by dropping the append-only
triggers. Attacks that rewrite consistently build their rows with the
ledger's own functions (``Recorded.create``, ``leaf_hash``, ``CompactRange``),
so that only a signed checkpoint is left to catch them.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from uuid import UUID

import pytest
from conftest import (
    bearing,
    drop_append_only_triggers,
    inspection,
    raw_sql,
    released_bearing,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread import facts as f
from thread.domain.chain import GENESIS, Recorded, aggregate_id
from thread.log.audit import AuditReport, Finding, audit
from thread.log.checkpoint import Checkpoint, generate_signer, sign_note
from thread.log.merkle import CompactRange, leaf_hash
from thread.log.merkle import root as merkle_root
from thread.storage.log import leaf_rows, node_rows

SERIALS = tuple(f"SN-{number:04d}" for number in range(1, 9))
#: The part whose bore inspection failed: what an insider would want to hide.
FAILED = "SN-0004"
FAILED_BORE = 20.004
#: Tree sizes of the two checkpoints the plant signed (and the auditor kept).
FIRST_SIZE = 18
SECOND_SIZE = 23
EVENTS = 24
#: The material review board member who signs the scrap disposition.
MRB = thread.Signer("qe-4", "Dana Quality", Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class Plant:
    """A small plant ledger after two signed checkpoints, and what the auditor kept."""

    url: str
    verifier: str
    first_note: str
    second_note: str
    copy: Path | None  # SQLite only: the database file as it was at the first checkpoint
    positions: dict[tuple[str, int], int]  # (subject key, version) -> log position

    def position(self, key: str, version: int) -> int:
        """Where an event sits in the log as committed."""
        return self.positions[(key, version)]


@pytest.fixture
def plant(ledger: thread.Ledger, ledger_url: str, tmp_path: Path) -> Plant:
    """A released design, eight bearings registered, inspected (one fails), some shipped.

    Log positions: 0 design; 1-8 registrations (two batches); 9-16 bore
    inspections (SN-0004 fails at 12); 17 its non-conformance; checkpoint at
    18; 18-20 shipments, 21 the scrap disposition and 22 its signature;
    checkpoint at 23; 23 one more shipment that no checkpoint covers yet.
    """
    signer, verifier = generate_signer("plant-7")
    ledger.record(released_bearing(), actor="design.engineer")
    for first in (0, 4):
        with ledger.batch(source="mes") as batch:
            for serial in SERIALS[first:first + 4]:
                batch.record(bearing(serial), source_record_id=f"register-{serial}")
    with ledger.batch(source="cmm-3", actor="inspector") as batch:
        for serial in SERIALS:
            if serial == FAILED:
                batch.record(inspection(serial, FAILED_BORE, "fail"),
                             source_record_id=f"bore-{serial}")
            else:
                batch.record(inspection(serial), source_record_id=f"bore-{serial}")
    ledger.record(f.NonConformanceOpened(serial=FAILED, non_conformance="NC-0001",
                                         description="bore 20.004 mm above 20.000 mm",
                                         characteristic="1"))
    first_note = ledger.checkpoint(signer)
    copy = None
    if not ledger_url.startswith("postgresql://"):
        copy = tmp_path / "at-first-checkpoint.db"
        _sqlite_backup(ledger_url, str(copy))
    with ledger.batch(actor="shipping") as batch:
        for serial in SERIALS[:3]:
            batch.record(f.Shipped(serial=serial, customer="Acme Pumps", order="PO-7731"))
        batch.record(f.DispositionRecorded(serial=FAILED, non_conformance="NC-0001",
                                           decision="scrap", rationale="bore oversize"),
                     sign=MRB)
    second_note = ledger.checkpoint(signer)
    ledger.record(f.Shipped(serial=SERIALS[4], customer="Acme Pumps", order="PO-7740"))
    positions = {(event.fact.subject[1], event.originator_version): position
                 for position, (_, event) in enumerate(ledger.scan())}
    assert (len(positions), ledger.checkpoints()[0][0], ledger.checkpoints()[1][0]) == (
        EVENTS, FIRST_SIZE, SECOND_SIZE)
    drop_append_only_triggers(ledger_url)
    return Plant(ledger_url, verifier, first_note, second_note, copy, positions)


# What the insider runs


def _postgres(url: str) -> bool:
    return url.startswith("postgresql://")


def _id(url: str) -> str:
    """The column that orders the log: SQLite's rowid, PostgreSQL's notification id."""
    return "notification_id" if _postgres(url) else "rowid"


def _originator(url: str, ident: UUID) -> object:
    """An aggregate id as the backend stores it (hex text in SQLite, uuid in PostgreSQL)."""
    return ident if _postgres(url) else ident.hex


def insider(url: str, statements: Sequence[tuple[str, tuple[object, ...]]]) -> None:
    """Run statements in one transaction (``?`` placeholders), as an insider with a SQL client."""
    if _postgres(url):
        import psycopg

        base, _, schema = url.partition("?schema=")
        with psycopg.connect(base) as connection:
            connection.execute(f'SET search_path TO "{schema}"')
            for statement, params in statements:
                connection.execute(statement.replace("?", "%s"), params)
        return
    database = sqlite3.connect(url)
    try:
        for statement, params in statements:
            database.execute(statement, params)
        database.commit()
    finally:
        database.close()


@dataclass(frozen=True)
class Row:
    """A stored event as the insider reads it."""

    id: int
    event: Recorded


def stored_rows(url: str) -> list[Row]:
    """Every event row in commit order."""
    return [Row(ident, Recorded.decode(state)) for ident, state in _states(url)]


def _states(url: str) -> list[tuple[int, bytes]]:
    """(row id, stored bytes) of every event in commit order."""
    rows = raw_sql(url, f"SELECT {_id(url)}, state FROM ledger_events ORDER BY {_id(url)}")
    return [(int(str(ident)), bytes(cast(bytes, state))) for ident, state in rows]


def row_of(url: str, serial: str, version: int) -> Row:
    """The stored row of a part's event."""
    wanted = (aggregate_id("part", serial), version)
    return next(row for row in stored_rows(url)
                if (row.event.originator_id, row.event.originator_version) == wanted)


def set_state(url: str, row_id: int, state: bytes) -> tuple[str, tuple[object, ...]]:
    """The statement that overwrites a row's stored bytes."""
    return f"UPDATE ledger_events SET state = ? WHERE {_id(url)} = ?", (state, row_id)


def delete_rows(url: str, rows: Sequence[Row]) -> list[tuple[str, tuple[object, ...]]]:
    """Statements deleting events and the source keys that point at them."""
    statements: list[tuple[str, tuple[object, ...]]] = []
    for row in rows:
        statements.append((f"DELETE FROM ledger_events WHERE {_id(url)} = ?", (row.id,)))
        statements.append(("DELETE FROM ledger_sources WHERE originator_id = ? AND "
                           "originator_version = ?",
                           (_originator(url, row.event.originator_id),
                            row.event.originator_version)))
    return statements


def rebuild_log(url: str) -> list[bytes]:
    """Recompute every leaf and subtree of the global log from the events; returns the leaves."""
    rows = _states(url)
    leaves = [leaf_hash(state) for _, state in rows]
    completed = CompactRange().extend(leaves)
    statements: list[tuple[str, tuple[object, ...]]] = [
        ("DELETE FROM ledger_leaves", ()), ("DELETE FROM ledger_nodes", ())]
    statements += [("INSERT INTO ledger_leaves VALUES (?, ?, ?)", values)
                   for values in leaf_rows(0, [ident for ident, _ in rows], leaves)]
    statements += [("INSERT INTO ledger_nodes VALUES (?, ?, ?)", values)
                   for values in node_rows(completed)]
    insider(url, statements)
    return leaves


def rewrite(url: str, change: Callable[[Recorded], f.Fact]) -> list[bytes]:
    """Change facts, re-chain and re-hash every later event, update source keys, rebuild the log."""
    heads: dict[UUID, bytes] = {}
    statements: list[tuple[str, tuple[object, ...]]] = []
    for row in stored_rows(url):
        event = row.event
        fact = change(event)
        previous = heads.get(event.originator_id, GENESIS)
        if fact != event.fact or previous != event.prev_hash:
            event = Recorded.create(
                originator_id=event.originator_id, version=event.originator_version, fact=fact,
                occurred_at=event.occurred_at, recorded_at=event.recorded_at, actor=event.actor,
                source=event.source, source_record_id=event.source_record_id, prev_hash=previous,
            )
            statements.append(set_state(url, row.id, event.canonical))
            statements.append(("UPDATE ledger_sources SET event_hash = ? WHERE source = ? AND "
                               "record_id = ?",
                               (event.hash, event.source, event.source_record_id or "")))
        heads[event.originator_id] = event.hash
    insider(url, statements)
    return rebuild_log(url)


def passed_bore(event: Recorded) -> f.Fact:
    """The insider's edit: SN-0004's failed bore inspection becomes a pass."""
    if event.fact == inspection(FAILED, FAILED_BORE, "fail"):
        return inspection(FAILED)
    return event.fact


def checked(url: str, *, verifier_keys: Sequence[str] = (),
            trusted_checkpoints: Sequence[str] = ()) -> AuditReport:
    """Audit the ledger afresh from its stored rows."""
    ledger = thread.open(url)
    try:
        return audit(ledger, verifier_keys=verifier_keys, trusted_checkpoints=trusted_checkpoints)
    finally:
        ledger.close()


def first_finding(report: AuditReport, where: str, *words: str) -> Finding:
    """The earliest finding, checked: its report line starts at ``where`` and says ``words``."""
    assert not report.ok, "the tampering went unnoticed"
    first = report.first
    assert first is not None
    line = first.describe()
    assert line.startswith(f"{where}: "), line
    for word in words:
        assert word in first.what, line
    return first


def _sqlite_backup(source: str, target: str) -> None:
    """Copy a live SQLite database page by page, as a backup job (or a restore) does."""
    origin, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        origin.backup(copy)
    finally:
        origin.close()
        copy.close()


# The matrix


def test_untouched_plant_ledger_verifies(plant: Plant) -> None:
    """The plant ledger, triggers dropped but no row changed, verifies with both notes kept."""
    report = checked(plant.url, verifier_keys=[plant.verifier],
                     trusted_checkpoints=[plant.first_note, plant.second_note])
    assert report.ok, [finding.describe() for finding in report.findings]
    assert (report.events, report.aggregates, report.signatures_checked) == (EVENTS, 9, 4)


def test_flipped_payload_byte_is_named_at_its_event(plant: Plant) -> None:
    """One flipped bit in the failed bore measurement is reported at that event as edited."""
    row = row_of(plant.url, FAILED, 2)
    state = bytearray(row.event.canonical)
    offset = state.index(struct.pack(">d", FAILED_BORE))
    state[offset + 7] ^= 0x01
    insider(plant.url, [set_state(plant.url, row.id, bytes(state))])
    first_finding(checked(plant.url, verifier_keys=[plant.verifier]),
                  f"log position {plant.position(FAILED, 2)}, part {FAILED}, version 2",
                  "event bytes differ from the leaf the log committed", "edited")


def test_changed_topic_is_named_as_relabelled(plant: Plant) -> None:
    """A failed inspection relabelled as a test (to hide it from inspection reports) is named."""
    row = row_of(plant.url, FAILED, 2)
    insider(plant.url, [(f"UPDATE ledger_events SET topic = ? WHERE {_id(plant.url)} = ?",
                         (f.TestRecorded.topic, row.id))])
    first_finding(checked(plant.url, verifier_keys=[plant.verifier]),
                  f"log position {plant.position(FAILED, 2)}, part {FAILED}, version 2",
                  f"labelled '{f.TestRecorded.topic}'",
                  f"bytes are a '{f.InspectionRecorded.topic}' event", "relabelled")


def test_deleted_event_is_named_where_it_was(plant: Plant) -> None:
    """Deleting the failed inspection is reported at its log position, and as a gap in the part."""
    insider(plant.url, delete_rows(plant.url, [row_of(plant.url, FAILED, 2)]))
    report = checked(plant.url, verifier_keys=[plant.verifier])
    first_finding(report, f"log position {plant.position(FAILED, 2)}",
                  "the event the log committed at this position", "is missing", "deleted")
    gap = [finding.describe() for finding in report.findings if finding.subject]
    assert gap[0] == (f"log position {plant.position(FAILED, 3)}, part {FAILED}, version 3: "
                      "follows version 1: the chain has a gap (an event was deleted) or a repeat")


@pytest.mark.parametrize("where", ["appended", "ahead of the first event"])
def test_forged_event_is_named_as_inserted(plant: Plant, where: str) -> None:
    """A well-chained forged event inserted without the ledger is reported as inserted."""
    url = plant.url
    if where == "appended":
        last = row_of(url, FAILED, 5).event  # the disposition's signature
        fact: f.Fact = inspection(FAILED)  # a re-inspection that "passed"
        row_id = int(str(raw_sql(url, f"SELECT MAX({_id(url)}) FROM ledger_events")[0][0])) + 1
        subject, position = f"part {FAILED}", EVENTS
    else:
        last = stored_rows(url)[0].event  # revision A of the design
        fact = released_bearing(revision="B")
        row_id, subject, position = 0, "design BRG-6204", 0
    forged = Recorded.create(
        originator_id=last.originator_id, version=last.originator_version + 1, fact=fact,
        occurred_at=last.occurred_at, recorded_at=last.recorded_at, actor=last.actor,
        source=last.source, source_record_id=None, prev_hash=last.hash,
    )
    insider(url, [(f"INSERT INTO ledger_events ({_id(url)}, originator_id, originator_version, "
                   "topic, state) VALUES (?, ?, ?, ?, ?)",
                   (row_id, _originator(url, forged.originator_id), forged.originator_version,
                    forged.topic, forged.canonical))])
    first_finding(checked(url, verifier_keys=[plant.verifier]),
                  f"log position {position}, {subject}, version {forged.originator_version}",
                  "event has no leaf in the committed log", "inserted")


def test_swapped_event_bytes_are_named_at_both_rows(plant: Plant) -> None:
    """Swapping the failed and a passed inspection's bytes names the row holding the other's."""
    failed, passed = row_of(plant.url, FAILED, 2), row_of(plant.url, "SN-0002", 2)
    insider(plant.url, [set_state(plant.url, failed.id, passed.event.canonical),
                        set_state(plant.url, passed.id, failed.event.canonical)])
    report = checked(plant.url, verifier_keys=[plant.verifier])
    first_finding(report, f"log position {plant.position('SN-0002', 2)}, part SN-0002, version 2",
                  f"row holds the bytes of part {FAILED} version 2", "swapped")
    other = [finding for finding in report.findings if finding.subject == f"part {FAILED}"]
    assert other[0].position == plant.position(FAILED, 2)
    assert "row holds the bytes of part SN-0002 version 2" in other[0].what


@pytest.mark.parametrize("how", ["two parts swap places", "one part's events swap places",
                                 "moved to the end"])
def test_reordered_rows_are_named_where_the_order_breaks(plant: Plant, how: str) -> None:
    """Changing the commit order (row ids) of events is reported at the first moved position."""
    url, column = plant.url, _id(plant.url)
    failed = row_of(url, FAILED, 2)
    move = f"UPDATE ledger_events SET {column} = ? WHERE {column} = ?"
    where = f"log position {plant.position(FAILED, 2)}"
    if how == "moved to the end":
        last = int(str(raw_sql(url, f"SELECT MAX({column}) FROM ledger_events")[0][0]))
        insider(url, [(move, (last + 1, failed.id))])
        words = ("the event the log committed at this position", "moved to another row id")
    else:
        serial, version = ("SN-0008", 2) if how == "two parts swap places" else (FAILED, 3)
        other = row_of(url, serial, version)
        insider(url, [(move, (-1, failed.id)), (move, (failed.id, other.id)),
                      (move, (other.id, -1))])
        where += f", part {serial}, version {version}"  # the event now committed there
        words = ("event bytes differ from the leaf the log committed", "reordered")
    report = checked(url, verifier_keys=[plant.verifier])
    first_finding(report, where, *words)
    if how == "one part's events swap places":  # the chain says which came first
        assert (f"{where}: was committed before version 2: rows were reordered, or this one "
                "inserted ahead of it") in [finding.describe() for finding in report.findings]


def test_truncated_tail_is_caught_by_the_checkpoint_covering_it(plant: Plant) -> None:
    """Cutting the last events with their leaves and nodes is caught by the stored checkpoint."""
    cut = 20
    insider(plant.url, delete_rows(plant.url, stored_rows(plant.url)[cut:]))
    rebuild_log(plant.url)
    first_finding(checked(plant.url, verifier_keys=[plant.verifier]), f"log position {cut}",
                  f"stored checkpoint at size {SECOND_SIZE} covers {SECOND_SIZE} events but "
                  f"only {cut} remain", "tail cut off")


def test_part_deleted_with_its_leaves_is_caught_by_the_checkpoint(plant: Plant) -> None:
    """Every event of one part removed, leaves and nodes rebuilt: the checkpoint root differs."""
    victim = aggregate_id("part", "SN-0006")
    insider(plant.url, delete_rows(plant.url, [row for row in stored_rows(plant.url)
                                               if row.event.originator_id == victim]))
    rebuild_log(plant.url)
    first_finding(checked(plant.url, verifier_keys=[plant.verifier]),
                  f"log position {FIRST_SIZE - 1}",
                  f"recomputed root of the first {FIRST_SIZE} events differs from stored "
                  f"checkpoint at size {FIRST_SIZE}", "removed")


def test_part_deleted_without_its_leaves_is_named_where_it_was(plant: Plant) -> None:
    """Every event of one part removed from the events table only: each is missed at its leaf."""
    victim = aggregate_id("part", "SN-0006")
    insider(plant.url, delete_rows(plant.url, [row for row in stored_rows(plant.url)
                                               if row.event.originator_id == victim]))
    report = checked(plant.url, verifier_keys=[plant.verifier])
    first_finding(report, f"log position {plant.position('SN-0006', 1)}", "is missing", "deleted")
    assert [finding.position for finding in report.findings if "is missing" in finding.what] == [
        plant.position("SN-0006", 1), plant.position("SN-0006", 2)]


def test_restored_older_copy_is_caught_by_the_kept_checkpoint(plant: Plant) -> None:
    """An older copy put back is caught by the later checkpoint note the auditor kept.

    Without a note kept outside the database a restore is a consistent, older
    ledger: it verifies. That is why auditors keep checkpoint notes.
    """
    url = plant.url
    if plant.copy is not None:
        _sqlite_backup(str(plant.copy), url)
    else:  # PostgreSQL: what a restore does, row by row in every table
        insider(url, [*delete_rows(url, stored_rows(url)[FIRST_SIZE:]),
                      ("DELETE FROM ledger_checkpoints WHERE size > ?", (FIRST_SIZE,))])
        rebuild_log(url)
    assert checked(url, verifier_keys=[plant.verifier]).ok
    first_finding(checked(url, verifier_keys=[plant.verifier],
                          trusted_checkpoints=[plant.second_note]),
                  f"log position {FIRST_SIZE}",
                  f"the trusted checkpoint given covers {SECOND_SIZE} events but only "
                  f"{FIRST_SIZE} remain", "older copy restored")


def test_faithful_rewrite_verifies(plant: Plant) -> None:
    """The insider's rewrite tools are exact: re-chaining unchanged facts leaves a valid ledger."""
    rewrite(plant.url, lambda event: event.fact)
    report = checked(plant.url, verifier_keys=[plant.verifier],
                     trusted_checkpoints=[plant.first_note, plant.second_note])
    assert report.ok, [finding.describe() for finding in report.findings]


@pytest.mark.parametrize("checkpoints", ["left in place", "deleted"])
def test_consistent_rewrite_without_the_key_is_caught_by_the_checkpoint(
    plant: Plant, checkpoints: str
) -> None:
    """A re-chained, re-hashed rewrite is caught by the old signed checkpoint, stored or kept.

    With the stored checkpoints deleted and no note kept by the auditor, the
    rewrite verifies: the signed notes held outside the database are the anchor.
    """
    rewrite(plant.url, passed_bore)
    kept: list[str] = []
    if checkpoints == "deleted":
        insider(plant.url, [("DELETE FROM ledger_checkpoints", ())])
        assert checked(plant.url, verifier_keys=[plant.verifier]).ok
        kept = [plant.first_note, plant.second_note]
    source = f"stored checkpoint at size {FIRST_SIZE}" if not kept else (
        "the trusted checkpoint given")
    first_finding(checked(plant.url, verifier_keys=[plant.verifier], trusted_checkpoints=kept),
                  f"log position {FIRST_SIZE - 1}",
                  f"recomputed root of the first {FIRST_SIZE} events differs from {source}",
                  "an event at or before this position was changed")


def test_rewrite_resigned_with_another_key_is_caught_by_the_pinned_key(plant: Plant) -> None:
    """A rewrite re-signed with a key of the same name fails against the pinned verifier key.

    Documented limitation: an auditor who neither pins the key (``--vkey``)
    nor kept an earlier note cannot tell the forgery from the real ledger, so
    that audit passes.
    """
    leaves = rewrite(plant.url, passed_bore)
    forger, forger_verifier = generate_signer("plant-7")
    name = str(raw_sql(plant.url, "SELECT value FROM ledger_meta WHERE name = 'origin'")[0][0])
    notes = [sign_note(Checkpoint(name, size, merkle_root(leaves[:size])).body(), forger)
             for size in (FIRST_SIZE, SECOND_SIZE)]
    insider(plant.url, [("DELETE FROM ledger_checkpoints", ()),
                        *[("INSERT INTO ledger_checkpoints VALUES (?, ?)", (size, note))
                          for size, note in zip((FIRST_SIZE, SECOND_SIZE), notes, strict=True)]])
    assert checked(plant.url).ok
    assert checked(plant.url, verifier_keys=[forger_verifier]).ok
    first_finding(checked(plant.url, verifier_keys=[plant.verifier]), "the log",
                  f"stored checkpoint at size {FIRST_SIZE} does not verify",
                  "no signature by a known key")
    first_finding(checked(plant.url, trusted_checkpoints=[plant.first_note]),
                  f"log position {FIRST_SIZE - 1}",
                  f"recomputed root of the first {FIRST_SIZE} events differs from the trusted "
                  "checkpoint given")


def test_changed_merkle_node_is_detected(ledger: thread.Ledger, ledger_url: str) -> None:
    """A stored subtree hash edited alone (events and leaves intact) is reported."""
    ledger.record(released_bearing())
    with ledger.batch() as batch:
        for number in range(40):
            batch.record(bearing(f"N-{number}"))
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "UPDATE ledger_nodes SET hash = ? WHERE level = 4 AND idx = 1",
            (bytes(32),))
    report = audit(thread.open(ledger_url))
    first = report.first
    assert first is not None
    assert first.position == 31
    assert "stored Merkle node at level 4, index 1 (events 16 to 31) is changed" in first.what
