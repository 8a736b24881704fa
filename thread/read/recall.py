"""Recall scope: which serials a machine made in a time window while a condition held.

The answer names each affected serial with the evidence that put it in scope
(its run on the machine and the values that matched), the assemblies that now
contain it up to the top, where each top assembly is, and how much smaller the
scope is than the naive one: every serial of the same part numbers produced in
the same period.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import computed_field
from sqlalchemy import Connection

from thread.domain.condition import Folded, moment
from thread.read.clock import AsOf, ns
from thread.read.conditions import Conditions
from thread.read.genealogy import holders, whereabouts
from thread.read.predicate import (
    Predicate,
    PredicateError,
    Reference,
    compile_predicate,
    missing,
    parse,
    references,
)
from thread.read.result import AsOfNote, Model, as_of_note
from thread.read.sql import rows

_RUNS = (
    "SELECT position, kind, key, version, operation, started_ns, ended_ns FROM read_operations "
    "WHERE machine = :machine AND started_ns >= :start AND started_ns < :end "
    "AND {clock} <= :bound"
)
_PARAMETERS = (
    "SELECT kind, key, version, operation, started_ns, ended_ns, name, n, min, max, "
    "mean, sd FROM read_parameters WHERE machine = :machine AND started_ns >= :start "
    "AND started_ns < :end AND name IN :names AND {clock} <= :bound"
)
_KNOWN = (
    "SELECT DISTINCT 'process', name FROM read_parameters WHERE machine = :machine "
    "AND started_ns >= :start AND started_ns < :end AND {clock} <= :bound UNION "
    "SELECT DISTINCT 'condition', name FROM read_metrics WHERE machine = :machine "
    "AND start_ns >= :start AND start_ns < :end AND {clock} <= :bound"
)
_RUN_PART_NUMBERS = (
    "SELECT DISTINCT r.part_number FROM read_operations o JOIN read_registry r "
    "ON r.key = o.key WHERE o.machine = :machine AND o.started_ns >= :start "
    "AND o.started_ns < :end AND o.{clock} <= :bound AND r.{clock} <= :bound"
)
_SUPERSEDED = (
    "SELECT key, version FROM read_superseded WHERE key IN :keys AND {clock} <= :bound"
)
_REGISTERED = (
    "SELECT key, part_number, revision FROM read_registry WHERE key IN :keys "
    "AND {clock} <= :bound"
)
_NAIVE = (
    "SELECT COUNT(*) FROM read_registry WHERE part_number IN :numbers "
    "AND occurred_ns >= :start AND occurred_ns < :end AND {clock} <= :bound"
)
#: Keys per ``IN`` list, under the drivers' parameter limits.
_CHUNK = 900


class Affected(Model):
    """One serial (or lot) in scope, with the evidence and where it is now.

    ``contained_in`` lists the assemblies that hold it, nearest first; ``state``,
    ``location``, ``customer`` and ``site`` are where the top one is (the part itself when
    it is in nothing); ``quarantined`` is the part's own state.
    """

    kind: str
    key: str
    part_number: str | None
    revision: str | None
    operation: str
    started_at: datetime
    ended_at: datetime
    matched: dict[str, float]
    contained_in: tuple[str, ...] = ()
    location: str = ""
    state: str = ""
    quarantined: bool = False
    customer: str | None = None
    site: str | None = None


    @property
    def in_plant(self) -> bool:
        """Still in the plant: in production, in stock or in an assembly not yet shipped."""
        return self.state in ("in production", "in stock", "in assembly")


class Undetermined(Model):
    """A run the predicate could not decide: the values it needs were not recorded."""

    kind: str
    key: str
    operation: str
    started_at: datetime
    missing: tuple[str, ...]


class RecallScope(Model):
    """The serials a recall must cover, with evidence, whereabouts and the naive comparison."""

    machine: str
    start: datetime
    end: datetime
    where: str | None
    as_of: AsOfNote | None
    position: int
    examined: int
    affected: tuple[Affected, ...]
    undetermined: tuple[Undetermined, ...]
    naive_part_numbers: tuple[str, ...]
    naive: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def serials(self) -> list[str]:
        """Keys of every affected serial or lot."""
        return [item.key for item in self.affected]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reduction(self) -> float | None:
        """How much smaller than the naive scope (1.0: nothing to recall; None: no baseline)."""
        if not self.naive:
            return None
        return 1 - len(self.affected) / self.naive


class _Run:
    """One run of a part on the machine, with the values a predicate may read."""

    __slots__ = ("condition", "end", "folded", "key", "kind", "operation", "process",
                 "scalars", "start", "version")

    def __init__(self, kind: str, key: str, version: int, operation: str, start: int,
                 end: int) -> None:
        self.kind, self.key, self.version = kind, key, version
        self.operation, self.start, self.end = operation, start, end
        self.process: dict[str, tuple[float, float, float, float, float]] = {}
        self.condition: dict[str, Folded] = {}
        self.scalars: dict[str, float] = {}
        self.folded = False


def recall_scope(conn: Connection, *, machine: str, start: datetime, end: datetime,
                 where: str | Predicate | None, as_of: AsOf, position: int,
                 longest_window_ns: int) -> RecallScope:
    """Serials run on ``machine`` between ``start`` and ``end`` for which ``where`` holds."""
    predicate = parse(where) if isinstance(where, str) else where
    low, high = ns(start), ns(end)
    if high <= low:
        raise PredicateError(f"recall window: end {end.isoformat()} is not after start "
                             f"{start.isoformat()}")
    needed = references(predicate) if predicate is not None else []
    process_names = {r.name for r in needed if r.scope in (None, "process")}
    condition_names = {r.name for r in needed if r.scope in (None, "condition")
                       and r.stat != "value"}
    runs = _runs(conn, machine, low, high, as_of, process_names)
    conditions: _Conditions | None = None
    if runs and (condition_names or any(r.stat == "value" for r in needed)):
        conditions = _Conditions(conn, machine, low, max(run.end for run in runs) + 1, as_of,
                                 longest_window_ns, condition_names)
    if predicate is not None:
        _check_names(conn, predicate, runs, conditions, machine, low, high, as_of)
    test = compile_predicate(predicate) if predicate is not None else None
    chosen: list[tuple[_Run, dict[str, float]]] = []
    undetermined: list[Undetermined] = []
    for run in runs:
        values = _Values(run, conditions)
        matched: dict[str, float] = {}
        if predicate is not None and test is not None:
            verdict = test(values)
            if verdict is None:
                undetermined.append(Undetermined(
                    kind=run.kind, key=run.key, operation=run.operation,
                    started_at=moment(run.start),
                    missing=tuple(str(r) for r in missing(predicate, values))))
                continue
            if not verdict:
                continue
            matched = {str(r): v for r in needed if (v := values.get(r)) is not None}
        chosen.append((run, matched))
    numbers = _part_numbers(conn, machine, low, high, as_of)
    naive = 0
    if numbers:
        naive = int(rows(conn, _NAIVE, as_of, numbers=numbers, start=low, end=high)[0][0])
    return RecallScope(machine=machine, start=moment(low), end=moment(high),
                       where=None if predicate is None else str(predicate),
                       as_of=as_of_note(as_of), position=position, examined=len(runs),
                       affected=_affected(conn, chosen, as_of),
                       undetermined=tuple(undetermined), naive_part_numbers=tuple(numbers),
                       naive=naive)


def _part_numbers(conn: Connection, machine: str, low: int, high: int, as_of: AsOf
                  ) -> list[str]:
    """Part numbers of the serials and lots that ran on the machine in the window."""
    found = rows(conn, _RUN_PART_NUMBERS, as_of, machine=machine, start=low, end=high)
    return sorted(number for (number,) in found if number)


def _runs(conn: Connection, machine: str, low: int, high: int, as_of: AsOf,
          names: set[str]) -> list[_Run]:
    """Every run on the machine that started in the window, with the process values asked for."""
    runs: dict[tuple[str, str, int], _Run] = {}
    for _, kind, key, version, operation, started, ended in rows(
            conn, _RUNS, as_of, machine=machine, start=low, end=high):
        runs[(key, operation, started)] = _Run(kind, key, version, operation, started, ended)
    if names:
        for (kind, key, version, operation, started, ended, name, n, least, most, mean,
             sd) in rows(conn, _PARAMETERS, as_of, machine=machine, start=low, end=high,
                         names=sorted(names)):
            run = runs.get((key, operation, started))
            if run is None:
                run = runs[(key, operation, started)] = _Run(kind, key, version, operation,
                                                              started, ended)
            run.process[name] = (float(n), least, most, mean, sd)
    if not runs:
        return []
    keys = sorted({run.key for run in runs.values()})
    gone: set[tuple[str, int]] = set()
    for first in range(0, len(keys), _CHUNK):
        gone.update((key, version) for key, version in rows(
            conn, _SUPERSEDED, as_of, keys=keys[first:first + _CHUNK]))
    return sorted((run for run in runs.values() if (run.key, run.version) not in gone),
                  key=lambda run: (run.start, run.key))


class _Conditions(Conditions):
    """The machine's condition in the recall window, folded into a run when a predicate
    first asks for a condition value (a comparison decided by process values needs none)."""

    def fold_run(self, run: _Run) -> None:
        """Fill ``run.condition`` and ``run.scalars`` from the windows that count for it."""
        run.folded = True
        condition, scalars = self.fold(run.start, run.end)
        run.condition.update(condition)
        run.scalars.update(scalars)


_PROCESS_STATS = {"n": 0, "min": 1, "max": 2, "mean": 3, "sd": 4}
_CONDITION_STATS = frozenset({"min", "max", "mean", "n", "threshold"})


class _Values:
    """A run's values as the predicate asks for them; unqualified names try process first."""

    def __init__(self, run: _Run, conditions: _Conditions | None) -> None:
        self.run = run
        self.conditions = conditions

    def get(self, reference: Reference) -> float | None:
        if reference.scope in (None, "process"):
            stats = self.run.process.get(reference.name)
            index = _PROCESS_STATS.get(reference.stat)
            if stats is not None and index is not None:
                return stats[index]
            if reference.scope == "process":
                return None
        if not self.run.folded and self.conditions is not None:
            self.conditions.fold_run(self.run)
        if reference.stat == "value":
            return self.run.scalars.get(reference.name)
        folded = self.run.condition.get(reference.name)
        if folded is None or reference.stat not in _CONDITION_STATS:
            return None
        value = getattr(folded, reference.stat)
        return None if value is None else float(value)


def _check_names(conn: Connection, predicate: Predicate, runs: list[_Run],
                 conditions: _Conditions | None, machine: str, low: int, high: int,
                 as_of: AsOf) -> None:
    """A name that no run on the machine has is a typo, not a value to skip."""
    seen = {name for run in runs for name in run.process}
    if conditions is not None:
        seen |= conditions.names
    unknown = [r for r in references(predicate) if r.name not in seen and r.stat != "value"]
    if not unknown or not runs:
        return
    known: dict[str, set[str]] = defaultdict(set)
    for scope, name in rows(conn, _KNOWN, as_of, machine=machine, start=low, end=high):
        known[scope].add(name)
    unknown = [r for r in unknown if not any(r.name in names for names in known.values())]
    if not unknown:
        return  # recorded in the window, only in no window a run overlaps: undetermined
    listed = "; ".join(f"{scope}: {', '.join(sorted(names))}"
                       for scope, names in sorted(known.items()) if names)
    raise PredicateError(
        f"recall predicate: {unknown[0].name!r} is neither a process parameter nor a "
        f"condition metric recorded on {machine} in this window; known: {listed or 'none'}"
    )


def _affected(conn: Connection, chosen: list[tuple[_Run, dict[str, float]]], as_of: AsOf
              ) -> tuple[Affected, ...]:
    """Each run in scope with its design, the assemblies up to the top and where that is."""
    keys = sorted({run.key for run, _ in chosen})
    if not keys:
        return ()
    designs: dict[str, tuple[str, str]] = {}
    for first in range(0, len(keys), _CHUNK):
        for key, number, revision in rows(conn, _REGISTERED, as_of,
                                          keys=keys[first:first + _CHUNK]):
            designs[key] = (number, revision)
    parent_of = holders(conn, keys, as_of)
    places = whereabouts(conn, sorted({*keys, *parent_of.values()}), as_of)
    found = []
    for run, matched in chosen:
        chain, key = [], run.key
        while key in parent_of:
            key = parent_of[key]
            chain.append(key)
        top, own = places.get(key), places.get(run.key)
        number, revision = designs.get(run.key, (None, None))
        found.append(Affected(
            kind=run.kind, key=run.key, part_number=number, revision=revision,
            operation=run.operation, started_at=moment(run.start), ended_at=moment(run.end),
            matched=matched, contained_in=tuple(chain),
            location=("" if top is None else
                      f"{top.location} (in {key})" if chain else top.location),
            state="" if top is None else top.state,
            quarantined=bool(own and own.quarantined),
            customer=top.customer if top else None, site=top.site if top else None))
    return tuple(found)
