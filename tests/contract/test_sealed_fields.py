"""Field encryption that keeps verification: personal names sealed under each person's key
and export-controlled content under its labels' keys, inside the canonical bytes. No
plaintext reaches the database files or the read models; verification, proofs and
dossiers need no key; shredding a person's key erases their name everywhere while
every chain, proof and dossier still verifies."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Clock

import thread
from thread.domain import facts as f
from thread.domain.sealing import ERASED, WITHHELD, KeyMissing
from thread.log.audit import audit
from thread.log.checkpoint import generate_signer
from thread.log.dossier import dossier_of
from thread.log.offline import verify_dossier
from thread.records import device_history_record
from thread.storage.keyring import Keyring

pytestmark = pytest.mark.contract

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
NAME = "Zebulon Quixote-Marchetti"
SECRET = "QZXV-SEEKER-GIMBAL-TORQUE"


def _plant(url: str, clock: Clock, ring: Keyring) -> thread.Ledger:
    """A controlled design (ITAR:XI) and an uncontrolled one, a part of each, each run on
    mill M by the same operator; the controlled run names a secret operation."""
    ledger = thread.open(url, clock=clock, keyring=ring)
    ledger.record(f.RevisionReleased(part_number="SEEKER", revision="A", part_name="Seeker",
                                     drawing="D-1"))
    ledger.record(f.RevisionReleased(part_number="FRAME", revision="A", part_name="Frame",
                                     drawing="D-2"))
    ledger.record(f.ExportClassified(kind="design", key="SEEKER", labels=("ITAR:XI",)))
    ledger.record(f.MachineRegistered(machine="M", name="Mill", kind="mill"))
    for serial, number, operation in (("SN-1", "SEEKER", SECRET), ("SN-2", "FRAME", "OP10")):
        with ledger.batch() as batch:
            batch.record(f.PartRegistered(serial=serial, part_number=number, revision="A"))
            batch.record(f.OperationPerformed(
                serial=serial, operation=operation, station="ST", machine="M", operator=NAME,
                started_at=T0, ended_at=T0.replace(minute=30), cycle_time_s=1800))
    return ledger


def _ring(tmp_path: Path) -> Keyring:
    ring = Keyring(tmp_path / "keys")
    ring.new_label_key("ITAR:XI")
    return ring


def _database_bytes(url: str, tmp_path: Path) -> bytes:
    """Every byte the ledger and its read models hold: the SQLite files with their WAL,
    or a dump of the PostgreSQL schema."""
    if not url.startswith("postgresql://"):
        return b"".join(path.read_bytes() for path in tmp_path.iterdir()
                        if path.name.startswith("ledger") and path.is_file())
    base, _, schema = url.partition("?schema=")
    dumped = subprocess.run(["pg_dump", "--data-only", "--schema", schema, base],
                            capture_output=True, check=True)
    return dumped.stdout


def test_no_plaintext_of_a_sealed_field_reaches_the_files(ledger_url: str, clock: Clock,
                                                          tmp_path: Path) -> None:
    """After writing and projecting, neither the name nor the controlled operation is in the
    database's bytes (SQLite file and WAL, or a pg_dump), read models included; the
    uncontrolled operation is, as a control that the search can find what is there."""
    ledger = _plant(ledger_url, clock, _ring(tmp_path))
    assert ledger.history("SN-1")[1].fact.operator == NAME  # type: ignore[attr-defined]
    assert ledger.trace("SN-2").operations[0].operator == WITHHELD
    assert ledger.trace("SN-1").operations == ()  # read models hold it withheld
    raw = _database_bytes(ledger_url, tmp_path)
    ledger.close()
    assert b"OP10" in raw
    assert NAME.encode() not in raw and SECRET.encode() not in raw
    assert b"Zebulon" not in raw and b"GIMBAL" not in raw


def test_verification_needs_no_key_and_an_old_dossier_survives_shredding(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """Without any key the log and every chain verify, and the dossier verifies offline;
    after the operator's key is destroyed the same dossier and the whole log still verify."""
    ring = _ring(tmp_path)
    ledger = _plant(ledger_url, clock, ring)
    signer, verifier = generate_signer("test/plant")
    ledger.checkpoint(signer)
    dossier = dossier_of(ledger, "SN-1").dossier.to_bytes()
    assert NAME.encode() not in dossier and SECRET.encode() not in dossier
    ledger.close()
    keyless = thread.open(ledger_url, clock=clock)
    assert audit(keyless, verifier_keys=[verifier]).ok
    withheld = keyless.history("SN-1")[1].fact
    assert isinstance(withheld, f.Withheld) and withheld.labels == ("ITAR:XI",)
    assert keyless.history("SN-2")[1].fact.operator == WITHHELD  # type: ignore[attr-defined]
    keyless.close()
    assert len(verify_dossier(dossier, [verifier]).events) == 2
    assert ring.shred(NAME)
    assert len(verify_dossier(dossier, [verifier]).events) == 2
    after = thread.open(ledger_url, clock=clock, keyring=Keyring(tmp_path / "keys"))
    assert audit(after, verifier_keys=[verifier]).ok
    assert after.history("SN-2")[1].fact.operator == ERASED  # type: ignore[attr-defined]
    assert after.history("SN-1")[1].fact.operator == ERASED  # type: ignore[attr-defined]
    assert device_history_record(after, "SN-1").operations[0].operator == ERASED
    after.close()


def test_a_labelled_subject_is_not_written_without_its_label_s_key(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """A writer whose keyring lacks the ITAR:XI key cannot record on SN-1 (nothing is
    written); the uncontrolled part takes the write."""
    _plant(ledger_url, clock, _ring(tmp_path)).close()
    other = thread.open(ledger_url, clock=clock, keyring=Keyring(tmp_path / "other"))
    before = other.count()
    with pytest.raises(KeyMissing, match="holds none for ITAR:XI"):
        other.record(f.Quarantined(serial="SN-1", reason="check"))
    assert other.count() == before
    other.record(f.Quarantined(serial="SN-2", reason="check"))
    other.close()
