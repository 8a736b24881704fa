"""The OPC UA collector: data changes of a machine's variables into the mapping layer.

Only the protocol lives here. The collector connects to the server named by
the tag map's ``[connection.opcua]``, subscribes to the data changes of every
tag with an ``opcua.node``, and hands each value to the sink with its
*source* timestamp (when the PLC took the reading, not when it arrived).
It also subscribes to the server's ``ServerStatus.CurrentTime``: that
heartbeat tells the sink the source is alive while nothing changes, and
dates a lost connection in the server's own clock.

Subscriptions do not survive a server restart. When the connection drops the
collector reconnects (with growing pauses), subscribes again and reports
the stretch it was blind as a gap, saying whether the server restarted
(its ``StartTime`` changed).

Connection settings (``[connection.opcua]``)::

    endpoint = "opc.tcp://grinder-2:4840/"   # required (or --endpoint)
    publishing_interval_ms = 100
    sampling_interval_ms = 0      # 0: every change the server sees
    queue_size = 1000             # changes a monitored item may queue per publish
    timeout_s = 4
    watchdog_s = 1                # how often the connection is checked
    reconnect_s = 1               # first pause before reconnecting, doubling ...
    reconnect_max_s = 30          # ... up to this
    check_units = true            # compare EngineeringUnits with the tag map
    security = "Basic256Sha256,SignAndEncrypt,cert.der,key.pem"   # optional
    username = "collector"        # optional, with password

A tag's address (``[tags.NAME]``): ``opcua.node = "ns=2;s=Grinder2.Spindle.Speed"``,
or with the namespace by URI, ``"nsu=urn:plant:grinder;s=Grinder2.Spindle.Speed"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.uaerrors import UaError
from pydantic import BaseModel, ConfigDict, Field

from thread.errors import ConfigurationError, LedgerError
from thread_adapters.readings import CollectingSink
from thread_adapters.tagmap import TagMap

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]

#: Errors after which reconnecting may help.
RETRYABLE = (OSError, asyncio.TimeoutError, ConnectionError, UaError)

#: UN/CEFACT common codes (the UnitId of EUInformation) for units the ledger knows.
UNECE_UNITS: dict[str, str] = {
    "CEL": "Cel", "FAH": "degF", "KEL": "K", "RPM": "rpm", "BAR": "bar", "PAL": "Pa",
    "KPA": "kPa", "MPA": "MPa", "PS": "psi", "MMT": "mm", "MTR": "m", "CMT": "cm",
    "4H": "um", "INH": "in", "SEC": "s", "C26": "ms", "MIN": "min", "HUR": "h", "HTZ": "Hz",
    "KHZ": "kHz", "P1": "%", "AMP": "A", "VLT": "V", "WTT": "W", "KWT": "kW", "KWH": "kW.h",
    "NEW": "N", "KN": "kN", "NU": "N.m", "KGM": "kg", "C16": "mm/s", "MTS": "m/s",
    "MSK": "m/s2", "LTR": "L", "L2": "L/min", "DD": "deg",
}


class OpcUaError(ConfigurationError):
    """The OPC UA server or the tag map's OPC UA sections cannot be used as configured."""


class OpcUaConnection(BaseModel):
    """The ``[connection.opcua]`` section of a tag map."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://")] | None = None
    publishing_interval_ms: _Seconds = 100.0
    sampling_interval_ms: Annotated[float, Field(ge=0)] = 0.0
    queue_size: Annotated[int, Field(ge=0, le=1_000_000)] = 1000
    timeout_s: _Seconds = 4.0
    watchdog_s: _Seconds = 1.0
    reconnect_s: _Seconds = 1.0
    reconnect_max_s: _Seconds = 30.0
    check_units: bool = True
    security: str | None = None
    username: str | None = None
    password: str | None = None


class OpcUaAddress(BaseModel):
    """A tag's ``opcua`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    node: Annotated[str, Field(pattern=r"^(ns=\d+;|nsu=[^;]+;)?[isgb]=.+$")]


@dataclass
class OpcUaStats:
    """What the collector has seen of the server."""

    connected: bool = False
    sessions: int = 0
    values: int = 0
    bad_quality: int = 0
    unsupported: int = 0
    refused: int = 0
    heartbeats: int = 0
    reconnect_failures: int = 0


class OpcUaCollector:
    """Subscribes to one server's data changes for one tag map, reconnecting until stopped."""

    def __init__(self, tag_map: TagMap, sink: CollectingSink, *, endpoint: str | None = None,
                 clock: Callable[[], int] = time.time_ns,
                 on_status: Callable[[str], None] | None = None) -> None:
        self.tag_map = tag_map
        self.sink = sink
        settings = tag_map.parse(OpcUaConnection, "connection", "opcua")
        if endpoint is not None:
            settings = OpcUaConnection.model_validate({**settings.model_dump(),
                                                      "endpoint": endpoint})
        if settings.endpoint is None:
            raise tag_map.error(("connection", "opcua"), "an 'endpoint' such as "
                                "opc.tcp://host:4840/ for the OPC UA server (or --endpoint)")
        self.settings = settings
        self.endpoint: str = settings.endpoint
        self.addresses = {key: tag_map.parse(OpcUaAddress, "tags", key, "opcua").node
                          for key, tag in tag_map.tags.items() if tag.protocol("opcua")}
        if not self.addresses:
            raise tag_map.error(("tags",), "no tag has an 'opcua.node' to subscribe to")
        self.clock = clock
        self.on_status = on_status
        self.stats = OpcUaStats()
        self._subscribed = asyncio.Condition()
        self._heard_ns: int | None = None
        self._lost: tuple[int, str] | None = None
        self._start_time: datetime | None = None
        self._units_checked = False

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until ``stop`` is set; a configuration error ends it, a network one does not."""
        pause = self.settings.reconnect_s
        while not stop.is_set():
            try:
                await self._session(stop)
                pause = self.settings.reconnect_s
            except RETRYABLE as error:
                self.stats.reconnect_failures += 1
                if self._lost is None and self.stats.sessions:
                    self._lost = (self._heard_ns or self.clock(), f"{_name(error)}")
                self._status(f"cannot reach {self.endpoint} ({_name(error)}); "
                             f"retrying in {pause:g} s")
            if stop.is_set():
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, self.settings.reconnect_max_s)
        if self._lost is not None:
            start, why = self._lost
            self._lost = None
            self.sink.gap(start, self.clock(), f"OPC UA connection to {self.endpoint} lost "
                          f"({why}) and not back before collection stopped")

    async def wait_sessions(self, count: int) -> None:
        """Wait until the collector has subscribed ``count`` times (for tests and tools)."""
        async with self._subscribed:
            await self._subscribed.wait_for(lambda: self.stats.sessions >= count)

    # One connection

    async def _session(self, stop: asyncio.Event) -> None:
        settings = self.settings
        client = Client(self.endpoint, timeout=settings.timeout_s,
                        watchdog_intervall=settings.watchdog_s)
        if settings.username is not None:
            client.set_user(settings.username)
            if settings.password is not None:
                client.set_password(settings.password)
        if settings.security is not None:
            await client.set_security_string(settings.security)
        lost = asyncio.Event()
        reasons: list[str] = []

        async def on_lost(error: Exception) -> None:
            reasons.append(_name(error))
            lost.set()
        client.connection_lost_callback = on_lost
        await client.connect()
        try:
            nodes = await self._nodes(client)
            if settings.check_units and not self._units_checked:
                await self._check_units(client, nodes)
                self._units_checked = True
            started_at = await client.get_node(
                ObjectIds.Server_ServerStatus_StartTime).read_value()
            server_now = _ns(await client.get_node(
                ObjectIds.Server_ServerStatus_CurrentTime).read_value())
            heartbeat = client.get_node(ObjectIds.Server_ServerStatus_CurrentTime).nodeid
            handler = _Handler(self, nodes, heartbeat, lost)
            subscription = await client.create_subscription(settings.publishing_interval_ms,
                                                            handler)
            watched = [client.get_node(nodeid) for nodeid in nodes] + [client.get_node(heartbeat)]
            results = await subscription.subscribe_data_change(
                watched, queuesize=settings.queue_size,
                sampling_interval=ua.Double(settings.sampling_interval_ms))
            self._refused_nodes(list(nodes.values()), results[:-1])
            self._record_gap(started_at, server_now)
            self._start_time = started_at
            self.stats.connected = True
            async with self._subscribed:
                self.stats.sessions += 1
                self._subscribed.notify_all()
            self._status(f"subscribed to {len(nodes)} tags of {self.tag_map.machine.id} at "
                         f"{self.endpoint}")
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            if lost.is_set() and not stop.is_set():
                why = reasons[0] if reasons else "the server closed the subscription"
                self._lost = (self._heard_ns or self.clock(), why)
                self._status(f"connection to {self.endpoint} lost ({why}); reconnecting")
        finally:
            self.stats.connected = False
            client.connection_lost_callback = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), settings.timeout_s)

    async def _nodes(self, client: Client) -> dict[ua.NodeId, str]:
        """Each tag's node id on this server (namespace URIs resolved per connection)."""
        nodes: dict[ua.NodeId, str] = {}
        for key, address in self.addresses.items():
            text = address
            if address.startswith("nsu="):
                uri, _, rest = address[4:].partition(";")
                try:
                    index = await client.get_namespace_index(uri)
                except ValueError:
                    raise self._address_error(key, f"the server has no namespace {uri!r}"
                                              ) from None
                text = f"ns={index};{rest}"
            try:
                nodes[ua.NodeId.from_string(text)] = key
            except (ValueError, UaError) as error:
                raise self._address_error(key, f"not an OPC UA node id: {error}") from None
        return nodes

    async def _check_units(self, client: Client, nodes: dict[ua.NodeId, str]) -> None:
        """Compare each variable's EngineeringUnits property, if it has one, with the map."""
        for nodeid, key in nodes.items():
            if self.tag_map.tags[key].unit is None:
                continue
            try:
                prop = await client.get_node(nodeid).get_child("0:EngineeringUnits")
                info = await prop.read_value()
            except UaError:
                continue  # no such property: nothing to compare
            unit = _eu_unit(info)
            if unit is not None:
                self.sink.declare_unit(key, unit, f"OPC UA EngineeringUnits of "
                                                  f"{self.addresses[key]}")

    def _refused_nodes(self, keys: list[str], results: list[Any]) -> None:
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, ua.StatusCode):
                raise self._address_error(key, f"the server refused to monitor it "
                                               f"({result.name})")

    def _address_error(self, key: str, message: str) -> OpcUaError:
        located = self.tag_map.error(("tags", key, "opcua", "node"),
                                     f"{self.addresses[key]}: {message}")
        return OpcUaError(str(located))

    def _record_gap(self, started_at: datetime, server_now: int) -> None:
        if self._lost is None:
            return
        start, why = self._lost
        self._lost = None
        restarted = self._start_time is not None and started_at != self._start_time
        reason = (f"OPC UA server at {self.endpoint} restarted at {started_at.isoformat()}"
                  f" ({why}); subscribed again" if restarted else
                  f"OPC UA connection to {self.endpoint} lost ({why}); subscribed again")
        try:
            self.sink.gap(start, max(start, server_now), reason)
        except LedgerError as error:
            logger.error("recording the gap failed: %s", error)

    # Notifications

    def _reading(self, nodeid: ua.NodeId, key: str | None, value: Any,
                 data: ua.DataValue | None) -> None:
        stats = self.stats
        if key is None:
            if isinstance(value, datetime):
                at_ns = _ns(value)
                stats.heartbeats += 1
                self._heard_ns = max(self._heard_ns or at_ns, at_ns)
                self.sink.heartbeat(at_ns)
            return
        stats.values += 1
        if data is not None and data.StatusCode is not None and not data.StatusCode.is_good():
            stats.bad_quality += 1
            return
        stamp = None if data is None else (data.SourceTimestamp or data.ServerTimestamp)
        at_ns = _ns(stamp) if stamp is not None else self.clock()
        if not isinstance(value, (bool, int, float, str)):
            stats.unsupported += 1
            return
        self._heard_ns = max(self._heard_ns or at_ns, at_ns)
        try:
            self.sink.observe(key, value, at_ns)
        except LedgerError as error:
            stats.refused += 1
            logger.warning("%s", error)

    def _status(self, text: str) -> None:
        logger.info("%s", text)
        if self.on_status is not None:
            self.on_status(text)


class _Handler:
    """asyncua's subscription handler: forwards data changes to the collector."""

    def __init__(self, collector: OpcUaCollector, nodes: dict[ua.NodeId, str],
                 heartbeat: ua.NodeId, lost: asyncio.Event) -> None:
        self.collector = collector
        self.nodes = nodes
        self.heartbeat = heartbeat
        self.lost = lost

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        nodeid = node.nodeid
        key = self.nodes.get(nodeid)
        if key is None and nodeid != self.heartbeat:
            return
        self.collector._reading(nodeid, key, val, data.monitored_item.Value)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        if not status.Status.is_good():
            self.lost.set()


def _ns(moment: datetime) -> int:
    """A datetime as ns since the epoch, exactly (asyncua datetimes hold microseconds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND * 1000


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def _eu_unit(info: Any) -> str | None:
    """The unit an EUInformation states: by its UN/CEFACT code, else its display name."""
    unit_id = getattr(info, "UnitId", None)
    if isinstance(unit_id, int) and unit_id > 0:
        code = unit_id.to_bytes(4, "big").lstrip(b"\x00").decode("ascii", "replace")
        if code in UNECE_UNITS:
            return UNECE_UNITS[code]
    display = getattr(getattr(info, "DisplayName", None), "Text", None)
    return display if isinstance(display, str) and display else None


def _name(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
