"""Sparkplug B topic names: ``spBv1.0/{group}/{message type}/{edge node}[/{device}]``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: The namespace every Sparkplug B topic starts with.
NAMESPACE = "spBv1.0"


class MessageType(StrEnum):
    """The message types of an edge node's topics."""

    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    NDATA = "NDATA"
    NCMD = "NCMD"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    DDATA = "DDATA"
    DCMD = "DCMD"


#: Message types that name a device as the topic's fifth level.
DEVICE_TYPES = frozenset({MessageType.DBIRTH, MessageType.DDEATH, MessageType.DDATA,
                          MessageType.DCMD})


@dataclass(frozen=True, slots=True)
class Topic:
    """Where a Sparkplug B message was published."""

    group: str
    message_type: MessageType
    edge_node: str
    device: str | None = None

    def __str__(self) -> str:
        levels = [NAMESPACE, self.group, self.message_type.value, self.edge_node]
        if self.device is not None:
            levels.append(self.device)
        return "/".join(levels)

    @classmethod
    def parse(cls, text: str) -> Topic | None:
        """The topic ``text`` names, or None when it is not an edge node's Sparkplug B topic."""
        levels = text.split("/")
        if len(levels) not in (4, 5) or levels[0] != NAMESPACE:
            return None
        try:
            message_type = MessageType(levels[2])
        except ValueError:
            return None
        device = levels[4] if len(levels) == 5 else None
        if (device is not None) != (message_type in DEVICE_TYPES):
            return None
        if not all(levels[1:]):
            return None
        return cls(levels[1], message_type, levels[3], device)


def state_topic(host_id: str) -> str:
    """The topic a host application publishes its STATE on (Sparkplug 3.0)."""
    return f"{NAMESPACE}/STATE/{host_id}"


def edge_node_filter(group: str, edge_node: str) -> str:
    """The subscription that receives every message of one edge node and its devices."""
    # '#' also matches the parent level, so node topics (four levels) match too.
    return f"{NAMESPACE}/{group}/+/{edge_node}/#"
