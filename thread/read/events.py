"""Log rows decoded for projections: envelope fields and the raw payload, no validation.

Projections never hold a key: a sealed fact reaches them as a ``record.withheld`` and a
sealed name as ``(withheld)`` (:mod:`thread.domain.sealing`), so no read model holds
what the keyring protects.

Projections read every event of the log, so they skip what a reader of one
part needs (pydantic models, chain checks) and take the canonical msgpack
apart directly. ``thread verify`` is what checks the bytes; a projection
trusts that the log it reads is the log that verifies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from thread.domain.condition import moment, nanoseconds
from thread.domain.envelope import EnvelopeError, open_envelope
from thread.domain.facts import Withheld, fact_class
from thread.domain.sealing import PERSONAL, blind, sealed_labels
from thread.domain.topics import subject_of
from thread.errors import IntegrityFailure


class LogEvent(NamedTuple):
    """One event of the log as projections see it (a tuple: a rebuild makes millions)."""

    position: int
    kind: str
    key: str
    version: int
    topic: str
    occurred_ns: int
    recorded_ns: int
    actor: str
    source: str
    source_record_id: str | None
    canonical: bytes
    payload: dict[str, Any]


def decode(position: int, canonical: bytes) -> LogEvent:
    """The event at ``position`` from its canonical bytes."""
    (version, topic, occurred_at, recorded_at, actor, source, source_record_id,
     payload) = unpack_event(canonical, position)
    kind, key = subject_of(topic, payload)
    return LogEvent(position, kind, key, version, topic, nanoseconds(occurred_at),
                    nanoseconds(recorded_at), actor, source, source_record_id, canonical,
                    payload)


def unpack_event(canonical: bytes, position: int) -> tuple[Any, ...]:
    """Version, topic, both times, actor, source, source record id and (upcast) payload."""
    try:
        (_, version, topic, class_version, _, occurred_at, recorded_at, actor, source,
         source_record_id, payload) = open_envelope(canonical)
    except EnvelopeError as error:
        raise IntegrityFailure(f"log position {position} {error}") from None
    labels = sealed_labels(payload)
    if labels is not None:  # sealed content: a projection sees what a keyless reader sees
        kind, key = subject_of(topic, payload)
        payload = {"kind": kind, "key": key, "withheld_topic": topic, "labels": list(labels)}
        topic, class_version = Withheld.topic, Withheld.class_version
    elif topic in PERSONAL:
        payload = blind(payload, topic)
    cls = fact_class(topic)
    if class_version != cls.class_version:
        payload = cls.upcast(payload, class_version)
    return version, topic, occurred_at, recorded_at, actor, source, source_record_id, payload



def pages(raw: Iterable[list[tuple[int, bytes]]]) -> Iterator[list[LogEvent]]:
    """Pages of (leaf index, canonical bytes), decoded."""
    for page in raw:
        yield [decode(position, canonical) for position, canonical in page]


def iso(ns: int) -> str:
    """An ISO 8601 UTC time for nanoseconds since the epoch (microsecond precision)."""
    return moment(ns).isoformat().replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """A payload as JSON-ready data: times in ISO 8601 UTC, raw sample blocks by size only."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return f"({len(value)} bytes)"
    return value
