"""End to end: a pysparkplug edge node, Mosquitto, the collector, the mapping layer, the ledger."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
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


@pytest.fixture
def press(tag_map_text: str) -> Iterator[SparkplugEdgeNode]:
    """The press's edge node (not connected): the part-tracking metrics on device 'Press'."""
    group = parse_tag_map(tag_map_text).connection["sparkplug"]["group"]
    start = BIRTH_MS
    node = SparkplugEdgeNode(
        group, "press-7", [metric("Mode", sp.DataType.STRING, "auto", alias=1, timestamp=start)],
        devices={"Press": [
            metric("Part/Serial", sp.DataType.STRING, "", alias=1, timestamp=start),
            metric("Cycle/Start", sp.DataType.BOOLEAN, False, alias=2, timestamp=start),
            metric("Cycle/Complete", sp.DataType.BOOLEAN, False, alias=3, timestamp=start),
            metric("Ram/Force", sp.DataType.DOUBLE, 0.0, alias=4, timestamp=start)]},
        answer_rebirth=False)
    yield node
    node.disconnect()


def run_press(node: SparkplugEdgeNode) -> dict[str, tuple[int, int]]:
    """Birth, one cycle per part, a lost stretch; returns each part's cycle (start, end) in ms.

    Ends with a skipped seq: the rebirth request that answers it proves the collector
    has handled everything published before.
    """
    node.birth()
    windows: dict[str, tuple[int, int]] = {}
    at = BIRTH_MS + 1_000
    for serial, forces in CYCLES.items():
        node.device_data("Press", [by_alias(1, sp.DataType.STRING, serial, timestamp=at),
                                   by_alias(2, sp.DataType.BOOLEAN, True, timestamp=at)])
        for step, force in enumerate(forces, start=1):
            node.device_data("Press", [by_alias(4, sp.DataType.DOUBLE, force,
                                                timestamp=at + 100 * step)])
        end = at + 100 * (len(forces) + 1)
        node.device_data("Press", [by_alias(3, sp.DataType.BOOLEAN, True, timestamp=end)])
        node.device_data("Press", [by_alias(2, sp.DataType.BOOLEAN, False, timestamp=end + 50),
                                   by_alias(3, sp.DataType.BOOLEAN, False, timestamp=end + 50)])
        windows[serial] = (at, end)
        at += 5_000
    node.skip(2)
    node.data([by_alias(1, sp.DataType.STRING, "manual", timestamp=at)])
    command = node.command()
    assert [item.name for item in command.metrics] == ["Node Control/Rebirth"]
    return windows


def check_ledger(path: Path, windows: dict[str, tuple[int, int]]) -> None:
    """The ledger holds one process record per part with exactly the published forces."""
    ledger = thread.open(str(path))
    try:
        for serial, forces in CYCLES.items():
            events = ledger.history(serial)
            assert [event.topic for event in events] == [
                "manufacturing.part-registered", "manufacturing.process-recorded"]
            record = events[1].fact
            assert isinstance(record, f.ProcessRecorded)
            assert (record.machine, record.operation) == ("PRESS-7", "OP10-press")
            start, end = windows[serial]
            assert (record.started_at.timestamp() * 1000, record.ended_at.timestamp() * 1000) == (
                pytest.approx(start), pytest.approx(end))
            (force,) = record.parameters
            assert (force.name, force.unit, force.n, force.min, force.max) == (
                "force", "kN", len(forces), min(forces), max(forces))
            assert force.mean == pytest.approx(sum(forces) / len(forces))
        gaps = [event.fact for event in ledger.history_of("machine", "PRESS-7")
                if isinstance(event.fact, f.CollectionGapRecorded)]
        assert [(gap.protocol, gap.lost_messages) for gap in gaps] == [("sparkplug", 2)]
        assert "seq skipped" in gaps[0].reason
    finally:
        ledger.close()


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
    """thread collect sparkplug records what the press publishes, and stops cleanly on SIGTERM."""
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
        windows = run_press(press)
        command.send_signal(signal.SIGTERM)
        out, err = command.communicate(timeout=WAIT)
    finally:
        if command.poll() is None:
            command.kill()
            command.communicate()
    assert command.returncode == 0, err
    summary = json.loads(out)
    assert (summary["process_records"], summary["gaps"], summary["lost_messages"]) == (2, 1, 2)
    assert summary["readings"] >= 20
    check_ledger(tmp_path / "ledger.db", windows)
