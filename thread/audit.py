"""``thread verify``: re-derive every chain, leaf, tree head and checkpoint from stored rows.

Two streaming passes keep memory constant however large the ledger is:
the log pass reads events in commit order, recomputes each leaf and the
tree, and compares them with the stored leaves and every signed checkpoint;
the chain pass reads events one aggregate at a time and checks each link.
The report names the first bad event in log order: position, aggregate,
subject, version and what is wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast
from uuid import UUID

from thread.checkpoint import Checkpoint, CheckpointError, open_note
from thread.domain.canonical import CanonicalError, unpack
from thread.domain.chain import GENESIS
from thread.errors import IntegrityFailure
from thread.ledger import PAGE, Ledger
from thread.merkle import CompactRange, leaf_hash
from thread.storage.mapper import FactMapper

#: Called with (events checked so far, events to check) as the passes advance.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, order=True)
class Finding:
    """One thing that does not verify, placed in the log where possible."""

    position: int
    what: str
    aggregate: str = ""
    subject: str = ""
    version: int | None = None

    def describe(self) -> str:
        """A line a quality engineer or auditor can act on."""
        where = [f"log position {self.position}" if self.position >= 0 else "the log"]
        if self.subject or self.aggregate:
            where.append(self.subject or f"aggregate {self.aggregate}")
        if self.version is not None:
            where.append(f"version {self.version}")
        return f"{', '.join(where)}: {self.what}"


@dataclass
class AuditReport:
    """What ``thread verify`` found."""

    events: int = 0
    aggregates: int = 0
    tree_size: int = 0
    root: bytes = b""
    checkpoints: int = 0
    signatures_checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every chain, leaf, tree head and checkpoint verified."""
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The earliest problem in log order."""
        return min(self.findings) if self.findings else None


_MAX_FINDINGS = 50
_UNPLACED = 1 << 62  # sorts findings that have no log position after those that have


def audit(
    ledger: Ledger,
    *,
    verifier_keys: Sequence[str] = (),
    trusted_checkpoints: Sequence[str] = (),
    progress: Progress | None = None,
) -> AuditReport:
    """Verify the whole ledger from its stored rows.

    ``verifier_keys`` pins the keys whose signatures on stored checkpoints
    are trusted; ``trusted_checkpoints`` are notes the auditor kept from
    earlier (they catch a ledger restored from an older copy).
    """
    report = AuditReport()
    total = ledger.count()
    checkpoints = _checkpoints(ledger, verifier_keys, trusted_checkpoints, report)
    _log_pass(ledger, checkpoints, report, total, progress)
    _chain_pass(ledger, report, total, progress)
    return report


@dataclass(frozen=True)
class _Claim:
    """A tree head someone signed: the recomputed log must have it at that size."""

    checkpoint: Checkpoint
    source: str


def _checkpoints(ledger: Ledger, verifier_keys: Sequence[str],
                 trusted: Sequence[str], report: AuditReport) -> dict[int, list[_Claim]]:
    claims: dict[int, list[_Claim]] = {}
    notes = [(note, f"stored checkpoint at size {size}") for size, note in ledger.checkpoints()]
    notes += [(note, "the trusted checkpoint given") for note in trusted]
    report.checkpoints = len(notes)
    for note, source in notes:
        try:
            if verifier_keys:
                body, _ = open_note(note, verifier_keys)
                report.signatures_checked += 1
            else:
                body = note.split("\n\n", 1)[0] + "\n"
            checkpoint = Checkpoint.parse(body)
        except (CheckpointError, IntegrityFailure) as error:
            _add(report, Finding(_UNPLACED, f"{source} does not verify: {error}"))
            continue
        if checkpoint.origin != ledger.origin:
            _add(report, Finding(_UNPLACED, f"{source} is for log {checkpoint.origin!r}, "
                                            f"not this ledger's {ledger.origin!r}"))
            continue
        claims.setdefault(checkpoint.size, []).append(_Claim(checkpoint, source))
    return claims


def _log_pass(ledger: Ledger, claims: dict[int, list[_Claim]], report: AuditReport,
              total: int, progress: Progress | None) -> None:
    """Recompute leaves and tree in commit order and compare them with what is stored."""
    mapper = cast(FactMapper, ledger.mapper)
    store = ledger.store
    tree = CompactRange()
    _check_claims(tree, claims, report)
    stored_leaves: list[tuple[int, int, bytes]] = []
    position = 0
    for row in ledger.notifications():
        if not stored_leaves:
            stored_leaves = store.select_leaves(position, PAGE)[::-1]
        stored = stored_leaves.pop() if stored_leaves else None
        try:
            canonical = mapper.plaintext(row)
        except ValueError as error:
            _add(report, Finding(position, f"event does not decrypt: {error}",
                                 aggregate=str(row.originator_id), version=row.originator_version))
            canonical = row.state
        leaf = leaf_hash(canonical)
        what = ""
        if stored is None:
            what = "event has no leaf in the stored log (inserted behind the ledger's back?)"
        elif stored[1] != row.id:
            what = "stored leaf belongs to another row (events deleted, inserted or reordered)"
        elif stored[2] != leaf:
            what = "event bytes differ from the leaf the log committed to (event edited)"
        if what:
            _add(report, Finding(position, what, aggregate=str(row.originator_id),
                                 subject=_subject_in(canonical), version=row.originator_version))
        tree.append(leaf)
        position += 1
        _check_claims(tree, claims, report)
        if progress is not None and position % 10_000 == 0:
            progress(position, 2 * total)
    report.events = position
    report.tree_size = store.tree_size()
    report.root = tree.root()
    if report.tree_size != position:
        _add(report, Finding(min(position, report.tree_size),
                             f"the stored log has {report.tree_size} leaves but there are "
                             f"{position} events (events or leaves removed or added)"))
    for size, pending in claims.items():
        if size > position:
            for claim in pending:
                _add(report, Finding(position, f"{claim.source} covers {size} events but only "
                                               f"{position} remain: events were removed, the "
                                               f"tail cut off, or an older copy restored"))


def _check_claims(tree: CompactRange, claims: dict[int, list[_Claim]], report: AuditReport) -> None:
    for claim in claims.get(tree.size, ()):
        if claim.checkpoint.root != tree.root():
            _add(report, Finding(max(tree.size - 1, 0),
                                 f"recomputed root of the first {tree.size} events differs from "
                                 f"{claim.source}: an event at or before this position was "
                                 f"changed, removed, inserted or reordered"))


def _chain_pass(ledger: Ledger, report: AuditReport, total: int,
                progress: Progress | None) -> None:
    mapper = cast(FactMapper, ledger.mapper)
    store = ledger.store
    after: tuple[UUID, int] | None = None
    current: UUID | None = None
    subject = ""
    version = 0
    head = GENESIS
    seen = 0
    while True:
        page = store.select_by_aggregate(after, PAGE)
        for row, notification in page:
            seen += 1
            originator = cast(UUID, row.originator_id)
            if originator != current:
                current, version, head, subject = originator, 0, GENESIS, ""
                report.aggregates += 1
            try:
                body = unpack(mapper.plaintext(row))
                raw_id, body_version, topic, _, prev_hash = body[:5]
                fact = body[10]
            except (CanonicalError, ValueError, TypeError, IndexError, KeyError) as error:
                _add(report, _placed(ledger, notification, f"event does not decode: {error}",
                                     originator, subject, row.originator_version))
                version, head = row.originator_version, b""
                continue
            subject = subject or _subject_of(fact)
            problem = ""
            if (raw_id, body_version, topic) != (originator.bytes, row.originator_version,
                                                 row.topic):
                problem = (f"row says version {row.originator_version} {row.topic!r} but its "
                           f"bytes say version {body_version} {topic!r} (relabelled or moved)")
            elif row.originator_version != version + 1:
                problem = (f"follows version {version}: the chain has a gap (an event was "
                           f"deleted) or a repeat")
            elif head and prev_hash != head:
                problem = (f"does not link to the hash of version {version} ({topic}): an "
                           f"earlier event of this subject was changed")
            if problem:
                _add(report, _placed(ledger, notification, problem, originator, subject,
                                     row.originator_version))
            version = row.originator_version
            head = hashlib.sha256(mapper.plaintext(row)).digest()
            after = (originator, row.originator_version)
        if progress is not None:
            progress(total + seen, 2 * total)
        if len(page) < PAGE:
            break


def _subject_in(canonical: bytes) -> str:
    """The subject an event's bytes name, for a report; empty when they do not decode."""
    try:
        return _subject_of(unpack(canonical)[10])
    except (CanonicalError, IndexError, TypeError):
        return ""


def _subject_of(fact: object) -> str:
    if isinstance(fact, dict):
        for key, label in (("serial", "part"), ("lot", "lot"), ("machine", "machine"),
                           ("part_number", "design"), ("key", "")):
            value = fact.get(key)
            if isinstance(value, str):
                kind = fact.get("kind") if key == "key" else label
                return f"{kind} {value}"
    return ""


def _placed(ledger: Ledger, notification: int, what: str, originator: UUID, subject: str,
            version: int) -> Finding:
    position = _position_of(ledger, notification)
    return Finding(position, what, aggregate=str(originator), subject=subject, version=version)


def _position_of(ledger: Ledger, notification: int) -> int:
    """The log position of a row: its rank in commit order."""
    return ledger.store.rank_of(notification)


def _add(report: AuditReport, finding: Finding) -> None:
    if len(report.findings) < _MAX_FINDINGS:
        report.findings.append(finding)

