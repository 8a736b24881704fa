"""`thread verify`: a clean ledger verifies; a changed one is reported at its first bad event."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import (
    bearing,
    drop_append_only_triggers,
    inspection,
    raw_sql,
    released_bearing,
    stored_bytes,
)

import thread
from thread.cli import main
from thread.log.audit import audit
from thread.log.checkpoint import generate_signer


@pytest.fixture
def signed(ledger: thread.Ledger) -> tuple[thread.Ledger, str, str]:
    """A small ledger with a signed checkpoint: (ledger, signer key, verifier key)."""
    signer, verifier = generate_signer("plant-7")
    ledger.record(released_bearing())
    for number in range(6):
        with ledger.batch() as batch:
            batch.record(bearing(f"SN-{number}"))
            batch.record(inspection(f"SN-{number}"))
    ledger.checkpoint(signer)
    return ledger, signer, verifier


def test_clean_ledger_verifies(signed: tuple[thread.Ledger, str, str]) -> None:
    """Every chain, leaf, tree head and signed checkpoint of an untouched ledger holds."""
    ledger, _, verifier = signed
    report = audit(ledger, verifier_keys=[verifier])
    assert report.ok, [finding.describe() for finding in report.findings]
    assert (report.events, report.aggregates, report.tree_size) == (13, 7, 13)
    assert report.root == ledger.tree_head()[1]
    assert report.signatures_checked == 1


def test_edited_payload_is_named_by_position_subject_and_version(
    signed: tuple[thread.Ledger, str, str], ledger_url: str
) -> None:
    """One flipped byte in one stored event is reported at that event."""
    _, _, verifier = signed
    drop_append_only_triggers(ledger_url)
    rows = raw_sql(ledger_url, "SELECT originator_id, state FROM ledger_events "
                               "WHERE topic = 'quality.inspection-recorded' "
                               "AND originator_version = 2")
    originator, state = rows[2]
    edited = bytearray(stored_bytes(state))
    edited[-2] ^= 0x01
    raw_sql(ledger_url, "UPDATE ledger_events SET state = ? WHERE originator_id = ? "
                        "AND originator_version = 2", (bytes(edited), originator))
    report = audit(thread.open(ledger_url), verifier_keys=[verifier])
    first = report.first
    assert first is not None
    assert (first.position, first.subject, first.version) == (6, "part SN-2", 2)
    assert "event edited" in first.what


def test_checkpoint_signed_by_an_untrusted_key_fails(
    signed: tuple[thread.Ledger, str, str],
) -> None:
    """--vkey pins the signer: a checkpoint another key signed is reported."""
    ledger, _, _ = signed
    _, stranger = generate_signer("plant-7")
    report = audit(ledger, verifier_keys=[stranger])
    assert not report.ok
    assert "does not verify" in report.findings[0].what


def test_cli_verify_exit_status_and_report(signed: tuple[thread.Ledger, str, str],
                                           ledger_url: str, tmp_path: Path) -> None:
    """`thread verify` exits 0 on a clean ledger and 1 with the first bad event otherwise."""
    _, _, verifier = signed
    runner = CliRunner()
    clean = runner.invoke(main, ["--db", ledger_url, "verify", "--vkey", verifier])
    assert clean.exit_code == 0, clean.output
    assert "verified: 13 events in 7 chains" in clean.output
    drop_append_only_triggers(ledger_url)
    victim = raw_sql(ledger_url, "SELECT originator_id FROM ledger_events "
                                 "WHERE topic = 'quality.inspection-recorded'")[3][0]
    raw_sql(ledger_url, "DELETE FROM ledger_events WHERE originator_id = ? "
                        "AND topic = 'quality.inspection-recorded'", (victim,))
    broken = runner.invoke(main, ["--db", ledger_url, "verify", "--vkey", verifier, "--json"])
    assert broken.exit_code == 1
    assert '"ok": false' in broken.output
