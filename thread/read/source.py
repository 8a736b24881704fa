"""What the read side needs from the event store: a small typed protocol, nothing more.

Positions are the log's own numbering: the RFC 6962 leaf index of each event,
from 0, as ``thread verify``, inclusion proofs, records and dossiers use it. A
projection that has read ``n`` events of the log stands at log size ``n``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

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
