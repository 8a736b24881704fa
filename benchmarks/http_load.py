"""HTTP load benchmark: 50 clients reading stories and 5 writing batches, at once, against
``thread serve`` over a PostgreSQL ledger, on loopback.

    python benchmarks/http_load.py --quick     # 10 s of load over the 100-bearing demo plant
    python benchmarks/http_load.py             # 60 s over the 300-bearing demo plant

It fills a fresh PostgreSQL schema with the demo plant, starts ``thread serve`` on it in a
process of its own, and runs the clients in this process (asyncio, httpx): each reader
asks ``GET /parts/{serial}`` for random serials, each writer ``POST /batches`` of ten
condition records, back to back, for the duration. It reports p50 and p99 latency of each,
errors (any status but 200/201, any transport error: the target is 0), and requests per
second; and, in the same run, the library called directly (``ledger.trace`` and a
``ledger.batch`` of the same ten facts, one at a time) as the baseline. A table goes to
stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

import thread
from thread import facts as f
from thread.demo import fill

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
READERS, WRITERS, BATCH = 50, 5, 10


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _conditions(machine: str, at: datetime) -> list[dict[str, object]]:
    """Ten condition windows of ``machine`` from ``at``, as the API takes them."""
    facts = []
    for n in range(BATCH):
        start = at + timedelta(minutes=n)
        facts.append({"topic": "machine.condition-recorded", "fact": {
            "machine": machine, "window_start": start.isoformat(),
            "window_end": (start + timedelta(minutes=1)).isoformat(),
            "availability": 0.95, "performance": 0.9, "quality": 1.0,
            "metrics": [{"name": "load_probe", "unit": "mm/s", "n": 60, "min": 0.5,
                         "max": 2.5, "mean": 1.2}]}})
    return facts


async def _load(base: str, serials: list[str], machines: list[str], seconds: float
                ) -> tuple[list[float], list[float], list[str]]:
    """Read and write latencies (seconds) and the errors, over ``seconds`` of load."""
    reads: list[float] = []
    writes: list[float] = []
    errors: list[str] = []
    stop = time.perf_counter() + seconds
    clock = [datetime(2031, 1, 1, tzinfo=UTC)]
    limits = httpx.Limits(max_connections=READERS + WRITERS)

    async def reader(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop:
            began = time.perf_counter()
            try:
                answer = await client.get(f"/parts/{random.choice(serials)}")
            except httpx.HTTPError as error:
                errors.append(repr(error))
                continue
            reads.append(time.perf_counter() - began)
            if answer.status_code != 200:
                errors.append(f"GET {answer.status_code}: {answer.text[:200]}")

    async def writer(client: httpx.AsyncClient, machine: str) -> None:
        while time.perf_counter() < stop:
            at = clock[0] = clock[0] + timedelta(minutes=BATCH)
            began = time.perf_counter()
            try:
                answer = await client.post("/batches", json={"facts": _conditions(machine, at)})
            except httpx.HTTPError as error:
                errors.append(repr(error))
                continue
            writes.append(time.perf_counter() - began)
            if answer.status_code != 201:
                errors.append(f"POST {answer.status_code}: {answer.text[:200]}")

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await asyncio.gather(*(reader(client) for _ in range(READERS)),
                             *(writer(client, machines[n % len(machines)])
                               for n in range(WRITERS)))
    return reads, writes, errors


def _direct(url: str, serials: list[str], machines: list[str], rounds: int
            ) -> tuple[list[float], list[float]]:
    """The library called directly: one trace, one batch of the same facts, at a time."""
    ledger = thread.open(url)
    reads, writes = [], []
    at = datetime(2032, 1, 1, tzinfo=UTC)
    for n in range(rounds):
        began = time.perf_counter()
        ledger.trace(random.choice(serials))
        reads.append(time.perf_counter() - began)
        if n % 5 == 0:
            facts = [f.fact_class(item["topic"])(**item["fact"])  # type: ignore[arg-type]
                     for item in _conditions(machines[0], at + timedelta(hours=n))]
            began = time.perf_counter()
            with ledger.batch() as batch:
                for fact in facts:
                    batch.record(fact)
            writes.append(time.perf_counter() - began)
    ledger.close()
    return reads, writes


def _ms(values: list[float], quantile: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES_URL))
    arguments = parser.parse_args()
    bearings, seconds = (100, 10.0) if arguments.quick else (300, 60.0)
    import psycopg

    schema = f"bench_http_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(arguments.postgres_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{arguments.postgres_url}?schema={schema}"
    server = None
    try:
        ledger = thread.open(url)
        fill(ledger, bearings=bearings)
        serials = ledger.serials("BRG-6204")
        machines = ["GR-01", "GR-02", "GR-03"]
        ledger.trace(serials[0])  # read models built before the load, as in service
        ledger.close()
        port = _port()
        server = subprocess.Popen(
            [sys.executable, "-c", "from thread.cli import main; main()", "--db", url, "serve",
             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/topics", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("thread serve did not start")
                time.sleep(0.2)
        started = time.perf_counter()
        reads, writes, errors = asyncio.run(_load(base, serials, machines, seconds))
        elapsed = time.perf_counter() - started
        direct_reads, direct_writes = _direct(url, serials, machines,
                                              100 if arguments.quick else 300)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(arguments.postgres_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    result = {
        "benchmark": "http_load", "quick": arguments.quick, "seconds": round(elapsed, 1),
        "readers": READERS, "writers": WRITERS, "bearings": bearings,
        "get_story_p50_ms": round(_ms(reads, 0.5), 1),
        "get_story_p99_ms": round(_ms(reads, 0.99), 1),
        "post_batch_p50_ms": round(_ms(writes, 0.5), 1),
        "post_batch_p99_ms": round(_ms(writes, 0.99), 1),
        "requests_per_s": round((len(reads) + len(writes)) / elapsed, 1),
        "reads": len(reads), "writes": len(writes), "errors": len(errors),
        "direct_trace_p50_ms": round(_ms(direct_reads, 0.5), 1),
        "direct_trace_p99_ms": round(_ms(direct_reads, 0.99), 1),
        "direct_batch_p50_ms": round(_ms(direct_writes, 0.5), 1),
        "direct_batch_p99_ms": round(_ms(direct_writes, 0.99), 1),
    }
    print(f"{READERS} readers + {WRITERS} writers for {elapsed:.0f} s on PostgreSQL: "
          f"{result['requests_per_s']} requests/s, {len(errors)} errors", file=sys.stderr)
    print(f"  GET story   p50 {result['get_story_p50_ms']} ms, p99 {result['get_story_p99_ms']} "
          f"ms  (library, one at a time: p50 {result['direct_trace_p50_ms']} ms, p99 "
          f"{result['direct_trace_p99_ms']} ms)", file=sys.stderr)
    print(f"  POST batch  p50 {result['post_batch_p50_ms']} ms, p99 "
          f"{result['post_batch_p99_ms']} ms  (library: p50 {result['direct_batch_p50_ms']} "
          f"ms, p99 {result['direct_batch_p99_ms']} ms)", file=sys.stderr)
    for error in errors[:5]:
        print(f"  error: {error}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
