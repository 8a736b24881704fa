"""The values a control chart or a capability study reads, each linked to its part and event.

A metric is named as the investigation names values:

- ``process.NAME.STAT`` (STAT one of mean, sd, min, max, n): a process record's
  summary per part and operation, in production order (the operation's start);
- ``inspection.CHARACTERISTIC``: each measured value of a characteristic with its
  verdict and tolerance, in the order the measurements were made;
- ``condition.NAME.STAT`` (STAT one of mean, min, max): a machine's condition metric
  window by window.

Scope by part number (and revision), machine, operation and a time range, as of
any moment. Superseded (corrected) records are left out: a chart shows what the
record says now. Every point keeps the serial, machine, log position and time it
came from, so a rule violation names the parts and events behind it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from thread.domain.condition import moment
from thread.errors import LedgerError
from thread.read.clock import AsOf
from thread.read.result import Model
from thread.read.sql import not_superseded, rows

Source = Literal["process", "inspection", "condition"]
_PROCESS_STATS = ("mean", "sd", "min", "max", "n")
_CONDITION_STATS = ("mean", "min", "max")


class BadMetric(LedgerError):  # noqa: N818 - a refusal, named as the domain's errors are
    """A metric name or scope a chart cannot read."""


class SeriesPoint(Model):
    """One value on a chart and where it came from."""

    #: None for a measurement recorded by verdict alone.
    value: float | None
    at: datetime
    position: int
    serial: str | None = None
    machine: str | None = None
    operation: str | None = None
    #: For a measurement: whether it failed its tolerance (attribute charts count these).
    failed: bool | None = None


class Tolerance(Model):
    """The tolerance the measurements were judged against (nominal plus its limits)."""

    nominal: float
    lower: float
    upper: float
    unit: str | None

    @property
    def lsl(self) -> float:
        """The lower specification limit."""
        return self.nominal + self.lower

    @property
    def usl(self) -> float:
        """The upper specification limit."""
        return self.nominal + self.upper


class Series(Model):
    """A metric's values in a scope, oldest first."""

    metric: str
    source: Source
    unit: str | None
    part_number: str | None
    revision: str | None
    machine: str | None
    operation: str | None
    points: tuple[SeriesPoint, ...]
    #: For an inspected characteristic: the tolerance its latest measurement states.
    tolerance: Tolerance | None = None


def parse_metric(metric: str) -> tuple[Source, str, str]:
    """(source, name, statistic) of a metric name; :class:`BadMetric` names what is wrong."""
    source, _, rest = metric.partition(".")
    if source == "inspection" and rest:
        return "inspection", rest, "measured"
    name, _, stat = rest.rpartition(".")
    if source == "process" and name and stat in _PROCESS_STATS:
        return "process", name, stat
    if source == "condition" and name and stat in _CONDITION_STATS:
        return "condition", name, stat
    raise BadMetric(
        f"metric {metric!r}: expected process.NAME.STAT (STAT one of "
        f"{', '.join(_PROCESS_STATS)}), inspection.CHARACTERISTIC or condition.NAME.STAT "
        f"(STAT one of {', '.join(_CONDITION_STATS)})")


def series(conn: Connection, metric: str, as_of: AsOf, *, part_number: str | None = None,
           revision: str | None = None, machine: str | None = None,
           operation: str | None = None, since_ns: int = 0, until_ns: int = 2**62) -> Series:
    """The values of ``metric`` in the scope, oldest first, each with its part and event."""
    source, name, stat = parse_metric(metric)
    scope = {"part_number": part_number, "revision": revision, "machine": machine,
             "operation": operation}
    if source == "condition":
        if machine is None:
            raise BadMetric(f"metric {metric!r} is a machine's condition: name the machine")
        if part_number is not None or operation is not None:
            raise BadMetric(f"metric {metric!r} is a machine's condition, window by window: "
                            f"it has no part number or operation to filter by")
        points, unit = _condition(conn, name, stat, machine, since_ns, until_ns, as_of)
        return Series(metric=metric, source=source, unit=unit, points=points, **scope)
    if revision is not None and part_number is None:
        raise BadMetric("a revision needs its part number")
    if source == "process":
        points, unit = _process(conn, name, stat, scope, since_ns, until_ns, as_of)
        return Series(metric=metric, source=source, unit=unit, points=points, **scope)
    points, unit, tolerance = _inspection(conn, name, scope, since_ns, until_ns, as_of)
    return Series(metric=metric, source=source, unit=unit, points=points, tolerance=tolerance,
                  **scope)


def _design_filter(scope: dict[str, str | None], table: str) -> str:
    if scope["part_number"] is None:
        return ""
    sql = (f" AND EXISTS (SELECT 1 FROM read_registry r WHERE r.key = {table}.key "
           f"AND r.kind = {table}.kind AND r.part_number = :part_number "
           "AND r.{clock} <= :bound")
    return sql + (" AND r.revision = :revision)" if scope["revision"] is not None else ")")


def _process(conn: Connection, name: str, stat: str, scope: dict[str, str | None],
             since: int, until: int, as_of: AsOf) -> tuple[tuple[SeriesPoint, ...], str | None]:
    sql = (f"SELECT p.{stat}, p.started_ns, p.position, p.key, p.machine, p.operation, p.unit "
           "FROM read_parameters p WHERE p.name = :name AND p.started_ns >= :since "
           "AND p.started_ns < :until AND p.{clock} <= :bound AND "
           + not_superseded("p") + _design_filter(scope, "p"))
    if scope["machine"] is not None:
        sql += " AND p.machine = :machine"
    if scope["operation"] is not None:
        sql += " AND p.operation = :operation"
    found = rows(conn, sql + " ORDER BY p.started_ns, p.position", as_of, name=name,
                 since=since, until=until, **_given(scope))
    points = tuple(SeriesPoint(value=float(value), at=moment(started), position=position,
                               serial=key, machine=machine, operation=operation)
                   for value, started, position, key, machine, operation, _ in found)
    return points, (found[-1][6] if found and stat != "n" else None)


def _inspection(conn: Connection, characteristic: str, scope: dict[str, str | None],
                since: int, until: int, as_of: AsOf
                ) -> tuple[tuple[SeriesPoint, ...], str | None, Tolerance | None]:
    sql = ("SELECT i.measured, i.occurred_ns, i.position, i.key, i.verdict, i.unit, i.nominal, "
           "i.lower_tolerance, i.upper_tolerance FROM read_inspections i "
           "WHERE i.characteristic = :name AND i.occurred_ns >= :since "
           "AND i.occurred_ns < :until AND i.{clock} <= :bound AND "
           + not_superseded("i") + _design_filter(scope, "i"))
    if scope["machine"] is not None or scope["operation"] is not None:
        # A measurement belongs to a machine through the operations that made its part.
        sql += (" AND EXISTS (SELECT 1 FROM read_operations o WHERE o.key = i.key "
                "AND o.kind = i.kind AND o.{clock} <= :bound"
                + (" AND o.machine = :machine" if scope["machine"] is not None else "")
                + (" AND o.operation = :operation" if scope["operation"] is not None else "")
                + ")")
    found = rows(conn, sql + " ORDER BY i.occurred_ns, i.position", as_of, name=characteristic,
                 since=since, until=until, **_given(scope))
    points = tuple(SeriesPoint(value=None if measured is None else float(measured),
                               at=moment(occurred), position=position, serial=key,
                               machine=scope["machine"], operation=scope["operation"],
                               failed=verdict == "fail")
                   for measured, occurred, position, key, verdict, *_ in found)
    stated = next((row for row in reversed(found) if row[6] is not None), None)
    tolerance = None if stated is None or stated[7] is None or stated[8] is None else Tolerance(
        nominal=stated[6], lower=stated[7], upper=stated[8], unit=stated[5])
    unit = stated[5] if stated is not None else (found[-1][5] if found else None)
    return points, unit, tolerance


def _condition(conn: Connection, name: str, stat: str, machine: str, since: int, until: int,
               as_of: AsOf) -> tuple[tuple[SeriesPoint, ...], str | None]:
    sql = (f"SELECT {stat}, start_ns, position, unit FROM read_metrics WHERE machine = :machine "
           "AND name = :name AND start_ns >= :since AND start_ns < :until "
           "AND {clock} <= :bound ORDER BY start_ns, position")
    found = rows(conn, sql, as_of, machine=machine, name=name, since=since, until=until)
    points = tuple(SeriesPoint(value=float(value), at=moment(start), position=position,
                               machine=machine)
                   for value, start, position, _ in found)
    return points, (found[-1][3] if found else None)


def _given(scope: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in scope.items() if value is not None}


class Measured(Model):
    """A part number's measurements of one characteristic, as plain columns (a capability
    study over a million parts reads them without a model object per value)."""

    characteristic: str
    unit: str | None
    tolerance: Tolerance | None
    values: tuple[float, ...]
    at_ns: tuple[int, ...]
    machines: tuple[str | None, ...]
    failed: int
    #: Measurements recorded by verdict alone (no value to study).
    without_value: int


_PART_NUMBER_MEASUREMENTS = (
    "FROM read_registry r JOIN read_inspections i ON i.key = r.key AND i.kind = r.kind "
    "WHERE r.part_number = :part_number AND r.kind = 'part' AND r.{clock} <= :bound "
    "AND i.{clock} <= :bound AND i.occurred_ns >= :since AND i.occurred_ns < :until"
)
#: One characteristic's measurements, narrow rows in the order they were made.
_MEASURED = (
    "SELECT i.measured, i.occurred_ns, i.key, i.verdict " + _PART_NUMBER_MEASUREMENTS
    + " AND i.characteristic = :characteristic"
)
#: The tolerance a characteristic's latest measurements state.
_STATED = (
    "SELECT unit, nominal, lower_tolerance, upper_tolerance, position FROM read_inspections "
    "WHERE characteristic = :characteristic AND key IN :keys AND {clock} <= :bound"
)
#: The runs that made each part on a machine: its operations, and process records that
#: name a machine (a collector may record the process without the operation).
_LAST_MACHINE = (
    "SELECT o.key, o.machine, o.started_ns FROM read_registry r "
    "JOIN read_operations o ON o.key = r.key AND o.kind = r.kind "
    "WHERE r.part_number = :part_number AND r.kind = 'part' AND r.{clock} <= :bound "
    "AND o.{clock} <= :bound AND o.machine IS NOT NULL{operation} "
    "UNION SELECT p.key, p.machine, p.started_ns FROM read_registry r "
    "JOIN read_parameters p ON p.key = r.key AND p.kind = r.kind "
    "WHERE r.part_number = :part_number AND r.kind = 'part' AND r.{clock} <= :bound "
    "AND p.{clock} <= :bound AND p.machine IS NOT NULL{process_operation}"
)


def measured(conn: Connection, part_number: str, as_of: AsOf, *, revision: str | None = None,
             operation: str | None = None, since_ns: int = 0, until_ns: int = 2**62
             ) -> list[Measured]:
    """Every characteristic of ``part_number`` measured in the period, each with its values
    in the order they were measured, when, and the machine that made each part: the machine
    of its ``operation``, or of the last operation that ran on a machine.

    The rows come from the inspections' covering index alone (a million parts' worth is
    read without touching the table); the tolerance is read from each characteristic's
    latest measurements, a few rows by their positions.
    """
    given: dict[str, Any] = {"part_number": part_number, "since": since_ns, "until": until_ns}
    narrowed = " AND " + not_superseded("i")
    if revision is not None:
        narrowed += " AND r.revision = :revision"
        given["revision"] = revision
    names = [name for (name,) in rows(
        conn, "SELECT DISTINCT i.characteristic " + _PART_NUMBER_MEASUREMENTS + narrowed,
        as_of, **given)]
    machine_of = _machines(conn, part_number, operation, as_of)
    result = []
    # One characteristic at a time: narrow rows, each sorted by itself, are read several
    # times faster than every characteristic's wide rows sorted together.
    for characteristic in sorted(names):
        taken = rows(conn, _MEASURED + narrowed + " ORDER BY i.occurred_ns, i.position",
                     as_of, characteristic=characteristic, **given)
        valued = [row for row in taken if row[0] is not None]
        unit, tolerance = _stated(conn, as_of, characteristic,
                                  [row[2] for row in taken[-_LATEST:]])
        result.append(Measured(
            characteristic=characteristic, unit=unit, tolerance=tolerance,
            values=tuple(row[0] for row in valued),
            at_ns=tuple(row[1] for row in valued),
            machines=tuple(machine_of.get(row[2]) for row in valued),
            failed=sum(1 for row in taken if row[3] == "fail"),
            without_value=len(taken) - len(valued)))
    return result


def _machines(conn: Connection, part_number: str, operation: str | None, as_of: AsOf
              ) -> dict[str, str]:
    """The machine that made each part: of its ``operation``, or the last it ran on."""
    machine_sql = _LAST_MACHINE.replace(
        "{operation}", " AND o.operation = :operation" if operation else "").replace(
        "{process_operation}", " AND p.operation = :operation" if operation else "")
    made_on: dict[str, tuple[int, str]] = {}
    for key, machine, started in rows(conn, machine_sql, as_of, part_number=part_number,
                                      **({"operation": operation} if operation else {})):
        if key not in made_on or started >= made_on[key][0]:
            made_on[key] = (started, machine)
    return {key: machine for key, (_, machine) in made_on.items()}


#: How many of a characteristic's latest measurements are looked at for its tolerance.
_LATEST = 20


def _stated(conn: Connection, as_of: AsOf, characteristic: str, keys: list[str]
            ) -> tuple[str | None, Tolerance | None]:
    """A characteristic's unit and the tolerance its latest measurement with one states."""
    found = sorted(rows(conn, _STATED, as_of, characteristic=characteristic,
                        keys=sorted(set(keys))), key=lambda row: row[4])
    unit = next((row[0] for row in reversed(found) if row[0] is not None), None)
    stated = next((row for row in reversed(found) if None not in row[1:4]), None)
    if stated is None:
        return unit, None
    return stated[0] or unit, Tolerance(nominal=stated[1], lower=stated[2], upper=stated[3],
                                         unit=stated[0])
