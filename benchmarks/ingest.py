"""Batched ingest throughput: the ledger (hash chain, typed facts) against plain eventsourcing.

Both sides ingest the same workload on the same database engine in the same run:
batches of 100 new parts, each part getting the same sequence of ten events
(registration, one operation, one process record with four parameters, five
inspections, a certificate of conformance, shipment). The time measured per
side runs from building the payloads and facts (or aggregates) to the commit
of the last batch, so it includes validation, hashing, encoding and the
database. Each side warms up with one batch, then measured rounds alternate
between the sides and the median rate per side is reported.

Run ``python benchmarks/ingest.py --help`` for the options. The last line
printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

import thread
from thread import facts as f

Backend = Literal["sqlite", "postgres"]

#: Parts saved per transaction on both sides.
BATCH = 100
#: Events every part gets.
EVENTS_PER_PART = 10
#: Parts per side per measured round.
DEFAULT_PARTS = 10_000
QUICK_PARTS = 2_000
DEFAULT_ROUNDS = 3
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

#: Targets printed beside the figures (not asserted).
TARGET_SQLITE_LEDGER = 40_000.0
TARGET_SQLITE_RATIO = 0.8
TARGET_POSTGRES_LEDGER = 20_000.0

PART_NUMBER = "PN-1000"
REVISION = "B"
MACHINE = "MC-01"
BASE_TIME = datetime(2025, 1, 6, 6, 0, tzinfo=UTC)
PART_NAMESPACE = uuid5(NAMESPACE_URL, "benchmark:ingest:part")


# The workload: plain values shared by both sides, built inside the timed region.


@dataclass(frozen=True)
class Inspection:
    characteristic: str
    name: str
    measured: float
    nominal: float
    lower_tolerance: float
    upper_tolerance: float
    occurred_at: datetime


@dataclass(frozen=True)
class PartPlan:
    """Everything one part's ten events say."""

    serial: str
    work_order: str
    registered_at: datetime
    started_at: datetime
    ended_at: datetime
    cycle_time_s: float
    parameters: list[dict[str, Any]]
    inspections: list[Inspection]
    certificate_number: str
    certificate_digest: str
    certified_at: datetime
    order: str
    tracking: str
    shipped_at: datetime


_CHARACTERISTICS = (
    ("C1", "bore diameter", 12.0, -0.01, 0.01),
    ("C2", "overall length", 84.5, -0.05, 0.05),
    ("C3", "flange thickness", 6.35, -0.02, 0.02),
    ("C4", "hole position", 0.0, 0.0, 0.05),
    ("C5", "flatness", 0.0, 0.0, 0.02),
)


def plan_part(index: int) -> PartPlan:
    """The values of part number ``index`` (deterministic, slightly varied)."""
    serial = f"SN-{index:08d}"
    started = BASE_TIME + timedelta(seconds=45 * index)
    ended = started + timedelta(seconds=38.5)
    wobble = ((index * 7) % 11 - 5) / 1000.0
    parameters = [
        {"name": "spindle_speed", "unit": "rpm", "n": 385, "min": 11_950.0, "max": 12_050.0,
         "mean": 12_000.0 + wobble, "sd": 12.5},
        {"name": "feed_rate", "unit": "mm/min", "n": 385, "min": 1_480.0, "max": 1_520.0,
         "mean": 1_500.0 + wobble, "sd": 4.2},
        {"name": "coolant_temperature", "unit": "Cel", "n": 385, "min": 19.6, "max": 21.9,
         "mean": 20.8 + wobble, "sd": 0.4},
        {"name": "spindle_load", "unit": "%", "n": 385, "min": 31.0, "max": 77.0,
         "mean": 52.0 + wobble, "sd": 9.1},
    ]
    inspections = [
        Inspection(code, name, nominal + wobble * (upper - lower), nominal, lower, upper,
                   ended + timedelta(seconds=60 + 5 * position))
        for position, (code, name, nominal, lower, upper) in enumerate(_CHARACTERISTICS)
    ]
    return PartPlan(
        serial=serial,
        work_order=f"WO-{index // BATCH:06d}",
        registered_at=started - timedelta(seconds=60),
        started_at=started,
        ended_at=ended,
        cycle_time_s=38.5,
        parameters=parameters,
        inspections=inspections,
        certificate_number=f"COC-{serial}",
        certificate_digest="sha256:" + hashlib.sha256(serial.encode()).hexdigest(),
        certified_at=ended + timedelta(seconds=400),
        order=f"SO-{index // BATCH:06d}",
        tracking=f"TRK{index:010d}",
        shipped_at=ended + timedelta(days=1),
    )


class Side(Protocol):
    """One contender: ingests batches of new parts and can count what it stored."""

    label: str

    def ingest_batch(self, first: int) -> None: ...

    def stored_events(self) -> int: ...

    def check_part(self, index: int) -> None: ...


# The ledger side.


class LedgerSide:
    """The ledger: one ``ledger.batch()`` per 100 parts."""

    label = "ledger"

    def __init__(self, url: str) -> None:
        self.ledger = thread.open(url, actor="bench")
        with self.ledger.batch(source="bench-setup") as setup:
            setup.record(f.RevisionReleased(
                part_number=PART_NUMBER, revision=REVISION, part_name="Mounting bracket",
                drawing="DWG-1000", material_spec="AMS 4027",
            ))
            setup.record(f.MachineRegistered(
                machine=MACHINE, name="5-axis mill", kind="mill", site="PLANT-1", line="L2",
            ))
        self.setup_events = 2

    def ingest_batch(self, first: int) -> None:
        with self.ledger.batch(source="bench") as batch:
            for index in range(first, first + BATCH):
                p = plan_part(index)
                serial = p.serial
                batch.record(f.PartRegistered(
                    serial=serial, part_number=PART_NUMBER, revision=REVISION,
                    work_order=p.work_order, site="PLANT-1",
                ), occurred_at=p.registered_at)
                batch.record(f.OperationPerformed(
                    serial=serial, operation="OP10", station="CELL-3", machine=MACHINE,
                    operator="op-17", program="O1234", program_revision="7",
                    started_at=p.started_at, ended_at=p.ended_at, cycle_time_s=p.cycle_time_s,
                ), occurred_at=p.ended_at)
                batch.record(f.ProcessRecorded(
                    serial=serial, operation="OP10", machine=MACHINE,
                    started_at=p.started_at, ended_at=p.ended_at,
                    parameters=tuple(f.ParameterSummary(**values) for values in p.parameters),
                ), occurred_at=p.ended_at)
                for check in p.inspections:
                    batch.record(f.InspectionRecorded(
                        serial=serial, characteristic=check.characteristic, name=check.name,
                        method="cmm", gauge="CMM-2", measured=check.measured, unit="mm",
                        nominal=check.nominal, lower_tolerance=check.lower_tolerance,
                        upper_tolerance=check.upper_tolerance, verdict="pass",
                    ), occurred_at=check.occurred_at)
                batch.record(f.CertificationAttached(
                    serial=serial, document="conformance", number=p.certificate_number,
                    digest=p.certificate_digest, issuer="Quality",
                ), occurred_at=p.certified_at)
                batch.record(f.Shipped(
                    serial=serial, customer="ACME Aero", order=p.order,
                    destination="Toulouse", carrier="DHL", tracking=p.tracking,
                ), occurred_at=p.shipped_at)

    def stored_events(self) -> int:
        return self.ledger.count() - self.setup_events

    def check_part(self, index: int) -> None:
        history = self.ledger.history(plan_part(index).serial)  # verifies the chain
        if len(history) != EVENTS_PER_PART:
            raise RuntimeError(f"ledger part {index} has {len(history)} events")

    def close(self) -> None:
        self.ledger.close()


# The plain eventsourcing side.


class Part(Aggregate):
    """A part as a stock eventsourcing aggregate carrying the same data as the facts."""

    @staticmethod
    def create_id(serial: str) -> UUID:
        return uuid5(PART_NAMESPACE, serial)

    @event("Registered")
    def __init__(self, serial: str, part_number: str, revision: str, work_order: str,
                 site: str, occurred_at: datetime) -> None:
        self.serial = serial
        self.part_number = part_number
        self.revision = revision
        self.operations = 0
        self.inspections = 0
        self.failed_inspections = 0
        self.location = "in production"

    @event("OperationPerformed")
    def perform_operation(self, operation: str, station: str, machine: str, operator: str,
                          program: str, program_revision: str, started_at: datetime,
                          ended_at: datetime, cycle_time_s: float,
                          occurred_at: datetime) -> None:
        self.operations += 1

    @event("ProcessRecorded")
    def record_process(self, operation: str, machine: str, started_at: datetime,
                       ended_at: datetime, parameters: list[dict[str, Any]],
                       occurred_at: datetime) -> None:
        pass

    @event("InspectionRecorded")
    def record_inspection(self, characteristic: str, name: str, method: str, gauge: str,
                          measured: float, unit: str, nominal: float, lower_tolerance: float,
                          upper_tolerance: float, verdict: str, occurred_at: datetime) -> None:
        self.inspections += 1
        self.failed_inspections += verdict == "fail"

    @event("CertificationAttached")
    def attach_certification(self, document: str, number: str, digest: str, issuer: str,
                             occurred_at: datetime) -> None:
        pass

    @event("Shipped")
    def ship(self, customer: str, order: str, destination: str, carrier: str, tracking: str,
             occurred_at: datetime) -> None:
        self.location = f"shipped to {customer}"


class PlainIngest(Application[UUID]):
    """Stock eventsourcing application with stock persistence."""


class PlainSide:
    """Plain eventsourcing: ``app.save(*aggregates)`` per 100 parts."""

    label = "plain"

    def __init__(self, env: dict[str, str]) -> None:
        self.app = PlainIngest(env)

    def ingest_batch(self, first: int) -> None:
        parts: list[Part] = []
        for index in range(first, first + BATCH):
            p = plan_part(index)
            part = Part(serial=p.serial, part_number=PART_NUMBER, revision=REVISION,
                        work_order=p.work_order, site="PLANT-1", occurred_at=p.registered_at)
            part.perform_operation(
                operation="OP10", station="CELL-3", machine=MACHINE, operator="op-17",
                program="O1234", program_revision="7", started_at=p.started_at,
                ended_at=p.ended_at, cycle_time_s=p.cycle_time_s, occurred_at=p.ended_at,
            )
            part.record_process(
                operation="OP10", machine=MACHINE, started_at=p.started_at,
                ended_at=p.ended_at, parameters=p.parameters, occurred_at=p.ended_at,
            )
            for check in p.inspections:
                part.record_inspection(
                    characteristic=check.characteristic, name=check.name, method="cmm",
                    gauge="CMM-2", measured=check.measured, unit="mm", nominal=check.nominal,
                    lower_tolerance=check.lower_tolerance,
                    upper_tolerance=check.upper_tolerance, verdict="pass",
                    occurred_at=check.occurred_at,
                )
            part.attach_certification(
                document="conformance", number=p.certificate_number,
                digest=p.certificate_digest, issuer="Quality", occurred_at=p.certified_at,
            )
            part.ship(customer="ACME Aero", order=p.order, destination="Toulouse",
                      carrier="DHL", tracking=p.tracking, occurred_at=p.shipped_at)
            parts.append(part)
        self.app.save(*parts)

    def stored_events(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def check_part(self, index: int) -> None:
        part: Part = self.app.repository.get(Part.create_id(plan_part(index).serial))
        if part.version != EVENTS_PER_PART:
            raise RuntimeError(f"plain part {index} has {part.version} events")

    def close(self) -> None:
        self.app.close()


# Measuring.


@dataclass
class SideResult:
    rates: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


@dataclass
class BackendResult:
    backend: Backend
    ledger: SideResult
    plain: SideResult

    @property
    def ratio(self) -> float:
        return self.ledger.median / self.plain.median

    def as_json(self) -> dict[str, Any]:
        return {
            "ledger_events_per_s": round(self.ledger.median, 1),
            "plain_events_per_s": round(self.plain.median, 1),
            "ratio": round(self.ratio, 3),
            "ledger_rounds": [round(rate, 1) for rate in self.ledger.rates],
            "plain_rounds": [round(rate, 1) for rate in self.plain.rates],
        }


class Counter:
    """Hands out fresh part indexes so every batch registers new parts."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> int:
        first, self.next = self.next, self.next + count
        return first


def run_round(side: Side, counter: Counter, parts: int) -> float:
    """Ingest ``parts`` new parts in batches; events per second, construction included."""
    gc.collect()
    first = counter.take(parts)
    started = time.perf_counter()
    for offset in range(0, parts, BATCH):
        side.ingest_batch(first + offset)
    elapsed = time.perf_counter() - started
    return parts * EVENTS_PER_PART / elapsed


def measure(backend: Backend, ledger: LedgerSide, plain: PlainSide, parts: int,
            rounds: int) -> BackendResult:
    counters: dict[str, Counter] = {ledger.label: Counter(), plain.label: Counter()}
    sides: list[Side] = [ledger, plain]
    for side in sides:  # warm-up: one batch each
        run_round(side, counters[side.label], BATCH)
    result = BackendResult(backend, SideResult(), SideResult())
    for number in range(rounds):
        order = sides if number % 2 == 0 else sides[::-1]
        for side in order:
            rate = run_round(side, counters[side.label], parts)
            (result.ledger if side is ledger else result.plain).rates.append(rate)
            print(f"  {backend} round {number + 1}/{rounds} {side.label:<6} {rate:>12,.0f} ev/s",
                  flush=True)
    for side in sides:
        expected = counters[side.label].next * EVENTS_PER_PART
        if side.stored_events() != expected:
            raise RuntimeError(f"{backend} {side.label}: stored {side.stored_events()} "
                               f"events, expected {expected}")
        side.check_part(counters[side.label].next - 1)
    return result


def profile_ledger(ledger: LedgerSide, parts: int, top: int = 25) -> str:
    """One extra ledger round under cProfile; the top functions by own time."""
    counter = Counter()
    counter.next = 500_000  # clear of the measured parts, and its times still in the past
    profiler = cProfile.Profile()
    profiler.enable()
    run_round(ledger, counter, parts)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


# Backends.


@contextmanager
def sqlite_sides() -> Iterator[tuple[LedgerSide, PlainSide]]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as directory:
        ledger = LedgerSide(str(Path(directory) / "ledger.db"))
        plain = PlainSide({
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(Path(directory) / "plain.db"),
        })
        try:
            yield ledger, plain
        finally:
            ledger.close()
            plain.close()


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
def postgres_sides(url: str) -> Iterator[tuple[LedgerSide, PlainSide]]:
    import psycopg
    from psycopg import sql

    server = _server_url(url)
    parts = urlsplit(server)
    ledger_schema = f"bench_ledger_{os.getpid()}"
    plain_schema = f"bench_plain_{os.getpid()}"
    schemas = (ledger_schema, plain_schema)

    def each_schema(statement: str) -> None:
        with psycopg.connect(server, autocommit=True) as connection:
            for schema in schemas:
                connection.execute(sql.SQL(statement).format(sql.Identifier(schema)))

    each_schema("CREATE SCHEMA {}")
    opened: list[Callable[[], None]] = []
    try:
        ledger = LedgerSide(f"{server}?schema={ledger_schema}")
        opened.append(ledger.close)
        plain = PlainSide({
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": plain_schema,
        })
        opened.append(plain.close)
        yield ledger, plain
    finally:
        for close in opened:
            close()
        each_schema("DROP SCHEMA IF EXISTS {} CASCADE")


# Reporting.


def _verdict(value: float, target: float) -> str:
    return "met" if value >= target else "MISSED"


def report(result: BackendResult) -> list[str]:
    ledger, plain, ratio = result.ledger.median, result.plain.median, result.ratio
    if result.backend == "sqlite":
        ledger_target = TARGET_SQLITE_LEDGER
        ratio_note = (f"target >= {TARGET_SQLITE_RATIO:.2f}x: "
                      f"{_verdict(ratio, TARGET_SQLITE_RATIO)}")
    else:
        ledger_target = TARGET_POSTGRES_LEDGER
        ratio_note = ""

    def rounds(side: SideResult) -> str:
        return " / ".join(f"{rate:,.0f}" for rate in side.rates)

    return [
        f"{result.backend:<9} {'ledger':<7} {ledger:>12,.0f}   {rounds(result.ledger):<30} "
        f"target >= {ledger_target:,.0f} ev/s: {_verdict(ledger, ledger_target)}",
        f"{'':<9} {'plain':<7} {plain:>12,.0f}   {rounds(result.plain)}",
        f"{'':<9} {'ratio':<7} {ratio:>11.2f}x   {'ledger / plain':<30} {ratio_note}".rstrip(),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Batched ingest throughput of the ledger against plain eventsourcing.",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_PARTS:,} parts per side per round (under a minute)")
    parser.add_argument("--parts", type=int, default=None,
                        help=f"parts per side per measured round, a multiple of {BATCH} "
                             f"(default {DEFAULT_PARTS:,}; {QUICK_PARTS:,} with --quick)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                        help=f"measured rounds per side (default {DEFAULT_ROUNDS})")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES_URL),
                        help=f"server and database to use (default {DEFAULT_POSTGRES_URL} "
                             "or $BENCH_POSTGRES_URL); schemas are created and dropped")
    parser.add_argument("--profile", action="store_true",
                        help="after measuring SQLite, profile one more ledger round "
                             "(cProfile, top 25 by own time)")
    args = parser.parse_args(argv)
    if args.parts is None:
        args.parts = QUICK_PARTS if args.quick else DEFAULT_PARTS
    if args.parts < BATCH or args.parts % BATCH:
        parser.error(f"--parts must be a positive multiple of {BATCH}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parts: int = args.parts
    rounds: int = args.rounds
    backends: list[Backend] = (["sqlite", "postgres"] if args.backend == "both"
                               else [args.backend])
    print(f"ingest: {parts:,} parts x {EVENTS_PER_PART} events per side per round, "
          f"{rounds} rounds, batches of {BATCH} parts", flush=True)
    results: dict[str, Any] = {}
    lines: list[str] = []
    profile = ""
    for backend in backends:
        if backend == "sqlite":
            with sqlite_sides() as (ledger, plain):
                result = measure(backend, ledger, plain, parts, rounds)
                if args.profile:
                    profile = profile_ledger(ledger, parts)
        else:
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
            with postgres_sides(args.postgres_url) as (ledger, plain):
                result = measure(backend, ledger, plain, parts, rounds)
        results[backend] = result.as_json()
        lines += report(result)

    print()
    print(f"{'backend':<9} {'side':<7} {'events/s':>12}   {'per round':<30} note")
    for line in lines:
        print(line)
    if profile:
        print()
        print(f"profile of one more SQLite ledger round ({parts:,} parts), by own time:")
        print(profile.rstrip())
    print()
    summary = {
        "benchmark": "ingest",
        **results,
        "events_per_part": EVENTS_PER_PART,
        "parts": parts,
        "rounds": rounds,
        "batch": BATCH,
        "quick": bool(args.quick),
        "targets": {
            "sqlite_ledger_events_per_s": TARGET_SQLITE_LEDGER,
            "sqlite_ratio": TARGET_SQLITE_RATIO,
            "postgres_ledger_events_per_s": TARGET_POSTGRES_LEDGER,
        },
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
