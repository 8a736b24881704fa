"""The verifiable log: verification throughput, proofs, checkpoint latency, cost at ingest.

On one SQLite ledger of ``--events`` events (1,000,000 by default; the
workload of ``ingest.py``: ten realistic events per part) it measures:

- ``thread verify`` as a whole (chains, leaves, tree, checkpoint) and its log
  pass alone (leaves and tree recomputed from the stored rows), events/s;
- inclusion proof generation from the stored subtrees and verification,
  latency, and the proof size;
- ingest with and without the log, in alternating rounds of the same run
  (without: the same code with leaf hashing and the leaf and node inserts
  replaced by no-ops);
- the time from a commit to a signed checkpoint that covers it, with
  automatic checkpoints every 0.25 s.

Run ``python benchmarks/verify.py --help``; the last line printed is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest import BATCH, EVENTS_PER_PART, LedgerSide, plan_part

import thread
import thread.ledger as ledger_module
import thread.storage.sqlite as sqlite_module
from thread.log.audit import audit, audit_since
from thread.log.checkpoint import generate_signer
from thread.log.merkle import CompactRange
from thread.log.verify import verify_inclusion
from thread.storage.log import TreeLog

TARGET_LOG_VERIFY = 200_000.0
TARGET_PROOF_MS = 1.0
TARGET_VERIFY_US = 15.0
TARGET_LOG_COST = 0.10
TARGET_CHECKPOINT_P95_S = 1.0


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


def log_cost(directory: Path, parts: int, rounds: int) -> dict[str, Any]:
    """Ingest with and without the log, alternating, on two fresh ledgers."""
    with_log = LedgerSide(str(directory / "with-log.db"))
    plain = LedgerSide(str(directory / "without-log.db"))
    rates: dict[str, list[float]] = {"with": [], "without": []}
    next_part = {"with": 0, "without": 0}
    for number in range(2 * rounds):
        label = "with" if number % 2 == 0 else "without"
        side = with_log if label == "with" else plain
        if label == "with":
            rate = fill(side, parts, next_part[label], report=False)
        else:
            with without_log():
                rate = fill(side, parts, next_part[label], report=False)
        next_part[label] += parts
        rates[label].append(rate)
        print(f"  ingest {label:<7} log: {rate:>10,.0f} events/s", flush=True)
    with_log.close()
    plain.close()
    median_with = statistics.median(rates["with"])
    median_without = statistics.median(rates["without"])
    return {"with_log_events_per_s": round(median_with, 1),
            "without_log_events_per_s": round(median_without, 1),
            "log_cost": round(1 - median_with / median_without, 4),
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


def incremental(path: Path, parts: int, new_parts: int, signer: str, verifier: str
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


def verification(ledger: thread.Ledger, verifier: str) -> dict[str, Any]:
    """The whole `thread verify`, and its log pass alone."""
    events = ledger.count()
    started = time.perf_counter()
    report = audit(ledger, verifier_keys=[verifier])
    whole = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError(f"verification failed: {report.first}")
    started = time.perf_counter()
    log_only = audit(ledger, verifier_keys=[verifier], chains=False)
    log_seconds = time.perf_counter() - started
    if not log_only.ok:
        raise RuntimeError(f"log verification failed: {log_only.first}")
    return {"events": events, "whole_events_per_s": round(events / whole, 1),
            "whole_s": round(whole, 2), "log_events_per_s": round(events / log_seconds, 1),
            "log_s": round(log_seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--events", type=int, help="events in the verified ledger")
    args = parser.parse_args(argv)
    events = args.events or (50_000 if args.quick else 1_000_000)
    parts = events // EVENTS_PER_PART
    cost_parts, cost_rounds = (1_000, 3) if args.quick else (5_000, 3)
    results: dict[str, Any] = {"benchmark": "verify", "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as name:
        directory = Path(name)
        print(f"log cost at ingest: {cost_rounds} rounds of {cost_parts:,} parts per side",
              flush=True)
        results["ingest"] = log_cost(directory, cost_parts, cost_rounds)
        print(f"building a ledger of {parts * EVENTS_PER_PART:,} events", flush=True)
        side = LedgerSide(str(directory / "ledger.db"))
        fill(side, parts)
        signer, verifier = generate_signer("bench")
        side.ledger.checkpoint(signer)
        side.close()
        # Verified as `thread verify` does it: a fresh process-like open of a ledger at rest.
        at_rest = thread.open(str(directory / "ledger.db"), create=False)
        print("verifying", flush=True)
        results["verify"] = verification(at_rest, verifier)
        print("proofs", flush=True)
        results["proofs"] = proofs(at_rest, parts, 1000)
        at_rest.close()
        print("incremental verification of 10,000 new events", flush=True)
        results["incremental"] = incremental(directory / "ledger.db", parts, 1_000, signer,
                                             verifier)
        print("checkpoint latency", flush=True)
        results["checkpoint"] = checkpoint_latency(directory, 0.25, 4 if args.quick else 15)
    verify, proof = results["verify"], results["proofs"]
    ingest, checkpoint = results["ingest"], results["checkpoint"]
    rows = [
        ("log verification", f"{verify['log_events_per_s']:,.0f} events/s",
         f"target >= {TARGET_LOG_VERIFY:,.0f}"),
        ("thread verify (all)", f"{verify['whole_events_per_s']:,.0f} events/s",
         f"{verify['events']:,} events in {verify['whole_s']} s"),
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
