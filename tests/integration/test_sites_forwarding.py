"""Site ledgers forward to a hub through a real nats-server with JetStream: the hub ends up
with every entry of every site exactly once, cosigned, through the broker going down
(kill -9) while the sites keep writing, a forwarder killed mid-round, and a flood of the
same messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats_servers import NatsServer

import thread
from thread import facts as f
from thread.log.checkpoint import generate_signer
from thread.log.cosignature import cosignatures, generate_cosigner
from thread.log.trust_policy import TrustPolicy
from thread.sites.forward import Forwarder
from thread.sites.hub import Hub, prepare
from thread.sites.mirror import Mirror
from thread.sites.mirror_check import check_mirrors
from thread.sites.site import log_entries
from thread.sites.wire import EntriesMessage, encode, subject

HUB_KEY, HUB_VKEY = generate_cosigner("hub.example/mirror")
#: Bounded wait for the hub to catch up, in seconds.
WAIT = 30.0


class Site:
    """A site ledger with its checkpoint key, writing parts with inspections."""

    def __init__(self, path: Path) -> None:
        self.at = datetime(2026, 3, 2, tzinfo=UTC)
        self.ledger = thread.open(path, clock=self._tick)
        self.key, self.verifier = generate_signer(self.ledger.origin)
        self.ledger.record(f.RevisionReleased(part_number="BRG-6204", revision="A",
                                              part_name="Bearing", drawing="D-1"))
        self.parts = 0

    def _tick(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at

    def write(self, parts: int) -> None:
        """Register ``parts`` more parts, each with an operation note."""
        for _ in range(parts):
            self.parts += 1
            with self.ledger.batch() as batch:
                batch.record(f.PartRegistered(serial=f"{self.ledger.origin[-6:]}-{self.parts}",
                                              part_number="BRG-6204", revision="A"))
                batch.record(f.Quarantined(serial=f"{self.ledger.origin[-6:]}-{self.parts}",
                                           reason="incoming check"))

    @property
    def size(self) -> int:
        return self.ledger.tree_head()[0]


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {WAIT:.0f} s: {what}")
        await asyncio.sleep(0.05)


def _mirrored(mirror: Mirror, site: Site) -> bool:
    return mirror.state(site.ledger.origin).mirror_size == site.size


def _same(mirror: Mirror, site: Site) -> None:
    """The hub holds the site's entries once each, byte for byte, and its cosignature on the
    site's checkpoint of that size verifies."""
    state = mirror.state(site.ledger.origin)
    assert mirror.entries(site.ledger.origin) == log_entries(site.ledger, 0, site.size)
    assert state.mirror_note is not None and f"\n{site.size}\n" in state.mirror_note
    assert len(cosignatures(state.mirror_note, [HUB_VKEY])) == 1
    policy = TrustPolicy.parse(f"log {site.verifier}\nwitness hub {HUB_VKEY}\nquorum hub\n"
                               .encode())
    [check] = [c for c in check_mirrors(mirror, policy) if c.origin == site.ledger.origin]
    assert (check.problems, check.size) == ((), site.size)  # derived again from the entries


def _run(tmp_path: Path, scenario: Callable[..., Coroutine[None, None, None]],
         sites: int = 2) -> None:
    server = NatsServer(tmp_path).start()
    try:
        made = [Site(tmp_path / f"site-{n}.db") for n in range(sites)]
        mirror = Mirror(str(tmp_path / "hub.db"), cosigner_key=HUB_KEY,
                        sites={s.ledger.origin: s.verifier for s in made})
        asyncio.run(scenario(server, made, mirror))
        mirror.close()
        for site in made:
            site.ledger.close()
    finally:
        server.stop()


def _tasks(server: NatsServer, sites: list[Site], mirror: Mirror
           ) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(Hub(mirror, server.url).run(stop))]
    tasks += [asyncio.create_task(Forwarder(site.ledger, server.url, signer_key=site.key,
                                            batch=16, patience=1.0).run(stop, interval=0.1))
              for site in sites]
    return stop, tasks


def test_two_sites_are_mirrored_and_cosigned(tmp_path: Path) -> None:
    """Both sites' logs reach the hub whole while they keep writing."""
    async def scenario(server: NatsServer, sites: list[Site], mirror: Mirror) -> None:
        for site in sites:
            site.write(20)
        stop, tasks = _tasks(server, sites, mirror)
        sites[0].write(15)
        await _until(lambda: all(_mirrored(mirror, s) for s in sites), "both sites mirrored")
        stop.set()
        await asyncio.gather(*tasks)
        for site in sites:
            _same(mirror, site)
        assert mirror.refusals() == []
    _run(tmp_path, scenario)


def test_the_broker_killed_while_sites_write_loses_and_duplicates_nothing(
        tmp_path: Path) -> None:
    """kill -9 of nats-server; the sites write on; the server comes back on the same store:
    every entry arrives once."""
    async def scenario(server: NatsServer, sites: list[Site], mirror: Mirror) -> None:
        for site in sites:
            site.write(10)
        stop, tasks = _tasks(server, sites, mirror)
        await _until(lambda: all(_mirrored(mirror, s) for s in sites), "first mirror")
        server.kill()
        for site in sites:
            site.write(25)  # recorded while the link is down
        await asyncio.sleep(1.0)
        server.start()
        await _until(lambda: all(_mirrored(mirror, s) for s in sites), "mirror after outage")
        stop.set()
        await asyncio.gather(*tasks)
        for site in sites:
            _same(mirror, site)
    _run(tmp_path, scenario)


def test_a_forwarder_killed_mid_round_resumes_from_the_hub(tmp_path: Path) -> None:
    """The forwarder task is cancelled while it sends; a new one sends from where the hub
    says it is, and the hub ends with each entry once."""
    async def scenario(server: NatsServer, sites: list[Site], mirror: Mirror) -> None:
        site = sites[0]
        site.write(60)
        stop = asyncio.Event()
        hub = asyncio.create_task(Hub(mirror, server.url).run(stop))
        first = asyncio.create_task(Forwarder(site.ledger, server.url, signer_key=site.key,
                                              batch=4).run(stop, interval=0.1))
        await _until(lambda: mirror.state(site.ledger.origin).next > 0, "some entries")
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        site.write(5)
        second = asyncio.create_task(Forwarder(site.ledger, server.url, signer_key=site.key,
                                               batch=4, patience=1.0).run(stop, interval=0.1))
        await _until(lambda: _mirrored(mirror, site), "mirror after a restart")
        stop.set()
        await asyncio.gather(hub, second)
        _same(mirror, site)
    _run(tmp_path, scenario, sites=1)


def test_a_flood_of_the_same_messages_changes_nothing(tmp_path: Path) -> None:
    """The same entries published again and again, past the broker's de-duplication (no
    message ids): the hub's mirror stays contiguous and whole."""
    async def scenario(server: NatsServer, sites: list[Site], mirror: Mirror) -> None:
        import nats

        site = sites[0]
        site.write(12)
        stop, tasks = _tasks(server, sites, mirror)
        await _until(lambda: _mirrored(mirror, site), "first mirror")
        entries = log_entries(site.ledger, 0, site.size)
        connection = await nats.connect(server.url)
        js = connection.jetstream()
        await prepare(js)
        for _ in range(20):
            for start in range(0, len(entries), 5):
                await js.publish(subject(site.ledger.origin), encode(EntriesMessage(
                    site.ledger.origin, start, tuple(entries[start:start + 5]))))
        await connection.drain()
        site.write(3)
        await _until(lambda: _mirrored(mirror, site), "mirror after the flood")
        stop.set()
        await asyncio.gather(*tasks)
        _same(mirror, site)
        assert mirror.refusals() == []
    _run(tmp_path, scenario, sites=1)


@pytest.fixture(autouse=True)
def _quiet_nats_logging(caplog: pytest.LogCaptureFixture) -> None:
    """nats-py logs every reconnect attempt while the server is down; keep the report
    readable."""
    caplog.set_level("CRITICAL", logger="nats")


def test_a_link_down_past_the_de_duplication_window_loses_and_duplicates_nothing(
        tmp_path: Path) -> None:
    """The stream's de-duplication window is one second; the broker is down for three while
    the site writes, and the forwarder sends everything again afterwards: the broker lets
    the re-sends through, the hub's own index check keeps each entry once."""
    async def scenario(server: NatsServer, sites: list[Site], mirror: Mirror) -> None:
        import nats
        from nats.js.api import StreamConfig

        from thread.sites.wire import STREAM, SUBJECTS

        connection = await nats.connect(server.url)
        await connection.jetstream().add_stream(StreamConfig(
            name=STREAM, subjects=[SUBJECTS], duplicate_window=1.0))
        await connection.close()
        site = sites[0]
        site.write(10)
        stop, tasks = _tasks(server, sites, mirror)
        await _until(lambda: _mirrored(mirror, site), "first mirror")
        server.kill()
        site.write(20)
        await asyncio.sleep(3.0)  # past the window
        server.start()
        await _until(lambda: _mirrored(mirror, site), "mirror after a long outage")
        stop.set()
        await asyncio.gather(*tasks)
        _same(mirror, site)
        assert mirror.refusals() == []
    _run(tmp_path, scenario, sites=1)


def test_the_hub_and_forwarders_making_the_stream_at_once_all_go_on(tmp_path: Path) -> None:
    """Six clients (a hub's and forwarders') each find no stream and bucket on a new server
    and make them at the same moment, three times over on fresh servers: every one gets the
    bucket, and one stream and one bucket are there."""
    import nats

    from thread.sites.wire import BUCKET, STREAM

    async def at_once(url: str) -> None:
        clients = [await nats.connect(url) for _ in range(6)]
        try:
            buckets = await asyncio.gather(*(prepare(client.jetstream())
                                             for client in clients))
            assert all(bucket is not None for bucket in buckets)
            streams = await clients[0].jetstream().streams_info()
            assert sorted(str(info.config.name) for info in streams) == sorted(
                [STREAM, f"KV_{BUCKET}"])
        finally:
            for client in clients:
                await client.close()

    for round_ in range(3):
        server = NatsServer(tmp_path / f"round-{round_}").start()
        try:
            asyncio.run(at_once(server.url))
        finally:
            server.stop()


def test_a_client_refused_because_another_just_made_the_stream_goes_on(
        tmp_path: Path) -> None:
    """The race seen once in CI, its timing forced: a client finds no stream and no bucket,
    another makes them, and the server refuses the first client's own making (as it did:
    "subjects overlap with an existing stream"); the first client goes on with them."""
    import nats
    from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError

    class Late:
        """A client's JetStream that looked just before another client made everything."""

        def __init__(self, js: Any) -> None:
            self._js = js
            self.refused: list[str] = []
            self._looked: set[str] = set()

        async def stream_info(self, name: str) -> Any:
            if name not in self._looked:
                self._looked.add(name)
                raise NotFoundError
            return await self._js.stream_info(name)

        async def add_stream(self, config: Any) -> Any:
            self.refused.append(config.name)
            raise BadRequestError(description="subjects overlap with an existing stream")

        async def key_value(self, bucket: str) -> Any:
            if bucket not in self._looked:
                self._looked.add(bucket)
                raise BucketNotFoundError
            return await self._js.key_value(bucket)

        async def create_key_value(self, bucket: str) -> Any:
            self.refused.append(bucket)
            raise BadRequestError(description="subjects overlap with an existing stream")

    async def late(url: str) -> None:
        first, second = await nats.connect(url), await nats.connect(url)
        try:
            await prepare(first.jetstream())  # the other client made them
            js = Late(second.jetstream())
            assert await prepare(js) is not None
            assert len(js.refused) == 2
        finally:
            await first.close()
            await second.close()

    server = NatsServer(tmp_path).start()
    try:
        asyncio.run(late(server.url))
    finally:
        server.stop()
