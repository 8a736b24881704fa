"""``thread verify``: re-derive every chain, leaf, tree head and checkpoint from stored rows.

Two streaming passes keep memory constant however large the ledger is:
the log pass reads events in commit order, recomputes each leaf and the
tree, and compares them with the stored leaves (merged on the row id), every
signed checkpoint and the subject map each one signs
(:mod:`thread.log.map_audit`); the chain pass reads events one aggregate at a
time and checks each link, and that each event carrying a source record and
that record's row name each other (:mod:`thread.log.source_records`). Both
read one snapshot of the store, so writers committing meanwhile change
nothing they see; on a large ledger the chain pass runs in a second process,
bounded to that snapshot. The report names the first bad event in log order:
position, aggregate, subject, version and what is wrong.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from thread.bootstrap import Reader
from thread.collector import paused
from thread.domain.envelope import GENESIS, EnvelopeError, LinkReader, open_envelope
from thread.domain.topics import subject_label
from thread.errors import IntegrityFailure, LedgerError
from thread.ledger import PAGE, Ledger
from thread.log.checkpoint import Checkpoint, CheckpointError, open_note
from thread.log.elsewhere import Elsewhere, ElsewhereError, answer, received
from thread.log.map_audit import MapCheck, MapsElsewhere, start_map
from thread.log.merkle import (
    CompactRange,
    ProofError,
    Subtree,
    consistency_proof,
    leaf_hash,
    tree_root,
)
from thread.log.signatures import check_signatures, check_signatures_since
from thread.log.source_records import Sourced, SourcedEvents, unverified_rows
from thread.log.subject_map import MapError, find_map_line
from thread.log.verify import verify_consistency
from thread.storage.log import NODE_FLOOR, originator_bytes, stored_as_node
from thread.storage.mapper import FactMapper
from thread.storage.recorder import LedgerRecorder, LogRow, LogTuple

_log = logging.getLogger(__name__)

#: Called with (events checked so far, events to check) as the passes advance.
Progress = Callable[[int, int], None]

_MAX_FINDINGS = 50
_UNPLACED = 1 << 62  # sorts findings that have no log position after those that have
#: Lower than any row id a store hands out, so that rows an insider gave id 0 or a
#: negative id are read too.
_LOWEST_ID = -(2**63)


@dataclass(frozen=True)
class Finding:
    """One thing that does not verify, placed in the log where possible."""

    position: int
    what: str
    aggregate: str = ""
    subject: str = ""
    version: int | None = None
    #: Follows what else was found at its position (a subject map made of what the log
    #: names there as wrong).
    derived: bool = False

    def __lt__(self, other: Finding) -> bool:
        return self._order() < other._order()

    def _order(self) -> tuple[int, bool, str, str, str, int]:
        return (self.position, self.derived, self.what, self.aggregate, self.subject,
                -1 if self.version is None else self.version)

    def describe(self) -> str:
        """A line a quality engineer or auditor can act on."""
        placed = 0 <= self.position < _UNPLACED
        where = [f"log position {self.position}" if placed else "the log"]
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
    #: Electronic signatures on events checked (key and registry at their position).
    event_signatures: int = 0
    #: For a verification from a trusted checkpoint: its size (events before it were not
    #: derived again, only proved unchanged by the consistency proof).
    since: int = 0
    #: For a verification from a trusted checkpoint: the latest stored checkpoint that
    #: verified in it, to trust next time.
    newest_checkpoint: str | None = None
    #: Subject maps (dtl-map/v1 lines) derived again and matching; and those that could not
    #: be (after a trusted checkpoint without a map).
    maps_checked: int = 0
    maps_unchecked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every chain, leaf, tree head and checkpoint verified."""
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The earliest problem in log order."""
        return min(self.findings) if self.findings else None


def audit(
    ledger: Ledger,
    *,
    verifier_keys: Sequence[str] = (),
    trusted_checkpoints: Sequence[str] = (),
    progress: Progress | None = None,
    chains: bool = True,
    workers: int | None = None,
) -> AuditReport:
    """Verify the whole ledger from its stored rows.

    ``verifier_keys`` pins the keys whose signatures on stored checkpoints
    are trusted; ``trusted_checkpoints`` are notes the auditor kept from
    earlier (they catch a ledger restored from an older copy). ``chains=False``
    checks the log (leaves, nodes, tree, checkpoints) without the per-subject chains and
    source records. With ``workers=2`` (the default from PARALLEL_FROM events on, where
    the ledger can be opened by another process) the chains and signatures are checked
    by a second process while this one checks the log, and the subject maps derived by a
    third from the heads this one sends it, each as of the same moment.
    """
    report = AuditReport()
    # Every pass reads the ledger as of one moment: a writer committing meanwhile would
    # otherwise leave leaves read later without the events read earlier.
    with ledger.store.snapshot(), paused():
        total = ledger.count()
        if workers is None:
            workers = 2 if total >= PARALLEL_FROM else 1
        elsewhere = _chains_elsewhere(ledger) if chains and workers > 1 else None
        found = None
        try:
            checkpoints = _checkpoints(ledger, verifier_keys, trusted_checkpoints, report)
            try:
                logged = _log_pass(ledger, checkpoints, AuditReport(), total, progress,
                                   workers=workers)
            except ElsewhereError as error:  # the maps derived here instead, from the start
                _log.warning("deriving the subject maps in this process: %s", error)
                logged = _log_pass(ledger, checkpoints, AuditReport(), total, progress)
            for finding in logged.findings:
                _add(report, finding)
            report.events, report.tree_size, report.root = (logged.events, logged.tree_size,
                                                             logged.root)
            report.maps_checked, report.maps_unchecked = (logged.maps_checked,
                                                          logged.maps_unchecked)
            if elsewhere is not None:
                try:
                    found = elsewhere.result()
                except ElsewhereError as error:  # checked here instead
                    _log.warning("verifying the chains in this process: %s", error)
        finally:
            if elsewhere is not None:
                elsewhere.stop()
        if found is not None:
            findings, report.aggregates, report.event_signatures = found
            for finding in findings:
                _add(report, Finding(**finding))
        elif chains:
            _chain_pass(ledger, report, total, progress)
            report.event_signatures = _signatures(ledger, report)
    report.findings = sorted(report.findings)[:_MAX_FINDINGS]
    return report


#: From this many events on, ``audit`` checks the chains in a second process.
PARALLEL_FROM = 200_000


def _elsewhere(ledger: Ledger, function: str, what: str, job: dict[str, Any],
               *, more: bool) -> Elsewhere | None:
    """``function`` of this module started in another process and sent ``job`` (with how to
    open the ledger); ``more`` when messages will follow. None where the ledger cannot be
    opened there or the process cannot start (the pass then runs here)."""
    reader = ledger.reader
    if reader is None:
        return None
    try:
        process = Elsewhere("thread.log.audit", function, what)
        process.send({"url": reader.url, "encryption_key": reader.encryption_key, **job})
        if not more:
            process.done()
    except (OSError, LedgerError) as error:
        _log.warning("verifying %s in this process: %s", what, error)
        return None
    return process


def _chains_elsewhere(ledger: Ledger) -> Elsewhere | None:
    """The chain pass and the signature pass started in a second process, bounded to what
    this process's snapshot holds."""
    return _elsewhere(ledger, "serve_chains", "the chains",
                      {"until": ledger.store.max_notification_id() or 0,
                       "sources": ledger.store.count_sources()}, more=False)


def serve_chains() -> None:
    """The second process's side: it checks the chains and signatures of the rows up to the
    job's last row id, and answers (findings, aggregates, signatures checked)."""
    job = next(received())
    ledger = Reader(job["url"], job["encryption_key"]).open()
    try:
        report = AuditReport()
        with ledger.store.snapshot(), paused():
            _chain_pass(ledger, report, 0, None, until=job["until"], sources=job["sources"])
            signatures = _signatures(ledger, report, until=job["until"])
    finally:
        ledger.close()
    answer([[asdict(finding) for finding in report.findings], report.aggregates, signatures])


def _maps_elsewhere(ledger: Ledger) -> MapsElsewhere | None:
    """The subject maps derived in another process from the heads the log pass sends it."""
    process = _elsewhere(ledger, "serve_maps", "the subject maps", {}, more=True)
    return None if process is None else MapsElsewhere(process)


def serve_maps() -> None:
    """The map process's side: the map derived from the empty one at each checkpoint the
    log pass reaches, from the heads it saw move (see :class:`MapsElsewhere`)."""
    messages = received()
    job = next(messages)
    ledger = Reader(job["url"], job["encryption_key"]).open()
    try:
        with ledger.store.snapshot(), paused():
            maps = start_map(ledger.store, 0, None)
            for moved, size, bodies in messages:
                maps.moved({ident: (version, leaf) for ident, (version, leaf) in moved.items()})
                maps.reached(size, [Checkpoint.parse(body) for body in bodies])
            maps.finish()
    finally:
        ledger.close()
    answer([[[problem.size, problem.what] for problem in maps.problems], maps.checked,
            maps.unchecked])


def _signatures(ledger: Ledger, report: AuditReport, until: int | None = None) -> int:
    return check_signatures(ledger, lambda notification, event, what: _add(report, _placed(
        ledger, notification, what, event.originator_id, " ".join(event.fact.subject),
        event.originator_version)), until=until)


def audit_since(ledger: Ledger, trusted: str, *, verifier_keys: Sequence[str] = (),
                progress: Progress | None = None) -> AuditReport:
    """Verify what the ledger added since ``trusted``, a checkpoint note the auditor verified
    before: the consistency proof from it to the log now (so nothing before it changed),
    then only the events after it derived again (leaves, tree, stored nodes, every
    checkpoint signed since), and the whole chain of every subject those events touch.
    Its cost grows with the new events, not with the ledger. ``newest_checkpoint`` of a
    report that is ok is the note to trust next time."""
    report = AuditReport()
    store = ledger.store
    with store.snapshot(), paused():
        try:
            body = open_note(trusted, verifier_keys)[0] if verifier_keys else \
                trusted[:trusted.rfind("\n\n") + 1]
            old = Checkpoint.parse(body)
        except (CheckpointError, IntegrityFailure) as error:
            _add(report, Finding(_UNPLACED, f"the trusted checkpoint does not verify: {error}"))
            return report
        if old.origin != ledger.origin:
            _add(report, Finding(_UNPLACED, f"the trusted checkpoint is for log "
                                            f"{old.origin!r}, not this ledger's "
                                            f"{ledger.origin!r}"))
            return report
        report.since = old.size
        total = store.tree_size()
        if total < old.size:
            _add(report, Finding(total, f"the log holds {total} leaves, fewer than the "
                                        f"{old.size} of the trusted checkpoint: its tail was "
                                        f"cut, or an older copy restored"))
            return report
        try:
            base = CompactRange.from_subtrees(old.size, store.subtree_hash)
            proof = consistency_proof(old.size, total, store.subtree_hash) \
                if 0 < old.size < total else []
            verify_consistency(old.size, total, old.root, tree_root(total, store.subtree_hash),
                               proof)
            if base.root() != old.root:
                raise ProofError(f"the stored tree of {old.size} leaves has root "
                                 f"{base.root().hex()[:16]}, not the trusted "
                                 f"{old.root.hex()[:16]}")
        except (ProofError, IntegrityFailure) as error:
            _add(report, Finding(old.size, f"the log is not an extension of the trusted "
                                           f"checkpoint of {old.size} leaves: {error}"))
            return report
        claims = _checkpoints(ledger, verifier_keys, (), report)
        claims = {size: found for size, found in claims.items() if size > old.size}
        _log_pass(ledger, claims, report, total, progress, start=old.size, tree=base,
                  trusted=old)
        touched = {_uuid(row[1]) for page in _pages(
            store, _first_row(store, old.size)) for row in page} if total > old.size else set()
        versions = store.select_versions(sorted(touched))
        # Each touched chain whole, with its source records, as the whole verify checks
        # every chain.
        _check_chains(ledger, report, (store.select_chains((ident, 0), versions[ident])
                                       for ident in sorted(versions)),
                      SourcedEvents(store, ledger.mapper))
        report.aggregates = len(versions)
        if total > old.size:
            report.event_signatures = check_signatures_since(
                ledger, lambda notification, event, what: _add(report, _placed(
                    ledger, notification, what, event.originator_id,
                    " ".join(event.fact.subject), event.originator_version)),
                start=_first_row(store, old.size), until=store.max_notification_id())
        newest = max((size for size in claims if size <= report.tree_size), default=None)
        if newest is not None and not report.findings:
            report.newest_checkpoint = next(note for size, note in ledger.checkpoints()
                                            if size == newest)
    report.findings = sorted(report.findings)[:_MAX_FINDINGS]
    return report


def _first_row(store: LedgerRecorder, position: int) -> int:
    """The row id of the leaf at ``position`` (the first row after a trusted size); with no
    leaf there, the row after the last leaf's (rows without a leaf are found from it)."""
    found = store.select_leaves(position, 1)
    if found:
        return found[0][1]
    before = store.select_leaves(position - 1, 1) if position > 0 else []
    return before[0][1] + 1 if before else _LOWEST_ID


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
                checkpoint = Checkpoint.parse(body)
            else:
                checkpoint = Checkpoint.from_note(note)
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
              total: int, progress: Progress | None, *, start: int = 0,
              tree: CompactRange | None = None, trusted: Checkpoint | None = None,
              workers: int = 1) -> AuditReport:
    """Recompute leaves and tree in commit order and compare them with the stored log
    (``report``, returned).

    Rows and stored leaves are merged on the notification id, so a deleted or an
    inserted row is reported once, where it happened, and every row after it
    still meets its own leaf. With ``workers`` above 1 (a whole verify), the subject
    maps are derived by another process from the heads this one sees move.
    """
    mapper = ledger.mapper
    store = ledger.store
    tree = tree if tree is not None else CompactRange()
    mapped = any(_has_map(claim) for pending in claims.values() for claim in pending)
    maps: MapCheck | None = None
    if mapped and start == 0 and workers > 1:
        maps = _maps_elsewhere(ledger)
    if mapped and maps is None:
        maps = start_map(store, start, trusted)
    try:
        _check_claims(tree, claims, report, maps)
        leaves = _StoredLeaves(store, start)
        nodes = _StoredNodes(store, report)
        for page in _pages(store, _LOWEST_ID if start == 0 else _first_row(store, start)):
            if not _intact_page(page, mapper, leaves, tree, nodes, claims, report, maps):
                for row in map(LogRow._make, page):
                    _check_row(row, mapper, leaves, tree, nodes, claims, report, maps)
            if progress is not None:
                progress(tree.size, 2 * total)
        nodes.flush()
        if maps is not None:
            maps.finish()
    finally:
        if isinstance(maps, MapsElsewhere):
            maps.stop()
    if maps is not None:
        report.maps_checked, report.maps_unchecked = maps.checked, maps.unchecked
        for problem in maps.problems:
            _add(report, Finding(max(problem.size - 1, 0), problem.what, derived=True))
    stored = leaves.peek()
    while stored is not None:
        _add(report, _missing(stored))
        leaves.skip()
        stored = leaves.peek()
    position = tree.size
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
    return report


def _check_row(row: LogRow, mapper: FactMapper, leaves: _StoredLeaves,
               tree: CompactRange, nodes: _StoredNodes, claims: dict[int, list[_Claim]],
               report: AuditReport, maps: MapCheck | None = None) -> None:
    """One row against its stored leaf: the careful path that names what is wrong."""
    stored = leaves.peek()
    while stored is not None and stored[1] < row.id:
        _add(report, _missing(stored))
        leaves.skip()
        stored = leaves.peek()
    if stored is not None and stored[1] != row.id:
        stored = None  # the leaf ahead belongs to a later row: this one has none
    position = tree.size if stored is None else stored[0]
    try:
        canonical = mapper.plaintext(row)
    except ValueError as error:
        _add(report, Finding(position, f"event does not decrypt: {error}",
                             aggregate=str(_uuid(row.originator_id)),
                             version=row.originator_version))
        canonical = row.state
    leaf = leaf_hash(canonical)
    what = ""
    if stored is None:
        what = ("event has no leaf in the committed log: inserted behind the ledger's back, "
                "or moved here from another row id")
    else:
        leaves.skip()
        # Bytes that name another event are reported by the chain pass, which
        # knows whose row it is; here they would be put under the wrong subject.
        if stored[2] != leaf and _names_row(canonical, row, mapper):
            what = ("event bytes differ from the leaf the log committed at this position "
                    "(event edited, or rows reordered)")
    if what:
        _add(report, Finding(position, what, aggregate=str(_uuid(row.originator_id)),
                             subject=_subject_in(canonical), version=row.originator_version))
    nodes.check([node for node in tree.append(leaf) if stored_as_node(node.level)])
    if maps is not None:
        maps.seen(row.originator_id, row.originator_version, leaf)
    _check_claims(tree, claims, report, maps)


def _intact_page(page: Sequence[LogTuple], mapper: FactMapper, leaves: _StoredLeaves,
                 tree: CompactRange, nodes: _StoredNodes, claims: dict[int, list[_Claim]],
                 report: AuditReport, maps: MapCheck | None = None) -> bool:
    """Verify a page in bulk when it is intact; False (nothing consumed) sends it row by row.

    An intact page is the common case: every row meets its own leaf at the next
    positions and its bytes hash to it, so the tree can be extended level by
    level instead of leaf by leaf.
    """
    count = len(page)
    stored = leaves.ahead(count)
    if len(stored) != count:
        return False
    try:
        states = [row[4] for row in page] if mapper.cipher is None else \
            [mapper.opened(row[4]) for row in page]
    except ValueError:
        return False
    sha256 = hashlib.sha256
    hashes = [sha256(b"\x00" + state).digest() for state in states]
    base = tree.size
    # Each row meets its own leaf at the next position (compared a column at a time).
    if ([leaf[2] for leaf in stored] != hashes or [leaf[1] for leaf in stored] !=
            [row[0] for row in page] or [leaf[0] for leaf in stored] !=
            list(range(base, base + count))):
        return False
    leaves.skip(count)
    done = 0
    for size in [*sorted(size for size in claims if base < size < base + count), base + count]:
        nodes.check(tree.extend(hashes[done:size - base], from_level=NODE_FLOOR))
        if maps is not None:
            maps.seen_page([(row[1], row[2]) for row in page[done:size - base]],
                           hashes[done:size - base])
        done = size - base
        _check_claims(tree, claims, report, maps)
    return True


def _pages(store: LedgerRecorder, start: int = _LOWEST_ID) -> Iterator[Sequence[LogTuple]]:
    """Every stored row in commit order from row id ``start``, a page at a time."""
    while True:
        page = store.select_log(start, PAGE)
        if page:
            yield page
        if len(page) < PAGE:
            return
        start = page[-1][0] + 1


class _StoredNodes:
    """Compares the subtrees the log pass completes with the stored ones, a page at a time.

    Proofs and signed tree heads are served from stored nodes, so a changed
    node must be caught even when every event and leaf is intact.
    """

    def __init__(self, store: LedgerRecorder, report: AuditReport) -> None:
        self._store = store
        self._report = report
        self._pending: list[Subtree] = []

    def check(self, completed: list[Subtree]) -> None:
        self._pending += completed
        if len(self._pending) >= PAGE:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        stored = self._store.select_nodes([(node.level, node.index) for node in self._pending])
        for node in self._pending:
            if stored.get((node.level, node.index)) != node.hash:
                state = "missing" if (node.level, node.index) not in stored else "changed"
                first = node.index << node.level
                _add(self._report, Finding(
                    first + (1 << node.level) - 1,
                    f"stored Merkle node at level {node.level}, index {node.index} (events "
                    f"{first} to {first + (1 << node.level) - 1}) is {state}: proofs and tree "
                    f"heads served from it would be wrong"))
        self._pending = []


class _StoredLeaves:
    """Stored leaves (position, notification id, hash) in log order, read a page at a time.

    A page is read only when the merge needs its next leaf, so memory stays
    bounded; the audit's snapshot keeps rows and leaves of one moment together.
    """

    def __init__(self, store: LedgerRecorder, start: int = 0) -> None:
        self._store = store
        self._buffer: list[tuple[int, int, bytes]] = []
        self._next = 0  # index of the next leaf in the buffer
        self._start = start  # position to read from when the buffer runs out

    def _fill(self, wanted: int) -> None:
        while len(self._buffer) - self._next < wanted:
            page = self._store.select_leaves(self._start, max(PAGE, wanted))
            if not page:
                return
            self._buffer = self._buffer[self._next:] + page
            self._next = 0
            self._start = page[-1][0] + 1

    def peek(self) -> tuple[int, int, bytes] | None:
        """The next leaf, or None when the stored log has no more."""
        self._fill(1)
        return self._buffer[self._next] if self._next < len(self._buffer) else None

    def ahead(self, count: int) -> list[tuple[int, int, bytes]]:
        """Up to ``count`` next leaves, without moving past them."""
        self._fill(count)
        return self._buffer[self._next:self._next + count]

    def skip(self, count: int = 1) -> None:
        """Move past the next ``count`` leaves."""
        self._next += count


def _missing(stored: tuple[int, int, bytes]) -> Finding:
    """The finding for a committed leaf whose row is gone."""
    position, notification, _ = stored
    return Finding(position, f"the event the log committed at this position (row id "
                             f"{notification}) is missing: deleted, or moved to another row id")


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _names_row(canonical: bytes, row: LogRow | Notification, mapper: FactMapper) -> bool:
    """True unless the bytes decode and name another aggregate, version or topic than the row."""
    try:
        envelope = open_envelope(canonical)
    except EnvelopeError:
        return True
    originator = _uuid(row.originator_id)
    return (envelope[:2] == (originator.bytes, row.originator_version)
            and mapper.topic_token(envelope.topic) == row.topic)


def _has_map(claim: _Claim) -> bool:
    try:
        return find_map_line(claim.checkpoint.extensions) is not None
    except MapError:
        return True  # malformed: the map check names it


def _check_claims(tree: CompactRange, claims: dict[int, list[_Claim]], report: AuditReport,
                  maps: MapCheck | None = None) -> None:
    if maps is not None and tree.size in claims:
        maps.reached(tree.size, [claim.checkpoint for claim in claims[tree.size]])
    for claim in claims.get(tree.size, ()):
        if claim.checkpoint.root != tree.root():
            _add(report, Finding(max(tree.size - 1, 0),
                                 f"recomputed root of the first {tree.size} events differs from "
                                 f"{claim.source}: an event at or before this position was "
                                 f"changed, removed, inserted or reordered"))


def _chain_pass(ledger: Ledger, report: AuditReport, total: int,
                progress: Progress | None, *, until: int | None = None,
                sources: int | None = None) -> None:
    """Check every link of every chain, one aggregate at a time in version order; with
    ``until``, of the rows up to that id (and ``sources`` source records) only."""
    store = ledger.store
    recorded = SourcedEvents(store, ledger.mapper)

    def pages() -> Iterator[Sequence[LogTuple]]:
        after: tuple[UUID | str, int] | None = None
        seen = 0
        while True:
            page = store.select_chains(after, PAGE)
            yield page if until is None else [row for row in page if row[0] <= until]
            seen += len(page)
            if progress is not None:
                progress(total + seen, 2 * total)
            if len(page) < PAGE:
                return
            after = (page[-1][1], page[-1][2])

    _check_chains(ledger, report, pages(), recorded)
    if recorded.verified != (store.count_sources() if sources is None else sources):
        _sources_pass(ledger, report)  # some row names no event of its own: find which


def _check_chains(ledger: Ledger, report: AuditReport, pages: Iterable[Sequence[LogTuple]],
                  recorded: SourcedEvents) -> None:
    """The chain check: rows in (aggregate, version) order, each aggregate's from version 1.
    Each event's bytes name its row's aggregate, version and topic, follow the version
    before, link to its hash and were committed after it; each that carries a source
    record has the record's row (checked a page at a time)."""
    mapper = ledger.mapper
    opened = mapper.opened
    topic_token = mapper.topic_token
    sha256 = hashlib.sha256
    chain_link = LinkReader()
    plain = mapper.cipher is None  # rows hold the canonical bytes themselves
    current: UUID | str | None = None
    raw = b""  # the current aggregate's id, as its events' bytes give it
    named: bytes | None = None  # its first event naming it: its subject, for findings
    labels: dict[bytes, str] = {}  # that subject's name, worked out once it is needed

    def subject() -> str:
        if named is None:
            return ""
        if named not in labels:
            labels.clear()
            labels[named] = _subject_in(named)
        return labels[named]

    version = 0
    head = GENESIS
    committed = _LOWEST_ID  # notification id of the previous version
    for page in pages:
        for notification, originator, row_version, row_topic, state in page:
            if originator != current:
                current, version, head, named = originator, 0, GENESIS, None
                raw = originator_bytes(originator)
                committed = _LOWEST_ID
                report.aggregates += 1
            try:
                canonical = state if plain else opened(state)
                raw_id, body_version, topic, prev_hash, source, record_id = chain_link(canonical)
            except (ValueError, EnvelopeError) as error:
                _add(report, _placed(ledger, notification, f"event does not decode: {error}",
                                     _uuid(originator), subject(), row_version))
                version, head, committed = row_version, b"", notification
                continue
            if named is None and raw_id == raw:
                named = canonical
            problem = ""
            if raw_id != raw or body_version != row_version or topic_token(topic) != row_topic:
                problem = _mislabelled(LogRow(notification, originator, row_version, row_topic,
                                              state), raw_id, body_version, topic, canonical)
            elif row_version != version + 1:
                problem = (f"follows version {version}: the chain has a gap (an event was "
                           f"deleted) or a repeat")
            elif head and prev_hash != head:
                problem = (f"does not link to the hash of version {version} ({topic}): an "
                           f"earlier event of this subject was changed")
            elif notification < committed:
                problem = (f"was committed before version {version}: rows were reordered, or "
                           f"this one inserted ahead of it")
            if problem:
                _add(report, _placed(ledger, notification, problem, _uuid(originator),
                                     subject(), row_version))
            version, committed = row_version, notification
            head = sha256(canonical).digest()
            if record_id is not None and raw_id == raw and body_version == row_version:
                token = mapper.source_token(source, record_id)
                recorded.met(Sourced(source, token, _uuid(originator), row_version,
                                     notification, subject(), head))
        for event, problem in recorded.check():
            _add(report, _placed(ledger, event.notification, problem, event.originator,
                                 event.subject, event.version))


def _sources_pass(ledger: Ledger, report: AuditReport) -> None:
    """Name every source record's row that does not name the event it became."""
    for link, what in unverified_rows(ledger.store, ledger.mapper):
        named = None if link is None else link.event
        position = _UNPLACED if link is None or named is None else _position(
            ledger, named.id, link.record.originator_id, named.originator_version)
        _add(report, Finding(position, what))


def _mislabelled(row: LogRow, raw_id: bytes, version: int, topic: str,
                 canonical: bytes) -> str:
    """What is wrong when a row's bytes are not the event the row says it holds."""
    if raw_id != originator_bytes(row.originator_id):
        other = _subject_in(canonical) or "another subject"
        return (f"row holds the bytes of {other} version {version} ({topic}), not its own: "
                f"rows were swapped, moved or relabelled")
    if version != row.originator_version:
        return (f"row says version {row.originator_version} but holds the bytes of version "
                f"{version} ({topic}): rows were swapped, moved or relabelled")
    return (f"row is labelled {row.topic!r} but its bytes are a {topic!r} event: the row "
            f"was relabelled")


def _subject_in(canonical: bytes) -> str:
    """The subject an event's bytes name, for a report; empty when they do not decode."""
    try:
        envelope = open_envelope(canonical)
    except EnvelopeError:
        return ""
    return subject_label(envelope.topic, envelope.payload)


def _placed(ledger: Ledger, notification: int, what: str, originator: UUID, subject: str,
            version: int) -> Finding:
    return Finding(_position(ledger, notification, originator, version), what,
                   aggregate=str(originator), subject=subject, version=version)


def _position(ledger: Ledger, notification: int, originator: UUID, version: int) -> int:
    """An event's log position: its leaf's, or for a row with no leaf, its rank among the rows."""
    position = ledger.store.leaf_position(originator, version)
    return _position_of(ledger, notification) if position is None else position


def _position_of(ledger: Ledger, notification: int) -> int:
    """The log position of a row: its rank in commit order."""
    return ledger.store.rank_of(notification)


def _add(report: AuditReport, finding: Finding) -> None:
    """Keep the earliest findings in log order (not the first found), in bounded memory."""
    report.findings.append(finding)
    if len(report.findings) >= 2 * _MAX_FINDINGS:
        report.findings = sorted(report.findings)[:_MAX_FINDINGS]

