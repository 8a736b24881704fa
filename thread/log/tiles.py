"""The global log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles): tile paths, contents, bundles.

A tile at tile-level ``L`` and index ``N`` holds up to 256 consecutive hashes of
Merkle level ``8 * L``: the roots of the perfect subtrees ``256 * N`` to
``256 * N + 255`` at that level (leaf hashes at level 0). It is served at
``tile/<L>/<N>``, or ``tile/<L>/<N>.p/<W>`` while only ``W`` (1 to 255) of them
are complete. ``<N>`` is written in three-digit groups, all but the last
prefixed with ``x``: index 1234067 is ``x001/x234/067``. The entries behind the
level 0 tile ``N`` are served at ``tile/entries/<N>[.p/<W>]`` as one bundle:
each entry as a big-endian uint16 length followed by its bytes.

Pure functions over :data:`thread.log.merkle.SubtreeHash`; this module imports
only the standard library and :mod:`thread.log.merkle`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from thread.log.merkle import HASH_SIZE, SubtreeHash

__all__ = [
    "MAX_ENTRY_SIZE",
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileError",
    "entries_path",
    "entry_bundle",
    "entry_bundles_for",
    "parse_entries_path",
    "parse_tile_path",
    "read_entry_bundle",
    "tile_hashes",
    "tile_path",
    "tile_width",
    "tiles_for",
]

#: Hashes in a full tile, and entries in a full bundle.
TILE_WIDTH = 256

#: Merkle levels spanned by one tile-level: a tile at level L holds Merkle level 8 * L.
TILE_HEIGHT = 8

#: The highest tile-level a path may name.
MAX_LEVEL = 63

#: The longest entry a bundle can hold: its length is a uint16.
MAX_ENTRY_SIZE = 0xFFFF

_LENGTH_BYTES = 2
_TILE_FORM = "tile/<L>/<N>[.p/<W>] with L 0 to 63"
_ENTRIES_FORM = "tile/entries/<N>[.p/<W>]"
_INDEX_FORM = (
    "N in three-digit groups, all but the last prefixed with x and the first not x000, "
    "and W 1 to 255 without leading zeros"
)
# [0-9], not \d: \d also matches non-ASCII digits.
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_LAST_GROUP = re.compile(r"[0-9]{3}")
_OTHER_GROUP = re.compile(r"x[0-9]{3}")


class TileError(ValueError):
    """A tile or bundle path, argument or content that the tlog-tiles layout does not allow."""


def _check_level(level: int) -> None:
    """Refuse a tile-level outside 0 to 63."""
    if not 0 <= level <= MAX_LEVEL:
        raise TileError(f"tile level {level} is out of range: expected 0 to {MAX_LEVEL}")


def _check_index(index: int) -> None:
    """Refuse a negative tile or bundle index."""
    if index < 0:
        raise TileError(f"tile index {index} is negative: expected 0 or more")


def _check_width(width: int) -> None:
    """Refuse a width outside 1 to 256."""
    if not 1 <= width <= TILE_WIDTH:
        raise TileError(f"tile width {width} is out of range: expected 1 to {TILE_WIDTH}")


def _encode(index: int, width: int) -> str:
    """``<N>[.p/<W>]``: the index in three-digit groups, and the width if partial."""
    _check_index(index)
    _check_width(width)
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    encoded = "/".join(reversed(groups))
    return encoded if width == TILE_WIDTH else f"{encoded}.p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The path of tile ``index`` at tile-level ``level`` holding ``width`` hashes."""
    _check_level(level)
    return f"tile/{level}/{_encode(index, width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """The path of entry bundle ``index`` holding ``width`` entries."""
    return f"tile/entries/{_encode(index, width)}"


def _decode(what: str, path: str, elements: list[str], form: str) -> tuple[int, int]:
    """``(index, width)`` from the elements of ``<N>[.p/<W>]``; refuses any other spelling."""

    def refuse(problem: str) -> TileError:
        return TileError(f"{what} {path!r}: {problem}; expected {form}, {_INDEX_FORM}")

    width = TILE_WIDTH
    if len(elements) >= 2 and elements[-2].endswith(".p"):
        text = elements[-1]
        if not _DECIMAL.fullmatch(text) or len(text) > 3 or not 1 <= int(text) < TILE_WIDTH:
            raise refuse(f"partial width {text!r} is not a number from 1 to 255")
        width = int(text)
        elements = [*elements[:-2], elements[-2][:-2]]
    if not elements:
        raise refuse("the index is missing")
    *leading, last = elements
    if not _LAST_GROUP.fullmatch(last):
        raise refuse(f"last index element {last!r} is not three digits")
    for element in leading:
        if not _OTHER_GROUP.fullmatch(element):
            raise refuse(f"index element {element!r} is not x and three digits")
    if leading and leading[0] == "x000":
        raise refuse("the index starts with x000, a leading zero group")
    index = 0
    for element in elements:
        index = index * 1000 + int(element[-3:])
    return index, width


def parse_tile_path(path: str) -> tuple[int, int, int]:
    """``(level, index, width)`` of a tile path; raises :class:`TileError` for any other."""
    elements = path.split("/")
    if len(elements) < 3 or elements[0] != "tile":
        raise TileError(f"tile path {path!r} does not start tile/<L>/; expected {_TILE_FORM}")
    text = elements[1]
    if not _DECIMAL.fullmatch(text) or len(text) > 2 or int(text) > MAX_LEVEL:
        raise TileError(
            f"tile path {path!r}: level {text!r} is not a number from 0 to {MAX_LEVEL} "
            f"without leading zeros; expected {_TILE_FORM}"
        )
    index, width = _decode("tile path", path, elements[2:], _TILE_FORM)
    return int(text), index, width


def parse_entries_path(path: str) -> tuple[int, int]:
    """``(index, width)`` of an entry bundle path; raises :class:`TileError` for any other."""
    elements = path.split("/")
    if len(elements) < 3 or elements[:2] != ["tile", "entries"]:
        raise TileError(
            f"entry bundle path {path!r} does not start tile/entries/; expected {_ENTRIES_FORM}"
        )
    return _decode("entry bundle path", path, elements[2:], _ENTRIES_FORM)


def tile_width(level: int, index: int, tree_size: int) -> int:
    """How many hashes tile ``(level, index)`` holds at ``tree_size`` leaves: 256, fewer or 0."""
    _check_level(level)
    _check_index(index)
    if tree_size < 0:
        raise TileError(f"a tree cannot have {tree_size} leaves")
    complete = tree_size >> (TILE_HEIGHT * level)  # perfect subtrees at Merkle level 8 * level
    return max(0, min(TILE_WIDTH, complete - TILE_WIDTH * index))


def tiles_for(tree_size: int) -> Iterator[tuple[int, int, int]]:
    """Every non-empty tile ``(level, index, width)`` of a tree of ``tree_size`` leaves."""
    if tree_size < 0:
        raise TileError(f"a tree cannot have {tree_size} leaves")
    level = 0
    complete = tree_size
    while complete and level <= MAX_LEVEL:
        full, partial = divmod(complete, TILE_WIDTH)
        for index in range(full):
            yield level, index, TILE_WIDTH
        if partial:
            yield level, full, partial
        level += 1
        complete >>= TILE_HEIGHT


def entry_bundles_for(tree_size: int) -> Iterator[tuple[int, int]]:
    """Every non-empty entry bundle ``(index, width)`` of a tree of ``tree_size`` leaves."""
    for level, index, width in tiles_for(tree_size):
        if level:
            return
        yield index, width


def tile_hashes(level: int, index: int, width: int, subtree: SubtreeHash) -> bytes:
    """The contents of tile ``(level, index)``: its first ``width`` hashes, concatenated."""
    _check_level(level)
    _check_index(index)
    _check_width(width)
    merkle_level = TILE_HEIGHT * level
    first = TILE_WIDTH * index
    hashes = [subtree(merkle_level, first + offset) for offset in range(width)]
    for offset, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise TileError(
                f"hash {offset} of tile {tile_path(level, index, width)} is {len(value)} "
                f"bytes; expected {HASH_SIZE}"
            )
    return b"".join(hashes)


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length, then its bytes."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError(f"a bundle of {len(entries)} entries: expected 1 to {TILE_WIDTH}")
    parts = []
    for position, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise TileError(
                f"entry {position} of the bundle is {len(entry)} bytes; "
                f"expected at most {MAX_ENTRY_SIZE}"
            )
        parts.append(len(entry).to_bytes(_LENGTH_BYTES, "big"))
        parts.append(bytes(entry))
    return b"".join(parts)


def read_entry_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """The entries of a bundle, refusing a truncated one or one not of ``width`` entries."""
    entries: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(entries) == TILE_WIDTH:
            raise TileError(
                f"entry bundle has data after entry {TILE_WIDTH} at byte {offset}; "
                f"expected at most {TILE_WIDTH} entries"
            )
        if offset + _LENGTH_BYTES > len(data):
            raise TileError(
                f"entry bundle ends inside the length of entry {len(entries)} at byte {offset}"
            )
        length = int.from_bytes(data[offset:offset + _LENGTH_BYTES], "big")
        start = offset + _LENGTH_BYTES
        if start + length > len(data):
            raise TileError(
                f"entry {len(entries)} of the bundle claims {length} bytes but only "
                f"{len(data) - start} remain"
            )
        entries.append(bytes(data[start:start + length]))
        offset = start + length
    if not entries:
        raise TileError("entry bundle is empty; expected 1 to 256 entries")
    if width is not None and len(entries) != width:
        raise TileError(f"entry bundle holds {len(entries)} entries; expected {width}")
    return entries
