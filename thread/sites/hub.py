"""The hub's side of the wire: it takes the sites' messages from JetStream, in order, into
its :class:`~thread.sites.mirror.Mirror`, and publishes how far it is with each site.

A message is acknowledged only after the mirror has committed what it did with it, so a
hub killed at any moment is sent again what it had not committed; whatever is sent
twice, late or out of order, the mirror's checks by log index decide. A refused message
is acknowledged too (it is on record, and sending it again changes nothing), and an
alert is published on ``thread.alerts``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from thread.sites.mirror import Mirror, Refusal, SiteRefused, SiteState
from thread.sites.wire import (
    ALERTS,
    BUCKET,
    STREAM,
    SUBJECTS,
    CheckpointMessage,
    EntriesMessage,
    HubPosition,
    WireError,
    decode,
    site_token,
)

if TYPE_CHECKING:
    from thread.sites.hub_log import HubLog

_log = logging.getLogger(__name__)
#: Messages fetched at a time.
FETCH = 64


async def quiet(error: Exception) -> None:
    """nats-py's error callback: a lost connection is logged once, at debug level (the
    client reconnects by itself; a first connection that fails raises)."""
    _log.debug("nats: %r", error)


def still_wanted() -> None:
    """Raise CancelledError when this task was asked to stop. Python 3.11's ``wait_for``
    (which nats-py's calls go through) swallows a cancellation that lands just as the awaited
    future completes; a loop that checks this at each turn stops all the same."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def prepare(js: Any) -> Any:
    """The stream and the key-value bucket (made if missing); returns the bucket.

    The hub and each forwarder make them if missing, so two may make them at once: the
    server then refuses the second (its subjects overlap the stream just made), which
    finds them made."""
    from nats.js.api import StreamConfig
    from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError

    try:
        await js.stream_info(STREAM)
    except NotFoundError:
        try:
            await js.add_stream(StreamConfig(name=STREAM, subjects=[SUBJECTS],
                                             duplicate_window=120.0))
        except BadRequestError:
            await js.stream_info(STREAM)  # made meanwhile, or the refusal stands
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        try:
            return await js.create_key_value(bucket=BUCKET)
        except BadRequestError:
            return await js.key_value(BUCKET)


class Hub:
    """Mirrors every configured site from a NATS server."""

    def __init__(self, mirror: Mirror, servers: str | list[str], *,
                 log: HubLog | None = None) -> None:
        self.mirror = mirror
        self.servers = servers
        #: The hub's own log, where each cosigned site checkpoint and each refusal is
        #: recorded after each batch (see :mod:`thread.sites.hub_log`).
        self.log = log
        self.alerts: list[Refusal] = []
        mirror.on_refusal(self.alerts.append)

    async def run(self, stop: asyncio.Event) -> None:
        """Take messages until ``stop`` is set."""
        import nats
        from nats.errors import Error as NatsError

        if self.log is not None:
            await asyncio.to_thread(self.log.catch_up)  # what a killed hub left unlogged
        connection = await nats.connect(self.servers, max_reconnect_attempts=-1,
                                         error_cb=quiet)
        try:
            js = connection.jetstream()
            pull = kv = None
            idle = 0
            while not stop.is_set():
                still_wanted()
                try:
                    if pull is None:
                        kv = await prepare(js)
                        pull = await js.pull_subscribe(SUBJECTS, durable="hub", stream=STREAM)
                    await self._batch(connection, pull, kv)
                    idle = 0
                except (NatsError, TimeoutError) as error:  # no messages, or the link is down
                    if not isinstance(error, TimeoutError):
                        _log.info("the hub waits for the broker: %r", error)
                        pull = None  # subscribe again: the stream may have been re-created
                        await asyncio.sleep(0.2)
                        continue
                    idle += 1
                    if idle % 4 == 0 and not await _consumer_exists(js):
                        pull = None  # the stream was deleted (and maybe made again)
        finally:
            await connection.close()

    async def _batch(self, connection: Any, pull: Any, kv: Any) -> None:
        """Fetch, take and acknowledge one batch; publish where the hub is with each site it
        touched, and the alerts it raised."""
        messages = await pull.fetch(FETCH, timeout=0.5)
        states = await asyncio.to_thread(self._take_all, [m.data for m in messages])
        if self.log is not None:
            await asyncio.to_thread(self.log.catch_up)
        for state in states.values():
            await kv.put(site_token(state.origin), HubPosition(
                state.mirror_size, state.next, state.pending_size).to_bytes())
        for message in messages:
            await message.ack()
        while self.alerts:
            refusal = self.alerts.pop(0)
            await connection.publish(ALERTS, json.dumps(refusal.__dict__).encode())

    def _take_all(self, datas: list[bytes]) -> dict[str, SiteState]:
        """The messages into the mirror, runs of one site's contiguous entries as one
        stage; each site's state after them."""
        merged: list[CheckpointMessage | EntriesMessage] = []
        for data in datas:
            try:
                message = decode(data)
            except WireError as error:
                _log.warning("a message that is not a site's was dropped: %s", error)
                continue
            last = merged[-1] if merged else None
            if (isinstance(message, EntriesMessage) and isinstance(last, EntriesMessage)
                    and last.origin == message.origin
                    and last.start + len(last.entries) == message.start):
                merged[-1] = EntriesMessage(last.origin, last.start,
                                            last.entries + message.entries)
            else:
                merged.append(message)
        states: dict[str, SiteState] = {}
        for message in merged:
            state = self._take(message)
            if state is not None:
                states[state.origin] = state
        return states

    def _take(self, message: CheckpointMessage | EntriesMessage) -> SiteState | None:
        """One message into the mirror; the site's state after it (None: not a site's)."""
        try:
            if isinstance(message, CheckpointMessage):
                return self.mirror.add_checkpoint(message.note, message.proof,
                                                  message.proof_from)
            return self.mirror.add_entries(message.origin, message.start, message.entries)
        except SiteRefused as error:  # recorded by the mirror, and alerted by run()
            _log.warning("refused: %s", error)
            origin = _origin(message)
            return self.mirror.state(origin) if origin else None


async def _consumer_exists(js: Any) -> bool:
    """Whether the hub's durable consumer is still there (a deleted stream takes it)."""
    from nats.errors import Error as NatsError
    from nats.js.errors import NotFoundError

    try:
        await js.consumer_info(STREAM, "hub")
    except NotFoundError:
        return False
    except (NatsError, TimeoutError):
        return True  # the broker is away: the fetches will say so
    return True


def _origin(message: CheckpointMessage | Any) -> str | None:
    if isinstance(message, CheckpointMessage):
        first = message.note.split("\n", 1)[0]
        return first or None
    return str(message.origin)
