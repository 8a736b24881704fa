"""Signed checkpoints of the ledger's log: C2SP notes, never inconsistent, automatic."""

from __future__ import annotations

import time

import pytest
from conftest import bearing, drop_append_only_triggers, raw_sql, released_bearing

import thread
from thread.log.checkpoint import generate_signer
from thread.log.verify import verify_checkpoint, verify_consistency


def test_checkpoint_is_a_signed_c2sp_note_of_the_tree_head(ledger: thread.Ledger) -> None:
    """The note verifies with the verifier key and states the log's size and root."""
    signer, verifier = generate_signer("plant-7")
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    note = ledger.checkpoint(signer)
    checkpoint = verify_checkpoint(note, verifier, origin=ledger.origin)
    assert (checkpoint.size, checkpoint.root) == ledger.tree_head()
    assert note.startswith(f"{ledger.origin}\n2\n")
    assert "\n\n\u2014 plant-7 " in note
    assert ledger.checkpoint(signer) == note  # nothing new: the same checkpoint
    ledger.record(bearing("SN-2"))
    later = verify_checkpoint(ledger.checkpoint(signer), verifier)
    verify_consistency(checkpoint.size, later.size, checkpoint.root, later.root,
                       ledger.consistency_proof(checkpoint.size, later.size))
    assert [size for size, _ in ledger.checkpoints()] == [2, 3]


def test_never_signs_a_head_inconsistent_with_the_last_checkpoint(ledger: thread.Ledger,
                                                                  ledger_url: str) -> None:
    """After the log is cut back behind the ledger's back, it refuses to sign."""
    signer, _ = generate_signer("plant-7")
    ledger.record(released_bearing())
    for number in range(4):
        ledger.record(bearing(f"SN-{number}"))
    ledger.checkpoint(signer)
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "DELETE FROM ledger_leaves WHERE position >= 3")
    raw_sql(ledger_url, "DELETE FROM ledger_nodes WHERE idx * (1 << level) + (1 << level) > 3")
    reopened = thread.open(ledger_url)
    with pytest.raises(thread.IntegrityFailure, match="refusing to sign tree size 3"):
        reopened.checkpoint(signer)
    reopened.close()


def test_automatic_checkpoint_every_n_events(ledger_url: str) -> None:
    """With checkpoint_every=N a checkpoint is signed once N new events are in the log."""
    signer, verifier = generate_signer("auto")
    ledger = thread.open(ledger_url, checkpoint_key=signer, checkpoint_every=5)
    ledger.record(released_bearing())
    for number in range(11):
        ledger.record(bearing(f"SN-{number}"))
    sizes = [size for size, _ in ledger.checkpoints()]
    assert sizes == [5, 10]
    for _, note in ledger.checkpoints():
        verify_checkpoint(note, verifier)
    ledger.close()


def test_automatic_checkpoint_covers_a_commit_within_a_second(ledger_url: str) -> None:
    """With checkpoint_seconds, a commit is covered by a signed checkpoint soon after."""
    signer, _ = generate_signer("auto")
    ledger = thread.open(ledger_url, checkpoint_key=signer, checkpoint_seconds=0.4)
    ledger.record(released_bearing())
    committed = time.monotonic()
    while time.monotonic() - committed < 5:
        if any(size >= 1 for size, _ in ledger.checkpoints()):
            break
        time.sleep(0.02)
    assert time.monotonic() - committed < 1.5
    assert ledger.checkpoints()[-1][0] == 1
    ledger.close()
