"""What a protocol adapter hands to the shared mapping layer: raw readings and gaps.

A protocol adapter (OPC UA, Sparkplug B, ...) decodes its wire format and
calls a :class:`ReadingSink`; it never builds facts itself. The mapping layer
implements the sink, knows the machine's tag map, and turns readings into
process records, condition blocks, alarms and gap facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

#: A tag's value as it arrives from a PLC: a number, a flag, a counter or a text (serials).
TagValue = float | int | bool | str


class ReadingSink(Protocol):
    """Where a protocol adapter delivers what it read, in source-time order per tag."""

    def observe(self, tag: str, value: TagValue, at_ns: int) -> None:
        """One reading of ``tag`` taken at ``at_ns`` (source time, ns since the Unix epoch, UTC)."""

    def gap(self, start_ns: int, end_ns: int, reason: str, lost: int | None = None) -> None:
        """Nothing was received between two moments (a disconnect, a restart, a sequence skip)."""

    def flush(self) -> None:
        """Write everything buffered to the ledger now (on shutdown, or when asked)."""


class CollectingSink(ReadingSink, Protocol):
    """A sink with what long-running collectors also use (the mapping layer is one).

    Adapters that only need :class:`ReadingSink` keep using it; these
    methods are optional extras for a collector's run loop.
    """

    def observe_many(self, tag: str, values: Sequence[TagValue] | Any,
                     times_ns: Sequence[int] | Any) -> None:
        """Many readings of one tag at once, in source-time order."""

    def heartbeat(self, at_ns: int) -> None:
        """The source was connected and had nothing new up to ``at_ns`` (source clock)."""

    def declare_unit(self, tag: str, unit: str, origin: str) -> None:
        """The unit the source states for ``tag``; raises when the tag map says otherwise."""

    def write_ready(self) -> None:
        """Write what is finished (called on a timer by the collector's run loop)."""

    def close(self) -> None:
        """Flush everything and let go (at shutdown)."""
