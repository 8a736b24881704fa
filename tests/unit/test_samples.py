"""The dtl-samples/1 block: lossless timestamps and integers, floats within the resolution."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thread_adapters.samples import ENCODING, SamplesError, decode, encode

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
EPOCH_NS = st.integers(min_value=0, max_value=2**62)
CODECS = st.sampled_from(["none", "zlib", "lzma"])


@st.composite
def times(draw: st.DrawFn, size: int) -> list[int]:
    """Timestamps as a PLC sends them: a start, then steps that are regular, jittered or wild."""
    style = draw(st.sampled_from(["regular", "jitter", "any"]))
    if style == "any":
        return draw(st.lists(INT64, min_size=size, max_size=size))
    start = draw(EPOCH_NS)
    step = draw(st.integers(min_value=0, max_value=10**9))
    jitter = draw(st.lists(st.integers(min_value=-(10**6), max_value=10**6),
                           min_size=size, max_size=size)) if style == "jitter" else [0] * size
    return [start + index * step + wobble for index, wobble in enumerate(jitter)]


@st.composite
def readings(draw: st.DrawFn, values: st.SearchStrategy[object]) -> tuple[list[int], list[object]]:
    """Equal-length timestamps and values."""
    size = draw(st.integers(min_value=0, max_value=300))
    return draw(times(size)), draw(st.lists(values, min_size=size, max_size=size))


@settings(max_examples=300)
@given(data=readings(INT64), codec=CODECS)
def test_integers_and_timestamps_round_trip_exactly(
    data: tuple[list[int], list[int]], codec: str
) -> None:
    """Any int64 timestamps and int64 values come back bit for bit, whatever their spread."""
    stamps, values = data
    block = encode(stamps, np.array(values, dtype=np.int64), codec=codec)  # type: ignore[arg-type]
    samples = decode(block)
    assert samples.times_ns.tolist() == stamps
    assert samples.values.tolist() == values
    assert samples.kind == "integer" or not values


FINITE = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
RESOLUTIONS = st.sampled_from([1e-6, 0.001, 0.01, 0.1, 0.5, 1.0, 25.0])


@settings(max_examples=300)
@given(data=readings(FINITE), resolution=RESOLUTIONS, codec=CODECS)
def test_floats_round_trip_within_half_the_declared_resolution(
    data: tuple[list[int], list[float]], resolution: float, codec: str
) -> None:
    """A quantised value is never further than half a resolution from the reading."""
    stamps, values = data
    block = encode(stamps, np.array(values, dtype=np.float64), resolution=resolution,
                   codec=codec)  # type: ignore[arg-type]
    samples = decode(block)
    assert samples.times_ns.tolist() == stamps
    got = samples.values.astype(np.float64)
    want = np.array(values, dtype=np.float64)
    slack = resolution / 2 + 4 * np.finfo(np.float64).eps * np.abs(want)
    assert np.all(np.abs(got - want) <= slack)


ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=200)
@given(data=readings(ANY_FLOAT))
def test_floats_without_a_resolution_keep_their_bit_patterns(
    data: tuple[list[int], list[float]]
) -> None:
    """Without a resolution every float, NaN and infinity included, is stored exactly."""
    stamps, values = data
    want = np.array(values, dtype=np.float64)
    samples = decode(encode(stamps, want))
    assert samples.times_ns.tolist() == stamps
    assert samples.values.astype(np.float64).view(np.uint64).tolist() == want.view(
        np.uint64).tolist()


def test_flags_are_stored_as_exact_integers() -> None:
    """Boolean readings (alarm bits, triggers) come back as 0 and 1."""
    samples = decode(encode([1, 2, 3], [True, False, True]))
    assert samples.kind == "integer"
    assert samples.values.tolist() == [1, 0, 1]


def test_huge_floats_fall_back_to_exact_storage() -> None:
    """A value too large to quantise at the resolution is kept exactly instead of wrongly."""
    samples = decode(encode([1, 2], [1e300, 2.5], resolution=0.1))
    assert samples.kind == "float64"
    assert samples.values.tolist() == [1e300, 2.5]


def test_a_slowly_varying_signal_costs_under_a_byte_per_sample() -> None:
    """Regular timestamps and a smooth signal at 0.01 resolution compress to < 1 byte a reading."""
    count = 10_000
    stamps = 1_770_000_000_000_000_000 + np.arange(count, dtype=np.int64) * 10_000_000
    noise = np.random.default_rng(7).normal(0, 0.01, count)
    values = 20 + 0.5 * np.sin(np.arange(count) / 600) + noise
    block = encode(stamps, values, resolution=0.01)
    assert len(block) < count
    assert decode(block).resolution == 0.01


def test_mismatched_columns_are_refused() -> None:
    """One timestamp per value, or a clear error."""
    with pytest.raises(SamplesError, match="one timestamp per value"):
        encode([1, 2, 3], [1.0, 2.0])


def test_bad_resolution_and_codec_are_refused() -> None:
    """A resolution must be positive, and the codec one of the three."""
    with pytest.raises(SamplesError, match="resolution above zero"):
        encode([1], [1.0], resolution=0.0)
    with pytest.raises(SamplesError, match="codec"):
        encode([1], [1.0], codec="brotli")  # type: ignore[arg-type]


def test_damaged_blocks_are_refused_with_the_encoding_named() -> None:
    """A truncated or foreign block raises SamplesError, not garbage."""
    block = encode(np.arange(100), np.arange(100) * 1.5, resolution=0.5, codec="none")
    with pytest.raises(SamplesError, match="ends"):
        decode(block[:-3])
    with pytest.raises(SamplesError, match=ENCODING):
        decode(b"PK\x03\x04")
    with pytest.raises(SamplesError, match="damaged"):
        decode(block[:4] + zlib.compress(b"\xff"))
    with pytest.raises(SamplesError, match="after the last column"):
        decode(block + b"\x00")
