"""Events and aggregates as a hash chain.

Every event's canonical bytes hold its aggregate id, version, topic, class
version, the hash of its predecessor in the same aggregate, both times,
actor, source and the fact's payload. Its hash is SHA-256 of those bytes, so
each event commits to the whole history of its aggregate before it.
Replaying an aggregate checks every link.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from thread.domain.canonical import (
    CanonicalError,
    model_payload,
    normalise,
    pack_normalised,
    utc,
)
from thread.domain.envelope import GENESIS, NAMESPACE, EnvelopeError, aggregate_id, open_envelope
from thread.domain.facts.base import Fact, SubjectKind, fact_class
from thread.domain.facts.records import Withheld
from thread.domain.sealing import Keys, Sealing, context, seal, unseal
from thread.domain.topics import subject_of
from thread.errors import IntegrityFailure, InvalidFact, LedgerError, UnknownSubject

__all__ = ["GENESIS", "NAMESPACE", "Aggregate", "Recorded", "aggregate_id"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """One fact as the ledger holds it: envelope, payload and place in the chain."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime  # when the ledger recorded it (eventsourcing's name)
    occurred_at: datetime
    fact: Fact
    actor: str
    source: str
    source_record_id: str | None
    prev_hash: bytes
    canonical: bytes
    hash: bytes

    @property
    def recorded_at(self) -> datetime:
        """When the ledger learned the fact."""
        return self.timestamp

    @property
    def topic(self) -> str:
        """The fact's stable topic name."""
        return self.fact.topic

    @classmethod
    def create(
        cls,
        *,
        originator_id: UUID,
        version: int,
        fact: Fact,
        occurred_at: datetime,
        recorded_at: datetime,
        actor: str,
        source: str,
        source_record_id: str | None,
        prev_hash: bytes,
        sealing: Sealing | None = None,
    ) -> Recorded:
        """Build the next event of an aggregate and its canonical bytes and hash; with
        ``sealing``, its personal fields and (for a labelled subject) its content are
        sealed inside the canonical bytes (:mod:`thread.domain.sealing`)."""
        try:
            occurred_at = utc(occurred_at, "occurred_at")
            recorded_at = utc(recorded_at, "recorded_at")
            payload = model_payload(fact)
            if sealing is not None:
                payload = normalise(seal(payload, topic=fact.topic,
                                         where=context(originator_id.bytes, version,
                                                       fact.topic),
                                         labels=sealing.labels, keys=sealing.keys))
        except CanonicalError as error:
            path, _, problem = str(error).partition(": ")
            kind, key = fact.subject
            raise InvalidFact(
                type(fact).__name__, f"{kind} {key}", [(path, None, problem)]
            ) from None
        canonical = pack_normalised([
            originator_id.bytes, version, fact.topic, fact.class_version, prev_hash,
            occurred_at, recorded_at, actor, source, source_record_id, payload,
        ])
        return cls(
            originator_id=originator_id,
            originator_version=version,
            timestamp=recorded_at,
            occurred_at=occurred_at,
            fact=fact,
            actor=actor,
            source=source,
            source_record_id=source_record_id,
            prev_hash=prev_hash,
            canonical=canonical,
            hash=hashlib.sha256(canonical).digest(),
        )

    @classmethod
    def decode(cls, canonical: bytes, keys: Keys | None = None) -> Recorded:
        """Rebuild an event from its canonical bytes, upcasting old class versions. Sealed
        content opens with ``keys``; what does not open reads as withheld."""
        try:
            envelope = open_envelope(canonical)
        except EnvelopeError as error:
            raise IntegrityFailure(f"stored event {error}") from None
        (raw_id, version, topic, class_version, prev_hash, occurred_at, recorded_at,
         actor, source, source_record_id, payload) = envelope
        try:
            originator_id = UUID(bytes=raw_id)
            fact_type = fact_class(topic)
            fact: Fact
            payload, withheld = unseal(payload, topic=topic, keys=keys,
                                       where=context(raw_id, version, topic))
            if withheld is not None:
                kind, key = subject_of(topic, payload)
                fact = Withheld(kind=kind, key=key, withheld_topic=topic, labels=withheld)
            else:
                state = fact_type.upcast(payload, class_version)
                fact = fact_type.parse(state)
        except (ValueError, TypeError, LedgerError) as error:
            raise IntegrityFailure(
                f"stored event {topic!r} version {version} does not decode: {error}",
                version=version if isinstance(version, int) else None,
            ) from None
        return cls(
            originator_id=originator_id,
            originator_version=version,
            timestamp=recorded_at,
            occurred_at=occurred_at,
            fact=fact,
            actor=actor,
            source=source,
            source_record_id=source_record_id,
            prev_hash=prev_hash,
            canonical=canonical,
            hash=hashlib.sha256(canonical).digest(),
        )

    def mutate(self, aggregate: Aggregate | None) -> Aggregate:
        """Apply this event as the next link of ``aggregate``'s chain (creating it if new)."""
        if aggregate is None:
            kind, key = self.fact.subject
            aggregate = Aggregate.of_kind(kind)(kind_key=key, id=self.originator_id)
        aggregate.link(self)
        return aggregate


class Aggregate:
    """A subject with its own hash chain: a part, a lot, a machine or a design item."""

    kind: ClassVar[SubjectKind]
    _kinds: ClassVar[dict[str, type[Aggregate]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            Aggregate._kinds[cls.kind] = cls

    @staticmethod
    def of_kind(kind: str) -> type[Aggregate]:
        """The aggregate class for a subject kind."""
        return Aggregate._kinds[kind]

    def __init__(self, *, kind_key: str, id: UUID | None = None) -> None:
        self.key = kind_key
        self.id = id if id is not None else aggregate_id(self.kind, kind_key)
        self.version = 0
        self.head_hash = GENESIS
        self.hashes: list[bytes] = []
        self.created_on: datetime | None = None
        self.modified_on: datetime | None = None
        self._pending: list[Recorded] = []

    @property
    def label(self) -> str:
        """How messages name this subject, for example ``part SN-0042``."""
        return f"{self.kind} {self.key}"

    @property
    def exists(self) -> bool:
        """True once the subject has been registered."""
        return self.version > 0

    def record(
        self,
        fact: Fact,
        *,
        occurred_at: datetime,
        recorded_at: datetime,
        actor: str,
        source: str,
        source_record_id: str | None = None,
        sealing: Sealing | None = None,
    ) -> Recorded:
        """Check ``fact`` against what this subject already knows, then append it (sealed
        as ``sealing`` says)."""
        if not self.exists and not isinstance(fact, self.creators()):
            names = " or ".join(cls.__name__ for cls in self.creators())
            raise UnknownSubject(
                f"{self.label} is not registered: record {names} before {type(fact).__name__}"
            )
        if fact.subject != (self.kind, self.key):
            raise LedgerError(f"{type(fact).__name__} is about {fact.subject}, not {self.label}")
        self.check(fact)
        event = Recorded.create(
            originator_id=self.id,
            version=self.version + 1,
            fact=fact,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            actor=actor,
            source=source,
            source_record_id=source_record_id,
            prev_hash=self.head_hash,
            sealing=sealing,
        )
        self.link(event)
        self._pending.append(event)
        return event

    def link(self, event: Recorded) -> None:
        """Append ``event`` after checking it is the next link of this chain."""
        if event.originator_id != self.id:
            raise IntegrityFailure(
                f"{self.label}: event belongs to aggregate {event.originator_id}, not {self.id}",
                subject=self.label, version=event.originator_version,
            )
        if event.originator_version != self.version + 1:
            raise IntegrityFailure(
                f"{self.label}: version {event.originator_version} follows version "
                f"{self.version}; the chain has a gap or a repeat",
                subject=self.label, version=event.originator_version,
            )
        if event.prev_hash != self.head_hash:
            raise IntegrityFailure(
                f"{self.label}: version {event.originator_version} ({event.topic}) does not "
                f"link to the hash of version {self.version}; an earlier event was changed",
                subject=self.label, version=event.originator_version,
            )
        self.apply(event)
        self.version = event.originator_version
        self.head_hash = event.hash
        self.hashes.append(event.hash)
        if self.created_on is None:
            self.created_on = event.recorded_at
        self.modified_on = event.recorded_at

    @classmethod
    def replay(cls, key: str, events: list[Recorded]) -> Aggregate:
        """State after ``events`` (a selection of an already verified history, in order)."""
        aggregate = cls(kind_key=key, id=events[0].originator_id if events else None)
        for event in events:
            aggregate.apply(event)
            aggregate.version = event.originator_version
            aggregate.head_hash = event.hash
            aggregate.hashes.append(event.hash)
            if aggregate.created_on is None:
                aggregate.created_on = event.recorded_at
            aggregate.modified_on = event.recorded_at
        return aggregate

    def fork(self) -> Aggregate:
        """A copy to record on: this one stays as it is if the copy's events never land.

        Values that cannot change (strings, numbers, times, tuples, facts, frozen
        dataclasses) are shared; lists, dicts, sets and other objects are copied.
        """
        clone = object.__new__(type(self))
        state = clone.__dict__
        for name, value in vars(self).items():
            state[name] = value if type(value) in _SHARED or name in _FORKED else _copied(value)
        state["hashes"] = list(self.hashes)
        state["_pending"] = []
        return clone

    def collect_events(self) -> list[Recorded]:
        """Hand over the events recorded since the last save."""
        pending, self._pending = self._pending, []
        return pending

    def hash_of(self, version: int) -> bytes:
        """The hash of this subject's event at ``version``."""
        if not 1 <= version <= self.version:
            raise LedgerError(f"{self.label} has no version {version} (latest {self.version})")
        return self.hashes[version - 1]

    # Subclasses say which facts may start them, what they refuse, and how facts change them.

    @classmethod
    def creators(cls) -> tuple[type[Fact], ...]:
        """Fact kinds that register this subject."""
        raise NotImplementedError

    def check(self, fact: Fact) -> None:
        """Raise a :class:`~thread.errors.RuleViolation` if ``fact`` may not be recorded now."""

    def apply(self, event: Recorded) -> None:
        """Change state by an accepted event; never refuses."""


#: Values a fork shares with its original: nothing changes them in place.
_SHARED = frozenset((str, bytes, int, float, bool, type(None), UUID, datetime, date, time,
                     timedelta, Decimal, tuple, frozenset))
_FORKED = ("hashes", "_pending")


def _copied(value: Any) -> Any:
    """``value`` copied as deep as it can change, sharing what cannot."""
    kind = type(value)
    if kind in _SHARED or isinstance(value, Fact):
        return value
    if kind is list:
        return [_copied(item) for item in value]
    if kind is dict:
        return {key: _copied(item) for key, item in value.items()}
    if kind is set:
        return set(value)
    params = getattr(kind, "__dataclass_params__", None)
    if params is not None and params.frozen:
        return value
    return copy.deepcopy(value)
