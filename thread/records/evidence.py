"""What backs a quality record: the verified events it was built from, where they sit in the
log, the signatures on them, and the moment the record is drawn as of.

A DHR or FAIR is a copy of ledger facts for people (Part 11.10(b)); every
value in it must be traceable to the events that say it. A :class:`Reader`
loads each subject's chain-verified history once, keeps only the events the
cutoff admits, and remembers every event a record cites, so the record can
list them with their log positions and hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from thread.access.reading import whole
from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.domain.facts.base import Fact, SubjectKind
from thread.domain.signature import verify_signature
from thread.errors import LedgerError, SignatureInvalid, UnknownSubject
from thread.ledger import Ledger
from thread.presentation import shorten, summarize

TimeAxis = Literal["recorded", "occurred"]
#: How a field of a record came to have its value.
Status = Literal["recorded", "derived", "not recorded", "not applicable"]
F = TypeVar("F", bound=Fact)


class RecordUnavailable(LedgerError):  # noqa: N818 - reads as the state of the record
    """The ledger cannot give the record asked for (for example a DHR of a material lot)."""


class Model(BaseModel):
    """A frozen part of a record, serialisable to JSON as it stands."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EventRef(Model):
    """One event a record was built from: subject, version, log position and hash."""

    kind: SubjectKind
    key: str
    version: int
    topic: str
    position: int | None
    hash: str
    occurred_at: datetime
    recorded_at: datetime

    @property
    def label(self) -> str:
        """``part SN-1 v3``."""
        return f"{self.kind} {self.key} v{self.version}"

    def short(self) -> str:
        """How a section cites it: subject, version, log position and a hash prefix."""
        where = f" log #{self.position}" if self.position is not None else ""
        return f"{self.label}{where} {self.hash[:12]}"


class RecordField(Model):
    """One field of a record: its value and how the value was obtained.

    ``status`` says whether the value was recorded by a fact, derived from
    facts, not recorded (the ledger holds no fact that gives it) or not
    applicable; ``derived_from`` names the facts and fields it comes from.
    """

    number: str | None = None
    name: str
    value: str | int | None
    status: Status
    derived_from: str
    note: str | None = None
    evidence: tuple[EventRef, ...] = ()

    @property
    def text(self) -> str:
        """The value as a document prints it; a missing value says so."""
        if self.status == "not recorded":
            return "Not recorded"
        if self.status == "not applicable":
            return "N/A" + (f": {self.value}" if self.value not in (None, "") else "")
        return "" if self.value is None else str(self.value)


def field(
    name: str,
    value: str | int | None,
    derived_from: str,
    evidence: Iterable[EventRef] = (),
    *,
    number: str | None = None,
    status: Status = "recorded",
    note: str | None = None,
) -> RecordField:
    """A field; an empty value is marked not recorded rather than shown blank."""
    if value is None or value == "":
        status = "not recorded"
        value = None
    return RecordField(number=number, name=name, value=value, status=status,
                       derived_from=derived_from, note=note, evidence=tuple(evidence))


def not_applicable(name: str, why: str, *, number: str | None = None) -> RecordField:
    """A field that does not apply to this record, with the reason."""
    return RecordField(number=number, name=name, value=why, status="not applicable",
                       derived_from=why)


#: What a signature check established: ``verified`` against a key the reader pinned for the
#: signer; ``key not pinned`` when it matches the signed event's hash and verifies with the
#: key it carries, which proves the record unchanged but not who signed; ``not verified``.
SignatureStatus = Literal["verified", "key not pinned", "not verified"]


class SignatureRecord(Model):
    """An electronic signature as a copy shows it (Part 11.50): who, when, what it means, and
    what was and was not checked."""

    printed_name: str
    signer: str
    meaning: str
    signed_at: datetime
    signed: EventRef
    signed_summary: str
    signature_event: EventRef
    public_key: str
    status: SignatureStatus
    #: True only when the signature verified against the key the reader pinned for the signer,
    #: or (no key pinned) the key the ledger's signer registry held for them when they signed.
    verified: bool
    verification: str

    @property
    def label(self) -> str:
        """The check in capitals, as the signature block prints it."""
        return self.status.upper()

    @property
    def details(self) -> str:
        """What was and was not checked, after the label."""
        return self.verification.removeprefix(self.label + ": ")

    @property
    def checked(self) -> str:
        """The check in a few words, as a field naming the signer prints it."""
        return {"verified": "signature verified",
                "key not pinned": "signature intact, signer's key not pinned",
                "not verified": "signature NOT VERIFIED"}[self.status]

    @property
    def signed_by(self) -> str:
        """``Ruth Okafor (approval, 2026-02-16 06:00:00 UTC, signature verified)``."""
        return f"{self.printed_name} ({self.meaning}, {moment(self.signed_at)}, {self.checked})"


class Derivation(Model):
    """Which facts a part of the record was derived from."""

    field: str
    derived_from: str


class DocumentInfo(Model):
    """The record's identity and where it comes from."""

    document_id: str
    title: str
    standard: str
    generated_at: datetime
    ledger_origin: str
    log_size: int
    log_root: str
    as_of: datetime | None
    by: TimeAxis
    as_of_note: str
    evidence_digest: str


@dataclass(frozen=True)
class Cutoff:
    """The moment a record is drawn as of, and by which clock (None: everything recorded)."""

    as_of: datetime | None = None
    by: TimeAxis = "recorded"

    def __post_init__(self) -> None:
        if self.as_of is not None and self.as_of.tzinfo is None:
            raise LedgerError(f"as_of {self.as_of.isoformat()} needs a time zone")
        if self.by not in ("recorded", "occurred"):
            raise LedgerError(f"by must be 'recorded' or 'occurred', not {self.by!r}")

    def admits(self, event: Recorded) -> bool:
        """Whether ``event`` was known (by recorded time) or had happened (by occurred time)."""
        if self.as_of is None:
            return True
        moment = event.recorded_at if self.by == "recorded" else event.occurred_at
        return moment <= self.as_of

    def describe(self) -> str:
        """One sentence for the document header."""
        if self.as_of is None:
            return "Current: every fact the ledger held when this copy was generated."
        when = moment(self.as_of)
        if self.by == "recorded":
            return (f"As of {when} by recorded time: only facts the ledger had recorded by "
                    "then; facts recorded later are left out.")
        return (f"As of {when} by occurred time: only facts that happened on the floor by "
                "then, including those recorded later.")


class Stream:
    """One subject's chain-verified events that the cutoff admits, oldest first."""

    def __init__(self, kind: SubjectKind, key: str, events: list[Recorded]) -> None:
        self.kind = kind
        self.key = key
        self.events = events
        self.superseded: dict[int, int] = {}
        for event in events:
            if isinstance(event.fact, f.CorrectionRecorded):
                self.superseded[event.fact.corrects_version] = event.fact.replaced_by_version

    def facts(self, cls: type[F], *, current: bool = True) -> list[tuple[Recorded, F]]:
        """Events of one fact kind with their facts; ``current`` leaves out superseded ones."""
        return [(event, event.fact) for event in self.events
                if isinstance(event.fact, cls)
                and not (current and event.originator_version in self.superseded)]

    def first(self, cls: type[F]) -> tuple[Recorded, F] | None:
        """The first current event of a fact kind."""
        found = self.facts(cls)
        return found[0] if found else None

    def at(self, version: int) -> Recorded | None:
        """The event at ``version``, if the cutoff admits it."""
        for event in self.events:
            if event.originator_version == version:
                return event
        return None


class Reader:
    """Loads subjects for one record under one cutoff and remembers what the record cites."""

    def __init__(self, ledger: Ledger, cutoff: Cutoff,
                 trusted_keys: dict[str, bytes] | None = None) -> None:
        """``trusted_keys`` pins the Ed25519 public key the reader trusts for each signer id;
        only a signature that verifies against its signer's pinned key reads VERIFIED."""
        self.ledger = ledger
        self.cutoff = cutoff
        self.trusted_keys = trusted_keys or {}
        self._streams: dict[tuple[SubjectKind, str], Stream | None] = {}
        self._refs: dict[tuple[SubjectKind, str, int], EventRef] = {}

    def stream(self, kind: SubjectKind, key: str) -> Stream | None:
        """The subject's events as of the cutoff; None if it is unknown or not yet there."""
        wanted = (kind, key)
        if wanted not in self._streams:
            try:
                history = whole(self.ledger.history_of(kind, key), kind, key,  # every link
                                "record")  # checked; all of it or none
            except UnknownSubject:
                self._streams[wanted] = None
            else:
                admitted = [event for event in history if self.cutoff.admits(event)]
                self._streams[wanted] = Stream(kind, key, admitted) if admitted else None
        return self._streams[wanted]

    def ref(self, stream: Stream, event: Recorded) -> EventRef:
        """Cite ``event`` of ``stream``: the record will list it with its log position."""
        wanted = (stream.kind, stream.key, event.originator_version)
        cited = self._refs.get(wanted)
        if cited is None:
            position = self.ledger.store.leaf_position(
                self.ledger.mapper.subject_id(stream.kind, stream.key),
                event.originator_version)
            cited = EventRef(kind=stream.kind, key=stream.key,
                             version=event.originator_version, topic=event.topic,
                             position=position, hash=event.hash.hex(),
                             occurred_at=event.occurred_at, recorded_at=event.recorded_at)
            self._refs[wanted] = cited
        return cited

    def refs(self, stream: Stream, events: Iterable[Recorded]) -> tuple[EventRef, ...]:
        """Cite several events of one stream."""
        return tuple(self.ref(stream, event) for event in events)

    def evidence(self) -> tuple[EventRef, ...]:
        """Every event cited so far, by subject and version."""
        return tuple(sorted(self._refs.values(), key=lambda r: (r.kind, r.key, r.version)))

    def signatures(self, stream: Stream,
                   versions: Iterable[int] | None = None) -> list[SignatureRecord]:
        """The signatures in ``stream`` (on ``versions`` only, when given), each verified."""
        wanted = None if versions is None else set(versions)
        found = []
        for event, fact in stream.facts(f.SignatureApplied, current=False):
            if wanted is not None and fact.signed_version not in wanted:
                continue
            found.append(self._signature(stream, event, fact))
        return found

    def _signature(self, stream: Stream, event: Recorded,
                   fact: f.SignatureApplied) -> SignatureRecord:
        signed = stream.at(fact.signed_version)
        problems: list[str] = []
        checks: list[str] = []
        pinned = self.trusted_keys.get(fact.signer)
        try:
            verify_signature(fact, pinned)
        except SignatureInvalid as error:
            problems.append(str(error))
        else:
            checks.append("Ed25519 signature verifies with " + (
                f"the key pinned for {fact.signer} ({pinned.hex()[:16]}...)" if pinned
                else f"the key it carries ({fact.public_key[:16]}...)"))
        if signed is None or signed.hash.hex() != fact.signed_hash:
            problems.append(f"the signed hash does not match version {fact.signed_version} "
                            "of this subject's verified chain")
        else:
            checks.append(f"matches the SHA-256 hash of version {fact.signed_version}, the "
                          "signed event (11.70)")
        registered = None if pinned is not None or problems else self._registered(fact, event)
        if registered is not None and registered.startswith("not "):
            problems.append(registered.removeprefix("not "))
        elif registered is not None:
            checks.append(registered)
        status: SignatureStatus
        if problems:
            status, verification = "not verified", "NOT VERIFIED: " + "; ".join(problems)
        elif pinned is not None or registered is not None:
            status, verification = "verified", "VERIFIED: " + "; ".join(checks)
        else:
            status = "key not pinned"
            verification = ("KEY NOT PINNED: " + "; ".join(checks) + "; the signer's key is not "
                            f"pinned, so who signed is not checked: pin the key of "
                            f"{fact.signer} to verify it")
        target = signed if signed is not None else event
        return SignatureRecord(
            printed_name=fact.printed_name, signer=fact.signer, meaning=fact.meaning,
            signed_at=fact.signed_at, signed=self.ref(stream, target),
            signed_summary=(shorten(f"{target.fact.topic}: {summarize(target.fact)}", 160)
                            if signed is not None else "signed event not in this copy"),
            signature_event=self.ref(stream, event), public_key=fact.public_key,
            status=status, verified=status == "verified", verification=verification,
        )

    def _registered(self, fact: f.SignatureApplied, event: Recorded) -> str | None:
        """What the signer registry says of the signing key: that it was the key registered
        for the signer when they signed (a check), ``not ...`` when it was not, or None
        when the ledger keeps no registry or the signer is not in it."""
        if not self.ledger.registry_in_use():
            return None
        try:
            account = self.ledger.signer(fact.signer)
        except UnknownSubject:  # signed before the registry began: the pinned key decides
            return None
        period = account.key_period(fact.public_key)
        if period is None or not period.covers(fact.signed_at, event.recorded_at):
            return (f"not the key the signer registry held for {fact.signer} when they "
                    f"signed ({fact.public_key[:16]}...)")
        return (f"the key the signer registry held for {fact.signer} ({account.printed_name}) "
                f"from {period.valid_from:%Y-%m-%d %H:%M}Z")

    def document(self, prefix: str, title: str, standard: str,
                 generated_at: datetime | None) -> DocumentInfo:
        """The record's header; its id ends in a digest of every event it cites."""
        evidence = self.evidence()
        digest = hashlib.sha256()
        for cited in evidence:
            digest.update(bytes.fromhex(cited.hash))
        as_of = self.cutoff.as_of
        digest.update(f"{as_of.isoformat() if as_of else ''}/{self.cutoff.by}".encode())
        size, root = self.ledger.tree_head()
        hexdigest = digest.hexdigest()
        return DocumentInfo(
            document_id=f"{prefix}-{hexdigest[:8].upper()}", title=title, standard=standard,
            generated_at=generated_at or datetime.now(UTC), ledger_origin=self.ledger.origin,
            log_size=size, log_root=root.hex(), as_of=as_of, by=self.cutoff.by,
            as_of_note=self.cutoff.describe(), evidence_digest=f"sha256:{hexdigest}",
        )


def moment(value: datetime) -> str:
    """A time as records print it: UTC, to the second, labelled."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
