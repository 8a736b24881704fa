"""The audit trail an inspector asks for (21 CFR 11.10(e)): every correction with its old
and new values, who made it, when and why; every electronic signature; every refused
attempt; every read of controlled data.

Nothing in the ledger is overwritten or deleted, so the trail is computed from the
append-only events, never stored: a correction is a later event naming the one it
supersedes, both kept. Corrections and signatures are read through the subject's
policy-checked history (``Ledger.history_of``), so a reader sees in the trail only
what they may see of the subject; a withheld event (:class:`~thread.domain.facts.Withheld`)
shows its existence, time and labels, never its values. Refused attempts and reads
are on the people's accounts and are found by scanning their topics.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from thread.domain import facts as f
from thread.domain.canonical import model_payload
from thread.domain.chain import Recorded
from thread.domain.facts.base import SubjectKind
from thread.errors import LedgerError
from thread.presentation import moment, printable
from thread.read.result import Model

if TYPE_CHECKING:
    from thread.ledger import Ledger

#: The field a change shows when either side of a correction is withheld from the reader.
WITHHELD = "(withheld)"
_CORRECTION = f.CorrectionRecorded.topic
_SIGNATURE = f.SignatureApplied.topic
_REFUSED = f.AccessAttemptRefused.topic
_READ = f.ControlledDataRead.topic
_FAILED = f.SigningFailed.topic


class FieldChange(Model):
    """One field a correction changed: its value before and after (None: the field is
    absent on that side, or its value is None)."""

    field: str
    old: Any
    new: Any


class CorrectionEntry(Model):
    """An event of the subject superseded by a later one: what changed, who, when and why.

    ``version`` is the ``CorrectionRecorded`` event's own place in the subject's chain.
    When the reader is not cleared for a side of it, ``withheld`` lists the labels and
    ``changes`` holds a single :data:`WITHHELD` change; when the correction event itself
    is withheld, the versions, topic and reason are None as well.
    """

    kind: SubjectKind
    key: str
    version: int
    corrected_version: int | None
    replaced_by_version: int | None
    topic: str | None
    changes: tuple[FieldChange, ...]
    actor: str
    recorded_at: datetime
    reason: str | None
    withheld: tuple[str, ...] = ()


class SignatureEntry(Model):
    """An electronic signature on one of a subject's events: who, in which meaning, when.

    When the signature event is withheld from the reader, only its subject, version and
    time (``signed_at``: when it was recorded) show, with the labels in ``withheld``.
    """

    kind: SubjectKind
    key: str
    version: int
    signed_version: int | None
    signed_topic: str | None
    signer: str | None
    printed_name: str | None
    meaning: str | None
    signed_at: datetime
    withheld: tuple[str, ...] = ()


class RefusalEntry(Model):
    """An attempt that did not succeed: a write, signature or read the role policy refused
    (naming its subject), or a failed attempt to sign (``reason``, no subject).

    ``version`` is the event's place in the person's own account (subject kind ``signer``).
    """

    person: str
    action: Literal["record", "sign", "read"]
    what: str
    kind: SubjectKind | None
    key: str | None
    rules: tuple[str, ...]
    detail: str
    reason: str | None
    at: datetime
    version: int


class ReadEntry(Model):
    """A read of export-controlled data of a subject, through one view, by one person."""

    person: str
    kind: SubjectKind
    key: str
    view: str
    labels: tuple[str, ...]
    at: datetime
    version: int


class AuditTrail(Model):
    """The audit trail of one subject (``kind``, ``key``) or of everything recorded since a
    moment (``since``); each list in log order."""

    kind: SubjectKind | None
    key: str | None
    since: datetime | None
    corrections: tuple[CorrectionEntry, ...]
    signatures: tuple[SignatureEntry, ...]
    refusals: tuple[RefusalEntry, ...]
    reads: tuple[ReadEntry, ...]

    def text(self) -> str:
        """The trail for people: four headed sections, a line per entry with when, who and
        what (times in UTC), ``none`` under an empty one."""
        title = (f"Audit trail of {self.kind} {self.key}" if self.key is not None
                 else f"Audit trail since {moment(self.since)} UTC" if self.since is not None
                 else "Audit trail")
        lines = [title]
        sections: tuple[tuple[str, Sequence[Any], Callable[[Any], list[str]]], ...] = (
            ("Corrections", self.corrections, _correction_lines),
            ("Signatures", self.signatures, _signature_lines),
            ("Refused attempts", self.refusals, _refusal_lines),
            ("Reads of controlled data", self.reads, _read_lines),
        )
        for heading, entries, describe in sections:
            lines += ["", f"{heading} ({len(entries)})"]
            lines += [line for entry in entries for line in describe(entry)] or ["  none"]
        return "\n".join(printable(line) for line in lines)


def audit_trail(ledger: Ledger, *, kind: SubjectKind = "part", key: str | None = None,
                since: datetime | None = None) -> AuditTrail:
    """The audit trail of subject ``kind`` ``key``, or of everything recorded at or after
    ``since`` (give exactly one of them).

    A subject's trail lists its corrections and signatures and the refused attempts and
    reads that name it; failed attempts to sign name no subject, so only the trail since
    a moment lists them.
    """
    if (key is None) == (since is None):
        raise LedgerError("an audit trail is of one subject (key) or of everything since a "
                          "moment (since); give exactly one of them")
    if since is not None:
        if since.tzinfo is None:
            raise LedgerError(f"since {since.isoformat()} needs a time zone")
        return _since(ledger, since)
    assert key is not None
    key = unicodedata.normalize("NFC", key)
    history = ledger.history_of(kind, key)
    corrections, signatures = _record_entries(history, history)
    refusals: list[RefusalEntry] = []
    reads: list[ReadEntry] = []
    for _, event in ledger.scan(topics=[_REFUSED, _READ]):
        fact = event.fact
        if isinstance(fact, f.AccessAttemptRefused | f.ControlledDataRead) and (
                fact.kind, fact.key) == (kind, key):
            _person_entry(event, refusals, reads)
    return AuditTrail(kind=kind, key=key, since=None, corrections=tuple(corrections),
                      signatures=tuple(signatures), refusals=tuple(refusals),
                      reads=tuple(reads))


def _since(ledger: Ledger, since: datetime) -> AuditTrail:
    """Everything recorded at or after ``since``; a correction or signature is read through
    its subject's history, as the subject's own trail reads it."""
    histories: dict[tuple[SubjectKind, str], list[Recorded]] = {}
    corrections: list[CorrectionEntry] = []
    signatures: list[SignatureEntry] = []
    refusals: list[RefusalEntry] = []
    reads: list[ReadEntry] = []
    # Taken whole first: reading a controlled subject's history below may record the read.
    found = list(ledger.scan(topics=[_CORRECTION, _SIGNATURE, _REFUSED, _READ, _FAILED]))
    for _, event in found:
        if event.recorded_at < since:
            continue
        if _shown_topic(event) in (_CORRECTION, _SIGNATURE):
            subject = event.fact.subject
            if subject not in histories:
                histories[subject] = ledger.history_of(*subject)
            history = histories[subject]
            corrected, signed = _record_entries(history,
                                                [history[event.originator_version - 1]])
            corrections += corrected
            signatures += signed
        else:
            _person_entry(event, refusals, reads)
    return AuditTrail(kind=None, key=None, since=since, corrections=tuple(corrections),
                      signatures=tuple(signatures), refusals=tuple(refusals),
                      reads=tuple(reads))


def _shown_topic(event: Recorded) -> str:
    """The kind of fact an event holds, also when it is withheld from the reader."""
    fact = event.fact
    return fact.withheld_topic if isinstance(fact, f.Withheld) else event.topic


def _record_entries(history: Sequence[Recorded], events: Sequence[Recorded]
                    ) -> tuple[list[CorrectionEntry], list[SignatureEntry]]:
    """The corrections and signatures among ``events``, which are of ``history``."""
    corrections: list[CorrectionEntry] = []
    signatures: list[SignatureEntry] = []
    for event in events:
        topic = _shown_topic(event)
        if topic == _CORRECTION:
            corrections.append(_correction(history, event))
        elif topic == _SIGNATURE:
            signatures.append(_signature(history, event))
    return corrections, signatures


def _correction(history: Sequence[Recorded], event: Recorded) -> CorrectionEntry:
    fact = event.fact
    kind, key = fact.subject
    if isinstance(fact, f.Withheld):
        return CorrectionEntry(
            kind=kind, key=key, version=event.originator_version, corrected_version=None,
            replaced_by_version=None, topic=None,
            changes=(FieldChange(field=WITHHELD, old=_labels(fact), new=_labels(fact)),),
            actor=event.actor, recorded_at=event.recorded_at, reason=None,
            withheld=fact.labels)
    assert isinstance(fact, f.CorrectionRecorded)
    old = history[fact.corrects_version - 1].fact
    new = history[fact.replaced_by_version - 1].fact
    withheld = tuple(sorted({label for side in (old, new) if isinstance(side, f.Withheld)
                             for label in side.labels}))
    changes = ((FieldChange(field=WITHHELD, old=_labels(old), new=_labels(new)),)
               if withheld else _changes(model_payload(old), model_payload(new)))
    return CorrectionEntry(
        kind=kind, key=key, version=event.originator_version,
        corrected_version=fact.corrects_version, replaced_by_version=fact.replaced_by_version,
        topic=old.withheld_topic if isinstance(old, f.Withheld) else old.topic,
        changes=changes, actor=event.actor, recorded_at=event.recorded_at, reason=fact.reason,
        withheld=withheld)


def _labels(fact: f.Fact) -> str | None:
    """What a withheld side of a correction shows: the labels that withhold it."""
    return ", ".join(fact.labels) if isinstance(fact, f.Withheld) else None


def _changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[FieldChange, ...]:
    """The fields whose values differ, or that only one side has, in field order."""
    names = [*old, *(name for name in new if name not in old)]
    return tuple(FieldChange(field=name, old=old.get(name), new=new.get(name))
                 for name in names if name not in old or name not in new
                 or old[name] != new[name])


def _signature(history: Sequence[Recorded], event: Recorded) -> SignatureEntry:
    fact = event.fact
    kind, key = fact.subject
    if isinstance(fact, f.Withheld):
        return SignatureEntry(kind=kind, key=key, version=event.originator_version,
                              signed_version=None, signed_topic=None, signer=None,
                              printed_name=None, meaning=None, signed_at=event.recorded_at,
                              withheld=fact.labels)
    assert isinstance(fact, f.SignatureApplied)
    return SignatureEntry(kind=kind, key=key, version=event.originator_version,
                          signed_version=fact.signed_version,
                          signed_topic=_shown_topic(history[fact.signed_version - 1]),
                          signer=fact.signer, printed_name=fact.printed_name,
                          meaning=fact.meaning, signed_at=fact.signed_at)


def _person_entry(event: Recorded, refusals: list[RefusalEntry], reads: list[ReadEntry]
                  ) -> None:
    """The refusal or read an event on a person's account records, added to its list."""
    fact = event.fact
    at, version = event.recorded_at, event.originator_version
    if isinstance(fact, f.AccessAttemptRefused):
        refusals.append(RefusalEntry(person=fact.signer, action=fact.action, what=fact.what,
                                     kind=fact.kind, key=fact.key, rules=fact.rules,
                                     detail=fact.detail, reason=None, at=at, version=version))
    elif isinstance(fact, f.SigningFailed):
        refusals.append(RefusalEntry(person=fact.signer, action="sign", what="signature",
                                     kind=None, key=None, rules=(), detail=fact.detail,
                                     reason=fact.reason, at=at, version=version))
    elif isinstance(fact, f.ControlledDataRead):
        reads.append(ReadEntry(person=fact.signer, kind=fact.kind, key=fact.key,
                               view=fact.view, labels=fact.labels, at=at, version=version))


# How each entry reads as text: when, who, what.

def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _correction_lines(entry: CorrectionEntry) -> list[str]:
    where = f"{entry.kind} {entry.key}"
    if entry.corrected_version is None:
        return [f"  {moment(entry.recorded_at)}  {entry.actor}  {where} v{entry.version}: "
                f"correction withheld ({', '.join(entry.withheld)})"]
    head = (f"  {moment(entry.recorded_at)}  {entry.actor}  {where} v{entry.corrected_version} "
            f"{entry.topic} replaced by v{entry.replaced_by_version}, because: {entry.reason}")
    if entry.withheld:
        return [head, f"      values withheld ({', '.join(entry.withheld)})"]
    return [head, *(f"      {c.field}: {_value(c.old)} -> {_value(c.new)}"
                    for c in entry.changes)]


def _signature_lines(entry: SignatureEntry) -> list[str]:
    where = f"{entry.kind} {entry.key}"
    if entry.signer is None:
        return [f"  {moment(entry.signed_at)}  (withheld)  signature {where} "
                f"v{entry.version} withheld ({', '.join(entry.withheld)})"]
    return [f"  {moment(entry.signed_at)}  {entry.printed_name} ({entry.signer})  "
            f"{entry.meaning} of {where} v{entry.signed_version} {entry.signed_topic}"]


def _refusal_lines(entry: RefusalEntry) -> list[str]:
    when_who = f"  {moment(entry.at)}  {entry.person}"
    if entry.reason is not None:
        return [f"{when_who}  signing failed ({entry.reason})"
                + (f": {entry.detail}" if entry.detail else "")]
    rules = f" by {', '.join(entry.rules)}" if entry.rules else ""
    return [f"{when_who}  {entry.action} {entry.what} on {entry.kind} {entry.key} "
            f"refused{rules}" + (f": {entry.detail}" if entry.detail else "")]


def _read_lines(entry: ReadEntry) -> list[str]:
    return [f"  {moment(entry.at)}  {entry.person}  read {entry.kind} {entry.key} through "
            f"{entry.view} ({', '.join(entry.labels)})"]
