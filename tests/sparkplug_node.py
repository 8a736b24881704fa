"""Test helpers for the Sparkplug B collector: a pysparkplug-encoded edge node, a sink, a broker.

The edge node publishes through pysparkplug's client and encodes every
payload with pysparkplug's classes, which carry their own generated copy of
the Sparkplug B schema, so the collector's decoder is checked against an
encoder it shares no code with. Unlike ``pysparkplug.EdgeNode`` it lets a
test choose each seq and bdSeq, skip seq numbers and send stale deaths.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import pysparkplug as sp
import pytest
from paho.mqtt import client as mqtt

#: The broker the tests use; CI sets THREAD_TEST_MQTT=1 so its absence fails the run.
BROKER_HOST = "127.0.0.1"
BROKER_PORT = 1883
MQTT_VARIABLE = "THREAD_TEST_MQTT"

#: Bounded wait for anything to arrive through the broker, in seconds.
WAIT = 10.0

#: The payloads an edge node publishes (pysparkplug does not export its Payload protocol).
EdgePayload: TypeAlias = sp.NBirth | sp.DBirth | sp.NData | sp.DData | sp.NDeath | sp.DDeath


def broker_or_skip() -> tuple[str, int]:
    """The broker's address; skips the test when nothing listens, fails when CI requires it."""
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=2):
            pass
    except OSError as error:
        reason = (f"no MQTT broker at {BROKER_HOST}:{BROKER_PORT} ({error}); start one with "
                  f"'mosquitto -d' or set {MQTT_VARIABLE}=1 to make these tests mandatory")
        if os.environ.get(MQTT_VARIABLE) == "1":
            pytest.fail(f"{MQTT_VARIABLE}=1 but {reason}")
        pytest.skip(reason)
    return BROKER_HOST, BROKER_PORT


def unique(prefix: str) -> str:
    """A group or node id no other test uses, so tests never see each other's messages."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Gap:
    """One ``gap`` call a sink received."""

    start_ns: int
    end_ns: int
    reason: str
    lost: int | None


@dataclass
class RecordingSink:
    """A ReadingSink that keeps every call, for tests to wait on and inspect."""

    readings: list[tuple[str, object, int]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    flushes: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def observe(self, tag: str, value: float | int | bool | str, at_ns: int) -> None:
        """Keep a reading."""
        with self._changed:
            self.readings.append((tag, value, at_ns))
            self._changed.notify_all()

    def gap(self, start_ns: int, end_ns: int, reason: str, lost: int | None = None) -> None:
        """Keep a gap."""
        with self._changed:
            self.gaps.append(Gap(start_ns, end_ns, reason, lost))
            self._changed.notify_all()

    def flush(self) -> None:
        """Count a flush."""
        with self._changed:
            self.flushes += 1
            self._changed.notify_all()

    def values(self, tag: str) -> list[object]:
        """The values received for ``tag``, in order."""
        with self._changed:
            return [value for name, value, _ in self.readings if name == tag]

    def wait_for(self, condition: Callable[[RecordingSink], bool], what: str,
                 timeout: float = WAIT) -> None:
        """Wait until ``condition(self)`` holds; fails the test naming ``what`` otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: condition(self), timeout):
                pytest.fail(f"timed out after {timeout:g} s waiting for {what}; "
                            f"readings {self.readings[-5:]}, gaps {self.gaps}")

    def wait_for_tag(self, tag: str, count: int = 1) -> list[object]:
        """Wait for ``count`` readings of ``tag`` and return its values."""
        self.wait_for(lambda sink: len(sink.values(tag)) >= count,
                      f"{count} reading(s) of {tag!r}")
        return self.values(tag)


def metric(name: str, datatype: sp.DataType, value: sp.MetricValue | None, *,
           alias: int | None = None, timestamp: int | None = None, historical: bool = False,
           null: bool = False) -> sp.Metric:
    """A pysparkplug metric; timestamp defaults to now."""
    return sp.Metric(timestamp=timestamp if timestamp is not None else sp.get_current_timestamp(),
                     name=name, datatype=datatype, value=None if null else value, alias=alias,
                     is_historical=historical, is_null=null)


def by_alias(alias: int, datatype: sp.DataType, value: sp.MetricValue, *,
             timestamp: int | None = None, historical: bool = False) -> sp.Metric:
    """A data metric sent by alias only, as an edge node does after its birth."""
    return sp.Metric(timestamp=timestamp if timestamp is not None else sp.get_current_timestamp(),
                     name=None, datatype=datatype, value=value, alias=alias,
                     is_historical=historical)


class SparkplugEdgeNode:
    """An edge node on the real broker, encoded by pysparkplug, with seq under test control."""

    def __init__(self, group: str, edge_node: str, metrics: Sequence[sp.Metric], *,
                 devices: Mapping[str, Sequence[sp.Metric]] | None = None, bd_seq: int = 0,
                 answer_rebirth: bool = True) -> None:
        self.group, self.edge_node = group, edge_node
        self.metrics = list(metrics)
        self.devices = {name: list(items) for name, items in (devices or {}).items()}
        self.bd_seq = bd_seq
        self.seq = 0
        self.answer_rebirth = answer_rebirth
        self.commands: queue.Queue[sp.NCmd] = queue.Queue()
        self._probe = threading.Event()
        self._probe_topic = sp.Topic.from_str(f"spBv1.0/{group}/DCMD/{edge_node}/probe-"
                                              f"{uuid.uuid4().hex[:8]}")
        self._client = sp.Client(client_id=unique("edge"))
        # A rebirth is answered from the network thread while a test publishes from its own.
        self._lock = threading.RLock()
        self._dropped = False

    def connect(self, host: str = BROKER_HOST, port: int = BROKER_PORT) -> None:
        """Connect with an NDEATH will for the current bdSeq; returns once NCMD is subscribed."""
        self._client.set_will(self._message(sp.MessageType.NDEATH, self._death(self.bd_seq)))
        connected = threading.Event()
        self._client.subscribe(self._topic(sp.MessageType.NCMD), sp.QoS.AT_LEAST_ONCE,
                               self._on_command)
        self._client.subscribe(self._probe_topic, sp.QoS.AT_LEAST_ONCE,
                               lambda _client, _message: self._probe.set())
        self._client.connect(host, port=port, blocking=False,
                             callback=lambda _client: connected.set())
        assert connected.wait(WAIT), "edge node did not connect"
        # The broker handles a client's packets in order: once a publish after the
        # subscriptions comes back, the NCMD subscription is in place.
        deadline = time.monotonic() + WAIT
        while not self._probe.is_set() and time.monotonic() < deadline:
            self._client.publish(sp.Message(self._probe_topic, sp.DCmd(
                timestamp=sp.get_current_timestamp(), metrics=()), sp.QoS.AT_MOST_ONCE, False))
            self._probe.wait(0.2)
        assert self._probe.is_set(), "edge node's subscriptions were not confirmed"

    def disconnect(self) -> None:
        """Disconnect cleanly (no will), unless the connection was dropped already."""
        if not self._dropped:
            self._client.disconnect()

    def drop(self) -> None:
        """Lose the connection without a DISCONNECT, as when the node's network fails.

        The broker then publishes the node's NDEATH will. pysparkplug has no
        call for this, so its paho client's network loop is stopped (no
        reconnect) and its socket closed.
        """
        paho = self._client._client
        self._dropped = True
        paho.loop_stop()
        sock = paho.socket()
        if sock is not None:
            sock.close()

    # --- what the node publishes ------------------------------------------------------

    def birth(self, *, with_devices: bool = True) -> None:
        """NBIRTH (seq 0, with bdSeq) and, by default, a DBIRTH per device."""
        with self._lock:
            self.seq = 0
            now = sp.get_current_timestamp()
            bd_seq = metric("bdSeq", sp.DataType.INT64, self.bd_seq, timestamp=now)
            self._publish(sp.MessageType.NBIRTH,
                          sp.NBirth(timestamp=now, seq=self._next_seq(),
                                    metrics=(*self.metrics, bd_seq)))
            if with_devices:
                for device in self.devices:
                    self.device_birth(device)

    def device_birth(self, device: str) -> None:
        """DBIRTH of one device."""
        with self._lock:
            self._publish(sp.MessageType.DBIRTH,
                          sp.DBirth(timestamp=sp.get_current_timestamp(), seq=self._next_seq(),
                                    metrics=tuple(self.devices[device])), device=device)

    def data(self, metrics: Iterable[sp.Metric], *, timestamp: int | None = None) -> int:
        """NDATA with the next seq; returns the seq used."""
        with self._lock:
            seq = self._next_seq()
            self._publish(sp.MessageType.NDATA, sp.NData(
                timestamp=timestamp if timestamp is not None else sp.get_current_timestamp(),
                seq=seq, metrics=tuple(metrics)))
            return seq

    def device_data(self, device: str, metrics: Iterable[sp.Metric]) -> int:
        """DDATA of one device with the next seq; returns the seq used."""
        with self._lock:
            seq = self._next_seq()
            self._publish(sp.MessageType.DDATA, sp.DData(
                timestamp=sp.get_current_timestamp(), seq=seq, metrics=tuple(metrics)),
                device=device)
            return seq

    def device_death(self, device: str) -> None:
        """DDEATH of one device (it carries a seq)."""
        with self._lock:
            self._publish(sp.MessageType.DDEATH, sp.DDeath(
                timestamp=sp.get_current_timestamp(), seq=self._next_seq()), device=device)

    def death(self, bd_seq: int | None = None) -> None:
        """NDEATH, by default with the current bdSeq; another bdSeq makes it stale."""
        self._publish(sp.MessageType.NDEATH,
                      self._death(self.bd_seq if bd_seq is None else bd_seq))

    def skip(self, count: int) -> None:
        """Use up ``count`` seq numbers without publishing, as if those messages were lost."""
        with self._lock:
            self.seq = (self.seq + count) % 256

    def command(self, timeout: float = WAIT) -> sp.NCmd:
        """The next NCMD the node received (decoded by pysparkplug)."""
        try:
            return self.commands.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"edge node {self.edge_node} received no NCMD within {timeout:g} s")

    # --- plumbing -------------------------------------------------------------------------

    def _on_command(self, _client: sp.Client, message: sp.Message) -> None:
        payload = message.payload
        assert isinstance(payload, sp.NCmd)
        self.commands.put(payload)
        rebirth = any(item.name == "Node Control/Rebirth" and item.value is True
                      for item in payload.metrics)
        if rebirth and self.answer_rebirth:
            self.birth()

    def _next_seq(self) -> int:
        seq = self.seq
        self.seq = (self.seq + 1) % 256
        return seq

    def _death(self, bd_seq: int) -> sp.NDeath:
        return sp.NDeath(timestamp=sp.get_current_timestamp(),
                         bd_seq_metric=metric("bdSeq", sp.DataType.INT64, bd_seq))

    def _topic(self, kind: sp.MessageType, device: str | None = None) -> sp.Topic:
        return sp.Topic(message_type=kind, group_id=self.group, edge_node_id=self.edge_node,
                        device_id=device)

    def _message(self, kind: sp.MessageType, payload: EdgePayload,
                 device: str | None = None) -> sp.Message:
        return sp.Message(self._topic(kind, device), payload, sp.QoS.AT_MOST_ONCE, False)

    def _publish(self, kind: sp.MessageType, payload: EdgePayload, *,
                 device: str | None = None) -> None:
        self._client.publish(self._message(kind, payload, device), include_dtypes=True)


class StateWatcher:
    """Receives the STATE of host applications; on exit clears the retained STATEs it watched."""

    def __init__(self, host: str = BROKER_HOST, port: int = BROKER_PORT) -> None:
        self._client = mqtt.Client(client_id=unique("watcher"), clean_session=True)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda _c, _u, mid, _q: self._subscribed.put(mid)
        self._subscribed: queue.Queue[int] = queue.Queue()
        self._states: dict[str, queue.Queue[dict[str, object]]] = {}
        self._client.connect(host, port)
        self._client.loop_start()

    def watch(self, host_id: str) -> queue.Queue[dict[str, object]]:
        """The STATE payloads of ``host_id`` from now on (and its retained one)."""
        states = self._states.setdefault(host_id, queue.Queue())
        self._client.subscribe(f"spBv1.0/STATE/{host_id}", qos=1)
        self._subscribed.get(timeout=WAIT)
        return states

    def __enter__(self) -> StateWatcher:
        return self

    def __exit__(self, *_: object) -> None:
        for host_id in self._states:
            clear_state(self._client, host_id)
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _client: mqtt.Client, _userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        if message.payload:
            self._states[message.topic.rsplit("/", 1)[1]].put(json.loads(message.payload))


def clear_state(client: mqtt.Client, host_id: str) -> None:
    """Remove a host application's retained STATE, so the broker keeps nothing of a test."""
    client.publish(f"spBv1.0/STATE/{host_id}", b"", qos=1, retain=True).wait_for_publish(WAIT)
