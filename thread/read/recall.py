"""Recall scope: which serials a machine made in a time window while a condition held.

The answer names each affected serial with the evidence that put it in scope
(its run on the machine and the values that matched), the assemblies that now
contain it up to the top, where each top assembly is, and how much smaller the
scope is than the naive one: every serial of the same part numbers produced in
the same period.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from thread.read.clock import AsOf, ns
from thread.read.events import iso
from thread.read.genealogy import _PARENTS, query, whereabouts
from thread.read.predicate import (
    Predicate,
    PredicateError,
    Reference,
    evaluate,
    missing,
    parse,
    references,
)

_RUNS = text(
    "SELECT position, kind, key, version, operation, started_ns, ended_ns FROM read_operations "
    "WHERE machine = :machine AND started_ns >= :start AND started_ns < :end "
    "AND {clock} <= :bound"
)
_PARAMETERS = text(
    "SELECT position, kind, key, version, operation, started_ns, ended_ns, name, n, min, max, "
    "mean, sd FROM read_parameters WHERE machine = :machine AND started_ns >= :start "
    "AND started_ns < :end AND {clock} <= :bound"
)
_WINDOWS = text(
    "SELECT c.position, c.start_ns, c.end_ns, c.availability, c.performance, c.quality, "
    "m.name, m.n, m.min, m.max, m.mean, m.threshold FROM read_conditions c "
    "LEFT JOIN read_metrics m ON m.position = c.position WHERE c.machine = :machine "
    "AND c.start_ns >= :low AND c.start_ns < :end AND c.{clock} <= :bound ORDER BY c.start_ns"
)
_SUPERSEDED = text(
    "SELECT key, version FROM read_superseded WHERE key IN :keys AND {clock} <= :bound"
)
_REGISTERED = text(
    "SELECT key, kind, part_number, revision FROM read_registry WHERE key IN :keys "
    "AND {clock} <= :bound"
)
_NAIVE = text(
    "SELECT COUNT(*) FROM read_registry WHERE part_number IN :numbers "
    "AND occurred_ns >= :start AND occurred_ns < :end AND {clock} <= :bound"
)
_STATEMENTS: dict[tuple[str, str], Any] = {}


def _rows(conn: Connection, template: Any, as_of: AsOf, **params: Any) -> list[Any]:
    cache = (template.text, as_of.column)
    statement = _STATEMENTS.get(cache)
    if statement is None:
        statement = text(template.text.replace("{clock}", as_of.column))
        for name in ("keys", "numbers"):
            if f":{name}" in template.text:
                statement = statement.bindparams(bindparam(name, expanding=True))
        _STATEMENTS[cache] = statement
    return list(conn.execute(statement, {"bound": as_of.bound_ns, **params}))


@dataclass
class Affected:
    """One serial (or lot) in scope, with the evidence and where it is now."""

    kind: str
    key: str
    part_number: str | None
    revision: str | None
    operation: str
    started_at: str
    ended_at: str
    matched: dict[str, float]
    contained_in: list[str] = field(default_factory=list)
    location: str = ""
    quarantined: bool = False
    customer: str | None = None
    site: str | None = None


@dataclass
class RecallScope:
    """The serials a recall must cover, with evidence, whereabouts and the naive comparison."""

    machine: str
    start: str
    end: str
    where: str | None
    as_of: dict[str, str] | None
    position: int
    examined: int
    affected: list[Affected] = field(default_factory=list)
    undetermined: list[dict[str, Any]] = field(default_factory=list)
    naive_part_numbers: list[str] = field(default_factory=list)
    naive: int = 0

    @property
    def serials(self) -> list[str]:
        """Keys of every affected serial or lot."""
        return [item.key for item in self.affected]

    @property
    def reduction(self) -> float | None:
        """How much smaller than the naive scope (1.0: nothing to recall; None: no baseline)."""
        if not self.naive:
            return None
        return 1 - len(self.affected) / self.naive

    def to_dict(self) -> dict[str, Any]:
        """The scope as plain JSON-ready data."""
        return {**asdict(self), "serials": self.serials, "reduction": self.reduction}


@dataclass
class _Run:
    kind: str
    key: str
    version: int
    operation: str
    start: int
    end: int
    values: dict[Reference, float] = field(default_factory=dict)


def recall_scope(conn: Connection, *, machine: str, start: datetime, end: datetime,
                 where: str | Predicate | None, as_of: AsOf, position: int,
                 longest_window_ns: int) -> RecallScope:
    """Serials run on ``machine`` between ``start`` and ``end`` for which ``where`` holds."""
    predicate = parse(where) if isinstance(where, str) else where
    low, high = ns(start), ns(end)
    if high <= low:
        raise PredicateError(f"recall window: end {end.isoformat()} is not after start "
                             f"{start.isoformat()}")
    runs = _runs(conn, machine, low, high, as_of)
    needed = references(predicate) if predicate is not None else []
    if any(r.scope != "process" for r in needed):
        _condition_values(conn, machine, low, high, as_of, longest_window_ns, runs)
    if predicate is not None:
        _check_names(predicate, runs, machine)
    scope = RecallScope(machine=machine, start=iso(low), end=iso(high),
                        where=None if predicate is None else str(predicate),
                        as_of=as_of.describe(), position=position, examined=len(runs))
    for run in runs:
        values = _Values(run.values)
        matched: dict[str, float] = {}
        if predicate is not None:
            verdict = evaluate(predicate, values)
            if verdict is None:
                scope.undetermined.append({
                    "kind": run.kind, "key": run.key, "operation": run.operation,
                    "started_at": iso(run.start),
                    "missing": [str(r) for r in missing(predicate, values)],
                })
                continue
            if not verdict:
                continue
            matched = {str(r): v for r in needed if (v := values.get(r)) is not None}
        scope.affected.append(Affected(run.kind, run.key, None, None, run.operation,
                                       iso(run.start), iso(run.end), matched))
    scope.naive_part_numbers = _part_numbers(conn, sorted({run.key for run in runs}), as_of)
    _whereabouts(conn, scope, as_of)
    if scope.naive_part_numbers:
        scope.naive = int(_rows(conn, _NAIVE, as_of, numbers=scope.naive_part_numbers,
                                start=low, end=high)[0][0])
    return scope


def _part_numbers(conn: Connection, keys: list[str], as_of: AsOf) -> list[str]:
    """Part numbers of the serials and lots that ran on the machine in the window."""
    numbers: set[str] = set()
    for chunk in range(0, len(keys), 5000):
        rows = _rows(conn, _REGISTERED, as_of, keys=keys[chunk:chunk + 5000])
        numbers.update(row.part_number for row in rows if row.part_number)
    return sorted(numbers)


def _runs(conn: Connection, machine: str, low: int, high: int, as_of: AsOf) -> list[_Run]:
    """Every run on the machine that started in the window, with its process values."""
    runs: dict[tuple[str, str, int], _Run] = {}
    for row in _rows(conn, _RUNS, as_of, machine=machine, start=low, end=high):
        runs.setdefault((row.key, row.operation, row.started_ns), _Run(
            row.kind, row.key, row.version, row.operation, row.started_ns, row.ended_ns))
    for row in _rows(conn, _PARAMETERS, as_of, machine=machine, start=low, end=high):
        (_, kind, key, version, operation, started, ended, name, n, least, most, mean,
         sd) = row
        run = runs.get((key, operation, started))
        if run is None:
            run = runs[(key, operation, started)] = _Run(kind, key, version, operation,
                                                          started, ended)
        values = run.values
        values[Reference("process", name, "n")] = float(n)
        values[Reference("process", name, "min")] = least
        values[Reference("process", name, "max")] = most
        values[Reference("process", name, "mean")] = mean
        values[Reference("process", name, "sd")] = sd
    if not runs:
        return []
    keys = sorted({run.key for run in runs.values()})
    gone = {(row.key, row.version) for row in _rows(conn, _SUPERSEDED, as_of, keys=keys)}
    return sorted((run for run in runs.values() if (run.key, run.version) not in gone),
                  key=lambda run: (run.start, run.key))


def _condition_values(conn: Connection, machine: str, low: int, high: int, as_of: AsOf,
                      longest: int, runs: list[_Run]) -> None:
    """Fold the condition windows overlapping each run into its values.

    Over those windows a metric's min is the lowest min, its max the highest
    max, its mean the n-weighted mean; OEE factors are the lowest seen.
    """
    windows: dict[int, dict[str, Any]] = {}
    for row in _rows(conn, _WINDOWS, as_of, machine=machine, low=low - longest,
                     end=max(run.end for run in runs) + 1 if runs else high):
        (position, start, end, availability, performance, quality, name, n, least, most,
         mean, threshold) = row
        window = windows.get(position)
        if window is None:
            window = windows[position] = {
                "start": start, "end": end, "metrics": [],
                "scalars": [(name, value) for name, value in (
                    ("availability", availability), ("performance", performance),
                    ("quality", quality)) if value is not None],
            }
        if name is not None:
            window["metrics"].append((name, n, least, most, mean, threshold))
    ordered = sorted(windows.values(), key=lambda w: w["start"])
    starts = [w["start"] for w in ordered]
    for run in runs:
        first = bisect.bisect_right(starts, run.start - longest - 1)
        last = bisect.bisect_left(starts, run.end)
        folded: dict[str, list[float]] = {}
        scalars: dict[str, float] = {}
        for window in ordered[first:last]:
            if window["end"] <= run.start:
                continue
            for name, n, least, most, mean, threshold in window["metrics"]:
                seen = folded.get(name)
                if seen is None:
                    folded[name] = [least, most, mean * n, n,
                                    threshold if threshold is not None else math.inf]
                else:
                    seen[0], seen[1] = min(seen[0], least), max(seen[1], most)
                    seen[2] += mean * n
                    seen[3] += n
                    if threshold is not None:
                        seen[4] = min(seen[4], threshold)
            for name, value in window["scalars"]:
                scalars[name] = min(scalars.get(name, value), value)
        values = run.values
        for name, (least, most, weighted, n, threshold) in folded.items():
            values[Reference("condition", name, "min")] = least
            values[Reference("condition", name, "max")] = most
            values[Reference("condition", name, "mean")] = weighted / n
            values[Reference("condition", name, "n")] = n
            if threshold != math.inf:
                values[Reference("condition", name, "threshold")] = threshold
        for name, value in scalars.items():
            values[Reference("condition", name, "value")] = value
        if len(scalars) == 3:
            values[Reference("condition", "oee", "value")] = (
                scalars["availability"] * scalars["performance"] * scalars["quality"])


class _Values(dict[Reference, float]):
    """A run's values, also answering unqualified references (process first, then condition)."""

    def __init__(self, values: dict[Reference, float]) -> None:
        super().__init__(values)

    def get(self, key: Reference, default: float | None = None) -> float | None:  # type: ignore[override]
        if key.scope is not None:
            return super().get(key, default)
        for scope in ("process", "condition"):
            value = super().get(Reference(scope, key.name, key.stat))
            if value is not None:
                return value
        return default


def _check_names(predicate: Predicate, runs: list[_Run], machine: str) -> None:
    """A name that no run on the machine has is a typo, not a value to skip."""
    known: dict[str, set[str]] = defaultdict(set)
    names: set[tuple[str | None, str]] = set()
    for run in runs:
        names.update((reference.scope, reference.name) for reference in run.values)
    for scope, name in names:
        known[scope or ""].add(name)
    for reference in references(predicate):
        scopes = [reference.scope] if reference.scope else ["process", "condition"]
        if runs and not any(reference.name in known[scope] for scope in scopes):
            listed = "; ".join(f"{scope}: {', '.join(sorted(found))}"
                               for scope, found in sorted(known.items()) if found)
            raise PredicateError(
                f"recall predicate: {reference.name!r} is neither a process parameter nor a "
                f"condition metric recorded on {machine} in this window; known: "
                f"{listed or 'none'}"
            )


def _whereabouts(conn: Connection, scope: RecallScope, as_of: AsOf) -> None:
    """Fill in part numbers, the assemblies up to the top, and where each one is now."""
    keys = [a.key for a in scope.affected]
    if not keys:
        return
    for row in _rows(conn, _REGISTERED, as_of, keys=keys):
        for item in scope.affected:
            if item.key == row.key:
                item.part_number, item.revision = row.part_number, row.revision
    parent_of: dict[str, str] = {}
    level, seen = list(dict.fromkeys(keys)), set(keys)
    while level:
        latest: dict[tuple[str, str], Any] = {}
        for row in query(conn, _PARENTS, level, as_of):
            if row.action != "consume":
                latest[(row.parent, row.child)] = row
        level = []
        for (parent, child), row in latest.items():
            if row.action == "install":
                parent_of[child] = parent
                if parent not in seen:
                    seen.add(parent)
                    level.append(parent)
    places = whereabouts(conn, sorted(seen), as_of)
    for item in scope.affected:
        chain, key = [], item.key
        while key in parent_of:
            key = parent_of[key]
            chain.append(key)
        item.contained_in = chain
        top = places.get(chain[-1] if chain else item.key)
        if top is not None:
            item.location = (f"{top.location} (in {chain[-1]})" if chain else top.location)
            item.customer, item.site = top.customer, top.site
        own = places.get(item.key)
        item.quarantined = bool(own and own.quarantined)
