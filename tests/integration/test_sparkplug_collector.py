"""The Sparkplug B collector on the real Mosquitto, against an edge node pysparkplug encodes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pysparkplug as sp
import pytest
from paho.mqtt import client as mqtt
from sparkplug_node import (
    WAIT,
    RecordingSink,
    SparkplugEdgeNode,
    StateWatcher,
    broker_or_skip,
    by_alias,
    metric,
    unique,
)

from thread.errors import LedgerError
from thread_adapters.mapping import ReadingRefused, UnitMismatch
from thread_adapters.sparkplug import BrokerUnreachable, SparkplugCollector

NODE_METRICS = [
    metric("Spindle/Speed", sp.DataType.DOUBLE, 12001.5, alias=1),
    metric("Cycle/Count", sp.DataType.UINT32, 41, alias=2),
    metric("Door/Open", sp.DataType.BOOLEAN, False, alias=3),
    metric("Program", sp.DataType.STRING, "BRG6204-IG", alias=4),
    metric("Coolant/Temp", sp.DataType.FLOAT, 21.5, alias=5),
    metric("Infeed/Offset", sp.DataType.INT16, -12, alias=6),
]
DEVICE_METRICS = {
    "Axis-X": [metric("Load", sp.DataType.FLOAT, 0.25, alias=1),
               metric("Position", sp.DataType.INT32, -100, alias=2)],
}


@pytest.fixture
def broker() -> tuple[str, int]:
    """The local Mosquitto, or a skip (a failure under THREAD_TEST_MQTT=1)."""
    return broker_or_skip()


@pytest.fixture
def sink() -> RecordingSink:
    """A sink that records every call."""
    return RecordingSink()


@pytest.fixture
def group() -> str:
    """A group id of this test's own."""
    return unique("grp")


@pytest.fixture
def state_watcher(broker: tuple[str, int]) -> Iterator[StateWatcher]:
    """Watches host applications' STATE; clears the retained ones it watched afterwards."""
    with StateWatcher(*broker) as watcher:
        yield watcher


@pytest.fixture
def collector(broker: tuple[str, int], sink: RecordingSink, group: str,
              state_watcher: StateWatcher) -> Iterator[SparkplugCollector]:
    """A started collector for edge node 'press-7' of this test's group."""
    host, port = broker
    host_id = unique("host")
    state_watcher.watch(host_id)
    collector = SparkplugCollector(sink, group=group, edge_node="press-7", host=host, port=port,
                                   host_id=host_id, client_id=unique("collector"),
                                   rebirth_interval_ns=0)
    collector.start()
    yield collector
    collector.stop()


@pytest.fixture
def node(collector: SparkplugCollector, group: str) -> Iterator[SparkplugEdgeNode]:
    """A connected edge node 'press-7' with a device, not yet born."""
    node = SparkplugEdgeNode(group, "press-7", NODE_METRICS, devices=DEVICE_METRICS, bd_seq=3)
    node.connect()
    yield node
    node.disconnect()


def rebirth_requested(command: sp.NCmd) -> bool:
    """Whether an NCMD carries Node Control/Rebirth = true."""
    return any(item.name == "Node Control/Rebirth" and item.value is True
               for item in command.metrics)


def test_birth_then_data_by_alias(node: SparkplugEdgeNode, sink: RecordingSink) -> None:
    """Birth values are readings; data sent by alias only resolves to the birth's names."""
    node.birth()
    assert sink.wait_for_tag("Spindle/Speed") == [12001.5]
    when = sp.get_current_timestamp() - 5
    node.data([by_alias(1, sp.DataType.DOUBLE, 11990.25, timestamp=when),
               by_alias(2, sp.DataType.UINT32, 42, timestamp=when),
               by_alias(3, sp.DataType.BOOLEAN, True, timestamp=when),
               by_alias(4, sp.DataType.STRING, "BRG6205-IG", timestamp=when),
               by_alias(5, sp.DataType.FLOAT, 22.75, timestamp=when),
               by_alias(6, sp.DataType.INT16, -32768, timestamp=when)])
    sink.wait_for_tag("Infeed/Offset", 2)
    latest = {tag: (value, at) for tag, value, at in sink.readings}
    assert latest == {
        "Spindle/Speed": (11990.25, when * 1_000_000),
        "Cycle/Count": (42, when * 1_000_000),
        "Door/Open": (True, when * 1_000_000),
        "Program": ("BRG6205-IG", when * 1_000_000),
        "Coolant/Temp": (22.75, when * 1_000_000),
        "Infeed/Offset": (-32768, when * 1_000_000),
        "Axis-X/Load": (0.25, latest["Axis-X/Load"][1]),
        "Axis-X/Position": (-100, latest["Axis-X/Position"][1]),
    }
    assert sink.gaps == []


def test_seq_gap_is_reported_and_the_node_asked_to_rebirth(node: SparkplugEdgeNode,
                                                           sink: RecordingSink) -> None:
    """A skipped seq is a gap with the lost count, and the node receives NCMD Rebirth."""
    node.birth()
    node.data([by_alias(2, sp.DataType.UINT32, 1)])
    sink.wait_for_tag("Cycle/Count", 2)
    node.skip(3)
    node.data([by_alias(2, sp.DataType.UINT32, 5)])
    sink.wait_for(lambda s: len(s.gaps) == 1, "the seq gap")
    assert sink.gaps[0].lost == 3
    assert "seq skipped" in sink.gaps[0].reason
    assert rebirth_requested(node.command())
    # The node answered with a new NBIRTH (seq 0): data after it is read without another gap.
    sink.wait_for_tag("Spindle/Speed", 2)
    node.data([by_alias(2, sp.DataType.UINT32, 6)])
    assert sink.wait_for_tag("Cycle/Count", 5)[-2:] == [41, 6]
    assert len(sink.gaps) == 1


def test_seq_wraps_from_255_to_0_without_a_gap(node: SparkplugEdgeNode,
                                               sink: RecordingSink) -> None:
    """Three hundred messages run seq past 255 and back through 0: nothing is lost."""
    node.birth()
    for count in range(300):
        node.data([by_alias(2, sp.DataType.UINT32, count)])
    values = sink.wait_for_tag("Cycle/Count", 301)
    assert values == [41, *range(300)]
    assert sink.gaps == []
    assert node.commands.empty()


def test_matching_ndeath_marks_the_node_offline_until_it_returns(
        node: SparkplugEdgeNode, sink: RecordingSink, collector: SparkplugCollector) -> None:
    """An NDEATH with the NBIRTH's bdSeq takes the node offline; its next NBIRTH closes a gap."""
    node.birth()
    sink.wait_for_tag("Spindle/Speed")
    node.death(3)
    node.bd_seq = 4
    node.birth()
    sink.wait_for(lambda s: len(s.gaps) == 1, "the offline gap")
    assert "offline" in sink.gaps[0].reason
    assert "bdSeq 3" in sink.gaps[0].reason
    assert sink.gaps[0].start_ns <= sink.gaps[0].end_ns
    assert collector.session.bd_seq == 4


def test_stale_ndeath_is_ignored(node: SparkplugEdgeNode, sink: RecordingSink,
                                 collector: SparkplugCollector) -> None:
    """An NDEATH carrying another bdSeq (an old connection's will) changes nothing."""
    node.birth()
    sink.wait_for_tag("Spindle/Speed")
    node.death(2)
    node.data([by_alias(1, sp.DataType.DOUBLE, 12010.0)])
    assert sink.wait_for_tag("Spindle/Speed", 2) == [12001.5, 12010.0]
    assert sink.gaps == []
    assert collector.session.online
    assert collector.stats().ignored_messages >= 1


def test_historical_metrics_keep_their_own_timestamps(node: SparkplugEdgeNode,
                                                      sink: RecordingSink,
                                                      collector: SparkplugCollector) -> None:
    """Store-and-forward metrics flagged historical are readings at the time they were taken."""
    node.birth()
    sink.wait_for_tag("Coolant/Temp")
    earlier = sp.get_current_timestamp() - 60_000
    node.data([by_alias(5, sp.DataType.FLOAT, 20.5, timestamp=earlier + 1_000, historical=True),
               by_alias(5, sp.DataType.FLOAT, 20.25, timestamp=earlier, historical=True)])
    sink.wait_for_tag("Coolant/Temp", 3)
    history = [(value, at) for tag, value, at in sink.readings if tag == "Coolant/Temp"][1:]
    assert history == [(20.25, earlier * 1_000_000), (20.5, (earlier + 1_000) * 1_000_000)]
    assert collector.stats().historical == 2


def test_device_data_and_device_death(node: SparkplugEdgeNode, sink: RecordingSink) -> None:
    """DDATA resolves the device's DBIRTH aliases; a DDEATH opens a gap its next DBIRTH closes."""
    node.birth()
    sink.wait_for_tag("Axis-X/Load")
    node.device_data("Axis-X", [by_alias(1, sp.DataType.FLOAT, 0.5),
                                by_alias(2, sp.DataType.INT32, 2_000_000)])
    assert sink.wait_for_tag("Axis-X/Position", 2) == [-100, 2_000_000]
    assert sink.values("Axis-X/Load") == [0.25, 0.5]
    node.device_death("Axis-X")
    node.device_birth("Axis-X")
    sink.wait_for(lambda s: len(s.gaps) == 1, "the device gap")
    assert "device Axis-X" in sink.gaps[0].reason
    assert sink.gaps[0].lost is None


def test_data_before_birth_is_dropped_and_a_rebirth_requested(node: SparkplugEdgeNode,
                                                              sink: RecordingSink) -> None:
    """Data from a node whose birth was missed is dropped: a rebirth, and a gap with the loss."""
    node.skip(17)
    node.data([by_alias(1, sp.DataType.DOUBLE, 1.0)])
    assert rebirth_requested(node.command())
    sink.wait_for(lambda s: len(s.gaps) == 1, "the gap closed by the answering NBIRTH")
    assert sink.gaps[0].lost == 1
    assert sink.wait_for_tag("Spindle/Speed") == [12001.5]


def test_unknown_alias_asks_for_rebirth(node: SparkplugEdgeNode, sink: RecordingSink) -> None:
    """An alias the NBIRTH did not define means the alias map is out of date: rebirth."""
    node.birth()
    sink.wait_for_tag("Spindle/Speed")
    node.data([by_alias(99, sp.DataType.DOUBLE, 1.0)])
    assert rebirth_requested(node.command())
    sink.wait_for_tag("Spindle/Speed", 2)
    assert len(sink.gaps) == 1
    assert "alias 99" in sink.gaps[0].reason
    assert sink.gaps[0].lost == 1


def test_collector_reconnects_and_records_the_gap(broker: tuple[str, int], sink: RecordingSink,
                                                 group: str,
                                                 state_watcher: StateWatcher) -> None:
    """When the broker drops the collector it reconnects, records a gap and asks for a rebirth."""
    host, port = broker
    client_id, host_id = unique("collector"), unique("host")
    state_watcher.watch(host_id)
    collector = SparkplugCollector(sink, group=group, edge_node="press-7", host=host, port=port,
                                   host_id=host_id, client_id=client_id)
    collector.start()
    node = SparkplugEdgeNode(group, "press-7", NODE_METRICS)
    try:
        node.connect()
        node.birth()
        sink.wait_for_tag("Spindle/Speed")
        # A second client with the same id takes the session over: the broker drops ours.
        intruder = mqtt.Client(client_id=client_id, clean_session=True)
        intruder.connect(host, port)
        intruder.loop_start()
        deadline = time.monotonic() + WAIT
        while collector.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        intruder.disconnect()
        intruder.loop_stop()
        assert rebirth_requested(node.command())
        sink.wait_for(lambda s: len(s.gaps) == 1, "the reconnection gap")
        assert "lost its connection" in sink.gaps[0].reason
        assert sink.wait_for_tag("Spindle/Speed", 2) == [12001.5, 12001.5]
        node.data([by_alias(1, sp.DataType.DOUBLE, 12002.0)])
        assert sink.wait_for_tag("Spindle/Speed", 3)[-1] == 12002.0
    finally:
        node.disconnect()
        collector.stop()


def test_host_state_is_published_and_the_sink_flushed_on_stop(broker: tuple[str, int],
                                                               sink: RecordingSink, group: str,
                                                               state_watcher: StateWatcher,
                                                               ) -> None:
    """The collector announces itself online in STATE, offline when it stops, and flushes."""
    host, port = broker
    host_id = unique("host")
    states = state_watcher.watch(host_id)
    collector = SparkplugCollector(sink, group=group, edge_node="press-7", host=host, port=port,
                                   host_id=host_id)
    collector.start()
    online = states.get(timeout=WAIT)
    assert online["online"] is True
    collector.stop()
    offline = states.get(timeout=WAIT)
    assert offline == {"online": False, "timestamp": online["timestamp"]}
    assert sink.flushes == 1


def test_pysparkplug_edge_node_class_is_collected(collector: SparkplugCollector,
                                                  sink: RecordingSink, group: str) -> None:
    """pysparkplug's own EdgeNode (its seq and births, not ours) is read correctly."""
    device = sp.Device("Axis-Y", [metric("Torque", sp.DataType.DOUBLE, 3.5)])
    edge = sp.EdgeNode(group, "press-7", [metric("Mode", sp.DataType.STRING, "auto"),
                                          metric("Parts", sp.DataType.UINT64, 2**40)])
    edge.register(device)
    edge.connect("127.0.0.1", port=1883)
    try:
        sink.wait_for_tag("Axis-Y/Torque")
        edge.update([metric("Parts", sp.DataType.UINT64, 2**40 + 1)])
        edge.update_device("Axis-Y", [metric("Torque", sp.DataType.DOUBLE, 4.25)])
        assert sink.wait_for_tag("Axis-Y/Torque", 2) == [3.5, 4.25]
        assert sink.values("Parts") == [2**40, 2**40 + 1]
        assert sink.values("Mode") == ["auto"]
        assert sink.gaps == []
    finally:
        edge.disconnect()


def test_unreachable_broker_is_an_actionable_error(sink: RecordingSink) -> None:
    """A broker that is not there is reported with its address and what to check."""
    collector = SparkplugCollector(sink, group="g", edge_node="n", host="127.0.0.1", port=1)
    with pytest.raises(BrokerUnreachable, match=r"127\.0\.0\.1:1.*broker host and port"):
        collector.start()


def test_datetime_metric_is_iso_text(node: SparkplugEdgeNode, sink: RecordingSink) -> None:
    """A DateTime metric arrives as ISO 8601 UTC text with milliseconds."""
    node.metrics.append(metric("Setup/Done", sp.DataType.DATETIME,
                               datetime(2026, 3, 2, 6, 0, 1, 250_000, tzinfo=UTC), alias=7))
    node.birth()
    assert sink.wait_for_tag("Setup/Done") == ["2026-03-02T06:00:01.250Z"]


class RefusingSink(RecordingSink):
    """A sink that refuses text readings, as the mapping layer does on a numeric tag."""

    def observe(self, tag: str, value: float | int | bool | str, at_ns: int) -> None:
        """Refuse text; keep the rest."""
        if isinstance(value, str):
            raise ReadingRefused(f"tag {tag!r} is a parameter in kN, but the reading is "
                                 f"{value!r}")
        super().observe(tag, value, at_ns)


class MisconfiguredSink(RecordingSink):
    """A sink whose tag map contradicts the source, which no later reading can mend."""

    def observe(self, tag: str, value: float | int | bool | str, at_ns: int) -> None:
        """Refuse everything as a configuration error."""
        raise UnitMismatch(f"parameter {tag!r} is in degF at the source but the tag map "
                           "declares Cel; correct the tag map or the source")


def run_in_thread(collector: SparkplugCollector, stop: threading.Event,
                  failures: list[BaseException]) -> threading.Thread:
    """Start ``collector.run`` on a thread of its own; what it raises goes to ``failures``."""

    def run() -> None:
        try:
            collector.run(stop, tick_seconds=0.05)
        except LedgerError as error:
            failures.append(error)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    return runner


def test_a_refused_reading_is_counted_and_collection_goes_on(
        broker: tuple[str, int], group: str, state_watcher: StateWatcher,
        caplog: pytest.LogCaptureFixture) -> None:
    """A refused reading is counted, logged and kept for the console; later messages are read."""
    host, port = broker
    host_id = unique("host")
    states = state_watcher.watch(host_id)
    sink = RefusingSink()
    collector = SparkplugCollector(sink, group=group, edge_node="press-7", host=host, port=port,
                                   host_id=host_id)
    stop, failures = threading.Event(), list[BaseException]()
    runner = run_in_thread(collector, stop, failures)
    node = SparkplugEdgeNode(group, "press-7", NODE_METRICS)
    try:
        assert states.get(timeout=WAIT)["online"] is True
        node.connect()
        with caplog.at_level(logging.WARNING):
            node.birth()                          # its Program metric is text: refused
            node.data([by_alias(2, sp.DataType.UINT32, 42)])
            assert sink.wait_for_tag("Cycle/Count", 2) == [41, 42]
        assert sink.values("Spindle/Speed") == [12001.5]
        assert collector.stats().refused_readings == 1
        (refusal,) = collector.take_refusals()
        assert "reading of Program = 'BRG6204-IG'" in refusal and "refused" in refusal
        assert "reading of Program = 'BRG6204-IG'" in caplog.text
        assert collector.take_refusals() == []
    finally:
        stop.set()
        runner.join(WAIT)
        node.disconnect()
    assert not runner.is_alive()
    assert failures == []
    assert sink.flushes == 1


def test_an_error_that_makes_collection_meaningless_stops_run(
        broker: tuple[str, int], group: str, state_watcher: StateWatcher) -> None:
    """A configuration error from the sink stops run(), which flushes, says offline and raises."""
    host, port = broker
    host_id = unique("host")
    states = state_watcher.watch(host_id)
    sink = MisconfiguredSink()
    collector = SparkplugCollector(sink, group=group, edge_node="press-7", host=host, port=port,
                                   host_id=host_id)
    stop, failures = threading.Event(), list[BaseException]()
    runner = run_in_thread(collector, stop, failures)
    node = SparkplugEdgeNode(group, "press-7", NODE_METRICS)
    try:
        assert states.get(timeout=WAIT)["online"] is True
        node.connect()
        node.birth()
        runner.join(WAIT)
    finally:
        stop.set()
        runner.join(WAIT)
        node.disconnect()
    assert not runner.is_alive()
    assert [type(failure) for failure in failures] == [UnitMismatch]
    assert "'Spindle/Speed' is in degF" in str(failures[0])
    assert sink.flushes == 1
    assert states.get(timeout=WAIT)["online"] is False
