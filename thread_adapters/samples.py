"""The raw-samples block of a process record: columnar, delta-coded, compressed.

A :class:`~thread.facts.ParameterSummary` may carry the readings it
summarises as ``samples`` bytes, named by ``samples_encoding``. This module
writes and reads the ``dtl-samples/1`` encoding:

- **timestamps** (ns since the Unix epoch): the first one, a time quantum
  (the greatest common divisor of the steps, so a PLC that stamps in
  milliseconds costs nothing for the digits it never uses), the first step
  in quanta, then delta-of-delta of the steps. Exact.
- **values**, one of three kinds: *integer* (counters, flags, whole numbers;
  exact), *quantised* (a float rounded to a declared resolution, then delta
  coded; within half a resolution of the reading), or *float64* (bit
  patterns XORed with their predecessor; exact).
- every integer column is zigzag-mapped, cut to the fewest bytes that hold
  its largest value and stored as byte planes (all low bytes, then all next
  bytes), so a slowly varying signal leaves long runs of zeros for the
  compressor, then **zlib** or **lzma** over the whole body.

Block layout (little-endian)::

    "DS" version=1 codec(0 none, 1 zlib, 2 lzma) | compressed body
    body: u32 n
          i64 t0, u64 quantum, i64 first step (if n >= 2), u8 width, planes of n-2 dods
          u8 kind (1 integer, 2 quantised, 3 float64)
          [f64 resolution if quantised]
          i64 first (bit pattern for float64), u8 width, planes of n-1 deltas

Arithmetic on the columns wraps modulo 2**64 on both sides, so any int64
timestamps and integers round-trip exactly, whatever their spread.
"""

from __future__ import annotations

import lzma
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thread.errors import LedgerError

#: The ``samples_encoding`` this module writes and reads.
ENCODING = "dtl-samples/1"

#: How the body is compressed.
Codec = Literal["none", "zlib", "lzma"]
#: How the values are stored.
Kind = Literal["integer", "quantised", "float64"]

_MAGIC = b"DS"
_VERSION = 1
_CODECS: dict[str, int] = {"none": 0, "zlib": 1, "lzma": 2}
_CODEC_NAMES = {number: name for name, number in _CODECS.items()}
_KINDS: dict[str, int] = {"integer": 1, "quantised": 2, "float64": 3}
_KIND_NAMES: dict[int, Kind] = {1: "integer", 2: "quantised", 3: "float64"}
#: Above this magnitude in resolutions, a quantised value would lose integer precision.
_QUANTISABLE = float(2**52)
#: Timestamps inside this range have steps that fit an int64, so their quantum can be found.
_STEP_SAFE = 2**62
_U64_ONE = np.uint64(1)


class SamplesError(LedgerError):
    """A samples block cannot be written or read: names what is wrong with it."""


@dataclass(frozen=True)
class Samples:
    """Readings decoded from a samples block, oldest first."""

    #: Source times, ns since the Unix epoch (UTC).
    times_ns: NDArray[np.int64]
    #: Values: int64 for the integer kind, float64 otherwise.
    values: NDArray[np.int64] | NDArray[np.float64]
    #: How the values were stored.
    kind: Kind
    #: The declared resolution of a quantised block, else None.
    resolution: float | None

    def __len__(self) -> int:
        return len(self.times_ns)


def encode(
    times_ns: ArrayLike,
    values: ArrayLike,
    *,
    resolution: float | None = None,
    codec: Codec = "zlib",
    level: int | None = None,
) -> bytes:
    """Encode readings as a ``dtl-samples/1`` block.

    Integer values (or floats that are all whole numbers) are stored exactly;
    floats with a ``resolution`` are rounded to a multiple of it; other floats
    keep their exact bit patterns. ``level`` is the compressor's level
    (zlib 0-9, default 6; lzma preset 0-9, default 6).
    """
    times = np.ascontiguousarray(times_ns, dtype=np.int64)
    data = np.asarray(values)
    if times.ndim != 1 or data.ndim != 1 or len(times) != len(data):
        raise SamplesError(
            f"samples need one timestamp per value (got {times.shape} timestamps, "
            f"{data.shape} values)"
        )
    if len(times) >= 2**32:
        raise SamplesError(f"a samples block holds fewer than 2**32 readings, not {len(times)}")
    if codec not in _CODECS:
        raise SamplesError(f"codec 'none', 'zlib' or 'lzma', not {codec!r}")
    if resolution is not None and not (math.isfinite(resolution) and resolution > 0):
        raise SamplesError(f"a resolution above zero, not {resolution!r}")
    parts = [struct.pack("<I", len(times))]
    if len(times):
        parts.append(_time_column(times))
        parts.append(_value_column(data, resolution))
    body = b"".join(parts)
    return _MAGIC + bytes((_VERSION, _CODECS[codec])) + _compress(body, codec, level)


def decode(block: bytes) -> Samples:
    """Decode a ``dtl-samples/1`` block; a damaged block raises :class:`SamplesError`."""
    if len(block) < 4 or block[:2] != _MAGIC:
        raise SamplesError(f"not a {ENCODING} block (it does not start with 'DS')")
    if block[2] != _VERSION:
        raise SamplesError(f"{ENCODING} block of version {block[2]}; this library reads 1")
    codec = _CODEC_NAMES.get(block[3])
    if codec is None:
        raise SamplesError(f"{ENCODING} block with unknown codec number {block[3]}")
    try:
        body = _decompress(block[4:], codec)
        return _Reader(body).samples()
    except (zlib.error, lzma.LZMAError, struct.error, ValueError, IndexError) as error:
        raise SamplesError(f"damaged {ENCODING} block ({codec}): {error}") from None


# Writing


def _time_column(times: NDArray[np.int64]) -> bytes:
    n = len(times)
    quantum = 1
    if n >= 2 and int(times.min()) >= -_STEP_SAFE and int(times.max()) < _STEP_SAFE:
        steps = np.diff(times)
        quantum = int(np.gcd.reduce(np.abs(steps))) or 1
    head = struct.pack("<qQ", int(times[0]), quantum)
    if n < 2:
        return head
    # Wrapping unsigned arithmetic: exact modulo 2**64 whatever the spread.
    unsigned = times.view(np.uint64)
    steps_u = unsigned[1:] - unsigned[:-1]
    if quantum > 1:
        steps_u = (steps_u.view(np.int64) // quantum).view(np.uint64)
    dods = steps_u[1:] - steps_u[:-1]
    return (head + struct.pack("<q", int(steps_u[:1].view(np.int64)[0]))
            + _planes(_zigzag(dods)))


def _value_column(data: NDArray[np.generic], resolution: float | None) -> bytes:
    if data.dtype == np.bool_ or np.issubdtype(data.dtype, np.integer):
        if data.dtype == np.uint64 and len(data) and int(data.max()) >= 2**63:
            raise SamplesError("integer samples fit a signed 64-bit integer")
        return _integers(data.astype(np.int64), b"")
    if not np.issubdtype(data.dtype, np.floating):
        raise SamplesError(f"samples are numbers or flags, not {data.dtype}")
    floats = data.astype(np.float64)
    finite = bool(np.isfinite(floats).all())
    if finite and resolution is not None:
        scaled = floats / resolution
        if float(np.abs(scaled).max()) < _QUANTISABLE:
            return _integers(np.rint(scaled).astype(np.int64), struct.pack("<d", resolution))
    if finite and float(np.abs(floats).max()) < _QUANTISABLE:
        whole = floats.astype(np.int64)
        if np.array_equal(whole, floats):
            return _integers(whole, b"")
    bits = floats.view(np.uint64)
    xors = bits[1:] ^ bits[:-1]
    return (bytes((_KINDS["float64"],)) + struct.pack("<Q", int(bits[0])) + _planes(xors))


def _integers(numbers: NDArray[np.int64], resolution: bytes) -> bytes:
    kind = _KINDS["quantised"] if resolution else _KINDS["integer"]
    unsigned = numbers.view(np.uint64)
    deltas = unsigned[1:] - unsigned[:-1]
    return (bytes((kind,)) + resolution + struct.pack("<q", int(numbers[0]))
            + _planes(_zigzag(deltas)))


def _zigzag(unsigned: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Small magnitudes of either sign become small unsigned numbers."""
    signed = unsigned.view(np.int64)
    return (unsigned << _U64_ONE) ^ (signed >> np.int64(63)).view(np.uint64)


def _planes(numbers: NDArray[np.uint64]) -> bytes:
    """The fewest low bytes that hold every number, one plane per byte position."""
    if numbers.dtype != np.uint64:
        numbers = numbers.view(np.uint64)
    if not len(numbers):
        return b"\x00"
    width = (int(numbers.max()).bit_length() + 7) // 8
    if width == 0:
        return b"\x00"
    little = numbers.astype("<u8", copy=False)
    matrix = little.view(np.uint8).reshape(-1, 8)[:, :width]
    return bytes((width,)) + np.ascontiguousarray(matrix.T).tobytes()


def _compress(body: bytes, codec: str, level: int | None) -> bytes:
    if codec == "zlib":
        return zlib.compress(body, 6 if level is None else level)
    if codec == "lzma":
        return lzma.compress(body, format=lzma.FORMAT_RAW,
                             filters=[{"id": lzma.FILTER_LZMA2,
                                       "preset": 6 if level is None else level}])
    return body


def _decompress(data: bytes, codec: str) -> bytes:
    if codec == "zlib":
        return zlib.decompress(data)
    if codec == "lzma":
        return lzma.decompress(data, format=lzma.FORMAT_RAW,
                               filters=[{"id": lzma.FILTER_LZMA2}])
    return data


# Reading


class _Reader:
    """Reads the body of a block front to back, checking every length."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.body):
            raise ValueError(f"the block ends {self.at + size - len(self.body)} bytes early")
        chunk = self.body[self.at:self.at + size]
        self.at += size
        return chunk

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def planes(self, count: int) -> NDArray[np.uint64]:
        width = self.take(1)[0]
        if width > 8:
            raise ValueError(f"a column width of {width} bytes (at most 8)")
        if count == 0 or width == 0:
            return np.zeros(count, dtype=np.uint64)
        raw = np.frombuffer(self.take(count * width), dtype=np.uint8).reshape(width, count)
        matrix = np.zeros((count, 8), dtype=np.uint8)
        matrix[:, :width] = raw.T
        return matrix.view("<u8").reshape(count).astype(np.uint64)

    def samples(self) -> Samples:
        (n,) = self.unpack("<I")
        count = int(n)
        if count == 0:
            self.end()
            return Samples(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64),
                           "float64", None)
        times = self.times(count)
        kind_number = self.take(1)[0]
        kind = _KIND_NAMES.get(kind_number)
        if kind is None:
            raise ValueError(f"unknown value kind {kind_number}")
        resolution: float | None = None
        values: NDArray[np.int64] | NDArray[np.float64]
        if kind == "float64":
            (first,) = self.unpack("<Q")
            xors = self.planes(count - 1)
            bits = np.empty(count, dtype=np.uint64)
            bits[0] = int(first)
            bits[1:] = xors
            values = np.bitwise_xor.accumulate(bits).view(np.float64)
        else:
            if kind == "quantised":
                (resolution_read,) = self.unpack("<d")
                resolution = float(resolution_read)
            (first,) = self.unpack("<q")
            numbers = _accumulate(np.int64(int(first)).view(np.uint64),
                                  _unzigzag(self.planes(count - 1)))
            values = numbers if resolution is None else np.multiply(
                numbers, resolution, dtype=np.float64)
        self.end()
        return Samples(times, values, kind, resolution)

    def times(self, count: int) -> NDArray[np.int64]:
        t0, quantum = self.unpack("<qQ")
        if count == 1:
            return np.array([int(t0)], dtype=np.int64)
        (first_step,) = self.unpack("<q")
        dods = _unzigzag(self.planes(count - 2))
        steps = _accumulate(np.int64(int(first_step)).view(np.uint64), dods).view(np.uint64)
        offsets = np.zeros(count, dtype=np.uint64)
        np.cumsum(steps, out=offsets[1:])
        if int(quantum) != 1:
            offsets *= np.uint64(int(quantum))
        return (offsets + np.int64(int(t0)).view(np.uint64)).view(np.int64)

    def end(self) -> None:
        if self.at != len(self.body):
            raise ValueError(f"{len(self.body) - self.at} bytes after the last column")


def _unzigzag(numbers: NDArray[np.uint64]) -> NDArray[np.uint64]:
    return (numbers >> _U64_ONE) ^ (np.uint64(0) - (numbers & _U64_ONE))


def _accumulate(first: np.uint64, deltas: NDArray[np.uint64]) -> NDArray[np.int64]:
    """``first`` followed by its running sums with ``deltas``, wrapping modulo 2**64."""
    out = np.empty(len(deltas) + 1, dtype=np.uint64)
    out[0] = first
    if len(deltas):
        np.cumsum(deltas, out=out[1:])
        out[1:] += first
    return out.view(np.int64)


def readings(block: bytes) -> list[tuple[int, float]]:
    """A block's readings as (ns since the epoch, value) pairs, oldest first."""
    decoded = decode(block)
    return [(int(t), float(v)) for t, v in zip(decoded.times_ns, decoded.values, strict=True)]


#: The decoders of each samples encoding this module reads, by its name; the ledger's
#: read views find them through the ``thread.samples`` entry point.
DECODERS = {ENCODING: readings}
