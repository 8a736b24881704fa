"""The read models' SQL tables.

Every row carries the log position of the event it came from, and both of
the event's clocks (``occurred_ns``: when it happened on the floor,
``recorded_ns``: when the ledger learned it; nanoseconds since the Unix epoch,
UTC). Rows are only ever appended, so any query can be asked as of a past
moment by filtering on either clock, and a rebuild is a plain reload.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: The layout of the read models; a store written with another layout is dropped and rebuilt.
LAYOUT = 10


def _clocks() -> list[Column[int]]:
    return [Column("occurred_ns", BigInteger, nullable=False),
            Column("recorded_ns", BigInteger, nullable=False)]


#: Which layout the read models in this database have, and which log (by its origin)
#: they were built from: read models of another ledger are dropped and rebuilt.
layout = Table(
    "read_layout", metadata,
    Column("layout", Integer, primary_key=True, autoincrement=False),
    Column("origin", String(200), nullable=True),
)

#: The log the read models were built against: the size and root of its tree when they
#: last caught up (no position passes it), and when and why they last rebuilt on their own
#: because the log no longer extended it (a restore, a cut tail). One row.
basis = Table(
    "read_basis", metadata,
    Column("size", BigInteger, nullable=False),
    Column("root", String(64), nullable=False),
    Column("rebuilt_ns", BigInteger),
    Column("rebuilt_because", Text),
)

#: How far each projection has read the log, written in the same transaction as its rows.
positions = Table(
    "read_positions", metadata,
    Column("projection", String(40), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("longest_window_ns", BigInteger, nullable=False, server_default="0"),
)

# -- story: which events of parts, lots and design items there are, when, at which position;
#    their bytes stay in the event store.
story = Table(
    "read_story", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("topic", String(80), nullable=False),
    *_clocks(),
)
superseded = Table(
    "read_superseded", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("replaced_by", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    *_clocks(),
)

# -- registry: what each serial or lot is, and the facts that move it around.
registry = Table(
    "read_registry", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("part_number", String(200)),
    Column("revision", String(200)),
    Column("work_order", String(200)),
    Column("quantity", Float, nullable=False),
    *_clocks(),
)
whereabouts = Table(
    "read_whereabouts", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("topic", String(80), nullable=False),
    Column("detail", Text, nullable=False),
    *_clocks(),
)

# -- genealogy: install, remove and consume edges between assemblies, parts and lots.
edges = Table(
    "read_edges", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("parent_kind", String(8), nullable=False),
    Column("parent", String(200), nullable=False),
    Column("child_kind", String(8), nullable=False),
    Column("child", String(200), nullable=False),
    Column("action", String(8), nullable=False),
    Column("version", Integer, nullable=False),
    Column("slot", String(200)),
    *_clocks(),
)

# -- production: what ran on which machine, when, and how the machine was doing.
operations = Table(
    "read_operations", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("operation", String(200), nullable=False),
    Column("machine", String(200)),
    Column("station", String(200)),
    Column("operator", String(200)),
    Column("program", String(200)),
    Column("program_revision", String(200)),
    Column("started_ns", BigInteger, nullable=False),
    Column("ended_ns", BigInteger, nullable=False),
    *_clocks(),
)
parameters = Table(
    "read_parameters", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(200), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("operation", String(200), nullable=False),
    Column("machine", String(200)),
    Column("started_ns", BigInteger, nullable=False),
    Column("ended_ns", BigInteger, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("mean", Float, nullable=False),
    Column("sd", Float, nullable=False),
    *_clocks(),
)
conditions = Table(
    "read_conditions", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("machine", String(200), nullable=False),
    Column("start_ns", BigInteger, nullable=False),
    Column("end_ns", BigInteger, nullable=False),
    Column("alarms", Text, nullable=False),
    Column("availability", Float),
    Column("performance", Float),
    Column("quality", Float),
    *_clocks(),
)
metrics = Table(
    "read_metrics", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(200), primary_key=True),
    Column("machine", String(200), nullable=False),
    Column("start_ns", BigInteger, nullable=False),
    Column("end_ns", BigInteger, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("mean", Float, nullable=False),
    Column("threshold", Float),
    *_clocks(),
)
alarms = Table(
    "read_alarms", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("machine", String(200), nullable=False),
    Column("code", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("raised_ns", BigInteger, nullable=False),
    Column("cleared_ns", BigInteger),
    *_clocks(),
)
gaps = Table(
    "read_gaps", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("machine", String(200), nullable=False),
    Column("start_ns", BigInteger, nullable=False),
    Column("end_ns", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    *_clocks(),
)

# -- field: what happened to each part in service, with the operating hours it reported.
field = Table(
    "read_field", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("topic", String(80), nullable=False),
    Column("operating_hours", Float),
    Column("claim", String(200)),
    Column("detail", Text),
    *_clocks(),
)

# -- inspection: each characteristic measured, with its requirement and verdict.
inspections = Table(
    "read_inspections", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("characteristic", String(200), nullable=False),
    Column("method", String(20), nullable=False),
    Column("gauge", String(200)),
    Column("measured", Float),
    Column("unit", String(40)),
    Column("nominal", Float),
    Column("lower_tolerance", Float),
    Column("upper_tolerance", Float),
    Column("verdict", String(8), nullable=False),
    *_clocks(),
)

# -- drift: watched charts and the alerts they raise, acknowledge and close.
drift = Table(
    "read_drift", metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("topic", String(80), nullable=False),
    Column("chart", String(200)),
    Column("alert", String(200)),
    Column("detail", Text, nullable=False),
    *_clocks(),
)

#: Secondary indexes, created after a bulk rebuild rather than maintained during it.
INDEXES: dict[str, list[Index]] = {
    # Covering: a trace reads a subject's rows from the index alone, a page or two,
    # where the rows themselves lie scattered across the file in log order.
    story.name: [Index("read_story_subject", story.c.kind, story.c.key, story.c.version,
                       story.c.position, story.c.topic, story.c.occurred_ns,
                       story.c.recorded_ns)],
    superseded.name: [Index("read_superseded_subject", superseded.c.key, superseded.c.version)],
    registry.name: [
        # A part's design by its key (recall's part numbers, genealogy, trace): from the
        # index alone.
        Index("read_registry_key", registry.c.key, registry.c.recorded_ns,
              registry.c.occurred_ns, registry.c.kind, registry.c.part_number,
              registry.c.revision),
        Index("read_registry_design", registry.c.part_number, registry.c.revision,
              registry.c.occurred_ns),
        # The naive recall scope counts a part number's production in a period.
        Index("read_registry_produced", registry.c.part_number, registry.c.occurred_ns,
              registry.c.recorded_ns),
    ],
    whereabouts.name: [Index("read_whereabouts_key", whereabouts.c.key, whereabouts.c.position)],
    edges.name: [Index("read_edges_parent", edges.c.parent, edges.c.position),
                 Index("read_edges_child", edges.c.child, edges.c.position)],
    # Recall reads every run of a machine-week: these two indexes carry the columns it
    # needs, so the query never leaves the index.
    operations.name: [Index("read_operations_machine", operations.c.machine,
                            operations.c.started_ns, operations.c.recorded_ns,
                            operations.c.occurred_ns, operations.c.position, operations.c.kind,
                            operations.c.key, operations.c.version, operations.c.operation,
                            operations.c.ended_ns),
                      Index("read_operations_key", operations.c.key)],
    parameters.name: [Index("read_parameters_machine", parameters.c.machine,
                            parameters.c.name, parameters.c.started_ns,
                            parameters.c.recorded_ns, parameters.c.occurred_ns,
                            parameters.c.position, parameters.c.kind, parameters.c.key,
                            parameters.c.version, parameters.c.operation,
                            parameters.c.ended_ns, parameters.c.n, parameters.c.min,
                            parameters.c.max, parameters.c.mean, parameters.c.sd),
                      Index("read_parameters_key", parameters.c.key)],
    conditions.name: [Index("read_conditions_machine", conditions.c.machine,
                            conditions.c.start_ns)],
    metrics.name: [Index("read_metrics_machine", metrics.c.machine, metrics.c.start_ns)],
    alarms.name: [Index("read_alarms_machine", alarms.c.machine, alarms.c.raised_ns)],
    gaps.name: [Index("read_gaps_machine", gaps.c.machine, gaps.c.start_ns)],
    field.name: [Index("read_field_key", field.c.key, field.c.position)],
    # Capability and charts read a part number's measurements characteristic by
    # characteristic: the key's rows come from the index alone.
    inspections.name: [Index("read_inspections_key", inspections.c.key,
                             inspections.c.characteristic, inspections.c.kind,
                             inspections.c.version, inspections.c.occurred_ns,
                             inspections.c.recorded_ns, inspections.c.position,
                             inspections.c.measured, inspections.c.verdict)],
    drift.name: [Index("read_drift_chart", drift.c.chart, drift.c.position),
                 Index("read_drift_alert", drift.c.alert, drift.c.position)],
}
