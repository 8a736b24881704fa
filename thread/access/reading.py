"""What a reader is shown: the role policy and export-control labels on every read.

One guard per ledger decides, for one subject and one view (a history, a story,
a DHR), whether the reader may read it at all (their roles) and which of its
events are withheld from them (labels they are not cleared for). A view then
shows a withheld event's existence, time and kind, never its content; a
document (DHR, FAIR, dossier, analytics over a part number) is refused whole.
Every read of controlled data and every refusal is recorded on the reader's
account (``ControlledDataRead``, ``AccessAttemptRefused``), and a read that
cannot be recorded is refused.

The labels come from the ``ExportClassified`` facts, indexed once per ledger
and brought up to date from the log before each decision, so a classification
recorded by another process counts from its commit on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from thread.access.policy import SUBJECT, AccessRefused, Action, Resource
from thread.domain import facts as f
from thread.domain.export_control import Classification, classify
from thread.domain.facts.base import SubjectKind
from thread.errors import LedgerError

if TYPE_CHECKING:
    from thread.domain.chain import Recorded
    from thread.ledger import Ledger

_log = logging.getLogger(__name__)
_Own = list[tuple[int | None, tuple[str, ...]]]


@dataclass(frozen=True)
class Withholding:
    """Which of a subject's events a reader is not shown, and under which labels."""

    #: Labels withholding every event of the subject (the subject's own), or None.
    subject: tuple[str, ...] | None = None
    events: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    def of(self, version: int) -> tuple[str, ...] | None:
        """The labels that withhold event ``version``, or None when it is shown."""
        return self.subject if self.subject is not None else self.events.get(version)

    def __bool__(self) -> bool:
        return self.subject is not None or bool(self.events)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label that withholds something."""
        return tuple(sorted({*(self.subject or ()), *(x for v in self.events.values()
                                                         for x in v)}))


SHOWN = Withholding()


class ReadGuard:
    """The reads of one ledger, decided and recorded."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._index: dict[tuple[str, str], _Own] = {}
        self._position = 0
        self._lock = threading.Lock()
        self._noting = False
        self._pending: list[f.ControlledDataRead | f.AccessAttemptRefused] | None = None

    # Labels

    def _classified(self, refresh: bool = True) -> dict[tuple[str, str], _Own]:
        """Every classified subject and its classifications, brought up to date with the log
        (unless ``refresh`` is False: as of the last refresh)."""
        with self._lock:
            if not refresh:
                return self._index
            # Up to the log's end as it is now, so the next refresh reads only what is newer
            # (commit order is notification order on both stores).
            top = self._ledger.store.max_notification_id() or 0
            if top <= self._position:
                return self._index
            for position, event in self._ledger._scan(
                    start=self._position + 1, topics=[f.ExportClassified.topic]):
                fact = event.fact
                assert isinstance(fact, f.ExportClassified)
                self._index.setdefault((fact.kind, fact.key), []).append(
                    (fact.version, tuple(fact.labels)))
                top = max(top, position)
            self._position = top
            return self._index

    def classification(self, kind: SubjectKind, key: str, part_number: str | None = None,
                       *, refresh: bool = True) -> Classification:
        """The labels over ``kind key`` and its events; a part or lot that states none of
        its own inherits its design item's (``part_number``, looked up when not given)."""
        index = self._classified(refresh)
        own = index.get((kind, key), [])
        inherited: tuple[str, ...] = ()
        if (kind in ("part", "lot") and not any(v is None for v, _ in own)
                and any(k == "design" for k, _ in index)):
            number = part_number or self._part_number(kind, key)
            if number is not None and ("design", number) in index:
                inherited = classify(index[("design", number)]).subject
        return classify(own, inherited)

    def labelled(self, part_number: str) -> tuple[str, ...]:
        """Every label over a part number: its design item's, and those of any of its parts
        and their events (what a query across the part number reads)."""
        index = self._classified()
        labels: set[str] = set()
        for kind, key in index:
            if (kind, key) == ("design", part_number) or (
                    kind in ("part", "lot") and self._part_number(kind, key) == part_number):
                labels.update(self.classification(kind, key, part_number).every)  # type: ignore[arg-type]
        if not labels and ("design", part_number) in index:
            labels.update(classify(index[("design", part_number)]).subject)
        return tuple(sorted(labels))

    def _part_number(self, kind: str, key: str) -> str | None:
        ledger = self._ledger
        rows = ledger.store.select_events(ledger.mapper.subject_id(kind, key), limit=1)
        if not rows:
            return None
        return getattr(ledger.mapper.decode(rows[0]).fact, "part_number", None)

    # Decisions

    def withholding(self, kind: SubjectKind, key: str, view: str, *,
                    part_number: str | None = None, site: str | None = None) -> Withholding:
        """What of ``kind key`` the reader may not see through ``view``: refused whole when
        their roles may not read it (recorded, :class:`AccessRefused`); else the events
        withheld for labels they are not cleared for. A read of controlled data they are
        cleared for, and a withholding, are recorded."""
        policy, identity = self._ledger.policy, self._ledger.identity
        if policy is None:
            return SHOWN
        base = Resource(SUBJECT, kind, key, part_number, site)
        self.check(policy.decide(identity, "read", base).allowed, "read", base, view)
        labels = self.classification(kind, key, part_number)
        if not labels.controlled:
            return SHOWN
        cleared: dict[tuple[str, ...], bool] = {}

        def may(over: tuple[str, ...]) -> bool:
            if over not in cleared:
                resource = Resource(SUBJECT, kind, key, part_number, site, over)
                cleared[over] = policy.decide(identity, "read", resource).allowed
            return cleared[over]

        subject = None if not labels.subject or may(labels.subject) else labels.subject
        events = {} if subject is not None else {
            version: labels.of(version) for version in labels.events
            if not may(labels.of(version))}
        withheld = Withholding(subject, events)
        read = sorted({x for over, ok in cleared.items() if ok for x in over})
        if read:
            self.note(f.ControlledDataRead(signer=identity.user, kind=kind, key=key,
                                           view=view, labels=tuple(read)), required=True)
        if withheld:
            self.note(f.AccessAttemptRefused(
                signer=identity.user, action="read", what=view, kind=kind, key=key,
                rules=(), detail=f"content withheld: not cleared for "
                                 f"{', '.join(withheld.labels)}"))
        return withheld

    def document(self, kind: SubjectKind, key: str, view: str, *,
                 part_number: str | None = None) -> None:
        """Refuse a document of ``kind key`` (a DHR, a FAIR, a dossier) unless the reader may
        see all of it; a withheld event refuses it whole, naming the labels."""
        withheld = self.withholding(kind, key, view, part_number=part_number)
        if withheld:
            raise AccessRefused(
                f"{self._ledger.identity.user} may not read the {view} of {kind} {key}: it "
                f"holds data labelled {', '.join(withheld.labels)} they are not cleared for",
                rules=())

    def across(self, part_number: str | None, view: str) -> None:
        """Refuse a query across ``part_number`` (series, capability, failure patterns), or
        across every part number (None), unless the reader is cleared for every label over
        it."""
        policy, identity = self._ledger.policy, self._ledger.identity
        if policy is None:
            return
        labels = (self.labelled(part_number) if part_number is not None else
                  tuple(sorted({x for (kind, key) in self._classified()
                                for x in self.classification(kind, key).every})))  # type: ignore[arg-type]
        scope = part_number or "every part number"
        resource = Resource(SUBJECT, "design", scope, part_number, None, labels)
        decision = policy.decide(identity, "read", resource)
        self.check(decision.allowed, "read", resource, view)
        if labels:
            self.note(f.ControlledDataRead(signer=identity.user, kind="design", key=scope,
                                           view=view, labels=labels),
                      required=True)

    def check(self, allowed: bool, action: Action, resource: Resource, view: str) -> None:
        """Raise (and record) the refusal of ``action`` on ``resource`` unless ``allowed``."""
        if allowed:
            return
        policy = self._ledger.policy
        assert policy is not None
        decision = policy.decide(self._ledger.identity, action, resource)
        error = AccessRefused(decision.explain(), rules=decision.rules, action=action,
                              resource=resource)
        self.refused(error, action, resource, view)
        raise error

    def refused(self, error: AccessRefused, action: Action, resource: Resource,
                what: str | None = None) -> None:
        """Record a refusal on the person's account (a failure to record is logged: the
        refusal is what the caller must see)."""
        kind = resource.kind if resource.kind in ("part", "lot", "machine", "design",
                                                  "signer") else "design"
        self.note(f.AccessAttemptRefused(
            signer=self._ledger.identity.user, action=action, what=what or resource.topic,
            kind=kind, key=resource.key, rules=error.rules, detail=str(error)[:4000]))

    def note(self, fact: f.ControlledDataRead | f.AccessAttemptRefused, *,
             required: bool = False) -> None:
        """Record ``fact`` on the reader's account; a read that must be on record and is
        not is refused."""
        if self._pending is not None:
            self._pending.append(fact)
            return
        self._write([fact], required)

    @contextmanager
    def gathered(self) -> Iterator[None]:
        """Record the reads and refusals of a long read (a scan) in one transaction at its
        end, rather than one per subject; if that fails, the scan raises."""
        if self._pending is not None:
            yield
            return
        self._pending = []
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
        self._write(pending, any(isinstance(x, f.ControlledDataRead) for x in pending))

    def _write(self, facts: list[f.ControlledDataRead | f.AccessAttemptRefused],
               required: bool) -> None:
        if self._noting or not facts:
            return
        self._noting = True
        try:
            with self._ledger.batch(source="access") as batch:
                for fact in facts:
                    batch.record(fact)
        except LedgerError as error:
            if required:
                raise LedgerError(f"the read of controlled data by {facts[0].signer} could "
                                  f"not be recorded, so it is refused: {error}") from None
            _log.warning("%s was not recorded: %s", type(facts[0]).__name__, error)
        finally:
            self._noting = False



def whole(events: list[Recorded], kind: str, key: str, view: str) -> list[Recorded]:
    """``events`` for a document (a DHR, a FAIR, a dossier), which shows all of a subject or
    nothing: :class:`AccessRefused` when any of them is withheld from the reader."""
    labels = sorted({x for event in events if isinstance(event.fact, f.Withheld)
                     for x in event.fact.labels})
    if labels:
        raise AccessRefused(f"the {view} of {kind} {key} holds data labelled "
                            f"{', '.join(labels)} that the reader is not cleared for",
                            rules=())
    return events
