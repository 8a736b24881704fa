"""The service records of a part number's serials: what failure patterns are computed from.

One pass over the read models per question: the serials of the part number made in
the period, the runs that made them (machine, operation, interval), their process
values and the machine's condition folded over each run (the domain's condition
rule, through :class:`~thread.read.conditions.Conditions`), the top assembly each
one is built into, and the service facts of both.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection

from thread.domain.service_life import FieldRecord, Run, UnitRecord
from thread.read.clock import AsOf
from thread.read.conditions import Conditions
from thread.read.genealogy import holders, top_of
from thread.read.sql import rows

_UNITS = (
    "SELECT key, occurred_ns FROM read_registry WHERE part_number = :number AND kind = 'part' "
    "AND occurred_ns >= :since AND occurred_ns < :until AND {clock} <= :bound"
)
_RUNS = (
    "SELECT o.key, o.machine, o.operation, o.started_ns, o.ended_ns FROM read_registry r "
    "JOIN read_operations o ON o.key = r.key WHERE r.part_number = :number "
    "AND r.kind = 'part' AND r.occurred_ns >= :since AND r.occurred_ns < :until "
    "AND r.{clock} <= :bound AND o.{clock} <= :bound AND o.machine IS NOT NULL"
)
_PARAMETERS = (
    "SELECT p.key, p.machine, p.operation, p.started_ns, p.ended_ns, p.name, p.mean "
    "FROM read_registry r JOIN read_parameters p ON p.key = r.key "
    "WHERE r.part_number = :number AND r.kind = 'part' AND r.occurred_ns >= :since "
    "AND r.occurred_ns < :until AND r.{clock} <= :bound AND p.{clock} <= :bound"
)
_FIELD = (
    "SELECT key, topic, occurred_ns, operating_hours, claim, detail FROM read_field "
    "WHERE key IN :keys AND {clock} <= :bound"
)
_CHUNK = 900


def unit_records(conn: Connection, part_number: str, since_ns: int, until_ns: int,
                 as_of: AsOf, longest_window_ns: int) -> list[UnitRecord]:
    """Every serial of ``part_number`` made in ``[since, until)``, oldest first."""
    window = {"number": part_number, "since": since_ns, "until": until_ns}
    produced: dict[str, int] = dict(rows(conn, _UNITS, as_of, **window))
    if not produced:
        return []
    runs: dict[str, set[Run]] = defaultdict(set)
    for key, machine, operation, started, ended in rows(conn, _RUNS, as_of, **window):
        runs[key].add(Run(machine, operation, started, ended))
    means: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for key, machine, operation, started, ended, name, mean in rows(conn, _PARAMETERS, as_of,
                                                                     **window):
        means[key][f"process.{name}.mean"].append(mean)
        if machine is not None:
            runs[key].add(Run(machine, operation, started, ended))
    values = {key: {name: sum(found) / len(found) for name, found in named.items()}
              for key, named in means.items()}
    _condition_values(conn, runs, values, as_of, longest_window_ns)
    keys = sorted(produced)
    parent_of = holders(conn, keys, as_of)
    tops = {key: top for key in keys if (top := top_of(parent_of, key)) is not None}
    field = _field(conn, sorted({*keys, *tops.values()}), as_of)
    return sorted((
        UnitRecord(key=key, produced_ns=produced[key],
                   runs=tuple(sorted(runs.get(key, ()), key=lambda r: r.started_ns)),
                   values=values.get(key, {}), own=field.get(key, ()),
                   holder=field.get(tops[key], ()) if key in tops else (),
                   top=tops.get(key))
        for key in keys), key=lambda unit: (unit.produced_ns, unit.key))


def _condition_values(conn: Connection, runs: dict[str, set[Run]],
                      values: dict[str, dict[str, float]], as_of: AsOf, longest: int) -> None:
    """Each part's condition values: per metric, the highest max and the mean of the
    n-weighted means over the windows that count for its runs."""
    by_machine: dict[str, list[tuple[str, Run]]] = defaultdict(list)
    for key, found in runs.items():
        for run in found:
            by_machine[run.machine].append((key, run))
    for machine, made in by_machine.items():
        low = min(run.started_ns for _, run in made)
        high = max(max(run.ended_ns, run.started_ns) for _, run in made) + 1
        conditions = Conditions(conn, machine, low, high, as_of, longest, None)
        if not conditions.ordered:
            continue
        seen: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for key, run in made:
            folded, _ = conditions.fold(run.started_ns, run.ended_ns)
            for name, metric in folded.items():
                seen[key][f"condition.{name}.max"].append(metric.max)
                seen[key][f"condition.{name}.mean"].append(metric.mean)
        for key, named in seen.items():
            own = values.setdefault(key, {})
            for name, taken in named.items():
                own[name] = max(taken) if name.endswith(".max") else sum(taken) / len(taken)


def _field(conn: Connection, keys: list[str], as_of: AsOf
           ) -> dict[str, tuple[FieldRecord, ...]]:
    found: dict[str, list[FieldRecord]] = defaultdict(list)
    for first in range(0, len(keys), _CHUNK):
        for key, topic, occurred, hours, claim, detail in rows(
                conn, _FIELD, as_of, keys=keys[first:first + _CHUNK]):
            found[key].append(FieldRecord(topic, occurred, hours, claim, detail))
    return {key: tuple(sorted(records, key=lambda r: r.occurred_ns))
            for key, records in found.items()}
