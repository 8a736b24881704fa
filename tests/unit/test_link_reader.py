"""Reading chain links through one unpacker gives, event by event, what reading each alone does."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st
from test_canonical import envelopes, event, facts

from thread.domain.envelope import PREFIX, EnvelopeError, Link, LinkReader, chain_link


def _alone(canonical: bytes) -> Link | str:
    try:
        return chain_link(canonical)
    except EnvelopeError as error:
        return str(error)


def _through(reader: LinkReader, canonical: bytes) -> Link | str:
    try:
        return reader(canonical)
    except EnvelopeError as error:
        return str(error)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """An event's canonical bytes, often damaged the ways a stored row can be."""
    good = event(draw(facts), draw(envelopes())).canonical
    how = draw(st.sampled_from(["intact", "intact", "cut", "extra", "flip", "prefix",
                                "other array", "not an array", "wrong type"]))
    if how == "cut":
        return good[:draw(st.integers(0, len(good) - 1))]
    if how == "extra":
        return good + draw(st.binary(min_size=1, max_size=8))
    if how == "flip":
        at = draw(st.integers(len(PREFIX), len(good) - 1))
        return good[:at] + bytes([good[at] ^ draw(st.integers(1, 255))]) + good[at + 1:]
    if how == "prefix":
        return b"XTL\x01" + good[len(PREFIX):]
    body: Any = msgpack.unpackb(good[len(PREFIX):], raw=False, timestamp=0)
    if how == "other array":
        return PREFIX + msgpack.packb(body[:draw(st.integers(0, 10))], datetime=False)
    if how == "not an array":
        return PREFIX + msgpack.packb({"id": body[0]})
    field = draw(st.sampled_from([0, 1, 2, 4, 8, 9]))
    body[field] = draw(st.sampled_from([1.5, "text", b"\x00" * 3, None, [1], True]))
    return PREFIX + msgpack.packb(body, datetime=False)


@settings(max_examples=150)
@given(st.lists(damaged(), min_size=1, max_size=8))
def test_a_stream_of_events_reads_as_each_alone(stream: list[bytes]) -> None:
    """Good and damaged events in any order: each link or refusal is exactly chain_link's."""
    reader = LinkReader()
    for canonical in stream:
        assert _through(reader, canonical) == _alone(canonical)


@settings(max_examples=50)
@given(facts, envelopes(), st.integers(1, 40), st.binary(min_size=1, max_size=4))
def test_a_damaged_event_does_not_swallow_the_next(fact: Any, envelope: dict[str, Any],
                                                   cut: int, extra: bytes) -> None:
    """After an event cut short or with bytes after it, the next good one reads whole."""
    good = event(fact, envelope).canonical
    reader = LinkReader()
    assert reader(good) == chain_link(good)
    for bad in (good[:-min(cut, len(good) - len(PREFIX))], good + extra):
        assert isinstance(_through(reader, bad), str)
        assert reader(good) == chain_link(good)
