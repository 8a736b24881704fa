"""The verifiable log: verification throughput, proofs, checkpoint latency, cost at ingest.

On one SQLite ledger of ``--events`` events (1,000,000 by default; the
workload of ``ingest.py``: ten realistic events per part), signed every
10,000 events as an automatic checkpoint does, each checkpoint committing to
the subject map, it measures:

- the floors, in the same run: reading the same rows alone, and hashing the
  same bytes with ``hashlib`` alone;
- ``thread verify`` as a whole (chains, leaves, tree, checkpoints, subject
  maps; the chains in a second process) and in one process, and its log pass
  alone (leaves, tree and maps recomputed from the stored rows), events/s;
- the subject map: its share of the time of the build's ingest, ingest with
  and without it in alternating rounds, and its proofs (size, time) on the
  ledger and on a map of 1,000,000 subjects;
- inclusion proof generation from the stored subtrees and verification,
  latency, and the proof size;
- ingest with and without the log, in alternating rounds of the same run
  (without: the same code with leaf hashing and the leaf and node inserts
  replaced by no-ops);
- the time from a commit to a signed checkpoint that covers it, with
  automatic checkpoints every 0.25 s.

With ``--dir DIR`` the ledger is kept there with its verifier key
(``ledger.vkey``); ``--verify-only --dir DIR`` then measures the floors and
the verification again on it, without building (a 10M-event ledger takes a
quarter of an hour to build).

With ``--postgres URL`` the same ledger is built in a fresh schema of that
PostgreSQL database and measured there instead: the build (and the map's share
of it), reading the rows alone and hashing them alone (the floors), the
verification figures and ``verify --from``.

Run ``python benchmarks/verify.py --help``; the last line printed is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from ingest import BATCH, EVENTS_PER_PART, LedgerSide, plan_part

import thread
import thread.ledger as ledger_module
import thread.storage.sqlite as sqlite_module
from thread.domain.envelope import aggregate_id
from thread.log.audit import audit, audit_since
from thread.log.checkpoint import Checkpoint, generate_signer
from thread.log.merkle import CompactRange
from thread.log.subject_map import (
    BUCKET_DEPTH,
    EMPTY_SUB,
    EmptyMap,
    Head,
    MapUpdate,
    advance,
    find_map_line,
    index_at,
    prove,
    subject_key,
)
from thread.log.verify import verify_inclusion
from thread.storage.log import TreeLog
from thread.storage.map_store import stored_proof

TARGET_LOG_VERIFY = 200_000.0
TARGET_PROOF_MS = 1.0
TARGET_VERIFY_US = 15.0
TARGET_LOG_COST = 0.10
TARGET_CHECKPOINT_P95_S = 1.0
TARGET_WHOLE_VERIFY = 150_000.0
TARGET_LOG_PASS = 300_000.0
TARGET_MAP_COST = 0.10
TARGET_MAP_PROOF_BYTES = 2048
#: Events between automatic checkpoints while the benchmark ledgers are written.
CHECKPOINT_EVERY = 10_000


def fill(side: LedgerSide, parts: int, first: int = 0, report: bool = True) -> float:
    """Ingest ``parts`` parts; events per second."""
    started = time.perf_counter()
    for offset in range(0, parts, BATCH):
        side.ingest_batch(first + offset)
        if report and offset and offset % (BATCH * 200) == 0:
            print(f"  filled {offset * EVENTS_PER_PART:,} events", flush=True)
    return parts * EVENTS_PER_PART / (time.perf_counter() - started)


@contextmanager
def without_log() -> Iterator[None]:
    """The ledger with its log steps made no-ops: the baseline for the log's cost."""
    saved = (ledger_module.leaf_hash, sqlite_module.leaf_rows, sqlite_module.node_rows,
             TreeLog.extend)
    ledger_module.leaf_hash = lambda data: b"\0" * 32
    sqlite_module.leaf_rows = lambda *args: []
    sqlite_module.node_rows = lambda *args: []
    TreeLog.extend = lambda self, size, subtree, leaves: (CompactRange(), [])  # type: ignore[method-assign]
    try:
        yield
    finally:
        (ledger_module.leaf_hash, sqlite_module.leaf_rows, sqlite_module.node_rows,
         TreeLog.extend) = saved  # type: ignore[method-assign]


@contextmanager
def without_map() -> Iterator[None]:
    """The ledger signing checkpoints without bringing the subject map up to date: the
    baseline for the map's cost."""
    saved = (ledger_module.advance, ledger_module.changed_heads)
    ledger_module.advance = lambda view, changes, **_: MapUpdate(EMPTY_SUB, (), {})
    ledger_module.changed_heads = lambda store, start, end, **_: []
    try:
        yield
    finally:
        ledger_module.advance, ledger_module.changed_heads = saved


class MapClock:
    """Seconds spent bringing the subject map up to date at checkpoints (and all checkpoint
    work), measured by wrapping the ledger's own calls."""

    def __init__(self) -> None:
        self.map = 0.0
        self.checkpoints = 0.0

    @contextmanager
    def running(self) -> Iterator[None]:
        saved = (ledger_module.advance, ledger_module.changed_heads,
                 ledger_module.Ledger.checkpoint)
        ledger_module.advance = self._timed(saved[0], "map")
        ledger_module.changed_heads = self._timed(saved[1], "map")
        ledger_module.Ledger.checkpoint = self._timed(saved[2], "checkpoints")  # type: ignore[method-assign]
        try:
            yield
        finally:
            (ledger_module.advance, ledger_module.changed_heads,
             ledger_module.Ledger.checkpoint) = saved  # type: ignore[method-assign]

    def _timed(self, function: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                setattr(self, name, getattr(self, name) + time.perf_counter() - started)
        return timed


def signed_side(url: str, signer: str) -> LedgerSide:
    """A workload ledger that signs a checkpoint every CHECKPOINT_EVERY events."""
    side = LedgerSide(url)  # registers the workload's design and machine
    side.ledger.close()
    side.ledger = thread.open(url, actor="bench", checkpoint_key=signer,
                              checkpoint_every=CHECKPOINT_EVERY)
    return side


def map_cost(directory: Path, parts: int, rounds: int) -> dict[str, Any]:
    """Ingest with checkpoints every CHECKPOINT_EVERY events, the subject map kept up to
    date or not, alternating, on two fresh ledgers."""
    signer, _ = generate_signer("bench")
    return alternate(signed_side(str(directory / "with-map.db"), signer),
                     signed_side(str(directory / "without-map.db"), signer),
                     without_map, parts, rounds, "map")


def floors(path: Path) -> dict[str, Any]:
    """Reading the stored rows alone, and hashing their bytes with hashlib alone."""
    database = sqlite3.connect(path)
    try:
        return _floors(database.cursor(), "SELECT rowid, originator_id, originator_version, "
                                          "topic, state FROM ledger_events ORDER BY rowid")
    finally:
        database.close()


def build(url: str, parts: int) -> tuple[str, str, dict[str, Any]]:
    """The ledger at ``url`` filled with ``parts`` parts, a checkpoint every CHECKPOINT_EVERY
    events: (signer, verifier, figures of the build and the map's share of it)."""
    print(f"building a ledger of {parts * EVENTS_PER_PART:,} events, a checkpoint every "
          f"{CHECKPOINT_EVERY:,}", flush=True)
    signer, verifier = generate_signer("bench")
    side = signed_side(url, signer)
    clock = MapClock()
    with clock.running():
        rate = fill(side, parts)
        side.ledger.checkpoint(signer)
    side.close()
    built = parts * EVENTS_PER_PART / rate
    return signer, verifier, {"events_per_s": round(rate, 1), "seconds": round(built, 1),
                              "map_s": round(clock.map, 2),
                              "map_share": round(clock.map / built, 4),
                              "checkpoints_s": round(clock.checkpoints, 2)}


def postgres_floors(url: str, schema: str) -> dict[str, Any]:
    """The floors on PostgreSQL: the rows read through a server-side cursor, as the log pass
    reads them."""
    import psycopg

    with psycopg.connect(url.split("?")[0]) as connection:
        cursor = connection.cursor(name="floor")
        return _floors(cursor, f'SELECT notification_id, originator_id, originator_version, '
                               f'topic, state FROM "{schema}".ledger_events '
                               f'ORDER BY notification_id')


def _floors(cursor: Any, query: str) -> dict[str, Any]:
    """Rows per second reading ``query`` (the events in log order), and events per second
    hashing the first 200,000 events' bytes as leaves."""
    started = time.perf_counter()
    cursor.execute(query)
    rows = 0
    states: list[bytes] = []
    while page := cursor.fetchmany(PAGE_FLOOR):
        rows += len(page)
        if len(states) < 200_000:
            states += [bytes(row[4]) for row in page]
    read = time.perf_counter() - started
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for state in states:
        sha256(b"\x00" + state).digest()
    hashed = (time.perf_counter() - started) / len(states)
    return {"read_rows_per_s": round(rows / read, 1),
            "hash_only_events_per_s": round(1 / hashed, 1)}


PAGE_FLOOR = 5_000


def postgres(url: str, parts: int) -> dict[str, Any]:
    """The ledger built and verified in a fresh schema of the PostgreSQL database at ``url``."""
    import psycopg

    base = url.split("?")[0]
    schema = f"bench_verify_{os.getpid()}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.execute(f'CREATE SCHEMA "{schema}"')
    at = f"{base}?schema={schema}"
    try:
        signer, verifier, built = build(at, parts)
        results: dict[str, Any] = {"build": built}
        print("floors", flush=True)
        results["floors"] = postgres_floors(url, schema)
        at_rest = thread.open(at, create=False)
        print("verifying", flush=True)
        results["verify"] = verification(at_rest, verifier)
        at_rest.close()
        print("incremental verification of 10,000 new events", flush=True)
        results["incremental"] = incremental(at, parts, 1_000, signer, verifier)
        return results
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def map_proofs(ledger: thread.Ledger, parts: int, subjects: int,
               samples: int) -> dict[str, Any]:
    """Map proofs of parts on the ledger (from the store), and on an in-memory map of
    ``subjects`` random subjects built by the ledger's own update."""
    size, note = ledger.checkpoints()[-1]
    committed = find_map_line(Checkpoint.from_note(note).extensions)
    assert committed is not None
    chosen = random.Random(11)
    times, sizes = [], []
    for _ in range(samples):
        ident = aggregate_id("part", plan_part(chosen.randrange(parts)).serial).bytes
        started = time.perf_counter()
        proof = stored_proof(ledger.store, size, ident)
        times.append(time.perf_counter() - started)
        if proof.root(subject_key(ident)) != committed.hash:
            raise RuntimeError("a map proof from the store does not lead to the signed root")
        sizes.append(32 * len(proof.path))
    print(f"  building a map of {subjects:,} subjects in memory", flush=True)
    heads = [Head(subject_key(os.urandom(16)), chosen.randint(1, 50), os.urandom(32))
             for _ in range(subjects)]

    # update.nodes below: every stored subtree of the new map, as a store would hold them
    started = time.perf_counter()
    update = advance(EmptyMap(), heads)
    built = time.perf_counter() - started
    buckets: dict[int, list[Head]] = {}
    for head in heads:
        buckets.setdefault(index_at(head.key, BUCKET_DEPTH), []).append(head)
    big = []
    for head in chosen.sample(heads, samples):
        proof = prove(head.key, sorted(buckets[index_at(head.key, BUCKET_DEPTH)]), update.nodes)
        if proof.root(head.key) != update.root.hash:
            raise RuntimeError("a map proof does not lead to the map's root")
        big.append(32 * len(proof.path))
    return {"ledger_subjects": committed.subjects,
            "ledger_proof_ms_p50": round(1000 * percentile(times, 0.5), 3),
            "ledger_proof_ms_p99": round(1000 * percentile(times, 0.99), 3),
            "ledger_proof_bytes_max": max(sizes),
            "subjects": subjects, "build_s": round(built, 2),
            "proof_bytes_mean": round(statistics.mean(big), 1),
            "proof_bytes_max": max(big)}


def log_cost(directory: Path, parts: int, rounds: int) -> dict[str, Any]:
    """Ingest with and without the log, alternating, on two fresh ledgers."""
    return alternate(LedgerSide(str(directory / "with-log.db")),
                     LedgerSide(str(directory / "without-log.db")),
                     without_log, parts, rounds, "log")


def alternate(with_it: LedgerSide, without_it: LedgerSide,
              baseline: Callable[[], AbstractContextManager[None]], parts: int, rounds: int,
              what: str) -> dict[str, Any]:
    """Rounds of ``parts`` parts on each side in turn, the second inside ``baseline()``;
    the median rates and the cost of ``what``."""
    rates: dict[str, list[float]] = {"with": [], "without": []}
    next_part = {"with": 0, "without": 0}
    for number in range(2 * rounds):
        label = "with" if number % 2 == 0 else "without"
        side = with_it if label == "with" else without_it
        with nullcontext() if label == "with" else baseline():
            rate = fill(side, parts, next_part[label], report=False)
        next_part[label] += parts
        rates[label].append(rate)
        print(f"  ingest {label:<7} {what}: {rate:>10,.0f} events/s", flush=True)
    with_it.close()
    without_it.close()
    median_with = statistics.median(rates["with"])
    median_without = statistics.median(rates["without"])
    return {f"with_{what}_events_per_s": round(median_with, 1),
            f"without_{what}_events_per_s": round(median_without, 1),
            f"{what}_cost": round(1 - median_with / median_without, 4),
            "rounds_with": [round(r, 1) for r in rates["with"]],
            "rounds_without": [round(r, 1) for r in rates["without"]]}


def timed(action: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds per call of ``action``, ``repeat`` times."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def incremental(path: Path | str, parts: int, new_parts: int, signer: str, verifier: str
                ) -> dict[str, Any]:
    """``thread verify --from``: a checkpoint trusted, ``new_parts`` parts' events added and
    checkpointed, then only those verified; beside it, the whole verify of the same ledger."""
    side = LedgerSide.__new__(LedgerSide)  # the ledger as built: its design is there
    side.ledger = thread.open(str(path), actor="bench")
    trusted = side.ledger.checkpoint(signer)  # the ledger's latest, if nothing came since
    fill(side, new_parts, first=parts, report=False)
    side.ledger.checkpoint(signer)
    side.close()
    ledger = thread.open(str(path), create=False)
    started = time.perf_counter()
    report = audit_since(ledger, trusted, verifier_keys=[verifier])
    seconds = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError(f"incremental verification failed: {report.first}")
    ledger.close()
    return {"new_events": report.events - report.since, "ledger_events": report.events,
            "seconds": round(seconds, 3),
            "events_per_s": round((report.events - report.since) / seconds, 1)}


def proofs(ledger: thread.Ledger, parts: int, samples: int) -> dict[str, Any]:
    """Inclusion proofs for random events: generation from the store, verification."""
    size, root = ledger.tree_head()
    chosen = random.Random(7)
    targets = [(plan_part(chosen.randrange(parts)).serial, chosen.randint(1, EVENTS_PER_PART))
               for _ in range(samples)]
    made = []
    generate = []
    for serial, version in targets:
        started = time.perf_counter()
        made.append(ledger.inclusion_proof("part", serial, version, size=size))
        generate.append(time.perf_counter() - started)
    check = []
    for proof in made:
        started = time.perf_counter()
        verify_inclusion(proof.leaf_hash, proof.index, size, proof.path, root)
        check.append(time.perf_counter() - started)
    loops = 2000
    proof = made[0]
    started = time.perf_counter()
    for _ in range(loops):
        verify_inclusion(proof.leaf_hash, proof.index, size, proof.path, root)
    per_verify = (time.perf_counter() - started) / loops
    sizes = [32 * len(p.path) for p in made]
    return {"tree_size": size,
            "generate_ms_p50": round(1000 * percentile(generate, 0.5), 4),
            "generate_ms_p99": round(1000 * percentile(generate, 0.99), 4),
            "verify_us": round(1e6 * per_verify, 2),
            "verify_us_p99": round(1e6 * percentile(check, 0.99), 2),
            "proof_bytes_max": max(sizes),
            "proof_bytes_bound": 32 * (size - 1).bit_length()}


def checkpoint_latency(directory: Path, seconds: float, duration: float) -> dict[str, Any]:
    """Commits at random intervals; how long until a signed checkpoint covers each."""
    signer, _ = generate_signer("bench")
    url = str(directory / "checkpoints.db")
    side = LedgerSide(url)  # registers the workload's design and machine
    side.ledger.close()
    ledger = side.ledger = thread.open(url, checkpoint_key=signer, checkpoint_seconds=seconds)
    commits: list[tuple[int, float]] = []
    covered: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            sizes = [size for size, _ in ledger.checkpoints()]
            now = time.monotonic()
            for size in sizes:
                covered.setdefault(size, now)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    chooser = random.Random(3)
    part = 0
    ended = time.monotonic() + duration
    while time.monotonic() < ended:
        side.ingest_batch(part)
        part += BATCH
        commits.append((ledger.tree_head()[0], time.monotonic()))
        time.sleep(chooser.uniform(0.0, 0.2))
    time.sleep(seconds * 3)
    done.set()
    watcher.join()
    latencies = []
    for size, at in commits:
        covering = [seen for cp_size, seen in covered.items() if cp_size >= size]
        if covering:
            latencies.append(max(0.0, min(covering) - at))
    ledger.close()
    return {"interval_s": seconds, "commits": len(commits), "covered": len(latencies),
            "p50_s": round(percentile(latencies, 0.5), 3),
            "p95_s": round(percentile(latencies, 0.95), 3)}


def rss_mb() -> float:
    """This process's resident set size now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def verification(ledger: thread.Ledger, verifier: str) -> dict[str, Any]:
    """The whole `thread verify` (two processes, then one), and its log pass alone; the peak
    resident memory of this process while each runs (sampled) and of the second process."""
    events = ledger.count()
    figures: dict[str, Any] = {"events": events}
    for label, options in (("whole", {"workers": 2}), ("one_process", {"workers": 1}),
                           ("log", {"chains": False})):
        peak = [rss_mb()]
        done = threading.Event()

        def sample(peak: list[float] = peak, done: threading.Event = done) -> None:
            while not done.wait(0.2):
                peak.append(rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        report = audit(ledger, verifier_keys=[verifier], **options)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        figures[f"{label}_rss_peak_mb"] = round(max(peak), 1)
        if not report.ok:
            raise RuntimeError(f"verification ({label}) failed: {report.first}")
        figures[f"{label}_events_per_s"] = round(events / seconds, 1)
        figures[f"{label}_s"] = round(seconds, 2)
        figures["maps_checked"] = report.maps_checked
        print(f"  {label}: {seconds:.1f} s", flush=True)
    figures["second_process_rss_peak_mb"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return figures


def verify_only(directory: Path, results: dict[str, Any]) -> int:
    """The floors and the verification figures of the ledger kept in ``directory``."""
    path, key = directory / "ledger.db", directory / "ledger.vkey"
    for needed in (path, key):
        if not needed.is_file():
            print(f"--verify-only: {needed} is missing; expected a ledger and its key kept by "
                  f"an earlier run with --dir {directory}", file=sys.stderr)
            return 2
    verifier = key.read_text().strip()
    results["floors"] = floors(path)
    at_rest = thread.open(str(path), create=False)
    print(f"verifying {at_rest.count():,} events", flush=True)
    results["verify"] = verification(at_rest, verifier)
    at_rest.close()
    verify, floor = results["verify"], results["floors"]
    print(f"reading the rows alone {floor['read_rows_per_s']:,.0f} rows/s, hashlib alone "
          f"{floor['hash_only_events_per_s']:,.0f} events/s; log pass (with maps) "
          f"{verify['log_events_per_s']:,.0f} events/s (target {TARGET_LOG_PASS:,.0f}); "
          f"thread verify {verify['whole_events_per_s']:,.0f} events/s in {verify['whole_s']} s "
          f"(target {TARGET_WHOLE_VERIFY:,.0f}), in one process "
          f"{verify['one_process_events_per_s']:,.0f}")
    print(json.dumps(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--events", type=int, help="events in the verified ledger")
    parser.add_argument("--map-subjects", type=int,
                        help="subjects of the in-memory map whose proofs are measured")
    parser.add_argument("--dir", type=Path, help="where to write the ledgers (kept)")
    parser.add_argument("--verify-only", action="store_true",
                        help="measure the floors and verification of the ledger an earlier "
                             "run kept in --dir")
    parser.add_argument("--postgres", metavar="URL",
                        help="build and verify the ledger in PostgreSQL at URL instead")
    args = parser.parse_args(argv)
    events = args.events or (50_000 if args.quick else 1_000_000)
    parts = events // EVENTS_PER_PART
    cost_parts, cost_rounds = (1_000, 3) if args.quick else (5_000, 3)
    subjects = args.map_subjects or (100_000 if args.quick else 1_000_000)
    results: dict[str, Any] = {"benchmark": "verify", "quick": args.quick,
                               "checkpoint_every": CHECKPOINT_EVERY}
    if args.verify_only:
        if args.dir is None:
            parser.error("--verify-only needs --dir, where an earlier run kept its ledger")
        return verify_only(args.dir, results)
    if args.postgres:
        results.update(backend="postgresql", **postgres(args.postgres, parts))
        verify, floor, built = results["verify"], results["floors"], results["build"]
        print(f"PostgreSQL, {verify['events']:,} events: reading the rows alone "
              f"{floor['read_rows_per_s']:,.0f} rows/s, hashlib alone "
              f"{floor['hash_only_events_per_s']:,.0f} events/s; build "
              f"{built['events_per_s']:,.0f} events/s (map {100 * built['map_share']:.1f} %); "
              f"log pass {verify['log_events_per_s']:,.0f} events/s; thread verify "
              f"{verify['whole_events_per_s']:,.0f} events/s ({verify['whole_s']} s), one "
              f"process {verify['one_process_events_per_s']:,.0f}; verify --from "
              f"{results['incremental']['seconds']} s for "
              f"{results['incremental']['new_events']:,} new events")
        print(json.dumps(results))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as name:
        directory = args.dir or Path(name)
        directory.mkdir(parents=True, exist_ok=True)
        print(f"log cost at ingest: {cost_rounds} rounds of {cost_parts:,} parts per side",
              flush=True)
        results["ingest"] = log_cost(directory, cost_parts, cost_rounds)
        print(f"map cost at ingest: {cost_rounds} rounds of {2 * cost_parts:,} parts per side",
              flush=True)
        results["map"] = map_cost(directory, 2 * cost_parts, cost_rounds)
        signer, verifier, results["build"] = build(str(directory / "ledger.db"), parts)
        (directory / "ledger.vkey").write_text(verifier + "\n")
        print(f"  {json.dumps(results['build'])}", flush=True)
        print("floors", flush=True)
        results["floors"] = floors(directory / "ledger.db")
        # Verified as `thread verify` does it: a fresh process-like open of a ledger at rest.
        at_rest = thread.open(str(directory / "ledger.db"), create=False)
        print("verifying", flush=True)
        results["verify"] = verification(at_rest, verifier)
        print(f"  {json.dumps(results['verify'])}", flush=True)
        print("proofs", flush=True)
        results["proofs"] = proofs(at_rest, parts, 1000)
        print("map proofs", flush=True)
        results["map_proofs"] = map_proofs(at_rest, parts, subjects, 1000)
        at_rest.close()
        print("incremental verification of 10,000 new events", flush=True)
        results["incremental"] = incremental(directory / "ledger.db", parts, 1_000, signer,
                                             verifier)
        print("checkpoint latency", flush=True)
        results["checkpoint"] = checkpoint_latency(directory, 0.25, 4 if args.quick else 15)
    verify, proof = results["verify"], results["proofs"]
    ingest, checkpoint = results["ingest"], results["checkpoint"]
    floor, mapped, built = results["floors"], results["map"], results["build"]
    map_proof = results["map_proofs"]
    rows = [
        ("reading the rows alone", f"{floor['read_rows_per_s']:,.0f} rows/s", "floor"),
        ("hashlib alone", f"{floor['hash_only_events_per_s']:,.0f} events/s", "floor"),
        ("log pass (with maps)", f"{verify['log_events_per_s']:,.0f} events/s",
         f"target >= {TARGET_LOG_PASS:,.0f}"),
        ("thread verify (all)", f"{verify['whole_events_per_s']:,.0f} events/s",
         f"target >= {TARGET_WHOLE_VERIFY:,.0f}; {verify['events']:,} events in "
         f"{verify['whole_s']} s"),
        ("  in one process", f"{verify['one_process_events_per_s']:,.0f} events/s",
         f"{verify['one_process_s']} s"),
        ("subject maps derived", f"{verify['maps_checked']}", "one per checkpoint"),
        ("map share of build", f"{100 * built['map_share']:.1f} %",
         f"{built['map_s']} s of {built['seconds']} s at {built['events_per_s']:,.0f} ev/s"),
        ("map cost at ingest", f"{100 * mapped['map_cost']:.1f} %",
         f"target <= {100 * TARGET_MAP_COST:.0f} % ({mapped['with_map_events_per_s']:,.0f} "
         f"vs {mapped['without_map_events_per_s']:,.0f} events/s)"),
        ("map proof", f"{map_proof['proof_bytes_max']} bytes max",
         f"at {map_proof['subjects']:,} subjects (mean {map_proof['proof_bytes_mean']}); "
         f"target <= {TARGET_MAP_PROOF_BYTES}"),
        ("map proof on the ledger", f"{map_proof['ledger_proof_ms_p50']} ms p50",
         f"{map_proof['ledger_proof_bytes_max']} bytes max at "
         f"{map_proof['ledger_subjects']:,} subjects"),
        ("inclusion proof", f"{proof['generate_ms_p50']} ms p50, {proof['generate_ms_p99']} "
         f"ms p99", f"target <= {TARGET_PROOF_MS} ms at {proof['tree_size']:,} leaves"),
        ("proof verification", f"{proof['verify_us']} us", f"target <= {TARGET_VERIFY_US} us"),
        ("proof size", f"{proof['proof_bytes_max']} bytes",
         f"32 x ceil(log2 n) = {proof['proof_bytes_bound']}"),
        ("ingest with log", f"{ingest['with_log_events_per_s']:,.0f} events/s",
         f"without: {ingest['without_log_events_per_s']:,.0f}"),
        ("log cost at ingest", f"{100 * ingest['log_cost']:.1f} %",
         f"target <= {100 * TARGET_LOG_COST:.0f} %"),
        ("verify --from", f"{results['incremental']['seconds']} s for "
         f"{results['incremental']['new_events']:,} new events",
         f"on {results['incremental']['ledger_events']:,} (target <= 1 s at 10M)"),
        ("commit to checkpoint", f"{checkpoint['p95_s']} s p95",
         f"target <= {TARGET_CHECKPOINT_P95_S} s (p50 {checkpoint['p50_s']} s)"),
    ]
    print()
    for label, value, note in rows:
        print(f"{label:<22} {value:<34} {note}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
