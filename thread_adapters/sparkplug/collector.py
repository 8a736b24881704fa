"""The Sparkplug B collector: a host application on an MQTT broker, for one edge node.

It subscribes to the edge node's topics (``spBv1.0/{group}/+/{edge node}/#``:
the node's own and its devices'), publishes the host application's STATE
(Sparkplug 3.0: retained JSON on ``spBv1.0/STATE/{host id}``, with an
``online: false`` will), hands every message to a
:class:`~thread_adapters.sparkplug.session.SparkplugSession` and publishes
the NCMD ``Node Control/Rebirth`` the session asks for. paho's network
thread reconnects after a dropped connection; the session records the gap
and a rebirth is requested on every (re)connection.

While :meth:`SparkplugCollector.run` runs, the sink's ``write_ready`` (the
mapping layer's timed write) is called every ``write_every_s``, so a cycle
that completed on a machine that then stands idle is written without
waiting for the next message. A reading or record the sink refuses is
counted, logged and kept for the console (:meth:`SparkplugCollector.take_refusals`),
and collection goes on; an error that makes collection meaningless (a
configuration error, an unreachable ledger) stops ``run``, which flushes the
sink and raises it.

Tested with paho-mqtt 1.6; on paho-mqtt 2.x it asks for the version 1 callback API,
whose signatures are the ones used here.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from paho.mqtt import client as mqtt

from thread.errors import LedgerError
from thread_adapters.collector import refused
from thread_adapters.readings import ReadingSink
from thread_adapters.sparkplug.errors import BrokerUnreachable, SparkplugError
from thread_adapters.sparkplug.payload import DataType, Metric, Payload, encode_payload
from thread_adapters.sparkplug.session import (
    DEFAULT_REBIRTH_INTERVAL_NS,
    RebirthRequest,
    SessionStats,
    SparkplugSession,
)
from thread_adapters.sparkplug.topic import MessageType, Topic, edge_node_filter, state_topic

logger = logging.getLogger(__name__)

#: The command metric that asks an edge node to publish its births again.
REBIRTH_METRIC = "Node Control/Rebirth"

#: The host application id the collector's STATE is published under, unless configured.
DEFAULT_HOST_ID = "thread-ledger"

#: Refusal messages kept until the console takes them.
REFUSALS_KEPT = 100


class SparkplugCollector:
    """Collects one Sparkplug B edge node's metrics from an MQTT broker into a ReadingSink."""

    def __init__(self, sink: ReadingSink, *, group: str, edge_node: str,
                 host: str = "127.0.0.1", port: int = 1883, host_id: str = DEFAULT_HOST_ID,
                 username: str | None = None, password: str | None = None,
                 keepalive: int = 30, client_id: str | None = None,
                 rebirth_interval_ns: int = DEFAULT_REBIRTH_INTERVAL_NS,
                 write_every_s: float = 1.0,
                 clock: Callable[[], int] = time.time_ns) -> None:
        if not host_id or any(character in host_id for character in "/+#"):
            raise SparkplugError(f"Sparkplug host id {host_id!r} is not usable in a topic: it "
                                 "must be non-empty and contain no '/', '+' or '#'")
        self.sink = sink
        self.session = SparkplugSession(sink, group=group, edge_node=edge_node,
                                        rebirth_interval_ns=rebirth_interval_ns)
        self.host, self.port, self.host_id, self.keepalive = host, port, host_id, keepalive
        self.write_every_s = write_every_s
        self.clock = clock
        #: What stopped the collector: a sink error that makes collection meaningless.
        self.failure: BaseException | None = None
        #: Records the sink's ledger refused (readings refused are in the session's stats).
        self.refused_records = 0
        self._refusals: deque[str] = deque(maxlen=REFUSALS_KEPT)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._connected = False
        self._stopping = False
        self._state_ms = 0
        self._started = False
        self._client = _new_client(client_id or f"thread-sparkplug-{uuid.uuid4().hex[:12]}")
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._state_mid: int | None = None
        self._client.on_message = self._on_message

    def use_tls(self, ca_file: str | None = None) -> None:
        """Connect over TLS, checking the broker against ``ca_file`` (default: the system CAs)."""
        try:
            self._client.tls_set(ca_certs=ca_file)
        except (OSError, ValueError) as error:
            raise SparkplugError(f"cannot set up TLS to the MQTT broker with CA file "
                                 f"{ca_file!r}: {error}") from None

    @property
    def connected(self) -> bool:
        """Whether the collector is connected and subscribed now."""
        return self._connected and self._ready.is_set()

    def stats(self) -> SessionStats:
        """A snapshot of the session's counts."""
        with self._lock:
            return replace(self.session.stats)

    def take_refusals(self) -> list[str]:
        """What the sink refused since the last call, one message per reading or record."""
        with self._lock:
            taken = [*self.session.refusals, *self._refusals]
            self.session.refusals.clear()
            self._refusals.clear()
        return taken

    def write_ready(self) -> None:
        """Have the sink write what it has finished, if it writes on a timer (the mapping layer).

        Records the ledger refuses are counted, logged and kept for
        :meth:`take_refusals`; any other error is raised.
        """
        write: Callable[[], None] | None = getattr(self.sink, "write_ready", None)
        if write is None:
            return
        try:
            with self._lock:
                write()
        except LedgerError as error:
            if not refused(error):
                raise
            self._records_refused(error)

    def _records_refused(self, error: LedgerError) -> None:
        messages: list[str] = list(getattr(error, "refusals", None) or [str(error)])
        logger.warning("collection goes on: %s", error)
        with self._lock:
            self.refused_records += len(messages)
            self._refusals.extend(messages)

    # --- lifecycle ---------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Connect, subscribe and announce the host application; BrokerUnreachable on failure.

        Returns once subscribed and the online STATE is acknowledged: whatever an edge node
        publishes from then on is received.
        """
        self._set_will()
        try:
            self._client.connect(self.host, self.port, keepalive=self.keepalive)
        except OSError as error:
            raise BrokerUnreachable(
                f"cannot connect to the MQTT broker at {self.host}:{self.port}: {error}; "
                "check the broker host and port in the tag map and that the broker runs"
            ) from None
        self._client.loop_start()
        self._started = True
        if not self._ready.wait(timeout) or self.failure is not None:
            failure = self.failure
            self._halt()
            if isinstance(failure, SparkplugError):
                raise failure
            raise BrokerUnreachable(f"the MQTT broker at {self.host}:{self.port} did not "
                                    f"accept the subscription within {timeout:g} s")

    def stop(self) -> None:
        """Announce the host offline, disconnect, record a gap still open, flush the sink."""
        if not self._started:
            return
        self._stopping = True
        if self._connected:
            info = self._client.publish(state_topic(self.host_id),
                                        self._state_payload(online=False), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError) as error:
                logger.warning("offline STATE not confirmed by the broker: %s", error)
        self._halt()
        with self._lock:
            self.session.close(self.clock())
        try:
            self.sink.flush()
        except LedgerError as error:
            if not refused(error):
                raise
            self._records_refused(error)

    def run(self, stop: threading.Event, *,
            on_tick: Callable[[SessionStats, bool], None] | None = None,
            housekeeping: Callable[[], None] | None = None,
            tick_seconds: float = 0.5) -> None:
        """Collect until ``stop`` is set, writing what the sink finished every ``write_every_s``.

        Every tick runs ``housekeeping`` (while no message is being handled,
        since sinks need not be thread-safe) and ``on_tick(stats, connected)``
        to show progress. Refused readings and records do not stop it. Always
        stops cleanly (the sink is flushed); re-raises an error that made
        collection meaningless, whether from the network thread or a timed write.
        """
        self.start()
        tick = min(tick_seconds, self.write_every_s)
        written = time.monotonic()
        try:
            while not stop.wait(tick) and self.failure is None:
                if time.monotonic() - written >= self.write_every_s:
                    written = time.monotonic()
                    try:
                        self.write_ready()
                    except Exception as error:
                        logger.error("collector stopped: %s", error)
                        self.failure = error
                        break
                if housekeeping is not None:
                    with self._lock:
                        housekeeping()
                if on_tick is not None:
                    on_tick(self.stats(), self.connected)
        finally:
            self.stop()
        if self.failure is not None:
            raise self.failure

    def _halt(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._connected = False
        self._started = False
        self._stopping = False

    # --- paho callbacks (network thread) -------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any) -> None:
        if rc != 0:
            reason = mqtt.connack_string(rc) if isinstance(rc, int) else str(rc)
            self.failure = BrokerUnreachable(
                f"the MQTT broker at {self.host}:{self.port} refused the collector: {reason}")
            self._ready.set()
            return
        self._connected = True
        edge_node = self.session.edge_node
        client.subscribe([(edge_node_filter(self.session.group, edge_node), 1),
                          (state_topic(self.host_id), 1)])

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, granted: Any) -> None:
        with self._lock:
            requests = self.session.connected(self.clock())
        self._publish(requests)
        # The broker acknowledges the STATE after it has routed the rebirth requests
        # sent before it, so once start() returns nothing of this connection is pending.
        self._state_mid = self._publish_state()

    def _on_publish(self, client: Any, userdata: Any, mid: Any) -> None:
        if mid == self._state_mid:
            self._ready.set()

    def _on_disconnect(self, client: Any, userdata: Any, rc: Any) -> None:
        self._connected = False
        if rc == 0:
            return  # asked for by stop()
        logger.warning("lost the MQTT broker at %s:%s (%s); reconnecting", self.host, self.port,
                       rc)
        self._ready.clear()
        with self._lock:
            self.session.connection_lost(self.clock())
        self._set_will()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if self.failure is not None:
            return
        topic: str = message.topic
        if topic == state_topic(self.host_id):
            self._check_state(message.payload)
            return
        try:
            with self._lock:
                requests = self.session.handle(topic, message.payload, self.clock())
        except Exception as error:
            # The session has already let refused readings go; this one makes collection
            # meaningless. Raising here would kill paho's thread silently; run() raises it.
            logger.error("collector stopped: %s", error)
            self.failure = error
            return
        self._publish(requests)

    # --- what the collector publishes ----------------------------------------------

    def _publish(self, requests: list[RebirthRequest]) -> None:
        for request in requests:
            now_ms = self.clock() // 1_000_000
            command = Payload(timestamp=now_ms, seq=None, metrics=(
                Metric(name=REBIRTH_METRIC, alias=None, timestamp=now_ms,
                       datatype=DataType.BOOLEAN, raw=True),))
            topic = Topic(request.group, MessageType.NCMD, request.edge_node)
            logger.info("asking %s to rebirth: %s", topic, request.reason)
            self._client.publish(str(topic), encode_payload(command), qos=0)

    def _set_will(self) -> None:
        # Sparkplug 3.0: the will and the next online STATE carry the same timestamp.
        self._state_ms = self.clock() // 1_000_000
        self._client.will_set(state_topic(self.host_id), self._state_payload(online=False),
                              qos=1, retain=True)

    def _publish_state(self) -> int:
        info = self._client.publish(state_topic(self.host_id), self._state_payload(online=True),
                                    qos=1, retain=True)
        mid: int = info.mid
        return mid

    def _state_payload(self, *, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": self._state_ms}).encode()

    def _check_state(self, raw: bytes) -> None:
        """Another client (or a late will of ours) said this host is offline: say otherwise."""
        try:
            state = json.loads(raw)
        except ValueError:
            return
        if (isinstance(state, dict) and state.get("online") is False and self._connected
                and not self._stopping):
            self._state_mid = self._publish_state()


def _new_client(client_id: str) -> Any:
    """A paho client with the version 1 callbacks on paho 1.6 and 2.x alike."""
    version = getattr(mqtt, "CallbackAPIVersion", None)
    if version is None:
        return mqtt.Client(client_id=client_id, clean_session=True)
    return mqtt.Client(version.VERSION1, client_id=client_id, clean_session=True)
