"""Whether a log still extends the tree read models were built on, decided by proofs alone."""

from __future__ import annotations

import hashlib

from thread.domain.facts.base import SubjectKind
from thread.log.merkle import MemoryTree, consistency_proof, leaf_hash
from thread.read.basis import EMPTY, Head, departure
from thread.read.source import Inclusion


class Log:
    """A log's tree in memory, lending its head and proofs as the ledger does."""

    def __init__(self, events: list[bytes]) -> None:
        self.tree = MemoryTree(leaf_hash(event) for event in events)

    def head(self, size: int | None = None) -> Head:
        size = self.tree.size if size is None else size
        return Head(size, self.tree.root(size))

    def tree_head(self) -> tuple[int, bytes]:
        return self.tree.size, self.tree.root()

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return consistency_proof(size1, size2, self.tree.subtree)

    def inclusion_proof(self, kind: SubjectKind, key: str, version: int,
                        size: int | None = None) -> Inclusion:
        raise NotImplementedError


def events(*names: str) -> list[bytes]:
    """Distinct event bytes."""
    return [hashlib.sha256(name.encode()).digest() for name in names]


OLD = events(*(f"e{i}" for i in range(11)))


def test_a_longer_log_with_the_same_start_extends_it() -> None:
    """Events appended after the read models' size: no departure, at any size."""
    log = Log([*OLD, *events("f1", "f2", "f3")])
    for size in range(1, 12):
        assert departure(log, Log(OLD[:size]).head(), log.head()) is None
    assert departure(log, EMPTY, log.head()) is None
    assert departure(log, Log(OLD).head(), Log(OLD).head()) is None


def test_a_shorter_log_does_not() -> None:
    """A cut tail or an older copy restored: fewer events than the read models read."""
    log = Log(OLD[:5])
    why = departure(log, Log(OLD).head(), log.head())
    assert why is not None and why.startswith("the log holds 5 events, fewer than the 11 events")


def test_other_events_at_the_same_size_do_not() -> None:
    """Restored and written back to exactly the old size: the roots differ."""
    log = Log([*OLD[:5], *events(*(f"x{i}" for i in range(6)))])
    why = departure(log, Log(OLD).head(), log.head())
    assert why is not None and "have root" in why


def test_other_events_past_the_old_size_do_not() -> None:
    """Restored and written past the old size: the consistency proof fails."""
    log = Log([*OLD[:5], *events(*(f"x{i}" for i in range(20)))])
    why = departure(log, Log(OLD).head(), log.head())
    assert why is not None and why.startswith("the log of 25 events")
    assert "does not extend the 11 events" in why
