"""The complete story of a serial (or lot): what it is, how it was made, where it went."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple, Protocol, cast

from thread.domain import facts as f
from thread.domain import topics
from thread.domain.condition import Alarm, Gap, Metric, Window, condition_during, moment
from thread.domain.topics import fold
from thread.errors import IntegrityFailure, UnknownSubject
from thread.read.clock import AsOf, ns
from thread.read.events import plain, unpack_event
from thread.read.result import as_of_note
from thread.read.story import (
    MaterialLot,
    ProcessParameter,
    Story,
    StoryComponent,
    StoryDesign,
    StoryDisposition,
    StoryFact,
    StoryMaterial,
    StoryNonConformance,
    StoryOperation,
    StoryParent,
    StorySignature,
    TimelineEntry,
)

Record = dict[str, Any]


_SUBJECT = ("serial", "lot", "kind", "key")

class _StoryRow(NamedTuple):
    position: int
    kind: str
    key: str
    version: int
    topic: str
    occurred_ns: int
    recorded_ns: int


class _ConditionRow(NamedTuple):
    position: int
    start_ns: int
    end_ns: int
    alarms: str
    availability: float | None
    performance: float | None
    quality: float | None
    name: str | None
    unit: str | None
    n: int | None
    min: float | None
    max: float | None
    mean: float | None
    threshold: float | None


class _RegisteredRow(NamedTuple):
    position: int
    key: str
    part_number: str | None
    revision: str | None


_EVENTS = (
    "SELECT position, kind, key, version, topic, occurred_ns, recorded_ns "
    "FROM read_story WHERE kind = :kind AND key IN :keys AND {clock} <= :bound "
    "ORDER BY key, version"
)
_CONDITIONS = (
    "SELECT c.position, c.start_ns, c.end_ns, c.alarms, c.availability, c.performance, "
    "c.quality, m.name, m.unit, m.n, m.min, m.max, m.mean, m.threshold FROM read_conditions c "
    "LEFT JOIN read_metrics m ON m.position = c.position "
    "WHERE c.machine = :machine AND c.start_ns >= :low AND c.start_ns < :high "
    "AND c.{clock} <= :bound ORDER BY c.start_ns"
)
#: Alarms active and collection gaps in an operation's interval, in one round trip.
_HAPPENINGS = (
    "SELECT 'alarm', position, code, text, severity, raised_ns, cleared_ns FROM read_alarms "
    "WHERE machine = :machine AND raised_ns < :high AND {clock} <= :bound "
    "AND (cleared_ns IS NULL OR cleared_ns >= :low) UNION ALL "
    "SELECT 'gap', position, reason, NULL, NULL, start_ns, end_ns FROM read_gaps "
    "WHERE machine = :machine AND start_ns <= :high AND end_ns >= :low AND {clock} <= :bound"
)
_REGISTERED = (
    "SELECT position, key, part_number, revision FROM read_registry WHERE key IN :keys "
    "AND {clock} <= :bound"
)
_SHAPES: dict[str, Any] = {_EVENTS: _StoryRow, _CONDITIONS: _ConditionRow,
                           _REGISTERED: _RegisteredRow}


class Reads(NamedTuple):
    """What one of the queries reads: its tables, and which columns of a result row hold
    the row's log position and identify it."""

    tables: tuple[str, ...]
    position: int
    identity: tuple[int, ...]


#: Every query a story is built from, so a verified story can check each row it used.
QUERIES: dict[str, Reads] = {
    _EVENTS: Reads(("read_story",), 0, (0,)),
    _CONDITIONS: Reads(("read_conditions", "read_metrics"), 0, (0, 7)),
    _HAPPENINGS: Reads(("read_alarms", "read_gaps"), 1, (0, 1)),
    _REGISTERED: Reads(("read_registry",), 0, (0,)),
}


class Read(Protocol):
    """Runs one of the queries below over read-model rows (see :func:`thread.read.sql.rows`)."""

    def __call__(self, template: str, as_of: AsOf, /, **params: Any) -> list[tuple[Any, ...]]:
        ...


def _query(read: Read, template: str, as_of: AsOf, **params: Any) -> list[Any]:
    return list(map(_SHAPES[template]._make, read(template, as_of, **params)))


#: Where the story reads an event's bytes: (kind, key) -> {version: canonical bytes}.
Fetch = Callable[[str, str], dict[int, bytes]]


class Event(NamedTuple):
    """A story event: where it is in the log, its clocks, provenance and payload."""

    position: int
    kind: str
    key: str
    version: int
    topic: str
    occurred_ns: int
    recorded_ns: int
    actor: str
    source: str
    canonical: bytes
    payload: Record  # JSON-ready: times in ISO 8601, sample blocks by size
    raw: Record  # as decoded: what summaries and the domain read


def events_of(read: Read, fetch: Fetch, kind: str, keys: list[str], as_of: AsOf
              ) -> list[Event]:
    """Events of subjects of one kind as of a moment, oldest first per subject.

    The read model says which events count as of the moment; their bytes come
    from the event store itself, so the hash a story reports is of the bytes
    in the log.
    """
    if not keys:
        return []
    stored: dict[str, dict[int, bytes]] = {}
    found: list[Event] = []
    for row in _query(read, _EVENTS, as_of, kind=kind, keys=keys):
        chain = stored.get(row.key)
        if chain is None:
            chain = stored[row.key] = fetch(row.kind, row.key)
        canonical = chain.get(row.version)
        if canonical is None:
            raise IntegrityFailure(
                f"read model names {row.kind} {row.key} version {row.version} at log position "
                f"{row.position}, which the event store does not hold; rebuild the read models "
                f"(thread rebuild) and verify the ledger (thread verify)", version=row.version)
        version, topic, _, _, actor, source, _, payload = unpack_event(canonical, row.position)
        if (version, topic) != (row.version, row.topic):
            raise IntegrityFailure(
                f"read model and event store disagree on {row.kind} {row.key} version "
                f"{row.version}; rebuild the read models (thread rebuild)", version=row.version)
        found.append(Event(row.position, row.kind, row.key, row.version, row.topic,
                           row.occurred_ns, row.recorded_ns, actor, source, canonical,
                           cast(Record, plain(payload)), payload))
    return found


def trace(read: Read, fetch: Fetch, key: str, as_of: AsOf, *, log_size: int,
          longest_window_ns: int, proved_in: bytes | None = None) -> Story:
    """The story of serial (or lot) ``key`` from the read models and the event store.

    ``proved_in`` is the root of the log of ``log_size`` events that every event and
    row ``read`` gives was proved in (see :mod:`thread.read.verified`); the story says so.
    """
    kind = "part"
    found = events_of(read, fetch, kind, [key], as_of)
    if not found:
        kind = "lot"
        found = events_of(read, fetch, kind, [key], as_of)
    if not found:
        raise UnknownSubject(f"no part or lot {key} in this ledger{as_of.phrase()}")
    corrected = {event.payload["corrects_version"]: event.version
                 for event in found if event.topic == f.CorrectionRecorded.topic}
    builder = _Builder(kind, key)
    builder.summaries = {e.position: topics.summarize(e.topic, e.raw) for e in found}
    timeline = [_timeline_entry(event, corrected.get(event.version),
                                builder.summaries[event.position]) for event in found]
    current = [event for event in found if event.version not in corrected]
    for event in current:
        builder.place(event)
    return Story(
        kind=kind, key=key, log_size=log_size,
        verified=proved_in is not None, log_root=None if proved_in is None else proved_in.hex(),
        as_of=as_of_note(as_of),
        part_number=builder.registration.get("part_number"),
        revision=builder.registration.get("revision"),
        work_order=builder.registration.get("work_order"),
        udi=builder.registration.get("udi"),
        whereabouts=fold((event.topic, event.raw) for event in current),
        design=_design(read, fetch, builder, as_of),
        operations=tuple(_operations(read, builder, as_of, longest_window_ns)),
        inspections=tuple(builder.facts("quality.inspection-recorded")),
        tests=tuple(builder.facts("quality.test-recorded")),
        non_conformances=tuple(builder.non_conformances(timeline)),
        materials=tuple(_materials(read, fetch, builder, as_of)),
        certifications=tuple(builder.facts(section="certifications")),
        environment=tuple(builder.facts(section="environment")),
        parent=builder.parent(read, as_of),
        components=tuple(builder.components(read, as_of)),
        service=tuple(builder.facts(section="service")),
        actions=tuple(builder.facts(section="actions")),
        signatures=tuple(builder.signatures(timeline)),
        timeline=tuple(timeline),
    )


def _section(topic: str) -> topics.Section:
    entry = topics.topic(topic)
    return entry.section if entry is not None else topics.section_of(topic)


def _fact_fields(payload: Record) -> Record:
    return {k: v for k, v in payload.items() if k not in _SUBJECT}


def _timeline_entry(event: Event, corrected_by: int | None, summary: str) -> TimelineEntry:
    return TimelineEntry(
        position=event.position, version=event.version, topic=event.topic,
        section=_section(event.topic), occurred_at=moment(event.occurred_ns),
        recorded_at=moment(event.recorded_ns), actor=event.actor, source=event.source,
        hash=hashlib.sha256(event.canonical).hexdigest(),
        summary=summary, fact=_fact_fields(event.payload),
        corrected_by=corrected_by,
    )


class _Builder:
    """The current events of one subject, sorted into the story's sections."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind, self.key = kind, key
        self.registration: Record = {}
        self.events: list[Event] = []
        self.by_version: dict[int, Event] = {}
        self.by_topic: defaultdict[str, list[Event]] = defaultdict(list)
        self.by_section: defaultdict[topics.Section, list[Event]] = defaultdict(list)
        #: One-line summaries by log position, shared by the timeline and the sections.
        self.summaries: dict[int, str] = {}

    def place(self, event: Event) -> None:
        self.events.append(event)
        self.by_version[event.version] = event
        self.by_topic[event.topic].append(event)
        self.by_section[_section(event.topic)].append(event)
        if event.topic == f.PartRegistered.topic:
            self.registration = event.payload

    def of(self, topic: str) -> list[Event]:
        return self.by_topic.get(topic, [])

    def facts(self, topic: str | None = None, *, section: topics.Section | None = None
              ) -> list[StoryFact]:
        chosen = (self.by_topic.get(topic, []) if topic is not None
                  else self.by_section.get(section, []) if section is not None else self.events)
        return [StoryFact(position=e.position, version=e.version, event=topics.in_words(e.topic),
                          at=moment(e.occurred_ns), summary=self.summaries[e.position],
                          fact=_fact_fields(e.payload))
                for e in chosen]

    def signatures(self, timeline: list[TimelineEntry]) -> list[StorySignature]:
        topic_of = {entry.version: entry.topic for entry in timeline}
        return [StorySignature(
            position=e.position, signed_version=e.payload["signed_version"],
            signed_topic=topic_of.get(e.payload["signed_version"]),
            signer=e.payload["signer"], printed_name=e.payload["printed_name"],
            meaning=e.payload["meaning"],
            signed_at=datetime.fromisoformat(e.payload["signed_at"]),
            signed_hash=e.payload["signed_hash"]) for e in self.of(f.SignatureApplied.topic)]

    def non_conformances(self, timeline: list[TimelineEntry]) -> list[StoryNonConformance]:
        signatures = self.signatures(timeline)
        decided: dict[str, Event] = {e.payload["non_conformance"]: e
                                     for e in self.of(f.DispositionRecorded.topic)}
        found = []
        for opened in self.of(f.NonConformanceOpened.topic):
            p = opened.payload
            decision = decided.get(p["non_conformance"])
            disposition = None if decision is None else StoryDisposition(
                position=decision.position, version=decision.version,
                decision=decision.payload["decision"], rationale=decision.payload["rationale"],
                reference=decision.payload.get("reference"), at=moment(decision.occurred_ns))
            found.append(StoryNonConformance(
                non_conformance=p["non_conformance"], description=p["description"],
                severity=p["severity"], characteristic=p.get("characteristic"),
                opened_at=moment(opened.occurred_ns), disposition=disposition,
                signatures=tuple(s for s in signatures if decision is not None
                                 and s.signed_version == decision.version)))
        return found

    def installed(self) -> list[Event]:
        """Components installed and not removed since, in installation order."""
        present: dict[str, Event] = {}
        for event in self.events:
            if event.topic == f.ComponentInstalled.topic:
                present[event.payload["component"]] = event
            elif event.topic == f.ComponentRemoved.topic:
                present.pop(event.payload["component"], None)
        return list(present.values())

    def components(self, read: Read, as_of: AsOf) -> list[StoryComponent]:
        installed = self.installed()
        known = _registered(read, [e.payload["component"] for e in installed], as_of)
        return [StoryComponent(
            serial=e.payload["component"], position=e.payload.get("position"),
            installed_at=moment(e.occurred_ns),
            part_number=known.get(e.payload["component"], (None, None))[0],
            revision=known.get(e.payload["component"], (None, None))[1]) for e in installed]

    def parent(self, read: Read, as_of: AsOf) -> StoryParent | None:
        last: Event | None = None
        for event in self.events:
            if event.topic == f.InstalledInto.topic:
                last = event
            elif event.topic == f.RemovedFrom.topic:
                last = None
        if last is None:
            return None
        assembly = last.payload["assembly"]
        number, revision = _registered(read, [assembly], as_of).get(assembly, (None, None))
        return StoryParent(assembly=assembly, position=last.payload.get("position"),
                           since=moment(last.occurred_ns), part_number=number,
                           revision=revision)


def _registered(read: Read, keys: list[str], as_of: AsOf
                ) -> dict[str, tuple[str | None, str | None]]:
    if not keys:
        return {}
    return {row.key: (row.part_number, row.revision)
            for row in _query(read, _REGISTERED, as_of, keys=keys)}


def _design(read: Read, fetch: Fetch, builder: _Builder, as_of: AsOf
            ) -> StoryDesign | None:
    number, revision = builder.registration.get("part_number"), builder.registration.get(
        "revision")
    if number is None:
        return None
    released: Event | None = None
    changes: list[Record] = []
    for event in events_of(read, fetch, "design", [number], as_of):
        p = event.payload
        if event.topic == f.RevisionReleased.topic and p["revision"] == revision:
            released = event
        elif (event.topic == f.ChangeOrderIssued.topic
              and revision in p.get("affected_revisions", ())):
            changes.append({**_fact_fields(p), "at": moment(event.occurred_ns)})
    if released is None:
        return StoryDesign(part_number=number, revision=revision, released=False,
                           change_orders=tuple(changes))
    p = released.payload
    return StoryDesign(part_number=number, revision=revision, released=True,
                       part_name=p["part_name"], drawing=p["drawing"],
                       released_at=moment(released.occurred_ns),
                       characteristics=tuple(p.get("characteristics") or ()),
                       change_orders=tuple(changes))


def _materials(read: Read, fetch: Fetch, builder: _Builder, as_of: AsOf
               ) -> list[StoryMaterial]:
    consumed = builder.of(f.MaterialConsumed.topic)
    lots = sorted({e.payload["material_lot"] for e in consumed})
    received: dict[str, Record] = {}
    certificates: dict[str, list[Record]] = defaultdict(list)
    for event in events_of(read, fetch, "lot", lots, as_of):
        if event.topic == f.MaterialLotReceived.topic:
            received[event.key] = event.payload
        elif event.topic == f.CertificationAttached.topic:
            certificates[event.key].append(_fact_fields(event.payload))
    found = []
    for event in consumed:
        p = event.payload
        lot = received.get(p["material_lot"])
        found.append(StoryMaterial(
            material_lot=p["material_lot"], quantity=p["quantity"], unit=p["unit"],
            at=moment(event.occurred_ns), certificate_digest=p.get("certificate_digest"),
            lot=None if lot is None else MaterialLot(**{k: lot.get(k) for k in (
                "material", "specification", "supplier", "heat", "certificate_number",
                "certificate_digest")}),
            certificates=tuple(certificates.get(p["material_lot"], []))))
    return found


def _operations(read: Read, builder: _Builder, as_of: AsOf, longest_ns: int
                ) -> list[StoryOperation]:
    """Each operation with its process records and the machine's condition meanwhile.

    A process record belongs to the latest operation of the same name on the same (or an
    unnamed) machine; one with no such operation stands as an operation of its own.
    """
    operations: list[Record] = []
    for event in builder.events:
        p = event.payload
        if event.topic == f.OperationPerformed.topic:
            operations.append({
                "operation": p["operation"], "machine": p.get("machine"),
                "station": p["station"], "operator": p["operator"],
                "program": p.get("program"), "program_revision": p.get("program_revision"),
                "started_at": p["started_at"], "ended_at": p["ended_at"],
                "cycle_time_s": p["cycle_time_s"], "position": event.position,
                "version": event.version, "process": []})
        elif event.topic == f.ProcessRecorded.topic:
            parameters = [ProcessParameter(**{k: q[k] for k in (
                "name", "unit", "n", "min", "max", "mean", "sd")}) for q in event.raw["parameters"]]
            target = next((o for o in reversed(operations) if o["operation"] == p["operation"]
                           and o["machine"] in (None, p.get("machine"))), None)
            if target is None:
                operations.append({
                    "operation": p["operation"], "machine": p.get("machine"), "station": None,
                    "operator": None, "program": None, "program_revision": None,
                    "started_at": p["started_at"], "ended_at": p["ended_at"],
                    "cycle_time_s": None, "position": event.position, "version": event.version,
                    "process": parameters})
            else:
                target["process"].extend(parameters)
                target["machine"] = target["machine"] or p.get("machine")
    return [StoryOperation(**{**o, "process": tuple(o["process"]),
                              "condition": _condition(read, o, as_of, longest_ns)})
            for o in operations]


def _condition(read: Read, operation: Record, as_of: AsOf, longest_ns: int
               ) -> Any:
    machine = operation["machine"]
    if machine is None:
        return None
    start = nanoseconds_of(operation["started_at"])
    end = nanoseconds_of(operation["ended_at"])
    windows: dict[int, Window] = {}
    for row in _query(read, _CONDITIONS, as_of, machine=machine, low=start - longest_ns,
                      high=end + 1):
        window = windows.get(row.position)
        if window is None:
            window = windows[row.position] = Window(
                row.position, row.start_ns, row.end_ns, (), tuple(json.loads(row.alarms)),
                row.availability, row.performance, row.quality)
        if row.name is not None:
            windows[row.position] = window._replace(metrics=(*window.metrics, Metric(
                row.name, row.unit, int(row.n), row.min, row.max, row.mean, row.threshold)))
    alarms, gaps = [], []
    for what, position, text, *rest in read(_HAPPENINGS, as_of, machine=machine,
                                             low=start, high=max(end, start + 1)):
        if what == "alarm":
            alarms.append(Alarm(position, text, *rest))
        else:
            gaps.append(Gap(position, rest[2], rest[3], text))
    return condition_during(machine, start, end, windows.values(), alarms, gaps)


def nanoseconds_of(value: str | datetime) -> int:
    """Nanoseconds since the epoch of a JSON-ready or a decoded payload time."""
    moment_ = datetime.fromisoformat(value) if isinstance(value, str) else value
    return ns(moment_)
