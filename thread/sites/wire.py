"""What sites and the hub say to each other over NATS JetStream: subjects, message ids,
the two kinds of message, and where the hub says how far it is.

* Stream ``THREAD_SITES`` holds ``thread.sites.<site>``, one subject per site (``<site>``
  is the first 16 hex digits of SHA-256 of its origin, since an origin may hold
  characters a subject may not).
* A message is msgpack: ``{"checkpoint": note, "proof": [hash, ...], "from": size}`` (a
  signed site checkpoint and the consistency proof from the mirror size the site knew),
  or ``{"origin": ..., "start": index, "entries": [canonical bytes, ...]}`` (entries from
  a log index on).
* Each carries ``Nats-Msg-Id`` ``<origin>/<start>`` (entries) or
  ``<origin>/checkpoint/<size>``, so the broker drops most re-sends; the hub never relies
  on it and checks contiguity by index itself.
* The hub keeps its state per site in the key-value bucket ``thread_hub`` under
  ``<site>``: JSON ``{"mirror": size, "next": index, "pending": size}``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import msgpack

STREAM = "THREAD_SITES"
SUBJECTS = "thread.sites.>"
BUCKET = "thread_hub"
ALERTS = "thread.alerts"


def site_token(origin: str) -> str:
    """The subject and key name of a site."""
    return hashlib.sha256(origin.encode()).hexdigest()[:16]


def subject(origin: str) -> str:
    """The subject a site publishes on."""
    return f"thread.sites.{site_token(origin)}"


@dataclass(frozen=True)
class CheckpointMessage:
    """A signed site checkpoint and the consistency proof from the hub's mirror."""

    note: str
    proof: tuple[bytes, ...]
    #: The mirror size the proof is from, as the sender knew it.
    proof_from: int = 0


@dataclass(frozen=True)
class EntriesMessage:
    """Entries of a site log from index ``start`` on."""

    origin: str
    start: int
    entries: tuple[bytes, ...]


class WireError(ValueError):
    """A message that is not one of ours."""


def encode(message: CheckpointMessage | EntriesMessage) -> bytes:
    """The message's bytes."""
    if isinstance(message, CheckpointMessage):
        body: dict[str, Any] = {"checkpoint": message.note, "proof": list(message.proof),
                                "from": message.proof_from}
    else:
        body = {"origin": message.origin, "start": message.start,
                "entries": list(message.entries)}
    return msgpack.packb(body, use_bin_type=True)


def decode(data: bytes) -> CheckpointMessage | EntriesMessage:
    """A message from its bytes; :class:`WireError` for anything else."""
    try:
        body = msgpack.unpackb(data, raw=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as error:
        raise WireError(f"not msgpack: {error}") from None
    if isinstance(body, dict) and isinstance(body.get("checkpoint"), str):
        proof = body.get("proof", [])
        if not isinstance(proof, list) or not all(isinstance(x, bytes) for x in proof):
            raise WireError("a checkpoint message's proof is a list of hashes")
        start = body.get("from", 0)
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise WireError("a checkpoint message's 'from' is a tree size")
        return CheckpointMessage(body["checkpoint"], tuple(proof), start)
    if (isinstance(body, dict) and isinstance(body.get("origin"), str)
            and isinstance(body.get("start"), int) and isinstance(body.get("entries"), list)
            and all(isinstance(x, bytes) for x in body["entries"])):
        return EntriesMessage(body["origin"], body["start"], tuple(body["entries"]))
    raise WireError("neither a checkpoint message nor an entries message")


def message_id(message: CheckpointMessage | EntriesMessage, origin: str, size: int = 0) -> str:
    """The ``Nats-Msg-Id`` of a message."""
    if isinstance(message, CheckpointMessage):
        return f"{origin}/checkpoint/{size}"
    return f"{message.origin}/{message.start}"


@dataclass(frozen=True)
class HubPosition:
    """How far the hub is with one site, as its key-value entry says."""

    mirror: int = 0
    next: int = 0
    pending: int = 0

    def to_bytes(self) -> bytes:
        """The key-value entry."""
        return json.dumps({"mirror": self.mirror, "next": self.next,
                           "pending": self.pending}).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> HubPosition:
        """A position from its entry (none: the hub holds nothing of the site yet)."""
        if not data:
            return cls()
        body = json.loads(data)
        return cls(int(body["mirror"]), int(body["next"]), int(body["pending"]))
