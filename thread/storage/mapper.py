"""Maps ledger events to stored rows and back: canonical bytes, optionally encrypted."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Cipher, Mapper, StoredEvent, Transcoder

from thread.domain.chain import Recorded
from thread.domain.envelope import aggregate_id
from thread.domain.facts.records import Withheld
from thread.domain.sealing import Keys
from thread.errors import IntegrityFailure
from thread.storage.recorder import LogRow


class _NoTranscoder(Transcoder):
    """Canonical bytes are already the wire form; nothing is transcoded."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError


class FactMapper(Mapper[UUID]):
    """Stores an event's canonical bytes (encrypted when a cipher is set) under its topic.

    The stock mapper rebuilds events through ``__dict__``, which pydantic facts
    do not survive; this one decodes canonical bytes and keeps class-version upcasting.
    """

    def __init__(self, cipher: Cipher | None = None, keys: Keys | None = None,
                 identifier_key: bytes | None = None) -> None:
        super().__init__(transcoder=_NoTranscoder(), cipher=cipher)
        #: The keys sealed content opens with (None: it reads as withheld).
        self.keys = keys
        self._identifier_key = identifier_key

    def plain_identifiers(self) -> None:
        """Keep subject ids and source record ids as an unkeyed ledger has them: an encrypted
        ledger written before they were keyed goes on as it began."""
        self._identifier_key = None

    def subject_id(self, kind: str, key: str) -> UUID:
        """The stored id of a subject's aggregate: UUIDv5 of ``kind:key`` under the
        ledger's published namespace, or, when events are encrypted at rest, keyed
        (HMAC-SHA256 under a key derived from the ledger's), so that the ids column does
        not confirm to someone without the key that a given serial is in the ledger."""
        if self._identifier_key is None:
            return aggregate_id(kind, key)
        digest = hmac.new(self._identifier_key, b"subject\x00" + f"{kind}:{key}".encode(),
                          hashlib.sha256).digest()
        return UUID(bytes=digest[:16])

    def topic_token(self, topic: str) -> str:
        """How the events table labels a row's topic: the topic, or, when events are
        encrypted at rest, keyed, so the column does not say what kind of fact each is."""
        if self._identifier_key is None:
            return topic
        digest = hmac.new(self._identifier_key, b"topic\x00" + topic.encode(),
                          hashlib.sha256).hexdigest()
        return f"hmac:{digest[:32]}"

    def topic_tokens(self, topics: Sequence[str]) -> list[str]:
        """:meth:`topic_token` of each topic (for a query by topic)."""
        return [self.topic_token(topic) for topic in topics]

    def source_token(self, source: str, record_id: str) -> str:
        """How ``ledger_sources`` stores a source record id: as given, or, when events are
        encrypted at rest, keyed (HMAC-SHA256 under a key derived from the ledger's), so
        the table does not say which records (often serials) the ledger holds."""
        if self._identifier_key is None:
            return record_id
        digest = hmac.new(self._identifier_key, source.encode() + b"\x00" + record_id.encode(),
                          hashlib.sha256).hexdigest()
        return f"hmac:{digest}"

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event = cast(Recorded, domain_event)
        state = event.canonical
        if self.cipher is not None:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=self.topic_token(event.fact.topic),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.decode(stored_event)

    def decode(self, stored: StoredEvent) -> Recorded:
        """The event in ``stored``, checked against the row's id, version and topic."""
        state = _as_bytes(stored.state)
        if self.cipher is not None:
            try:
                state = self.cipher.decrypt(state)
            except ValueError as error:
                raise IntegrityFailure(
                    f"event {stored.originator_id} version {stored.originator_version} "
                    f"does not decrypt (changed ciphertext or wrong key): {error}",
                    version=stored.originator_version,
                ) from None
        try:
            event = Recorded.decode(state, self.keys)
        except IntegrityFailure as error:
            raise IntegrityFailure(
                f"aggregate {stored.originator_id} version {stored.originator_version}: {error}",
                version=stored.originator_version,
            ) from None
        row_id = stored.originator_id
        if isinstance(row_id, str):
            row_id = UUID(row_id)
        fact = event.fact
        topic = fact.withheld_topic if isinstance(fact, Withheld) else fact.topic
        if (
            event.originator_id != row_id
            or event.originator_version != stored.originator_version
            or self.topic_token(topic) != stored.topic
        ):
            raise IntegrityFailure(
                f"row ({row_id}, version {stored.originator_version}, {stored.topic}) holds "
                f"the bytes of ({event.originator_id}, version {event.originator_version}, "
                f"{topic}); the row was moved or relabelled",
                version=stored.originator_version,
            )
        return event

    def plaintext(self, stored: StoredEvent | LogRow) -> bytes:
        """The canonical bytes of a stored row."""
        return self.opened(stored.state)

    def opened(self, state: bytes | str) -> bytes:
        """The canonical bytes of a row's stored state."""
        state = _as_bytes(state)
        return self.cipher.decrypt(state) if self.cipher is not None else state


def _as_bytes(state: bytes | str) -> bytes:
    """Stored bytes, also when someone rewrote them as text (see the SQLite store)."""
    return state.encode("utf-8", "surrogateescape") if isinstance(state, str) else state
