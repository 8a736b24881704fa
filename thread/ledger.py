"""The write side: an eventsourcing application with one hash-chained aggregate per subject."""

from __future__ import annotations

import getpass
import logging
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    Cipher,
    IntegrityError,
    Mapper,
    Notification,
    OperationalError,
)

from thread.access.policy import AccessRefused, Identity, Policy, Resource
from thread.access.reading import ReadGuard, Withholding
from thread.collector import paused
from thread.domain import facts as f
from thread.domain import policies, topics
from thread.domain.chain import Aggregate, Recorded
from thread.domain.design import DesignItem
from thread.domain.export_control import Classification
from thread.domain.facts.base import Fact, SubjectKind
from thread.domain.facts.records import Meaning
from thread.domain.facts.signers import FailureReason
from thread.domain.machine import Machine
from thread.domain.part import Lot, Part
from thread.domain.sealing import CLEAR_SECTIONS, Keys, Sealing
from thread.domain.signature import Signer, verify_signature
from thread.domain.signers import MAX_FAILURES, SignerAccount, signing_refusal
from thread.domain.site_log import SiteLog
from thread.errors import (
    ConcurrencyConflict,
    IntegrityFailure,
    InvalidFact,
    LedgerError,
    RuleViolation,
    SigningRefused,
    UnknownSubject,
)
from thread.log.checkpoint import Checkpoint, sign_note
from thread.log.merkle import (
    SubtreeHash,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_root,
)
from thread.log.subject_map import MapUpdate, advance, last_mapped, map_line
from thread.log.verify import verify_consistency
from thread.storage.log import with_subtrees
from thread.storage.map_store import MapCache, changed_heads
from thread.storage.mapper import FactMapper
from thread.storage.recorder import LedgerRecorder, SourceLink, SourceRecord, new_origin
from thread.storage.sources import link_problem, row_label


class LedgerReader(Protocol):
    """Something that opens this ledger again, in another process, for reading."""

    @property
    def url(self) -> str:
        """The ledger's URL or file."""
        ...

    @property
    def encryption_key(self) -> str | None:
        """Its store-wide encryption key (base64), if it has one."""
        ...

    def open(self) -> Ledger:
        """The ledger, opened for reading."""
        ...


if TYPE_CHECKING:
    from thread.analytics.patterns import FailurePatterns
    from thread.domain.service_life import UnitRecord
    from thread.read.conditions import ConditionSeries
    from thread.read.drift import DriftState
    from thread.read.genealogy import Node
    from thread.read.models import ReadModels
    from thread.read.outcomes import Outcome
    from thread.read.queries import Queries
    from thread.read.recall import RecallScope
    from thread.read.series import Measured, Series
    from thread.read.story import Story

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")
_log = logging.getLogger(__name__)
TimeAxis = Literal["recorded", "occurred"]

#: Attempts at a batch that keeps colliding with other writers before giving up (every
#: attempt after the first holds the write lock, so a second one is rarely needed).
MAX_ATTEMPTS = 12
#: After a batch lost to another writer, batches take the write lock first for this long.
CONTENDED_SECONDS = 1.0
#: A checkpoint whose subject map lags the log by at least this many leaves (a ledger
#: signed before maps, or signed seldom) first derives the map of the log as it stands
#: without the write lock, so that writers wait only for the leaves appended meanwhile.
MAP_AHEAD = 50_000


@dataclass
class _MapAhead:
    """The subject map derived outside the write lock: from the map at ``base`` to the log
    of ``size`` leaves (tree root ``root``), and what is known of it."""

    base: int
    size: int
    root: bytes
    update: MapUpdate
    cache: MapCache


def _nfc(key: str) -> str:
    """A key as facts store it (Unicode NFC), so a lookup typed decomposed finds it."""
    return unicodedata.normalize("NFC", key) if isinstance(key, str) else key

#: How far ahead of the ledger's clock an event may say it happened, by default.
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
#: Aggregates kept in memory between batches.
CACHE_SIZE = 2_000
#: Facts a stream checks and writes at a time.
STREAM_CHUNK = 2_000
#: Notifications fetched per page when reading the log in bulk.
PAGE = 5_000


@dataclass(frozen=True)
class Receipt:
    """Where a fact landed: its subject, version and hash, or that it was a re-delivery."""

    kind: SubjectKind
    key: str
    version: int
    hash: str
    duplicate: bool = False


@dataclass(frozen=True)
class InclusionProof:
    """Where an event sits in the global log and the path that proves it."""

    index: int
    tree_size: int
    leaf_hash: bytes
    path: list[bytes]
    root: bytes


@dataclass(frozen=True)
class _Command:
    fact: Fact
    occurred_at: datetime | None
    actor: str
    source: str
    source_record_id: str | None
    signer: Signer | None
    meaning: Meaning
    corrects: int | None
    reason: str | None


@dataclass
class _Unit:
    """The aggregates one batch attempt reads and writes.

    It reads the ledger's cached aggregates as they are, and records on forks of
    them, never on the cached ones, so that an attempt that does not land leaves
    the cache as it was. Holding the write lock, it first asks the store for the
    version of every subject and brings cached ones up to date; an optimistic
    attempt trusts the cache and lets the commit find out (and the retry read).
    """

    ledger: Ledger
    locked: bool = True
    #: Look up every subject first, also those only a rule reads (else, holding the lock,
    #: a cached one is trusted and the commit's check of what was read finds it stale).
    strict: bool = True
    #: Record on the cache's own aggregates (holding the lock, outside a stream: nothing
    #: else changes them before the commit, and a failure evicts them) instead of forks.
    in_place: bool = False
    touched: dict[UUID, Aggregate] = field(default_factory=dict)
    #: Those of ``touched`` that are the cache's own, only read so far.
    shared: set[UUID] = field(default_factory=set)
    #: The cache's own aggregates recorded on in place: evicted if the attempt fails.
    dirty: set[UUID] = field(default_factory=set)
    reads: dict[UUID, int] = field(default_factory=dict)
    events: list[Recorded] = field(default_factory=list)
    #: Stored versions of the subjects looked up (0: not stored).
    versions: dict[UUID, int] = field(default_factory=dict)

    def prefetch(self, commands: Sequence[_Command]) -> None:
        """Look up at once the stored version of every subject the commands name."""
        wanted = [ident for ident in _subjects(commands, self.ledger.mapper.subject_id)
                  if ident not in self.touched and ident not in self.versions]
        self._look_up(wanted)

    def _look_up(self, idents: list[UUID], *, late: bool = False) -> None:
        if not self.locked or (late and not self.strict):
            cached = {ident: aggregate.version for ident in idents
                      if (aggregate := self.ledger._cached(ident)) is not None}
            self.versions.update(cached)
            idents = [ident for ident in idents if ident not in cached]
        if idents:
            # Holding the lock after reading most of it just before, ask only for what is new.
            stored = self.ledger._refresh(idents, newer_only=self.locked and not self.strict)
            self.versions.update((ident, stored.get(ident, 0)) for ident in idents)

    def get(self, kind: SubjectKind, key: str) -> Aggregate:
        """A subject to read (the cache's own aggregate, if it has it)."""
        ident = self.ledger.mapper.subject_id(kind, key)
        aggregate = self.touched.get(ident)
        if aggregate is None:
            version = self.versions.get(ident)
            if version is None:
                self._look_up([ident], late=True)
                version = self.versions[ident]
            aggregate, cached = self.ledger._load(kind, key, ident, version)
            self.touched[ident] = aggregate
            if cached:
                self.shared.add(ident)
        return aggregate

    def writable(self, kind: SubjectKind, key: str) -> Aggregate:
        """A subject to record on: this attempt's own copy."""
        aggregate = self.get(kind, key)
        if aggregate.id in self.shared:
            self.shared.discard(aggregate.id)
            if self.in_place:
                self.dirty.add(aggregate.id)
            else:
                aggregate = self.touched[aggregate.id] = aggregate.fork()
        return aggregate

    def read(self, aggregate: Aggregate) -> None:
        """Remember a version this attempt relied on without writing to it."""
        self.reads.setdefault(aggregate.id, aggregate.version)

    def record(self, aggregate: Aggregate, fact: Fact, command: _Command, at: datetime) -> Recorded:
        skew = self.ledger.max_clock_skew
        if command.occurred_at is not None and command.occurred_at > at + skew:
            kind, key = fact.subject
            raise InvalidFact(type(fact).__name__, f"{kind} {key}", [(
                "occurred_at", command.occurred_at.isoformat(),
                f"a time no more than {skew} ahead of the ledger's clock "
                f"({at.isoformat()}); fix the source's clock, or open the ledger with a "
                f"larger max_clock_skew")])
        event = aggregate.record(
            fact,
            occurred_at=command.occurred_at or at,
            recorded_at=at,
            actor=command.actor,
            source=command.source,
            source_record_id=command.source_record_id,
            sealing=self.ledger._sealing(aggregate, fact),
        )
        self.events.append(event)
        return event


def _subjects(commands: Sequence[_Command], ident: Callable[[str, str], UUID]) -> list[UUID]:
    """The aggregates the commands name (their subjects and the subjects they refer to)."""
    return list(dict.fromkeys(
        ident(kind, key) for command in commands
        for kind, key in (command.fact.subject, *command.fact.references())
    ))


class Batch:
    """Facts that land together, in one transaction, or not at all.

    Facts are checked and written when the ``with`` block ends; a rule violation
    or a conflict that retries cannot resolve raises there and writes nothing.
    """

    def __init__(self, ledger: Ledger, actor: str | None, source: str | None) -> None:
        self._ledger = ledger
        self._actor = actor
        self._source = source
        self._commands: list[_Command] = []
        self.receipts: list[Receipt] = []

    def record(
        self,
        fact: Fact,
        *,
        occurred_at: datetime | None = None,
        actor: str | None = None,
        source: str | None = None,
        source_record_id: str | None = None,
        sign: Signer | None = None,
        meaning: Meaning = "approval",
    ) -> None:
        """Add a fact to the batch (see :meth:`Ledger.record`)."""
        self._commands.append(self._ledger._command(
            fact, occurred_at, actor or self._actor, source or self._source,
            source_record_id, sign, meaning, None, None,
        ))

    def correct(
        self,
        fact: Fact,
        *,
        corrects: int,
        reason: str,
        occurred_at: datetime | None = None,
        actor: str | None = None,
    ) -> None:
        """Add a correction (see :meth:`Ledger.correct`)."""
        self._commands.append(self._ledger._command(
            fact, occurred_at, actor or self._actor, self._source, None, None, "approval",
            corrects, reason,
        ))

    def __len__(self) -> int:
        return len(self._commands)

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None and self._commands:
            self.receipts = self._ledger._commit(self._commands)


class Stream:
    """Facts that land together, or not at all, written as they come (see
    :meth:`Ledger.stream`).

    A rule violation, bad input or any exception raised in the ``with`` block
    rolls back everything the stream wrote. Receipts are counted, not kept.
    """

    def __init__(self, ledger: Ledger, actor: str | None, source: str | None,
                 chunk: int) -> None:
        self._ledger = ledger
        self._actor = actor
        self._source = source
        self._chunk = max(1, chunk)
        self._pending: list[_Command] = []
        self._scope: ExitStack | None = None
        #: Facts written so far, and facts that were already recorded (re-deliveries).
        self.written = 0
        self.duplicates = 0

    def record(
        self,
        fact: Fact,
        *,
        occurred_at: datetime | None = None,
        actor: str | None = None,
        source: str | None = None,
        source_record_id: str | None = None,
        sign: Signer | None = None,
        meaning: Meaning = "approval",
    ) -> None:
        """Add a fact to the stream (see :meth:`Ledger.record`); every ``chunk`` facts are
        checked and written, so a refused fact raises here."""
        if self._scope is None:
            raise LedgerError("record on a stream inside its with block")
        self._pending.append(self._ledger._command(
            fact, occurred_at, actor or self._actor, source or self._source,
            source_record_id, sign, meaning, None, None,
        ))
        if len(self._pending) >= self._chunk:
            self.flush()

    def __len__(self) -> int:
        return self.written + self.duplicates + len(self._pending)

    def flush(self) -> None:
        """Check and write the facts recorded so far (they commit with the stream, still)."""
        if self._scope is None:
            raise LedgerError("flush a stream inside its with block")
        commands, self._pending = self._pending, []
        if commands:
            receipts = self._ledger._commit_chunk(commands, len(self))
            duplicates = sum(1 for receipt in receipts if receipt.duplicate)
            self.duplicates += duplicates
            self.written += len(receipts) - duplicates

    def __enter__(self) -> Stream:
        scope = ExitStack()
        scope.enter_context(self._ledger._streaming())
        self._scope = scope
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        scope = self._scope
        assert scope is not None
        try:
            if exc_type is not None:
                scope.__exit__(exc_type, exc, traceback)  # rolls back; the error goes on
                return
            with scope:  # commits, or rolls back if the last chunk is refused
                self.flush()
        finally:
            self._scope = None


class _Application(Application[UUID]):
    """The eventsourcing application the ledger owns: persistence and mapper, nothing more.

    Private on purpose: its ``save``, ``repository`` and notification log would
    let a caller append events without their log leaves or the ledger's rules.
    """

    name = "Ledger"

    def __init__(self, env: dict[str, str], cipher: Cipher | None,
                 keys: Keys | None = None, identifier_key: bytes | None = None) -> None:
        self._cipher = cipher
        self._keys = keys
        self._identifier_key = identifier_key
        super().__init__(env)

    def construct_mapper(self) -> Mapper[UUID]:
        return FactMapper(self._cipher, self._keys, self._identifier_key)


class Ledger:
    """The digital-thread ledger. Open one with :func:`thread.open`.

    A facade over a private eventsourcing application: the only ways to append
    are :meth:`record`, :meth:`correct` and :meth:`batch`, which write each event
    with its leaf in the global log.
    """

    def __init__(
        self,
        env: dict[str, str],
        *,
        cipher: Cipher | None = None,
        actor: str | None = None,
        clock: Callable[[], datetime] | None = None,
        checkpoint_key: str | None = None,
        checkpoint_every: int | None = None,
        checkpoint_seconds: float | None = None,
        open_read_side: Callable[[Ledger], Queries] | None = None,
        max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
        policy: Policy | None = None,
        identity: Identity | None = None,
        keyring: Keys | None = None,
        identifier_key: bytes | None = None,
    ) -> None:
        #: How far ahead of the ledger's clock an event may say it happened (a source's
        #: clock running fast); beyond it the fact is refused.
        self.max_clock_skew = max_clock_skew
        self._open_read_side = open_read_side
        self._read_side: Queries | None = None
        self._read_side_opening = threading.Lock()  # two first readers open it once
        #: The keys that seal personal names and export-controlled content (None: nothing
        #: is sealed, and what is sealed reads as withheld).
        self.keyring = keyring
        self._app = _Application(env, cipher, keyring, identifier_key)
        self.actor = actor or _login()
        #: The role policy every write, signature and read is checked against (None: all
        #: allowed), and who is asking.
        self.policy = policy
        self.identity = identity or Identity(self.actor)
        self.clock = clock or _now
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._overlay: OrderedDict[UUID, Aggregate] | None = None  # an open stream's
        self._lock = threading.RLock()
        self._map = MapCache()
        #: How another process opens this ledger to read it (None: it cannot, a :memory:
        #: ledger's or one opened otherwise than by thread.open).
        self.reader: LedgerReader | None = None
        self._checkpoint_key = checkpoint_key
        self._checkpoint_every = checkpoint_every
        self._checkpoint_seconds = checkpoint_seconds
        self._checkpointed: tuple[int, float] = (0, time.monotonic())
        #: The size of the last checkpoint this ledger signed (each carries a map): the map
        #: lags the log by no more than the leaves since (a lower bound before the first).
        self._mapped_here = -MAP_AHEAD
        self._contended_until = 0.0  # monotonic time until which batches start locked
        self._origin: str | None = None  # once known to be stored
        self._registry = False  # once a signer is known to be registered
        self._registry_seen = 0  # events up to this notification id hold no registration
        self._guard = ReadGuard(self)
        if checkpoint_key is not None and checkpoint_seconds:
            checkpoints = self.store.select_checkpoints()
            self._checkpointed = (checkpoints[-1][0] if checkpoints else 0, time.monotonic())
            threading.Thread(target=self._checkpoint_loop, args=(checkpoint_seconds / 4,),
                             name="thread-checkpoints", daemon=True).start()

    def close(self) -> None:
        """Release the ledger's connections (and its read models')."""
        if self._read_side is not None:
            self._read_side.models.close()
            self._read_side = None
        self._app.close()

    @property
    def store(self) -> LedgerRecorder:
        """The event store, for reading and verification (it refuses bare inserts)."""
        return cast(LedgerRecorder, self._app.recorder)

    @property
    def mapper(self) -> FactMapper:
        """How stored rows decode into events (decryption included)."""
        return cast(FactMapper, self._app.mapper)

    @property
    def env(self) -> dict[str, str]:
        """The persistence settings the ledger was opened with."""
        return dict(self._app.env)

    # Writing

    def record(
        self,
        fact: Fact,
        *,
        occurred_at: datetime | None = None,
        actor: str | None = None,
        source: str | None = None,
        source_record_id: str | None = None,
        sign: Signer | None = None,
        meaning: Meaning = "approval",
    ) -> Receipt:
        """Record one fact against the subject it names.

        ``occurred_at`` is when it happened on the floor (default: now).
        ``source`` and ``source_record_id`` name the record it came from; the
        same pair again is a no-op that returns the first receipt with
        ``duplicate=True``. ``sign`` adds the signer's electronic signature.
        """
        with self.batch() as batch:
            batch.record(fact, occurred_at=occurred_at, actor=actor, source=source,
                         source_record_id=source_record_id, sign=sign, meaning=meaning)
        return batch.receipts[0]

    def correct(
        self,
        fact: Fact,
        *,
        corrects: int,
        reason: str,
        occurred_at: datetime | None = None,
        actor: str | None = None,
    ) -> Receipt:
        """Record ``fact`` as the correction of version ``corrects`` of the same subject.

        Both stay in the record: the new fact, then a correction naming the old
        event by hash and saying why (Part 11: never obscure the prior entry).
        """
        with self.batch() as batch:
            batch.correct(fact, corrects=corrects, reason=reason, occurred_at=occurred_at,
                          actor=actor)
        return batch.receipts[0]

    def batch(self, *, actor: str | None = None, source: str | None = None) -> Batch:
        """A context in which many facts, across many subjects, land in one transaction."""
        return Batch(self, actor, source)

    def stream(self, *, actor: str | None = None, source: str | None = None,
               chunk: int | None = None) -> Stream:
        """A batch for more facts than memory should hold (a large file): facts are checked
        and written ``chunk`` at a time as they are recorded, in one transaction that
        commits when the ``with`` block ends, so all of them land or none do.

        The transaction holds the write lock throughout: other writers wait for it.
        """
        return Stream(self, actor, source, chunk or STREAM_CHUNK)

    # Reading

    def history(self, serial: str) -> list[Recorded]:
        """The chain-verified events of a serialised part, oldest first."""
        return self.history_of("part", serial)

    def history_of(self, kind: SubjectKind, key: str) -> list[Recorded]:
        """The chain-verified events of any subject, oldest first. An event whose labels the
        reader is not cleared for shows as a :class:`~thread.domain.facts.Withheld` (its
        kind, time and place in the chain, not its content or canonical bytes)."""
        key = _nfc(key)
        events = self._history(kind, key)
        withheld = self._withholding(kind, key, "history", events)
        return [_withheld(event, kind, key, withheld) for event in events] if withheld \
            else events

    def _withholding(self, kind: SubjectKind, key: str, view: str,
                     events: Sequence[Recorded] = ()) -> Withholding:
        """What of a subject the reader may not see through ``view`` (refused whole when the
        role policy does not let them read it); its part number and site from its
        registration, when known."""
        if self.policy is None:
            return Withholding()
        part_number = site = None
        if not events and kind in ("part", "lot", "machine"):
            first_rows = self.store.select_events(self.mapper.subject_id(kind, key), limit=1)
            events = [self.mapper.decode(row) for row in first_rows]
        if events and isinstance(first := events[0].fact, f.PartRegistered):
            part_number, site = first.part_number, first.site
        elif events and isinstance(first, f.MachineRegistered):
            site = first.site
        if kind == "design":
            part_number = key
        return self._guard.withholding(kind, key, view, part_number=part_number, site=site)

    def _may_read(self, kind: SubjectKind, key: str, view: str,
                  events: Sequence[Recorded] = ()) -> None:
        """Refuse a read of the whole of a subject (a state, a document) unless the reader
        may see every event of it."""
        withheld = self._withholding(kind, key, view, events)
        if withheld:
            raise AccessRefused(
                f"{self.identity.user} may not read the {view} of {kind} {key}: it holds "
                f"data labelled {', '.join(withheld.labels)} they are not cleared for",
                rules=())

    def classification(self, kind: SubjectKind, key: str) -> Classification:
        """The export-control labels over a subject and its events: its own, or (a part or
        lot that states none) its design item's, and those of single events."""
        return self._guard.classification(kind, _nfc(key))

    def _history(self, kind: SubjectKind, key: str) -> list[Recorded]:
        ident = self.mapper.subject_id(kind, key)
        stored = self.store.select_events(ident)
        if not stored:
            raise UnknownSubject(f"{kind} {key} is not in this ledger")
        mapper = self.mapper
        events = [mapper.decode(row) for row in stored]
        aggregate: Aggregate | None = None
        for event in events:
            aggregate = event.mutate(aggregate)  # checks every link
        return events

    def part(
        self, serial: str, *, as_of: datetime | None = None, by: TimeAxis = "recorded"
    ) -> Part:
        """A part's state, now or as of a past moment (by recorded or occurred time)."""
        return self._state(Part, serial, as_of, by)

    def lot(self, lot: str, *, as_of: datetime | None = None, by: TimeAxis = "recorded") -> Lot:
        """A lot's state, now or as of a past moment."""
        return self._state(Lot, lot, as_of, by)

    def machine(self, machine: str, *, as_of: datetime | None = None,
                by: TimeAxis = "recorded") -> Machine:
        """A machine's state, now or as of a past moment."""
        return self._state(Machine, machine, as_of, by)

    def design(self, part_number: str, *, as_of: datetime | None = None,
               by: TimeAxis = "recorded") -> DesignItem:
        """A design item's state, now or as of a past moment."""
        return self._state(DesignItem, part_number, as_of, by)

    def _state(self, cls: type[A], key: str, as_of: datetime | None, by: TimeAxis) -> A:
        key = _nfc(key)
        events = self._history(cls.kind, key)
        if cls is not SignerAccount:  # the registry is read by every signing
            self._may_read(cls.kind, key, "state", events)
        if as_of is not None:
            if as_of.tzinfo is None:
                raise LedgerError(f"as_of {as_of.isoformat()} needs a time zone")
            events = [
                event for event in events
                if (event.recorded_at if by == "recorded" else event.occurred_at) <= as_of
            ]
            if not events:
                raise UnknownSubject(
                    f"{cls.kind} {key} was not yet in the ledger as of {as_of.isoformat()} "
                    f"(by {by} time)"
                )
        return cast(A, cls.replay(key, events))

    def notifications(
        self, *, start: int = 1, topics: Sequence[str] = ()
    ) -> Iterator[Notification]:
        """Every stored row in commit order, paged in bulk."""
        while True:
            page = self.store.select_notifications(start, PAGE,
                                                   topics=self.mapper.topic_tokens(topics))
            yield from page
            if len(page) < PAGE:
                return
            start = page[-1].id + 1

    def scan(self, *, start: int = 1, topics: Sequence[str] = ()) -> Iterator[tuple[int, Recorded]]:
        """Every event in commit order with its position in the log; an event the reader is
        not cleared for shows as a :class:`~thread.domain.facts.Withheld`."""
        if self.policy is None:
            yield from self._scan(start=start, topics=topics)
            return
        seen: dict[UUID, Withholding] = {}
        with self._guard.gathered():
            for position, event in self._scan(start=start, topics=topics):
                withheld = seen.get(event.originator_id)
                if withheld is None:
                    kind, key = event.fact.subject
                    withheld = seen[event.originator_id] = self._withholding(kind, key,
                                                                             "scan")
                yield position, _withheld(event, *event.fact.subject, withheld)

    def _scan(self, *, start: int = 1,
              topics: Sequence[str] = ()) -> Iterator[tuple[int, Recorded]]:
        mapper = self.mapper
        for row in self.notifications(start=start, topics=topics):
            yield row.id, mapper.decode(row)

    def parts(self) -> list[str]:
        """Serial numbers of every registered part, in registration order."""
        return [
            serial
            for _, event in self._scan(topics=[f.PartRegistered.topic])
            if (serial := cast(f.PartRegistered, event.fact).serial) is not None
        ]

    # The read side, wired in by bootstrap

    @property
    def read_models(self) -> ReadModels:
        """The projections of this ledger's log into SQL tables (opened on first use)."""
        return self._queries().models

    def _queries(self) -> Queries:
        if self._read_side is None:
            with self._read_side_opening:
                if self._read_side is None:
                    if self._open_read_side is None:
                        raise LedgerError("this ledger was opened without a read side; open "
                                          "it with thread.open()")
                    self._read_side = self._open_read_side(self)
        return self._read_side

    def trace(self, key: str, *, as_of: datetime | None = None, by: TimeAxis = "recorded",
              catch_up: bool = True, verified: bool = False) -> Story:
        """The complete story of a serial or lot, now or as of a past moment.

        The read models catch up with the log first; with ``catch_up=False``
        a view that is behind raises :class:`~thread.read.models.StaleReadModel`
        instead of answering from stale data. With ``verified=True`` the story is
        built from chain-verified events, each proved at its position in the log,
        and a read-model row it used that disagrees with them refuses it, naming the
        row (:class:`~thread.read.verified.ReadModelDisagrees`).
        """
        story = self._queries().trace(_nfc(key), as_of=as_of, by=by, catch_up=catch_up,
                                      verified=verified)
        withheld = self._withholding(cast(SubjectKind, story.kind), story.key, "trace")
        return story.withholding(withheld) if withheld else story

    def genealogy(self, key: str, *, direction: Literal["down", "up"] = "down",
                  depth: int | None = None, as_of: datetime | None = None,
                  by: TimeAxis = "recorded", catch_up: bool = True) -> Node:
        """What went into an assembly (``down``), or every assembly a part or lot is in (``up``)."""
        self._withholding("part", _nfc(key), "genealogy")
        tree = self._queries().genealogy(_nfc(key), direction=direction, depth=depth,
                                         as_of=as_of, by=by, catch_up=catch_up)
        return tree if self.policy is None else self._genealogy_shown(tree)

    def _genealogy_shown(self, node: Node) -> Node:
        """``node`` as the reader may see it: a subject whose own labels they are not
        cleared for keeps its key and place in the tree, not its part number or location."""
        nodes = tuple(self._genealogy_shown(child) for child in node.nodes)
        withheld = self._withholding(cast(SubjectKind, node.kind), node.key, "genealogy")
        if withheld.subject is not None:
            return node.model_copy(update={
                "part_number": None, "revision": None, "nodes": nodes,
                "location": f"withheld ({', '.join(withheld.subject)})"})
        return node.model_copy(update={"nodes": nodes}) if nodes != node.nodes else node

    def recall_scope(self, *, machine: str, start: datetime, end: datetime,
                     where: str | None = None, as_of: datetime | None = None,
                     by: TimeAxis = "recorded", catch_up: bool = True) -> RecallScope:
        """The serials ``machine`` ran between ``start`` and ``end`` for which ``where`` holds.

        ``where`` is a predicate over process and condition values, such as
        ``"vibration.max > 4.0 and coolant_temp.mean > 30"`` (see
        :mod:`thread.read.predicate`); without it, every run in the window is in scope.
        """
        self._withholding("machine", _nfc(machine), "recall")
        scope = self._queries().recall_scope(machine=_nfc(machine), start=start, end=end,
                                             where=where, as_of=as_of, by=by,
                                             catch_up=catch_up)
        if self.policy is None:
            return scope
        affected = []
        for item in scope.affected:
            withheld = self._withholding(cast(SubjectKind, item.kind), item.key, "recall")
            affected.append(item if not withheld else item.model_copy(update={
                "matched": {}, "operation": f"withheld ({', '.join(withheld.labels)})"}))
        return scope.model_copy(update={"affected": tuple(affected)})

    def failure_patterns(self, *, part_number: str, since: datetime | None = None,
                         until: datetime | None = None,
                         by: Sequence[Literal["machine", "parameter"]] = ("machine",
                                                                          "parameter"),
                         alpha: float = 0.05, confidence: float = 0.95, max_weeks: int = 8,
                         as_of: datetime | None = None, by_clock: TimeAxis = "recorded",
                         catch_up: bool = True) -> FailurePatterns:
        """Which machine and production window, or which process or condition values, made
        serials of ``part_number`` (made between ``since`` and ``until``) that fail more often
        in the field per operating hour; ranked findings with their evidence.

        Rates are failures per unit-hour in service, parts still running right-censored;
        every group is tested against the rest (exact conditional Poisson test) and the
        p-values corrected together for a false discovery rate of ``alpha``
        (:mod:`thread.analytics.patterns`). Field data counts up to ``as_of``, or up to the
        latest service fact recorded. Needs the ``analytics`` extra.
        """
        self._guard.across(part_number, "failure patterns")
        return self._queries().failure_patterns(
            part_number=part_number, since=since, until=until, by=tuple(by), alpha=alpha,
            confidence=confidence, max_weeks=max_weeks, as_of=as_of, by_clock=by_clock,
            catch_up=catch_up)

    def unit_records(self, *, part_number: str, since: datetime | None = None,
                     until: datetime | None = None, as_of: datetime | None = None,
                     by: TimeAxis = "recorded") -> tuple[list[UnitRecord], datetime]:
        """What reliability statistics read of each serial of ``part_number`` made between
        ``since`` and ``until`` (runs, process and condition values, service facts of the
        part and of its top assembly), and the moment the field data counts up to."""
        self._guard.across(part_number, "unit records")
        return self._queries().unit_records(part_number=part_number, since=since,
                                            until=until, as_of=as_of, by=by)

    def condition_series(self, *, machine: str, metric: str, since: datetime | None = None,
                         until: datetime | None = None, as_of: datetime | None = None,
                         by: TimeAxis = "recorded", catch_up: bool = True) -> ConditionSeries:
        """A machine's condition metric (``spindle_vibration``) window by window, with its
        threshold: the condition trace an investigation draws under the failure rates."""
        self._may_read("machine", _nfc(machine), "condition series")
        return self._queries().condition_series(machine=_nfc(machine), metric=metric,
                                                since=since, until=until, as_of=as_of, by=by,
                                                catch_up=catch_up)

    def series(self, metric: str, *, part_number: str | None = None,
               revision: str | None = None, machine: str | None = None,
               operation: str | None = None, since: datetime | None = None,
               until: datetime | None = None, as_of: datetime | None = None,
               by: TimeAxis = "recorded", catch_up: bool = True) -> Series:
        """The values of ``metric`` (``process.NAME.mean``, ``inspection.C3``,
        ``condition.vibration.max``) for a part number, machine, operation and time range,
        oldest first, each with its serial, machine and log position: what control charts
        and capability studies read."""
        self._guard.across(part_number, "series")
        return self._queries().series(
            metric, part_number=part_number, revision=revision,
            machine=None if machine is None else _nfc(machine), operation=operation,
            since=since, until=until, as_of=as_of, by=by, catch_up=catch_up)

    def measured(self, part_number: str, *, revision: str | None = None,
                 operation: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, as_of: datetime | None = None,
                 by: TimeAxis = "recorded") -> list[Measured]:
        """Every characteristic of ``part_number`` measured in the period: its values, their
        times, the machine that made each part (that of ``operation``, or the last machine
        it ran on) and the tolerance stated: what capability and design feedback read."""
        self._guard.across(part_number, "measured")
        return self._queries().measured(part_number, revision=revision, operation=operation,
                                        since=since, until=until, as_of=as_of, by=by)

    def outcomes(self, *, part_number: str, since: datetime | None = None,
                 until: datetime | None = None, as_of: datetime | None = None,
                 by: TimeAxis = "recorded") -> list[Outcome]:
        """Per serial of ``part_number`` made in the period: its inspection verdicts and the
        material lots it consumed (what quality prediction learns from, beside
        :meth:`unit_records`)."""
        self._guard.across(part_number, "outcomes")
        return self._queries().outcomes(part_number=part_number, since=since, until=until,
                                        as_of=as_of, by=by)

    def drift(self, *, as_of: datetime | None = None, by: TimeAxis = "recorded",
              catch_up: bool = True) -> DriftState:
        """The charts watched for drift and their alerts: open, acknowledged (signed) or
        closed (signed). :mod:`thread.analytics.drift` subscribes, checks and handles them."""
        return self._queries().drift(as_of=as_of, by=by, catch_up=catch_up)

    def serials(self, part_number: str, revision: str | None = None, *,
                as_of: datetime | None = None, by: TimeAxis = "recorded",
                kind: Literal["part", "lot"] = "part", catch_up: bool = True) -> list[str]:
        """Serials (or lots) registered against a part number and revision, oldest first."""
        return self._queries().serials(part_number, revision, as_of=as_of, by=by, kind=kind,
                                       catch_up=catch_up)

    def rebuild(self, names: Sequence[str] | None = None, *,
                progress: Callable[[int], object] | None = None) -> int:
        """Drop and rebuild read models (all by default) from the log; returns events read."""
        return self._queries().models.rebuild(names, progress=progress)

    # The global log

    def tree_head(self) -> tuple[int, bytes]:
        """The size and RFC 6962 root of the global log, from its stored subtrees."""
        size = self.store.tree_size()
        return size, self._from_subtrees(lambda subtree: tree_root(size, subtree))

    def inclusion_proof(self, kind: SubjectKind, key: str, version: int,
                        size: int | None = None) -> InclusionProof:
        """Proof that a subject's event at ``version`` is leaf ``index`` of the tree of
        ``size`` leaves (default: the current tree)."""
        position = self.store.leaf_position(self.mapper.subject_id(kind, key), version)
        if position is None:
            raise UnknownSubject(f"{kind} {key} has no version {version} in the log")
        tree_size = self.store.tree_size() if size is None else size
        if not position < tree_size:
            raise LedgerError(f"{kind} {key} version {version} is leaf {position}, "
                              f"not inside a tree of {tree_size} leaves")
        return self._from_subtrees(lambda subtree: InclusionProof(
            index=position, tree_size=tree_size, leaf_hash=subtree(0, position),
            path=inclusion_proof(position, tree_size, subtree),
            root=tree_root(tree_size, subtree),
        ))

    def _from_subtrees(self, compute: Callable[[SubtreeHash], T]) -> T:
        """Run a proof computation on the stored subtrees (read in one go)."""
        return with_subtrees(compute, self.store.select_subtrees)

    @property
    def origin(self) -> str:
        """The log's name in its checkpoints, fixed when the ledger was created.

        Reading it never writes: a ledger made before origins were fixed at creation
        has the origin its first event implies, stored by its next write.
        """
        if self._origin is not None:
            return self._origin
        origin = self.store.origin()
        if origin is None:
            raise LedgerError(
                f"ledger {self.store.name} has no origin yet: an earlier version created it "
                "and it holds no events; record a fact or sign a checkpoint first"
            )
        return origin

    def _fix_origin(self) -> str:
        """Store the origin before the first write of a ledger that lacks one (once)."""
        if self._origin is None:
            stored = self.store.get_meta("origin")
            if stored is None:
                stored = self.store.put_meta("origin", self.store.origin() or new_origin())
            self._origin = stored
        return self._origin

    def checkpoints(self) -> list[tuple[int, str]]:
        """Every stored signed checkpoint as (tree size, note text), oldest first."""
        return self.store.select_checkpoints()

    def checkpoint(self, signer_key: str) -> str:
        """Sign the current tree head as a C2SP checkpoint note, store it and return it.

        The ledger never signs a head that is not consistent with its latest
        checkpoint, so a rollback or a rewrite cannot be blessed afterwards. When the
        subject map lags far behind the log, it is first derived for the log as it stands,
        without the write lock, and that size signed too (see :data:`MAP_AHEAD`).
        """
        origin = self._fix_origin()
        ahead = self._map_ahead()
        try:
            with self._lock, self.store.locked():  # no one appends or signs meanwhile
                size, head = self.tree_head()
                stored = self.store.select_checkpoints()
                if stored:
                    last_size, last_note = stored[-1]
                    if last_size == size and Checkpoint.from_note(last_note).root == head:
                        return last_note
                mapped = last_mapped(stored)
                if ahead is not None and ahead.base == mapped and ahead.size <= size:
                    self._map = ahead.cache  # no one mapped meanwhile: what it derived holds
                    if ahead.size == size:
                        update = ahead.update
                    else:
                        stored.append((ahead.size, self._sign(
                            origin, ahead.size, ahead.root, ahead.update, stored, signer_key)))
                        self._map.advanced(ahead.size)
                        mapped = ahead.size
                        update = advance(self._map.view(self.store, mapped), changed_heads(
                            self.store, mapped, size))
                else:
                    update = advance(self._map.view(self.store, mapped), changed_heads(
                        self.store, mapped, size))
                note = self._sign(origin, size, head, update, stored, signer_key)
        except IntegrityError:  # another process signed this size first
            self._map.forget()
            return dict(self.store.select_checkpoints())[size]
        except BaseException:
            self._map.forget()
            raise
        self._map.advanced(size)
        self.store.log.mapped(size)
        self._checkpointed = (size, time.monotonic())
        self._mapped_here = size
        return note

    def _sign(self, origin: str, size: int, head: bytes, update: MapUpdate,
              stored: list[tuple[int, str]], signer_key: str) -> str:
        """Sign and store the checkpoint of ``size`` leaves with its map ``update``, after
        checking that it extends the latest one ``stored`` (holding the write lock)."""
        if stored:
            last = Checkpoint.from_note(stored[-1][1])
            try:
                verify_consistency(last.size, size, last.root, head,
                                   self.consistency_proof(last.size, size)
                                   if last.size <= size else [])
            except IntegrityFailure as error:
                raise IntegrityFailure(
                    f"refusing to sign tree size {size}: it is not an extension of the "
                    f"checkpoint at size {last.size} ({error})"
                ) from None
        note = sign_note(Checkpoint(origin, size, head, (map_line(update.root),)).body(),
                         signer_key)
        self.store.insert_checkpoint(size, note, update.heads, update.nodes)
        return note

    def _map_ahead(self) -> _MapAhead | None:
        """The subject map of the log as it stands, derived without any lock, if the map
        lags it by MAP_AHEAD leaves or more (the leaves and the map rows it reads are never
        changed once written, so a writer appending meanwhile does not disturb it)."""
        size = self.store.tree_size()
        if size - self._mapped_here < MAP_AHEAD:  # no need to read the checkpoints
            return None
        base = last_mapped(self.store.select_checkpoints())
        if size - base < MAP_AHEAD:
            return None
        cache = MapCache()
        update = advance(cache.view(self.store, base),
                         changed_heads(self.store, base, size, kept=False))
        root = self._from_subtrees(lambda subtree: tree_root(size, subtree))
        return _MapAhead(base, size, root, update, cache)

    def _maybe_checkpoint(self) -> None:
        """Take an automatic checkpoint when enough events or time have passed."""
        if self._checkpoint_key is None:
            return
        size, at = self._checkpointed
        due_by_count = self._checkpoint_every and self.store.tree_size() - size >= (
            self._checkpoint_every)
        due_by_time = self._checkpoint_seconds and time.monotonic() - at >= (
            self._checkpoint_seconds)
        if due_by_count or due_by_time:
            self.checkpoint(self._checkpoint_key)

    def _checkpoint_loop(self, interval: float) -> None:
        while not self._app.closing.wait(interval):
            try:
                size, _ = self._checkpointed
                if self.store.tree_size() > size:
                    self.checkpoint(cast(str, self._checkpoint_key))
            except Exception as error:  # it retries at the next tick
                _log.warning("automatic checkpoint failed, retrying: %s", error)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """Proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2``."""
        current = self.store.tree_size()
        if not 0 <= size1 <= size2 <= current:
            raise LedgerError(f"a consistency proof needs 0 <= {size1} <= {size2} <= {current}")
        return self._from_subtrees(lambda subtree: consistency_proof(size1, size2, subtree))

    def count(self) -> int:
        """How many events the ledger holds."""
        return self.store.count_events()

    # The batch machinery

    def _command(
        self, fact: Fact, occurred_at: datetime | None, actor: str | None, source: str | None,
        source_record_id: str | None, signer: Signer | None, meaning: Meaning,
        corrects: int | None, reason: str | None,
    ) -> _Command:
        if not isinstance(fact, Fact):
            raise LedgerError(f"record() takes a fact such as PartRegistered, not {fact!r}")
        if occurred_at is not None and not isinstance(occurred_at, datetime):
            kind, key = fact.subject
            raise InvalidFact(type(fact).__name__, f"{kind} {key}", [(
                "occurred_at", occurred_at,
                "expected a datetime with a time zone, such as "
                "datetime(2026, 3, 1, 6, 0, tzinfo=UTC)")])
        if occurred_at is not None and occurred_at.tzinfo is None:
            raise LedgerError(
                f"{type(fact).__name__} for {fact.subject[0]} {fact.subject[1]}: occurred_at "
                f"{occurred_at.isoformat()} needs a time zone"
            )
        if fact.needs_signature and signer is None:
            kind, key = fact.subject
            raise InvalidFact(type(fact).__name__, f"{kind} {key}", [(
                "sign", None, f"a signer: a {type(fact).__name__} is an electronic signature's "
                              f"record (who, when, meaning), so it is never recorded unsigned")])
        return _Command(fact, occurred_at, actor or self.actor, source or "api",
                        source_record_id, signer, meaning, corrects, reason)

    def _commit(self, commands: list[_Command]) -> list[Receipt]:
        """Write a batch: optimistically, or holding the write lock once a batch has lost.

        An optimistic attempt decides outside any lock and fails at commit if another
        writer changed what it read. Having lost (or lost lately), a writer takes the
        write lock first and then reads, so that its next attempt cannot lose again.
        """
        with self._lock, paused():
            strict = False
            for attempt in range(MAX_ATTEMPTS):
                locked = attempt > 0 or time.monotonic() < self._contended_until
                if locked:  # read most of what is new before the lock, the rest under it
                    self._refresh(_subjects(commands, self.mapper.subject_id), load=True)
                unit = _Unit(self, locked, strict, in_place=locked and self._overlay is None)
                strict = locked  # a locked attempt that lost trusted a stale cached subject
                origin = self._origin
                try:
                    with self.store.locked() if locked else nullcontext():
                        receipts = self._commit_once(unit, commands)
                except BaseException as error:
                    self._origin = origin  # not stored after all if it was in the rollback
                    for ident in unit.dirty:
                        self._drop(ident)
                    if isinstance(error, IntegrityError):
                        self._contended_until = time.monotonic() + CONTENDED_SECONDS
                        continue
                    if isinstance(error, OperationalError) and self.store.lock_timed_out(error):
                        continue  # a long stream held the lock: wait again
                    if isinstance(error, SigningRefused):
                        self._note_refusal(error)
                    elif isinstance(error, AccessRefused) and error.resource is not None:
                        self._guard.refused(error, error.action, error.resource)
                    raise
                self._keep(unit)
                self._maybe_checkpoint()
                return receipts
            raise ConcurrencyConflict(
                f"a batch of {len(commands)} facts collided with other writers "
                f"{MAX_ATTEMPTS} times; nothing was written"
            )

    @contextmanager
    def _streaming(self) -> Iterator[None]:
        """The one transaction of a stream, holding the write lock; what it writes is cached
        aside until it commits."""
        with self._lock:
            if self._overlay is not None:
                raise LedgerError("a stream is already open on this ledger; record on it")
            overlay: OrderedDict[UUID, Aggregate] = OrderedDict()
            self._overlay, origin = overlay, self._origin
            try:
                with self.store.locked():
                    yield
            except BaseException:
                self._origin = origin
                raise
            finally:
                self._overlay = None
            for aggregate in overlay.values():
                self._remember(aggregate)
        self._maybe_checkpoint()

    def _commit_chunk(self, commands: list[_Command], first: int) -> list[Receipt]:
        """Write the next ``commands`` of an open stream, its fact ``first + 1`` onwards."""
        unit = _Unit(self)
        receipts = self._commit_once(unit, commands, first)
        self._keep(unit)
        return receipts

    def _commit_once(self, unit: _Unit, commands: list[_Command],
                     first: int | None = None) -> list[Receipt]:
        at = self.clock()
        if self.keyring is not None:  # the labels facts are sealed under, once an attempt
            self._guard.classification("design", "", refresh=True)
        token = self.mapper.source_token
        keys = list(dict.fromkeys(
            (c.source, token(c.source, c.source_record_id)) for c in commands
            if c.source_record_id is not None
        ))
        known = self.store.select_source_links(keys) if keys else {}
        unit.prefetch(commands)
        seen: dict[tuple[str, str], Receipt] = {}
        receipts: list[Receipt] = []
        sources: list[SourceRecord] = []
        for index, command in enumerate(commands):
            key = (command.source, "" if command.source_record_id is None
                   else token(command.source, command.source_record_id))
            if command.source_record_id is not None and (key in known or key in seen):
                receipts.append(self._duplicate(command, known.get(key), seen.get(key)))
                continue
            try:
                event = self._apply(unit, command, at)
            except LedgerError as error:
                if first is not None:
                    error.add_note(f"fact {first + index + 1} of a stream; nothing in the "
                                   "stream was written")
                elif len(commands) > 1:
                    error.add_note(f"fact {index + 1} of a batch of {len(commands)}; "
                                   "nothing in the batch was written")
                raise
            kind, subject = command.fact.subject
            receipt = Receipt(kind, subject, event.originator_version, event.hash.hex())
            receipts.append(receipt)
            if command.source_record_id is not None:
                seen[key] = receipt
                sources.append(SourceRecord(command.source, key[1], event.originator_id,
                                            event.originator_version, event.hash))
        if unit.events:
            self._fix_origin()
            mapper = self.mapper
            stored = [mapper.to_stored_event(event) for event in unit.events]
            written = {event.originator_id for event in unit.events}
            reads = [(ident, v) for ident, v in unit.reads.items() if ident not in written]
            leaves = [leaf_hash(event.canonical) for event in unit.events]
            self.store.insert_ledger_events(stored, sources, reads, leaves)
        return receipts

    def _apply(self, unit: _Unit, command: _Command, at: datetime) -> Recorded:
        fact = command.fact
        kind, key = fact.subject
        aggregate = unit.writable(kind, key)
        if self.policy is not None:
            self._may_write(unit, fact, aggregate, command.signer)
        policies.check(fact, aggregate, unit.get, unit.read)
        if isinstance(fact, f.SignatureApplied):  # brought in signed: the same rules
            verify_signature(fact)
            self._check_signer(unit, fact, fact.signer, fact.public_key, fact.signed_at)
        event = unit.record(aggregate, fact, command, at)
        for caused in policies.effects(fact):
            unit.record(unit.writable(*caused.subject), caused, command, at)
        if command.signer is not None:
            signed_at = command.occurred_at or at  # the approval is signed when it is made
            self._check_signer(unit, fact, command.signer.signer,
                               command.signer.public_key.hex(), signed_at)
            unit.record(aggregate, command.signer.sign(event, kind, key, command.meaning,
                                                       signed_at), command, at)
        if command.corrects is not None:
            unit.record(aggregate, f.CorrectionRecorded(
                kind=kind, key=key, corrects_version=command.corrects,
                corrects_hash=_hash_of(aggregate, command.corrects, event),
                replaced_by_version=event.originator_version, reason=command.reason or "",
            ), command, at)
        return event

    def _may_write(self, unit: _Unit, fact: Fact, aggregate: Aggregate,
                   signer: Signer | None) -> None:
        """Refuse a fact, or its signature, that the role policy does not allow."""
        assert self.policy is not None
        kind, key = fact.subject
        part_number = getattr(fact, "part_number", None) or getattr(aggregate, "part_number",
                                                                    None)
        site = getattr(fact, "site", None) or getattr(aggregate, "site", None)
        resource = Resource(fact.topic, kind, key, part_number, site)
        self.policy.check(self.identity, "record", resource)
        if signer is not None:
            account = cast(SignerAccount, unit.get("signer", signer.signer))
            who = (Identity(signer.signer, account.roles) if account.registered
                   else self.identity if signer.signer == self.identity.user
                   else Identity(signer.signer))
            self.policy.check(who, "sign", resource)

    def _check_signer(self, unit: _Unit, fact: Fact, signer: str, public_key: str,
                      at: datetime) -> None:
        """Refuse a signature the signer registry does not allow (who, which key, why)."""
        account = cast(SignerAccount, unit.get("signer", signer))
        unit.read(account)  # a revocation committed meanwhile makes this batch retry
        refusal = signing_refusal(fact, signer, public_key, at, account,
                                  self.registry_in_use())
        if refusal is not None:
            kind, key = fact.subject
            raise SigningRefused(
                f"{type(fact).__name__} on {kind} {key} cannot be signed by {signer}: "
                f"{refusal.detail}", signer=signer, reason=refusal.reason)

    def _sealing(self, aggregate: Aggregate, fact: Fact) -> Sealing | None:
        """How ``fact`` is sealed: its personal fields, and its content under the subject's
        labels unless it says who or what the subject is."""
        if self.keyring is None:
            return None
        kind, key = fact.subject
        labels: tuple[str, ...] = ()
        entry = topics.topic(fact.topic)
        section = entry.section if entry is not None else topics.section_of(fact.topic)
        if section not in CLEAR_SECTIONS:
            labels = self._guard.classification(  # as of this attempt's start
                kind, key, getattr(aggregate, "part_number", None), refresh=False).subject
        return Sealing(labels, self.keyring)

    def registry_in_use(self) -> bool:
        """Whether any signer was ever registered: from then on only registered signers
        sign, with their registered key."""
        if not self._registry:  # only the events since the last look are scanned
            last = self.store.max_notification_id() or 0
            if last > self._registry_seen:
                found = self.store.select_notifications(
                    self._registry_seen + 1, 1, stop=last,
                    topics=self.mapper.topic_tokens([f.SignerRegistered.topic]))
                self._registry = bool(found)
                self._registry_seen = last
        return self._registry

    def signer(self, signer: str) -> SignerAccount:
        """A registered signer: printed name, roles, keys over time, lock state."""
        account = self._state(SignerAccount, signer, None, "recorded")
        if not account.registered:
            raise UnknownSubject(f"signer {signer} is not in the signer registry")
        return account

    def site(self, origin: str) -> SiteLog:
        """A site log this ledger mirrors, as a hub's own log records it: the latest
        checkpoint mirrored and the refusals (empty for a site it never recorded)."""
        return self._state(SiteLog, origin, None, "recorded")

    def signing_failed(self, signer: str, reason: FailureReason, detail: str = "",
                       *, max_failures: int = MAX_FAILURES) -> bool:
        """Record a failed attempt to sign as ``signer``; the ``max_failures``-th in a row
        locks them (the alert fact). True when this attempt locked them. A signer not in
        the registry has no record to write to: nothing is written."""
        if not self.registry_in_use():
            return False
        try:
            account = self.signer(signer)
        except UnknownSubject:
            return False
        locks = not account.locked and account.failures + 1 >= max_failures
        with self.batch(source="signing") as batch:
            batch.record(f.SigningFailed(signer=signer, reason=reason, detail=detail[:4000]))
            if locks:
                batch.record(f.SignerLocked(signer=signer, failures=account.failures + 1))
        return locks

    def _note_refusal(self, error: SigningRefused) -> None:
        try:
            self.signing_failed(error.signer, cast(FailureReason, error.reason), str(error))
        except LedgerError as failure:  # the refusal is what the caller must see
            _log.warning("the refused signature by %s was not recorded: %s", error.signer,
                         failure)

    def _duplicate(self, command: _Command, known: SourceLink | None,
                   seen: Receipt | None) -> Receipt:
        """The receipt of a re-sent record: the event its source record names, once that
        event is shown to be the one the record became (a bare row is never believed)."""
        if seen is not None:
            return Receipt(seen.kind, seen.key, seen.version, seen.hash, duplicate=True)
        assert known is not None
        problem = link_problem(known, self.mapper)
        if problem or known.event is None:
            kind, key = command.fact.subject
            raise IntegrityFailure(
                f"{row_label(known.record)} {problem}; whether this "
                f"{type(command.fact).__name__} for {kind} {key} was recorded before cannot "
                f"be told, so nothing was written (thread verify lists every such row)")
        event = Recorded.decode(self.mapper.plaintext(known.event), self.keyring)
        kind, key = event.fact.subject
        return Receipt(kind, key, event.originator_version, event.hash.hex(), duplicate=True)

    # The aggregate cache

    def _refresh(self, idents: Sequence[UUID], *, load: bool = False,
                 newer_only: bool = False) -> dict[UUID, int]:
        """The stored versions of ``idents`` (absent: not stored); cached aggregates behind
        them are brought up to date with only the events they have not seen, and with
        ``load`` the others are loaded whole and cached.

        With ``newer_only`` cached aggregates are only asked for newer events (one query
        less): a store cut below the cache would go unnoticed, so it is for the moment
        right after a full refresh.
        """
        if newer_only:
            behind = [(ident, cached.version) for ident in idents
                      if (cached := self._cached(ident)) is not None]
            known = {ident for ident, _ in behind}
            current = self.store.select_versions([i for i in idents if i not in known])
        else:
            current = self.store.select_versions(idents)
            behind = []
            for ident in idents:
                cached = self._cached(ident)
                if cached is None or cached.version == current.get(ident, 0):
                    continue
                if cached.version < current.get(ident, 0):
                    behind.append((ident, cached.version))
                else:  # the store holds less than the cache: it was restored or cut
                    self._drop(ident)
        if behind:
            self._catch_up(behind)
        if newer_only:
            current.update((ident, cached.version) for ident, _ in behind
                           if (cached := self._cached(ident)) is not None)
            dropped = [ident for ident, _ in behind if ident not in current]
            current.update(self.store.select_versions(dropped) if dropped else {})
        if load:
            for ident in current:
                if self._cached(ident) is None:
                    self._remember(cast(Aggregate, self._app.repository.get(ident)))
        return current

    def _catch_up(self, behind: list[tuple[UUID, int]]) -> None:
        """Extend cached aggregates, each at the version given, with the events stored after
        it; one whose chain does not continue is dropped, to be loaded whole."""
        decode = self.mapper.decode
        caught_up: dict[UUID, Aggregate | None] = {}
        for row in self.store.select_newer(behind):
            ident = cast(UUID, row.originator_id)
            if ident not in caught_up:
                cached = self._cached(ident)
                # What an open stream wrote must not reach the committed copies.
                streamed = self._overlay is not None and ident not in self._overlay
                caught_up[ident] = None if cached is None else (
                    cached.fork() if streamed else cached)
            aggregate = caught_up[ident]
            if aggregate is None:
                continue
            try:
                aggregate.link(decode(row))
            except IntegrityFailure:  # not the history cached: load it whole instead
                self._drop(ident)
                caught_up[ident] = None
        for aggregate in caught_up.values():
            if aggregate is not None:
                self._remember(aggregate)

    def _load(self, kind: SubjectKind, key: str, ident: UUID, version: int
              ) -> tuple[Aggregate, bool]:
        """A subject stored at ``version`` (0: not stored): the cached aggregate (refreshed;
        True), else the subject loaded whole or new (False)."""
        if version == 0:
            return Aggregate.of_kind(kind)(kind_key=key, id=ident), False
        cached = self._cached(ident)
        if cached is not None and cached.version >= version:
            return cached, True
        try:
            return cast(Aggregate, self._app.repository.get(ident)), False
        except AggregateNotFoundError:
            return Aggregate.of_kind(kind)(kind_key=key, id=ident), False

    def _keep(self, unit: _Unit) -> None:
        """Cache what a unit that landed left its aggregates at."""
        for ident, aggregate in unit.touched.items():
            if ident not in unit.shared:
                aggregate.collect_events()
                if aggregate.exists:
                    self._remember(aggregate)

    # The cache holds committed state only: while a stream's transaction is open, what it
    # writes is kept in an overlay of the same size, merged into the cache when it commits.

    def _cached(self, ident: UUID) -> Aggregate | None:
        found = None if self._overlay is None else self._overlay.get(ident)
        if found is None:
            found = self._cache.get(ident)
            if found is not None:
                self._cache.move_to_end(ident)
        return found

    def _remember(self, aggregate: Aggregate) -> None:
        cache = self._cache if self._overlay is None else self._overlay
        cache[aggregate.id] = aggregate
        cache.move_to_end(aggregate.id)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)

    def _drop(self, ident: UUID) -> None:
        self._cache.pop(ident, None)
        if self._overlay is not None:
            self._overlay.pop(ident, None)

    def forget(self) -> None:
        """Drop every cached aggregate (after another process wrote, for example)."""
        with self._lock:
            self._cache.clear()
            if self._overlay is not None:
                self._overlay.clear()


def _hash_of(aggregate: Aggregate, version: int, replacement: Recorded) -> str:
    if not 1 <= version < replacement.originator_version:
        raise RuleViolation(
            f"a correction on {aggregate.label} must name an earlier version, not {version}"
        )
    return aggregate.hash_of(version).hex()


def _withheld(event: Recorded, kind: SubjectKind, key: str, withheld: Withholding) -> Recorded:
    """``event`` as the reader sees it: a stand-in with its kind, time and place in the chain
    (no content, no canonical bytes) when ``withheld`` covers it."""
    labels = withheld.of(event.originator_version)
    if labels is None:
        return event
    return replace(event, fact=f.Withheld(kind=kind, key=key, withheld_topic=event.topic,
                                          labels=labels), canonical=b"")


def _now() -> datetime:
    return datetime.now(UTC)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"

