"""End to end: a pysparkplug edge node, Mosquitto, the collector, the mapping layer, the ledger."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pysparkplug as sp
import pytest
from sparkplug_node import (
    WAIT,
    SparkplugEdgeNode,
    StateWatcher,
    broker_or_skip,
    by_alias,
    metric,
    unique,
)

import thread
from thread import facts as f
from thread_adapters.mapping import MappingLayer
from thread_adapters.samples import decode
from thread_adapters.sparkplug.config import collector_for
from thread_adapters.tagmap import TagMap, parse_tag_map

MAP = """\
[machine]
id = "PRESS-7"
name = "Press 7"
kind = "press"
register = true

[connection.sparkplug]
host = "{host}"
port = {port}
group = "{group}"
edge_node = "press-7"
device = "Press"
host_id = "{host_id}"
rebirth_interval_s = 0

[part]
operation = "OP10-press"
register = "undocumented"
part_number = "BRK-100"
revision = "A"
hold_value_at_start = false

[tags.serial]
kind = "serial"
sparkplug.metric = "Part/Serial"

[tags.start]
kind = "cycle-start"
sparkplug.metric = "Cycle/Start"

[tags.done]
kind = "cycle-complete"
sparkplug.metric = "Cycle/Complete"

[tags.force]
unit = "kN"
sparkplug.metric = "Ram/Force"
"""

#: What the press publishes per part: its serial and the ram force during the cycle.
CYCLES = {"SN-1": [10.0, 12.0, 11.0], "SN-2": [20.5, 22.0]}

#: The source time (ms) of the press's birth values; its cycles follow.
BIRTH_MS = 1_772_431_200_000


@pytest.fixture
def broker() -> tuple[str, int]:
    """The local Mosquitto, or a skip (a failure under THREAD_TEST_MQTT=1)."""
    return broker_or_skip()


@pytest.fixture
def tag_map_text(broker: tuple[str, int]) -> str:
    """The press's tag map, for a group and host id of this test's own."""
    host, port = broker
    return MAP.format(host=host, port=port, group=unique("grp"), host_id=unique("host"))


@pytest.fixture
def state_watcher(broker: tuple[str, int]) -> Iterator[StateWatcher]:
    """Watches host applications' STATE on the broker; clears what it watched afterwards."""
    with StateWatcher(*broker) as watcher:
        yield watcher


def press_node(group: str, at_ms: int, *, bd_seq: int = 0, serial: str = "",
               force: float = 0.0) -> SparkplugEdgeNode:
    """The press's edge node (not connected), its birth values taken at ``at_ms``."""
    return SparkplugEdgeNode(
        group, "press-7", [metric("Mode", sp.DataType.STRING, "auto", alias=1, timestamp=at_ms)],
        devices={"Press": [
            metric("Part/Serial", sp.DataType.STRING, serial, alias=1, timestamp=at_ms),
            metric("Cycle/Start", sp.DataType.BOOLEAN, False, alias=2, timestamp=at_ms),
            metric("Cycle/Complete", sp.DataType.BOOLEAN, False, alias=3, timestamp=at_ms),
            metric("Ram/Force", sp.DataType.DOUBLE, force, alias=4, timestamp=at_ms)]},
        bd_seq=bd_seq, answer_rebirth=False)


@pytest.fixture
def press(tag_map_text: str) -> Iterator[SparkplugEdgeNode]:
    """The press's edge node (not connected): the part-tracking metrics on device 'Press'."""
    node = press_node(parse_tag_map(tag_map_text).connection["sparkplug"]["group"], BIRTH_MS)
    yield node
    node.disconnect()


def publish_cycle(node: SparkplugEdgeNode, serial: str, forces: list[float], at: int, *,
                  historical: bool = False, refused: str | None = None) -> tuple[int, int]:
    """One part through the press as DDATA messages from ``at`` (ms); returns (start, end).

    ``historical`` flags every metric as store-and-forward history; ``refused`` adds a
    text reading of the ram force in the middle, which the force's tag cannot hold.
    """
    def data(*metrics: tuple[int, sp.DataType, sp.MetricValue, int]) -> None:
        node.device_data("Press", [by_alias(alias, kind, value, timestamp=when,
                                            historical=historical)
                                   for alias, kind, value, when in metrics])

    data((1, sp.DataType.STRING, serial, at), (2, sp.DataType.BOOLEAN, True, at))
    for step, force in enumerate(forces, start=1):
        data((4, sp.DataType.DOUBLE, force, at + 100 * step))
        if refused is not None and step == 1:
            data((4, sp.DataType.STRING, refused, at + 100 * step + 50))
    end = at + 100 * (len(forces) + 1)
    data((3, sp.DataType.BOOLEAN, True, end))
    data((2, sp.DataType.BOOLEAN, False, end + 50), (3, sp.DataType.BOOLEAN, False, end + 50))
    return at, end


def readings_of(forces: list[float]) -> int:
    """How many readings ``publish_cycle`` sends for a part with these forces."""
    return 2 + len(forces) + 1 + 2


def run_press(node: SparkplugEdgeNode, *, refused: str | None = None
              ) -> dict[str, tuple[int, int]]:
    """Birth, one cycle per part, a lost stretch; returns each part's cycle (start, end) in ms.

    Ends with a skipped seq: the rebirth request that answers it proves the collector
    has handled everything published before.
    """
    node.birth()
    windows: dict[str, tuple[int, int]] = {}
    at = BIRTH_MS + 1_000
    for serial, forces in CYCLES.items():
        windows[serial] = publish_cycle(node, serial, forces, at,
                                        refused=refused if serial == "SN-1" else None)
        at += 5_000
    node.skip(2)
    node.data([by_alias(1, sp.DataType.STRING, "manual", timestamp=at)])
    command = node.command()
    assert [item.name for item in command.metrics] == ["Node Control/Rebirth"]
    return windows


def check_records(ledger: thread.Ledger, cycles: dict[str, list[float]],
                  windows: dict[str, tuple[int, int]]) -> None:
    """One process record per part, with exactly the published cycle and forces."""
    for serial, forces in cycles.items():
        events = ledger.history(serial)
        assert [event.topic for event in events] == [
            "manufacturing.part-registered", "manufacturing.process-recorded"]
        record = events[1].fact
        assert isinstance(record, f.ProcessRecorded)
        assert (record.machine, record.operation) == ("PRESS-7", "OP10-press")
        start, end = windows[serial]
        assert (record.started_at, record.ended_at) == (moment(start), moment(end))
        (force,) = record.parameters
        assert (force.name, force.unit, force.n, force.min, force.max) == (
            "force", "kN", len(forces), min(forces), max(forces))
        assert force.mean == pytest.approx(sum(forces) / len(forces))
        assert force.samples is not None
        assert decode(force.samples).values.tolist() == pytest.approx(forces)


def gaps_of(ledger: thread.Ledger) -> list[f.CollectionGapRecorded]:
    """The press's collection gaps, in the order written."""
    return [event.fact for event in ledger.history_of("machine", "PRESS-7")
            if isinstance(event.fact, f.CollectionGapRecorded)]


def check_ledger(path: Path, windows: dict[str, tuple[int, int]]) -> None:
    """The ledger holds one process record per part with exactly the published forces."""
    ledger = thread.open(str(path))
    try:
        check_records(ledger, CYCLES, windows)
        gaps = gaps_of(ledger)
        assert [(gap.protocol, gap.lost_messages) for gap in gaps] == [("sparkplug", 2)]
        assert "seq skipped" in gaps[0].reason
    finally:
        ledger.close()


def moment(ms: int) -> datetime:
    """A Sparkplug time in ms as the ledger holds it."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def wait_until(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` for up to WAIT seconds; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT:g} s waiting for {what}")
        time.sleep(0.05)


class Collecting:
    """The press's collector running in a thread as ``thread collect sparkplug`` runs it."""

    def __init__(self, tag_map: TagMap, path: Path) -> None:
        self.path = path
        self.ledger = thread.open(str(path))
        self.layer = MappingLayer(self.ledger, tag_map, protocol="sparkplug")
        self.collector = collector_for(tag_map, self.layer)
        self.stop = threading.Event()
        self.failures: list[BaseException] = []
        self._runner = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.collector.run(self.stop, tick_seconds=0.05)
        except BaseException as error:  # handed to the test thread
            self.failures.append(error)

    def __enter__(self) -> Collecting:
        self._runner.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self._runner.join(WAIT)
        assert not self._runner.is_alive(), "the collector did not stop"
        self.layer.close()
        self.ledger.close()
        assert self.failures == []

    def written(self, kind: type[f.Fact]) -> int:
        """How many facts of ``kind`` the ledger holds now, read on a connection of the test's."""
        reader = thread.open(str(self.path))
        try:
            return sum(1 for _ in reader.scan(topics=[kind.topic]))
        finally:
            reader.close()

    def handled(self, messages: int) -> None:
        """Wait until the collector has handled ``messages`` messages of the node."""
        wait_until(lambda: self.collector.stats().messages >= messages,
                   f"{messages} messages to reach the collector")


def test_edge_node_to_ledger_through_the_mapping_layer(tag_map_text: str,
                                                       press: SparkplugEdgeNode,
                                                       state_watcher: StateWatcher,
                                                       tmp_path: Path) -> None:
    """What the press publishes over Sparkplug B lands as process records and a gap fact."""
    tag_map: TagMap = parse_tag_map(tag_map_text)
    state_watcher.watch(tag_map.connection["sparkplug"]["host_id"])
    ledger = thread.open(str(tmp_path / "ledger.db"))
    layer = MappingLayer(ledger, tag_map, protocol="sparkplug")
    collector = collector_for(tag_map, layer)
    collector.start()
    try:
        press.connect()
        windows = run_press(press)
    finally:
        collector.stop()
        layer.close()
        ledger.close()
    assert layer.stats().process_records == 2
    check_ledger(tmp_path / "ledger.db", windows)


def test_collect_command_runs_until_sigterm_and_writes_everything(
        tag_map_text: str, press: SparkplugEdgeNode, state_watcher: StateWatcher,
        tmp_path: Path) -> None:
    """thread collect sparkplug records the press, prints a refused reading, stops on SIGTERM."""
    map_file = tmp_path / "press.toml"
    map_file.write_text(tag_map_text, encoding="utf-8")
    settings = parse_tag_map(tag_map_text).connection["sparkplug"]
    online = state_watcher.watch(settings["host_id"])
    command = subprocess.Popen(
        [str(Path(sys.executable).with_name("thread")), "--db", str(tmp_path / "ledger.db"),
         "collect", "sparkplug", "--map", str(map_file), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Like an edge node waiting for its primary host: publish once the host is online.
        assert online.get(timeout=WAIT)["online"] is True
        press.connect()
        windows = run_press(press, refused="jammed")
        command.send_signal(signal.SIGTERM)
        out, err = command.communicate(timeout=WAIT)
    finally:
        if command.poll() is None:
            command.kill()
            command.communicate()
    assert command.returncode == 0, err
    summary = json.loads(out)
    assert (summary["process_records"], summary["gaps"], summary["lost_messages"]) == (2, 1, 2)
    assert (summary["refused_readings"], summary["refused_records"]) == (1, 0)
    assert summary["readings"] >= 20
    refusals = [line for line in err.splitlines() if line.startswith("refused")]
    assert len(refusals) == 1 and "Press/Ram/Force = 'jammed'" in refusals[0], err
    check_ledger(tmp_path / "ledger.db", windows)


#: The press's tag map with a shorter wait for late readings and timed writes.
QUICK = """
[collection]
settle_s = 1
write_every_s = 0.2
"""

#: What the press makes while its edge node is cut off: kept in its store-and-forward buffer.
STORED = {"SN-3": [30.5, 31.0, 29.75, 30.25], "SN-4": [40.0, 41.5]}


@pytest.mark.parametrize("outage", ["ndeath", "dropped"])
def test_store_and_forward_history_after_an_outage_is_recorded(
        tag_map_text: str, press: SparkplugEdgeNode, state_watcher: StateWatcher,
        tmp_path: Path, outage: str) -> None:
    """After an outage the node's stored history lands as published; the gap says so."""
    tag_map = parse_tag_map(tag_map_text + QUICK)
    settings = tag_map.connection["sparkplug"]
    online = state_watcher.watch(settings["host_id"])
    with Collecting(tag_map, tmp_path / "ledger.db") as run:
        assert online.get(timeout=WAIT)["online"] is True
        press.connect()
        press.birth()
        windows = {serial: publish_cycle(press, serial, forces, BIRTH_MS + 1_000 + 5_000 * index)
                   for index, (serial, forces) in enumerate(CYCLES.items())}
        last_live = windows["SN-2"][1] + 50
        run.handled(2 + sum(len(forces) + 3 for forces in CYCLES.values()))
        # Offline by its own NDEATH, or by a network failure the broker answers with its will.
        if outage == "ndeath":
            press.death()
            press.disconnect()
        else:
            press.drop()
        wait_until(lambda: not run.collector.session.online, "the node to go offline")
        # The buffer: what the press made meanwhile, as the node will publish it.
        stored = {serial: BIRTH_MS + 11_000 + 5_000 * index
                  for index, serial in enumerate(STORED)}
        back_ms = BIRTH_MS + 30_000
        back = press_node(settings["group"], back_ms, bd_seq=1, serial="SN-4", force=0.5)
        try:
            back.connect()
            back.birth()                                  # current values first ...
            for serial, at in stored.items():             # ... then the history
                windows[serial] = publish_cycle(back, serial, STORED[serial], at,
                                                historical=True)
            history = sum(readings_of(forces) for forces in STORED.values())
            wait_until(lambda: run.collector.stats().historical >= history,
                       "the history to reach the collector")
            # Written by the collector's timed writes, once the backfill has settled.
            wait_until(lambda: run.written(f.ProcessRecorded) == 4, "all four process records")
            wait_until(lambda: run.written(f.CollectionGapRecorded) == 1, "the gap fact")
        finally:
            back.disconnect()
        records = run.layer.stats()
    assert (records.backfilled, records.late, records.refused) == (history, 0, 0)
    ledger = thread.open(str(tmp_path / "ledger.db"))
    try:
        check_records(ledger, {**CYCLES, **STORED}, windows)
        (gap,) = gaps_of(ledger)
        assert (gap.gap_start, gap.gap_end) == (moment(last_live), moment(back_ms))
        first, last = windows["SN-3"][0], windows["SN-4"][1] + 50
        assert gap.reason == (
            f"edge node went offline (NDEATH, bdSeq 0); backfilled afterwards: the source "
            f"forwarded {history} stored reading(s) taken from "
            f"{moment(first).isoformat(timespec='milliseconds')} to "
            f"{moment(last).isoformat(timespec='milliseconds')} within this stretch, merged "
            f"into the records by their source time")
        assert (gap.protocol, gap.lost_messages) == ("sparkplug", None)
    finally:
        ledger.close()


def test_a_completed_cycle_on_an_idle_machine_is_written_without_a_flush(
        tag_map_text: str, press: SparkplugEdgeNode, state_watcher: StateWatcher,
        tmp_path: Path) -> None:
    """An idle press's last cycle is written by the timed writes while collection runs."""
    tag_map = parse_tag_map(tag_map_text + QUICK)
    online = state_watcher.watch(tag_map.connection["sparkplug"]["host_id"])
    with Collecting(tag_map, tmp_path / "ledger.db") as run:
        assert online.get(timeout=WAIT)["online"] is True
        press.connect()
        press.birth()
        forces = CYCLES["SN-1"]
        window = publish_cycle(press, "SN-1", forces, BIRTH_MS + 1_000)
        run.handled(2 + len(forces) + 3)
        wait_until(lambda: run.written(f.ProcessRecorded) == 1, "the idle press's last cycle")
        ledger = thread.open(str(tmp_path / "ledger.db"))
        try:
            check_records(ledger, {"SN-1": forces}, {"SN-1": window})
        finally:
            ledger.close()


def test_a_refused_reading_does_not_stop_collection(
        tag_map_text: str, press: SparkplugEdgeNode, state_watcher: StateWatcher,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A refused text force is counted and logged; both parts' cycles are still recorded."""
    tag_map = parse_tag_map(tag_map_text + QUICK)
    online = state_watcher.watch(tag_map.connection["sparkplug"]["host_id"])
    with caplog.at_level(logging.WARNING), Collecting(tag_map, tmp_path / "ledger.db") as run:
        assert online.get(timeout=WAIT)["online"] is True
        press.connect()
        press.birth()
        windows = {serial: publish_cycle(press, serial, forces, BIRTH_MS + 1_000 + 5_000 * index,
                                         refused="jammed" if serial == "SN-1" else None)
                   for index, (serial, forces) in enumerate(CYCLES.items())}
        wait_until(lambda: run.written(f.ProcessRecorded) == 2, "both process records")
        assert run.collector.stats().refused_readings == 1
        (refusal,) = run.collector.take_refusals()
    assert "reading of Press/Ram/Force = 'jammed'" in refusal
    assert "tag 'force' is a parameter in kN" in refusal
    assert "reading of Press/Ram/Force = 'jammed'" in caplog.text
    ledger = thread.open(str(tmp_path / "ledger.db"))
    try:
        check_records(ledger, CYCLES, windows)
    finally:
        ledger.close()
