"""The Sparkplug B sections of a tag map, and a collector built from them.

A machine's tag map says where its edge node publishes and which metric each
tag is::

    [connection.sparkplug]
    host = "mqtt.plant.local"     # the MQTT broker (default 127.0.0.1)
    port = 1883
    group = "Plant1"              # Sparkplug group id
    edge_node = "GrindCell1"      # edge node id
    device = "Grinder2"           # optional: tag metrics are this device's
    host_id = "thread-ledger"     # the STATE this host application publishes
    username = "ledger"           # optional; the password comes from the
    password_env = "MQTT_PASSWORD"  # environment variable named here
    tls = false                   # true: TLS, checked against ca_file or the system CAs
    ca_file = "/etc/ssl/plant-ca.pem"
    keepalive_s = 30
    rebirth_interval_s = 5        # ask for a rebirth again after this long

    [tags.spindle_speed]
    unit = "rpm"
    sparkplug.metric = "Spindle/Speed"

Readings reach the mapping layer under the session's tag names (the metric
name, or ``{device}/{metric name}`` for a device metric); the tag map's
``incoming_names("sparkplug")`` resolves both spellings to the tag.
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from thread_adapters.readings import ReadingSink
from thread_adapters.sparkplug.collector import DEFAULT_HOST_ID, SparkplugCollector
from thread_adapters.sparkplug.errors import SparkplugError
from thread_adapters.tagmap import TagMap

_STRICT = ConfigDict(frozen=True, extra="forbid")
_TopicLevel = Annotated[str, Field(min_length=1, pattern=r"^[^/+#]+$")]


class SparkplugConnection(BaseModel):
    """``[connection.sparkplug]``: the broker and the edge node to collect from."""

    model_config = _STRICT
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    group: _TopicLevel
    edge_node: _TopicLevel
    device: _TopicLevel | None = None
    host_id: _TopicLevel = DEFAULT_HOST_ID
    username: str | None = None
    password_env: str | None = None
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    rebirth_interval_s: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)] = 5.0


class SparkplugTag(BaseModel):
    """``[tags.NAME] sparkplug.metric``: the metric name the edge node publishes the tag under."""

    model_config = _STRICT
    metric: Annotated[str, Field(min_length=1)]


def connection_of(tag_map: TagMap) -> SparkplugConnection:
    """The map's Sparkplug connection, with every tag's Sparkplug section checked too."""
    if "sparkplug" not in tag_map.connection:
        raise tag_map.error(("connection", "sparkplug"),
                            "a [connection.sparkplug] section with the broker host, group and "
                            "edge_node, to collect this machine over Sparkplug B")
    connection = tag_map.parse(SparkplugConnection, "connection", "sparkplug")
    for key, tag in tag_map.tags.items():
        if tag.protocol("sparkplug") is not None:
            tag_map.parse(SparkplugTag, "tags", key, "sparkplug")
    return connection


def collector_for(tag_map: TagMap, sink: ReadingSink, *,
                  connection: SparkplugConnection | None = None) -> SparkplugCollector:
    """A collector for the machine of ``tag_map`` that delivers to ``sink``."""
    settings = connection or connection_of(tag_map)
    password = None
    if settings.password_env is not None:
        password = os.environ.get(settings.password_env)
        if password is None:
            raise SparkplugError(
                f"{tag_map.file}: [connection.sparkplug] password_env names "
                f"{settings.password_env!r}, but that environment variable is not set")
    collector = SparkplugCollector(
        sink, group=settings.group, edge_node=settings.edge_node, host=settings.host,
        port=settings.port, host_id=settings.host_id, username=settings.username,
        password=password, keepalive=settings.keepalive_s,
        rebirth_interval_ns=round(settings.rebirth_interval_s * 1e9),
        write_every_s=tag_map.collection.write_every_s)
    if settings.tls:
        collector.use_tls(settings.ca_file)
    return collector
