"""The global Merkle log as the stores keep it: one leaf per event in commit order, proofs."""

from __future__ import annotations

import pytest
from conftest import bearing, inspection, released_bearing

import thread
from thread.log.merkle import leaf_hash, root
from thread.log.verify import verify_consistency, verify_inclusion


def _fill(ledger: thread.Ledger, parts: int) -> None:
    ledger.record(released_bearing())
    for start in range(0, parts, 7):  # batches of uneven size exercise every tree shape
        with ledger.batch() as batch:
            for number in range(start, min(start + 7, parts)):
                batch.record(bearing(f"SN-{number}"))
                batch.record(inspection(f"SN-{number}"))


def test_every_event_is_a_leaf_in_commit_order(ledger: thread.Ledger) -> None:
    """Leaf i is SHA-256(0x00 || canonical bytes) of the i-th committed event."""
    _fill(ledger, 23)
    events = [event for _, event in ledger.scan()]
    size, head = ledger.tree_head()
    assert size == len(events) == 47
    assert head == root([leaf_hash(event.canonical) for event in events])
    leaves = ledger.store.select_leaves(0, 1000)
    assert [position for position, _, _ in leaves] == list(range(47))
    assert [notification for _, notification, _ in leaves] == [n for n, _ in ledger.scan()]


def test_inclusion_proofs_verify_for_every_event(ledger: thread.Ledger) -> None:
    """Each event's proof from the stored subtrees verifies against the tree head."""
    _fill(ledger, 12)
    size, head = ledger.tree_head()
    for serial in ledger.parts():
        for event in ledger.history(serial):
            proof = ledger.inclusion_proof("part", serial, event.originator_version)
            assert proof.leaf_hash == leaf_hash(event.canonical)
            assert (proof.tree_size, proof.root) == (size, head)
            verify_inclusion(proof.leaf_hash, proof.index, size, proof.path, head)


def test_consistency_proofs_link_every_earlier_head(ledger: thread.Ledger) -> None:
    """A tree head taken earlier is a prefix of every later one, provably."""
    heads = []
    ledger.record(released_bearing())
    for number in range(9):
        with ledger.batch() as batch:
            batch.record(bearing(f"SN-{number}"))
            for _ in range(number % 3):
                batch.record(inspection(f"SN-{number}"))
        heads.append(ledger.tree_head())
    for size1, root1 in heads:
        for size2, root2 in heads:
            if size1 <= size2:
                verify_consistency(size1, size2, root1, root2,
                                   ledger.consistency_proof(size1, size2))


def test_proof_for_an_older_tree_size(ledger: thread.Ledger) -> None:
    """An event can be proven against a checkpoint taken before later events."""
    _fill(ledger, 5)
    old_size, old_root = ledger.tree_head()
    _fill_more = [bearing(f"LATE-{n}") for n in range(6)]
    for fact in _fill_more:
        ledger.record(fact)
    proof = ledger.inclusion_proof("part", "SN-2", 2, size=old_size)
    verify_inclusion(proof.leaf_hash, proof.index, old_size, proof.path, old_root)
    with pytest.raises(thread.LedgerError, match="not inside a tree"):
        ledger.inclusion_proof("part", "LATE-5", 1, size=old_size)


def test_two_writers_share_one_tree(ledger_url: str) -> None:
    """Writers that interleave keep one tree: each reloads the edge the other moved."""
    first, second = thread.open(ledger_url), thread.open(ledger_url)
    first.record(released_bearing())
    for number in range(10):
        (first if number % 2 else second).record(bearing(f"SN-{number}"))
    events = [event for _, event in first.scan()]
    assert first.tree_head() == (len(events), root([leaf_hash(e.canonical) for e in events]))
    first.close()
    second.close()
