"""The subject map: every subject's head at a checkpoint, in a sparse Merkle tree it commits to.

A dossier proves that each event it holds is in the log; the map proves that
it holds them all. Each checkpoint the ledger signs carries one extension
line (c2sp.org/tlog-checkpoint allows them after the root)::

    dtl-map/v1 <subjects> <base64 root>

The root commits to the head of every subject (part, machine, lot, ...) with an
event in the first ``size`` leaves of the log: its latest version there and
that event's leaf hash. The format, ``dtl-map/v1``:

* A subject's key is SHA-256 of its 16-byte aggregate id (the id its events'
  canonical bytes name). Bit ``d`` of the key (most significant bit of byte 0
  first) says which child of a depth-``d`` subtree holds it.
* A leaf is SHA-256(0x00 || key || version as 8 bytes big-endian || head),
  head being the 32-byte leaf hash of the subject's latest event.
* A subtree holding no subject hashes to 32 zero bytes; one holding exactly one
  subject hashes to that subject's leaf (it sits as high in the tree as it
  can); any other to SHA-256(0x01 || left || right).
* An inclusion proof of a key is the list of the sibling hashes from the
  depth where its leaf sits up to the root, the deepest first. Its length is
  that depth (at most 256); at a million subjects it is about 21 hashes.

Keys fix places: two heads for one subject cannot both verify under one root.
This module is pure (``hashlib`` only); how the ledger stores the map (the
heads that changed at each checkpoint, subtrees at every fourth depth down to
20) and brings it up to date is :class:`MapView` and :func:`advance`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import NamedTuple, Protocol

from thread.errors import IntegrityFailure
from thread.log.checkpoint import Checkpoint

#: First word of the checkpoint extension line that carries the map's root.
MAP_LINE = "dtl-map/v1"

HASH_SIZE = 32
EMPTY = bytes(HASH_SIZE)
KEY_BITS = 256

#: Depth of the stored "buckets" (subtrees found by key range); stored subtrees above it
#: sit every STRIDE levels, so that the sixteen children of a stored one are stored too.
#: At 2**20 buckets, one holds one or two subjects up to a few million subjects and about
#: ten at ten million: a changed head rehashes its bucket, not thousands of leaves.
BUCKET_DEPTH = 20
STRIDE = 4
STORED_DEPTHS = tuple(range(0, BUCKET_DEPTH + 1, STRIDE))
#: What is kept known between updates: the subtrees down to this depth (about 90,000 at
#: most). The groups below it (a bucket and its fifteen siblings) are read when needed.
KEPT_DEPTH = BUCKET_DEPTH - STRIDE
_PREFIX_BYTES = (BUCKET_DEPTH + 7) // 8
_ROOT = 1  # the root's node number (see node())
_KEPT = 1 << KEPT_DEPTH  # node(KEPT_DEPTH, index) is _KEPT | index

_sha256 = hashlib.sha256


class MapError(IntegrityFailure):
    """A map line, proof or stored map that is malformed or does not verify."""


class Head(NamedTuple):
    """A subject's place and head in the map."""

    key: bytes
    version: int
    head: bytes


class Sub(NamedTuple):
    """A subtree: its hash and how many subjects it holds (0, 1 or more)."""

    hash: bytes
    subjects: int


EMPTY_SUB = Sub(EMPTY, 0)
_new_sub = partial(tuple.__new__, Sub)


def subject_key(aggregate_id: bytes) -> bytes:
    """Where a subject sits in the map: SHA-256 of its 16-byte aggregate id."""
    return _sha256(aggregate_id).digest()


def leaf(key: bytes, version: int, head: bytes) -> bytes:
    """A subject's leaf hash in the map."""
    return _sha256(b"\x00" + key + version.to_bytes(8, "big") + head).digest()


def bit(key: bytes, depth: int) -> int:
    """Which child (0 left, 1 right) of a subtree at ``depth`` holds ``key``."""
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1


def combine(left: Sub, right: Sub) -> Sub:
    """The subtree over two siblings: empty, the one subject lifted, or a node."""
    count = left[1] + right[1]
    if count > 1:
        return Sub(_sha256(b"\x01" + left[0] + right[0]).digest(), count)
    return right if not left[1] else left


def subtree(heads: Sequence[Head], depth: int) -> Sub:
    """The subtree at ``depth`` over ``heads`` (sorted by key, all under one prefix)."""
    return _subtree([head.key for head in heads], heads, 0, len(heads), depth)


def _subtree(keys: list[bytes], heads: Sequence[Head], low: int, high: int, depth: int) -> Sub:
    if low == high:
        return EMPTY_SUB
    if high - low == 1:
        one = heads[low]
        return Sub(leaf(one.key, one.version, one.head), 1)
    if depth >= KEY_BITS:
        raise MapError(f"the map holds key {keys[low].hex()} twice")
    split = bisect_left(keys, _right_half(keys[low], depth), low, high)
    return combine(_subtree(keys, heads, low, split, depth + 1),
                   _subtree(keys, heads, split, high, depth + 1))


def _right_half(key: bytes, depth: int) -> bytes:
    """The smallest key in the right child of the depth-``depth`` subtree holding ``key``."""
    shift = KEY_BITS - 1 - depth
    return (((int.from_bytes(key, "big") >> shift) | 1) << shift).to_bytes(HASH_SIZE, "big")


def root_of(heads: Iterable[Head]) -> Sub:
    """The map over ``heads``, computed whole (tests and benchmarks; the ledger updates)."""
    ordered = sorted(heads)
    for before, after in pairwise(ordered):
        if before.key == after.key:
            raise MapError(f"the map holds key {after.key.hex()} twice")
    return subtree(ordered, 0)


def group(children: Mapping[int, Sub]) -> Sub:
    """A stored subtree from its stored children STRIDE levels down, by their offset among
    the 2**STRIDE (absent ones are empty)."""
    if len(children) == 1:
        (only,) = children.values()
        if only[1] < 2:
            return only  # one subject, lifted whole, or none
    level = {offset: child for offset, child in children.items() if child[1]}
    if not level:
        return EMPTY_SUB
    if len(level) == 1:
        (only,) = level.values()
        if only[1] == 1:
            return only  # one subject: lifted whole
    sha256 = _sha256
    for _ in range(STRIDE):  # combine(), inlined: a hot loop of every update
        up: dict[int, Sub] = {}
        for parent in {offset >> 1 for offset in level}:
            left = level.get(parent << 1, EMPTY_SUB)
            right = level.get(parent << 1 | 1, EMPTY_SUB)
            count = left[1] + right[1]
            up[parent] = _new_sub((sha256(b"\x01" + left[0] + right[0]).digest(), count)) \
                if count > 1 else (left if left[1] else right)
        level = up
    return level[0]


def node(depth: int, index: int) -> int:
    """A subtree's number in memory: its index with a 1 bit above it at ``depth`` (the root
    is 1, the children of ``n`` are ``2n`` and ``2n + 1``, its parent ``n >> 1``)."""
    return (1 << depth) | index


def index_at(key: bytes, depth: int) -> int:
    """The index of the subtree at ``depth`` (at most BUCKET_DEPTH) that holds ``key``."""
    return int.from_bytes(key[:_PREFIX_BYTES], "big") >> (8 * _PREFIX_BYTES - depth)


def bucket_bounds(index: int) -> tuple[bytes, bytes]:
    """Keys ``low <= key < high`` of bucket ``index`` (for a store's range read): byte
    strings compared as the stores compare them, byte by byte."""
    shift = 8 * _PREFIX_BYTES - BUCKET_DEPTH
    low = (index << shift).to_bytes(_PREFIX_BYTES, "big")
    if index + 1 == 1 << BUCKET_DEPTH:
        return low, b"\xff" * (HASH_SIZE + 1)
    return low, ((index + 1) << shift).to_bytes(_PREFIX_BYTES, "big")


# The extension line


def map_line(root: Sub) -> str:
    """The checkpoint extension line that commits to the map."""
    return f"{MAP_LINE} {root.subjects} {base64.b64encode(root.hash).decode('ascii')}"


def find_map_line(extensions: Sequence[str]) -> Sub | None:
    """The map a checkpoint's extension lines commit to; None when they carry none."""
    found = [line for line in extensions if line.split(" ", 1)[0] == MAP_LINE]
    if not found:
        return None
    if len(found) > 1:
        raise MapError(f"the checkpoint carries {len(found)} {MAP_LINE} lines; at most one")
    parts = found[0].split(" ")
    if len(parts) != 3 or not parts[1].isdigit() or (parts[1] != "0" and parts[1][0] == "0"):
        raise MapError(f"map line {found[0]!r} is not '{MAP_LINE} <subjects> <base64 root>'")
    try:
        digest = base64.b64decode(parts[2], validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != HASH_SIZE or base64.b64encode(digest).decode("ascii") != parts[2]:
        raise MapError(f"map line {found[0]!r}: the root is not 32 bytes in base64")
    return Sub(digest, int(parts[1]))


def last_mapped(checkpoints: Sequence[tuple[int, str]]) -> int:
    """The size of the latest of ``checkpoints`` (size, note; oldest first) that carries a
    map; 0 (the empty map) when none does."""
    for size, note in reversed(checkpoints):
        if find_map_line(Checkpoint.from_note(note).extensions) is not None:
            return size
    return 0


# Proofs


@dataclass(frozen=True)
class MapProof:
    """A subject's head in the map and the sibling hashes that lead to the root."""

    version: int
    head: bytes
    path: tuple[bytes, ...]

    def root(self, key: bytes) -> bytes:
        """The root this proof leads to for ``key``."""
        if len(self.path) > KEY_BITS:
            raise MapError(f"map proof has {len(self.path)} hashes; at most {KEY_BITS}")
        digest = leaf(key, self.version, self.head)
        for depth in range(len(self.path), 0, -1):
            sibling = self.path[len(self.path) - depth]
            pair = sibling + digest if bit(key, depth - 1) else digest + sibling
            digest = _sha256(b"\x01" + pair).digest()
        return digest


def prove(key: bytes, bucket: Sequence[Head], stored: Mapping[tuple[int, int], Sub]) -> MapProof:
    """The proof of ``key`` from its bucket's heads and the stored subtrees around its path.

    ``stored`` must hold, at each stored depth below the root, the sixteen
    siblings-and-self of the key's subtree (absent ones are empty).
    """
    mine = next((head for head in bucket if head.key == key), None)
    if mine is None:
        raise MapError(f"the map holds no subject with key {key.hex()}")
    # Siblings and the count of the key's own subtree at each depth, deepest first.
    siblings: list[bytes] = []
    counts: list[int] = []
    _bucket_path(key, sorted(bucket), BUCKET_DEPTH, siblings, counts)
    counts.append(len(bucket))
    for depth in range(BUCKET_DEPTH, 0, -STRIDE):
        first = index_at(key, depth - STRIDE) << STRIDE
        level = [stored.get((depth, first + offset), EMPTY_SUB) for offset in range(1 << STRIDE)]
        position = index_at(key, depth) - first
        for _ in range(STRIDE):
            sibling = level[position ^ 1]
            siblings.append(sibling.hash)
            level = [combine(level[i], level[i + 1]) for i in range(0, len(level), 2)]
            position >>= 1
            counts.append(level[position].subjects)
    # The leaf sits at the shallowest depth whose subtree holds it alone.
    depth_of_leaf = _leaf_depth(counts)
    path = siblings[len(siblings) - depth_of_leaf:] if depth_of_leaf else []
    return MapProof(mine.version, mine.head, tuple(path))


def head_problem(proof: MapProof, committed: Sub, key: bytes, versions: int,
                 last_leaf: bytes, subject: str, record: str, size: int) -> str | None:
    """Why ``proof`` does not show that ``record`` (say "the dossier"), holding versions
    1-``versions`` of ``subject`` with ``last_leaf`` the last one's leaf hash, holds every
    event of it in the map ``committed`` of a log of ``size`` leaves: the proof leads
    elsewhere, names a later version (events were cut) or another event. None when it
    shows it."""
    try:
        root = proof.root(key)
    except MapError as error:
        return f"{record}'s map proof: {error}"
    if not hmac.compare_digest(root, committed.hash):
        return (f"{record}'s map proof for {subject} (version {proof.version}) does not "
                f"lead to the subject map root its checkpoint signs")
    if proof.version != versions:
        return (f"{record} holds versions 1-{versions} of {subject} but the checkpoint's "
                f"subject map says it was at version {proof.version} in the log of {size} "
                f"leaves: {proof.version - versions} event(s) after version {versions} were "
                f"cut from {record}")
    if not hmac.compare_digest(proof.head, last_leaf):
        return (f"the checkpoint's subject map names another event as version {versions} "
                f"of {subject} than {record}'s last")
    return None


def _leaf_depth(counts: Sequence[int]) -> int:
    """From the counts of the key's subtrees, deepest first (the last is the root's),
    the depth of the shallowest one that holds only the key."""
    depth = len(counts) - 1
    for offset in range(len(counts) - 1, -1, -1):
        if counts[offset] == 1:
            return len(counts) - 1 - offset
    return depth


def _bucket_path(key: bytes, heads: Sequence[Head], depth: int,
                 siblings: list[bytes], counts: list[int]) -> None:
    """Siblings (deepest first) and own-subtree counts below ``depth`` inside a bucket."""
    if len(heads) <= 1:
        return
    split = bisect_left([head.key for head in heads], _right_half(heads[0].key, depth))
    left, right = heads[:split], heads[split:]
    mine, other = (right, left) if bit(key, depth) else (left, right)
    _bucket_path(key, mine, depth + 1, siblings, counts)
    counts.append(len(mine))
    siblings.append(subtree(other, depth + 1).hash)


# Bringing the stored map up to date


class EmptyMap:
    """The empty map, known whole: a view through which nothing is read, for building a map
    of given heads in memory (:func:`proof_among`)."""

    def __init__(self) -> None:
        self.known: dict[int, Sub] = {}
        self.expanded: set[tuple[int, int]] = set()
        self.complete = True

    def buckets(self, indexes: Sequence[int]) -> dict[int, list[Head]]:
        return {}

    def nodes(self, depth: int, indexes: Sequence[int]) -> dict[int, Sub]:
        return {}


def proof_among(heads: Sequence[Head], key: bytes) -> tuple[Sub, MapProof]:
    """The map of ``heads`` (one per subject), built in memory, and the proof of ``key`` in
    it: for a map nobody stored, such as a site's as the hub mirrors its log."""
    update = advance(EmptyMap(), heads)
    bucket = index_at(key, BUCKET_DEPTH)
    return update.root, prove(key, sorted(head for head in heads
                                          if index_at(head.key, BUCKET_DEPTH) == bucket),
                              update.nodes)



class MapView(Protocol):
    """The stored map as of one tree size, with what is already known of it in memory."""

    #: Subtrees known at the view's size, down to KEPT_DEPTH (the buckets below are read
    #: whole groups at a time when they change), by :func:`node` number. Where a group (a
    #: stored subtree and the STRIDE levels below it) is expanded, absent means empty.
    known: dict[int, Sub]
    #: Stored subtrees (depth, index) whose group is in ``known``.
    expanded: set[tuple[int, int]]
    #: True when ``known`` holds every subtree of the map down to KEPT_DEPTH that is not
    #: empty (it followed the map from the empty one): only the groups below are read.
    complete: bool

    def buckets(self, indexes: Sequence[int]) -> dict[int, list[Head]]:
        """The heads in each bucket (subtree at BUCKET_DEPTH) of ``indexes``, sorted by key;
        empty buckets may be left out."""
        ...

    def nodes(self, depth: int, indexes: Sequence[int]) -> dict[int, Sub]:
        """Stored subtrees at ``depth`` (absent ones are empty and may be left out); at
        BUCKET_DEPTH, ``indexes`` are whole groups of sixteen siblings."""
        ...


@dataclass(frozen=True)
class MapUpdate:
    """What a checkpoint adds to the map: changed heads, changed subtrees, the new root."""

    root: Sub
    heads: tuple[Head, ...]
    #: (depth, index) -> subtree, for every stored subtree that changed.
    nodes: dict[tuple[int, int], Sub]
    #: The root before, recomputed from the stored map and the heads it replaces (when
    #: asked for): the same as the previous checkpoint's, or the stored map was changed.
    old_root: Sub | None = None
    #: Buckets whose stored heads no longer give their stored subtree (when checked).
    bad_buckets: tuple[int, ...] = ()


def advance(view: MapView, changes: Iterable[Head], *, check: bool = False) -> MapUpdate:
    """The map after ``changes`` (each subject's latest head in the new events) on ``view``,
    whose ``known`` subtrees it brings to the new size.

    Only the paths from the changed buckets to the root are hashed again, from the
    siblings along them (the buckets' sixteen siblings read each time, the groups above
    once, then known). With ``check``, the root before is first recomputed the same way
    from the buckets' stored heads, which proves every subtree read (against the previous
    checkpoint's root); without, buckets whose stored subtrees do not give the stored one
    above them raise :class:`MapError` (a map stored by an earlier layout, or changed).
    """
    by_bucket: dict[int, dict[bytes, Head]] = {}
    for change in changes:
        by_bucket.setdefault(index_at(change.key, BUCKET_DEPTH), {})[change.key] = change
    if not by_bucket:
        root = view.nodes(0, [0]).get(0, EMPTY_SUB) if _ROOT not in view.known else \
            view.known[_ROOT]
        return MapUpdate(root, (), {}, root if check else None)
    indexes = sorted(by_bucket)
    groups = sorted({index >> STRIDE for index in indexes})
    _expand(view, groups)
    known = view.known
    # What this view did not derive itself is checked: the stored subtrees must give the
    # stored one above them (against the previous root, with ``check``). What it derived
    # tells it where nothing is: no bucket under an empty subtree at KEPT_DEPTH is read.
    derived = view.complete and not check
    occupied = [index for index in indexes
                if not derived or known.get(_KEPT | index >> STRIDE, EMPTY_SUB)[1]]
    contents = view.buckets(occupied) if occupied else {}
    new: dict[int, Sub] = {}
    old: dict[int, Sub] = {}
    heads: list[Head] = []
    for index in indexes:
        before = contents.get(index, [])
        changed = by_bucket[index]
        if not before and len(changed) == 1:  # a new subject alone in its bucket
            (one,) = changed.values()
            heads.append(one)
            new[index] = Sub(leaf(one.key, one.version, one.head), 1)
            old[index] = EMPTY_SUB
            continue
        merged = {head.key: head for head in before}
        heads += sorted(head for key, head in changed.items() if merged.get(key) != head)
        merged.update(changed)
        new[index] = subtree(sorted(merged.values()), BUCKET_DEPTH)
        old[index] = subtree(before, BUCKET_DEPTH)
    # A changed bucket's group (it and its fifteen siblings) gives the subtree at KEPT_DEPTH
    # above it, before the change and after. The siblings are read, unless the view derived
    # the subtree and the changed buckets held all of its subjects (then they are empty).
    before_in: dict[int, int] = {}
    for index in indexes:
        before_in[index >> STRIDE] = before_in.get(index >> STRIDE, 0) + old[index][1]
    skipped = {g for g in groups
               if derived and known.get(_KEPT | g, EMPTY_SUB)[1] == before_in[g]}
    children = dict(view.nodes(BUCKET_DEPTH, [(g << STRIDE) + n for g in groups
                                              if g not in skipped
                                              for n in range(1 << STRIDE)]))
    for index in indexes:
        if index >> STRIDE in skipped:
            children[index] = old[index]
    # Each group's buckets by their offset in it, before the change and after.
    mask = (1 << STRIDE) - 1
    levels: dict[int, dict[int, Sub]] = {g: {} for g in groups}
    for index, sub in children.items():
        levels[index >> STRIDE][index & mask] = sub
    kept_old = {} if derived else {g: group(level) for g, level in levels.items()}
    for index in indexes:
        levels[index >> STRIDE][index & mask] = new[index]
    kept_new = {g: group(level) for g, level in levels.items()}
    stray = [] if derived else [
        g for g in groups if kept_old[g] != known.get(_KEPT | g, EMPTY_SUB)]
    if stray and not check:
        raise MapError(
            f"the stored subject map's subtrees at depth {BUCKET_DEPTH} under {len(stray)} "
            f"subtree(s) at depth {KEPT_DEPTH} (first: {stray[0]}) do not give them: stored "
            f"by an earlier layout, or changed")
    old_root = None
    bad: list[int] = []
    if check:
        bad = [index for index in indexes
               if children.get(index, EMPTY_SUB) != old[index]]
        _lift(known, kept_old)
        old_root = known.get(_ROOT, EMPTY_SUB)
    nodes = {(BUCKET_DEPTH, index): new[index] for index in indexes
             if new[index] != children.get(index, EMPTY_SUB)}
    nodes.update(_lift(known, kept_new))
    return MapUpdate(known[_ROOT], tuple(heads), dict(sorted(nodes.items())), old_root,
                     tuple(bad))


def _expand(view: MapView, groups: Sequence[int]) -> None:
    """Make the groups above the subtrees ``groups`` at KEPT_DEPTH known: each one's stored
    children read (unless known) and the levels between hashed once."""
    if view.complete:
        return
    known = view.known
    for depth in range(KEPT_DEPTH - STRIDE, -1, -STRIDE):
        above = sorted({(depth, index >> (KEPT_DEPTH - depth)) for index in groups}
                       - view.expanded)
        if not above:
            continue
        below = depth + STRIDE
        wanted = [(parent << STRIDE) + offset for _, parent in above
                  for offset in range(1 << STRIDE)]
        unknown = [index for index in wanted if node(below, index) not in known]
        if unknown:
            found = view.nodes(below, unknown)
            for index in unknown:
                known[node(below, index)] = found.get(index, EMPTY_SUB)
        for _, parent in above:
            level = [node(below, (parent << STRIDE) + offset) for offset in range(1 << STRIDE)]
            for _up in range(below - 1, depth, -1):
                level = sorted({number >> 1 for number in level})
                for number in level:
                    known[number] = combine(known[2 * number], known[2 * number + 1])
            view.expanded.add((depth, parent))


def _lift(known: dict[int, Sub], kept: Mapping[int, Sub]) -> dict[tuple[int, int], Sub]:
    """Set the subtrees ``kept`` at KEPT_DEPTH and hash the paths above them again; the
    stored subtrees (every STRIDE levels) that were set, by (depth, index)."""
    stored: dict[tuple[int, int], Sub] = {}
    level: dict[int, Sub] = {_KEPT | index: sub for index, sub in kept.items()}
    depth = KEPT_DEPTH
    get = known.get
    sha256 = _sha256
    while True:
        known.update(level)
        if not depth % STRIDE:
            first = 1 << depth
            stored.update(((depth, number ^ first), sub) for number, sub in level.items())
        if depth == 0:
            return stored
        up: dict[int, Sub] = {}
        for parent in {number >> 1 for number in level}:  # combine(), inlined: the hot loop
            left = get(parent << 1, EMPTY_SUB)
            right = get(parent << 1 | 1, EMPTY_SUB)
            count = left[1] + right[1]
            up[parent] = _new_sub((sha256(b"\x01" + left[0] + right[0]).digest(), count)) \
                if count > 1 else (left if left[1] else right)
        level = up
        depth -= 1
