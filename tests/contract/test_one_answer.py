"""One answer per question: every view computes whereabouts, machine condition, subjects,
summaries and log positions through the domain's one implementation, and the ledger has
no public path around its rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from read_plant import build as build_plant

import thread
from thread import facts as f
from thread.demo import fill
from thread.domain import topics
from thread.domain.condition import ConditionSummary
from thread.domain.facts import fact_classes
from thread.log.audit import audit
from thread.records.dhr import device_history_record

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _machine_and_part(ledger: thread.Ledger, serial: str = "S-1") -> None:
    ledger.record(f.RevisionReleased(part_number="P", revision="A", part_name="P", drawing="D"))
    ledger.record(f.MachineRegistered(machine="M", name="Mill", kind="mill"))
    ledger.record(f.PartRegistered(serial=serial, part_number="P", revision="A"))


def _window(start: datetime, end: datetime, vibration: float) -> f.ConditionRecorded:
    return f.ConditionRecorded(machine="M", window_start=start, window_end=end, metrics=[
        f.ConditionMetric(name="vibration", unit="mm/s", n=10, min=0.5, max=vibration,
                          mean=min(vibration, 1.0), threshold=4.5)])


def _operation(serial: str, start: datetime, end: datetime) -> f.OperationPerformed:
    return f.OperationPerformed(serial=serial, operation="OP10", station="ST", machine="M",
                                operator="op", started_at=start, ended_at=end,
                                cycle_time_s=(end - start).total_seconds())


def _dhr_condition(ledger: thread.Ledger, serial: str) -> list[ConditionSummary | None]:
    return [row.condition for row in device_history_record(ledger, serial).operations]


def _trace_condition(ledger: thread.Ledger, serial: str) -> list[ConditionSummary | None]:
    return [operation.condition for operation in ledger.trace(serial).operations]


def _same(a: ConditionSummary | None, b: ConditionSummary | None) -> bool:
    """Two views' summaries agree on what counts: metrics, alarms, gaps, OEE."""
    if a is None or b is None:
        return a is b
    return (a.metrics, a.alarms_active, [g.reason for g in a.gaps], a.oee_lowest,
            len(a.windows)) == (b.metrics, b.alarms_active, [g.reason for g in b.gaps],
                                b.oee_lowest, len(b.windows))


# -- observation 1: where is the part now ---------------------------------------------


def test_every_view_gives_one_whereabouts_after_registration_and_shipment(
        ledger: thread.Ledger) -> None:
    """Registered: in production everywhere; shipped with a destination: the same words."""
    _machine_and_part(ledger)
    views = (ledger.part("S-1").location, ledger.trace("S-1").location,
             ledger.genealogy("S-1").location)
    assert views == ("in production",) * 3
    ledger.record(f.Shipped(serial="S-1", customer="ACME", order="PO-1", destination="Berlin"))
    views = (ledger.part("S-1").location, ledger.trace("S-1").location,
             ledger.genealogy("S-1").location)
    assert views == ("shipped to ACME (Berlin)",) * 3


def test_a_material_lot_is_in_stock_in_every_view(ledger: thread.Ledger) -> None:
    """A received lot is in stock for the aggregate, trace and genealogy alike."""
    ledger.record(f.MaterialLotReceived(lot="L-1", material="100Cr6", supplier="Steel AG",
                                        quantity=10, unit="kg"))
    assert (ledger.lot("L-1").location, ledger.trace("L-1").location,
            ledger.genealogy("L-1").location) == ("in stock",) * 3


# -- observation 2: was the machine healthy when this part was made ----------------------


def test_windows_that_only_touch_an_operation_count_in_no_view(ledger: thread.Ledger) -> None:
    """06:00-06:10 between windows 05:50-06:00 and 06:10-06:20: trace, recall and DHR agree
    that no condition record covers it, so the recall cannot decide the run."""
    _machine_and_part(ledger)
    ledger.record(_window(T0 - 10 * MINUTE, T0, 7.0))
    ledger.record(_window(T0 + 10 * MINUTE, T0 + 20 * MINUTE, 9.0))
    ledger.record(_operation("S-1", T0, T0 + 10 * MINUTE))
    [traced] = _trace_condition(ledger, "S-1")
    [recorded] = _dhr_condition(ledger, "S-1")
    assert traced is not None and not traced.covered and traced.metrics == ()
    assert _same(traced, recorded)
    scope = ledger.recall_scope(machine="M", start=T0 - MINUTE, end=T0 + MINUTE,
                                where="vibration.max > 4.5")
    assert scope.serials == [] and [u.key for u in scope.undetermined] == ["S-1"]


def test_overlapping_windows_fold_the_same_way_in_every_view(ledger: thread.Ledger) -> None:
    """Two windows inside one operation: worst max, n-weighted mean, in trace, DHR and recall."""
    _machine_and_part(ledger)
    ledger.record(_window(T0, T0 + 5 * MINUTE, 3.0))
    ledger.record(_window(T0 + 5 * MINUTE, T0 + 10 * MINUTE, 6.0))
    ledger.record(f.AlarmRaised(machine="M", code="E7", text="spindle", raised_at=T0 - MINUTE,
                                cleared_at=T0 + MINUTE))
    ledger.record(_operation("S-1", T0, T0 + 10 * MINUTE))
    [traced] = _trace_condition(ledger, "S-1")
    [recorded] = _dhr_condition(ledger, "S-1")
    assert _same(traced, recorded)
    assert traced is not None and traced.alarms_active == ("E7",)
    vibration = traced.metric("vibration")
    assert vibration is not None and vibration.max == 6.0 and vibration.exceeded
    scope = ledger.recall_scope(machine="M", start=T0 - MINUTE, end=T0 + MINUTE,
                                where="vibration.max > 4.5 and vibration.mean < 1.1")
    assert scope.serials == ["S-1"]
    assert scope.affected[0].matched == {"vibration.max": 6.0, "vibration.mean": 1.0}


# -- typed read results ------------------------------------------------------------


def test_read_results_are_frozen_typed_models(ledger: thread.Ledger) -> None:
    """Story, genealogy and recall scope read by attribute, refuse edits and dump to JSON."""
    _machine_and_part(ledger)
    ledger.record(f.PartRegistered(serial="C-1", part_number="P", revision="A"), occurred_at=T0)
    ledger.record(f.ComponentInstalled(serial="S-1", component="C-1", position="left"))
    ledger.record(_window(T0, T0 + 10 * MINUTE, 6.0))
    ledger.record(_operation("C-1", T0, T0 + 10 * MINUTE))
    tree = ledger.genealogy("S-1")
    scope = ledger.recall_scope(machine="M", start=T0, end=T0 + MINUTE,
                                where="vibration.max > 4.5")
    story = ledger.trace("C-1")
    [child] = tree.nodes
    assert (child.key, child.relation, child.slot) == ("C-1", "install", "left")
    assert scope.affected[0].contained_in == ("S-1",)
    assert scope.affected[0].location == "in production (in S-1)"
    for result in (tree, child, scope, scope.affected[0], story, story.operations[0]):
        with pytest.raises(ValidationError, match="frozen"):
            setattr(result, "kind", "X")  # noqa: B010
    dumped = scope.model_dump(mode="json")
    assert dumped["serials"] == ["C-1"] and dumped["naive"] == 1 and dumped["reduction"] == 0.0
    assert dumped["affected"][0]["started_at"] == "2026-03-02T06:00:00Z"
    assert tree.model_dump(mode="json")["nodes"][0]["since"].endswith("Z")
    assert json.loads(json.dumps(story.model_dump(mode="json")))["key"] == "C-1"


# -- observation 3: the write side cannot be bypassed ---------------------------------


def test_the_ledger_exposes_no_path_that_appends_without_a_log_leaf(
        ledger: thread.Ledger, ledger_url: str) -> None:
    """No inherited save, repository or notification log; the store refuses a bare insert."""
    _machine_and_part(ledger)
    public = {name for name in dir(ledger) if not name.startswith("_")}
    assert public.isdisjoint({"save", "repository", "take_snapshot", "notify", "events",
                              "notification_log", "recorder", "snapshots"})
    assert public == {
        "actor", "batch", "checkpoint", "checkpoints", "clock", "close", "condition_series",
        "consistency_proof", "correct", "count", "design", "drift", "env", "failure_patterns",
            "forget",
        "genealogy", "history", "history_of",
        "inclusion_proof", "lot", "machine", "mapper", "max_clock_skew", "measured",
            "notifications", "outcomes",
        "origin", "part", "policy", "identity", "classification", "keyring",
        "parts", "read_models", "reader", "rebuild", "recall_scope", "record",
            "registry_in_use", "scan",
        "serials", "series", "signer", "signing_failed", "site",
        "store", "stream", "trace", "tree_head", "unit_records"}
    stored = ledger.store.select_events(thread.domain.aggregate_id("part", "S-1"))
    with pytest.raises(thread.LedgerError, match="bare insert_events"):
        ledger.store.insert_events(stored)
    assert audit(ledger).ok


# -- observation 4: one numbering of log positions ---------------------------------


def test_trace_records_and_proofs_number_an_event_alike(ledger: thread.Ledger) -> None:
    """The leaf index from 0: trace's position is the DHR's log # and the proof's index."""
    _machine_and_part(ledger)
    ledger.record(_operation("S-1", T0, T0 + MINUTE))
    story = ledger.trace("S-1")
    record = device_history_record(ledger, "S-1")
    cited = {ref.version: ref.position for ref in record.evidence if ref.key == "S-1"}
    assert cited
    for entry in story.timeline:
        proof = ledger.inclusion_proof("part", "S-1", entry.version)
        assert entry.position == proof.index == cited.get(entry.version, proof.index)
    assert story.timeline[0].position == 2  # design, machine, then the part: leaves 0, 1, 2
    assert story.log_size == ledger.tree_head()[0]


# -- observation 5: a fact type describes itself once -----------------------------


def test_every_fact_type_is_described_once_in_the_registry() -> None:
    """Each built-in fact class has a registry entry with every attribute, and vice versa."""
    classes = {topic: cls for topic, cls in fact_classes().items()
               if cls.__module__.startswith("thread.domain.facts")}
    assert set(classes) <= set(topics.TOPICS)
    for name, cls in classes.items():
        entry = topics.TOPICS[name]
        assert entry.subject is cls.subject_rule, name
        assert callable(entry.summary), name
        assert entry.section in topics.Section.__args__, name  # type: ignore[attr-defined]
        assert entry.whereabouts is None or callable(entry.whereabouts), name
        assert isinstance(entry.effects, tuple), name
    assert {name for name in topics.TOPICS if not name.startswith("test.")} <= set(classes)


def test_the_installation_effect_comes_from_the_registry(ledger: thread.Ledger) -> None:
    """ComponentInstalled writes InstalledInto on the component, as its entry declares."""
    _machine_and_part(ledger, "A-1")
    ledger.record(f.PartRegistered(serial="C-1", part_number="P", revision="A"))
    ledger.record(f.ComponentInstalled(serial="A-1", component="C-1", position="left"))
    assert [e.topic for e in ledger.history("C-1")][-1] == "manufacturing.installed-into"
    assert ledger.part("C-1").location == ledger.genealogy("C-1").location == (
        "in assembly A-1")


# -- agreement on a generated plant -------------------------------------------------


def _agree(ledger: thread.Ledger, serials: list[str]) -> None:
    for serial in serials:
        story = ledger.trace(serial)
        assert story.location == ledger.part(serial).location == ledger.genealogy(
            serial).location, serial
        assert story.quarantined == ledger.part(serial).quarantined, serial
        traced = _trace_condition(ledger, serial)
        recorded = _dhr_condition(ledger, serial)
        assert len(traced) == len(recorded), serial
        assert all(_same(a, b) for a, b in zip(traced, recorded, strict=True)), serial


def test_every_view_agrees_on_a_generated_plant(ledger: thread.Ledger) -> None:
    """For every serial: aggregate, trace and genealogy give one whereabouts; trace and DHR
    give one condition summary per operation, bad vibration window included."""
    plant = build_plant(ledger)
    assert plant.bad_window_on_gr1
    _agree(ledger, ledger.parts())


def test_every_view_agrees_on_the_demo_ledger(ledger: thread.Ledger) -> None:
    """The demo plant: the same agreement for every serial, and for every material lot."""
    fill(ledger, bearings=12)
    _agree(ledger, ledger.parts())
    lots = [event.fact.lot for _, event in ledger.scan(topics=[f.MaterialLotReceived.topic])
            if isinstance(event.fact, f.MaterialLotReceived)]
    assert lots
    for lot in lots:
        assert ledger.lot(lot).location == ledger.trace(lot).location == ledger.genealogy(
            lot).location == "in stock"


# -- a property: random operations and windows, three views, one answer -------------------

_minutes = st.integers(min_value=0, max_value=60)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(st.tuples(_minutes, st.integers(min_value=0, max_value=15)),
                           min_size=1, max_size=4),
       windows=st.lists(st.tuples(_minutes, st.integers(min_value=1, max_value=20),
                                  st.floats(min_value=1.0, max_value=9.0)),
                        min_size=1, max_size=5))
def test_trace_recall_and_dhr_agree_on_random_windows(
        tmp_path_factory: pytest.TempPathFactory,
        operations: list[tuple[int, int]], windows: list[tuple[int, int, float]]) -> None:
    """Whatever the overlap, trace, DHR and recall read the same condition per operation."""
    ledger = thread.open(str(tmp_path_factory.mktemp("p") / "ledger.db"))
    try:
        _machine_and_part(ledger)
        for start, length, vibration in windows:
            ledger.record(_window(T0 + start * MINUTE, T0 + (start + length) * MINUTE,
                                  round(vibration, 3)))
        for start, length in operations:
            ledger.record(_operation("S-1", T0 + start * MINUTE,
                                     T0 + (start + length) * MINUTE))
        traced = _trace_condition(ledger, "S-1")
        recorded = _dhr_condition(ledger, "S-1")
        assert all(_same(a, b) for a, b in zip(traced, recorded, strict=True))
        if len(operations) == 1:
            [condition] = traced
            assert condition is not None
            scope = ledger.recall_scope(machine="M", start=T0 - timedelta(hours=1),
                                        end=T0 + timedelta(hours=2),
                                        where="vibration.max > 4.5")
            seen = condition.metric("vibration")
            undetermined = [u.key for u in scope.undetermined]
            assert (scope.serials, undetermined) == (
                (["S-1"], []) if seen is not None and seen.exceeded
                else ([], []) if seen is not None else ([], ["S-1"]))
    finally:
        ledger.close()
