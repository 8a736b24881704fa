"""Concurrent writers: four processes on shared parts against four on disjoint parts.

Each scenario runs on a fresh ledger (a SQLite file, or a PostgreSQL schema of
its own that the script drops afterwards) holding one released design and the
registered parts, then starts its writer processes together:

- ``one``: one writer, 40 parts;
- ``disjoint``: four writers, 40 parts each, no part shared (the baseline);
- ``shared``: four writers on the same 40 parts, as collectors, the MES and the
  QMS writing about the same parts at once.

Every batch records ten inspections on ten different parts of its writer's
set (so about ten aggregates written and the design read), each with a source
record id. The same number of batches is written in every scenario. Reported
per scenario: wall time from the common start to the last commit, batches and
events per second, p50, p99 and max latency of a batch (``with ledger.batch()``
to its commit, retries included), ``ConcurrencyConflict`` errors, and the
retries the writers made; then shared against disjoint. Afterwards every
ledger is audited (chains, leaves, tree) and its event count checked.

Run ``python benchmarks/concurrency.py --help``; the last line printed is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import random
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import thread
from thread import facts as f
from thread.log.audit import audit

Backend = Literal["sqlite", "postgres"]
Scenario = Literal["one", "disjoint", "shared"]
SCENARIOS: tuple[tuple[Scenario, int], ...] = (("one", 1), ("disjoint", 4), ("shared", 4))

PARTS = 40
FACTS_PER_BATCH = 10
DEFAULT_BATCHES = 2_400
QUICK_BATCHES = 600
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: Shared parts may take at most this many times the disjoint wall time (printed, not asserted).
TARGET_RATIO = 2.0

PART_NUMBER = "BRG-6204"
REVISION = "A"


def serials(scenario: Scenario, writer: int) -> list[str]:
    """The parts a writer writes about: its own set, or the one set every writer shares."""
    group = "SH" if scenario == "shared" else f"W{writer}"
    return [f"{group}-{index:03d}" for index in range(PARTS)]


def inspection(serial: str, measured: float) -> f.InspectionRecorded:
    return f.InspectionRecorded(
        serial=serial, characteristic="1", method="cmm", gauge="CMM-2", measured=measured,
        unit="mm", nominal=20.0, lower_tolerance=-0.01, upper_tolerance=0.0,
        verdict="pass" if 19.99 <= measured <= 20.0 else "fail",
    )


def prepare(url: str, scenario: Scenario, writers: int) -> int:
    """A fresh ledger with the design and every writer's parts registered; events written."""
    ledger = thread.open(url, actor="bench-setup")
    with ledger.batch(source="bench-setup") as batch:
        batch.record(f.RevisionReleased(
            part_number=PART_NUMBER, revision=REVISION, part_name="Deep groove ball bearing",
            drawing="DWG-6204", characteristics=(
                f.Characteristic(balloon="1", name="Bore diameter", nominal=20.0, unit="mm",
                                 lower_tolerance=-0.01, upper_tolerance=0.0,
                                 designator="key"),
            ),
        ))
        for serial in sorted({s for w in range(writers) for s in serials(scenario, w)}):
            batch.record(f.PartRegistered(serial=serial, part_number=PART_NUMBER,
                                          revision=REVISION, work_order="WO-1"))
    count = ledger.count()
    ledger.close()
    return count


def write(url: str, scenario: Scenario, writer: int, batches: int, barrier: Any,
          results: Any) -> None:
    """One writer process: ``batches`` batches of ten inspections on its parts."""
    try:
        _write(url, scenario, writer, batches, barrier, results)
    except BaseException:
        results.put({"writer": writer, "error": traceback.format_exc()})
        raise


def _write(url: str, scenario: Scenario, writer: int, batches: int, barrier: Any,
           results: Any) -> None:
    ledger = thread.open(url, actor=f"writer-{writer}")
    parts = serials(scenario, writer)
    chooser = random.Random(writer)
    ledger.store.select_versions([])  # connect before the common start
    retries = _count_retries(ledger)
    latencies: list[float] = []
    conflicts = 0
    barrier.wait(timeout=120)
    started, cpu = time.time(), time.process_time()
    for number in range(batches):
        begun = time.perf_counter()
        try:
            with ledger.batch(source=f"writer-{writer}") as batch:
                for position, serial in enumerate(chooser.sample(parts, FACTS_PER_BATCH)):
                    batch.record(inspection(serial, 19.995 + chooser.uniform(-0.004, 0.004)),
                                 source_record_id=f"{number}/{position}")
        except thread.ConcurrencyConflict:
            conflicts += 1
        latencies.append(time.perf_counter() - begun)
    ended, cpu = time.time(), time.process_time() - cpu
    ledger.close()
    results.put({"writer": writer, "started": started, "ended": ended, "cpu": cpu,
                 "latencies": latencies, "conflicts": conflicts, "retries": retries[0]})


def _count_retries(ledger: thread.Ledger) -> list[int]:
    """Counts the attempts a writer's batches needed beyond the first."""
    counter = [0]
    attempt = ledger._commit_once

    def counted(*args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return attempt(*args, **kwargs)

    ledger._commit_once = counted  # type: ignore[method-assign]
    original = ledger._commit

    def committed(*args: Any, **kwargs: Any) -> Any:
        counter[0] -= 1
        return original(*args, **kwargs)

    ledger._commit = committed  # type: ignore[method-assign]
    return counter


@dataclass
class Outcome:
    scenario: Scenario
    writers: int
    batches: int
    wall_s: float
    latencies: list[float] = field(default_factory=list)
    conflicts: int = 0
    retries: int = 0
    cpu_s: float = 0.0
    audit_ok: bool = False

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def as_json(self) -> dict[str, Any]:
        return {
            "writers": self.writers, "batches": self.batches, "wall_s": round(self.wall_s, 3),
            "batches_per_s": round(self.batches / self.wall_s, 1),
            "events_per_s": round(self.batches * FACTS_PER_BATCH / self.wall_s, 1),
            "p50_ms": round(statistics.median(self.latencies) * 1000, 2),
            "p99_ms": round(self.quantile(0.99) * 1000, 2),
            "max_ms": round(max(self.latencies) * 1000, 2),
            "conflicts": self.conflicts, "retries": self.retries,
            "writer_cpu_ms_per_batch": round(self.cpu_s / self.batches * 1000, 2),
            "audit_ok": self.audit_ok,
        }


def run(url: str, scenario: Scenario, writers: int, batches: int) -> Outcome:
    """Prepare a ledger, run the writers together, check the ledger afterwards."""
    before = prepare(url, scenario, writers)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers)
    results = context.Queue()
    share = batches // writers
    processes = [context.Process(target=write, args=(url, scenario, w, share, barrier, results),
                                 daemon=True) for w in range(writers)]
    for process in processes:
        process.start()
    reports: list[dict[str, Any]] = []
    while len(reports) < writers:
        try:
            report = results.get(timeout=1)
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise RuntimeError(f"{scenario}: a writer died") from None
            continue
        if "error" in report:
            raise RuntimeError(f"{scenario}: writer {report['writer']} failed:\n"
                               f"{report['error']}")
        reports.append(report)
    for process in processes:
        process.join(timeout=60)
    outcome = Outcome(
        scenario, writers, share * writers,
        max(r["ended"] for r in reports) - min(r["started"] for r in reports),
        [latency for r in reports for latency in r["latencies"]],
        sum(r["conflicts"] for r in reports), sum(r["retries"] for r in reports),
        sum(r["cpu"] for r in reports),
    )
    ledger = thread.open(url)
    expected = before + (outcome.batches - outcome.conflicts) * FACTS_PER_BATCH
    if ledger.count() != expected:
        raise RuntimeError(f"{scenario}: {ledger.count()} events stored, expected {expected}")
    outcome.audit_ok = audit(ledger).ok
    ledger.close()
    return outcome


# Backends: a fresh ledger per scenario.


@contextmanager
def sqlite_ledger(scenario: Scenario) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix=f"bench-concurrency-{scenario}-") as directory:
        yield str(Path(directory) / "ledger.db")


def _server_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def postgres_unreachable(url: str) -> str | None:
    """Why the server at ``url`` cannot be used, or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(_server_url(url), connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    return None


@contextmanager
def postgres_ledger(url: str, scenario: Scenario) -> Iterator[str]:
    import psycopg
    from psycopg import sql

    server = _server_url(url)
    schema = f"bench_concurrency_{os.getpid()}_{scenario}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{server}?schema={schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema)))


def measure(backend: Backend, url: str, batches: int) -> dict[Scenario, Outcome]:
    outcomes: dict[Scenario, Outcome] = {}
    for scenario, writers in SCENARIOS:
        place = sqlite_ledger(scenario) if backend == "sqlite" else postgres_ledger(url, scenario)
        with place as ledger_url:
            outcome = run(ledger_url, scenario, writers, batches)
        outcomes[scenario] = outcome
        figures = outcome.as_json()
        print(f"  {backend:<9} {scenario:<9} {writers} writer(s) {figures['wall_s']:>8.2f} s "
              f"{figures['batches_per_s']:>8.1f} batches/s  p50 {figures['p50_ms']:.1f} ms  "
              f"p99 {figures['p99_ms']:.1f} ms  max {figures['max_ms']:.1f} ms  "
              f"conflicts {outcome.conflicts}  retries {outcome.retries}  "
              f"writer CPU {figures['writer_cpu_ms_per_batch']:.1f} ms/batch  "
              f"audit {'ok' if outcome.audit_ok else 'FAILED'}", flush=True)
    return outcomes


def report(backend: Backend, outcomes: dict[Scenario, Outcome]) -> list[str]:
    lines = []
    for scenario, outcome in outcomes.items():
        j = outcome.as_json()
        lines.append(f"{backend:<9} {scenario:<9} {outcome.writers:>7} {j['wall_s']:>8.2f} "
                     f"{j['batches_per_s']:>10.1f} {j['p50_ms']:>8.1f} {j['p99_ms']:>8.1f} "
                     f"{j['max_ms']:>8.1f} {outcome.conflicts:>9} {outcome.retries:>7}")
    ratio = outcomes["shared"].wall_s / outcomes["disjoint"].wall_s
    met = ratio <= TARGET_RATIO and outcomes["shared"].conflicts == 0
    lines.append(f"{'':<9} shared / disjoint wall time {ratio:.2f}x (target <= {TARGET_RATIO:g}x, "
                 f"no conflicts): {'met' if met else 'MISSED'}")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_BATCHES:,} batches per scenario (under a minute)")
    parser.add_argument("--batches", type=int, default=None,
                        help=f"batches per scenario, split between its writers "
                             f"(default {DEFAULT_BATCHES:,}; {QUICK_BATCHES:,} with --quick)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES_URL),
                        help=f"server and database to use (default {DEFAULT_POSTGRES_URL} "
                             "or $BENCH_POSTGRES_URL); a schema per scenario is created and "
                             "dropped")
    args = parser.parse_args(argv)
    if args.batches is None:
        args.batches = QUICK_BATCHES if args.quick else DEFAULT_BATCHES
    if args.batches < 4 or args.batches % 4:
        parser.error("--batches must be a positive multiple of 4")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backends: list[Backend] = (["sqlite", "postgres"] if args.backend == "both"
                               else [args.backend])
    print(f"concurrency: {args.batches:,} batches of {FACTS_PER_BATCH} inspections per "
          f"scenario on {PARTS} parts per set; scenarios {', '.join(s for s, _ in SCENARIOS)}",
          flush=True)
    results: dict[str, Any] = {}
    lines: list[str] = []
    met = True
    for backend in backends:
        if backend == "postgres":
            problem = postgres_unreachable(args.postgres_url)
            if problem is not None:
                message = f"postgres: skipped, server not reachable ({problem})"
                if args.backend == "postgres":
                    print(message.replace("skipped", "FAILED"), file=sys.stderr)
                    return 1
                print(message, flush=True)
                lines.append(f"{backend:<9} skipped: server not reachable")
                results[backend] = {"skipped": problem}
                continue
        outcomes = measure(backend, args.postgres_url, args.batches)
        ratio = outcomes["shared"].wall_s / outcomes["disjoint"].wall_s
        met &= ratio <= TARGET_RATIO and outcomes["shared"].conflicts == 0
        results[backend] = {**{s: o.as_json() for s, o in outcomes.items()},
                            "shared_over_disjoint": round(ratio, 3)}
        lines += report(backend, outcomes)
    print()
    print(f"{'backend':<9} {'scenario':<9} {'writers':>7} {'wall s':>8} {'batches/s':>10} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'conflicts':>9} {'retries':>7}")
    for line in lines:
        print(line)
    print()
    print(json.dumps({
        "benchmark": "concurrency", **results, "batches": args.batches,
        "facts_per_batch": FACTS_PER_BATCH, "parts_per_set": PARTS, "quick": bool(args.quick),
        "targets": {"shared_over_disjoint": TARGET_RATIO, "conflicts": 0}, "met": met,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
