"""Writing records to the ledger: registrations first, batches, refusals named one by one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from thread import facts as f
from thread.domain.facts.base import Fact, SubjectKind
from thread.errors import AlreadyRegistered, InvalidFact, LedgerError, RuleViolation
from thread.ledger import Ledger
from thread_adapters.mapping.errors import MachineNotRegistered, RecordsRefused
from thread_adapters.tagmap import TagMap

logger = logging.getLogger(__name__)

#: Refusal messages kept for inspection.
REFUSALS_KEPT = 1_000


@dataclass
class CollectionStats:
    """What the layer has taken in and written so far."""

    readings: int = 0
    #: Readings the layer already held (same tag, time and value): nothing written twice.
    re_delivered: int = 0
    #: Readings older than what was already resolved for their tag: counted, not recorded.
    late: int = 0
    #: Readings merged into their place out of arrival order (store-and-forward history).
    backfilled: int = 0
    unmapped: int = 0
    not_numbers: int = 0
    process_records: int = 0
    condition_records: int = 0
    alarms: int = 0
    gaps: int = 0
    registrations: int = 0
    duplicates: int = 0
    refused: int = 0
    cycles_started_unseen: int = 0
    cycles_without_part: int = 0
    cycles_without_readings: int = 0
    buffered: int = 0
    pending: int = 0
    #: Gaps reported and not yet written (the source may still backfill them).
    open_gaps: int = 0


@dataclass
class Record:
    """A fact on its way to the ledger, with when it happened and its source record id."""

    fact: Fact
    occurred_at: datetime
    source_record_id: str
    #: The part or lot the record needs registered.
    needs: tuple[SubjectKind, str] | None = None


class Writer:
    """Writes a machine's records in batches; what the ledger refuses is named, not dropped."""

    def __init__(self, ledger: Ledger, tag_map: TagMap, *, source: str, actor: str, batch: int,
                 stats: CollectionStats) -> None:
        self.ledger = ledger
        self.tag_map = tag_map
        self.machine = tag_map.machine.id
        self.source = source
        self.actor = actor
        self._batch = batch
        self._stats = stats
        #: Records waiting for the next write, oldest first.
        self.pending: list[Record] = []
        self._kept: list[str] = []
        self._unraised: list[str] = []
        self._known: set[tuple[SubjectKind, str]] = set()

    @property
    def refusals(self) -> list[str]:
        """The most recent refusal messages, oldest first."""
        return list(self._kept)

    def queue(self, record: Record) -> None:
        """Add a record to the next write."""
        self.pending.append(record)

    def refuse(self, message: str) -> None:
        """Note a record the ledger will not hold: logged now, raised by the next loud write."""
        logger.error("%s: %s", self.machine, message)
        self._stats.refused += 1
        self._kept.append(message)
        del self._kept[:-REFUSALS_KEPT]
        self._unraised.append(message)
        del self._unraised[:-REFUSALS_KEPT]

    def write(self, *, quiet: bool) -> None:
        """Write pending records; refusals raise only when ``quiet`` is False."""
        if self.pending:
            pending, self.pending = self.pending, []
            try:
                self._commit_all(pending)
            except LedgerError as error:
                if not quiet:
                    raise
                # Kept in pending by _commit_all: the next write tries again.
                logger.warning("%s: writing to the ledger failed, retrying later: %s",
                               self.machine, error)
        if self._unraised and not quiet:
            refused, self._unraised = self._unraised, []
            raise RecordsRefused(refused)

    def _commit_all(self, records: list[Record]) -> None:
        records = self._registered(records)
        for index in range(0, len(records), self._batch):
            chunk = records[index:index + self._batch]
            try:
                self._commit(chunk)
            except BaseException:
                # Not written: keep it and everything after it for the next attempt.
                self.pending[:0] = records[index:]
                raise

    def _commit(self, chunk: list[Record]) -> None:
        try:
            with self.ledger.batch(source=self.source, actor=self.actor) as batch:
                for record in chunk:
                    batch.record(record.fact, occurred_at=record.occurred_at,
                                 source_record_id=record.source_record_id)
        except (RuleViolation, InvalidFact) as error:
            if len(chunk) > 1:  # find the culprits; the others still go in
                for record in chunk:
                    self._commit([record])
                return
            record = chunk[0]
            if isinstance(error, AlreadyRegistered) and isinstance(
                    record.fact, (f.PartRegistered, f.MachineRegistered)):
                return  # someone else registered it meanwhile
            self.refuse(f"{describe(record.fact)} ({record.source_record_id}): {error}")
            return
        stats = self._stats
        for record, receipt in zip(chunk, batch.receipts, strict=True):
            if receipt.duplicate:
                stats.duplicates += 1
            elif isinstance(record.fact, f.ProcessRecorded):
                stats.process_records += 1
            elif isinstance(record.fact, f.ConditionRecorded):
                stats.condition_records += 1
            elif isinstance(record.fact, f.AlarmRaised):
                stats.alarms += 1
            elif isinstance(record.fact, f.CollectionGapRecorded):
                stats.gaps += 1
            else:
                stats.registrations += 1

    def _registered(self, records: list[Record]) -> list[Record]:
        """Records whose part or lot exists or may be registered, registrations first."""
        wanted = {r.needs for r in records if r.needs is not None and r.needs not in self._known}
        if not wanted:
            return records
        existing = self._existing(wanted)
        if len(self._known) > 100_000:
            self._known.clear()
        self._known |= existing
        missing = wanted - existing
        if not missing:
            return records
        part = self.tag_map.part
        assert part is not None
        out: list[Record] = []
        if part.register_parts == "never":
            line = self.tag_map.line_of("part", "register") or self.tag_map.line_of("part")
            for record in records:
                if record.needs in missing:
                    kind, key = record.needs
                    self.refuse(
                        f"{describe(record.fact)} ({record.source_record_id}): {kind} {key} is "
                        f"not registered in the ledger; register it first, or set register = "
                        f"\"undocumented\" or \"released\" under [part] in {self.tag_map.file}"
                        f"{f' (line {line})' if line else ''}")
                else:
                    out.append(record)
            return out
        assert part.part_number is not None
        assert part.revision is not None
        for kind, key in sorted(missing):
            subject = {"serial": key} if kind == "part" else {"lot": key}
            try:
                fact = f.PartRegistered(
                    **subject, part_number=part.part_number, revision=part.revision,
                    undocumented=part.register_parts == "undocumented")
            except LedgerError as error:
                self.refuse(f"registration of {kind} {key}: {error}")
                continue
            first = min(r.occurred_at for r in records if r.needs == (kind, key))
            out.append(Record(fact, first, f"{self.machine}/register/{kind}/{key}"))
            self._known.add((kind, key))
        return out + records

    def _existing(self, subjects: set[tuple[SubjectKind, str]]) -> set[tuple[SubjectKind, str]]:
        ids = {self.ledger.mapper.subject_id(kind, key): (kind, key) for kind, key in subjects}
        found = self.ledger.store.select_versions(list(ids))
        return {ids[ident] for ident in found}

    def ensure_machine(self) -> None:
        """Register the machine if the map allows it, else refuse a machine the ledger lacks."""
        machine = self.tag_map.machine
        if self._existing({("machine", self.machine)}):
            return
        if not machine.register_machine:
            line = self.tag_map.line_of("machine", "id")
            raise MachineNotRegistered(
                f"machine {self.machine} is not registered in the ledger; register it "
                f"(MachineRegistered) or set register = true with a name and a kind under "
                f"[machine] in {self.tag_map.file}{f' (line {line})' if line else ''}")
        assert machine.name is not None
        assert machine.kind is not None
        self._commit([Record(
            f.MachineRegistered(machine=self.machine, name=machine.name, kind=machine.kind,
                                site=machine.site, line=machine.line),
            datetime.now(UTC), f"{self.machine}/registered")])


def describe(fact: Fact) -> str:
    """How a message names a record: its kind and subject."""
    kind, key = fact.subject
    what = {f.ProcessRecorded: "process record", f.ConditionRecorded: "condition record",
            f.AlarmRaised: "alarm", f.CollectionGapRecorded: "collection gap",
            f.PartRegistered: "registration", f.MachineRegistered: "registration"}.get(
                type(fact), type(fact).__name__)
    return f"{what} for {key}" if kind in ("part", "lot") else f"{what} of {kind} {key}"
