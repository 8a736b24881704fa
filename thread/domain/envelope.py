"""The event envelope: how an event's canonical bytes decode, in one place.

Canonical bytes are ``PREFIX`` and a msgpack array of eleven fields: aggregate
id (16 bytes), version, topic, class version, the previous event's hash (32
bytes), occurred time, recorded time, actor, source, source record id and the
fact's payload map. The chain, the read side, ``thread verify`` and the
offline verifier all read events through :func:`open_envelope`, so they agree
on what an event says. This module needs only the standard library and
msgpack: the offline verifier imports it without pydantic or any storage.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID, uuid5

import msgpack

from thread.errors import IntegrityFailure

#: Format tag of the canonical encoding; bump it with any change to the rules.
PREFIX = b"DTL\x01"
#: Fields of the envelope array.
FIELDS = 11
#: Bytes of a SHA-256 hash and of an aggregate id.
HASH_SIZE, ID_SIZE = 32, 16
#: The predecessor hash of every aggregate's first event.
GENESIS = bytes(HASH_SIZE)
#: Namespace of the ledger's deterministic aggregate ids.
NAMESPACE = UUID("6f1c2f4e-3a57-5e0b-9a4e-0c5d1b2a7e10")


@lru_cache(maxsize=65_536)
def aggregate_id(kind: str, key: str) -> UUID:
    """The deterministic id of a subject's aggregate: UUIDv5 of ``kind:key``."""
    return uuid5(NAMESPACE, f"{kind}:{key}")


class EnvelopeError(IntegrityFailure):
    """Bytes that are not an event in the ledger's canonical layout."""


class Envelope(NamedTuple):
    """One event's envelope and raw payload, as its canonical bytes hold them."""

    aggregate_id: bytes
    version: int
    topic: str
    class_version: int
    prev_hash: bytes
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    source: str
    source_record_id: str | None
    payload: dict[str, Any]


_TYPES: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("aggregate id", bytes), ("version", int), ("topic", str), ("class version", int),
    ("previous hash", bytes), ("occurred time", datetime), ("recorded time", datetime),
    ("actor", str), ("source", str), ("source record id", (str, type(None))),
    ("payload", dict),
)
#: The field types msgpack gives a well-formed envelope, with and without a source record id:
#: one comparison of exact types accepts it; anything else is looked at field by field.
_EXACT = frozenset({tuple(kind if isinstance(kind, type) else kind[0] for _, kind in _TYPES),
                    tuple(kind if isinstance(kind, type) else kind[1] for _, kind in _TYPES)})


def heading(canonical: bytes) -> tuple[bytes, int, str] | None:
    """An event's aggregate id, version and topic, read without decoding the rest (an index
    needs no more); None for bytes that do not start like an event."""
    if not canonical.startswith(PREFIX):
        return None
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(canonical[len(PREFIX):])
    try:
        if unpacker.read_array_header() != FIELDS:
            return None
        ident, version, topic = unpacker.unpack(), unpacker.unpack(), unpacker.unpack()
    except (ValueError, TypeError, msgpack.OutOfData, msgpack.FormatError,
            msgpack.StackError):
        return None
    if (type(ident) is not bytes or len(ident) != ID_SIZE or type(version) is not int
            or type(topic) is not str):
        return None
    return ident, version, topic


class Link(NamedTuple):
    """What a chain check needs of an event: whose, which, and what it links to."""

    aggregate_id: bytes
    version: int
    topic: str
    prev_hash: bytes
    source: str
    source_record_id: str | None


#: What msgpack raises for bytes that are not a well-formed value.
_MSGPACK_ERRORS = (ValueError, TypeError, OverflowError, msgpack.OutOfData,
                   msgpack.FormatError, msgpack.StackError)


def _unpack_link(unpacker: msgpack.Unpacker) -> tuple[Link, bool] | None:
    """The link fields of the event next in ``unpacker`` (the others skipped over), as
    msgpack gives them, and whether each has its type; None when it is not an array of
    FIELDS. msgpack's errors pass through."""
    if unpacker.read_array_header() != FIELDS:
        return None
    ident, version, topic = unpacker.unpack(), unpacker.unpack(), unpacker.unpack()
    unpacker.skip()  # class version
    prev_hash = unpacker.unpack()
    unpacker.skip()  # occurred time
    unpacker.skip()  # recorded time
    unpacker.skip()  # actor
    source, record_id = unpacker.unpack(), unpacker.unpack()
    unpacker.skip()  # payload
    return Link(ident, version, topic, prev_hash, source, record_id), (
        type(ident) is bytes and len(ident) == ID_SIZE and type(version) is int
        and type(topic) is str and type(prev_hash) is bytes and len(prev_hash) == HASH_SIZE
        and type(source) is str and (record_id is None or type(record_id) is str))


def chain_link(canonical: bytes) -> Link:
    """The fields of an event's envelope that place it in its chain, read without decoding
    its times or payload (which are only skipped over); :class:`EnvelopeError` as
    :func:`open_envelope` for bytes that are not an event in the canonical layout."""
    if not canonical.startswith(PREFIX):
        raise EnvelopeError(
            f"starts with {canonical[:4]!r}, not the canonical prefix {PREFIX!r}")
    unpacker = msgpack.Unpacker(raw=False, timestamp=0, strict_map_key=True)
    unpacker.feed(memoryview(canonical)[len(PREFIX):])
    try:
        read = _unpack_link(unpacker)
    except _MSGPACK_ERRORS as error:
        raise EnvelopeError(f"is not valid msgpack: {error}") from None
    if read is None:
        raise EnvelopeError(f"does not have the ledger's event layout of {FIELDS} fields")
    if unpacker.tell() != len(canonical) - len(PREFIX):
        raise EnvelopeError("has bytes after its event")
    link, typed = read
    if not typed:
        envelope = open_envelope(canonical)  # names the field that is wrong
        return Link(envelope.aggregate_id, envelope.version, envelope.topic,
                    envelope.prev_hash, envelope.source, envelope.source_record_id)
    return link


class LinkReader:
    """:func:`chain_link` for many events in a row, through one msgpack unpacker (making one
    per event is a third of the cost of reading a link). An event it cannot read whole, as
    a well-formed event, goes to :func:`chain_link`, which reads or refuses it exactly as
    for one event; the unpacker starts afresh after it."""

    def __init__(self) -> None:
        self._fresh()

    def _fresh(self) -> None:
        self._unpacker = msgpack.Unpacker(raw=False, timestamp=0, strict_map_key=True)
        self._end = 0  # where the unpacker's stream ends: every event fed was read whole

    def __call__(self, canonical: bytes) -> Link:
        if not canonical.startswith(PREFIX):
            return chain_link(canonical)
        unpacker = self._unpacker
        end = self._end + len(canonical) - len(PREFIX)
        unpacker.feed(memoryview(canonical)[len(PREFIX):])
        try:
            read = _unpack_link(unpacker)
            if read is not None and read[1] and unpacker.tell() == end:
                self._end = end
                return read[0]
        except _MSGPACK_ERRORS:
            pass
        self._fresh()  # part of this event may still sit in the unpacker's stream
        return chain_link(canonical)


def open_envelope(canonical: bytes) -> Envelope:
    """Decode an event's canonical bytes; :class:`EnvelopeError` says what is wrong."""
    if not canonical.startswith(PREFIX):
        raise EnvelopeError(
            f"starts with {canonical[:4]!r}, not the canonical prefix {PREFIX!r}")
    try:
        body = msgpack.unpackb(canonical[len(PREFIX):], timestamp=3, raw=False,
                               strict_map_key=True, use_list=True)
    except (ValueError, TypeError, OverflowError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError) as error:
        raise EnvelopeError(f"is not valid msgpack: {error}") from None
    if type(body) is not list or len(body) != FIELDS:
        raise EnvelopeError(f"does not have the ledger's event layout of {FIELDS} fields")
    if tuple(map(type, body)) not in _EXACT:
        for (name, kind), value in zip(_TYPES, body, strict=True):
            if not isinstance(value, kind) or isinstance(value, bool):
                raise EnvelopeError(f"its {name} is a {type(value).__name__}")
    if len(body[0]) != ID_SIZE or len(body[4]) != HASH_SIZE:
        raise EnvelopeError("its aggregate id or previous hash has the wrong length")
    return Envelope(*body)
