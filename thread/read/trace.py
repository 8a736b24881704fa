"""The complete story of a serial (or lot): what it is, how it was made, where it went."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection

from thread.domain import facts as f
from thread.errors import IntegrityFailure, UnknownSubject
from thread.read.clock import AsOf, ns
from thread.read.events import iso, plain, unpack_event
from thread.read.sql import rows

Record = dict[str, Any]


@dataclass
class Story:
    """Everything the ledger knows about one serial or lot, as of a moment."""

    kind: str
    key: str
    position: int
    as_of: dict[str, str] | None
    part_number: str | None = None
    revision: str | None = None
    work_order: str | None = None
    udi: str | None = None
    location: str = "in production"
    quarantined: bool = False
    design: Record | None = None
    operations: list[Record] = field(default_factory=list)
    inspections: list[Record] = field(default_factory=list)
    tests: list[Record] = field(default_factory=list)
    non_conformances: list[Record] = field(default_factory=list)
    materials: list[Record] = field(default_factory=list)
    certifications: list[Record] = field(default_factory=list)
    parent: Record | None = None
    components: list[Record] = field(default_factory=list)
    service: list[Record] = field(default_factory=list)
    actions: list[Record] = field(default_factory=list)
    signatures: list[Record] = field(default_factory=list)
    timeline: list[Record] = field(default_factory=list)

    def to_dict(self) -> Record:
        """The story as plain JSON-ready data."""
        return asdict(self)


_SERVICE = {f.Shipped.topic, f.InstalledAtSite.topic, f.FieldMaintenancePerformed.topic,
            f.FieldPerformanceReported.topic, f.FailureReported.topic,
            f.FailureAnalysisRecorded.topic, f.CustomerFeedbackReceived.topic}
_ACTIONS = {f.Quarantined.topic, f.ReleasedFromQuarantine.topic, f.Recalled.topic,
            f.CorrectiveActionOpened.topic, f.CorrectiveActionClosed.topic}
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
    min: float | None
    max: float | None
    mean: float | None
    threshold: float | None


class _AlarmRow(NamedTuple):
    code: str
    text: str
    severity: str
    raised_ns: int
    cleared_ns: int | None


class _RegisteredRow(NamedTuple):
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
    "c.quality, m.name, m.unit, m.min, m.max, m.mean, m.threshold FROM read_conditions c "
    "LEFT JOIN read_metrics m ON m.position = c.position "
    "WHERE c.machine = :machine AND c.start_ns >= :low AND c.start_ns < :high "
    "AND c.{clock} <= :bound ORDER BY c.start_ns"
)
_ALARMS = (
    "SELECT code, text, severity, raised_ns, cleared_ns FROM read_alarms "
    "WHERE machine = :machine AND raised_ns >= :low AND raised_ns < :high "
    "AND {clock} <= :bound ORDER BY raised_ns"
)
_REGISTERED = (
    "SELECT key, part_number, revision FROM read_registry WHERE key IN :keys "
    "AND {clock} <= :bound"
)
_SHAPES: dict[str, Any] = {_EVENTS: _StoryRow, _CONDITIONS: _ConditionRow, _ALARMS: _AlarmRow,
                           _REGISTERED: _RegisteredRow}


def _query(conn: Connection, template: str, as_of: AsOf, **params: Any) -> list[Any]:
    return list(map(_SHAPES[template]._make, rows(conn, template, as_of, **params)))


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
    payload: Record


def events_of(conn: Connection, fetch: Fetch, kind: str, keys: list[str], as_of: AsOf
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
    for row in _query(conn, _EVENTS, as_of, kind=kind, keys=keys):
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
                           cast(Record, plain(payload))))
    return found


def trace(conn: Connection, fetch: Fetch, key: str, as_of: AsOf, *, position: int,
          longest_window_ns: int) -> Story:
    """The story of serial (or lot) ``key`` from the read models and the event store."""
    kind = "part"
    rows = events_of(conn, fetch, kind, [key], as_of)
    if not rows:
        kind = "lot"
        rows = events_of(conn, fetch, kind, [key], as_of)
    if not rows:
        when = "" if as_of.moment is None else f" as of {as_of.describe()} "
        raise UnknownSubject(f"no part or lot {key} in this ledger{when}".rstrip())
    story = Story(kind=kind, key=key, position=position, as_of=as_of.describe())
    payloads = {row.position: row.payload for row in rows}
    corrected = {payloads[row.position]["corrects_version"]: row.version
                 for row in rows if row.topic == f.CorrectionRecorded.topic}
    open_ncs: dict[str, Record] = {}
    by_version: dict[int, Record] = {}
    lots: list[str] = []
    for row in rows:
        payload = payloads[row.position]
        entry = _timeline_entry(row, payload, corrected.get(row.version))
        story.timeline.append(entry)
        if row.version in corrected:
            continue  # superseded: it stays in the timeline, marked, and counts no more
        by_version[row.version] = payload
        _place(story, row, payload, open_ncs, lots)
    _design(conn, fetch, story, as_of)
    _materials(conn, fetch, story, lots, as_of)
    _conditions(conn, story, as_of, longest_window_ns)
    _components(conn, story, as_of)
    for signature in story.signatures:
        signed = by_version.get(signature["signed_version"])
        signature["signed_topic"] = _topic_of(story.timeline, signature["signed_version"])
        if signed is not None and signed.get("non_conformance") in open_ncs:
            open_ncs[signed["non_conformance"]].setdefault("signatures", []).append(signature)
    return story


def _timeline_entry(row: Any, payload: Record, corrected_by: int | None) -> Record:
    return {
        "position": row.position, "version": row.version, "topic": row.topic,
        "occurred_at": iso(row.occurred_ns), "recorded_at": iso(row.recorded_ns),
        "actor": row.actor, "source": row.source,
        "hash": hashlib.sha256(row.canonical).hexdigest(),
        "fact": {k: v for k, v in payload.items() if k not in _SUBJECT},
        "corrected_by": corrected_by,
    }


def _place(story: Story, row: Any, payload: Record, open_ncs: dict[str, Record],
           lots: list[str]) -> None:
    """Put one event's content where the story tells it."""
    topic, at = row.topic, iso(row.occurred_ns)
    fact = {k: v for k, v in payload.items() if k not in _SUBJECT}
    if topic == f.PartRegistered.topic:
        story.part_number, story.revision = payload["part_number"], payload["revision"]
        story.work_order, story.udi = payload.get("work_order"), payload.get("udi")
        story.location = "in stock"
    elif topic == f.OperationPerformed.topic:
        story.operations.append({**fact, "version": row.version, "process": [],
                                 "machine_condition": None, "alarms": []})
    elif topic == f.ProcessRecorded.topic:
        target = _operation_for(story, payload)
        parameters = [{k: v for k, v in p.items() if k not in ("samples",)}
                      for p in payload["parameters"]]
        if target is None:
            story.operations.append({
                "operation": payload["operation"], "machine": payload.get("machine"),
                "started_at": payload["started_at"], "ended_at": payload["ended_at"],
                "process": parameters, "machine_condition": None, "alarms": [],
            })
        else:
            target["process"].extend(parameters)
            target.setdefault("machine", payload.get("machine"))
            if target["machine"] is None:
                target["machine"] = payload.get("machine")
    elif topic == f.InspectionRecorded.topic:
        story.inspections.append({**fact, "at": at})
    elif topic == f.TestRecorded.topic:
        story.tests.append({**fact, "at": at})
    elif topic == f.InspectionReported.topic:
        story.certifications.append({**fact, "at": at, "kind": "inspection report"})
    elif topic == f.NonConformanceOpened.topic:
        nc = {**fact, "opened_at": at, "disposition": None}
        open_ncs[payload["non_conformance"]] = nc
        story.non_conformances.append(nc)
    elif topic == f.DispositionRecorded.topic:
        opened = open_ncs.get(payload["non_conformance"])
        if opened is not None:
            opened["disposition"] = {**fact, "at": at, "version": row.version}
        if payload["decision"] == "scrap":
            story.location = "scrapped"
        elif payload["decision"] == "return-to-vendor":
            story.location = "returned to vendor"
    elif topic == f.CertificationAttached.topic:
        story.certifications.append({**fact, "at": at})
    elif topic == f.MaterialConsumed.topic:
        lots.append(payload["material_lot"])
        story.materials.append({**fact, "at": at})
    elif topic == f.ComponentInstalled.topic:
        story.components.append({"serial": payload["component"],
                                 "position": payload.get("position"), "installed_at": at})
    elif topic == f.ComponentRemoved.topic:
        story.components = [c for c in story.components if c["serial"] != payload["component"]]
    elif topic == f.InstalledInto.topic:
        story.parent = {"assembly": payload["assembly"], "position": payload.get("position"),
                        "since": at}
        story.location = f"in assembly {payload['assembly']}"
    elif topic == f.RemovedFrom.topic:
        story.parent = None
        story.location = "in stock"
    elif topic in _SERVICE:
        story.service.append({"event": topic.split(".", 1)[1], **fact, "at": at})
        if topic == f.Shipped.topic:
            story.location = f"shipped to {payload['customer']}"
        elif topic == f.InstalledAtSite.topic:
            story.location = f"installed at {payload['site']}"
    elif topic in _ACTIONS:
        story.actions.append({"event": topic.split(".", 1)[1], **fact, "at": at})
        if topic == f.Quarantined.topic:
            story.quarantined = True
        elif topic == f.ReleasedFromQuarantine.topic:
            story.quarantined = False
    elif topic == f.SignatureApplied.topic:
        story.signatures.append({k: fact[k] for k in (
            "signed_version", "signer", "printed_name", "meaning", "signed_at", "signed_hash")})


def _operation_for(story: Story, payload: Record) -> Record | None:
    """The operation a process record belongs to: same operation, same or unnamed machine."""
    for operation in reversed(story.operations):
        if operation["operation"] != payload["operation"]:
            continue
        if operation.get("machine") in (None, payload.get("machine")):
            return operation
    return None


def _topic_of(timeline: list[Record], version: int) -> str | None:
    return next((e["topic"] for e in timeline if e["version"] == version), None)


def _design(conn: Connection, fetch: Fetch, story: Story, as_of: AsOf) -> None:
    if story.part_number is None:
        return
    released: Record | None = None
    changes: list[Record] = []
    for row in events_of(conn, fetch, "design", [story.part_number], as_of):
        payload = row.payload
        if row.topic == f.RevisionReleased.topic and payload["revision"] == story.revision:
            released = {**payload, "released_at": iso(row.occurred_ns), "version": row.version}
        elif (row.topic == f.ChangeOrderIssued.topic
              and story.revision in payload.get("affected_revisions", ())):
            changes.append({**payload, "at": iso(row.occurred_ns)})
    if released is None:
        story.design = {"part_number": story.part_number, "revision": story.revision,
                        "released": False, "change_orders": changes}
    else:
        story.design = {**released, "released": True, "change_orders": changes}


def _materials(conn: Connection, fetch: Fetch, story: Story, lots: list[str], as_of: AsOf
               ) -> None:
    received: dict[str, Record] = {}
    certificates: dict[str, list[Record]] = defaultdict(list)
    for row in events_of(conn, fetch, "lot", sorted(set(lots)), as_of):
        payload = row.payload
        if row.topic == f.MaterialLotReceived.topic:
            received[row.key] = payload
        elif row.topic == f.CertificationAttached.topic:
            certificates[row.key].append(payload)
    for material in story.materials:
        lot = received.get(material["material_lot"], {})
        material["lot"] = {k: lot.get(k) for k in (
            "material", "specification", "supplier", "heat", "certificate_number",
            "certificate_digest")} if lot else None
        material["certificates"] = certificates.get(material["material_lot"], [])


def _conditions(conn: Connection, story: Story, as_of: AsOf, longest_ns: int) -> None:
    """Attach the machine's condition during each operation's window."""
    for operation in story.operations:
        machine = operation.get("machine")
        if machine is None:
            continue
        start = ns(datetime.fromisoformat(operation["started_at"]))
        end = ns(datetime.fromisoformat(operation["ended_at"]))
        windows: dict[int, Record] = {}
        for row in _query(conn, _CONDITIONS, as_of, machine=machine,
                          low=start - longest_ns, high=end + 1):
            if row.end_ns <= start:
                continue
            window = windows.setdefault(row.position, {
                "start": row.start_ns, "end": row.end_ns, "alarms": json.loads(row.alarms),
                "oee": (row.availability, row.performance, row.quality), "metrics": [],
            })
            if row.name is not None:
                window["metrics"].append(row)
        operation["machine_condition"] = _condition_summary(list(windows.values()))
        operation["alarms"] = [
            {"code": a.code, "text": a.text, "severity": a.severity, "raised_at": iso(a.raised_ns),
             "cleared_at": iso(a.cleared_ns) if a.cleared_ns is not None else None}
            for a in _query(conn, _ALARMS, as_of, machine=machine, low=start, high=end + 1)
        ]


def _condition_summary(windows: list[Record]) -> Record | None:
    """Worst values over the windows that overlap an operation."""
    if not windows:
        return None
    metrics: dict[str, Record] = {}
    for window in windows:
        for m in window["metrics"]:
            seen = metrics.get(m.name)
            if seen is None:
                metrics[m.name] = {"name": m.name, "unit": m.unit, "min": m.min, "max": m.max,
                                   "mean": m.mean, "threshold": m.threshold}
            else:
                seen["min"], seen["max"] = min(seen["min"], m.min), max(seen["max"], m.max)
                seen["mean"] = max(seen["mean"], m.mean)
    for metric in metrics.values():
        metric["exceeded"] = metric["threshold"] is not None and metric["max"] > metric["threshold"]
    factors = [w["oee"] for w in windows if None not in w["oee"]]
    oee = None
    if factors:
        availability = min(a for a, _, _ in factors)
        performance = min(p for _, p, _ in factors)
        quality = min(q for _, _, q in factors)
        oee = {"availability": availability, "performance": performance, "quality": quality,
               "oee": round(availability * performance * quality, 4)}
    return {
        "windows": len(windows),
        "from": iso(min(w["start"] for w in windows)), "to": iso(max(w["end"] for w in windows)),
        "metrics": sorted(metrics.values(), key=lambda m: m["name"]),
        "alarms_active": sorted({a for w in windows for a in w["alarms"]}),
        "oee_lowest": oee,
    }


def _components(conn: Connection, story: Story, as_of: AsOf) -> None:
    keys = [c["serial"] for c in story.components]
    if story.parent is not None:
        keys.append(story.parent["assembly"])
    if not keys:
        return
    known = {row.key: row for row in _query(conn, _REGISTERED, as_of, keys=keys)}
    for record in [*story.components, *([story.parent] if story.parent else [])]:
        key = record.get("serial") or record.get("assembly")
        row = known.get(key)
        record["part_number"] = row.part_number if row is not None else None
        record["revision"] = row.revision if row is not None else None
