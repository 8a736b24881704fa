"""A site's side of the wire: publish what the hub lacks, resuming from where the hub says
it is, after any restart on either side.

Each round signs a checkpoint of the site's log when it has grown (with the site's own
key), publishes it with the consistency proof from the hub's mirror, then the entries from
the hub's next index up to it, in messages of ``batch`` entries, and waits for the hub to
cosign. A hub that stops advancing (a message lost, a gap it would not fill) is sent
again from its next index. The link can be down for any time: the site goes on
recording, and the next round sends everything since.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from thread.errors import LedgerError
from thread.sites.hub import prepare, quiet, still_wanted
from thread.sites.site import extension_proof, latest_checkpoint, log_entries
from thread.sites.wire import (
    CheckpointMessage,
    EntriesMessage,
    HubPosition,
    encode,
    message_id,
    site_token,
    subject,
)

if TYPE_CHECKING:
    from thread.ledger import Ledger

_log = logging.getLogger(__name__)


class SiteBehindHub(LedgerError):  # noqa: N818 - the words an operator reads
    """The site's log is shorter than what the hub mirrors of it: a rollback."""


@dataclass(frozen=True)
class Round:
    """What one round did: the checkpoint size it forwarded and the entries it sent."""

    size: int
    sent: int
    mirrored: int


class Forwarder:
    """Forwards one site ledger to the hub through a NATS server."""

    def __init__(self, ledger: Ledger, servers: str | list[str], *, signer_key: str | None,
                 batch: int = 256, patience: float = 5.0) -> None:
        self.ledger = ledger
        self.servers = servers
        self.signer_key = signer_key
        self.batch = batch
        self.patience = patience
        self.origin = ledger.origin
        self._stop: asyncio.Event | None = None  # run()'s: a round in progress ends on it

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Forward round after round until ``stop`` is set."""
        import nats
        from nats.errors import Error as NatsError

        self._stop = stop
        connection = await nats.connect(self.servers, max_reconnect_attempts=-1,
                                         error_cb=quiet)
        try:
            js = connection.jetstream()
            kv = None
            while not stop.is_set():
                still_wanted()
                try:
                    kv = kv or await prepare(js)
                    done = await self.round(js, kv)
                    idle = done.mirrored >= done.size
                except (NatsError, TimeoutError) as error:  # the link is down: keep trying
                    _log.info("forwarding %s paused: %r", self.origin, error)
                    kv, idle = None, True  # and make sure of the stream again
                if idle:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), interval)
        finally:
            await connection.close()

    async def once(self) -> Round:
        """One round on a connection of its own (``thread forward --once``)."""
        import nats

        connection = await nats.connect(self.servers, max_reconnect_attempts=3,
                                         error_cb=quiet)
        try:
            js = connection.jetstream()
            return await self.round(js, await prepare(js))
        finally:
            await connection.close()

    async def round(self, js: Any, kv: Any) -> Round:
        """Sign a checkpoint if the log grew, and send the hub what it lacks of it."""
        checkpoint = await asyncio.to_thread(self._checkpoint)
        if checkpoint is None:
            return Round(0, 0, 0)
        size, note = checkpoint
        position = await self._position(kv)
        here = (await asyncio.to_thread(self.ledger.tree_head))[0]
        if position.mirror > here:
            raise SiteBehindHub(
                f"{self.origin} holds {here} entries, but the hub already mirrors "
                f"{position.mirror} of this log: the site went back (restored from an older "
                f"backup?). Nothing is forwarded; what it records now would fork the log")
        if position.mirror >= size:
            return Round(size, 0, position.mirror)
        proof = await asyncio.to_thread(extension_proof, self.ledger, position.mirror, size)
        message = CheckpointMessage(note, tuple(proof), position.mirror)
        await js.publish(subject(self.origin), encode(message),
                         headers={"Nats-Msg-Id": message_id(message, self.origin, size)})
        sent = 0
        start = position.next if position.pending >= size else min(position.next,
                                                                   position.mirror)
        while True:
            sent += await self._send(js, start, size)
            position = await self._wait(kv, size)
            if position.mirror >= size or (self._stop is not None and self._stop.is_set()):
                return Round(size, sent, position.mirror)
            _log.info("hub at %d of %d for %s; sending again from there", position.next,
                      size, self.origin)
            if position.pending < size:  # the hub lost the checkpoint: send it again
                proof = await asyncio.to_thread(extension_proof, self.ledger,
                                                position.mirror, size)
                message = CheckpointMessage(note, tuple(proof), position.mirror)
                await js.publish(subject(self.origin), encode(message))
            start = position.next

    def _checkpoint(self) -> tuple[int, str] | None:
        latest = latest_checkpoint(self.ledger)
        size, _ = self.ledger.tree_head()
        if self.signer_key is not None and (latest is None or latest[0] < size):
            self.ledger.checkpoint(self.signer_key)
            latest = latest_checkpoint(self.ledger)
        return latest

    async def _send(self, js: Any, start: int, size: int) -> int:
        sent = 0
        while start < size:
            stop = min(size, start + self.batch)
            entries = await asyncio.to_thread(log_entries, self.ledger, start, stop)
            message = EntriesMessage(self.origin, start, tuple(entries))
            await js.publish(subject(self.origin), encode(message),
                             headers={"Nats-Msg-Id": message_id(message, self.origin)})
            sent += len(entries)
            start = stop
        return sent

    async def _position(self, kv: Any) -> HubPosition:
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await kv.get(site_token(self.origin))
        except KeyNotFoundError:  # nothing of the site mirrored yet
            return HubPosition()
        return HubPosition.from_bytes(entry.value)

    async def _wait(self, kv: Any, size: int) -> HubPosition:
        """The hub's position once it mirrors ``size``, or once it stops moving."""
        last, moved = await self._position(kv), time.monotonic()
        while (last.mirror < size and time.monotonic() - moved < self.patience
               and not (self._stop is not None and self._stop.is_set())):
            await asyncio.sleep(0.05)
            now = await self._position(kv)
            if now != last:
                last, moved = now, time.monotonic()
        return last
