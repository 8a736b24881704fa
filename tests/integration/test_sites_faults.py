"""Faults between sites and the hub, for real: the hub process killed with SIGKILL again and
again while a site forwards, the JetStream stream deleted and re-created under both, and a
site restored from an older backup. After each, the hub holds every site entry once,
cosigned, and refused nothing, or the forwarder refuses to go on."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nats
import pytest
from nats_servers import NatsServer
from test_sites_forwarding import HUB_KEY, HUB_VKEY, Site, _mirrored, _same, _until

import thread
from thread import facts as f
from thread.log.checkpoint import generate_signer, verify_checkpoint
from thread.log.trust_policy import TrustPolicy
from thread.sites.forward import Forwarder, SiteBehindHub
from thread.sites.hub import Hub
from thread.sites.mirror import Mirror
from thread.sites.mirror_check import check_mirrors
from thread.sites.wire import STREAM

HUB = "from thread.cli import main; main()"
HUB_LOG_KEY, HUB_LOG_VKEY = generate_signer("acme.example/hub")


def _hub_process(tmp_path: Path, server: NatsServer, site: Site) -> subprocess.Popen[bytes]:
    """``thread hub`` in a process of its own."""
    (tmp_path / "hub.key").write_text(HUB_KEY + "\n")
    (tmp_path / "site.vkey").write_text(site.verifier + "\n")
    (tmp_path / "hub-log.key").write_text(HUB_LOG_KEY + "\n")
    return subprocess.Popen(
        [sys.executable, "-c", HUB, "--db", str(tmp_path / "hub.db"), "hub", "--from",
         server.url, "--site", str(tmp_path / "site.vkey"), "--cosigner-key",
         str(tmp_path / "hub.key"), "--key", str(tmp_path / "hub-log.key")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_the_hub_killed_again_and_again_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Three kill -9s of the hub process while entries arrive; each restart resumes from
    what it committed, and the hub's own log ends with the site's head, each size once."""
    server = NatsServer(tmp_path).start()
    site = Site(tmp_path / "site.db")
    site.write(150)
    hub = _hub_process(tmp_path, server, site)
    mirror: Mirror | None = None

    async def scenario() -> None:
        nonlocal hub, mirror
        stop = asyncio.Event()
        forwarder = asyncio.create_task(Forwarder(site.ledger, server.url, signer_key=site.key,
                                                  batch=8, patience=1.0).run(stop, interval=0.1))
        await _until(lambda: (tmp_path / "hub.db").exists(), "the hub's database")
        watched = mirror = Mirror(str(tmp_path / "hub.db"), cosigner_key=HUB_KEY,
                                  sites={site.ledger.origin: site.verifier})
        origin = site.ledger.origin

        def beyond(reached: int) -> bool:
            return watched.state(origin).next > reached

        for _ in range(3):
            reached = watched.state(origin).next
            site.write(40)  # so that entries are arriving when the hub is killed
            await _until(lambda: beyond(reached), "entries arriving")  # noqa: B023
            hub.send_signal(signal.SIGKILL)
            hub.wait(timeout=10)
            site.write(10)  # the site goes on meanwhile
            hub = _hub_process(tmp_path, server, site)
        await _until(lambda: _mirrored(watched, site), "mirror after the kills")
        await _until(lambda: _logged(tmp_path, origin) == site.size, "the hub's log")
        stop.set()
        await forwarder

    try:
        asyncio.run(scenario())
        assert mirror is not None
        _same(mirror, site)
        assert mirror.refusals() == []
        mirror.close()
        hub_log = thread.open(tmp_path / "hub.db", create=False)
        sizes = [e.fact.size for e in hub_log.history_of("site", site.ledger.origin)
                 if isinstance(e.fact, f.SiteCheckpointMirrored)]
        assert sizes == sorted(set(sizes)) and sizes[-1] == site.size
        last = verify_checkpoint(hub_log.checkpoints()[-1][1], HUB_LOG_VKEY)
        assert last.size == hub_log.count()
        policy = TrustPolicy.parse(f"log {site.verifier}\nwitness hub {HUB_VKEY}\nquorum hub\n"
                                   .encode())
        mirror = Mirror(str(tmp_path / "hub.db"), cosigner_key=HUB_KEY, sites={})
        [check] = check_mirrors(mirror, policy, hub_log)  # the mirror and the hub's log
        assert (check.problems, check.size) == ((), site.size)
        mirror.close()
        hub_log.close()
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=10)
        site.ledger.close()
        server.stop()


def _logged(tmp_path: Path, origin: str) -> int:
    """The size of the site's latest checkpoint in the hub's own log (0: none yet)."""
    hub_log = thread.open(tmp_path / "hub.db", create=False)
    try:
        return hub_log.site(origin).mirrored
    except thread.UnknownSubject:
        return 0
    finally:
        hub_log.close()


def test_the_stream_deleted_and_recreated_loses_nothing(tmp_path: Path) -> None:
    """The sites' stream deleted (with whatever it held) while the site keeps writing: the
    forwarder makes it again and sends from where the hub is."""
    server = NatsServer(tmp_path).start()
    site = Site(tmp_path / "site.db")
    mirror = Mirror(str(tmp_path / "hub.db"), cosigner_key=HUB_KEY,
                    sites={site.ledger.origin: site.verifier})

    async def scenario() -> None:
        site.write(20)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(Hub(mirror, server.url).run(stop)),
                 asyncio.create_task(Forwarder(site.ledger, server.url, signer_key=site.key,
                                               batch=8, patience=1.0).run(stop, interval=0.1))]
        await _until(lambda: _mirrored(mirror, site), "first mirror")
        connection = await nats.connect(server.url)
        await connection.jetstream().delete_stream(STREAM)
        await connection.close()
        site.write(30)
        await _until(lambda: _mirrored(mirror, site), "mirror after the stream came back")
        stop.set()
        await asyncio.gather(*tasks)

    try:
        asyncio.run(scenario())
        _same(mirror, site)
        assert mirror.refusals() == []
        assert HUB_VKEY
    finally:
        mirror.close()
        site.ledger.close()
        server.stop()


def test_a_site_restored_from_an_older_backup_is_not_forwarded(tmp_path: Path) -> None:
    """The site's file replaced by an older copy: the forwarder sees the hub mirrors more
    than the site holds and refuses to forward, naming the rollback."""
    server = NatsServer(tmp_path).start()
    site = Site(tmp_path / "site.db")
    mirror = Mirror(str(tmp_path / "hub.db"), cosigner_key=HUB_KEY,
                    sites={site.ledger.origin: site.verifier})
    site.write(5)
    site.ledger.close()
    shutil.copy(tmp_path / "site.db", tmp_path / "backup.db")
    site.ledger = thread.open(tmp_path / "site.db", clock=site._tick)
    site.write(5)

    async def forward_all() -> None:
        stop = asyncio.Event()
        hub = asyncio.create_task(Hub(mirror, server.url).run(stop))
        await Forwarder(site.ledger, server.url, signer_key=site.key).once()
        await _until(lambda: _mirrored(mirror, site), "first mirror")
        stop.set()
        await hub

    try:
        asyncio.run(forward_all())
        site.ledger.close()
        restored = thread.open(tmp_path / "backup.db")
        with pytest.raises(SiteBehindHub, match="went back"):
            asyncio.run(Forwarder(restored, server.url, signer_key=site.key).once())
        restored.close()
    finally:
        mirror.close()
        server.stop()


def test_a_three_node_cluster_losing_a_node_loses_nothing(tmp_path: Path) -> None:
    """The stream and the hub's bucket replicated on three nodes; one node killed with
    SIGKILL while the site writes: forwarding goes on through the other two."""
    from nats.js.api import StreamConfig
    from nats_servers import cluster_of

    from thread.sites.wire import BUCKET, SUBJECTS

    nodes = [node.start() for node in cluster_of(tmp_path)]
    urls = [node.url for node in nodes]
    site = Site(tmp_path / "site.db")
    mirror = Mirror(str(tmp_path / "hub.db"), cosigner_key=HUB_KEY,
                    sites={site.ledger.origin: site.verifier})

    async def scenario() -> None:
        connection = await nats.connect(urls)
        js = connection.jetstream()
        for _ in range(100):  # the cluster elects its JetStream leader first
            try:
                await js.add_stream(StreamConfig(name=STREAM, subjects=[SUBJECTS],
                                                 num_replicas=3))
                await js.create_key_value(bucket=BUCKET, replicas=3)
                break
            except nats.errors.Error:
                await asyncio.sleep(0.2)
        await connection.close()
        site.write(15)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(Hub(mirror, urls).run(stop)),
                 asyncio.create_task(Forwarder(site.ledger, urls, signer_key=site.key,
                                               batch=8, patience=1.0).run(stop, interval=0.1))]
        await _until(lambda: _mirrored(mirror, site), "first mirror")
        nodes[0].kill()
        site.write(25)
        await _until(lambda: _mirrored(mirror, site), "mirror with a node down")
        stop.set()
        await asyncio.gather(*tasks)

    try:
        asyncio.run(scenario())
        _same(mirror, site)
        assert mirror.refusals() == []
    finally:
        mirror.close()
        site.ledger.close()
        for node in nodes:
            node.stop()
