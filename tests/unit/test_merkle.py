"""The global log's Merkle tree: RFC 6962 vectors, proofs from perfect subtrees, the accumulator."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from thread.errors import IntegrityFailure
from thread.log import merkle
from thread.log.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    tree_root,
)
from thread.log.verify import ProofError, verify_consistency, verify_inclusion

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc6962"

#: Leaf inputs of the RFC 6962 test data the vectors were generated from
#: (their hashes are the vectors' leafHash values, checked below).
RFC6962_LEAVES = [
    bytes.fromhex(text)
    for text in [
        "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]


def _vectors(kind: str) -> list[Any]:
    paths = sorted((VECTORS / kind).rglob("*.json"))
    return [pytest.param(path, id=str(path.relative_to(VECTORS))) for path in paths]


def _load(path: Path) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(path.read_text())
    return vector


def _decode(text: str) -> bytes:
    return base64.b64decode(text)


def _proof(vector: dict[str, Any]) -> list[bytes]:
    return [_decode(value) for value in vector["proof"] or []]


def _hashes(count: int, seed: bytes) -> list[bytes]:
    return [leaf_hash(seed + i.to_bytes(4, "big")) for i in range(count)]


def _flip(value: bytes, position: int) -> bytes:
    changed = bytearray(value)
    changed[position % len(changed)] ^= 0x01
    return bytes(changed)


trees = st.builds(_hashes, st.integers(min_value=1, max_value=300), st.binary(max_size=8))


@pytest.mark.parametrize("path", _vectors("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    """Each RFC 6962 inclusion vector verifies or raises ProofError as it says."""
    vector = _load(path)
    arguments = (
        _decode(vector["leafHash"]), vector["leafIdx"], vector["treeSize"],
        _proof(vector), _decode(vector["root"]),
    )
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*arguments)
    else:
        verify_inclusion(*arguments)


@pytest.mark.parametrize("path", _vectors("consistency"))
def test_consistency_vector(path: Path) -> None:
    """Each RFC 6962 consistency vector verifies or raises ProofError as it says."""
    vector = _load(path)
    arguments = (
        vector["size1"], vector["size2"], _decode(vector["root1"]), _decode(vector["root2"]),
        _proof(vector),
    )
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*arguments)
    else:
        verify_consistency(*arguments)


@pytest.mark.parametrize(
    "path", [p for p in _vectors("inclusion") if p.values[0].name == "happy-path.json"]
)
def test_generated_inclusion_proofs_equal_the_vectors(path: Path) -> None:
    """Proofs and roots built from the RFC 6962 test leaves are byte for byte the vectors'."""
    vector = _load(path)
    leaves = [leaf_hash(data) for data in RFC6962_LEAVES]
    tree = MemoryTree(leaves)
    index, size = vector["leafIdx"], vector["treeSize"]
    assert leaves[index] == _decode(vector["leafHash"])
    assert root(leaves[:size]) == _decode(vector["root"])
    assert inclusion_proof(index, size, tree.subtree) == _proof(vector)


@pytest.mark.parametrize(
    "path", [p for p in _vectors("consistency") if p.values[0].name == "happy-path.json"]
)
def test_generated_consistency_proofs_equal_the_vectors(path: Path) -> None:
    """Consistency proofs built from the RFC 6962 test leaves are byte for byte the vectors'."""
    vector = _load(path)
    tree = MemoryTree(leaf_hash(data) for data in RFC6962_LEAVES)
    size1, size2 = vector["size1"], vector["size2"]
    assert tree.root(size1) == _decode(vector["root1"])
    assert tree.root(size2) == _decode(vector["root2"])
    assert consistency_proof(size1, size2, tree.subtree) == _proof(vector)


def test_hashing_has_the_rfc6962_domain_separation() -> None:
    """Leaves hash with a 0x00 prefix, nodes with 0x01, and the empty tree is SHA-256('')."""
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    left, right = b"l" * 32, b"r" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert CompactRange().root() == EMPTY_ROOT == MemoryTree().root()


@given(trees)
@settings(max_examples=60, deadline=None)
def test_root_matches_the_recursive_definition(leaves: list[bytes]) -> None:
    """root() equals MTH as RFC 6962 defines it recursively, for every prefix."""

    def mth(hashes: list[bytes]) -> bytes:
        if len(hashes) == 1:
            return hashes[0]
        k = 1 << ((len(hashes) - 1).bit_length() - 1)
        return node_hash(mth(hashes[:k]), mth(hashes[k:]))

    for size in range(1, len(leaves) + 1, 7):
        assert root(leaves[:size]) == mth(leaves[:size])


@given(trees)
@settings(max_examples=40, deadline=None)
def test_every_inclusion_proof_verifies(leaves: list[bytes]) -> None:
    """Every leaf's generated inclusion proof verifies against the tree's root."""
    tree = MemoryTree(leaves)
    tree_hash = root(leaves)
    size = len(leaves)
    for index, leaf in enumerate(leaves):
        verify_inclusion(leaf, index, size, inclusion_proof(index, size, tree.subtree), tree_hash)


@given(trees, st.data())
@settings(max_examples=80, deadline=None)
def test_tampered_inclusion_proofs_fail(leaves: list[bytes], data: st.DataObject) -> None:
    """A flipped byte in any proof hash, the leaf or the root, or a wrong index, fails."""
    size = len(leaves)
    tree = MemoryTree(leaves)
    tree_hash = root(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, tree.subtree)
    byte = data.draw(st.integers(0, 31), label="byte")
    for position in range(len(proof)):
        tampered = [*proof[:position], _flip(proof[position], byte), *proof[position + 1:]]
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, tampered, tree_hash)
    with pytest.raises(ProofError):
        verify_inclusion(_flip(leaves[index], byte), index, size, proof, tree_hash)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, size, proof, _flip(tree_hash, byte))
    other = data.draw(st.integers(0, size), label="other index")
    assume(other != index)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], other, size, proof, tree_hash)


@given(st.builds(_hashes, st.integers(2, 300), st.binary(max_size=8)), st.data())
@settings(max_examples=80, deadline=None)
def test_inclusion_proof_for_another_size_fails(leaves: list[bytes], data: st.DataObject) -> None:
    """A proof served for one tree size does not verify against the checkpoint of another."""
    size = data.draw(st.integers(1, len(leaves)), label="proof size")
    claimed = data.draw(st.integers(1, len(leaves)), label="checkpoint size")
    assume(claimed != size)
    index = data.draw(st.integers(0, min(size, claimed) - 1), label="index")
    tree = MemoryTree(leaves)
    proof = inclusion_proof(index, size, tree.subtree)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, claimed, proof, tree.root(claimed))


@given(trees, st.data())
@settings(max_examples=80, deadline=None)
def test_every_consistency_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    """The consistency proof between any two sizes verifies against their roots."""
    tree = MemoryTree(leaves)
    size2 = data.draw(st.integers(1, len(leaves)), label="size2")
    for size1 in range(1, size2 + 1):
        proof = consistency_proof(size1, size2, tree.subtree)
        verify_consistency(size1, size2, tree.root(size1), tree.root(size2), proof)


@given(st.builds(_hashes, st.integers(2, 300), st.binary(max_size=8)), st.data())
@settings(max_examples=80, deadline=None)
def test_tampered_consistency_proofs_fail(leaves: list[bytes], data: st.DataObject) -> None:
    """A flipped byte in any proof hash or either root, or another old size, fails."""
    tree = MemoryTree(leaves)
    size2 = data.draw(st.integers(2, len(leaves)), label="size2")
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    root1, root2 = tree.root(size1), tree.root(size2)
    proof = consistency_proof(size1, size2, tree.subtree)
    byte = data.draw(st.integers(0, 31), label="byte")
    for position in range(len(proof)):
        tampered = [*proof[:position], _flip(proof[position], byte), *proof[position + 1:]]
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, root1, root2, tampered)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, _flip(root1, byte), root2, proof)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, root1, _flip(root2, byte), proof)
    other = data.draw(st.integers(1, size2), label="other size1")
    assume(other != size1)
    with pytest.raises(ProofError):
        verify_consistency(other, size2, tree.root(other), root2, proof)


def test_proof_generation_refuses_impossible_requests() -> None:
    """Asking for a proof outside the tree raises ProofError naming the sizes."""
    tree = MemoryTree(_hashes(5, b""))
    with pytest.raises(ProofError, match="leaf 5 in a tree of 5 leaves"):
        inclusion_proof(5, 5, tree.subtree)
    with pytest.raises(ProofError, match="from a tree of 0 leaves"):
        consistency_proof(0, 5, tree.subtree)
    with pytest.raises(ProofError, match="from a tree of 4 leaves to one of 3"):
        consistency_proof(4, 3, tree.subtree)
    with pytest.raises(ProofError, match="no complete subtree"):
        inclusion_proof(0, 6, tree.subtree)
    assert consistency_proof(5, 5, tree.subtree) == []


def test_verification_messages_name_the_failed_check() -> None:
    """ProofError messages say which check failed: range, length, hash size or root."""
    leaves = _hashes(8, b"")
    tree = MemoryTree(leaves)
    proof = inclusion_proof(3, 8, tree.subtree)
    with pytest.raises(ProofError, match="index is out of range"):
        verify_inclusion(leaves[3], 8, 8, proof, tree.root())
    with pytest.raises(ProofError, match="proof has 2 hashes; it must have 3"):
        verify_inclusion(leaves[3], 3, 8, proof[:2], tree.root())
    with pytest.raises(ProofError, match="proof hash 1 is 31 bytes"):
        verify_inclusion(leaves[3], 3, 8, [proof[0], proof[1][:31], proof[2]], tree.root())
    with pytest.raises(ProofError, match="does not match the expected root"):
        verify_inclusion(leaves[3], 3, 8, proof, tree.root(7))
    with pytest.raises(ProofError, match="empty tree proves nothing"):
        verify_consistency(0, 8, EMPTY_ROOT, tree.root(), [])
    with pytest.raises(ProofError, match="sizes are equal but the roots differ"):
        verify_consistency(8, 8, tree.root(7), tree.root(), [])
    assert isinstance(ProofError("x"), IntegrityFailure)


@given(trees)
@settings(max_examples=60, deadline=None)
def test_accumulator_root_equals_root_for_every_prefix(leaves: list[bytes]) -> None:
    """Appending leaf by leaf, the accumulator's root is root() of the prefix so far."""
    accumulator = CompactRange()
    for size, leaf in enumerate(leaves, start=1):
        accumulator.append(leaf)
        assert accumulator.size == size
        assert accumulator.root() == root(leaves[:size])
        assert len(accumulator.hashes) == size.bit_count()


@given(trees, st.data())
@settings(max_examples=60, deadline=None)
def test_accumulator_survives_serialisation(leaves: list[bytes], data: st.DataObject) -> None:
    """A stored and restored accumulator has the same root and keeps appending correctly."""
    cut = data.draw(st.integers(0, len(leaves)), label="cut")
    accumulator = CompactRange()
    accumulator.extend(leaves[:cut])
    restored = CompactRange.from_bytes(accumulator.to_bytes())
    assert (restored.size, restored.root()) == (cut, root(leaves[:cut]))
    restored.extend(leaves[cut:])
    assert restored.root() == root(leaves)


@given(trees)
@settings(max_examples=40, deadline=None)
def test_accumulator_reports_the_subtrees_a_store_keeps(leaves: list[bytes]) -> None:
    """The subtrees extend() reports are every perfect subtree above the leaves, rightly hashed."""
    tree = MemoryTree(leaves)
    completed = CompactRange().extend(leaves)
    expected_count = sum(len(leaves) >> level for level in range(1, len(leaves).bit_length()))
    assert len(completed) == expected_count
    for node in completed:
        assert node.level > 0
        assert tree.subtree(node.level, node.index) == node.hash
    stored = {(node.level, node.index): node.hash for node in completed}
    stored.update({(0, index): leaf for index, leaf in enumerate(leaves)})
    rebuilt = CompactRange.from_subtrees(len(leaves), lambda level, index: stored[level, index])
    assert rebuilt.to_bytes() == CompactRange.from_bytes(rebuilt.to_bytes()).to_bytes()
    assert rebuilt.root() == root(leaves)


@given(trees, st.lists(st.integers(0, 40), max_size=20))
@settings(max_examples=60, deadline=None)
def test_batches_and_single_appends_agree(leaves: list[bytes], batches: list[int]) -> None:
    """extend() in any batch sizes leaves the state and reports the subtrees append() does."""
    one_by_one = CompactRange()
    singles = [node for leaf in leaves for node in one_by_one.append(leaf)]
    batched = CompactRange()
    reported = []
    position = 0
    for batch in [*batches, len(leaves)]:
        reported += batched.extend(leaves[position:position + batch])
        position += batch
    assert batched.to_bytes() == one_by_one.to_bytes()

    def order(node: merkle.Subtree) -> tuple[int, int]:
        return node.level, node.index

    assert sorted(reported, key=order) == sorted(singles, key=order)


@given(trees)
@settings(max_examples=40, deadline=None)
def test_memory_tree_grows_by_appending(leaves: list[bytes]) -> None:
    """A MemoryTree built leaf by leaf serves the same roots as one built at once."""
    grown = MemoryTree()
    for leaf in leaves:
        grown.append(leaf)
    whole = MemoryTree(leaves)
    for size in range(len(leaves) + 1):
        assert grown.root(size) == whole.root(size) == tree_root(size, whole.subtree)


@pytest.mark.parametrize(
    "state",
    [b"", b"\x00" * 7, (1).to_bytes(8, "big"), (3).to_bytes(8, "big") + b"\x00" * 32,
     (2).to_bytes(8, "big") + b"\x00" * 33],
    ids=["empty", "short size", "missing hash", "one hash short", "trailing byte"],
)
def test_corrupt_accumulator_state_is_refused(state: bytes) -> None:
    """A stored accumulator whose length does not fit its size raises IntegrityFailure."""
    with pytest.raises(IntegrityFailure, match="stored Merkle accumulator"):
        CompactRange.from_bytes(state)


def test_accumulator_refuses_a_value_that_is_not_a_hash() -> None:
    """Appending anything but a 32-byte hash raises ProofError and leaves the state alone."""
    accumulator = CompactRange()
    with pytest.raises(ProofError, match="leaf hash is 3 bytes"):
        accumulator.append(b"abc")
    with pytest.raises(ProofError, match="leaf hash 1 of the batch is 33 bytes"):
        accumulator.extend([bytes(32), bytes(33)])
    assert accumulator.size == 0


@pytest.mark.parametrize("module", ["merkle", "verify", "checkpoint"])
def test_auditor_modules_import_no_storage(module: str) -> None:
    """The verification layer imports only the standard library, cryptography and pure modules."""
    source = (Path(merkle.__file__).parent / f"{module}.py").read_text()
    allowed_own = {"thread.errors", "thread.log.merkle", "thread.log.checkpoint"}
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            assert (
                name in allowed_own or top in {"__future__", "cryptography"}
                or top in sys.stdlib_module_names
            ), f"thread/{module}.py imports {name}"
