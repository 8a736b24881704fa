"""Recall's SQL pre-filter: the predicate written in SQL, and the answers it never changes."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import thread
from thread import facts as f
from thread.read import recall
from thread.read.predicate import (
    Both,
    Comparison,
    Either,
    Not,
    Predicate,
    PredicateError,
    Reference,
    evaluate,
    references,
    sql_possible,
)

T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)

_references = st.builds(
    Reference, st.sampled_from([None, "process", "condition"]),
    st.sampled_from(["vibration", "coolant_temp", "vibration", "coolant_temp", "spindle"]),
    st.sampled_from(["min", "max", "mean", "n"]),
) | st.builds(Reference, st.just("condition"), st.just("oee"), st.just("value"))
_predicates: st.SearchStrategy[Predicate] = st.recursive(
    st.builds(Comparison, _references, st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
              st.floats(-1e3, 1e3, width=32)),
    lambda inner: st.builds(Not, inner) | st.builds(Both, inner, inner)
    | st.builds(Either, inner, inner),
    max_leaves=8,
)


@given(_predicates, st.data())
def test_sql_possible_rejects_exactly_where_the_predicate_is_false(
        predicate: Predicate, data: st.DataObject) -> None:
    """Written in SQL over columns (NULL where a value is missing; a value SQL cannot read
    stays unknown), SQLite rejects a row exactly where the evaluator says False."""
    readable = {r for r in references(predicate) if data.draw(st.booleans())}
    values = {r: data.draw(st.floats(-1e3, 1e3, width=32)) for r in readable
              if data.draw(st.booleans())}
    columns = {r: f"c{index}" for index, r in enumerate(sorted(readable, key=str))}
    condition, numbers = sql_possible(predicate, columns.get)
    row = {column: values.get(r) for r, column in columns.items()}
    select = ", ".join(f":{column} AS {column}" for column in row) or "1 AS unused"
    with sqlite3.connect(":memory:") as database:
        (answer,) = database.execute(f"SELECT {condition} FROM (SELECT {select})",
                                     {**row, **numbers}).fetchone()
    assert answer in (0, 1)
    assert bool(answer) == (evaluate(predicate, values) is not False)


def _runs(ledger: thread.Ledger) -> None:
    """Runs of every shape on machine M: an operation with all, some or none of the process
    values, process records alone, records sent again, corrected records and operations,
    under condition windows whose metric shares a name with a process parameter."""
    ledger.record(f.RevisionReleased(part_number="P", revision="A", part_name="P",
                                     drawing="D"))
    ledger.record(f.MachineRegistered(machine="M", name="M", kind="mill"))
    with ledger.batch(source="test") as batch:
        for window in range(48):
            start = T0 + timedelta(minutes=30 * window)
            batch.record(f.ConditionRecorded(
                machine="M", window_start=start, window_end=start + timedelta(minutes=30),
                metrics=(f.ConditionMetric(name="vibration", unit="mm/s", n=30,
                                           min=window % 5, mean=window % 5 + window % 3,
                                           max=window % 5 + window % 3 + window % 4,
                                           threshold=4.5),),
                availability=0.9 + (window % 3) / 40, performance=0.9, quality=0.99,
            ), occurred_at=start + timedelta(minutes=30))
    corrections = []
    with ledger.batch(source="test") as batch:
        for i in range(30):
            serial, started = f"S-{i:02d}", T0 + timedelta(minutes=45 * i)
            run = {"serial": serial, "operation": "OP10", "machine": "M",
                   "started_at": started, "ended_at": started + timedelta(minutes=20)}
            batch.record(f.PartRegistered(serial=serial, part_number="P", revision="A"),
                         occurred_at=started)
            if i % 5 != 3:
                batch.record(f.OperationPerformed(**run, station="C", operator="o",
                                                  program="p", program_revision="1",
                                                  cycle_time_s=1200),
                             occurred_at=started + timedelta(minutes=20))
            names = {0: ("vibration", "coolant_temp"), 1: ("coolant_temp",), 2: (),
                     3: ("vibration", "coolant_temp"), 4: ("vibration",)}[i % 5]
            for again in range(2 if i % 4 == 0 else 1):
                if names:
                    batch.record(f.ProcessRecorded(**run, parameters=tuple(
                        f.ParameterSummary(name=name, unit="mm", n=10 + i, min=i % 7 - again,
                                           mean=i % 7 + i % 3 + 20 * again,
                                           max=i % 7 + i % 3 + 20 * again + i % 5, sd=1)
                        for name in names)), occurred_at=started + timedelta(minutes=21))
            if i % 7 == 1:
                corrections.append(run)
    for run in corrections:
        receipt = ledger.record(f.ProcessRecorded(**run, parameters=(
            f.ParameterSummary(name="coolant_temp", unit="mm", n=5, min=50, max=60, mean=55,
                               sd=1),)))
        ledger.correct(f.ProcessRecorded(**run, parameters=(
            f.ParameterSummary(name="coolant_temp", unit="mm", n=5, min=1, max=2, mean=1.5,
                               sd=1),)), corrects=receipt.version, reason="wrong sensor")


def _answer(scope: recall.RecallScope) -> tuple[int, Sequence[object], Sequence[object]]:
    """Runs examined, in scope (with the values that matched) and undecided."""
    affected = sorted((a.key, a.operation, a.started_at, sorted(a.matched.items()))
                      for a in scope.affected)
    undecided = sorted((u.key, u.started_at, u.missing) for u in scope.undetermined)
    return scope.examined, affected, undecided


def _outcome(ledger: thread.Ledger, window: dict[str, object], where: str
             ) -> tuple[int, Sequence[object], Sequence[object]] | str:
    """The answer, or the refusal's message (a name no run records)."""
    try:
        return _answer(ledger.recall_scope(**window, where=where))  # type: ignore[arg-type]
    except PredicateError as refused:
        return str(refused)


def test_the_pre_filter_never_changes_the_answer(ledger: thread.Ledger) -> None:
    """For any predicate, recall with the SQL pre-filter gives exactly the answer of every
    run evaluated in Python: the same runs examined, in scope and undetermined, with the
    same values, or the same refusal of a name no run records."""
    _runs(ledger)
    window = {"machine": "M", "start": T0, "end": T0 + timedelta(days=1)}
    narrowed = []

    @settings(max_examples=60, deadline=None)
    @given(_predicates)
    def agree(predicate: Predicate) -> None:
        where = str(predicate)
        filtered = _outcome(ledger, window, where)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(recall, "_narrowing", lambda *args: None)
            everything = _outcome(ledger, window, where)
        assert filtered == everything
        if isinstance(filtered, tuple):
            narrowed.append(len(filtered[1]) < filtered[0])

    agree()
    assert any(narrowed)


def test_runs_known_only_from_process_records_are_in_scope_and_in_the_naive_one(
        ledger: thread.Ledger) -> None:
    """Process records with no operation, as the adapters write them, are runs: the
    predicate decides them and their part number counts in the naive scope."""
    ledger.record(f.RevisionReleased(part_number="Q", revision="A", part_name="Q",
                                     drawing="D"))
    ledger.record(f.MachineRegistered(machine="PLC-7", name="press", kind="press"))
    with ledger.batch(source="test") as batch:
        for i in range(6):
            serial, started = f"Q-{i}", T0 + timedelta(hours=i)
            batch.record(f.PartRegistered(serial=serial, part_number="Q", revision="A"),
                         occurred_at=started)
            batch.record(f.ProcessRecorded(
                serial=serial, operation="OP20", machine="PLC-7", started_at=started,
                ended_at=started + timedelta(minutes=5), parameters=(f.ParameterSummary(
                    name="force", unit="bar", n=5, min=10 * i, mean=10 * i + 1,
                    max=10 * i + 2, sd=1),)), occurred_at=started + timedelta(minutes=5))
    scope = ledger.recall_scope(machine="PLC-7", start=T0, end=T0 + timedelta(days=1),
                                where="force.max > 35")
    assert scope.serials == ["Q-4", "Q-5"]
    assert scope.examined == 6
    assert scope.naive_part_numbers == ("Q",) and scope.naive == 6
