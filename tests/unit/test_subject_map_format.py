"""The subject map (dtl-map/v1): roots against the format's own definition, proofs, updates
from a stored map, the checkpoint line, and proofs that must not verify."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thread.log.subject_map import (
    BUCKET_DEPTH,
    EMPTY,
    EMPTY_SUB,
    STORED_DEPTHS,
    Head,
    MapError,
    MapProof,
    Sub,
    advance,
    bucket_bounds,
    find_map_line,
    head_problem,
    index_at,
    map_line,
    proof_among,
    prove,
    root_of,
    subject_key,
    subtree,
)


def _spec_root(heads: Sequence[Head], depth: int = 0) -> bytes:
    """The root as the format states it, written independently: bit by bit, no stored
    subtrees, no counts carried."""
    if not heads:
        return EMPTY
    if len(heads) == 1:
        one = heads[0]
        return hashlib.sha256(b"\x00" + one.key + one.version.to_bytes(8, "big")
                              + one.head).digest()
    def bit_of(key: bytes) -> int:
        return int.from_bytes(key, "big") >> (255 - depth) & 1
    left = [h for h in heads if not bit_of(h.key)]
    right = [h for h in heads if bit_of(h.key)]
    return hashlib.sha256(b"\x01" + _spec_root(left, depth + 1)
                          + _spec_root(right, depth + 1)).digest()


class _Memory:
    """A stored map held in memory: what the stores hold, as the format lays it out."""

    def __init__(self, heads: Sequence[Head]) -> None:
        self.heads = {head.key: head for head in heads}
        self.known: dict[int, Sub] = {}
        self.expanded: set[tuple[int, int]] = set()
        self.complete = False

    def bucket(self, index: int) -> list[Head]:
        return sorted(h for h in self.heads.values() if index_at(h.key, BUCKET_DEPTH) == index)

    def buckets(self, indexes: Sequence[int]) -> dict[int, list[Head]]:
        return {index: self.bucket(index) for index in indexes}

    def nodes(self, depth: int, indexes: Sequence[int]) -> dict[int, Sub]:
        found = {}
        for index in indexes:
            sub = subtree(sorted(h for h in self.heads.values()
                                 if index_at(h.key, depth) == index), depth)
            if sub.subjects:
                found[index] = sub
        return found

    def stored(self) -> dict[tuple[int, int], Sub]:
        return {(depth, index): sub for depth in STORED_DEPTHS
                for index, sub in self.nodes(depth, sorted(
                    {index_at(k, depth) for k in self.heads})).items()}


def _heads(data: st.DataObject, count: int) -> list[Head]:
    keys = data.draw(st.lists(st.binary(min_size=32, max_size=32), min_size=count,
                              max_size=count, unique=True))
    return [Head(key, data.draw(st.integers(1, 2**63)), hashlib.sha256(key).digest())
            for key in keys]


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(0, 40))
def test_the_root_is_the_one_the_format_defines(data: st.DataObject, count: int) -> None:
    """Any set of heads, keys clustered or not: the root equals the bit-by-bit definition."""
    heads = _heads(data, count)
    assert root_of(heads).hash == _spec_root(heads)
    assert root_of(heads).subjects == count


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(1, 30))
def test_every_subject_proves_its_head_and_no_other(data: st.DataObject, count: int) -> None:
    """Each key's proof leads to the root; a changed version, head, key or sibling does not."""
    heads = _heads(data, count)
    memory = _Memory(heads)
    stored = memory.stored()
    root = root_of(heads).hash
    for head in heads:
        proof = prove(head.key, memory.bucket(index_at(head.key, BUCKET_DEPTH)), stored)
        assert (proof.version, proof.head) == (head.version, head.head)
        assert proof.root(head.key) == root
        assert MapProof(head.version - 1, head.head, proof.path).root(head.key) != root
        assert MapProof(head.version, bytes(32), proof.path).root(head.key) != root
        if proof.path:
            bent = (bytes(32) if proof.path[0] != bytes(32) else b"\x01" * 32, *proof.path[1:])
            assert MapProof(head.version, head.head, bent).root(head.key) != root
    other = data.draw(st.binary(min_size=32, max_size=32).filter(lambda k: k not in memory.heads))
    with pytest.raises(MapError, match="holds no subject"):
        prove(other, memory.bucket(index_at(other, BUCKET_DEPTH)), stored)


def test_keys_sharing_the_bucket_and_long_prefixes_prove_deep() -> None:
    """Two keys equal in their first 200 bits: the proof is 201 hashes long and verifies."""
    base = bytes(25) + b"\x00" * 7
    near = bytes(25) + b"\x80" + b"\x00" * 6
    heads = [Head(base, 1, b"\x11" * 32), Head(near, 2, b"\x22" * 32)]
    memory = _Memory(heads)
    proof = prove(base, memory.bucket(0), memory.stored())
    assert len(proof.path) == 201
    assert proof.root(base) == _spec_root(heads)


def test_a_single_subject_is_the_root_itself() -> None:
    """With one subject the root is its leaf and the proof is empty; with none, zeros."""
    one = Head(subject_key(b"x" * 16), 3, b"\x05" * 32)
    assert root_of([]) == EMPTY_SUB
    proof = prove(one.key, [one], _Memory([one]).stored())
    assert proof.path == () and proof.root(one.key) == root_of([one]).hash


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(0, 60), st.integers(0, 30), st.integers(0, 30))
def test_an_update_from_the_stored_map_is_the_map_of_the_new_heads(
        data: st.DataObject, before: int, moved: int, new: int) -> None:
    """advance() on a stored map: the root before is the old map's, after it the new one's,
    and it writes exactly the heads that changed."""
    heads = _heads(data, before + new)
    old, added = heads[:before], heads[before:]
    changed = [Head(h.key, h.version + 1, hashlib.sha256(h.head).digest())
               for h in old[:moved]]
    update = advance(_Memory(old), changed + added, check=True)
    after = {h.key: h for h in old} | {h.key: h for h in changed + added}
    assert update.old_root == root_of(old)
    assert update.root == root_of(after.values())
    assert sorted(update.heads) == sorted(changed + added)
    assert not update.bad_buckets
    assert all(sub == _Memory(list(after.values())).nodes(depth, [index]).get(index, EMPTY_SUB)
               for (depth, index), sub in update.nodes.items())


def test_a_changed_stored_head_is_named_by_its_bucket() -> None:
    """A head row cut back in the store: the bucket no longer gives its stored subtree."""
    heads = [Head(subject_key(bytes([n]) * 16), 5, bytes([n]) * 32) for n in range(50)]
    memory = _Memory(heads)
    stored = memory.stored()

    class Tampered(_Memory):
        def nodes(self, depth: int, indexes: Sequence[int]) -> dict[int, Sub]:
            return {i: stored[(depth, i)] for i in indexes if (depth, i) in stored}

    victim = heads[7]
    tampered = Tampered([*heads[:7], Head(victim.key, 4, b"\x00" * 32), *heads[8:]])
    update = advance(tampered, [Head(victim.key, 6, b"\x01" * 32)], check=True)
    assert update.bad_buckets == (index_at(victim.key, BUCKET_DEPTH),)


def test_the_checkpoint_line_round_trips_and_refuses_malformed_ones() -> None:
    """'dtl-map/v1 <subjects> <base64 root>': read back; bad counts, roots and repeats refused."""
    root = Sub(hashlib.sha256(b"r").digest(), 12)
    line = map_line(root)
    assert line.startswith("dtl-map/v1 12 ") and find_map_line(["other", line]) == root
    assert find_map_line(["something else"]) is None
    for bad in ("dtl-map/v1 12", "dtl-map/v1 012 " + line.split()[2], "dtl-map/v1 x "
                + line.split()[2], "dtl-map/v1 1 AAAA", "dtl-map/v1 1 " + line.split()[2] + "=="):
        with pytest.raises(MapError):
            find_map_line([bad])
    with pytest.raises(MapError, match="at most one"):
        find_map_line([line, line])


def test_a_proof_longer_than_the_key_and_a_repeated_key_are_refused() -> None:
    """257 siblings cannot be a proof; two heads under one key cannot make a map."""
    key = subject_key(b"k" * 16)
    with pytest.raises(MapError, match="at most 256"):
        MapProof(1, bytes(32), (bytes(32),) * 257).root(key)
    with pytest.raises(MapError, match="twice"):
        root_of([Head(key, 1, bytes(32)), Head(key, 2, bytes(32))])


@settings(max_examples=30, deadline=None)
@given(st.data(), st.lists(st.integers(0, 25), min_size=2, max_size=5))
def test_successive_updates_keep_what_is_known_right(data: st.DataObject,
                                                     steps: list[int]) -> None:
    """A writer's view carried from checkpoint to checkpoint (only paths hashed again): after
    each step the root is the map of all heads so far, checked or not."""
    memory = _Memory([])
    everything: dict[bytes, Head] = {}
    for number, count in enumerate(steps):
        fresh = _heads(data, count)
        moved = [Head(h.key, h.version + 1, hashlib.sha256(h.head).digest())
                 for h in list(everything.values())[:count]]
        update = advance(memory, fresh + moved, check=number % 2 == 1)
        before = root_of(everything.values())
        everything |= {h.key: h for h in fresh + moved}
        assert update.root == root_of(everything.values())
        if number % 2:
            assert update.old_root == before and not update.bad_buckets
        memory.heads = dict(everything)  # what the store holds after the checkpoint


@given(st.binary(min_size=32, max_size=32), st.sampled_from([0, 1, (1 << BUCKET_DEPTH) - 1]))
def test_a_bucket_range_holds_exactly_the_keys_of_its_bucket(key: bytes, edge: int) -> None:
    """A store's range read of a bucket (bytes compared byte by byte) holds a key exactly when
    the key's first BUCKET_DEPTH bits name that bucket, at the first and last buckets too."""
    for index in (index_at(key, BUCKET_DEPTH), edge):
        low, high = bucket_bounds(index)
        assert (low <= key < high) == (index_at(key, BUCKET_DEPTH) == index)
    edge_key = (edge << (256 - BUCKET_DEPTH)).to_bytes(32, "big")
    low, high = bucket_bounds(edge)
    assert low <= edge_key < high
    last = (((edge + 1) << (256 - BUCKET_DEPTH)) - 1).to_bytes(32, "big")
    assert low <= last < high


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(1, 40))
def test_a_map_built_in_memory_proves_each_head_to_the_defined_root(data: st.DataObject,
                                                                   count: int) -> None:
    """proof_among (the map of given heads, as the hub builds a site's): its root is the
    format's, and each subject's proof leads to it with its own head; a head some proof
    names is exactly the subject's, so a record shorter by one event is named."""
    heads = _heads(data, count)
    for head in heads:
        root, proof = proof_among(heads, head.key)
        assert root == Sub(_spec_root(heads), count)
        assert (proof.version, proof.head) == (head.version, head.head)
        assert proof.root(head.key) == root.hash
        assert head_problem(proof, root, head.key, head.version, head.head, "s", "r", 9) is None
        cut = head_problem(proof, root, head.key, head.version - 1, head.head, "s", "r", 9)
        assert cut is not None and "1 event(s) after version" in cut
