"""The mapping layer: raw readings in, process, condition, alarm and gap facts out, once."""

from __future__ import annotations

import logging
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from conftest import Clock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import thread
from thread import facts as f
from thread_adapters.mapping import (
    MachineNotRegistered,
    MappingLayer,
    ReadingRefused,
    RecordsRefused,
    UnitMismatch,
)
from thread_adapters.mapping.signals import DUPLICATE, LATE, MERGED, Discrete
from thread_adapters.readings import ReadingSink, TagValue
from thread_adapters.samples import ENCODING, decode
from thread_adapters.tagmap import TagMap, parse_tag_map

F = TypeVar("F", bound=f.Fact)
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
T0 = int(START.timestamp()) * 1_000_000_000

PRESS = """\
[machine]
id = "PRESS-7"
name = "Injection press 7"
kind = "injection-press"
register = true

[part]
operation = "OP10-mould"
register = "undocumented"
part_number = "HSG-100"
revision = "C"

[conditions]
window_s = 60
ideal_cycle_s = 20

[collection]
settle_s = 2
write_every_s = 3600

[connection.sparkplug]
device = "Press7"

[tags.serial]
kind = "serial"
sparkplug.metric = "Part/Serial"

[tags.start]
kind = "cycle-start"

[tags.done]
kind = "cycle-complete"

[tags.barrel_temp]
unit = "Cel"
resolution = 0.1
threshold = 250
condition = true
sparkplug.metric = "Barrel/Temp"

[tags.pressure]
name = "injection_pressure"
unit = "bar"
resolution = 0.5

[tags.vibration]
kind = "condition"
unit = "mm/s"
threshold = 4.5

[tags.heater_fault]
kind = "alarm"
code = "E-17"
text = "Barrel heater fault"
severity = "fault"

[tags.running]
kind = "running"

[tags.shots]
kind = "count-total"

[tags.good]
kind = "count-good"
"""


def ns(seconds: float) -> int:
    """Source time ``seconds`` after 06:00 on the test day, in ns."""
    return T0 + round(seconds * 1_000_000_000)


def at(seconds: float) -> datetime:
    """The same moment as a datetime."""
    return START + timedelta(seconds=seconds)


class Wall:
    """A wall clock for the layer that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def press(text: str = PRESS, **replacements: str) -> TagMap:
    """The press tag map, with some lines replaced."""
    for old, new in replacements.items():
        text = text.replace(old.replace("_", " ") if " " in old else old, new)
    return parse_tag_map(text, file="press-7.toml")


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[thread.Ledger]:
    """A ledger in a fresh SQLite file, for tests where the store does not matter."""
    opened = thread.open(str(tmp_path / "ledger.db"), clock=Clock(), actor="tester")
    yield opened
    opened.close()


def layer_on(ledger: thread.Ledger, tag_map: TagMap | None = None, *,
             protocol: str = "test", wall: Wall | None = None) -> MappingLayer:
    """A mapping layer with triggers and flags known to be off before the first cycle."""
    layer = MappingLayer(ledger, tag_map or press(), protocol=protocol,
                         monotonic=wall or Wall())
    for tag in ("start", "done"):
        layer.observe(tag, False, ns(0))
    return layer


def run_cycle(sink: ReadingSink, serial: str, start: float, end: float,
              readings: dict[str, list[tuple[float, float]]]) -> None:
    """One part through the press: serial, start pulse, parameter readings, complete pulse."""
    sink.observe("serial", serial, ns(start))
    sink.observe("start", True, ns(start))
    sink.observe("start", False, ns(start + 0.1))
    for tag, series in readings.items():
        for moment, value in series:
            sink.observe(tag, value, ns(moment))
    sink.observe("done", True, ns(end))
    sink.observe("done", False, ns(end + 0.1))


def facts_of(ledger: thread.Ledger, kind: type[F]) -> list[F]:
    """Every recorded fact of one kind, in commit order."""
    return [event.fact for _, event in ledger.scan(topics=[kind.topic])
            if isinstance(event.fact, kind)]


def temps(start: float, count: int, base: float = 230.0) -> list[tuple[float, float]]:
    """Barrel temperatures every 0.5 s from ``start``."""
    return [(start + 0.5 * index, base + 0.3 * index) for index in range(count)]


def test_a_completed_cycle_becomes_one_process_record(sqlite_ledger: thread.Ledger) -> None:
    """n, min, max, mean, sample sd and the raw samples match what the PLC sent."""
    layer = layer_on(sqlite_ledger)
    barrel = temps(1.0, 20)
    pressure = [(1.2 + index, 800.0 + 2.5 * (index % 3)) for index in range(15)]
    run_cycle(layer, "SN-0042", 1.0, 18.0, {"barrel_temp": barrel, "pressure": pressure})
    layer.flush()
    (record,) = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert (record.serial, record.operation, record.machine) == ("SN-0042", "OP10-mould",
                                                                 "PRESS-7")
    assert (record.started_at, record.ended_at) == (at(1.0), at(18.0))
    by_name = {parameter.name: parameter for parameter in record.parameters}
    temp = by_name["barrel_temp"]
    values = [value for _, value in barrel]
    assert (temp.unit, temp.n, temp.min, temp.max) == ("Cel", 20, min(values), max(values))
    assert temp.mean == pytest.approx(statistics.fmean(values))
    assert temp.sd == pytest.approx(statistics.stdev(values))
    assert temp.samples_encoding == ENCODING and temp.samples is not None
    block = decode(temp.samples)
    assert block.times_ns.tolist() == [ns(moment) for moment, _ in barrel]
    assert np.allclose(block.values, values, atol=0.05)
    # The pressure before the cycle's first reading was unknown, so nothing is held.
    assert by_name["injection_pressure"].n == 15 and by_name["injection_pressure"].unit == "bar"


def test_a_value_that_did_not_change_is_held_from_before_the_cycle(
        sqlite_ledger: thread.Ledger) -> None:
    """A tag reported only on change still had its value during the cycle."""
    layer = layer_on(sqlite_ledger)
    layer.observe("pressure", 812.5, ns(0.2))
    run_cycle(layer, "SN-1", 1.0, 10.0, {"barrel_temp": temps(1.0, 4)})
    layer.flush()
    (record,) = facts_of(sqlite_ledger, f.ProcessRecorded)
    pressure = {p.name: p for p in record.parameters}["injection_pressure"]
    assert (pressure.n, pressure.min, pressure.max, pressure.sd) == (1, 812.5, 812.5, 0.0)
    assert pressure.samples is not None
    assert decode(pressure.samples).times_ns.tolist() == [ns(1.0)]  # held, at the start


def test_holding_can_be_switched_off(sqlite_ledger: thread.Ledger) -> None:
    """With hold_value_at_start = false only readings inside the cycle count."""
    tag_map = press(PRESS.replace('revision = "C"', 'revision = "C"\nhold_value_at_start = false'))
    layer = layer_on(sqlite_ledger, tag_map)
    layer.observe("pressure", 812.5, ns(0.2))
    run_cycle(layer, "SN-1", 1.0, 10.0, {"barrel_temp": temps(1.0, 4)})
    layer.flush()
    (record,) = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert [p.name for p in record.parameters] == ["barrel_temp"]


def test_redelivered_readings_record_nothing_twice(ledger: thread.Ledger) -> None:
    """The same readings again, in this layer or a new one after a restart, are no-ops."""
    readings = {"barrel_temp": temps(1.0, 10), "pressure": [(2.0, 800.0)]}
    layer = layer_on(ledger)
    for _ in range(2):
        run_cycle(layer, "SN-7", 1.0, 9.0, readings)
    layer.observe("heater_fault", True, ns(3))
    layer.observe("heater_fault", False, ns(4))
    layer.gap(ns(5), ns(6), "connection lost", 3)
    layer.flush()
    count = ledger.count()
    again = layer_on(ledger)
    run_cycle(again, "SN-7", 1.0, 9.0, readings)
    again.observe("heater_fault", True, ns(3))
    again.observe("heater_fault", False, ns(4))
    again.gap(ns(5), ns(6), "connection lost", 3)
    again.flush()
    assert ledger.count() == count
    assert len(facts_of(ledger, f.ProcessRecorded)) == 1
    assert again.stats().duplicates >= 3
    assert layer.stats().re_delivered > 0


def test_a_cycle_waits_for_tags_that_lag_behind(sqlite_ledger: thread.Ledger) -> None:
    """Triggers can arrive before the readings they enclose; the cycle is cut by source time."""
    wall = Wall()
    layer = layer_on(sqlite_ledger, wall=wall)
    layer.observe("serial", "SN-9", ns(1))
    layer.observe("start", True, ns(1))
    layer.observe("done", True, ns(9))          # the trigger arrives first ...
    layer.observe_many("pressure", [800.0, 801.0], [ns(2), ns(8)])
    layer.write_ready()
    assert facts_of(sqlite_ledger, f.ProcessRecorded) == []
    layer.observe_many("barrel_temp", [231.0, 232.0, 233.0], [ns(3), ns(8.5), ns(9.5)])
    layer.observe("serial", "SN-10", ns(9.6))
    layer.observe("start", False, ns(9.7))
    layer.observe("pressure", 790.0, ns(9.8))   # ... every tag is now past the cycle's end
    layer.write_ready()
    (record,) = facts_of(sqlite_ledger, f.ProcessRecorded)
    by_name = {p.name: p for p in record.parameters}
    assert by_name["barrel_temp"].n == 2 and by_name["injection_pressure"].n == 2
    assert record.serial == "SN-9"


def test_silent_tags_are_waited_for_settle_seconds_of_wall_time(
        sqlite_ledger: thread.Ledger) -> None:
    """A tag that never reports again cannot hold a cycle forever, nor close it at once."""
    wall = Wall()
    layer = layer_on(sqlite_ledger, wall=wall)
    run_cycle(layer, "SN-1", 1.0, 5.0, {"barrel_temp": temps(1.0, 3)})
    layer.observe("barrel_temp", 240.0, ns(30))  # source time moves on, other tags silent
    layer.write_ready()
    assert facts_of(sqlite_ledger, f.ProcessRecorded) == []
    wall.now += 2.5
    layer.write_ready()
    assert len(facts_of(sqlite_ledger, f.ProcessRecorded)) == 1


def test_a_cycle_whose_start_was_not_seen_is_not_recorded(sqlite_ledger: thread.Ledger) -> None:
    """Joining mid-cycle gives incomplete readings; that cycle is counted, not recorded."""
    layer = MappingLayer(sqlite_ledger, press(), protocol="test", monotonic=Wall())
    layer.observe("serial", "SN-1", ns(0))
    layer.observe("barrel_temp", 231.0, ns(1))
    layer.observe("done", False, ns(2))
    layer.observe("done", True, ns(3))
    layer.flush()
    assert facts_of(sqlite_ledger, f.ProcessRecorded) == []
    assert layer.stats().cycles_started_unseen == 1


def test_the_first_reading_of_a_trigger_is_not_an_edge(sqlite_ledger: thread.Ledger) -> None:
    """A trigger already high when collection starts did not rise while anyone watched."""
    layer = MappingLayer(sqlite_ledger, press(), protocol="test", monotonic=Wall())
    layer.observe("serial", "SN-1", ns(0))
    layer.observe("start", True, ns(0))
    layer.observe("done", True, ns(5))
    layer.flush()
    assert facts_of(sqlite_ledger, f.ProcessRecorded) == []


def test_the_serial_in_effect_at_cycle_complete_names_the_part(
        sqlite_ledger: thread.Ledger) -> None:
    """Back-to-back parts each get their own record with their own readings."""
    layer = layer_on(sqlite_ledger)
    for index in range(3):
        start = 20.0 * index + 1
        run_cycle(layer, f"SN-{index}", start, start + 15,
                  {"barrel_temp": temps(start, 5, base=230 + index)})
    layer.flush()
    records = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert [r.serial for r in records] == ["SN-0", "SN-1", "SN-2"]
    assert [r.parameters[0].min for r in records] == [230.0, 231.0, 232.0]


def test_batches_are_recorded_per_run_against_the_lot(sqlite_ledger: thread.Ledger) -> None:
    """With batch tracking a run ends when the batch id changes; the lot is registered."""
    text = PRESS.replace('[part]\n', '[part]\ntracking = "batch"\n').replace(
        '[tags.serial]\nkind = "serial"', '[tags.serial]\nkind = "batch"').replace(
        '[tags.done]\nkind = "cycle-complete"\n', '').replace(
        '[tags.start]\nkind = "cycle-start"\n', '')
    layer = MappingLayer(sqlite_ledger, press(text), protocol="test", monotonic=Wall())
    layer.observe("serial", "LOT-A", ns(0))
    layer.observe_many("barrel_temp", [230.0, 231.0], [ns(1), ns(2)])
    layer.observe("serial", "LOT-B", ns(10))
    layer.observe_many("barrel_temp", [240.0], [ns(11)])
    layer.observe("serial", "", ns(20))
    layer.flush()
    records = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert [(r.lot, r.started_at, r.ended_at, r.parameters[0].n) for r in records] == [
        ("LOT-A", at(0), at(10), 2), ("LOT-B", at(10), at(20), 2)]
    assert sqlite_ledger.lot("LOT-A").undocumented


def test_parts_are_registered_undocumented_when_the_map_says_so(
        sqlite_ledger: thread.Ledger) -> None:
    """An unknown serial is registered once, undocumented, against the map's part number."""
    layer = layer_on(sqlite_ledger)
    run_cycle(layer, "SN-1", 1, 5, {"barrel_temp": temps(1, 2)})
    run_cycle(layer, "SN-1", 6, 9, {"barrel_temp": temps(6, 2)})
    layer.flush()
    part = sqlite_ledger.part("SN-1")
    assert (part.part_number, part.revision, part.undocumented) == ("HSG-100", "C", True)
    assert len(facts_of(sqlite_ledger, f.PartRegistered)) == 1
    assert len(facts_of(sqlite_ledger, f.ProcessRecorded)) == 2


def test_unknown_parts_are_refused_by_name_and_the_rest_is_written(
        ledger: thread.Ledger) -> None:
    """Without registration, a record for an unregistered serial is refused, clearly."""
    ledger.record(f.RevisionReleased(part_number="HSG-100", revision="C", part_name="Housing",
                                     drawing="DWG-100", characteristics=()))
    ledger.record(f.PartRegistered(serial="SN-KNOWN", part_number="HSG-100", revision="C"))
    layer = layer_on(ledger, press(PRESS.replace('register = "undocumented"',
                                                 'register = "never"')))
    run_cycle(layer, "SN-KNOWN", 1, 5, {"barrel_temp": temps(1, 2)})
    run_cycle(layer, "SN-GHOST", 6, 9, {"barrel_temp": temps(6, 2)})
    with pytest.raises(RecordsRefused) as raised:
        layer.flush()
    message = str(raised.value)
    assert "process record for SN-GHOST" in message
    assert "part SN-GHOST is not registered" in message and "press-7.toml (line 9)" in message
    assert [r.serial for r in facts_of(ledger, f.ProcessRecorded)] == ["SN-KNOWN"]
    assert layer.refusals and layer.stats().refused == 1


def test_parts_can_be_registered_against_the_released_revision(
        sqlite_ledger: thread.Ledger) -> None:
    """register = "released" registers a documented part, which needs the revision released."""
    sqlite_ledger.record(f.RevisionReleased(part_number="HSG-100", revision="C",
                                            part_name="Housing", drawing="DWG-100",
                                            characteristics=()))
    layer = layer_on(sqlite_ledger, press(PRESS.replace('register = "undocumented"',
                                                        'register = "released"')))
    run_cycle(layer, "SN-1", 1, 5, {"barrel_temp": temps(1, 2)})
    layer.flush()
    assert not sqlite_ledger.part("SN-1").undocumented


def test_an_unregistered_machine_is_refused_at_once(sqlite_ledger: thread.Ledger) -> None:
    """A map that does not register its machine needs it in the ledger already."""
    tag_map = press(PRESS.replace("register = true\n", ""))
    with pytest.raises(MachineNotRegistered, match=r"machine PRESS-7 is not registered.*"
                                                    r"press-7\.toml \(line 2\)"):
        MappingLayer(sqlite_ledger, tag_map, protocol="test")
    sqlite_ledger.record(f.MachineRegistered(machine="PRESS-7", name="Press", kind="press"))
    MappingLayer(sqlite_ledger, tag_map, protocol="test")


def test_alarm_bits_become_alarms_with_raise_and_clear_times(
        sqlite_ledger: thread.Ledger) -> None:
    """A rising edge raises, a falling edge clears; one still active is written at flush."""
    layer = layer_on(sqlite_ledger)
    layer.observe("heater_fault", False, ns(0))
    layer.observe("heater_fault", True, ns(10))
    layer.observe("heater_fault", True, ns(11))
    layer.observe("heater_fault", False, ns(25))
    layer.observe("heater_fault", True, ns(70))
    layer.flush()
    alarms = facts_of(sqlite_ledger, f.AlarmRaised)
    assert [(a.code, a.severity, a.raised_at, a.cleared_at) for a in alarms] == [
        ("E-17", "fault", at(10), at(25)), ("E-17", "fault", at(70), None)]
    assert alarms[0].text == "Barrel heater fault"
    windows = facts_of(sqlite_ledger, f.ConditionRecorded)
    assert [w.alarms_active for w in windows] == [("E-17",), ("E-17",)]


def test_threshold_crossings_raise_alarms_and_mark_metrics(sqlite_ledger: thread.Ledger) -> None:
    """A signal above its threshold is an alarm, and its window's metric shows it exceeded."""
    layer = layer_on(sqlite_ledger)
    layer.observe_many("vibration", [2.0, 3.0, 5.0, 6.0, 4.0, 2.0],
                       [ns(t) for t in (1, 2, 3, 4, 5, 6)])
    layer.observe("vibration", 4.8, ns(61))
    layer.flush()
    alarms = facts_of(sqlite_ledger, f.AlarmRaised)
    assert [(a.code, a.raised_at, a.cleared_at) for a in alarms] == [
        ("vibration-high", at(3), at(5)), ("vibration-high", at(61), None)]
    assert alarms[0].text == "vibration above 4.5 mm/s"
    first = facts_of(sqlite_ledger, f.ConditionRecorded)[0]
    metric = {m.name: m for m in first.metrics}["vibration"]
    assert (metric.n, metric.min, metric.max, metric.threshold, metric.exceeded) == (
        6, 2.0, 6.0, 4.5, True)
    assert sqlite_ledger.machine("PRESS-7").threshold_exceedances >= 1


def test_condition_windows_carry_metrics_and_oee(sqlite_ledger: thread.Ledger) -> None:
    """Clock-aligned windows: signals held across windows, availability, performance, quality."""
    tag_map = press(PRESS.replace("ideal_cycle_s = 20", "ideal_cycle_s = 10"))
    layer = layer_on(sqlite_ledger, tag_map)
    layer.observe("running", True, ns(0))
    layer.observe("shots", 100, ns(0))
    layer.observe("good", 90, ns(0))
    layer.observe_many("vibration", [1.0, 2.0, 3.0], [ns(0), ns(10), ns(20)])
    layer.observe("running", False, ns(30))       # ran for half of the first minute
    layer.observe("shots", 101, ns(15))
    layer.observe("good", 91, ns(15))
    layer.observe("shots", 102, ns(25))           # one shot made, one rejected
    layer.observe("good", 91, ns(25))
    layer.observe("running", True, ns(60))
    layer.observe("vibration", 1.5, ns(125))      # nothing from 60 to 120 but 'running'
    layer.flush()
    first, second, third = facts_of(sqlite_ledger, f.ConditionRecorded)
    assert (first.window_start, first.window_end) == (at(0), at(60))
    vibration = {m.name: m for m in first.metrics}["vibration"]
    assert (vibration.n, vibration.min, vibration.max, vibration.mean) == (3, 1.0, 3.0, 2.0)
    assert first.availability == pytest.approx(0.5)
    assert first.performance == pytest.approx(10 * 2 / 30)
    assert first.quality == pytest.approx(0.5)
    assert (second.window_start, second.window_end) == (at(60), at(120))
    held = {m.name: m for m in second.metrics}["vibration"]
    assert (held.n, held.mean) == (1, 3.0)        # the value in effect, held
    assert second.availability == 1.0 and second.quality is None
    assert (third.window_start, third.window_end) == (at(120), at(125) + timedelta(
        microseconds=1))  # the partial window at flush includes its last reading


def test_windows_with_nothing_heard_are_skipped(sqlite_ledger: thread.Ledger) -> None:
    """A stretch where the machine said nothing yields no condition records."""
    layer = layer_on(sqlite_ledger)
    layer.observe("vibration", 1.0, ns(5))
    layer.observe("vibration", 2.0, ns(600))
    layer.flush()
    windows = facts_of(sqlite_ledger, f.ConditionRecorded)
    assert [w.window_start for w in windows] == [at(0), at(600)]


def test_gaps_are_recorded_once_the_source_had_time_to_backfill(ledger: thread.Ledger) -> None:
    """A reported gap is written after settle_s of wall time, with protocol, reason and loss."""
    wall = Wall()
    layer = layer_on(ledger, protocol="opcua", wall=wall)
    layer.gap(ns(10), ns(40), "server restarted", None)
    layer.gap(ns(50), ns(45), "sequence skipped", 4)
    layer.write_ready()
    assert facts_of(ledger, f.CollectionGapRecorded) == []
    assert layer.stats().open_gaps == 2
    wall.now += 2.0
    layer.write_ready()
    gaps = facts_of(ledger, f.CollectionGapRecorded)
    assert [(g.gap_start, g.gap_end, g.protocol, g.reason, g.lost_messages) for g in gaps] == [
        (at(10), at(40), "opcua", "server restarted", None),
        (at(50), at(50), "opcua", "sequence skipped", 4)]
    assert layer.stats().open_gaps == 0


def test_without_settle_time_a_gap_is_written_at_once(sqlite_ledger: thread.Ledger) -> None:
    """settle_s = 0 waits for nothing: the gap is a fact as soon as it is reported."""
    layer = layer_on(sqlite_ledger, press(PRESS.replace("settle_s = 2", "settle_s = 0")))
    layer.gap(ns(10), ns(40), "connection lost", None)
    (gap,) = facts_of(sqlite_ledger, f.CollectionGapRecorded)
    assert gap.reason == "connection lost"


def test_text_on_a_numeric_tag_is_refused_clearly(sqlite_ledger: thread.Ledger) -> None:
    """A reading that cannot be a number names the map, the tag, its unit and the value."""
    layer = layer_on(sqlite_ledger)
    with pytest.raises(ReadingRefused) as raised:
        layer.observe("barrel_temp", "hot", ns(1))
    assert str(raised.value) == (
        "tag map 'press-7' (press-7.toml line 34): tag 'barrel_temp' is a parameter in Cel, "
        "but the reading at 2026-03-02T06:00:01+00:00 is 'hot'")
    with pytest.raises(ReadingRefused, match=r"has time 1\.5; times are integer ns"):
        layer.observe("barrel_temp", 231.0, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ReadingRefused, match="integer time"):
        layer.observe_many("barrel_temp", [1.0], [1.5])
    layer.observe("barrel_temp", 231.0, ns(2))   # the buffer is still consistent
    run_cycle(layer, "SN-1", 3, 5, {"barrel_temp": [(4, 232.0)]})
    layer.flush()
    (record,) = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert record.parameters[0].n == 2


def test_a_unit_the_source_states_differently_is_refused(sqlite_ledger: thread.Ledger) -> None:
    """The source's own unit is checked against the map, with a message that says both."""
    layer = layer_on(sqlite_ledger)
    layer.declare_unit("barrel_temp", "°C", "OPC UA EngineeringUnits")
    layer.declare_unit("pressure", "furlongs", "somewhere")  # unknown: not checked
    with pytest.raises(UnitMismatch) as raised:
        layer.declare_unit("barrel_temp", "degF", "OPC UA EngineeringUnits of ns=2;s=T")
    assert str(raised.value) == (
        "tag map 'press-7' (press-7.toml line 35): parameter 'barrel_temp' is in degF at the "
        "source (OPC UA EngineeringUnits of ns=2;s=T) but the tag map declares Cel; correct "
        "the tag map or the source")
    assert isinstance(raised.value, thread.ConfigurationError)


def test_protocol_names_and_unmapped_tags(sqlite_ledger: thread.Ledger,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """Device-scoped Sparkplug names reach their tag; tags not in the map are counted, ignored."""
    layer = layer_on(sqlite_ledger, protocol="sparkplug")
    layer.observe("Press7/Part/Serial", "SN-5", ns(1))
    layer.observe("start", True, ns(1))
    layer.observe("Press7/Barrel/Temp", 231.0, ns(2))
    with caplog.at_level(logging.INFO):
        layer.observe("Press7/Hydraulics/Oil", 1.0, ns(2))
        layer.observe("Press7/Hydraulics/Oil", 1.0, ns(3))
    layer.observe("done", True, ns(4))
    layer.flush()
    (record,) = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert record.serial == "SN-5" and record.parameters[0].n == 1
    assert layer.stats().unmapped == 2
    assert sum("Hydraulics/Oil" in message for message in caplog.messages) == 1


def test_bulk_and_single_readings_give_the_same_records(tmp_path: Path) -> None:
    """observe_many is a faster observe, not a different one."""
    rng = np.random.default_rng(3)
    times = np.sort(rng.choice(np.arange(1, 9_000), size=500, replace=False))
    values = 230 + np.cumsum(rng.normal(0, 0.4, 500))
    results = []
    for bulk in (False, True):
        ledger = thread.open(str(tmp_path / f"{bulk}.db"), clock=Clock())
        layer = layer_on(ledger)
        layer.observe("serial", "SN-1", ns(0))
        layer.observe("start", True, ns(0))
        stamps = [ns(t / 1000) for t in times.tolist()]
        if bulk:
            layer.observe_many("barrel_temp", values, np.array(stamps))
        else:
            for value, stamp in zip(values.tolist(), stamps, strict=True):
                layer.observe("barrel_temp", value, stamp)
        layer.observe("done", True, ns(10))
        layer.flush()
        results.append(facts_of(ledger, f.ProcessRecorded))
        ledger.close()
    assert results[0] == results[1]
    assert results[0][0].parameters[0].n == 500


def test_non_numbers_are_left_out_and_a_reading_out_of_order_is_merged(
        sqlite_ledger: thread.Ledger) -> None:
    """NaN and infinity are left out; an older reading in an unresolved cycle is merged in place."""
    layer = layer_on(sqlite_ledger)
    layer.observe("serial", "SN-1", ns(0))
    layer.observe("start", True, ns(0))
    layer.observe_many("barrel_temp", [231.0, float("nan"), float("inf"), 233.0],
                       [ns(1), ns(2), ns(3), ns(4)])
    layer.observe("barrel_temp", 100.0, ns(3.5))   # out of order for this tag
    layer.observe("barrel_temp", 100.0, ns(3.5))   # and delivered twice
    layer.observe("done", True, ns(5))
    layer.flush()
    (record,) = facts_of(sqlite_ledger, f.ProcessRecorded)
    temp = record.parameters[0]
    assert (temp.n, temp.min, temp.max) == (3, 100.0, 233.0)
    assert temp.samples is not None
    assert decode(temp.samples).times_ns.tolist() == [ns(1), ns(3.5), ns(4)]
    stats = layer.stats()
    assert (stats.not_numbers, stats.backfilled, stats.re_delivered, stats.late) == (2, 1, 1, 0)


def test_samples_can_be_left_out_per_map_or_per_tag(sqlite_ledger: thread.Ledger) -> None:
    """[samples] keep = false and keep_samples = false record summaries only."""
    text = PRESS.replace('[collection]', '[samples]\nkeep = false\ncompression = "lzma"\n\n'
                         '[collection]').replace(
        'name = "injection_pressure"', 'name = "injection_pressure"\nkeep_samples = true')
    layer = layer_on(sqlite_ledger, press(text))
    run_cycle(layer, "SN-1", 1, 5, {"barrel_temp": temps(1, 3), "pressure": [(2, 800.0)]})
    layer.flush()
    (record,) = facts_of(sqlite_ledger, f.ProcessRecorded)
    kept = {p.name: p.samples is not None for p in record.parameters}
    assert kept == {"barrel_temp": False, "injection_pressure": True}


def test_the_layer_is_a_reading_sink(sqlite_ledger: thread.Ledger) -> None:
    """Protocol adapters can be handed the layer wherever they expect a ReadingSink."""
    sink: ReadingSink = layer_on(sqlite_ledger)
    sink.observe("barrel_temp", 230.0, ns(1))
    sink.gap(ns(2), ns(3), "test")
    sink.flush()
    assert facts_of(sqlite_ledger, f.CollectionGapRecorded)


def test_records_carry_the_source_and_deterministic_ids(sqlite_ledger: thread.Ledger) -> None:
    """Provenance: the protocol and machine as source, ids derived from what they are about."""
    layer = layer_on(sqlite_ledger, protocol="opcua")
    run_cycle(layer, "SN-1", 1, 5, {"barrel_temp": temps(1, 2)})
    layer.flush()
    events: list[Any] = [event for _, event in sqlite_ledger.scan(
        topics=[f.ProcessRecorded.topic])]
    assert events[0].source == "opcua:PRESS-7"
    assert events[0].source_record_id == f"PRESS-7/OP10-mould/SN-1/{ns(1)}"
    assert events[0].occurred_at == at(5)


def test_without_a_start_trigger_a_cycle_starts_when_its_serial_arrives(
        sqlite_ledger: thread.Ledger) -> None:
    """A machine with only a complete trigger: each part's cycle runs from its serial's arrival."""
    text = PRESS.replace('[tags.start]\nkind = "cycle-start"\n', "")
    layer = MappingLayer(sqlite_ledger, press(text), protocol="test", monotonic=Wall())
    layer.observe("done", False, ns(0))
    for index in range(2):
        start = 10.0 * index + 1
        layer.observe("serial", f"SN-{index}", ns(start))
        layer.observe_many("barrel_temp", [230.0 + index, 231.0 + index],
                           [ns(start + 1), ns(start + 2)])
        layer.observe("done", True, ns(start + 5))
        layer.observe("done", False, ns(start + 6))
    layer.flush()
    records = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert [(r.serial, r.started_at, r.ended_at) for r in records] == [
        ("SN-0", at(1), at(6)), ("SN-1", at(11), at(16))]
    assert [r.parameters[0].n for r in records] == [2, 3]  # the second holds 231 from before


def test_buffers_stay_small_over_many_cycles(sqlite_ledger: thread.Ledger) -> None:
    """Readings already summarised are let go: memory does not grow with the shift."""
    wall = Wall()
    layer = layer_on(sqlite_ledger, wall=wall)
    times = np.arange(200, dtype=np.int64)
    for index in range(40):
        start = 30.0 * index + 1
        layer.observe("serial", f"SN-{index}", ns(start))
        layer.observe("start", True, ns(start))
        layer.observe("start", False, ns(start + 0.1))
        layer.observe_many("barrel_temp", 230 + np.sin(times / 9.0), ns(start) + times * 10**8)
        layer.observe_many("vibration", 1 + np.cos(times / 7.0), ns(start) + times * 10**8)
        layer.observe("done", True, ns(start + 25))
        layer.observe("done", False, ns(start + 25.1))
        wall.now += 5  # the injection pressure never reports: wait settle_s for it
    layer.write_ready()
    stats = layer.stats()
    assert stats.readings > 16_000
    assert stats.buffered < 1_000
    assert stats.process_records >= 38


# --- readings out of time order: merging, the late-reading horizon, backfilled gaps ---------

WINDOWS_ONLY = """\
[machine]
id = "PRESS-7"
name = "Injection press 7"
kind = "injection-press"
register = true

[conditions]
window_s = 60

[tags.vibration]
kind = "condition"
unit = "mm/s"
"""


def test_a_reading_up_to_a_resolved_cycle_end_is_late_and_after_it_is_merged(
        sqlite_ledger: thread.Ledger) -> None:
    """A reading up to the last resolved cycle's end is late; one after it is merged."""
    layer = layer_on(sqlite_ledger)
    run_cycle(layer, "SN-1", 1.0, 5.0, {"barrel_temp": [(2.0, 231.0)], "pressure": [(2.0, 800.0)]})
    layer.observe("serial", "SN-2", ns(5.2))
    layer.observe("start", True, ns(5.2))
    layer.observe_many("barrel_temp", [232.0, 233.0], [ns(6), ns(7)])
    layer.observe("pressure", 801.0, ns(6))
    layer.write_ready()                            # every watched tag is past 5 s: SN-1 resolves
    (first,) = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert layer.horizon("barrel_temp") == ns(5) + 1
    layer.observe("barrel_temp", 100.0, ns(4))     # inside SN-1's written cycle: late
    layer.observe("barrel_temp", 101.0, ns(5))     # at its end, which the cycle includes: late
    layer.observe("barrel_temp", 234.0, ns(5.5))   # in SN-2, not yet resolved: merged
    layer.observe("done", True, ns(9))
    layer.flush()
    records = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert records[0] == first and [r.serial for r in records] == ["SN-1", "SN-2"]
    temp = {p.name: p for p in records[1].parameters}["barrel_temp"]
    assert temp.samples is not None
    assert decode(temp.samples).times_ns.tolist() == [ns(5.2), ns(5.5), ns(6), ns(7)]
    assert (temp.min, temp.max) == (231.0, 234.0)  # 231 held from SN-1's reading at 2 s
    stats = layer.stats()
    assert (stats.late, stats.backfilled) == (2, 1)


def test_a_reading_in_a_written_condition_window_is_late(sqlite_ledger: thread.Ledger,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """A reading for a written window is late and logged; one in the open window merges."""
    layer = MappingLayer(sqlite_ledger, press(WINDOWS_ONLY), protocol="test", monotonic=Wall())
    layer.observe_many("vibration", [1.0, 2.0, 3.0, 6.0], [ns(10), ns(30), ns(61), ns(70)])
    layer.write_ready()
    (written,) = facts_of(sqlite_ledger, f.ConditionRecorded)
    assert (written.window_start, written.window_end) == (at(10), at(60))
    layer.observe("vibration", 9.0, ns(50))
    layer.observe("vibration", 4.0, ns(65))
    with caplog.at_level(logging.WARNING):
        layer.flush()
    first, second = facts_of(sqlite_ledger, f.ConditionRecorded)
    assert first == written
    (metric,) = second.metrics                    # 2.0 held from 30 s, then 61, 65, 70 s
    assert (metric.n, metric.min, metric.max, metric.mean) == (4, 2.0, 6.0, 3.75)
    assert (layer.stats().late, layer.stats().backfilled) == (1, 1)
    assert "1 reading(s) of tag vibration (the latest taken at 2026-03-02T06:00:50+00:00) " \
           "arrived after the records they belong to were resolved" in caplog.text


def test_a_trigger_merged_between_equal_readings_splits_them_into_changes() -> None:
    """A trigger merged between two equal readings makes the later one a change back."""
    trigger = Discrete("done")
    trigger.observe(False, ns(0))
    trigger.observe(False, ns(10))                 # an NBIRTH restating the value
    assert trigger.changes == [(ns(0), False)]
    assert trigger.observe(True, ns(5)) == MERGED  # the backfill
    assert trigger.changes == [(ns(0), False), (ns(5), True), (ns(10), False)]
    assert trigger.observe(True, ns(5)) == DUPLICATE
    trigger.horizon = ns(6)
    assert trigger.observe(True, ns(4)) == LATE
    assert (trigger.received, trigger.merged, trigger.dropped, trigger.late) == (3, 1, 1, 1)


def test_bulk_readings_out_of_order_merge_like_single_ones(tmp_path: Path) -> None:
    """observe_many merges an older block into place, dropping what it holds already."""
    results = []
    for bulk in (False, True):
        ledger = thread.open(str(tmp_path / f"{bulk}.db"), clock=Clock())
        layer = layer_on(ledger)
        layer.observe("serial", "SN-1", ns(0))
        layer.observe("start", True, ns(0))
        layer.observe_many("barrel_temp", [230.0, 236.0], [ns(1), ns(6)])
        late = ([233.0, 231.0, 230.0, 232.0], [ns(3), ns(2), ns(1), ns(2.5)])
        if bulk:
            layer.observe_many("barrel_temp", *late)
        else:
            for value, stamp in zip(*late, strict=True):
                layer.observe("barrel_temp", value, stamp)
        layer.observe("done", True, ns(10))
        layer.flush()
        results.append((facts_of(ledger, f.ProcessRecorded), layer.stats()))
        ledger.close()
    (single, single_stats), (bulk_records, bulk_stats) = results
    assert single == bulk_records
    assert single[0].parameters[0].samples is not None
    assert decode(single[0].parameters[0].samples).times_ns.tolist() == [
        ns(1), ns(2), ns(2.5), ns(3), ns(6)]
    assert (bulk_stats.backfilled, bulk_stats.re_delivered) == (3, 1)
    assert (single_stats.backfilled, single_stats.re_delivered) == (3, 1)


def test_an_outage_backfilled_after_the_birth_is_recorded_and_the_gap_says_so(
        sqlite_ledger: thread.Ledger) -> None:
    """History after the node's current values is recorded in time order; the gap says so."""
    wall = Wall()
    layer = layer_on(sqlite_ledger, wall=wall)
    run_cycle(layer, "SN-1", 1.0, 5.0, {"barrel_temp": temps(1.0, 4)})
    layer.gap(ns(6), ns(60), "edge node went offline (NDEATH, bdSeq 0)")
    for tag, value in (("serial", "SN-3"), ("start", False), ("done", False),
                       ("barrel_temp", 240.0), ("pressure", 790.0)):
        layer.observe(tag, value, ns(60))          # the NBIRTH: current values
    history = {"SN-2": (10.0, 20.0, temps(10.0, 5, base=231)),
               "SN-3": (30.0, 40.0, temps(30.0, 6, base=232))}
    for serial, (start, end, barrel) in history.items():
        run_cycle(layer, serial, start, end, {"barrel_temp": barrel,
                                              "pressure": [(start + 1, 805.0)]})
    layer.write_ready()
    assert [r.serial for r in facts_of(sqlite_ledger, f.ProcessRecorded)] == ["SN-1"]
    assert facts_of(sqlite_ledger, f.CollectionGapRecorded) == []
    wall.now += 2.0                                # settle_s with nothing more from the outage
    layer.write_ready()
    records = facts_of(sqlite_ledger, f.ProcessRecorded)
    assert [(r.serial, r.started_at, r.ended_at) for r in records] == [
        ("SN-1", at(1), at(5)), ("SN-2", at(10), at(20)), ("SN-3", at(30), at(40))]
    for record, (_, _, barrel) in zip(records[1:], history.values(), strict=True):
        temp = {p.name: p for p in record.parameters}["barrel_temp"]
        assert (temp.n, temp.min, temp.max) == (len(barrel), barrel[0][1], barrel[-1][1])
    (gap,) = facts_of(sqlite_ledger, f.CollectionGapRecorded)
    readings = sum(5 + len(barrel) + 1 for _, _, barrel in history.values())  # triggers too
    assert (gap.gap_start, gap.gap_end) == (at(6), at(60))
    assert gap.reason == (
        f"edge node went offline (NDEATH, bdSeq 0); backfilled afterwards: the source forwarded "
        f"{readings} stored reading(s) taken from 2026-03-02T06:00:10.000+00:00 to "
        f"2026-03-02T06:00:40.100+00:00 within this stretch, merged into the records by their "
        f"source time")
    layer.flush()
    count = sqlite_ledger.count()
    for serial, (start, end, barrel) in history.items():   # the same history again
        run_cycle(layer, serial, start, end, {"barrel_temp": barrel})
    layer.flush()
    assert sqlite_ledger.count() == count
    assert layer.stats().late > 0


def test_a_gap_holds_back_only_what_comes_after_its_start(sqlite_ledger: thread.Ledger) -> None:
    """A cycle that ended before an open gap began is written; one after waits for the gap."""
    wall = Wall()
    layer = layer_on(sqlite_ledger, wall=wall)
    run_cycle(layer, "SN-1", 1.0, 5.0, {"barrel_temp": temps(1.0, 4)})
    layer.gap(ns(6), ns(7), "seq skipped from 4 to 6: 2 messages lost", 2)
    run_cycle(layer, "SN-2", 8.0, 12.0, {"barrel_temp": temps(8.0, 4), "pressure": [(8, 1.0)]})
    for tag in ("barrel_temp", "pressure", "serial", "start"):
        layer.observe(tag, "SN-2" if tag == "serial" else 0.0 if tag != "start" else False,
                      ns(13))
    layer.write_ready()
    assert [r.serial for r in facts_of(sqlite_ledger, f.ProcessRecorded)] == ["SN-1"]
    wall.now += 2.0
    layer.write_ready()
    assert [r.serial for r in facts_of(sqlite_ledger, f.ProcessRecorded)] == ["SN-1", "SN-2"]
    (gap,) = facts_of(sqlite_ledger, f.CollectionGapRecorded)
    assert gap.reason == "seq skipped from 4 to 6: 2 messages lost" and gap.lost_messages == 2


Reading = tuple[str, TagValue, int]


def _region(data: st.DataObject) -> tuple[list[Reading], list[Reading]]:
    """Cycles from 10 s on: (two parameter tags' readings, the triggers and serials)."""
    cycles = data.draw(st.integers(min_value=1, max_value=3), label="cycles")
    span_ms = (10_000, 10_000 + 20_000 * cycles)
    parameters: list[Reading] = []
    for tag, low, high in (("barrel_temp", 245.0, 255.0), ("pressure", 700.0, 900.0)):
        stamps = data.draw(st.sets(st.integers(*span_ms), min_size=1, max_size=10), label=tag)
        for stamp in sorted(stamps):
            value = data.draw(st.floats(low, high).map(lambda v: round(v, 1)))
            parameters.append((tag, value, ns(stamp / 1000)))
    triggers: list[Reading] = []
    for index in range(cycles):
        start = 10.0 + 20.0 * index
        end = start + data.draw(st.integers(2_000, 15_000), label="length") / 1000
        triggers += [("serial", f"SN-{index + 1}", ns(start)), ("start", True, ns(start)),
                     ("start", False, ns(start + 0.1)), ("done", True, ns(end)),
                     ("done", False, ns(end + 0.1))]
    return parameters, triggers


def _deliver(readings: Sequence[Reading], *, gap: tuple[int, int] | None = None,
             birth: Sequence[Reading] = ()) -> list[f.Fact]:
    """Feed a fresh layer and ledger a live cycle, then ``readings`` one at a time; its facts."""
    with tempfile.TemporaryDirectory() as directory:
        ledger = thread.open(str(Path(directory) / "ledger.db"), clock=Clock())
        layer = layer_on(ledger)
        run_cycle(layer, "SN-0", 1.0, 5.0, {"barrel_temp": [(2.0, 248.0), (6.0, 251.0)],
                                            "pressure": [(2.0, 800.0), (6.0, 801.0)]})
        layer.observe("vibration", 1.0, ns(0))      # silent afterwards: windows wait for it
        if gap is not None:
            layer.gap(*gap, "edge node went offline")
        for tag, value, stamp in [*readings, *birth]:
            layer.observe(tag, value, stamp)
            layer.write_ready()
        layer.flush()
        facts = [event.fact for _, event in ledger.scan()
                 if not isinstance(event.fact, (f.PartRegistered, f.MachineRegistered))]
        ledger.close()
    return sorted(facts, key=lambda fact: (fact.topic, repr(fact)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_interleaving_of_two_tags_within_the_horizon_records_what_order_would(
        data: st.DataObject) -> None:
    """Two tags' readings in any order within the unresolved horizon give the in-order records."""
    parameters, triggers = _region(data)
    in_order = sorted([*parameters, *triggers], key=lambda reading: reading[2])
    # Each tag even out of its own order; nothing they feed resolves meanwhile, since the
    # region's triggers arrive after them and the condition tags stay silent.
    shuffled = data.draw(st.permutations(parameters), label="arrival")
    expected = _deliver(in_order)
    assert _deliver([*shuffled, *triggers]) == expected
    assert _count(expected, f.ProcessRecorded) == 1 + len(triggers) // 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_backfill_order_after_an_outage_records_what_order_would(
        data: st.DataObject) -> None:
    """A backfilled outage in any order records what time order would, gap fact included."""
    parameters, triggers = _region(data)
    region = [*parameters, *triggers]
    gap = (ns(9), ns(80))
    birth: list[Reading] = [("serial", triggers[-5][1], ns(80)), ("start", False, ns(80)),
                            ("done", False, ns(80)), ("barrel_temp", 249.0, ns(80)),
                            ("pressure", 800.0, ns(80))]
    in_order = sorted(region, key=lambda reading: reading[2])
    # Triggers, serials and parameters alike, in any order, after the node's current values.
    backfill = data.draw(st.permutations(region), label="backfill")
    replayed = _deliver([*birth, *backfill], gap=gap)  # the node's current values come first
    assert replayed == _deliver(in_order, gap=gap, birth=birth)
    assert _count(replayed, f.ProcessRecorded) == 1 + len(triggers) // 5
    assert _count(replayed, f.ConditionRecorded) >= 1
    (gap_fact,) = [fact for fact in replayed if isinstance(fact, f.CollectionGapRecorded)]
    assert f"forwarded {len(region)} stored reading(s)" in gap_fact.reason


def _count(facts: list[f.Fact], kind: type[f.Fact]) -> int:
    return sum(isinstance(fact, kind) for fact in facts)
