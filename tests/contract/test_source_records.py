"""Source records (``ledger_sources``) are believed only together with the event they name.

An insider who forges, deletes or alters a row of the idempotency table must
not make the ledger drop a real fact, record one twice unnoticed or report a
forged hash: a re-send matched by a row whose event does not bear it out is
refused in one line naming the row, and ``thread verify`` names every such row.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from conftest import (
    bearing,
    drop_append_only_triggers,
    inspection,
    raw_sql,
    released_bearing,
    row_counts,
)

import thread
from thread import facts as f
from thread.domain.chain import aggregate_id
from thread.log.audit import AuditReport, audit

SERIAL = "BRG-000002"
KEY = "CMM-9/BRG-000002/1"
#: Log positions in the seeded ledger: the design, the registration, the failed inspection.
REGISTRATION, INSPECTION = 1, 2


def _postgres(url: str) -> bool:
    return url.startswith("postgresql://")


def _aggregate(url: str, ident: UUID) -> object:
    """An aggregate id as the backend stores it (hex text in SQLite, uuid in PostgreSQL)."""
    return ident if _postgres(url) else ident.hex


def _failed_bore() -> f.InspectionRecorded:
    return inspection(SERIAL, 20.004, "fail")


def _seed(ledger: thread.Ledger) -> thread.Receipt:
    """The design, the part registered from the MES, its failing CMM result; that receipt."""
    ledger.record(released_bearing())
    ledger.record(bearing(SERIAL), source="mes", source_record_id=f"register-{SERIAL}")
    return ledger.record(_failed_bore(), source="cmm", source_record_id=KEY)


def _verified(url: str) -> AuditReport:
    """Audit the ledger afresh from its stored rows."""
    ledger = thread.open(url)
    try:
        return audit(ledger)
    finally:
        ledger.close()


def _findings(url: str) -> list[str]:
    return [finding.describe() for finding in _verified(url).findings]


def _row(record: str = KEY) -> str:
    return f"the ledger_sources row of source 'cmm', record {record!r}"


def _refused(ledger: thread.Ledger, url: str) -> str:
    """Re-send the failing CMM result; it must be refused with nothing written. The message."""
    before = row_counts(url)
    with pytest.raises(thread.IntegrityFailure) as refused:
        ledger.record(_failed_bore(), source="cmm", source_record_id=KEY)
    assert row_counts(url) == before
    message = str(refused.value)
    assert "\n" not in message and message.startswith(_row()), message
    assert message.endswith("nothing was written (thread verify lists every such row)"), message
    return message


def test_honest_re_sends_verify_and_return_the_first_receipt(ledger: thread.Ledger,
                                                              ledger_url: str) -> None:
    """Re-sent records (main event, signed, with effects on another part) are duplicates."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    first = _seed(ledger)
    assert ledger.record(_failed_bore(), source="cmm", source_record_id=KEY) == thread.Receipt(
        first.kind, first.key, first.version, first.hash, duplicate=True)
    ledger.record(f.PartRegistered(serial="ASM-1", part_number="ASM", revision="A",
                                   undocumented=True), source="mes", source_record_id="asm")
    installed = f.ComponentInstalled(serial="ASM-1", component=SERIAL)
    signer = thread.Signer("qe-4", "Dana Quality", Ed25519PrivateKey.generate())
    receipts = [ledger.record(installed, source="mes", source_record_id="install-1", sign=signer)
                for _ in range(2)]
    assert receipts[1] == thread.Receipt("part", "ASM-1", receipts[0].version, receipts[0].hash,
                                         duplicate=True)
    assert row_counts(ledger_url) == (7, 4)  # install, its signature, the part's installed-into
    assert _findings(ledger_url) == []


def test_forged_row_naming_no_event_is_refused_and_reported(ledger: thread.Ledger,
                                                            ledger_url: str) -> None:
    """A row inserted ahead of the real result (triggers intact) never makes it a duplicate."""
    ledger.record(released_bearing())
    ledger.record(bearing(SERIAL))
    nil = UUID(int=0)
    raw_sql(ledger_url, "INSERT INTO ledger_sources VALUES (?, ?, ?, ?, ?)",
            ("cmm", KEY, _aggregate(ledger_url, nil), 1, b"\x00"))
    problem = f"names aggregate {nil} version 1, which is not in the ledger"
    assert _refused(ledger, ledger_url).startswith(f"{_row()} {problem}")
    assert _findings(ledger_url) == [
        f"the log: {_row()} {problem}: the row was forged or altered"]


def test_forged_row_naming_another_event_is_refused_and_reported(ledger: thread.Ledger,
                                                                 ledger_url: str) -> None:
    """A forged row naming a real event (with its real hash) that does not carry the key."""
    ledger.record(released_bearing())
    registered = ledger.record(bearing(SERIAL), source="mes",
                               source_record_id=f"register-{SERIAL}")
    raw_sql(ledger_url, "INSERT INTO ledger_sources VALUES (?, ?, ?, ?, ?)",
            ("cmm", KEY, _aggregate(ledger_url, aggregate_id("part", SERIAL)), 1,
             bytes.fromhex(registered.hash)))
    problem = (f"names part {SERIAL} version 1, which carries source 'mes', record "
               f"'register-{SERIAL}', not this one")
    assert _refused(ledger, ledger_url).startswith(f"{_row()} {problem}")
    assert _findings(ledger_url) == [
        f"log position {REGISTRATION}: {_row()} {problem}: the row was forged or altered"]


def test_deleted_row_is_reported_and_so_is_the_duplicate_it_let_in(ledger: thread.Ledger,
                                                                   ledger_url: str) -> None:
    """Without its row an event is reported; a re-send that lands twice is reported too."""
    first = _seed(ledger)
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "DELETE FROM ledger_sources WHERE source = 'cmm'")
    where = f"log position {INSPECTION}, part {SERIAL}, version {first.version}"
    assert _findings(ledger_url) == [
        f"{where}: carries source 'cmm', record {KEY!r}, but the ledger_sources row for it is "
        "missing: deleted, so a re-send of the record would be recorded again"]
    again = ledger.record(_failed_bore(), source="cmm", source_record_id=KEY)
    assert (again.version, again.duplicate) == (first.version + 1, False)
    assert _findings(ledger_url) == [
        f"{where}: carries source 'cmm', record {KEY!r} and is the first event that does, but "
        f"{_row()} names part {SERIAL} version {again.version}, a later one: the row was "
        "altered, or deleted and the record recorded again"]


def test_altered_hash_is_refused_and_reported(ledger: thread.Ledger, ledger_url: str) -> None:
    """A row whose hash was changed never reaches a receipt: the re-send is refused."""
    first = _seed(ledger)
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "UPDATE ledger_sources SET event_hash = ? WHERE record_id = ?",
            (bytes(32), KEY))
    problem = (f"gives {'0' * 16} as the hash of part {SERIAL} version {first.version}, "
               f"whose hash is {first.hash[:16]}: the row was altered")
    assert _refused(ledger, ledger_url).startswith(f"{_row()} {problem}")
    assert _findings(ledger_url) == [f"log position {INSPECTION}: {_row()} {problem}"]


def test_row_altered_to_name_another_event_is_refused_and_reported(ledger: thread.Ledger,
                                                                   ledger_url: str) -> None:
    """A row moved to another event of the part (hash and all) is refused and reported."""
    first = _seed(ledger)
    registered = ledger.history(SERIAL)[0]
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "UPDATE ledger_sources SET originator_version = 1, event_hash = ? "
                        "WHERE record_id = ?", (registered.hash, KEY))
    problem = (f"names part {SERIAL} version 1, which carries source 'mes', record "
               f"'register-{SERIAL}', not this one")
    assert _refused(ledger, ledger_url).startswith(f"{_row()} {problem}")
    assert _findings(ledger_url) == [
        f"log position {REGISTRATION}: {_row()} {problem}: the row was forged or altered"]
    assert ledger.history(SERIAL)[-1].hash.hex() == first.hash  # the result is still there


def test_row_moved_to_a_later_event_of_its_record_is_reported(ledger: thread.Ledger,
                                                             ledger_url: str) -> None:
    """A row moved (hash and all) from an installation to the effect it had on the component
    carries the key, so it passes as a row; the installation it was taken from names it."""
    _seed(ledger)
    ledger.record(f.PartRegistered(serial="ASM-1", part_number="ASM", revision="A",
                                   undocumented=True))
    installed = ledger.record(f.ComponentInstalled(serial="ASM-1", component=SERIAL),
                              source="mes", source_record_id="install-1")
    effect = ledger.history(SERIAL)[-1]
    assert effect.source_record_id == "install-1"
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "UPDATE ledger_sources SET originator_id = ?, originator_version = ?, "
                        "event_hash = ? WHERE record_id = 'install-1'",
            (_aggregate(ledger_url, effect.originator_id), effect.originator_version,
             effect.hash))
    assert _findings(ledger_url) == [
        f"log position 4, part ASM-1, version {installed.version}: carries source 'mes', "
        "record 'install-1' and is the first event that does, but the ledger_sources row of "
        f"source 'mes', record 'install-1' names part {SERIAL} version "
        f"{effect.originator_version}, committed after it: the row was altered, or deleted "
        "and the record recorded again"]
