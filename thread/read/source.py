"""What the read side needs from the event store: a small typed protocol, nothing more.

Positions are the log's own numbering: the RFC 6962 leaf index of each event,
from 0, as ``thread verify``, inclusion proofs, records and dossiers use it. A
projection that has read ``n`` events of the log stands at log size ``n``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from thread.domain.facts.base import SubjectKind

#: A page of the log: (leaf index, canonical bytes), in log order.
Page = list[tuple[int, bytes]]


class EventLog(Protocol):
    """The event store as projections and queries read it."""

    def size(self) -> int:
        """How many events (leaves) the log holds."""
        ...

    def origin(self) -> str | None:
        """The log's name (its checkpoints' origin), None for a log that has none yet."""
        ...

    def pages(self, start: int, size: int, topics: Sequence[str] = ()) -> Iterator[Page]:
        """The log from leaf ``start`` on, ``size`` leaves a page (only ``topics``, if given)."""
        ...

    def canonical_of(self, kind: str, key: str) -> dict[int, bytes]:
        """A subject's stored events by version, as canonical bytes (chain not checked)."""
        ...

    def exists(self, kind: str, key: str) -> bool:
        """Whether the subject has any event in the log."""
        ...


class Inclusion(Protocol):
    """Proof that an event is leaf ``index`` of the tree of ``tree_size`` leaves."""

    @property
    def index(self) -> int: ...
    @property
    def tree_size(self) -> int: ...
    @property
    def leaf_hash(self) -> bytes: ...
    @property
    def path(self) -> list[bytes]: ...
    @property
    def root(self) -> bytes: ...


class LogTree(Protocol):
    """The log's Merkle tree as the read side checks it: its head and its proofs.

    Read models keep the size and root of the tree they were built against and
    check, with a consistency proof, that the log still extends it; a verified
    story proves each event it shows at its position with an inclusion proof.
    """

    def tree_head(self) -> tuple[int, bytes]:
        """The size and RFC 6962 root of the log now."""
        ...

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """Proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2``."""
        ...

    def inclusion_proof(self, kind: SubjectKind, key: str, version: int,
                        size: int | None = None) -> Inclusion:
        """Where a subject's event at ``version`` is in the tree of ``size`` leaves, proved."""
        ...
