"""The log as C2SP tlog-tiles: the spec's paths, strict parsing, and an independent tile reader."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thread.log.merkle import MemoryTree, ProofError, leaf_hash, tree_root
from thread.log.tiles import (
    TileError,
    entries_path,
    entry_bundle,
    entry_bundles_for,
    parse_entries_path,
    parse_tile_path,
    read_entry_bundle,
    tile_hashes,
    tile_path,
    tile_width,
    tiles_for,
)

# --- An independent reader: its own paths and hashing, nothing from thread.log.tiles. ---


def _reader_path(kind: str, index: int, width: int) -> str:
    """tile/<kind>/<N>[.p/<W>], spelled out from the decimal digits of the index."""
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[at:at + 3] for at in range(0, len(digits), 3)]
    encoded = "/".join(["x" + group for group in groups[:-1]] + [groups[-1]])
    suffix = "" if width == 256 else f".p/{width}"
    return f"tile/{kind}/{encoded}{suffix}"


def _sha256(data: bytes) -> bytes:
    """SHA-256 of some bytes."""
    return hashlib.sha256(data).digest()


def _reader_leaf(data: bytes) -> bytes:
    """RFC 6962 leaf hash."""
    return _sha256(b"\x00" + data)


def _reader_node(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash."""
    return _sha256(b"\x01" + left + right)


def _reader_perfect_root(nodes: list[bytes]) -> bytes:
    """Root of a power-of-two count of hashes, paired level by level."""
    while len(nodes) > 1:
        nodes = [_reader_node(nodes[at], nodes[at + 1]) for at in range(0, len(nodes), 2)]
    return nodes[0]


class _TileReader:
    """A client holding only a tree size and a {path: bytes} store of tiles and bundles."""

    def __init__(self, store: dict[str, bytes], size: int) -> None:
        self.store = store
        self.size = size
        self.fetched: set[str] = set()

    def _width(self, level: int, index: int) -> int:
        """Hashes in a tile at this size, from the spec's formula."""
        return min(256, (self.size >> (8 * level)) - 256 * index)

    def _fetch(self, path: str) -> bytes:
        """One resource from the store, remembered as fetched."""
        self.fetched.add(path)
        return self.store[path]

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of one tile, fetched by the width this size implies."""
        width = self._width(level, index)
        assert width > 0
        data = self._fetch(_reader_path(str(level), index, width))
        assert len(data) == 32 * width
        return [data[at:at + 32] for at in range(0, len(data), 32)]

    def bundle(self, index: int) -> list[bytes]:
        """The entries of one bundle, parsed from uint16 length prefixes."""
        width = self._width(0, index)
        data = self._fetch(_reader_path("entries", index, width))
        entries = []
        at = 0
        while at < len(data):
            length = int.from_bytes(data[at:at + 2], "big")
            entries.append(data[at + 2:at + 2 + length])
            at += 2 + length
        assert at == len(data)
        assert len(entries) == width
        return entries

    def perfect(self, height: int, start: int) -> bytes:
        """Hash of leaves [start, start + 2**height) from the highest tile that holds it."""
        level, rest = divmod(height, 8)
        first = start >> (8 * level)
        index, offset = divmod(first, 256)
        return _reader_perfect_root(self.tile(level, index)[offset:offset + 2**rest])

    def mth(self, start: int, end: int) -> bytes:
        """RFC 6962 MTH of leaves [start, end), perfect ranges read from tiles."""
        count = end - start
        if count == 0:
            return _sha256(b"")
        if count & (count - 1) == 0:
            return self.perfect(count.bit_length() - 1, start)
        split = 1 << ((count - 1).bit_length() - 1)
        return _reader_node(self.mth(start, start + split), self.mth(start + split, end))

    def check_every_tile(self) -> None:
        """Every level 0 tile hashes its bundle; every higher hash is the root of a full tile."""
        level = 0
        while self.size >> (8 * level):
            count = self.size >> (8 * level)
            for index in range(-(-count // 256)):
                hashes = self.tile(level, index)
                if level == 0:
                    assert hashes == [_reader_leaf(entry) for entry in self.bundle(index)]
                else:
                    for offset, value in enumerate(hashes):
                        below = self.tile(level - 1, 256 * index + offset)
                        assert len(below) == 256
                        assert value == _reader_perfect_root(below)
            level += 1


def _expected_paths(size: int) -> set[str]:
    """Every tile and bundle path a tree of this size has, from the spec's wording."""
    paths: set[str] = set()
    level = 0
    while size >> (8 * level):
        count = size >> (8 * level)
        kinds = [str(level), "entries"] if level == 0 else [str(level)]
        for kind in kinds:
            paths.update(_reader_path(kind, index, 256) for index in range(count // 256))
            if count % 256:
                paths.add(_reader_path(kind, count // 256, count % 256))
        level += 1
    return paths


def _entries(size: int) -> list[bytes]:
    """Entries of varied lengths, the first one empty."""
    return [f"part-{number}".encode() * (number % 4) for number in range(size)]


def _published(entries: list[bytes]) -> tuple[MemoryTree, dict[str, bytes]]:
    """The tree of the entries and every tile and bundle the module says it has."""
    tree = MemoryTree(leaf_hash(entry) for entry in entries)
    store = {
        tile_path(level, index, width): tile_hashes(level, index, width, tree.subtree)
        for level, index, width in tiles_for(len(entries))
    }
    for index, width in entry_bundles_for(len(entries)):
        store[entries_path(index, width)] = entry_bundle(entries[256 * index:256 * index + width])
    return tree, store


def _check_size(size: int) -> None:
    """Publish a tree as tiles and rebuild its root from the tiles alone."""
    entries = _entries(size)
    tree, store = _published(entries)
    assert set(store) == _expected_paths(size)
    reader = _TileReader(store, size)
    reader.check_every_tile()
    assert reader.fetched == set(store)
    root = _TileReader(store, size).mth(0, size)
    assert root == tree_root(size, tree.subtree) == tree.root()
    for index, width in entry_bundles_for(size):
        bundle = read_entry_bundle(store[entries_path(index, width)], width)
        assert bundle == entries[256 * index:256 * index + width]


# --- The spec's examples. ---


def test_spec_index_example_encodes_and_parses() -> None:
    """Index 1234067 is x001/x234/067, in both directions, for tiles and bundles."""
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert parse_tile_path("tile/0/x001/x234/067") == (0, 1234067, 256)
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert parse_entries_path("tile/entries/x001/x234/067") == (1234067, 256)


def test_spec_size_70000_example_tiles() -> None:
    """A tree of 70,000: 273 full level 0 tiles, partial 112, full level 1, partial 17, then 1."""
    tiles = list(tiles_for(70000))
    assert tiles[:273] == [(0, index, 256) for index in range(273)]
    assert tiles[273:] == [(0, 273, 112), (1, 0, 256), (1, 1, 17), (2, 0, 1)]
    partial = ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    assert [tile_path(*tile) for tile in tiles[273:] if tile[2] < 256] == partial
    assert [parse_tile_path(path) for path in partial] == [(0, 273, 112), (1, 1, 17), (2, 0, 1)]
    assert entries_path(273, 112) == "tile/entries/273.p/112"
    assert parse_entries_path("tile/entries/273.p/112") == (273, 112)
    assert list(entry_bundles_for(70000))[-1] == (273, 112)


def test_spec_size_256_example_tiles() -> None:
    """A tree of 256: one full level 0 tile and a partial level 1 tile of width 1."""
    assert list(tiles_for(256)) == [(0, 0, 256), (1, 0, 1)]
    assert [tile_path(*tile) for tile in tiles_for(256)] == ["tile/0/000", "tile/1/000.p/1"]
    assert list(entry_bundles_for(256)) == [(0, 256)]


def test_small_indices_and_group_boundaries_encode() -> None:
    """Indices around the three-digit group boundaries spell out as the spec's groups."""
    cases = {0: "000", 7: "007", 999: "999", 1000: "x001/000", 1001: "x001/001",
             999999: "x999/999", 1000000: "x001/x000/000"}
    for index, encoded in cases.items():
        assert tile_path(5, index) == f"tile/5/{encoded}"
        assert parse_tile_path(f"tile/5/{encoded}") == (5, index, 256)


def test_tile_width_counts_complete_hashes() -> None:
    """Widths: full, the rightmost partial, and 0 beyond the tree, per level."""
    assert tile_width(0, 0, 0) == 0
    assert tile_width(0, 0, 1) == 1
    assert tile_width(0, 0, 256) == 256
    assert tile_width(0, 1, 256) == 0
    assert tile_width(0, 273, 70000) == 112
    assert tile_width(0, 272, 70000) == 256
    assert tile_width(1, 1, 70000) == 17
    assert tile_width(2, 0, 70000) == 1
    assert tile_width(2, 0, 65535) == 0
    assert tile_width(3, 0, 70000) == 0


@settings(max_examples=80, deadline=None)
@given(level=st.integers(0, 63), index=st.integers(0, 10**15), width=st.integers(1, 256))
def test_paths_round_trip_and_match_the_independent_spelling(
    level: int, index: int, width: int
) -> None:
    """Any level, index and width survive tile_path/parse and spell as the reader spells them."""
    path = tile_path(level, index, width)
    assert path == _reader_path(str(level), index, width)
    assert parse_tile_path(path) == (level, index, width)
    bundle = entries_path(index, width)
    assert bundle == _reader_path("entries", index, width)
    assert parse_entries_path(bundle) == (index, width)


# --- Tiles rebuild the tree. ---


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 511, 512, 65536, 70000])
def test_independent_reader_rebuilds_the_root_from_tiles(size: int) -> None:
    """A reader with only the tiles recomputes the root the tree itself reports."""
    _check_size(size)


@settings(max_examples=12, deadline=None)
@given(size=st.integers(1, 3000))
def test_independent_reader_rebuilds_any_small_tree(size: int) -> None:
    """For any tree of 1 to 3000 leaves, tiles alone give the right root."""
    _check_size(size)


def test_tile_beyond_the_tree_is_not_served() -> None:
    """Asking for hashes the tree has not completed fails in the subtree source."""
    tree = MemoryTree(leaf_hash(entry) for entry in _entries(300))
    assert len(tile_hashes(0, 1, 44, tree.subtree)) == 44 * 32
    with pytest.raises(ProofError):
        tile_hashes(0, 1, 45, tree.subtree)


def test_tile_hashes_refuses_a_wrong_length_hash() -> None:
    """A subtree source returning something other than 32 bytes is refused."""
    with pytest.raises(TileError, match="expected 32"):
        tile_hashes(0, 0, 1, lambda level, index: b"short")


# --- Entry bundles. ---


@settings(max_examples=60, deadline=None)
@given(entries=st.lists(st.binary(max_size=300), min_size=1, max_size=256))
def test_entry_bundles_round_trip(entries: list[bytes]) -> None:
    """Any 1 to 256 entries survive a bundle and match the reader's own parsing."""
    data = entry_bundle(entries)
    assert read_entry_bundle(data) == entries
    assert read_entry_bundle(data, len(entries)) == entries
    assert data == b"".join(len(entry).to_bytes(2, "big") + entry for entry in entries)


def test_entry_bundle_limits() -> None:
    """An entry of 65535 bytes fits; 65536 does not; a bundle holds 1 to 256 entries."""
    largest = b"a" * 65535
    assert read_entry_bundle(entry_bundle([largest, b""])) == [largest, b""]
    with pytest.raises(TileError, match="entry 1 of the bundle is 65536 bytes"):
        entry_bundle([b"", b"a" * 65536])
    with pytest.raises(TileError):
        entry_bundle([])
    with pytest.raises(TileError):
        entry_bundle([b"x"] * 257)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x00\x03ab", b"\x00\x01a\x00", b"\x00\x00" * 257],
)
def test_malformed_entry_bundles_are_refused(data: bytes) -> None:
    """Empty, truncated or over-long bundles are refused."""
    with pytest.raises(TileError):
        read_entry_bundle(data)


def test_entry_bundle_of_the_wrong_width_is_refused() -> None:
    """A bundle read for a width it does not have is refused."""
    with pytest.raises(TileError, match="holds 2 entries; expected 3"):
        read_entry_bundle(entry_bundle([b"a", b"b"]), 3)


# --- Strict parsing and arguments. ---


@pytest.mark.parametrize(
    "path",
    [
        "tile/00/000",
        "tile/07/000",
        "tile/64/000",
        "tile/100/000",
        "tile/-1/000",
        "tile/0/x067",
        "tile/0/001/067",
        "tile/0/67",
        "tile/0/0067",
        "tile/0/x000/067",
        "tile/0/x001/x234/67",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/007",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/000.p/5/6",
        "tile/0/\u0660\u0660\u0660",
        "tile/0/000/",
        "/tile/0/000",
        "tile/0",
        "tile/entries/000",
        "tiles/0/000",
    ],
)
def test_bad_tile_paths_are_refused(path: str) -> None:
    """Each non-canonical tile path raises TileError naming the path on one line."""
    with pytest.raises(TileError) as refused:
        parse_tile_path(path)
    message = str(refused.value)
    assert path in message
    assert "\n" not in message
    assert "expected" in message


@pytest.mark.parametrize(
    "path",
    [
        "tile/entries/x000/000",
        "tile/entries/x001",
        "tile/entries/000.p/256",
        "tile/entries/000.p/0",
        "tile/entries/",
        "tile/entries",
        "tile/0/000",
        "tile/entries/1000",
    ],
)
def test_bad_entry_paths_are_refused(path: str) -> None:
    """Each non-canonical bundle path raises TileError naming the path on one line."""
    with pytest.raises(TileError) as refused:
        parse_entries_path(path)
    message = str(refused.value)
    assert path in message
    assert "\n" not in message
    assert "expected" in message


def test_bad_arguments_are_refused() -> None:
    """Levels, indices, widths and sizes outside the layout raise TileError."""
    with pytest.raises(TileError, match="level 64"):
        tile_path(64, 0)
    with pytest.raises(TileError, match="index -1"):
        tile_path(0, -1)
    with pytest.raises(TileError, match="width 0"):
        entries_path(0, 0)
    with pytest.raises(TileError, match="width 257"):
        tile_path(0, 0, 257)
    with pytest.raises(TileError):
        tile_width(0, 0, -1)
    with pytest.raises(TileError):
        list(tiles_for(-1))
    assert issubclass(TileError, ValueError)
