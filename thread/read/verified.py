"""A story built from verified events, with every read-model row it used checked against them.

``trace(verified=True)`` is what an auditor is shown. It takes the log's tree head,
loads the chain of every subject the story draws on (the serial or lot, its design,
its material lots, its components and assembly) from the event store, checks each
link (:meth:`thread.domain.chain.Recorded.mutate`, as ``history`` does) and proves
each event at its position in the log with an inclusion proof against that head;
of a machine's chain, checked whole, it proves the condition windows, alarms and
gaps that can touch the story's operations. Those events are projected into a
scratch database, by the same projections that build the read models, and the
story is built from it by the same code as any story. Every query that code runs
is also run against the read models, and a row that differs from what the verified
events give refuses the story, naming the row.

It costs a few lookups per event drawn on, and reads each machine's chain whole,
as a DHR does: it is for evidence, not for dashboards.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, create_engine, select
from sqlalchemy.pool import StaticPool

from thread.domain import facts as f
from thread.domain.chain import Aggregate, Recorded
from thread.domain.condition import nanoseconds
from thread.errors import IntegrityFailure, LedgerError, UnknownSubject
from thread.log.merkle import leaf_hash
from thread.log.verify import verify_inclusion
from thread.read import schema as s
from thread.read.basis import Head, head_of
from thread.read.check import ReadModelFinding, first_difference
from thread.read.clock import AsOf
from thread.read.events import LogEvent, decode
from thread.read.projections import PROJECTIONS
from thread.read.sql import rows
from thread.read.story import Story
from thread.read.trace import QUERIES, trace

if TYPE_CHECKING:
    from thread.read.models import ReadModels

Row = tuple[Any, ...]


class ReadModelDisagrees(IntegrityFailure):
    """A read-model row a story used is not the row the verified events give."""

    def __init__(self, message: str, finding: ReadModelFinding) -> None:
        super().__init__(message)
        self.finding = finding


def verified_trace(models: ReadModels, key: str, as_of: AsOf, *, catch_up: bool = True
                   ) -> Story:
    """The story of ``key`` from verified events (see the module); raises
    :class:`ReadModelDisagrees` naming the first read-model row that differs."""
    head = head_of(models.tree)
    # The read models are compared up to the head, so they must have read at least that far.
    models.fresh(["story", "registry", "production"], catch_up=catch_up)
    evidence = _Evidence(models, head)
    evidence.gather(key)
    scratch = create_engine("sqlite://", poolclass=StaticPool)
    try:
        with scratch.begin() as conn:
            s.metadata.create_all(conn, tables=[table for projection in PROJECTIONS.values()
                                                for table in projection.tables])
            evidence.project(conn)
        with scratch.connect() as expected, models.engine.connect() as found:
            read = _Compared(expected, found, head.size)
            return trace(read, evidence.fetch, key, as_of, log_size=head.size,
                         longest_window_ns=evidence.longest_ns, proved_in=head.root)
    finally:
        scratch.dispose()


class _Evidence:
    """The verified events a story draws on, each proved at its position in the log."""

    def __init__(self, models: ReadModels, head: Head) -> None:
        self.log = models.log
        self.tree = models.tree
        self.head = head
        self.events: dict[tuple[str, str], list[LogEvent]] = {}
        self.longest_ns = 0

    def gather(self, key: str) -> None:
        subject = [*self.chain("part", key), *self.chain("lot", key)]
        if not subject:
            raise UnknownSubject(f"no part or lot {key} in this ledger")
        designs: set[str] = set()
        lots: set[str] = set()
        parts: set[str] = set()
        machines: set[str] = set()
        spans: list[tuple[int, int]] = []
        for event in subject:
            p = event.payload
            if event.topic == f.PartRegistered.topic:
                designs.add(p["part_number"])
            elif event.topic == f.MaterialConsumed.topic:
                lots.add(p["material_lot"])
            elif event.topic == f.ComponentInstalled.topic:
                parts.add(p["component"])
            elif event.topic == f.InstalledInto.topic:
                parts.add(p["assembly"])
            elif event.topic in (f.OperationPerformed.topic, f.ProcessRecorded.topic):
                spans.append((nanoseconds(p["started_at"]), nanoseconds(p["ended_at"])))
                if p.get("machine") is not None:
                    machines.add(p["machine"])
        for number in designs:
            self.chain("design", number)
        for lot in lots:
            self.chain("lot", lot)
        for part in parts:  # the registry names a component or assembly by key alone
            self.chain("part", part)
            self.chain("lot", part)
        # A process record may lend its machine to the operation it belongs to: every
        # machine the subject names is read over the span of all of its operations.
        for machine in machines:
            self.machine(machine, min(start for start, _ in spans),
                         max(end for _, end in spans))

    def chain(self, kind: str, key: str) -> list[LogEvent]:
        """A subject's events in the log of the head: every link checked, each proved."""
        if (kind, key) not in self.events:
            proved = []
            for event in self._linked(kind, key):
                found = self.proved(kind, key, event)
                if found is None:
                    break  # a chain's events are in the log in version order
                proved.append(found)
            self.events[(kind, key)] = proved
        return self.events[(kind, key)]

    def machine(self, machine: str, low: int, high: int) -> None:
        """The machine's condition windows, alarms and gaps that can touch ``[low, high]``."""
        linked = [(event, span) for event in self._linked("machine", machine)
                  if (span := _span(event.fact)) is not None]
        longest = max((end - start for event, (start, end) in linked
                       if isinstance(event.fact, f.ConditionRecorded)), default=0)
        self.longest_ns = max(self.longest_ns, longest)
        kept = []
        for event, (start, end) in linked:
            if start <= high + 1 and end >= low - longest:
                found = self.proved("machine", machine, event)
                if found is not None:
                    kept.append(found)
        self.events[("machine", machine)] = kept

    def _linked(self, kind: str, key: str) -> list[Recorded]:
        """The subject's chain from the event store, every link checked as history() does."""
        stored = self.log.canonical_of(kind, key)
        chain: Aggregate | None = None
        linked = []
        for version in sorted(stored):
            event = Recorded.decode(stored[version])
            chain = event.mutate(chain)
            linked.append(event)
        return linked

    def proved(self, kind: str, key: str, event: Recorded) -> LogEvent | None:
        """The event at its log position, proved by an inclusion proof against the head;
        None for an event the log took after the head."""
        version, canonical = event.originator_version, event.canonical
        try:
            proof = self.tree.inclusion_proof(kind, key, version,  # type: ignore[arg-type]
                                              size=self.head.size)
        except UnknownSubject as error:
            raise IntegrityFailure(f"{error}, though the event store holds it; run thread "
                                   f"verify", subject=f"{kind} {key}", version=version) from None
        except LedgerError:  # its leaf is past the head
            return None
        try:
            if proof.root != self.head.root:
                raise IntegrityFailure("the proof is of another root")
            verify_inclusion(leaf_hash(canonical), proof.index, self.head.size, proof.path,
                             self.head.root)
        except IntegrityFailure as error:
            raise IntegrityFailure(
                f"{kind} {key} version {version} is not proved at log position {proof.index} "
                f"of the log of {self.head}: {error}; run thread verify",
                subject=f"{kind} {key}", version=version) from None
        return decode(proof.index, canonical)

    def fetch(self, kind: str, key: str) -> dict[int, bytes]:
        """The proved events' bytes by version: where the story reads them."""
        return {event.version: event.canonical for event in self.events.get((kind, key), [])}

    def project(self, conn: Connection) -> None:
        """Write the rows the proved events give, as the read models would hold them."""
        for events in self.events.values():
            for event in events:
                for projection in PROJECTIONS.values():
                    for table, row in projection.rows(event):
                        conn.execute(table.insert().values(
                            dict(zip(table.columns.keys(), row, strict=True))))


def _span(fact: f.Fact) -> tuple[int, int] | None:
    """The interval a machine fact covers, if it is one a story reads."""
    if isinstance(fact, f.ConditionRecorded):
        return nanoseconds(fact.window_start), nanoseconds(fact.window_end)
    if isinstance(fact, f.AlarmRaised):
        cleared = fact.cleared_at
        return nanoseconds(fact.raised_at), (_FOREVER if cleared is None
                                             else nanoseconds(cleared))
    if isinstance(fact, f.CollectionGapRecorded):
        return nanoseconds(fact.gap_start), nanoseconds(fact.gap_end)
    return None


#: An alarm not cleared lasts to the end of the times a ledger holds.
_FOREVER = 2**63 - 1


class _Compared:
    """Runs each query on the verified rows and on the read models; answers with the former
    once they agree, and refuses naming the first row where they do not."""

    def __init__(self, expected: Connection, found: Connection, size: int) -> None:
        self.expected = expected
        self.found = found
        self.size = size

    def __call__(self, template: str, as_of: AsOf, /, **params: Any) -> list[Row]:
        want = rows(self.expected, template, as_of, **params)
        reads = QUERIES[template]
        have = [row for row in rows(self.found, template, as_of, **params)
                if row[reads.position] < self.size]  # later rows: past the proved log

        def identity(row: Row) -> tuple[Any, ...]:
            return tuple(row[i] for i in reads.identity)

        wanted = {identity(row): row for row in want}
        held = {identity(row): row for row in have}
        if wanted != held or len(want) != len(have):
            differing = sorted(
                {row[reads.position] for key, row in [*wanted.items(), *held.items()]
                 if wanted.get(key) != held.get(key)} or {row[reads.position] for row in have})
            self._refuse(reads.tables, differing[0])
        return want

    def _refuse(self, tables: Iterable[str], position: int) -> None:
        for name in tables:
            table = s.metadata.tables[name]
            query = select(table).where(table.c.position == position)
            finding = first_difference(table, [tuple(r) for r in self.expected.execute(query)],
                                       [tuple(r) for r in self.found.execute(query)])
            if finding is not None:
                break
        else:
            finding = ReadModelFinding(table=", ".join(tables), key={"position": position},
                                       expected=None, found=None,
                                       what="answers a query otherwise than the verified events")
        raise ReadModelDisagrees(
            f"the read models disagree with the verified events: {finding.describe()}; the "
            f"story is refused: rebuild them (thread rebuild), and see what else was changed "
            f"with thread verify --read-models", finding)
