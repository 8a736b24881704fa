"""The projections: which rows each kind of event adds to which read model.

A projection is a name, its tables and a function per topic that turns one
decoded event into rows (tuples in the table's column order). Projections
keep no state between events: every row is an append, so they can be
rebuilt from the log at any time and read as of any past moment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Table

from thread.domain import facts as f
from thread.domain.condition import nanoseconds
from thread.domain.topics import moves
from thread.read import schema as s
from thread.read.events import LogEvent, plain

Row = tuple[object, ...]
Rows = list[tuple[Table, Row]]
Handler = Callable[[LogEvent], Rows]


@dataclass(frozen=True)
class Projection:
    """A named read model: its tables and what each topic adds to them."""

    name: str
    tables: tuple[Table, ...]
    handlers: dict[str, Handler] = field(default_factory=dict)
    #: Kinds of subject whose every event this projection takes, whatever the topic.
    kinds: frozenset[str] = frozenset()
    fallback: Handler | None = None

    def rows(self, event: LogEvent) -> Rows:
        """The rows ``event`` adds (none when this projection ignores it)."""
        handler = self.handlers.get(event.topic)
        if handler is not None:
            return handler(event)
        if self.fallback is not None and event.kind in self.kinds:
            return self.fallback(event)
        return []

    def takes(self, topic: str, kind: str) -> bool:
        """Whether events of ``topic`` on a subject of ``kind`` can add rows here."""
        return topic in self.handlers or (self.fallback is not None and kind in self.kinds)


def _clocks(event: LogEvent) -> tuple[int, int]:
    return event.occurred_ns, event.recorded_ns


# -- story --------------------------------------------------------------------

def _story(event: LogEvent) -> Rows:
    rows: Rows = [(s.story, (
        event.position, event.kind, event.key, event.version, event.topic,
        *_clocks(event),
    ))]
    if event.topic == f.CorrectionRecorded.topic:
        p = event.payload
        rows.append((s.superseded, (
            event.position, event.kind, event.key, p["corrects_version"],
            p["replaced_by_version"], p["reason"], *_clocks(event),
        )))
    return rows


def _superseded_only(event: LogEvent) -> Rows:
    return [row for row in _story(event) if row[0] is s.superseded]


STORY = Projection(
    name="story",
    tables=(s.story, s.superseded),
    kinds=frozenset({"part", "lot", "design"}),
    fallback=_story,
    handlers={f.CorrectionRecorded.topic: lambda event: (
        _story(event) if event.kind in ("part", "lot", "design") else _superseded_only(event)
    )},
)


# -- registry -----------------------------------------------------------------

def _registered(event: LogEvent) -> Rows:
    p = event.payload
    return [(s.registry, (
        event.position, event.kind, event.key, p.get("part_number"), p.get("revision"),
        p.get("work_order"), float(p.get("quantity", 1)), *_clocks(event),
    ))]


def _lot_received(event: LogEvent) -> Rows:
    p = event.payload
    return [(s.registry, (
        event.position, event.kind, event.key, None, None, None, float(p["quantity"]),
        *_clocks(event),
    ))]


def _moved(event: LogEvent) -> Rows:
    """A fact that moves its subject (the registry says which): the fields its move reads,
    for the domain's whereabouts fold at query time (none: an empty detail)."""
    reads = _MOVES[event.topic].reads
    detail = json.dumps({name: event.payload.get(name) for name in reads}) if reads else ""
    return [(s.whereabouts, (
        event.position, event.kind, event.key, event.version, event.topic, detail,
        *_clocks(event),
    ))]


_MOVES = moves()


def _registry_handlers() -> dict[str, Handler]:
    handlers: dict[str, Handler] = dict.fromkeys(_MOVES, _moved)
    for topic, handler in ((f.PartRegistered.topic, _registered),
                           (f.MaterialLotReceived.topic, _lot_received)):
        handlers[topic] = (lambda first: lambda event: [*first(event), *_moved(event)])(handler)
    return handlers


REGISTRY = Projection(
    name="registry",
    tables=(s.registry, s.whereabouts),
    handlers=_registry_handlers(),
)


# -- genealogy ----------------------------------------------------------------

def _edge(action: str, child_kind: str, child_field: str, slot_field: str | None) -> Handler:
    def handler(event: LogEvent) -> Rows:
        p = event.payload
        slot = p.get(slot_field) if slot_field is not None else None
        return [(s.edges, (
            event.position, event.kind, event.key, child_kind, p[child_field], action,
            event.version, slot, *_clocks(event),
        ))]
    return handler


GENEALOGY = Projection(
    name="genealogy",
    tables=(s.edges,),
    handlers={
        f.ComponentInstalled.topic: _edge("install", "part", "component", "position"),
        f.ComponentRemoved.topic: _edge("remove", "part", "component", None),
        f.MaterialConsumed.topic: _edge("consume", "lot", "material_lot", None),
    },
)


# -- production ---------------------------------------------------------------

def _operation(event: LogEvent) -> Rows:
    p = event.payload
    return [(s.operations, (
        event.position, event.kind, event.key, event.version, p["operation"], p.get("machine"),
        p["station"], p["operator"], p.get("program"), p.get("program_revision"),
        nanoseconds(p["started_at"]), nanoseconds(p["ended_at"]), *_clocks(event),
    ))]


def _process(event: LogEvent) -> Rows:
    p = event.payload
    head = (event.kind, event.key, event.version, p["operation"], p.get("machine"),
            nanoseconds(p["started_at"]), nanoseconds(p["ended_at"]))
    return [
        (s.parameters, (event.position, q["name"], *head, q["unit"], q["n"], q["min"],
                        q["max"], q["mean"], q["sd"], *_clocks(event)))
        for q in p["parameters"]
    ]


def _condition(event: LogEvent) -> Rows:
    p = event.payload
    start, end = nanoseconds(p["window_start"]), nanoseconds(p["window_end"])
    rows: Rows = [(s.conditions, (
        event.position, event.key, start, end, json.dumps(p.get("alarms_active", [])),
        p.get("availability"), p.get("performance"), p.get("quality"), *_clocks(event),
    ))]
    rows.extend(
        (s.metrics, (event.position, m["name"], event.key, start, end, m["unit"], m["n"],
                     m["min"], m["max"], m["mean"], m.get("threshold"), *_clocks(event)))
        for m in p.get("metrics", [])
    )
    return rows


def _alarm(event: LogEvent) -> Rows:
    p = event.payload
    cleared = p.get("cleared_at")
    return [(s.alarms, (
        event.position, event.key, p["code"], p["text"], p.get("severity", "warning"),
        nanoseconds(p["raised_at"]), nanoseconds(cleared) if cleared is not None else None,
        *_clocks(event),
    ))]


def _gap(event: LogEvent) -> Rows:
    p = event.payload
    return [(s.gaps, (event.position, event.key, nanoseconds(p["gap_start"]),
                      nanoseconds(p["gap_end"]), p["reason"], *_clocks(event)))]


PRODUCTION = Projection(
    name="production",
    tables=(s.operations, s.parameters, s.conditions, s.metrics, s.alarms, s.gaps),
    handlers={
        f.OperationPerformed.topic: _operation,
        f.ProcessRecorded.topic: _process,
        f.ConditionRecorded.topic: _condition,
        f.AlarmRaised.topic: _alarm,
        f.CollectionGapRecorded.topic: _gap,
    },
)

# -- field ----------------------------------------------------------------------

def _in_service(detail: str) -> Handler:
    """A service fact: its operating hours (when it reports them), claim and ``detail``."""
    def handler(event: LogEvent) -> Rows:
        p = event.payload
        hours = p.get("operating_hours")
        return [(s.field, (
            event.position, event.kind, event.key, event.version, event.topic,
            None if hours is None else float(hours), p.get("claim"), p.get(detail),
            *_clocks(event),
        ))]
    return handler


FIELD = Projection(
    name="field",
    tables=(s.field,),
    handlers={
        f.Shipped.topic: _in_service("customer"),
        f.InstalledAtSite.topic: _in_service("site"),
        f.FieldPerformanceReported.topic: _in_service("claim"),
        f.FieldMaintenancePerformed.topic: _in_service("kind"),
        f.FailureReported.topic: _in_service("failure_mode"),
    },
)

# -- inspection -------------------------------------------------------------------

def _inspection(event: LogEvent) -> Rows:
    p = event.payload
    return [(s.inspections, (
        event.position, event.kind, event.key, event.version, p["characteristic"],
        p["method"], p.get("gauge"), p.get("measured"), p.get("unit"), p.get("nominal"),
        p.get("lower_tolerance"), p.get("upper_tolerance"), p["verdict"], *_clocks(event),
    ))]


INSPECTION = Projection(
    name="inspection",
    tables=(s.inspections,),
    handlers={f.InspectionRecorded.topic: _inspection},
)

# -- drift ------------------------------------------------------------------------

def _drift(event: LogEvent) -> Rows:
    """A drift fact: its chart, its alert and its payload (the watcher reads charts from it)."""
    p = event.payload
    detail = json.dumps(plain({name: value for name, value in p.items()
                               if name not in ("kind", "key")}), sort_keys=True)
    return [(s.drift, (event.position, event.kind, event.key, event.version, event.topic,
                       p.get("chart"), p.get("alert"), detail, *_clocks(event)))]


DRIFT = Projection(
    name="drift",
    tables=(s.drift,),
    handlers=dict.fromkeys((f.ChartSubscribed.topic, f.ChartUnsubscribed.topic,
                            f.DriftAlertRaised.topic, f.DriftAlertAcknowledged.topic,
                            f.DriftAlertClosed.topic), _drift) | {
        # Who signed an acknowledgement or closure: signatures on watched subjects.
        f.SignatureApplied.topic: lambda event: (
            _drift(event) if event.kind in ("machine", "design") else []),
    },
)

#: Every projection, by name, in the order ``thread rebuild`` runs them.
PROJECTIONS: dict[str, Projection] = {
    projection.name: projection for projection in (STORY, REGISTRY, GENEALOGY, PRODUCTION, FIELD,
                                                   INSPECTION, DRIFT)
}


def tables_of(names: Iterable[str]) -> list[Table]:
    """The tables of the named projections."""
    return [table for name in names for table in PROJECTIONS[name].tables]
