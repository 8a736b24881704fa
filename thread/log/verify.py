"""What an auditor runs: Merkle proof and signed-checkpoint verification.

Every value is the caller's: the tree sizes, the roots and the index come
from a checkpoint the auditor has verified, never from the proof itself.
Proofs are checked with the iterative algorithms of RFC 9162 sections
2.1.3.2 and 2.1.4.2. Every failure raises :class:`ProofError` (or
:class:`CheckpointError` for notes and checkpoints), both subclasses of
:class:`thread.errors.IntegrityFailure`, with a message naming the check.

Imports only the standard library, ``cryptography`` and the ledger's pure
modules, never the storage layer.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from thread.log.checkpoint import (
    Checkpoint,
    CheckpointError,
    TlogProof,
    open_note,
    verify_checkpoint,
)
from thread.log.merkle import HASH_SIZE, ProofError, node_hash

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ProofError",
    "TlogProof",
    "open_note",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_tlog_proof",
]


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``proof`` puts ``leaf_hash`` at ``index`` under ``root``."""
    where = f"leaf {index} in the tree of {tree_size} leaves"
    if not 0 <= index < tree_size:
        raise ProofError(
            f"inclusion of {where}: the index is out of range (it must be at least 0 "
            "and below the tree size)"
        )
    _check_hash(leaf_hash, f"inclusion of {where}: the leaf hash")
    _check_proof(proof, f"inclusion of {where}", _inclusion_length(index, tree_size))

    # RFC 9162 section 2.1.3.2: fn walks the leaf's position up the tree and sn
    # the last leaf's; a set bit in fn means the proof hash is a left sibling.
    fn, sn = index, tree_size - 1
    computed = leaf_hash
    for sibling in proof:
        if sn == 0:
            raise ProofError(f"inclusion of {where}: the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            if not fn & 1:
                # The right edge of an unbalanced tree: climb past the levels
                # where the node has no right sibling.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            computed = node_hash(computed, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion of {where}: the proof is shorter than the path to the root")
    if not hmac.compare_digest(computed, root):
        raise ProofError(
            f"inclusion of {where}: the root computed from the proof "
            f"({computed.hex()}) does not match the expected root ({root.hex()})"
        )


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows tree ``root1`` is a prefix of ``root2``."""
    what = f"consistency of the tree of {size1} leaves with the tree of {size2} leaves"
    if size1 < 0 or size2 < size1:
        raise ProofError(f"{what}: the old size must be at least 0 and not above the new size")
    if size1 == 0:
        # Every tree extends the empty tree, so such a "proof" proves nothing;
        # an auditor asking for one has the wrong checkpoint.
        raise ProofError(f"{what}: a consistency proof from an empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError(f"{what}: the sizes are equal, so the proof must be empty; "
                             f"it has {len(proof)} hashes")
        if not hmac.compare_digest(root1, root2):
            raise ProofError(f"{what}: the sizes are equal but the roots differ "
                             f"({root1.hex()} and {root2.hex()})")
        return
    _check_proof(proof, what, _consistency_length(size1, size2))

    # RFC 9162 section 2.1.4.2. When size1 is a power of two the old tree is a
    # perfect subtree of the new one and its root is the first path element.
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_root = new_root = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError(f"{what}: the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            old_root = node_hash(node, old_root)
            new_root = node_hash(node, new_root)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            new_root = node_hash(new_root, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"{what}: the proof is shorter than the path to the root")
    if not hmac.compare_digest(old_root, root1):
        raise ProofError(f"{what}: the old root computed from the proof ({old_root.hex()}) "
                         f"does not match the expected old root ({root1.hex()})")
    if not hmac.compare_digest(new_root, root2):
        raise ProofError(f"{what}: the new root computed from the proof ({new_root.hex()}) "
                         f"does not match the expected new root ({root2.hex()})")


def verify_tlog_proof(
    proof_text: str, leaf_hash: bytes, verifier_key: str, *, origin: str | None = None
) -> Checkpoint:
    """Check a c2sp.org/tlog-proof for ``leaf_hash``: its checkpoint's signature, then inclusion.

    Returns the verified checkpoint. ``origin``, when given, must be the
    checkpoint's origin line.
    """
    proof = TlogProof.parse(proof_text)
    checkpoint = verify_checkpoint(proof.checkpoint, verifier_key, origin=origin)
    verify_inclusion(leaf_hash, proof.index, checkpoint.size, proof.hashes, checkpoint.root)
    return checkpoint


def _inclusion_length(index: int, size: int) -> int:
    """The number of hashes in PATH(index, D[size])."""
    # Below the highest bit where the leaf's and the last leaf's positions
    # differ, every ancestor has a sibling; above it, only the ancestors that
    # are right children do.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_length(size1: int, size2: int) -> int:
    """The number of hashes in PROOF(size1, D[size2]) for 0 < size1 < size2."""
    # The proof is the inclusion path of the old tree's last perfect subtree,
    # preceded by that subtree's hash unless it is the whole old tree.
    level = (size1 & -size1).bit_length() - 1
    length = _inclusion_length((size1 - 1) >> level, ((size2 - 1) >> level) + 1)
    return length if size1 & (size1 - 1) == 0 else length + 1


def _check_proof(proof: Sequence[bytes], what: str, expected: int) -> None:
    """Refuse a proof of the wrong length or with an element that is not a hash."""
    if len(proof) != expected:
        raise ProofError(f"{what}: the proof has {len(proof)} hashes; it must have {expected}")
    for position, value in enumerate(proof):
        _check_hash(value, f"{what}: proof hash {position}")


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes; it must be {HASH_SIZE}")
