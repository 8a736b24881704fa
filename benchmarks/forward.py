"""Forwarding benchmark: site ledgers into a PostgreSQL hub over NATS JetStream.

    python benchmarks/forward.py --quick     # 4 sites x 5,000 events, 30 lag trials
    python benchmarks/forward.py             # 4 sites x 25,000 events, 100 lag trials

It starts a nats-server of its own (JetStream, a temporary store, a free loopback port)
and measures, in the same run:

- **throughput**: four site ledgers (SQLite files, filled beforehand), each forwarded by
  its own ``thread forward`` process as at a real site, into a hub (this process)
  mirroring into a fresh PostgreSQL schema (SQLite with ``--hub sqlite``) and recording
  each cosigned checkpoint in its own log, as ``thread hub --key`` does: events per
  second from the first entry the hub takes to the last cosignature (the processes'
  start-up left out);
- **raw JetStream**: the same messages (the same bytes, the same batches) published to
  the stream and consumed with a pull consumer and acks, nothing stored: the ceiling the
  broker and client allow;
- **lag**: with the link up and everything running, one event committed at a site at a
  time; the time from its commit to the hub's cosignature covering it, p50 and p95.

Targets (printed, not asserted): at least 20,000 events/s with four sites, at least 0.5x
raw JetStream, and lag p95 at most 2 s. A table goes to stderr; the last line on stdout
is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import thread
from thread import facts as f
from thread.log.checkpoint import generate_signer
from thread.log.cosignature import generate_cosigner
from thread.sites.forward import Forwarder
from thread.sites.hub import Hub, prepare
from thread.sites.hub_log import HubLog
from thread.sites.mirror import Mirror
from thread.sites.site import log_entries
from thread.sites.wire import EntriesMessage, encode, subject

SITES = 4
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_RATE, TARGET_RATIO, TARGET_P95 = 20_000, 0.5, 2.0
BATCH = 512


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _site(folder: Path, name: str, events: int) -> tuple[thread.Ledger, str, str]:
    at = [datetime(2026, 1, 1, tzinfo=UTC)]

    def clock(at: list[datetime] = at) -> datetime:
        at[0] += timedelta(milliseconds=1)
        return at[0]
    ledger = thread.open(folder / f"{name}.db", clock=clock, origin=f"bench.example/{name}")
    key, verifier = generate_signer(ledger.origin)
    ledger.record(f.MachineRegistered(machine=f"{name}-M", name="Mill", kind="mill"))
    with ledger.stream() as stream:
        for i in range(events - 1):
            stream.record(f.AlarmRaised(machine=f"{name}-M", code=f"A{i % 50}",
                                        severity="warning", text="spindle load high",
                                        raised_at=at[0]))
    return ledger, key, verifier


def _hub_url(kind: str, folder: Path, postgres: str) -> tuple[str, str | None]:
    if kind == "sqlite":
        return str(folder / "hub.db"), None
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    return f"{postgres.replace('postgresql://', 'postgresql+psycopg://')}?schema={schema}", \
        schema


async def _throughput(url: str, sites: list[tuple[thread.Ledger, str, str]],
                      mirror: Mirror, log: HubLog, folder: Path) -> tuple[float, float]:
    """Seconds from the first entry the hub takes to the last cosignature, and from the
    forwarder processes' start."""
    stop = asyncio.Event()
    hub = asyncio.create_task(Hub(mirror, url, log=log).run(stop))
    processes = []
    spawned = time.perf_counter()
    for ledger, key, _ in sites:
        key_file = folder / f"{ledger.origin.rsplit('/', 1)[-1]}.key"
        key_file.write_text(key + "\n")
        processes.append(subprocess.Popen(
            [sys.executable, "-c", "from thread.cli import main; main()", "--db",
             ledger.env["SQLITE_DBNAME"], "forward", "--to", url, "--key", str(key_file),
             "--batch", str(BATCH)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    targets = {ledger.origin: ledger.tree_head()[0] for ledger, _, _ in sites}
    try:
        while not any(mirror.state(o).next for o in targets):
            await asyncio.sleep(0.005)
        start = time.perf_counter()
        while not all(mirror.state(o).mirror_size >= n for o, n in targets.items()):
            await asyncio.sleep(0.02)
        end = time.perf_counter()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        stop.set()
        await hub
    return end - start, end - spawned


async def _raw(url: str, messages: list[tuple[str, bytes]]) -> float:
    """Publish the same messages and consume them with acks, storing nothing."""
    import nats

    connection = await nats.connect(url)
    js = connection.jetstream()
    await prepare(js)
    await js.purge_stream("THREAD_SITES")
    start = time.perf_counter()
    for name, data in messages:
        await js.publish(name, data)
    pull = await js.pull_subscribe("thread.sites.>", durable="raw", stream="THREAD_SITES")
    got = 0
    while got < len(messages):
        for message in await pull.fetch(64, timeout=5):
            await message.ack()
            got += 1
    elapsed = time.perf_counter() - start
    await connection.close()
    return elapsed


async def _lag(url: str, site: tuple[thread.Ledger, str, str], mirror: Mirror,
               trials: int) -> list[float]:
    ledger, key, _ = site
    stop = asyncio.Event()
    hub = asyncio.create_task(Hub(mirror, url).run(stop))
    forwarder = asyncio.create_task(Forwarder(ledger, url, signer_key=key, batch=BATCH)
                                    .run(stop, interval=0.02))
    lags = []
    for trial in range(trials):
        ledger.record(f.AlarmRaised(machine=_machine(ledger), code=f"L{trial}",
                                    severity="warning", text="lag probe",
                                    raised_at=ledger.clock()))
        committed = time.perf_counter()
        size = ledger.tree_head()[0]
        while mirror.state(ledger.origin).mirror_size < size:
            await asyncio.sleep(0.005)
        lags.append(time.perf_counter() - committed)
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(hub, forwarder)
    return lags


def _machine(ledger: thread.Ledger) -> str:
    """The site's machine, named after its file (``site0.db``: ``site0-M``)."""
    return Path(ledger.env["SQLITE_DBNAME"]).stem + "-M"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run for CI")
    parser.add_argument("--hub", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES_URL))
    arguments = parser.parse_args()
    events, trials = (5_000, 30) if arguments.quick else (25_000, 100)
    binary = shutil.which("nats-server")
    if binary is None:
        sys.exit("nats-server is not on the PATH")
    folder = Path(tempfile.mkdtemp(prefix="forward-bench-"))
    port = _port()
    server = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd",
                               str(folder / "nats")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"nats://127.0.0.1:{port}"
    schema = None
    try:
        time.sleep(0.5)
        sites = [_site(folder, f"site{n}", events) for n in range(SITES)]
        hub_key, _ = generate_cosigner("bench.example/hub")
        hub_url, schema = _hub_url(arguments.hub, folder, arguments.postgres_url)
        mirror = Mirror(hub_url, cosigner_key=hub_key,
                        sites={ledger.origin: verifier for ledger, _, verifier in sites})
        hub_ledger = thread.open(hub_url.replace("postgresql+psycopg://", "postgresql://"),
                                 origin="bench.example/hub")
        log = HubLog(hub_ledger, mirror, signer_key=generate_signer("bench.example/hub")[0])
        elapsed, with_startup = asyncio.run(_throughput(url, sites, mirror, log, folder))
        logged = hub_ledger.count()
        hub_ledger.close()
        total = sum(ledger.tree_head()[0] for ledger, _, _ in sites)
        messages = []
        for ledger, _, _ in sites:
            size = ledger.tree_head()[0]
            for start in range(0, size, BATCH):
                entries = tuple(log_entries(ledger, start, min(size, start + BATCH)))
                messages.append((subject(ledger.origin),
                                 encode(EntriesMessage(ledger.origin, start, entries))))
        raw = asyncio.run(_raw(url, messages))
        lags = asyncio.run(_lag(url, sites[0], mirror, trials))
        mirror.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        if schema is not None:
            import psycopg

            with psycopg.connect(arguments.postgres_url, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
        shutil.rmtree(folder, ignore_errors=True)
    rate, raw_rate = total / elapsed, total / raw
    p50 = statistics.median(lags)
    p95 = statistics.quantiles(lags, n=20)[-1]
    print(f"forwarded {total} events from {SITES} sites into a {arguments.hub} hub: "
          f"{elapsed:.2f} s, {rate:,.0f} events/s (target {TARGET_RATE:,}: "
          f"{'met' if rate >= TARGET_RATE else 'MISSED'}); {total / with_startup:,.0f} "
          f"events/s counting the forwarder processes' start-up ({with_startup:.2f} s)",
          file=sys.stderr)
    print(f"  raw JetStream, same messages published and consumed: {raw:.2f} s, "
          f"{raw_rate:,.0f} events/s; ratio {rate / raw_rate:.2f} (target {TARGET_RATIO}: "
          f"{'met' if rate / raw_rate >= TARGET_RATIO else 'MISSED'})", file=sys.stderr)
    print(f"commit to cosignature, {trials} trials: p50 {p50 * 1000:.0f} ms, p95 "
          f"{p95 * 1000:.0f} ms (target {TARGET_P95 * 1000:.0f} ms: "
          f"{'met' if p95 <= TARGET_P95 else 'MISSED'})", file=sys.stderr)
    print(json.dumps({"benchmark": "forward", "quick": arguments.quick, "hub": arguments.hub,
                      "sites": SITES, "events": total, "seconds": round(elapsed, 3),
                      "seconds_with_startup": round(with_startup, 3),
                      "events_per_s": round(rate), "raw_events_per_s": round(raw_rate),
                      "ratio": round(rate / raw_rate, 3), "hub_log_events": logged,
                      "lag_p50_ms": round(p50 * 1000, 1), "lag_p95_ms": round(p95 * 1000, 1)}))


if __name__ == "__main__":
    main()
