"""Read models on both stores: trace, genealogy, recall scope, as-of, catching up, rebuilding."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Clock, raw_sql
from read_plant import BAD_END, BAD_START, T0, Plant, build

import thread
from thread import facts as f
from thread.bootstrap import read_models_file
from thread.cli import main
from thread.errors import UnknownSubject
from thread.read.models import StaleReadModel
from thread.read.predicate import PredicateError

READ_TABLES = ("read_story", "read_superseded", "read_registry", "read_whereabouts",
               "read_edges", "read_operations", "read_parameters", "read_conditions",
               "read_metrics", "read_alarms")


@pytest.fixture
def plant(ledger: thread.Ledger) -> Plant:
    """The test plant recorded in the ledger under test."""
    return build(ledger)


def reads_of(ledger_url: str) -> str:
    """Where a ledger's read models are by default: a file beside it, or its own schema."""
    if ledger_url.startswith("postgresql://"):
        return ledger_url
    return str(read_models_file(ledger_url))


def snapshot(ledger_url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every read-model row of a ledger, ordered, for comparing two builds."""
    return {table: sorted(raw_sql(reads_of(ledger_url), f"SELECT * FROM {table}"), key=repr)
            for table in READ_TABLES}


def test_trace_tells_the_whole_story(ledger: thread.Ledger, plant: Plant) -> None:
    """Trace joins design, operation, process, machine condition, quality and genealogy."""
    story = ledger.trace("B-014")
    assert (story.part_number, story.revision, story.work_order) == ("BRG-6204", "A", "WO-1")
    assert story.design is not None and story.design.released
    assert [c["balloon"] for c in story.design.characteristics] == ["1"]
    [operation] = story.operations
    assert operation.machine == "GR-1" and operation.program == "P-7"
    assert {p.name: p.mean for p in operation.process} == {
        "coolant_temp": 24.0, "spindle_speed": 12000}
    condition = operation.condition
    assert condition is not None
    vibration = condition.metric("vibration")
    assert vibration is not None
    assert vibration.max == 6.0 and vibration.threshold == 4.5 and vibration.exceeded
    assert condition.oee_lowest is not None
    assert condition.oee_lowest.oee == pytest.approx(0.95 * 0.9 * 0.99, abs=1e-4)
    [material] = story.materials
    assert material.lot is not None and material.lot.certificate_number == "3.1-4711"
    assert [e.topic for e in story.timeline][:2] == [
        "manufacturing.part-registered", "manufacturing.material-consumed"]
    assert all(len(e.hash) == 64 for e in story.timeline)


def test_trace_shows_nonconformance_with_signed_disposition(ledger: thread.Ledger,
                                                            plant: Plant) -> None:
    """A failed inspection, its NC and the signed scrap decision appear together."""
    story = ledger.trace(plant.failed)
    assert [i["verdict"] for i in story.inspections] == ["fail"]
    [nc] = story.non_conformances
    assert nc.disposition is not None and nc.disposition.decision == "scrap"
    [signature] = nc.signatures
    assert signature.printed_name == "Dana Quality" and signature.meaning == "approval"
    assert story.location == "scrapped"


def test_trace_of_assembly_names_parent_and_components(ledger: thread.Ledger,
                                                       plant: Plant) -> None:
    """The middle of the tree knows what it is in and what it contains."""
    story = ledger.trace("HUB-1")
    assert story.parent is not None and story.parent.assembly == "AXLE-1"
    assert [c.serial for c in story.components] == ["PACK-1"]
    assert story.components[0].part_number == "PACK"


def test_trace_of_unknown_serial_is_refused(ledger: thread.Ledger, plant: Plant) -> None:
    """An unknown serial is an error naming it, not an empty story."""
    with pytest.raises(UnknownSubject, match="NOPE-1"):
        ledger.trace("NOPE-1")


def test_genealogy_down_five_levels(ledger: thread.Ledger, plant: Plant) -> None:
    """Down from the vehicle: five levels of parts, then the material lot."""
    tree = ledger.genealogy("VEHICLE-1", direction="down")
    path, node = [], tree
    while node.nodes:
        node = node.nodes[0]
        path.append(node.key)
    assert [tree.key, *path] == [*plant.tree, "ML-1"]
    assert tree.depth() == 6
    assert tree.location == "installed at Ulm depot"


def test_genealogy_up_reaches_the_top_with_its_location(ledger: thread.Ledger,
                                                        plant: Plant) -> None:
    """Up from a bearing: every assembly that contains it, to the installed vehicle."""
    tree = ledger.genealogy("B-002", direction="up")
    keys, node = [], tree
    while node.nodes:
        node = node.nodes[0]
        keys.append((node.key, node.location))
    assert [k for k, _ in keys] == ["PACK-1", "HUB-1", "AXLE-1", "VEHICLE-1"]
    assert keys[-1][1] == "installed at Ulm depot"


def test_genealogy_up_from_a_lot_lists_every_part_that_used_it(ledger: thread.Ledger,
                                                               plant: Plant) -> None:
    """Forward trace of a material lot: every bearing that consumed it."""
    tree = ledger.genealogy("ML-1", direction="up", depth=1)
    assert sorted(node.key for node in tree.nodes) == sorted(plant.ground)


def test_genealogy_after_removal_and_as_of_before_it(ledger: thread.Ledger, plant: Plant) -> None:
    """A removed component leaves the tree; as of before the removal it is still there."""
    before = T0 + timedelta(days=5)
    ledger.record(f.ComponentRemoved(serial="PACK-1", component="B-002", reason="noise"),
                  occurred_at=before + timedelta(hours=1))
    assert [n.key for n in ledger.genealogy("PACK-1").nodes] == []
    old = ledger.genealogy("PACK-1", as_of=before, by="occurred")
    assert [n.key for n in old.nodes] == ["B-002"]


def test_recall_scope_matches_exactly_the_runs_in_the_bad_window(ledger: thread.Ledger,
                                                                 plant: Plant) -> None:
    """Condition predicate picks the parts ground while the machine vibrated."""
    scope = ledger.recall_scope(machine="GR-1", start=T0, end=T0 + timedelta(days=2),
                                where="vibration.max > 4.5")
    assert scope.serials == plant.bad_window_on_gr1 == ["B-014"]
    [item] = scope.affected
    assert item.matched == {"vibration.max": 6.0}
    assert item.started_at.isoformat().startswith("2026-03-03T10:00")
    expected_runs = [s for s, (m, start, _) in plant.ground.items()
                     if m == "GR-1" and T0 <= start < T0 + timedelta(days=2)]
    assert scope.examined == len(expected_runs)
    assert scope.naive == len(plant.ground)  # every bearing was registered in the period
    assert scope.reduction == pytest.approx(1 - 1 / len(plant.ground))


def test_recall_scope_combines_process_and_condition(ledger: thread.Ledger,
                                                     plant: Plant) -> None:
    """``and``/``or`` over process and condition values select the right serials."""
    week = {"machine": "GR-1", "start": T0, "end": T0 + timedelta(days=7)}
    hot = ledger.recall_scope(**week, where="coolant_temp.mean > 30")  # type: ignore[arg-type]
    expected = sorted(s for s, (m, _, coolant) in plant.ground.items()
                      if m == "GR-1" and coolant > 30)
    assert sorted(hot.serials) == expected and expected
    both = ledger.recall_scope(**week,  # type: ignore[arg-type]
                               where="coolant_temp.mean > 30 or vibration.max > 4.5")
    assert sorted(both.serials) == sorted([*expected, "B-014"])
    assert ledger.recall_scope(**week,  # type: ignore[arg-type]
                               where="coolant_temp.mean > 30 and vibration.max > 4.5"
                               ).serials == []


def test_recall_scope_says_where_each_serial_is(ledger: thread.Ledger, plant: Plant) -> None:
    """A serial inside the shipped vehicle is reported with its chain and the site."""
    scope = ledger.recall_scope(machine="GR-1", start=T0, end=T0 + timedelta(days=7),
                                where="spindle_speed.mean >= 12000")
    assert sorted(scope.serials) == sorted(s for s, (m, _, _) in plant.ground.items()
                                           if m == "GR-1")
    item = next(a for a in scope.affected if a.key == "B-002")
    assert item.contained_in == ("PACK-1", "HUB-1", "AXLE-1", "VEHICLE-1")
    assert item.site == "Ulm depot" and item.customer == "Nordwind"
    assert "installed at Ulm depot" in item.location


def test_recall_predicate_typo_names_the_known_values(ledger: thread.Ledger,
                                                      plant: Plant) -> None:
    """A misspelt value is an error listing what the machine does record."""
    with pytest.raises(PredicateError, match=r"vibraton.*known: condition: .*vibration"):
        ledger.recall_scope(machine="GR-1", start=T0, end=T0 + timedelta(days=1),
                            where="vibraton.max > 4")


def test_recall_on_an_unknown_machine_is_refused(ledger: thread.Ledger, plant: Plant) -> None:
    """A mistyped machine id is an error, not an empty scope."""
    with pytest.raises(UnknownSubject, match="no machine GR-9"):
        ledger.recall_scope(machine="GR-9", start=T0, end=T0 + timedelta(days=1))


def test_recall_as_of_recorded_sees_only_what_was_known(ledger: thread.Ledger,
                                                        clock: Clock) -> None:
    """As of a recorded moment before the process data landed, nothing is in scope."""
    plant = build(ledger)
    cut = clock.now
    start = T0 + timedelta(days=10)
    ledger.record(f.PartRegistered(serial="LATE-1", part_number="BRG-6204", revision="A"),
                  occurred_at=start)
    ledger.record(f.ProcessRecorded(
        serial="LATE-1", operation="OP30-grind", machine="GR-1", started_at=start,
        ended_at=start + timedelta(minutes=5),
        parameters=(f.ParameterSummary(name="coolant_temp", unit="Cel", n=3, min=40, max=41,
                                       mean=40.5, sd=0.1),),
    ), occurred_at=start)
    window = {"machine": "GR-1", "start": start - timedelta(hours=1),
              "end": start + timedelta(hours=1), "where": "coolant_temp.mean > 30"}
    assert ledger.recall_scope(**window).serials == ["LATE-1"]  # type: ignore[arg-type]
    assert ledger.recall_scope(**window, as_of=cut).serials == []  # type: ignore[arg-type]
    assert plant.ground


def test_trace_as_of_by_either_clock(ledger: thread.Ledger, clock: Clock) -> None:
    """As of the floor time or the ledger time, later facts are left out."""
    ledger.record(f.RevisionReleased(part_number="BRG-6204", revision="A", part_name="Bearing",
                                     drawing="DWG"), occurred_at=T0)
    ledger.record(f.PartRegistered(serial="S-1", part_number="BRG-6204", revision="A"),
                  occurred_at=T0)
    recorded_cut = clock.now
    # Recorded later, but happened (on the floor) before the registration's recorded time.
    ledger.record(f.Quarantined(serial="S-1", reason="suspect heat"),
                  occurred_at=T0 + timedelta(hours=1))
    assert ledger.trace("S-1").quarantined
    assert not ledger.trace("S-1", as_of=recorded_cut).quarantined
    assert ledger.trace("S-1", as_of=T0 + timedelta(hours=2), by="occurred").quarantined
    assert not ledger.trace("S-1", as_of=T0 + timedelta(minutes=30), by="occurred").quarantined
    with pytest.raises(UnknownSubject):
        ledger.trace("S-1", as_of=T0 - timedelta(days=1), by="occurred")


def test_corrected_event_is_marked_and_no_longer_counts(ledger: thread.Ledger) -> None:
    """A corrected process record stays in the timeline, marked, and leaves the recall scope."""
    ledger.record(f.RevisionReleased(part_number="P", revision="A", part_name="P", drawing="D"))
    ledger.record(f.MachineRegistered(machine="M", name="M", kind="mill"))
    ledger.record(f.PartRegistered(serial="S-1", part_number="P", revision="A"))
    process = {"serial": "S-1", "operation": "OP10", "machine": "M", "started_at": T0,
               "ended_at": T0 + timedelta(minutes=1)}
    receipt = ledger.record(f.ProcessRecorded(**process, parameters=(
        f.ParameterSummary(name="temp", unit="Cel", n=1, min=90, max=90, mean=90, sd=0),)))
    ledger.correct(f.ProcessRecorded(**process, parameters=(
        f.ParameterSummary(name="temp", unit="Cel", n=1, min=20, max=20, mean=20, sd=0),)),
        corrects=receipt.version, reason="sensor unplugged; value from backup logger")
    story = ledger.trace("S-1")
    marked = [e for e in story.timeline if e.version == receipt.version]
    assert marked[0].corrected_by is not None
    means = [p.mean for o in story.operations for p in o.process]
    assert means == [20]
    scope = ledger.recall_scope(machine="M", start=T0 - timedelta(hours=1),
                                end=T0 + timedelta(hours=1), where="temp.mean > 50")
    assert scope.serials == []


def test_queries_catch_up_or_say_how_far_behind(ledger: thread.Ledger, plant: Plant) -> None:
    """A query catches up first; asked not to, it refuses to answer from a stale view."""
    ledger.trace("B-000")
    ledger.record(f.Quarantined(serial="B-000", reason="suspect"))
    with pytest.raises(StaleReadModel, match="1 events behind"):
        ledger.trace("B-000", catch_up=False)
    assert ledger.trace("B-000").quarantined
    assert ledger.trace("B-000", catch_up=False).quarantined


def test_incremental_catch_up_equals_rebuild(ledger: thread.Ledger, ledger_url: str,
                                             clock: Clock) -> None:
    """Projecting as events arrive gives exactly the rows a rebuild from the log gives."""
    ledger.read_models.page = 7  # many small pages, with positions between facts
    ledger.record(f.MachineRegistered(machine="GR-0", name="Old grinder", kind="grinder"))
    ledger.read_models.catch_up()
    build(ledger, bearings=6)
    ledger.read_models.catch_up()
    incremental = snapshot(ledger_url)
    events = ledger.rebuild()
    assert events == ledger.count()
    assert snapshot(ledger_url) == incremental
    assert all(p.behind == 0 for p in ledger.read_models.positions())


def test_read_models_in_a_separate_database(tmp_path: Path, clock: Clock) -> None:
    """Read models can live in another SQLite file than the events."""
    events, reads = tmp_path / "events.db", tmp_path / "reads.db"
    ledger = thread.open(str(events), clock=clock, read_url=str(reads))
    try:
        build(ledger, bearings=4)
        assert ledger.trace("B-000").part_number == "BRG-6204"
    finally:
        ledger.close()
    assert raw_sql(str(reads), "SELECT COUNT(*) > 0 FROM read_story") == [(1,)]
    assert raw_sql(str(events), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'read_story'"
                   )[0][0] == 0


def test_cli_trace_genealogy_recall_rebuild(tmp_path: Path, clock: Clock) -> None:
    """The read-side commands print readable answers and JSON."""
    url = str(tmp_path / "plant.db")
    ledger = thread.open(url, clock=clock)
    build(ledger)
    ledger.close()
    runner = CliRunner()
    out = runner.invoke(main, ["--db", url, "trace", "B-014"])
    assert out.exit_code == 0, out.output
    assert "vibration: max 6 mm/s / threshold 4.5  EXCEEDED" in out.output
    out = runner.invoke(main, ["--db", url, "genealogy", "B-002", "--up"])
    assert out.exit_code == 0 and "VEHICLE-1" in out.output and "Ulm depot" in out.output
    out = runner.invoke(main, ["--db", url, "recall", "--machine", "GR-1", "--from",
                               BAD_START.isoformat(), "--to", BAD_END.isoformat(),
                               "--where", "vibration.max > 4.5", "--json"])
    assert out.exit_code == 0, out.output
    import json
    assert json.loads(out.output)["serials"] == ["B-014"]
    out = runner.invoke(main, ["--db", url, "recall", "--machine", "GR-1", "--from",
                               "2026-03-01", "--to", "2026-03-09T00:00Z"])
    assert out.exit_code != 0 and "no time zone" in out.output
    out = runner.invoke(main, ["--db", url, "rebuild"])
    assert out.exit_code == 0 and "rebuilt all read models" in out.output
    out = runner.invoke(main, ["--db", url, "trace", "B-001", "--as-of",
                               datetime(2026, 1, 1, tzinfo=UTC).isoformat(), "--by",
                               "occurred"])
    assert out.exit_code == 1 and "no part or lot B-001" in out.output


def test_rebuilding_one_read_model_leaves_the_rest_consistent(ledger: thread.Ledger,
                                                              ledger_url: str,
                                                              plant: Plant) -> None:
    """Rebuild one read model, let the others lag, catch up: rows equal a full rebuild."""
    ledger.read_models.catch_up()
    before = snapshot(ledger_url)
    ledger.rebuild(["genealogy"])
    assert snapshot(ledger_url) == before
    ledger.record(f.Quarantined(serial="B-003", reason="suspect lot"))
    ledger.read_models.catch_up(["story"])  # story ahead, the others behind
    ledger.read_models.page = 3
    ledger.read_models.catch_up()
    caught_up = snapshot(ledger_url)
    ledger.rebuild()
    assert snapshot(ledger_url) == caught_up
    with pytest.raises(thread.errors.ConfigurationError, match="no read model named nope"):
        ledger.rebuild(["nope"])


def test_rebuild_in_a_worker_process_gives_the_same_rows(ledger: thread.Ledger, ledger_url: str,
                                                         plant: Plant,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A long catch-up projects pages in worker processes, in turn; the rows are the same
    (pages of 50 events: many pages through each worker, written in log order)."""
    from thread.read import pipeline

    ledger.read_models.page = 50
    ledger.rebuild()
    in_process = snapshot(ledger_url)
    started: list[object] = []
    real = pipeline._Worker.__enter__

    def spy(worker: pipeline._Worker) -> pipeline._Worker:
        started.append(worker)
        return real(worker)

    written: list[int] = []
    receive = pipeline._Worker.receive

    def in_turn(worker: pipeline._Worker) -> tuple[int, int, dict[str, list[tuple[object, ...]]]]:
        page = receive(worker)
        written.append(page[0])
        return page

    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(pipeline._Worker, "__enter__", spy)
    monkeypatch.setattr(pipeline._Worker, "receive", in_turn)
    assert ledger.rebuild() == ledger.count()
    assert len(started) == pipeline.WORKERS, "the rebuild did not use the worker processes"
    assert len(written) > 2 * pipeline.WORKERS and written == sorted(set(written))
    assert snapshot(ledger_url) == in_process
    ledger.rebuild(["production"])  # one read model behind the others, through the workers
    assert snapshot(ledger_url) == in_process


def test_read_models_of_another_layout_are_rebuilt(ledger_url: str, clock: Clock) -> None:
    """Read models written with an older layout are dropped and rebuilt, not misread."""
    ledger = thread.open(ledger_url, clock=clock)
    build(ledger, bearings=4)
    assert ledger.trace("B-000").part_number == "BRG-6204"
    ledger.close()
    raw_sql(reads_of(ledger_url), "UPDATE read_layout SET layout = 1")
    raw_sql(reads_of(ledger_url), "DELETE FROM read_story")
    ledger = thread.open(ledger_url, clock=clock)
    try:
        assert all(p.position == 0 for p in ledger.read_models.positions())
        assert ledger.trace("B-000").part_number == "BRG-6204"
    finally:
        ledger.close()
