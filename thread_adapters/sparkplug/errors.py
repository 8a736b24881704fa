"""The Sparkplug B adapter's exceptions, part of the ledger's one hierarchy."""

from __future__ import annotations

from thread.errors import LedgerError


class SparkplugError(LedgerError):
    """Base of every exception the Sparkplug B adapter raises on purpose."""


class PayloadError(SparkplugError):
    """A message's payload is not a Sparkplug B payload this collector can read."""


class BrokerUnreachable(SparkplugError):  # noqa: N818 - reads as what happened
    """The MQTT broker did not accept the collector's connection."""
