"""The global Merkle log as stored: leaves in commit order and every perfect subtree.

Appending keeps the compact range in memory between commits and only asks
the store for it again when another writer has appended since, so a commit
costs O(log n) hashes and reads however large the ledger is. Storing every
perfect subtree lets any inclusion or consistency proof be served with about
2 log2 n lookups and no rebuild.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from uuid import UUID

from thread.errors import IntegrityFailure
from thread.log.merkle import CompactRange, Subtree, SubtreeHash, root

#: Subtrees below this level are not stored but hashed from their at most 2**(FLOOR-1)
#: leaves when a proof needs them: it cuts the rows an append writes from two per event
#: to about one, for a few more leaf reads per proof.
NODE_FLOOR = 4

T = TypeVar("T")

LEAVES_TABLE = "ledger_leaves"
NODES_TABLE = "ledger_nodes"
CHECKPOINTS_TABLE = "ledger_checkpoints"
#: The subject map (thread.log.subject_map): the heads that changed at each checkpoint's
#: size, and the stored subtrees that changed with them.
MAP_HEADS_TABLE = "ledger_map_heads"
MAP_NODES_TABLE = "ledger_map_nodes"


#: A writer stops keeping the heads that moved since the last checkpoint beyond this many
#: subjects (the next checkpoint then reads them from the log instead).
MOVED_LIMIT = 500_000


class TreeLog:
    """The writer's view of the tree: the compact range after its last commit, and the
    subjects' heads its commits moved since a checkpoint (for the subject map)."""

    def __init__(self) -> None:
        self._committed: CompactRange | None = None
        self._moved: dict[bytes, tuple[int, bytes]] | None = None
        self._moved_from = self._moved_to = -1

    def appended(self, size: int, originators: Sequence[tuple[bytes, int]],
                 leaves: Sequence[bytes]) -> None:
        """A commit (joining the transaction that wrote it) appended ``leaves`` at ``size``,
        one per (aggregate id, version)."""
        moved = self._moved
        if moved is None:
            return
        if size != self._moved_to or len(moved) > MOVED_LIMIT:
            self._moved = None  # another writer appended in between, or too many to keep
            return
        for (originator, version), leaf in zip(originators, leaves, strict=True):
            moved[originator] = (version, leaf)
        self._moved_to = size + len(leaves)

    def moved(self, start: int, end: int) -> dict[bytes, tuple[int, bytes]] | None:
        """Each aggregate's latest (version, leaf) appended from ``start`` to ``end``, if this
        writer appended all of them; else None."""
        if self._moved is None or (self._moved_from, self._moved_to) != (start, end):
            return None
        return self._moved

    def mapped(self, size: int) -> None:
        """A checkpoint mapped the first ``size`` leaves: keep what moves from there."""
        self._moved = {}
        self._moved_from = self._moved_to = size

    def extend(
        self, size: int, subtree: SubtreeHash, leaves: Sequence[bytes]
    ) -> tuple[CompactRange, list[Subtree]]:
        """The tree after appending ``leaves`` to the stored tree of ``size`` leaves,
        and the perfect subtrees (leaves included) that the append completes."""
        base = self._committed
        if base is None or base.size != size:
            base = CompactRange.from_subtrees(size, subtree)
        working = CompactRange.from_bytes(base.to_bytes())  # untouched if the commit fails
        return working, working.extend(leaves, from_level=NODE_FLOOR)

    def committed(self, tree: CompactRange) -> None:
        """Remember the tree a successful commit left behind."""
        self._committed = tree

    def forget(self) -> None:
        """Drop the cached range and moved heads (after a failed commit, for example)."""
        self._committed = None
        self._moved = None


def originator_bytes(originator_id: UUID | str) -> bytes:
    """An aggregate id's 16 bytes, given as a UUID or as its text (hex, as SQLite keeps it)."""
    if isinstance(originator_id, UUID):
        return originator_id.bytes
    try:
        return bytes.fromhex(originator_id)
    except ValueError:
        return UUID(originator_id).bytes


def leaf_rows(
    size: int, ids: Sequence[int], leaves: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """Rows of the leaves table: position, notification id, leaf hash."""
    return [(size + offset, ids[offset], leaf) for offset, leaf in enumerate(leaves)]


def node_rows(completed: Sequence[Subtree]) -> list[tuple[int, int, bytes]]:
    """Rows of the nodes table: level, index, hash of every completed subtree that is stored."""
    return [(node.level, node.index, node.hash) for node in completed if node.level >= NODE_FLOOR]


def stored_as_node(level: int) -> bool:
    """Whether subtrees at ``level`` have rows of their own (else they come from leaves)."""
    return level >= NODE_FLOOR


def from_leaves(level: int, index: int, leaves: list[bytes]) -> bytes:
    """A subtree below the floor, from its leaf hashes; refuses a range with leaves missing."""
    if len(leaves) != 1 << level:
        raise missing_subtree(level, index)
    return root(leaves)


def missing_subtree(level: int, index: int) -> IntegrityFailure:
    """The error for a subtree the log should hold and does not."""
    return IntegrityFailure(
        f"the Merkle log has no stored subtree at level {level}, index {index}; "
        f"its tables were changed"
    )


def with_subtrees(compute: Callable[[SubtreeHash], T],
                  select: Callable[[list[tuple[int, int]]], Mapping[tuple[int, int], bytes]]
                  ) -> T:
    """Run a proof computation with every stored subtree it needs read in one go.

    Which subtrees a proof needs depends only on positions and sizes, so a dry run
    lists them; one bulk read (``select``) then serves the real run.
    """
    wanted: list[tuple[int, int]] = []

    def note(level: int, index: int) -> bytes:
        wanted.append((level, index))
        return bytes(32)

    compute(note)
    known = select(wanted)

    def stored(level: int, index: int) -> bytes:
        try:
            return known[(level, index)]
        except KeyError:
            raise missing_subtree(level, index) from None

    return compute(stored)
