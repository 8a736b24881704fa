"""Recall scope: which serials a machine made in a time window while a condition held.

The answer names each affected serial with the evidence that put it in scope
(its run on the machine and the values that matched), the assemblies that now
contain it up to the top, where each top assembly is, and how much smaller the
scope is than the naive one: every serial of the same part numbers produced in
the same period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

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
    sql_possible,
)
from thread.read.result import AsOfNote, Model, as_of_note
from thread.read.sql import not_superseded, rows

_RUNS_IN = (
    "FROM read_operations o WHERE o.machine = :machine AND o.started_ns >= :start "
    "AND o.started_ns < :end AND o.{clock} <= :bound AND " + not_superseded("o")
)
#: Narrows a read to some runs: their start times and keys (a superset of them).
_ONLY = " AND {t}.started_ns IN :starts AND {t}.key IN :keys"
#: Later rows of a run (its facts recorded again) win: the order is the index's.
_RUNS = ("SELECT o.kind, o.key, o.version, o.operation, o.started_ns, o.ended_ns " + _RUNS_IN
         + "{only} ORDER BY o.started_ns, o.recorded_ns, o.occurred_ns, o.position")
_RUN_COUNT = ("SELECT COUNT(*) FROM (SELECT 1 AS run " + _RUNS_IN  # noqa: S608
              + " GROUP BY o.started_ns, o.key, o.operation) runs")
_PARAMETERS_IN = (
    "FROM read_parameters p WHERE p.machine = :machine AND p.name IN :names "
    "AND p.started_ns >= :start AND p.started_ns < :end AND p.{clock} <= :bound AND "
    + not_superseded("p")
)
_PARAMETERS = (
    "SELECT p.kind, p.key, p.version, p.operation, p.started_ns, p.ended_ns, p.name, p.n, "
    "p.min, p.max, p.mean, p.sd " + _PARAMETERS_IN
    + "{only} ORDER BY p.name, p.started_ns, p.recorded_ns, p.occurred_ns, p.position"
)
#: Runs known only from their process records (no operation recorded on the machine).
_PROCESS_ONLY = (
    "SELECT DISTINCT p.key, p.operation, p.started_ns FROM read_parameters p "  # noqa: S608
    "WHERE p.machine = :machine AND p.name IN :names AND p.started_ns >= :start "
    "AND p.started_ns < :end AND p.{clock} <= :bound AND NOT EXISTS "
    "(SELECT 1 FROM read_operations o WHERE o.machine = p.machine "
    "AND o.started_ns = p.started_ns AND o.key = p.key AND o.operation = p.operation "
    "AND o.{clock} <= :bound AND " + not_superseded("o") + ") AND " + not_superseded("p")
)
#: A run joined to its process records of the parameters a predicate reads, for the SQL
#: pre-filter (rows of replaced facts too: the filter may keep more runs, never fewer).
_JOINED_PARAMETER = (
    " LEFT JOIN read_parameters {p} ON {p}.machine = o.machine AND {p}.name = :name_{i} "
    "AND {p}.started_ns = o.started_ns AND {p}.key = o.key AND {p}.operation = o.operation "
    "AND {p}.{{clock}} <= :bound"
)
#: Most parameters the pre-filter joins (SQLite joins at most 64 tables).
_JOINED = 16
_KNOWN = (
    "SELECT DISTINCT 'process', name FROM read_parameters WHERE machine = :machine "
    "AND started_ns >= :start AND started_ns < :end AND {clock} <= :bound UNION "
    "SELECT DISTINCT 'condition', name FROM read_metrics WHERE machine = :machine "
    "AND start_ns >= :start AND start_ns < :end AND {clock} <= :bound"
)
#: Part numbers of the runs with an operation (and of those known only from process
#: records, through their keys: :func:`_census`).
_RUN_PART_NUMBERS = (
    "SELECT DISTINCT r.part_number FROM read_operations o JOIN read_registry r "
    "ON r.key = o.key WHERE o.machine = :machine AND o.started_ns >= :start "
    "AND o.started_ns < :end AND o.{clock} <= :bound AND r.{clock} <= :bound"
)
_REGISTERED = (
    "SELECT key, part_number, revision FROM read_registry WHERE key IN :keys "
    "AND {clock} <= :bound"
)
_NAIVE = (
    "SELECT COUNT(*) FROM read_registry WHERE part_number IN :numbers "
    "AND occurred_ns >= :start AND occurred_ns < :end AND {clock} <= :bound"
)
_T = TypeVar("_T")
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


#: A run: (serial or lot, operation, start in ns).
Identity = tuple[str, str, int]


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
                 longest_window_ns: int,
                 beside: Callable[[], AbstractContextManager[Connection]]) -> RecallScope:
    """Serials run on ``machine`` between ``start`` and ``end`` for which ``where`` holds.

    ``beside`` opens another connection to the same read models: the counts over every
    run of the window are read on it, in a thread, while ``conn`` reads the runs in scope.
    """
    predicate = parse(where) if isinstance(where, str) else where
    low, high = ns(start), ns(end)
    if high <= low:
        raise PredicateError(f"recall window: end {end.isoformat()} is not after start "
                             f"{start.isoformat()}")
    needed = references(predicate) if predicate is not None else []
    process_names = {r.name for r in needed if r.scope in (None, "process")}
    condition_names = {r.name for r in needed if r.scope in (None, "condition")
                       and r.stat != "value"}
    window = _Window(conn, machine, low, high, as_of)
    narrowing = _narrowing(predicate) if predicate is not None else None
    with _Beside(beside) as other:
        alone = other.run(window, lambda them: _process_only(them, process_names))
        census = other.run(window, lambda them: _census(them, alone(),
                                                        count=narrowing is not None))
        if narrowing is None:
            runs = window.runs(process_names)
            every = len(runs)
        else:
            template, bound = narrowing
            shown = {(key, operation, started)
                     for key, operation, started in window.select(template, **bound)}
            runs = window.runs(process_names, shown)
            if alone():
                runs = sorted([*runs, *window.runs(process_names, alone() - shown)],
                              key=lambda run: (run.start, run.key))

        def examined() -> int:
            """How many runs there are (narrowed: counted beside, read when needed)."""
            return every if narrowing is None else census().operated + len(alone())

        affected, undetermined = _decide(conn, window, predicate, runs, examined,
                                         longest_window_ns, condition_names)
        counted = census()
        return RecallScope(machine=machine, start=moment(low), end=moment(high),
                           where=None if predicate is None else str(predicate),
                           as_of=as_of_note(as_of), position=position, examined=examined(),
                           affected=affected, undetermined=undetermined,
                           naive_part_numbers=tuple(counted.numbers), naive=counted.naive)


def _decide(conn: Connection, window: _Window, predicate: Predicate | None, runs: list[_Run],
            examined: Callable[[], int], longest_window_ns: int, condition_names: set[str]
            ) -> tuple[tuple[Affected, ...], tuple[Undetermined, ...]]:
    """The runs in scope, with their evidence and whereabouts, and the undecided runs."""
    needed = references(predicate) if predicate is not None else []
    folded: list[_Conditions] = []

    def conditions() -> _Conditions:
        """The machine's condition, read when a run first asks for a condition value."""
        if not folded:
            folded.append(_Conditions(conn, window.machine, window.low,
                                      max(run.end for run in runs) + 1, window.as_of,
                                      longest_window_ns, condition_names))
        return folded[0]

    wants_conditions = bool(condition_names) or any(r.stat == "value" for r in needed)
    if predicate is not None and (runs or examined()):
        _check_names(window, predicate, runs, conditions if wants_conditions and runs else None)
    test = compile_predicate(predicate) if predicate is not None else None
    chosen: list[tuple[_Run, dict[str, float]]] = []
    undetermined: list[Undetermined] = []
    for run in runs:
        values = _Values(run, conditions if wants_conditions else None)
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
    return _affected(conn, chosen, window.as_of), tuple(undetermined)


class _Window:
    """The runs on one machine that started in a window, as of a moment.

    A run is one (serial or lot, operation, start) on the machine, known from its
    operation or its process records, or both; rows of facts a correction replaced do
    not count, and where a run's facts were recorded again the later row wins.
    """

    def __init__(self, conn: Connection, machine: str, low: int, high: int, as_of: AsOf
                 ) -> None:
        self.conn, self.machine, self.low, self.high, self.as_of = (conn, machine, low, high,
                                                                    as_of)

    def on(self, conn: Connection) -> _Window:
        """The same window read through another connection."""
        return _Window(conn, self.machine, self.low, self.high, self.as_of)

    def select(self, template: str, **params: object) -> list[tuple[Any, ...]]:
        """Rows of ``template`` over this window."""
        return rows(self.conn, template, self.as_of, machine=self.machine, start=self.low,
                    end=self.high, **params)

    def runs(self, names: set[str], only: set[Identity] | None = None) -> list[_Run]:
        """Every run (those in ``only``, when given), with the process values named."""
        found: dict[Identity, _Run] = {}
        for chunk in _chunks(only):
            for kind, key, version, operation, started, ended in self.select(
                    _RUNS.replace("{only}", "" if chunk is None else _ONLY.format(t="o")),
                    **chunk or {}):
                found[(key, operation, started)] = _Run(kind, key, version, operation,
                                                        started, ended)
            if not names:
                continue
            for (kind, key, version, operation, started, ended, name, n, least, most, mean,
                 sd) in self.select(_PARAMETERS.replace("{only}", "" if chunk is None
                                                        else _ONLY.format(t="p")),
                                    names=sorted(names), **chunk or {}):
                run = found.get((key, operation, started))
                if run is None:
                    run = found[(key, operation, started)] = _Run(kind, key, version,
                                                                  operation, started, ended)
                run.process[name] = (float(n), least, most, mean, sd)
        return sorted((run for run in found.values()
                       if only is None or (run.key, run.operation, run.start) in only),
                      key=lambda run: (run.start, run.key))


def _chunks(only: set[Identity] | None) -> list[dict[str, list[Any]] | None]:
    """The start times and keys of ``only`` in ``IN`` lists the drivers take (None: no
    lists, every run); a chunk's lists select its runs and maybe a few others."""
    if only is None:
        return [None]
    ordered = sorted(only, key=lambda run: (run[2], run[0], run[1]))
    return [{"starts": sorted({started for _, _, started in part}),
             "keys": sorted({key for key, _, _ in part})}
            for part in (ordered[first:first + _CHUNK // 2]
                         for first in range(0, len(ordered), _CHUNK // 2))]


def _narrowing(predicate: Predicate) -> tuple[str, dict[str, object]] | None:
    """A query for the runs with an operation the predicate may hold for, and its values;
    None when SQL cannot narrow them (no process value in the predicate).

    Each run is joined to its process records of the parameters the predicate reads and
    the predicate is written in SQL over them (:func:`sql_possible`; a value SQL cannot
    read, such as a condition metric, is unknown there): the runs it is FALSE for are
    dropped, and the evaluator decides the rest as it decides every run. Runs known only
    from process records are all kept (:func:`_census`).
    """
    joined = sorted({r.name for r in references(predicate)
                     if r.scope in (None, "process") and r.stat in _PROCESS_STATS})
    if not joined or len(joined) > _JOINED:
        return None
    alias = {name: f"p{index}" for index, name in enumerate(joined)}

    def column(reference: Reference) -> str | None:
        table = alias.get(reference.name)
        if table is None or reference.scope not in (None, "process"):
            return None
        return f"{table}.{reference.stat}" if reference.stat in _PROCESS_STATS else None

    condition, numbers = sql_possible(predicate, column)
    joins = "".join(_JOINED_PARAMETER.format(p=table, i=index)
                    for index, table in enumerate(alias.values()))
    template = (f"SELECT DISTINCT o.key, o.operation, o.started_ns FROM read_operations o"  # noqa: S608
                f"{joins} WHERE o.machine = :machine AND o.started_ns >= :start "
                f"AND o.started_ns < :end AND o.{{clock}} <= :bound "
                f"AND {condition}")
    return template, {**numbers, **{f"name_{index}": name for index, name in enumerate(joined)}}


class _Census(NamedTuple):
    """Counts over every run of the window: how many runs have an operation, and the part
    numbers run with the naive scope they give."""

    operated: int
    numbers: list[str]
    naive: int


def _process_only(window: _Window, names: set[str]) -> set[Identity]:
    """The runs known only from process records of ``names``."""
    if not names:
        return set()
    return {(key, operation, started) for key, operation, started in window.select(
        _PROCESS_ONLY, names=sorted(names))}


def _census(window: _Window, process_only: set[Identity], *, count: bool) -> _Census:
    """The census of the window, with its runs known only from process records; the runs
    with an operation are counted only with ``count`` (else every run is read anyway)."""
    numbers = {number for (number,) in window.select(_RUN_PART_NUMBERS) if number}
    keys = sorted({key for key, _, _ in process_only})
    for first in range(0, len(keys), _CHUNK):
        numbers.update(number for _, number, _ in window.select(
            _REGISTERED, keys=keys[first:first + _CHUNK]) if number)
    ordered = sorted(numbers)
    naive = int(window.select(_NAIVE, numbers=ordered)[0][0]) if ordered else 0
    operated = int(window.select(_RUN_COUNT)[0][0]) if count else 0
    return _Census(operated, ordered, naive)


class _Beside:
    """Work on a second connection, in a thread, alongside the first connection's: both
    drivers let other threads run while the database works."""

    def __init__(self, connect: Callable[[], AbstractContextManager[Connection]]) -> None:
        self.connect = connect
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="recall")

    def __enter__(self) -> _Beside:
        return self

    def __exit__(self, *_: object) -> None:
        self.pool.shutdown(wait=True)

    def run(self, window: _Window, work: Callable[[_Window], _T]) -> Callable[[], _T]:
        """Start ``work`` on the window; the function returned waits for its answer."""
        def elsewhere() -> _T:
            with self.connect() as conn:
                return work(window.on(conn))
        return self.pool.submit(elsewhere).result


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

    def __init__(self, run: _Run, conditions: Callable[[], _Conditions] | None) -> None:
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
            self.conditions().fold_run(self.run)
        if reference.stat == "value":
            return self.run.scalars.get(reference.name)
        folded = self.run.condition.get(reference.name)
        if folded is None or reference.stat not in _CONDITION_STATS:
            return None
        value = getattr(folded, reference.stat)
        return None if value is None else float(value)


def _check_names(window: _Window, predicate: Predicate, runs: list[_Run],
                 conditions: Callable[[], _Conditions] | None) -> None:
    """A name that no run on the machine has is a typo, not a value to skip."""
    seen = {name for run in runs for name in run.process}
    unknown = [r for r in references(predicate) if r.name not in seen and r.stat != "value"]
    if unknown and conditions is not None:
        seen |= conditions().names
        unknown = [r for r in unknown if r.name not in seen]
    if not unknown:
        return
    known: dict[str, set[str]] = defaultdict(set)
    for scope, name in window.select(_KNOWN):
        known[scope].add(name)
    unknown = [r for r in unknown if not any(r.name in names for names in known.values())]
    if not unknown:
        return  # recorded in the window, only in no window a run overlaps: undetermined
    listed = "; ".join(f"{scope}: {', '.join(sorted(names))}"
                       for scope, names in sorted(known.items()) if names)
    raise PredicateError(
        f"recall predicate: {unknown[0].name!r} is neither a process parameter nor a "
        f"condition metric recorded on {window.machine} in this window; known: "
        f"{listed or 'none'}"
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
    chains = {key: _chain(parent_of, key) for key in keys}
    places = whereabouts(conn, sorted({*keys, *(chain[-1] for chain in chains.values()
                                                 if chain)}), as_of)
    found = []
    for run, matched in chosen:
        chain = chains[run.key]
        key = chain[-1] if chain else run.key
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


def _chain(parent_of: dict[str, str], key: str) -> list[str]:
    """The assemblies holding ``key`` in a :func:`holders` map, nearest first."""
    chain, seen = [], {key}
    while key in parent_of and parent_of[key] not in seen:
        key = parent_of[key]
        chain.append(key)
        seen.add(key)
    return chain
