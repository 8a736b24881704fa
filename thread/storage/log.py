"""The global Merkle log as stored: leaves in commit order and every perfect subtree.

Appending keeps the compact range in memory between commits and only asks
the store for it again when another writer has appended since, so a commit
costs O(log n) hashes and reads however large the ledger is. Storing every
perfect subtree lets any inclusion or consistency proof be served with about
2 log2 n lookups and no rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

from thread.errors import IntegrityFailure
from thread.log.merkle import CompactRange, Subtree, SubtreeHash, root

#: Subtrees below this level are not stored but hashed from their at most 2**(FLOOR-1)
#: leaves when a proof needs them: it cuts the rows an append writes from two per event
#: to about one, for a few more leaf reads per proof.
NODE_FLOOR = 4

LEAVES_TABLE = "ledger_leaves"
NODES_TABLE = "ledger_nodes"
CHECKPOINTS_TABLE = "ledger_checkpoints"
#: The subject map (thread.log.subject_map): the heads that changed at each checkpoint's
#: size, and the stored subtrees that changed with them.
MAP_HEADS_TABLE = "ledger_map_heads"
MAP_NODES_TABLE = "ledger_map_nodes"


class TreeLog:
    """The writer's view of the tree: the compact range after its last commit."""

    def __init__(self) -> None:
        self._committed: CompactRange | None = None

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
        """Drop the cached range (after a failed commit, for example)."""
        self._committed = None


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
