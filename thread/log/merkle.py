"""The global log's Merkle tree (RFC 6962 / RFC 9162): hashing, accumulation and proofs.

Pure functions over hashes. Proofs are produced from one primitive, the hash
of a perfect subtree, ``subtree(level, index)``: the root of the leaves
``[index * 2**level, (index + 1) * 2**level)``. A store that keeps those
hashes (every :meth:`CompactRange.append` reports the ones it completes) can
therefore serve every proof for every past tree size without a rebuild.

This module imports only the standard library and :mod:`thread.errors`, so
that an auditor can run it without the ledger or any database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from thread.errors import IntegrityFailure

#: Length of every hash in the tree (SHA-256).
HASH_SIZE = 32

#: MTH of the empty tree: SHA-256 of no bytes.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_SIZE_BYTES = 8

#: ``subtree(level, index)`` -> root of the perfect subtree of ``2**level`` leaves
#: starting at leaf ``index * 2**level``.
SubtreeHash = Callable[[int, int], bytes]


class ProofError(IntegrityFailure):
    """A Merkle proof cannot be produced or does not verify: says which check failed."""


# Not frozen: appending makes one per leaf and per completed node, and a
# frozen dataclass is about three times slower to construct.
@dataclass(slots=True)
class Subtree:
    """A perfect subtree: ``2**level`` leaves starting at leaf ``index * 2**level``."""

    level: int
    index: int
    hash: bytes


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _pair_up(level: list[bytes]) -> list[bytes]:
    """The next level up: one parent per complete pair; an odd last node is left out."""
    sha256 = hashlib.sha256  # a local name: this loop is the hot path of root()
    return [
        sha256(_NODE_PREFIX + left + right).digest()
        for left, right in zip(level[0::2], level[1::2], strict=False)
    ]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 section 2.1 over the given leaf hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    # Pairing level by level and carrying an odd last node up unchanged builds
    # exactly the tree of RFC 6962's "largest power of two smaller than n"
    # split, with one list comprehension per level instead of a Python loop
    # iteration per leaf.
    level = list(leaf_hashes)
    while len(level) > 1:
        parents = _pair_up(level)
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return level[0]


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Hash perfect-subtree roots, largest first, together as MTH joins a right edge."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 6962: the largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _pieces(start: int, size: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` tiling leaves ``[start, start + size)``.

    One per set bit of ``size``, largest first. Every range RFC 6962's
    recursion visits starts at a multiple of its largest piece, so each piece
    is aligned and is a real node of the tree.
    """
    pieces = []
    position = start
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            pieces.append((level, position >> level))
            position += 1 << level
    return pieces


def _range_hash(start: int, size: int, subtree: SubtreeHash) -> bytes:
    """MTH of leaves ``[start, start + size)``: its perfect pieces hashed together as MTH would."""
    return _fold_right([subtree(level, index) for level, index in _pieces(start, size)])


def tree_root(size: int, subtree: SubtreeHash) -> bytes:
    """MTH of the first ``size`` leaves, from perfect-subtree hashes only."""
    if size < 0:
        raise ProofError(f"a tree cannot have {size} leaves")
    return EMPTY_ROOT if size == 0 else _range_hash(0, size, subtree)


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """PATH(index, D[size]) of RFC 6962 section 2.1.1: the audit path, leaf's sibling first."""
    if not 0 <= index < size:
        raise ProofError(
            f"no inclusion proof for leaf {index} in a tree of {size} leaves: "
            "the index must be at least 0 and below the tree size"
        )
    path = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        middle = start + k
        if index < middle:
            path.append(_range_hash(middle, end - middle, subtree))
            end = middle
        else:
            path.append(_range_hash(start, k, subtree))
            start = middle
    path.reverse()  # collected root-down; RFC 6962 lists it leaf-up
    return path


def consistency_proof(size1: int, size2: int, subtree: SubtreeHash) -> list[bytes]:
    """PROOF(size1, D[size2]) of RFC 6962 section 2.1.2, empty when the sizes are equal."""
    if not 0 < size1 <= size2:
        raise ProofError(
            f"no consistency proof from a tree of {size1} leaves to one of {size2}: "
            "the old size must be at least 1 and not above the new size"
        )
    proof = []
    start, end = 0, size2
    # SUBPROOF's flag b: true while the old tree is still the left edge of the
    # range, where the verifier already knows its hash (the old root).
    whole_old_tree = True
    while size1 - start != end - start:
        k = _largest_power_of_two_below(end - start)
        if size1 - start <= k:
            proof.append(_range_hash(start + k, end - start - k, subtree))
            end = start + k
        else:
            proof.append(_range_hash(start, k, subtree))
            start += k
            whole_old_tree = False
    if not whole_old_tree:
        proof.append(_range_hash(start, end - start, subtree))
    proof.reverse()
    return proof


class CompactRange:
    """An incremental accumulator of leaf hashes: O(log n) per append, root at any time.

    It keeps one hash per set bit of the size: the roots of the perfect
    subtrees that tile ``[0, size)``, largest first.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect-subtree roots tiling ``[0, size)``, largest first."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[Subtree]:
        """Add one leaf hash; returns the perfect subtrees above the leaves it completes."""
        _check_hash(leaf, "leaf hash")
        index = self._size
        completed: list[Subtree] = []
        hashes = self._hashes
        node = leaf
        level = 0
        # While the new node is a right child (its index is odd), its left
        # sibling is the smallest subtree waiting in the range: join them.
        while index & 1:
            node = hashlib.sha256(_NODE_PREFIX + hashes.pop() + node).digest()
            index >>= 1
            level += 1
            completed.append(Subtree(level, index, node))
        hashes.append(node)
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes], *, from_level: int = 1) -> list[Subtree]:
        """Add leaf hashes in order; returns every perfect subtree at ``from_level`` or above
        that they complete, by level (a store that keeps only high levels asks for those)."""
        nodes = list(leaves)
        for offset, leaf in enumerate(nodes):
            if len(leaf) != HASH_SIZE:
                _check_hash(leaf, f"leaf hash {offset} of the batch")
        count = len(nodes)
        # One level at a time, as root() does, rather than one leaf at a time:
        # the new nodes at a level start at index ``size >> level``.
        index = self._size
        level = 0
        completed: list[Subtree] = []  # the leaves themselves are the caller's already
        hashes = self._hashes
        waiting: list[bytes] = []  # new unpaired nodes, lowest level first
        while nodes:
            if index & 1:
                # The first new node is a right child; its left sibling is the
                # smallest subtree already in the range.
                nodes = [hashes.pop(), *nodes]
                index -= 1
            if len(nodes) & 1:
                waiting.append(nodes.pop())
            nodes = _pair_up(nodes)
            index >>= 1
            level += 1
            if level >= from_level:
                completed.extend(
                    Subtree(level, index + offset, node) for offset, node in enumerate(nodes)
                )
        hashes.extend(reversed(waiting))
        self._size += count
        return completed

    def root(self) -> bytes:
        """MTH of all leaves appended so far."""
        return _fold_right(self._hashes) if self._hashes else EMPTY_ROOT

    def to_bytes(self) -> bytes:
        """The state for storage: 8-byte big-endian size, then the subtree roots."""
        return self._size.to_bytes(_SIZE_BYTES, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        """Restore a state written by :meth:`to_bytes`; refuses a state of the wrong length."""
        if len(data) < _SIZE_BYTES:
            raise IntegrityFailure(
                f"stored Merkle accumulator is {len(data)} bytes; it needs at least "
                f"{_SIZE_BYTES} for the tree size"
            )
        size = int.from_bytes(data[:_SIZE_BYTES], "big")
        expected = _SIZE_BYTES + HASH_SIZE * size.bit_count()
        if len(data) != expected:
            raise IntegrityFailure(
                f"stored Merkle accumulator for a tree of {size} leaves is {len(data)} "
                f"bytes; that size needs {expected}"
            )
        restored = cls()
        restored._size = size
        restored._hashes = [
            data[offset:offset + HASH_SIZE] for offset in range(_SIZE_BYTES, expected, HASH_SIZE)
        ]
        return restored

    @classmethod
    def from_subtrees(cls, size: int, subtree: SubtreeHash) -> CompactRange:
        """Rebuild the accumulator of the first ``size`` leaves from stored subtree hashes."""
        if size < 0:
            raise ProofError(f"a tree cannot have {size} leaves")
        restored = cls()
        restored._hashes = [subtree(level, index) for level, index in _pieces(0, size)]
        restored._size = size
        return restored


class MemoryTree:
    """Every perfect-subtree hash of a list of leaf hashes, in memory; for tests and small logs."""

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self._levels[-1]) > 1:
            self._levels.append(_pair_up(self._levels[-1]))

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash and the perfect subtrees it completes."""
        level = 0
        node = leaf
        while True:
            nodes = self._levels[level]
            nodes.append(node)
            if len(nodes) % 2:
                return
            node = node_hash(nodes[-2], nodes[-1])
            level += 1
            if level == len(self._levels):
                self._levels.append([])

    def subtree(self, level: int, index: int) -> bytes:
        """The root of perfect subtree ``index`` at ``level``; see :data:`SubtreeHash`."""
        if 0 <= level < len(self._levels) and 0 <= index < len(self._levels[level]):
            return self._levels[level][index]
        raise ProofError(
            f"no complete subtree of 2**{level} leaves at index {index} in a tree of "
            f"{self.size} leaves"
        )

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all of them by default)."""
        return tree_root(self.size if size is None else size, self.subtree)


def _check_hash(value: bytes, what: str) -> None:
    """Refuse anything that is not a SHA-256 hash."""
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes; tree hashes are {HASH_SIZE} bytes")
