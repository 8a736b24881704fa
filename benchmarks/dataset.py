"""A realistic plant in a ledger, reproducibly, for measuring the read side at scale.

Simulates a plant that builds EDU-400 electric drive units (package
``benchmarks/plant``): five-level assembly trees of 31 serialised parts,
material lots with certificates, 20 machines in 7 groups with condition
blocks, alarms and the odd vibration or coolant episode, process records,
inspections with non-conformances, signed dispositions, quarantines and
replacements, two engineering changes, shipments to five customers, field
reports and warranty claims, about a year of production per million parts.

The same ``--seed`` and ``--parts`` always give the same facts: every
subject draws from its own generator and every fact carries a record id, so
a re-run writes nothing, ``--parts`` larger extends the same plant and an
interrupted run resumes where it stopped. Each chunk of 16 drive units is one
batch (about 5,000 events).

Progress goes to stderr; the last line on stdout is one JSON object with the
counts, the speed, the database size and probes (serials at every level, a
busy machine, a week on it with excursions, a predicate that matches parts
there), which are also written to ``<db>.probes.json`` for the query benchmark.

    python benchmarks/dataset.py --parts 20000
    python benchmarks/dataset.py --parts 1000000 --db /tmp/plant-1m.db
    python benchmarks/dataset.py --db postgresql://postgres@127.0.0.1:5432/test?schema=plant
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import operator
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if str(Path(__file__).resolve().parent) not in sys.path:  # imported by path, as tests do
    sys.path.append(str(Path(__file__).resolve().parent))

from plant.catalogue import BUSY, LAYOUT, MACHINES, PARTS_PER_UNIT, START, serial
from plant.journal import SOURCE, Entry
from plant.plant import CHUNK_UNITS, Plant, levels
from plant.production import Watch

import thread
from thread.ledger import Ledger

DEFAULT_DB = str(Path(__file__).resolve().parent / "plant.db")
DEFAULT_PARTS = 20_000
DEFAULT_SEED = 7
#: Most facts per batch when writing the field events still ahead at the end, day by day.
FLUSH_BATCH = 5_000
#: The ledger learns a batch's facts this long after the last of them happened.
LATENCY = timedelta(minutes=10)


class BatchClock:
    """Recorded time of a batch: shortly after its last fact, so two runs hash the same."""

    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


class Writer:
    """Writes journal entries to the ledger, one batch per call, and keeps count."""

    def __init__(self, ledger: Ledger, clock: BatchClock) -> None:
        self.ledger = ledger
        self.clock = clock
        self.facts = 0
        self.seconds = 0.0

    def write(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        started = time.perf_counter()
        self.clock.at = max(entry.at for entry in entries) + LATENCY
        with self.ledger.batch(actor="dataset", source=SOURCE) as batch:
            record = batch.record
            for fact, at, actor, record_id, sign in entries:
                record(fact, occurred_at=at, actor=actor, source_record_id=record_id,
                       sign=sign)
        self.facts += sum(not receipt.duplicate for receipt in batch.receipts)
        self.seconds += time.perf_counter() - started

    def written(self, key: str) -> bool:
        return bool(self.ledger.store.select_sources([(SOURCE, key)]))


class Progress:
    """A line on stderr every few seconds (rewritten in place on a terminal)."""

    def __init__(self, total_units: int, events: Callable[[], int]) -> None:
        self.total = total_units
        self.events = events
        self.started = time.perf_counter()
        self.last = 0.0
        self.tty = sys.stderr.isatty()
        self.every = 1.0 if self.tty else 15.0

    def update(self, units: int, *, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.started
        written = self.events()
        rate = written / elapsed if elapsed else 0.0
        share = units / self.total if self.total else 1.0
        eta = elapsed * (1 - share) / share if share else 0.0
        line = (f"dataset: {units:,}/{self.total:,} units ({units * PARTS_PER_UNIT:,} parts), "
                f"{written:,} events written, {rate:,.0f} events/s, "
                f"{elapsed:,.0f} s elapsed, about {eta:,.0f} s left")
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n",
              file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=sys.stderr)


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}


def matches(predicate: str, parameters: dict[str, Any]) -> bool:
    """Whether process parameters satisfy ``name.stat OP value and ...``."""
    for clause in predicate.split(" and "):
        left, op, value = clause.split()
        name, stat = left.split(".")
        summary = parameters.get(name)
        if summary is None or not _OPERATORS[op](getattr(summary, stat), float(value)):
            return False
    return True


def database_size(url: str, ledger: Ledger | None = None) -> int | None:
    """Bytes the ledger takes: the SQLite file with its WAL, or the PostgreSQL database."""
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        try:
            import psycopg

            with psycopg.connect(url.split("?")[0], connect_timeout=5) as connection:
                row = connection.execute("SELECT pg_database_size(current_database())")
                value = row.fetchone()
                return int(value[0]) if value else None
        except Exception:
            return None
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
    return sum(Path(path + suffix).stat().st_size for suffix in ("", "-wal", "-shm")
               if Path(path + suffix).exists())


def probes_path(url: str, given: str | None) -> Path:
    if given:
        return Path(given)
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        return Path("plant-postgresql.probes.json")
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
    return Path(path + ".probes.json")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Fill a ledger with a simulated drive-unit plant, reproducibly.")
    parser.add_argument("--parts", type=int, default=DEFAULT_PARTS,
                        help=f"serialised parts to make, rounded up to whole drive units of "
                             f"{PARTS_PER_UNIT} (default {DEFAULT_PARTS:,})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"simulation seed (default {DEFAULT_SEED})")
    parser.add_argument("--db", default=DEFAULT_DB,
                        help="ledger file or URL (default benchmarks/plant.db); "
                             "postgresql://user@host:port/db?schema=NAME accepted")
    parser.add_argument("--batch-units", type=int, default=CHUNK_UNITS,
                        help=f"drive units per batch (default {CHUNK_UNITS}, about 5,000 "
                             "events); resume and extend with the same value")
    parser.add_argument("--probes", default=None,
                        help="where to write the probes (default <db>.probes.json)")
    args = parser.parse_args(argv)
    if args.parts < 1:
        parser.error("--parts must be at least 1")
    if not 1 <= args.batch_units <= 50:
        parser.error("--batch-units must be 1 to 50 (the ledger caches 2,000 subjects)")
    return args


def fill(url: str, parts: int, seed: int, *, probes_file: Path | None = None,
         progress: bool = True, batch_units: int = CHUNK_UNITS) -> dict[str, Any]:
    """Simulate the plant into the ledger at ``url``; the summary with its probes."""
    started = time.perf_counter()
    units = math.ceil(parts / PARTS_PER_UNIT)
    plant = Plant(seed, units, batch_units)
    clock = BatchClock()
    ledger = thread.open(url, actor="dataset", clock=clock)
    writer = Writer(ledger, clock)
    size_before = ledger.store.tree_size()
    try:
        setup = plant.setup()
        if size_before and not writer.written(plant.setup_marker):
            raise SystemExit(f"dataset: {url} already holds {size_before:,} events that seed "
                             f"{seed} did not write; use a fresh database or the seed that "
                             f"filled it")
        writer.write(setup)
        window_start, window_end, predicate = plant.probe_window()
        watch = Watch(BUSY, window_start, window_end)
        plant.production.watch = watch
        meter = Progress(units, lambda: ledger.store.tree_size() - size_before)
        skipped = replacements = 0
        simulated = 0.0
        quarantined: list[str] = []
        for chunk in range(plant.chunks):
            done = writer.written(plant.marker(chunk))
            skipped += done
            watched = plant.watching(chunk, watch)
            if done and not watched:
                plant.skip(chunk)
                continue
            simulating = time.perf_counter()
            entries = plant.produce(chunk)
            simulated += time.perf_counter() - simulating
            if not done:
                writer.write(entries)
                replacements += sum(len(made.scrapped) for made in plant.made)
            if watched:
                for made in plant.made:
                    quarantined += made.quarantined[: 3 - len(quarantined)]
            if progress and chunk < plant.chunks - 1:
                meter.update(plant.units_of(chunk)[-1] + 1)
        for day in by_day(plant.finish()):
            writer.write(day)
        if progress:
            meter.update(units, force=True)
            meter.done()
        matching = list(dict.fromkeys(number for number, parameters in watch.seen
                                      if matches(predicate, parameters)))
        leaf = matching[0] if matching else serial(LAYOUT[0], units // 2)
        genealogy = lineage(ledger, leaf)
        written = ledger.store.tree_size() - size_before
        events = ledger.count()
    finally:
        ledger.close()
    elapsed = time.perf_counter() - started
    probes = {
        "seed": seed,
        "units": units,
        "levels": levels(units),
        "genealogy": genealogy,
        "machines": [machine.machine for machine in MACHINES],
        "busy_machine": BUSY,
        "recall": {
            "machine": BUSY,
            "start": window_start.isoformat(),
            "end": window_end.isoformat(),
            "predicate": predicate,
            "parts_on_machine": len({number for number, _ in watch.seen}),
            "matching_parts": len(matching),
            "examples": matching[:5],
        },
        "quarantined": quarantined,
        "claims": [{"serial": plan.serial, "failed_at": plan.failure[0].isoformat()}
                   for plan in plant.claims if plan.failure is not None],
        "span": {"start": START.isoformat(), "end": plant.end.isoformat()},
    }
    if probes_file is not None:
        probes_file.write_text(json.dumps(probes, indent=2) + "\n")
    return {
        "benchmark": "dataset",
        "db": _redact(url),
        "seed": seed,
        "parts": units * PARTS_PER_UNIT,  # the units' trees; replacements of scrap come on top
        "units": units,
        "replacement_parts_written": replacements,
        "events": events,
        "events_written": written,
        "facts_written": writer.facts,
        "events_per_part": round(events / (units * PARTS_PER_UNIT), 2),
        "machines": len(MACHINES),
        "chunks_already_written": skipped,
        "tallies": dict(sorted(plant.journal.counts.items())),  # of the chunks made now
        "elapsed_s": round(elapsed, 1),
        # Same run, split: making the facts, and the ledger validating, hashing and storing them.
        "simulate_s": round(simulated, 1),
        "ledger_write_s": round(writer.seconds, 1),
        "events_per_s": round(written / elapsed, 1) if elapsed else None,
        "database_bytes": database_size(url),
        "probes_file": str(probes_file) if probes_file is not None else None,
        "probes": probes,
    }


def by_day(entries: list[Entry]) -> Iterator[list[Entry]]:
    """Time-ordered entries in batches of one day each (at most FLUSH_BATCH), so the ledger
    learns of each field event within a day of it."""
    for _, group in itertools.groupby(entries, key=lambda entry: entry.at.date()):
        day = list(group)
        for first in range(0, len(day), FLUSH_BATCH):
            yield day[first:first + FLUSH_BATCH]


def lineage(ledger: Ledger, serial: str) -> list[str]:
    """``serial`` and the assemblies it went into, top first."""
    chain = [serial]
    while (parent := ledger.part(chain[-1]).installed_in) is not None:
        chain.append(parent)
    return chain[::-1]


def _redact(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url: str = args.db
    summary = fill(url, args.parts, args.seed, probes_file=probes_path(url, args.probes),
                   batch_units=args.batch_units)
    print(f"dataset: {summary['units']:,} drive units, {summary['parts']:,} parts, "
          f"{summary['events']:,} events in the ledger ({summary['events_written']:,} written "
          f"now at {summary['events_per_s'] or 0:,.0f} events/s), "
          f"{(summary['database_bytes'] or 0) / 1e9:.2f} GB; probes in {summary['probes_file']}",
          file=sys.stderr)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
