"""Sparkplug B over MQTT: a host application that collects an edge node's metrics.

``payload`` reads the protobuf payloads (schema built here from the public
Sparkplug B definition), ``session`` is the protocol's state machine (births,
aliases, seq, bdSeq, gaps, rebirth requests) with no network, and
``collector`` runs it on an MQTT broker with paho. Readings go to a
:class:`~thread_adapters.readings.ReadingSink`; tag names are the metric name
for node metrics and ``{device}/{metric name}`` for device metrics.
"""

from __future__ import annotations

from thread_adapters.sparkplug.collector import REBIRTH_METRIC, SparkplugCollector
from thread_adapters.sparkplug.errors import BrokerUnreachable, PayloadError, SparkplugError
from thread_adapters.sparkplug.payload import DataType, Metric, Payload, decode_payload
from thread_adapters.sparkplug.session import RebirthRequest, SessionStats, SparkplugSession
from thread_adapters.sparkplug.topic import MessageType, Topic

__all__ = [
    "REBIRTH_METRIC",
    "BrokerUnreachable",
    "DataType",
    "MessageType",
    "Metric",
    "Payload",
    "PayloadError",
    "RebirthRequest",
    "SessionStats",
    "SparkplugCollector",
    "SparkplugError",
    "SparkplugSession",
    "Topic",
    "decode_payload",
]
