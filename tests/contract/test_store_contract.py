"""The contract every store passes unchanged: SQLite file and PostgreSQL."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from conftest import (
    Clock,
    bearing,
    drop_append_only_triggers,
    inspection,
    raw_sql,
    released_bearing,
    row_counts,
    stored_bytes,
)

import thread
from thread import facts as f
from thread.domain.envelope import aggregate_id
from thread.log.audit import audit
from thread.log.checkpoint import generate_signer
from thread.log.dossier import dossier_of
from thread.log.offline import verify_dossier


def test_records_and_returns_the_chain_verified_history(ledger: thread.Ledger) -> None:
    """Recorded facts come back in order, each linked to the hash of the one before."""
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    ledger.record(inspection("SN-1"))
    history = ledger.history("SN-1")
    assert [event.topic for event in history] == [
        "manufacturing.part-registered", "quality.inspection-recorded"]
    assert history[0].prev_hash == bytes(32)
    assert history[1].prev_hash == history[0].hash
    assert history[1].fact == inspection("SN-1")
    assert [event.originator_version for event in history] == [1, 2]


def test_envelope_keeps_both_times_actor_and_source(ledger: thread.Ledger) -> None:
    """occurred_at comes from the source, recorded_at from the ledger's clock."""
    ledger.record(released_bearing())
    floor_time = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    ledger.record(bearing("SN-1"), occurred_at=floor_time, actor="op-17", source="mes",
                  source_record_id="WO-1/10")
    event = ledger.history("SN-1")[0]
    assert event.occurred_at == floor_time
    assert event.recorded_at > floor_time
    assert (event.actor, event.source, event.source_record_id) == ("op-17", "mes", "WO-1/10")


def test_resending_a_source_record_is_a_no_op(ledger: thread.Ledger, ledger_url: str) -> None:
    """The same (source, source record id) twice writes once and says it was a duplicate."""
    ledger.record(released_bearing())
    first = ledger.record(bearing("SN-1"), source="mes", source_record_id="R-1")
    before = row_counts(ledger_url)
    again = ledger.record(bearing("SN-1"), source="mes", source_record_id="R-1")
    assert row_counts(ledger_url) == before
    assert again.duplicate and not first.duplicate
    assert (again.version, again.hash) == (first.version, first.hash)
    with ledger.batch(source="mes") as batch:
        batch.record(inspection("SN-1"), source_record_id="R-2")
        batch.record(inspection("SN-1"), source_record_id="R-2")
    assert [receipt.duplicate for receipt in batch.receipts] == [False, True]
    assert len(ledger.history("SN-1")) == 2


def test_a_batch_lands_across_many_subjects_in_one_go(ledger: thread.Ledger) -> None:
    """One batch registers a design, parts and their facts together."""
    with ledger.batch() as batch:
        batch.record(released_bearing())
        for number in range(20):
            batch.record(bearing(f"SN-{number}"))
            batch.record(inspection(f"SN-{number}"))
    assert len(batch.receipts) == 41
    assert ledger.count() == 41
    assert ledger.parts() == [f"SN-{number}" for number in range(20)]


def test_a_batch_with_one_bad_fact_writes_nothing(ledger: thread.Ledger, ledger_url: str) -> None:
    """A rule violation anywhere in a batch leaves the store exactly as it was."""
    ledger.record(released_bearing())
    before = row_counts(ledger_url)
    with pytest.raises(thread.UnknownSubject) as raised, ledger.batch() as batch:
        batch.record(bearing("SN-1"), source="mes", source_record_id="A")
        batch.record(inspection("SN-1"), source="mes", source_record_id="B")
        batch.record(inspection("SN-404"), source="mes", source_record_id="C")
    assert row_counts(ledger_url) == before
    assert "part SN-404 is not registered" in str(raised.value)
    assert "fact 3 of a batch of 3" in "".join(raised.value.__notes__)
    ledger.record(bearing("SN-1"))  # the cache did not keep the failed batch's state
    assert len(ledger.history("SN-1")) == 1


def test_invalid_fact_names_subject_field_value_and_expectation(ledger: thread.Ledger,
                                                                 ledger_url: str) -> None:
    """Bad input is refused before anything is written, with an actionable message."""
    ledger.record(released_bearing())
    before = row_counts(ledger_url)
    with pytest.raises(thread.InvalidFact) as raised, ledger.batch() as batch:
        batch.record(bearing("SN-1"))
        batch.record(f.InspectionRecorded(serial="SN-1", characteristic="1", method="cmm",
                                          measured="0.5 mm", verdict="pass"))
    assert row_counts(ledger_url) == before
    error = raised.value
    assert (error.subject, error.field, error.value) == ("part SN-1", "measured", "0.5 mm")
    assert "expected a valid number" in str(error)


def test_store_refuses_update_and_delete_of_event_rows(ledger: thread.Ledger,
                                                        ledger_url: str) -> None:
    """The database itself refuses to change or remove ledger rows."""
    ledger.record(released_bearing(), source="plm", source_record_id="ECN-1")
    for statement in ("UPDATE ledger_events SET topic = 'x'", "DELETE FROM ledger_events",
                      "UPDATE ledger_sources SET source = 'x'", "DELETE FROM ledger_meta",
                      "UPDATE ledger_leaves SET hash = hash", "DELETE FROM ledger_leaves"):
        with pytest.raises(Exception, match="append-only"):
            raw_sql(ledger_url, statement)
    assert ledger.count() == 1


def test_history_names_an_event_edited_behind_the_ledgers_back(ledger: thread.Ledger,
                                                                ledger_url: str) -> None:
    """Changing one stored byte breaks the chain at that event, and history says where."""
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    ledger.record(inspection("SN-1", 19.995))
    ledger.record(inspection("SN-1", 19.996))
    drop_append_only_triggers(ledger_url)
    rows = raw_sql(ledger_url, "SELECT originator_id, state FROM ledger_events "
                               "WHERE originator_version = 2 AND topic = ?",
                   ("quality.inspection-recorded",))
    originator_id, state = rows[0]
    tampered = stored_bytes(state).replace(struct.pack(">d", 19.995), struct.pack(">d", 19.985))
    assert tampered != stored_bytes(state)
    raw_sql(ledger_url, "UPDATE ledger_events SET state = ? WHERE originator_id = ? AND "
                        "originator_version = 2", (tampered, originator_id))
    reopened = thread.open(ledger_url)
    with pytest.raises(thread.IntegrityFailure) as raised:
        reopened.history("SN-1")
    assert raised.value.version == 3
    assert "part SN-1: version 3" in str(raised.value)
    reopened.close()


def test_undecodable_stored_event_is_reported_with_its_version(ledger: thread.Ledger,
                                                               ledger_url: str) -> None:
    """A stored payload that no longer fits its fact class is an integrity failure, not a crash."""
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    ledger.record(inspection("SN-1"))
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "UPDATE ledger_events SET state = ? WHERE topic = ?",
            (b"DTL\x01\xc1", "quality.inspection-recorded"))
    with pytest.raises(thread.IntegrityFailure, match="version 2") as raised:
        thread.open(ledger_url).history("SN-1")
    assert raised.value.version == 2


def test_state_as_of_recorded_and_occurred_time(ledger: thread.Ledger, clock: Clock) -> None:
    """A part's state can be asked as the ledger knew it, or as it was on the floor."""
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"), occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
    ledger.record(f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1",
                                         description="bore undersize"),
                  occurred_at=datetime(2026, 1, 3, tzinfo=UTC))
    known_before_nc = clock.now
    ledger.record(f.Quarantined(serial="SN-1", reason="NC-1"),
                  occurred_at=datetime(2026, 1, 2, tzinfo=UTC))
    now = ledger.part("SN-1")
    assert now.quarantined and now.open_non_conformances == ["NC-1"]
    recorded_view = ledger.part("SN-1", as_of=known_before_nc)
    assert recorded_view.open_non_conformances == ["NC-1"] and not recorded_view.quarantined
    floor_view = ledger.part("SN-1", as_of=datetime(2026, 1, 2, 12, tzinfo=UTC), by="occurred")
    assert floor_view.quarantined and floor_view.open_non_conformances == []
    with pytest.raises(thread.UnknownSubject, match="not yet in the ledger"):
        ledger.part("SN-1", as_of=datetime(2025, 12, 1, tzinfo=UTC), by="occurred")


def test_reopening_continues_the_chain(ledger_url: str, clock: Clock) -> None:
    """A new process appends after what an earlier one wrote."""
    first = thread.open(ledger_url, clock=clock)
    first.record(released_bearing())
    first.record(bearing("SN-1"))
    first.close()
    second = thread.open(ledger_url, clock=clock)
    second.record(inspection("SN-1"))
    history = second.history("SN-1")
    assert history[1].prev_hash == history[0].hash
    second.close()


def test_encrypted_ledger_hashes_plaintext_and_hides_payloads(ledger_url: str,
                                                              clock: Clock) -> None:
    """With a key, stored rows are ciphertext; hashes and history are as without one."""
    key = thread.new_encryption_key()
    secret = thread.open(ledger_url, encryption_key=key, clock=clock)
    secret.record(released_bearing())
    secret.record(bearing("SN-1"))
    history = secret.history("SN-1")
    secret.close()
    stored = raw_sql(ledger_url, "SELECT state FROM ledger_events")
    states = [stored_bytes(row[0]) for row in stored]
    assert all(b"BRG-6204" not in state for state in states)
    assert history[0].hash == hashlib.sha256(history[0].canonical).digest()
    with pytest.raises(thread.EncryptionKeyError, match="encrypted"):
        thread.open(ledger_url)
    with pytest.raises(thread.EncryptionKeyError, match="not the key"):
        thread.open(ledger_url, encryption_key=thread.new_encryption_key())
    again = thread.open(ledger_url, encryption_key=key)
    assert [event.hash for event in again.history("SN-1")] == [event.hash for event in history]
    assert again.rebuild() == 2 and again.serials("BRG-6204") == ["SN-1"]  # read side decrypts
    again.close()


def test_an_encrypted_ledger_keys_its_identifiers(ledger_url: str, clock: Clock) -> None:
    """With a key, neither ledger_sources nor the events' ids column confirms that a given
    serial is in the ledger (both keyed by HMAC); a re-send is still a no-op, the chains
    and a dossier still verify, and a forged source row is still named."""
    key = thread.new_encryption_key()
    secret = thread.open(ledger_url, encryption_key=key, clock=clock)
    secret.record(released_bearing())
    first = secret.record(bearing("SN-77421"), source="mes", source_record_id="SN-77421")
    again = secret.record(bearing("SN-77421"), source="mes", source_record_id="SN-77421")
    assert again.duplicate and again.hash == first.hash
    assert secret.history("SN-77421")[0].hash.hex() == first.hash
    stored = raw_sql(ledger_url, "SELECT source, record_id FROM ledger_sources")
    assert [row[0] for row in stored] == ["mes"]
    assert "77421" not in str(stored) and str(stored[0][1]).startswith("hmac:")
    ids = {UUID(str(row[0])) for row in raw_sql(ledger_url,
                                                "SELECT originator_id FROM ledger_events")}
    assert aggregate_id("part", "SN-77421") not in ids and len(ids) == 2
    topics = [str(row[0]) for row in raw_sql(ledger_url, "SELECT topic FROM ledger_events")]
    assert all(topic.startswith("hmac:") for topic in topics) and len(set(topics)) == 2
    assert [e.fact.subject for _, e in secret.scan(topics=[f.PartRegistered.topic])] == [
        ("part", "SN-77421")]
    signer, verifier = generate_signer("test/plant")
    secret.checkpoint(signer)
    dossier = verify_dossier(dossier_of(secret, "SN-77421").dossier.to_bytes(), verifier)
    assert dossier.serial == "SN-77421" and len(dossier.events) == 1
    assert audit(secret).ok
    secret.close()
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "UPDATE ledger_sources SET record_id = 'hmac:' || CASE WHEN "
                        "substr(record_id, 6, 1) = 'f' THEN '0' ELSE 'f' END || "
                        "substr(record_id, 7)")  # one hex digit changed, whatever it was
    reopened = thread.open(ledger_url, encryption_key=key, clock=clock)
    report = audit(reopened)
    assert not report.ok and "ledger_sources" in str(report.findings)
    reopened.close()


def test_an_encrypted_ledger_from_before_keyed_identifiers_keeps_them_plain(
        ledger_url: str, clock: Clock) -> None:
    """An encrypted ledger written before identifiers were keyed (no setting for them) goes
    on storing them as it began: UUIDv5 subject ids and source ids as given."""
    key = thread.new_encryption_key()
    thread.open(ledger_url, encryption_key=key, clock=clock).close()
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "DELETE FROM ledger_meta WHERE name = 'identifiers'")
    old = thread.open(ledger_url, encryption_key=key, clock=clock)
    old.record(released_bearing())
    old.record(bearing("SN-5"), source="mes", source_record_id="SN-5")
    old.close()
    reopened = thread.open(ledger_url, encryption_key=key, clock=clock)
    assert reopened.record(bearing("SN-5"), source="mes", source_record_id="SN-5").duplicate
    assert [str(row[0]) for row in raw_sql(ledger_url, "SELECT record_id FROM "
                                                       "ledger_sources")] == ["SN-5"]
    ids = {UUID(str(row[0])) for row in raw_sql(ledger_url,
                                                "SELECT originator_id FROM ledger_events")}
    assert aggregate_id("part", "SN-5") in ids
    assert f.PartRegistered.topic in {str(row[0]) for row in raw_sql(
        ledger_url, "SELECT topic FROM ledger_events")}
    assert audit(reopened).ok
    reopened.close()


def test_signed_disposition_verifies_and_is_bound_to_its_event(ledger: thread.Ledger) -> None:
    """A disposition signed by an engineer carries a signature over that event's hash."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signer = thread.Signer("qe-4", "Dana Quality", Ed25519PrivateKey.generate())
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    ledger.record(f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1",
                                         description="bore undersize"))
    ledger.record(f.DispositionRecorded(serial="SN-1", non_conformance="NC-1",
                                        decision="use-as-is", rationale="within function"),
                  sign=signer, meaning="approval")
    disposition, signature = ledger.history("SN-1")[-2:]
    assert isinstance(signature.fact, f.SignatureApplied)
    assert signature.fact.signed_hash == disposition.hash.hex()
    assert signature.fact.printed_name == "Dana Quality"
    thread.verify_signature(signature.fact, trusted_key=signer.public_key)
    moved = signature.fact.model_copy(update={"signed_hash": "00" * 32})
    with pytest.raises(thread.SignatureInvalid):
        thread.verify_signature(moved)


def test_correction_keeps_the_original_and_names_it(ledger: thread.Ledger) -> None:
    """A correction adds the corrected fact and a link to the superseded one."""
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    ledger.record(inspection("SN-1", 19.95, "fail"))
    receipt = ledger.correct(inspection("SN-1", 19.995, "pass"), corrects=2,
                             reason="transcription error: 19.95 keyed for 19.995")
    history = ledger.history("SN-1")
    assert receipt.version == 3
    correction = history[3].fact
    assert isinstance(correction, f.CorrectionRecorded)
    assert (correction.corrects_version, correction.replaced_by_version) == (2, 3)
    assert correction.corrects_hash == history[1].hash.hex()
    assert history[1].fact.verdict == "fail"  # type: ignore[attr-defined]


def test_occurred_at_without_time_zone_is_refused(ledger: thread.Ledger) -> None:
    """A naive floor time could mean any zone; the ledger will not guess."""
    ledger.record(released_bearing())
    with pytest.raises(thread.LedgerError, match="needs a time zone"):
        ledger.record(bearing("SN-1"), occurred_at=datetime(2026, 1, 1) + timedelta(hours=1))
