"""The host side of one Sparkplug B edge node session: a state machine with no network.

:class:`SparkplugSession` is fed every message the broker delivers for one
edge node (``handle``) and the collector's own connection events
(``connected``, ``connection_lost``). It keeps the alias maps of the node's
NBIRTH and of each device's DBIRTH, checks the seq that runs 0-255 across
the node's NBIRTH (seq 0), NDATA, DBIRTH, DDATA and DDEATH messages, matches
an NDEATH's bdSeq to the current NBIRTH's, and delivers each metric to the
:class:`~thread_adapters.readings.ReadingSink` as a reading. What the
collector must do on the network comes back as :class:`RebirthRequest` values.

Tag names: a node metric's tag is its metric name (``Spindle/Speed``); a
device metric's tag is ``{device}/{metric name}`` (``Axis-X/Load``). The
protocol's own metrics, ``bdSeq`` and ``Node Control/...`` or
``Device Control/...``, are not readings.

Lost data is recorded, never guessed at:

- a skipped seq is a gap with the number of messages lost (modulo 256), and a
  rebirth request; readings continue, since the aliases are still valid;
- an NDEATH whose bdSeq matches marks the node offline; a stale NDEATH (an old
  connection's will, delivered late) is ignored;
- while the node has no valid birth (before its first NBIRTH, after its
  NDEATH, after an unknown alias or device, after the collector's own
  connection dropped), messages cannot be resolved and are dropped and
  counted; a rebirth is requested, at most once per ``rebirth_interval_ns``,
  and the NBIRTH that ends the wait records the gap with the dropped count;
- an NBIRTH with a new bdSeq while the node was thought online means its
  previous connection ended without an NDEATH reaching us: a gap;
- a device's DDEATH opens a gap that its next DBIRTH closes.

Historical metrics (a node's store-and-forward buffer) are delivered with
their own timestamps, which may be older than readings already delivered for
the same tag: after an outage the node's NBIRTH (current values) comes
first, then its history. The mapping layer merges them into their place in
time, and the gap recorded for the outage stays open for them (see
:mod:`thread_adapters.mapping.gaps`). Null metrics and non-scalar datatypes
are counted and skipped; DateTime values are delivered as ISO 8601 text in UTC.

A reading the sink refuses (text on a numeric tag: a
:class:`~thread_adapters.mapping.ReadingRefused`) is counted, logged with its
tag and value and kept in :attr:`SparkplugSession.refusals`; the rest of the
message and of the session goes on. Errors that make collection meaningless
(configuration errors, an unreachable ledger) are raised.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from thread.errors import LedgerError
from thread_adapters.collector import refused
from thread_adapters.readings import ReadingSink, TagValue
from thread_adapters.sparkplug.errors import PayloadError, SparkplugError
from thread_adapters.sparkplug.payload import (
    SCALAR_TYPES,
    DataType,
    Metric,
    Payload,
    decode_payload,
)
from thread_adapters.sparkplug.topic import MessageType, Topic

logger = logging.getLogger(__name__)

#: The metric an NBIRTH and its NDEATH carry to pair them up.
BD_SEQ = "bdSeq"

#: Metric name prefixes that are protocol controls, not process data.
CONTROL_PREFIXES = ("Node Control/", "Device Control/")

#: Nanoseconds in a Sparkplug millisecond.
_NS_PER_MS = 1_000_000

#: By default a rebirth is asked for again after this long without an NBIRTH.
DEFAULT_REBIRTH_INTERVAL_NS = 5_000_000_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Refusal messages a session keeps until the collector takes them.
REFUSALS_KEPT = 100


@dataclass(frozen=True, slots=True)
class RebirthRequest:
    """Ask the edge node to publish its birth certificates again (NCMD ``Node Control/Rebirth``)."""

    group: str
    edge_node: str
    reason: str


@dataclass(slots=True)
class SessionStats:
    """What a session has seen so far; the collector shows these as live counts."""

    messages: int = 0
    readings: int = 0
    historical: int = 0
    gaps: int = 0
    lost_messages: int = 0
    dropped_messages: int = 0
    skipped_metrics: int = 0
    ignored_messages: int = 0
    rebirths_requested: int = 0
    refused_readings: int = 0


@dataclass(slots=True)
class _Birth:
    """A birth certificate's metric definitions: alias and name to name and datatype."""

    by_alias: dict[int, tuple[str, int]] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, metrics: Iterable[Metric]) -> _Birth:
        birth = cls()
        for metric in metrics:
            if metric.name is None:
                continue
            birth.by_name[metric.name] = metric.datatype
            if metric.alias is not None:
                birth.by_alias[metric.alias] = (metric.name, metric.datatype)
        return birth

    def resolve(self, metric: Metric) -> tuple[str, int] | None:
        """The metric's name and datatype, or None when this birth does not define it."""
        if metric.name is not None:
            datatype = metric.datatype or self.by_name.get(metric.name, DataType.UNKNOWN)
            return (metric.name, datatype) if datatype else None
        if metric.alias is not None and metric.alias in self.by_alias:
            name, datatype = self.by_alias[metric.alias]
            return name, metric.datatype or datatype
        return None


@dataclass(slots=True)
class _Device:
    birth: _Birth | None = None
    last_ns: int | None = None
    offline_since_ns: int | None = None


@dataclass(slots=True)
class _OpenGap:
    """Data is being missed since ``start_ns``; closed by the next valid NBIRTH."""

    start_ns: int
    reason: str
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class _Times:
    """A message's times (ns): its payload's, and the span of its live readings.

    Gaps are placed on the readings' timeline, which is what the ledger's
    process data is on; the payload's time stands in for a metric without one.
    Historical readings are left out: they fill the past, they do not move it.
    """

    at: int
    first: int
    last: int

    @classmethod
    def of(cls, payload: Payload, received_ns: int) -> _Times:
        at = payload.timestamp * _NS_PER_MS if payload.timestamp is not None else received_ns
        live = [metric.timestamp * _NS_PER_MS if metric.timestamp is not None else at
                for metric in payload.metrics
                if not metric.is_historical and not _is_protocol(metric.name)]
        return cls(at, min(live, default=at), max(live, default=at))


class _Unresolvable(Exception):  # noqa: N818 - internal signal, never escapes the session
    """A data message names an alias or device the current births do not define."""


class SparkplugSession:
    """The state of one edge node as a host application sees it; pure, no network.

    Not thread-safe: the collector calls it from its network thread only.
    """

    def __init__(self, sink: ReadingSink, *, group: str, edge_node: str,
                 rebirth_interval_ns: int = DEFAULT_REBIRTH_INTERVAL_NS) -> None:
        for what, name in (("group id", group), ("edge node id", edge_node)):
            if not name or any(character in name for character in "/+#"):
                raise SparkplugError(f"Sparkplug {what} {name!r} is not usable in a topic: "
                                     "it must be non-empty and contain no '/', '+' or '#'")
        self.sink = sink
        self.group = group
        self.edge_node = edge_node
        self.rebirth_interval_ns = rebirth_interval_ns
        self.stats = SessionStats()
        self._birth: _Birth | None = None
        self._bd_seq: int | None = None
        self._expected_seq: int | None = None
        self._devices: dict[str, _Device] = {}
        self._last_ns: int | None = None
        self._open_gap: _OpenGap | None = None
        self._last_request_ns: int | None = None
        #: Messages about readings the sink refused, newest last (the collector takes them).
        self.refusals: deque[str] = deque(maxlen=REFUSALS_KEPT)

    @property
    def online(self) -> bool:
        """Whether the node has a valid birth certificate, so its data can be read."""
        return self._birth is not None

    @property
    def bd_seq(self) -> int | None:
        """The bdSeq of the node's current NBIRTH."""
        return self._bd_seq

    # --- events ------------------------------------------------------------

    def handle(self, topic: str, raw: bytes, received_ns: int) -> list[RebirthRequest]:
        """One message the broker delivered; returns what the collector must publish."""
        parsed = Topic.parse(topic)
        if parsed is None or parsed.group != self.group or parsed.edge_node != self.edge_node:
            self.stats.ignored_messages += 1
            return []
        if parsed.message_type in (MessageType.NCMD, MessageType.DCMD):
            return []  # commands, ours included, are not data
        self.stats.messages += 1
        try:
            payload = decode_payload(raw)
        except PayloadError as error:
            # Its seq is unknown too, so the next message shows the loss as a seq gap.
            self.stats.dropped_messages += 1
            logger.warning("%s: message dropped: %s", topic, error)
            return []
        return self.receive(parsed, payload, received_ns)

    def receive(self, topic: Topic, payload: Payload, received_ns: int) -> list[RebirthRequest]:
        """One decoded message of this session's edge node."""
        times = _Times.of(payload, received_ns)
        requests: list[RebirthRequest] = []
        kind = topic.message_type
        if kind == MessageType.NBIRTH:
            self._node_birth(payload, times)
        elif kind == MessageType.NDEATH:
            self._node_death(payload, times)
        elif self._birth is None:
            self._drop(times.first, "messages arrived while the edge node had no valid birth "
                                    "certificate, so their aliases could not be resolved")
            self._request("no valid NBIRTH for the edge node", received_ns, requests)
        else:
            self._check_seq(payload, times, received_ns, requests)
            try:
                self._node_message(topic, payload, times)
            except _Unresolvable as problem:
                self._lose_birth(times.first, str(problem), dropped=1)
                self._request(str(problem), received_ns, requests)
        return requests

    def connected(self, at_ns: int) -> list[RebirthRequest]:
        """The collector (re)connected: ask for births, since any may have been missed."""
        self._last_request_ns = at_ns
        self.stats.rebirths_requested += 1
        return [RebirthRequest(self.group, self.edge_node,
                               "collector connected to the broker")]

    def connection_lost(self, at_ns: int) -> None:
        """The collector's broker connection dropped: nothing is received until a new birth."""
        if self._birth is not None:
            self._lose_birth(self._last_ns if self._last_ns is not None else at_ns,
                             "collector lost its connection to the broker")

    def close(self, at_ns: int) -> None:
        """The collector stops: a gap still open ends now, so it is on the record."""
        if self._open_gap is not None:
            self._close_gap(at_ns)

    # --- the node's messages -------------------------------------------------

    def _node_birth(self, payload: Payload, times: _Times) -> None:
        bd_seq = _bd_seq(payload)
        if self._open_gap is not None:
            self._close_gap(times.first)
        elif (self._birth is not None and self._bd_seq is not None and bd_seq is not None
              and bd_seq != self._bd_seq and self._last_ns is not None):
            self._gap(self._last_ns, times.first,
                      f"edge node reconnected (bdSeq {self._bd_seq} to {bd_seq}) "
                      "without a death certificate reaching the collector", None)
        self._birth = _Birth.of(payload.metrics)
        self._bd_seq = bd_seq
        self._expected_seq = ((payload.seq or 0) + 1) % 256
        self._devices.clear()  # an NBIRTH invalidates every device's birth
        self._last_request_ns = None
        self._deliver(self._birth, payload.metrics, times.at, device=None, defining=True)
        self._last_ns = times.last

    def _node_death(self, payload: Payload, times: _Times) -> None:
        bd_seq = _bd_seq(payload)
        if self._birth is None or (bd_seq is not None and self._bd_seq is not None
                                   and bd_seq != self._bd_seq):
            # A will from an earlier connection, delivered after the node came back.
            self.stats.ignored_messages += 1
            logger.info("%s/%s: NDEATH with bdSeq %s ignored (current bdSeq %s)",
                        self.group, self.edge_node, bd_seq, self._bd_seq)
            return
        # The will's own timestamp is when it was set, not when the node died.
        self._lose_birth(self._last_ns if self._last_ns is not None else times.at,
                         f"edge node went offline (NDEATH, bdSeq {bd_seq})")

    def _check_seq(self, payload: Payload, times: _Times, received_ns: int,
                   requests: list[RebirthRequest]) -> None:
        if payload.seq is None or self._expected_seq is None:
            return
        seq = payload.seq % 256
        if seq != self._expected_seq:
            lost = (seq - self._expected_seq) % 256
            start = self._last_ns if self._last_ns is not None else times.first
            reason = f"seq skipped from {self._expected_seq} to {seq}"
            self._gap(start, times.first, f"{reason}: {lost} messages lost", lost)
            self._request(reason, received_ns, requests)
        self._expected_seq = (seq + 1) % 256

    def _node_message(self, topic: Topic, payload: Payload, times: _Times) -> None:
        assert self._birth is not None
        kind, device = topic.message_type, topic.device
        if kind == MessageType.NDATA:
            self._deliver(self._birth, payload.metrics, times.at, device=None)
        elif device is None:
            return
        elif kind == MessageType.DBIRTH:
            state = self._devices.setdefault(device, _Device())
            if state.offline_since_ns is not None:
                self._gap(state.offline_since_ns, times.first,
                          f"device {device} was offline (DDEATH)", None)
            state.birth = _Birth.of(payload.metrics)
            state.offline_since_ns = None
            self._deliver(state.birth, payload.metrics, times.at, device=device, defining=True)
            state.last_ns = times.last
        elif kind == MessageType.DDATA:
            state = self._devices.get(device, _Device())
            if state.birth is None:
                raise _Unresolvable(f"DDATA from device {device}, which has no DBIRTH")
            self._deliver(state.birth, payload.metrics, times.at, device=device)
            state.last_ns = max(times.last, state.last_ns or times.last)
        elif kind == MessageType.DDEATH:
            state = self._devices.setdefault(device, _Device())
            if state.birth is not None:
                state.offline_since_ns = (state.last_ns if state.last_ns is not None
                                          else times.first)
            state.birth = None
        self._last_ns = max(times.last, self._last_ns or times.last)

    def _deliver(self, birth: _Birth, metrics: Iterable[Metric], at_ns: int,
                 *, device: str | None, defining: bool = False) -> None:
        """Resolve every metric first, so a message is delivered whole or not at all."""
        readings: list[tuple[int, str, TagValue, bool]] = []
        for metric in metrics:
            resolved = birth.resolve(metric)
            if resolved is None and defining:
                # A birth metric without a name defines nothing; the rest still count.
                self.stats.skipped_metrics += 1
                logger.warning("%s/%s: birth metric %s has no name", self.group,
                               self.edge_node, metric.label)
                continue
            if resolved is None:
                where = f"device {device}'s DBIRTH" if device else "the NBIRTH"
                raise _Unresolvable(f"metric {metric.label} is not defined in {where}")
            name, datatype = resolved
            if _is_protocol(name):
                continue
            if metric.is_null or datatype not in SCALAR_TYPES:
                self.stats.skipped_metrics += 1
                continue
            try:
                value = metric.value(datatype)
            except PayloadError as error:
                self.stats.skipped_metrics += 1
                logger.warning("%s/%s: %s", self.group, self.edge_node, error)
                continue
            if value is None:
                self.stats.skipped_metrics += 1
                continue
            tag = name if device is None else f"{device}/{name}"
            when = metric.timestamp * _NS_PER_MS if metric.timestamp is not None else at_ns
            readings.append((when, tag, _tag_value(value), metric.is_historical))
        # A store-and-forward batch may list a tag's readings out of time order.
        readings.sort(key=lambda reading: reading[0])
        for when, tag, value, historical in readings:
            try:
                self.sink.observe(tag, value, when)
            except LedgerError as error:
                if not refused(error):
                    raise
                self._refuse(tag, value, when, error)
                continue
            self.stats.readings += 1
            self.stats.historical += historical

    def _refuse(self, tag: str, value: TagValue, at_ns: int, error: LedgerError) -> None:
        """One reading refused by the sink: counted and reported, and collection goes on."""
        self.stats.refused_readings += 1
        taken = (_EPOCH + timedelta(microseconds=at_ns // 1000)).isoformat(
            timespec="milliseconds")
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        message = (f"{self.group}/{self.edge_node}: reading of {tag} = {shown} taken at "
                   f"{taken} refused; collection goes on: {error}")
        logger.warning("%s", message)
        self.refusals.append(message)

    # --- gaps and rebirths ---------------------------------------------------

    def _drop(self, at_ns: int, reason: str) -> None:
        self.stats.dropped_messages += 1
        if self._open_gap is None:
            self._open_gap = _OpenGap(at_ns, reason)
        self._open_gap.dropped += 1

    def _lose_birth(self, start_ns: int, reason: str, *, dropped: int = 0) -> None:
        self._birth = None
        self._expected_seq = None
        self._devices.clear()
        self.stats.dropped_messages += dropped
        if self._open_gap is None:
            self._open_gap = _OpenGap(start_ns, reason)
        self._open_gap.dropped += dropped

    def _close_gap(self, end_ns: int) -> None:
        gap, self._open_gap = self._open_gap, None
        assert gap is not None
        self._gap(gap.start_ns, end_ns, gap.reason, gap.dropped or None)

    def _gap(self, start_ns: int, end_ns: int, reason: str, lost: int | None) -> None:
        # Edge and host clocks differ; a gap never ends before it starts.
        self.sink.gap(start_ns, max(start_ns, end_ns), reason, lost)
        self.stats.gaps += 1
        self.stats.lost_messages += lost or 0

    def _request(self, reason: str, received_ns: int, requests: list[RebirthRequest]) -> None:
        last = self._last_request_ns
        if last is not None and received_ns - last < self.rebirth_interval_ns:
            return
        self._last_request_ns = received_ns
        self.stats.rebirths_requested += 1
        requests.append(RebirthRequest(self.group, self.edge_node, reason))


def _is_protocol(name: str | None) -> bool:
    """Whether a metric is the protocol's own (bdSeq, controls) rather than process data."""
    return name is not None and (name == BD_SEQ or name.startswith(CONTROL_PREFIXES))


def _bd_seq(payload: Payload) -> int | None:
    metric = payload.metric(BD_SEQ)
    if metric is None or metric.is_null:
        return None
    raw = metric.raw
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def _tag_value(value: int | float | bool | str | datetime) -> TagValue:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value
