"""The Sparkplug B session state machine, fed pysparkplug-encoded payloads with no network."""

from __future__ import annotations

from collections.abc import Callable

import pysparkplug as sp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sparkplug_node import EdgePayload, RecordingSink, by_alias, metric

from thread_adapters.sparkplug import SparkplugError, SparkplugSession
from thread_adapters.sparkplug.session import RebirthRequest

GROUP, NODE = "plant-7", "grinder-2"
T0 = 1_772_431_200_000  # 2026-03-02 06:00 UTC, in Sparkplug milliseconds


def topic(kind: str, device: str | None = None) -> str:
    """The topic of one of this node's messages."""
    return f"spBv1.0/{GROUP}/{kind}/{NODE}" + (f"/{device}" if device else "")


class Node:
    """Feeds a session what an edge node would publish, encoded by pysparkplug."""

    def __init__(self, session: SparkplugSession) -> None:
        self.session = session
        self.seq = 0
        self.clock = T0
        self.requests: list[RebirthRequest] = []

    def send(self, kind: str, payload: EdgePayload, device: str | None = None) -> None:
        """Deliver one message to the session, one second after the previous one."""
        self.clock += 1_000
        raw = payload.encode(include_dtypes=True)
        self.requests += self.session.handle(topic(kind, device), raw, self.clock * 1_000_000)

    def next_seq(self) -> int:
        seq, self.seq = self.seq, (self.seq + 1) % 256
        return seq

    def birth(self, bd_seq: int = 0, metrics: tuple[sp.Metric, ...] | None = None) -> None:
        self.seq = 0
        metrics = metrics if metrics is not None else (
            metric("Speed", sp.DataType.DOUBLE, 100.0, alias=1, timestamp=self.clock + 1_000),
            metric("Count", sp.DataType.UINT16, 7, alias=2, timestamp=self.clock + 1_000))
        self.send("NBIRTH", sp.NBirth(
            timestamp=self.clock + 1_000, seq=self.next_seq(),
            metrics=(*metrics, metric("bdSeq", sp.DataType.INT64, bd_seq),
                     metric("Node Control/Rebirth", sp.DataType.BOOLEAN, False))))

    def data(self, *metrics: sp.Metric, seq: int | None = None) -> None:
        self.send("NDATA", sp.NData(timestamp=self.clock + 1_000,
                                    seq=self.next_seq() if seq is None else seq,
                                    metrics=metrics or (self.count(1),)))

    def count(self, value: int) -> sp.Metric:
        return by_alias(2, sp.DataType.UINT16, value, timestamp=self.clock + 1_000)

    def death(self, bd_seq: int) -> None:
        self.send("NDEATH", sp.NDeath(timestamp=T0,
                                      bd_seq_metric=metric("bdSeq", sp.DataType.INT64, bd_seq)))

    def device(self, kind: str, device: str, *metrics: sp.Metric) -> None:
        now = self.clock + 1_000
        payloads: dict[str, Callable[[], EdgePayload]] = {
            "DBIRTH": lambda: sp.DBirth(timestamp=now, seq=self.next_seq(), metrics=metrics),
            "DDATA": lambda: sp.DData(timestamp=now, seq=self.next_seq(), metrics=metrics),
            "DDEATH": lambda: sp.DDeath(timestamp=now, seq=self.next_seq())}
        self.send(kind, payloads[kind](), device)


@pytest.fixture
def sink() -> RecordingSink:
    """A sink that records every call."""
    return RecordingSink()


@pytest.fixture
def node(sink: RecordingSink) -> Node:
    """A session with no rebirth rate limit, and the node that feeds it."""
    return Node(SparkplugSession(sink, group=GROUP, edge_node=NODE, rebirth_interval_ns=0))


def test_birth_values_are_readings_and_protocol_metrics_are_not(node: Node,
                                                               sink: RecordingSink) -> None:
    """NBIRTH metrics become readings at their timestamps; bdSeq and Node Control do not."""
    node.birth(bd_seq=4)
    assert sink.readings == [("Speed", 100.0, (T0 + 1_000) * 1_000_000),
                             ("Count", 7, (T0 + 1_000) * 1_000_000)]
    assert node.session.online
    assert node.session.bd_seq == 4


def test_data_without_metric_timestamp_takes_the_payload_time(node: Node,
                                                              sink: RecordingSink) -> None:
    """A metric with no timestamp of its own is read at the payload's timestamp."""
    node.birth()
    node.send("NDATA", sp.NData(timestamp=T0 + 50_000, seq=node.next_seq(), metrics=(
        sp.Metric(timestamp=None, name=None, alias=1, datatype=sp.DataType.DOUBLE,
                  value=99.5),)))
    assert sink.readings[-1] == ("Speed", 99.5, (T0 + 50_000) * 1_000_000)


def test_seq_gap_reports_the_lost_count_and_requests_rebirth(node: Node,
                                                             sink: RecordingSink) -> None:
    """Seq 1 then 5 is a gap of three lost messages, and a rebirth request."""
    node.birth()
    node.data()
    node.data(seq=5)
    assert [(gap.lost, gap.reason) for gap in sink.gaps] == [
        (3, "seq skipped from 2 to 5: 3 messages lost")]
    assert sink.gaps[0].start_ns < sink.gaps[0].end_ns
    assert [request.reason for request in node.requests] == ["seq skipped from 2 to 5"]
    assert sink.values("Count") == [7, 1, 1], "readings continue after a seq gap"


def test_gaps_are_placed_on_the_readings_timeline(node: Node, sink: RecordingSink) -> None:
    """A gap runs from the last reading before it to the first live reading after it."""
    node.birth()
    node.data(by_alias(2, sp.DataType.UINT16, 1, timestamp=T0 - 60_000))
    node.data(by_alias(2, sp.DataType.UINT16, 2, timestamp=T0 - 30_000, historical=True),
              by_alias(2, sp.DataType.UINT16, 3, timestamp=T0 + 500), seq=7)
    assert [(gap.start_ns, gap.end_ns) for gap in sink.gaps] == [
        ((T0 + 1_000) * 1_000_000, (T0 + 1_000) * 1_000_000)], "never ends before it starts"
    node.data(by_alias(2, sp.DataType.UINT16, 4, timestamp=T0 + 90_000), seq=9)
    assert (sink.gaps[1].start_ns, sink.gaps[1].end_ns) == (
        (T0 + 1_000) * 1_000_000, (T0 + 90_000) * 1_000_000)


def test_rebirth_requests_are_rate_limited(sink: RecordingSink) -> None:
    """Gaps within the rebirth interval ask only once; after an NBIRTH the next gap asks again."""
    node = Node(SparkplugSession(sink, group=GROUP, edge_node=NODE,
                                 rebirth_interval_ns=60_000_000_000))
    node.birth()
    node.data(seq=3)
    node.data(seq=9)
    assert len(sink.gaps) == 2
    assert len(node.requests) == 1
    node.birth()
    node.data(seq=4)
    assert len(node.requests) == 2


def test_stale_ndeath_is_ignored_and_matching_one_takes_the_node_offline(
        node: Node, sink: RecordingSink) -> None:
    """Only the NDEATH with the current bdSeq counts; the next NBIRTH closes the offline gap."""
    node.birth(bd_seq=8)
    node.death(7)
    assert node.session.online
    node.death(8)
    assert not node.session.online
    node.data()  # nothing can be read while offline
    assert len(sink.readings) == 2
    node.birth(bd_seq=9)
    assert len(sink.gaps) == 1
    gap = sink.gaps[0]
    assert gap.reason == "edge node went offline (NDEATH, bdSeq 8)"
    assert gap.start_ns == (T0 + 1_000) * 1_000_000  # the last message before the death
    assert gap.lost == 1
    assert node.session.stats.ignored_messages == 1


def test_new_bdseq_without_a_death_is_a_gap(node: Node, sink: RecordingSink) -> None:
    """An NBIRTH with a new bdSeq while online means the old connection died unseen."""
    node.birth(bd_seq=1)
    node.birth(bd_seq=2)
    assert [gap.reason for gap in sink.gaps] == [
        "edge node reconnected (bdSeq 1 to 2) without a death certificate reaching the "
        "collector"]
    node.birth(bd_seq=2)
    assert len(sink.gaps) == 1, "a rebirth in the same connection loses nothing"


def test_data_before_birth_counts_what_was_dropped(node: Node, sink: RecordingSink) -> None:
    """Messages before any NBIRTH are dropped, a rebirth asked, and the NBIRTH records the loss."""
    node.seq = 40
    node.data()
    node.data()
    assert sink.readings == []
    assert len(node.requests) == 2
    node.birth()
    assert [gap.lost for gap in sink.gaps] == [2]
    assert sink.gaps[0].start_ns == (T0 + 1_000) * 1_000_000


def test_unknown_alias_and_unknown_device_need_a_rebirth(node: Node,
                                                         sink: RecordingSink) -> None:
    """An alias or device the births do not define stops reading until the next NBIRTH."""
    node.birth()
    node.data(by_alias(77, sp.DataType.DOUBLE, 1.0))
    assert not node.session.online
    assert node.requests[-1].reason == "metric alias 77 is not defined in the NBIRTH"
    node.birth()
    node.device("DDATA", "Axis-Z", by_alias(1, sp.DataType.FLOAT, 1.0))
    assert node.requests[-1].reason == "DDATA from device Axis-Z, which has no DBIRTH"
    assert [gap.lost for gap in sink.gaps] == [1]
    node.birth()
    assert [gap.lost for gap in sink.gaps] == [1, 1]


def test_a_message_is_delivered_whole_or_not_at_all(node: Node, sink: RecordingSink) -> None:
    """When one alias of a message is unknown, none of its metrics are delivered."""
    node.birth()
    node.data(node.count(9), by_alias(77, sp.DataType.DOUBLE, 1.0))
    assert sink.values("Count") == [7]


def test_device_tags_and_device_death(node: Node, sink: RecordingSink) -> None:
    """Device metrics are tagged device/metric; a DDEATH opens a gap the next DBIRTH closes."""
    node.birth()
    load = metric("Load", sp.DataType.FLOAT, 0.5, alias=1, timestamp=T0)
    node.device("DBIRTH", "Axis-X", load)
    node.device("DDATA", "Axis-X", by_alias(1, sp.DataType.FLOAT, 0.75, timestamp=T0 + 1))
    node.device("DDEATH", "Axis-X")
    node.device("DDATA", "Axis-X", by_alias(1, sp.DataType.FLOAT, 0.75))  # after its death
    assert node.requests[-1].reason == "DDATA from device Axis-X, which has no DBIRTH"
    node.birth()
    node.device("DBIRTH", "Axis-X", load)
    node.device("DDEATH", "Axis-X")
    node.device("DBIRTH", "Axis-X", load)
    assert sink.values("Axis-X/Load") == [0.5, 0.75, 0.5, 0.5]
    assert [gap.reason for gap in sink.gaps][-1] == "device Axis-X was offline (DDEATH)"


def test_connection_loss_waits_for_a_birth(node: Node, sink: RecordingSink) -> None:
    """After the collector loses the broker, data waits for an NBIRTH; the gap spans the outage."""
    node.birth()
    node.session.connection_lost((T0 + 3_000) * 1_000_000)
    requests = node.session.connected((T0 + 4_000) * 1_000_000)
    assert [request.reason for request in requests] == ["collector connected to the broker"]
    node.data()
    node.birth()
    assert [(gap.reason, gap.lost) for gap in sink.gaps] == [
        ("collector lost its connection to the broker", 1)]
    assert sink.gaps[0].start_ns == (T0 + 1_000) * 1_000_000


def test_close_records_a_gap_still_open(node: Node, sink: RecordingSink) -> None:
    """Stopping while the node is offline puts the open gap on the record, ending now."""
    node.birth(bd_seq=1)
    node.death(1)
    node.session.close((T0 + 9_000) * 1_000_000)
    assert [(gap.end_ns, gap.lost) for gap in sink.gaps] == [((T0 + 9_000) * 1_000_000, None)]


def test_nulls_and_unsupported_datatypes_are_skipped(node: Node, sink: RecordingSink) -> None:
    """A null metric and a bytes metric are counted, not delivered; the rest of the message is."""
    node.birth(metrics=(metric("Serial", sp.DataType.STRING, None, alias=1, null=True),
                        metric("Blob", sp.DataType.BYTES, b"\x00\x01", alias=2),
                        metric("Ok", sp.DataType.BOOLEAN, True, alias=3)))
    assert sink.readings == [("Ok", True, sink.readings[0][2])]
    assert node.session.stats.skipped_metrics == 2


def test_a_payload_that_is_not_protobuf_is_dropped_and_shows_as_a_seq_gap(
        node: Node, sink: RecordingSink) -> None:
    """Undecodable bytes are dropped; the seq it used shows up as one lost message."""
    node.birth()
    node.seq += 1
    assert node.session.handle(topic("NDATA"), b"\xff\xff\xff", T0 * 1_000_000) == []
    node.data()
    assert [gap.lost for gap in sink.gaps] == [1]
    assert node.session.stats.dropped_messages == 1


def test_other_nodes_and_groups_are_ignored(node: Node, sink: RecordingSink) -> None:
    """Messages of another edge node, another group or no Sparkplug topic are not read."""
    node.birth()
    raw = sp.NData(timestamp=T0, seq=1, metrics=(node.count(5),)).encode(include_dtypes=True)
    for other in (f"spBv1.0/{GROUP}/NDATA/other", f"spBv1.0/other/NDATA/{NODE}",
                  "spBv1.0/STATE/host", f"spBv1.0/{GROUP}/NDATA/{NODE}/extra"):
        assert node.session.handle(other, raw, T0 * 1_000_000) == []
    assert node.session.stats.ignored_messages == 4
    assert sink.values("Count") == [7]


def test_ids_that_cannot_be_topic_levels_are_refused(sink: RecordingSink) -> None:
    """A group or node id with a topic separator or wildcard is an actionable error."""
    with pytest.raises(SparkplugError, match=r"edge node id 'press/7' .* no '/', '\+' or '#'"):
        SparkplugSession(sink, group=GROUP, edge_node="press/7")


# --- properties ---------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=60))
def test_gaps_report_exactly_the_skipped_seq_numbers(steps: list[int]) -> None:
    """For any run of seq numbers, the lost counts add up to the numbers skipped, modulo 256."""
    sink = RecordingSink()
    node = Node(SparkplugSession(sink, group=GROUP, edge_node=NODE, rebirth_interval_ns=0))
    node.birth()
    expected, skipped, gaps = 1, 0, 0
    for skip in steps:
        seq = (expected + skip) % 256
        node.data(seq=seq)
        skipped += skip % 256
        gaps += skip % 256 != 0
        expected = (seq + 1) % 256
    assert sum(gap.lost or 0 for gap in sink.gaps) == skipped
    assert len(sink.gaps) == gaps
    assert len(node.requests) == gaps
    assert len(sink.values("Count")) == 1 + len(steps), "every message read"


@settings(max_examples=100, deadline=None)
@given(events=st.lists(st.sampled_from(["data", "skip", "death", "stale-death", "birth",
                                        "rebirth", "lost", "unknown-alias"]), max_size=40))
def test_any_event_sequence_keeps_the_sink_consistent(events: list[str]) -> None:
    """Whatever happens, gaps never end before they start, and no reading arrives while offline."""
    sink = RecordingSink()
    node = Node(SparkplugSession(sink, group=GROUP, edge_node=NODE, rebirth_interval_ns=0))
    bd_seq = 0
    for event in events:
        online = node.session.online
        readings = len(sink.readings)
        if event == "data":
            node.data()
            assert (len(sink.readings) > readings) == online
        elif event == "skip":
            node.seq += 2
        elif event == "death":
            node.death(bd_seq)
        elif event == "stale-death":
            node.death(bd_seq + 100)
            assert node.session.online == online
        elif event in ("birth", "rebirth"):
            bd_seq += event == "birth"
            node.birth(bd_seq=bd_seq)
            assert node.session.online
        elif event == "lost":
            node.session.connection_lost(node.clock * 1_000_000)
            assert not node.session.online
        else:
            node.data(by_alias(99, sp.DataType.DOUBLE, 0.0))
            assert not node.session.online
    node.session.close((node.clock + 1_000) * 1_000_000)
    assert all(gap.start_ns <= gap.end_ns for gap in sink.gaps)
    assert all(gap.lost is None or gap.lost > 0 for gap in sink.gaps)
