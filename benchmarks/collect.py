"""Collection throughput: PLC readings through the mapping layer into stored process records.

The workload is a grinder publishing eight process parameters at 100 Hz
(timestamps on a 10 ms grid, as a PLC task stamps them), 40 s cycles with a
5 s load gap, a serial tag and start/complete pulses. Values vary slowly: a
set point, a slow drift over minutes and sensor noise of a few resolution
steps. Readings are delivered as an adapter would: one second of readings
per tag per call (``observe_many``), interleaved across tags; a second
measure feeds every reading through ``observe`` one at a time.

Each measured round runs the mapping layer into a fresh SQLite ledger, from
the first reading to the commit of the last process record, and the
baseline in the same run: the same readings per cycle into plain numpy
summaries (n, min, max, mean, sd) and a pickle of the raw arrays, in
memory, with no ledger. Rounds alternate between the sides; the median per
side is reported with the ratio.

Stored bytes per sample are read from the database after a round: the
bytes of every stored event row (process records, registrations, the
machine) divided by the samples, beside the same for the process records
alone and for the whole SQLite file. ``--jitter`` adds +/-0.5 ms of timing
jitter at 100 ns resolution (as OPC UA source timestamps have) to show what
irregular timestamps cost.

Run ``python benchmarks/collect.py --help`` for the options; the last line
printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

import thread
from thread_adapters.mapping import MappingLayer
from thread_adapters.tagmap import TagMap, parse_tag_map

RATE_HZ = 100
CYCLE_S = 40
LOAD_S = 5
CHUNK_S = 1
PER_CYCLE = RATE_HZ * CYCLE_S
DEFAULT_CYCLES = 150
QUICK_CYCLES = 40
DEFAULT_ROUNDS = 3
#: The one-reading-at-a-time measure runs this fraction of the cycles (it is much slower).
SINGLE_SHARE = 0.2
#: Distinct cycles of values generated before timing; cycles reuse them in turn.
POOL = 8

TARGET_SAMPLES_PER_S = 1_000_000.0
TARGET_BYTES_PER_SAMPLE = 4.0

START_NS = int(datetime(2026, 3, 2, 6, 0, tzinfo=UTC).timestamp()) * 1_000_000_000
_MS = 1_000_000

#: name, unit, resolution, set point, drift amplitude, noise sd
SIGNALS: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("spindle_speed", "rpm", 0.1, 12_000.0, 15.0, 0.4),
    ("spindle_load", "%", 0.1, 52.0, 6.0, 0.3),
    ("spindle_temperature", "Cel", 0.01, 38.0, 1.5, 0.02),
    ("coolant_temperature", "Cel", 0.01, 20.5, 0.8, 0.02),
    ("coolant_pressure", "bar", 0.01, 6.2, 0.2, 0.02),
    ("infeed_rate", "mm/min", 0.001, 1.5, 0.05, 0.002),
    ("wheel_power", "kW", 0.01, 7.4, 0.6, 0.03),
    ("vibration", "mm/s", 0.01, 1.1, 0.3, 0.03),
)
SAMPLES_PER_CYCLE = PER_CYCLE * len(SIGNALS)


def tag_map() -> TagMap:
    """The benchmark grinder's tag map."""
    text = """
[machine]
id = "BENCH-GRINDER"
name = "Benchmark grinder"
kind = "grinder"
register = true

[part]
operation = "OP30-grind"
register = "undocumented"
part_number = "BRG-6204"
revision = "A"

[collection]
settle_s = 2
write_every_s = 1
batch_records = 100

[tags.serial]
kind = "serial"

[tags.start]
kind = "cycle-start"

[tags.done]
kind = "cycle-complete"
"""
    for name, unit, resolution, *_ in SIGNALS:
        text += f'\n[tags.{name}]\nunit = "{unit}"\nresolution = {resolution}\n'
    return parse_tag_map(text, file="bench-grinder.toml")


@dataclass(frozen=True)
class Workload:
    """Values and timestamps of a pool of cycles, generated before anything is timed."""

    values: list[list[NDArray[np.float64]]]   # [pool cycle][signal]
    offsets: list[NDArray[np.int64]]          # [pool cycle] ns from the cycle start

    @classmethod
    def build(cls, jitter: bool, seed: int = 7) -> Workload:
        rng = np.random.default_rng(seed)
        values: list[list[NDArray[np.float64]]] = []
        offsets: list[NDArray[np.int64]] = []
        seconds = np.arange(PER_CYCLE) / RATE_HZ
        for number in range(POOL):
            row = []
            for _, _, resolution, base, drift, noise in SIGNALS:
                slow = drift * np.sin(2 * np.pi * (seconds + number * CYCLE_S) / 600.0)
                raw = base + slow + rng.normal(0.0, noise, PER_CYCLE)
                row.append(np.round(raw / resolution) * resolution)
            values.append(row)
            grid = np.arange(PER_CYCLE, dtype=np.int64) * (1_000_000_000 // RATE_HZ)
            if jitter:
                grid = grid + rng.integers(-5_000, 5_000, PER_CYCLE) * 100
                grid.sort()
            offsets.append(grid)
        return cls(values, offsets)

    def cycle_start(self, index: int) -> int:
        return START_NS + index * (CYCLE_S + LOAD_S) * 1_000_000_000


# The two sides


class LayerSide:
    """Readings through the mapping layer into a fresh SQLite ledger."""

    label = "layer"

    def __init__(self, directory: Path, workload: Workload, name: str) -> None:
        self.path = directory / f"{name}.db"
        self.workload = workload
        self.ledger = thread.open(str(self.path), actor="bench")
        self.layer = MappingLayer(self.ledger, tag_map(), protocol="bench")
        for tag in ("start", "done"):
            self.layer.observe(tag, False, START_NS - 1)

    def run(self, cycles: int, single: bool) -> None:
        layer, workload = self.layer, self.workload
        chunk = RATE_HZ * CHUNK_S
        names = [name for name, *_ in SIGNALS]
        for index in range(cycles):
            start = workload.cycle_start(index)
            values = workload.values[index % POOL]
            times = workload.offsets[index % POOL] + start
            layer.observe("serial", f"BRG-{index:07d}", start)
            layer.observe("start", True, start)
            layer.observe("start", False, start + _MS)
            for first in range(0, PER_CYCLE, chunk):
                stamps = times[first:first + chunk]
                for name, series in zip(names, values, strict=True):
                    if single:
                        for value, stamp in zip(series[first:first + chunk].tolist(),
                                                stamps.tolist(), strict=True):
                            layer.observe(name, value, stamp)
                    else:
                        layer.observe_many(name, series[first:first + chunk], stamps)
            end = int(times[-1])
            layer.observe("done", True, end)
            layer.observe("done", False, end + _MS)
        layer.flush()

    def stored(self) -> dict[str, int]:
        """Bytes of stored event rows (all, and process records) and of the whole file."""
        self.ledger.close()
        with sqlite3.connect(self.path) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            rows = dict(connection.execute(
                "SELECT topic, SUM(LENGTH(state)) FROM ledger_events GROUP BY topic"
            ).fetchall())
            records = connection.execute(
                "SELECT COUNT(*) FROM ledger_events WHERE topic = ?",
                ("manufacturing.process-recorded",)).fetchone()[0]
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
            page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        return {"events": int(sum(rows.values())),
                "process_records": int(rows.get("manufacturing.process-recorded", 0)),
                "file": int(pages * page_size), "records": int(records)}


class BaselineSide:
    """The same readings per cycle into numpy summaries and a pickle of the raw arrays."""

    label = "baseline"

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.kept: list[bytes] = []
        self.summaries: list[tuple[float, ...]] = []

    def run(self, cycles: int, single: bool) -> None:
        workload = self.workload
        chunk = RATE_HZ * CHUNK_S
        for index in range(cycles):
            start = workload.cycle_start(index)
            values = workload.values[index % POOL]
            times = workload.offsets[index % POOL] + start
            buffers: list[tuple[list[Any], list[Any]]] = [([], []) for _ in SIGNALS]
            for first in range(0, PER_CYCLE, chunk):
                stamps = times[first:first + chunk]
                for series, (kept_v, kept_t) in zip(values, buffers, strict=True):
                    if single:
                        for value, stamp in zip(series[first:first + chunk].tolist(),
                                                stamps.tolist(), strict=True):
                            kept_v.append(value)
                            kept_t.append(stamp)
                    else:
                        kept_v.append(series[first:first + chunk])
                        kept_t.append(stamps)
            for kept_v, kept_t in buffers:
                v = np.array(kept_v, dtype=np.float64) if single else np.concatenate(kept_v)
                t = np.array(kept_t, dtype=np.int64) if single else np.concatenate(kept_t)
                self.summaries.append((len(v), float(v.min()), float(v.max()),
                                       float(v.mean()), float(v.std(ddof=1))))
                self.kept.append(pickle.dumps((t, v), protocol=pickle.HIGHEST_PROTOCOL))

    def stored(self) -> dict[str, int]:
        return {"pickled": sum(len(block) for block in self.kept)}


# Measuring


def timed(run: Callable[[], None]) -> float:
    gc.collect()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


@dataclass
class Measure:
    """Rounds of one path (bulk or single) for both sides."""

    layer_rates: list[float]
    baseline_rates: list[float]
    layer_bytes: dict[str, int]
    baseline_bytes: dict[str, int]
    samples: int

    def as_json(self) -> dict[str, Any]:
        layer, baseline = (statistics.median(self.layer_rates),
                           statistics.median(self.baseline_rates))
        per = self.samples
        return {
            "layer_samples_per_s": round(layer),
            "baseline_samples_per_s": round(baseline),
            "ratio": round(layer / baseline, 3),
            "layer_rounds": [round(rate) for rate in self.layer_rates],
            "baseline_rounds": [round(rate) for rate in self.baseline_rates],
            "samples_per_round": per,
            "stored_bytes_per_sample": round(self.layer_bytes["events"] / per, 3),
            "process_record_bytes_per_sample": round(
                self.layer_bytes["process_records"] / per, 3),
            "file_bytes_per_sample": round(self.layer_bytes["file"] / per, 3),
            "baseline_pickle_bytes_per_sample": round(self.baseline_bytes["pickled"] / per, 3),
            "process_records": self.layer_bytes["records"],
        }


def measure(directory: Path, workload: Workload, cycles: int, rounds: int, single: bool,
            label: str) -> Measure:
    samples = cycles * SAMPLES_PER_CYCLE
    layer_rates: list[float] = []
    baseline_rates: list[float] = []
    layer_bytes: dict[str, int] = {}
    baseline_bytes: dict[str, int] = {}
    warm = LayerSide(directory, workload, f"{label}-warm")
    warm.run(2, single)
    warm.stored()
    BaselineSide(workload).run(2, single)
    for number in range(rounds):
        order = ("layer", "baseline") if number % 2 == 0 else ("baseline", "layer")
        for side_name in order:
            if side_name == "layer":
                side = LayerSide(directory, workload, f"{label}-{number}")
                elapsed = timed(lambda side=side: side.run(cycles, single))  # type: ignore[misc]
                layer_rates.append(samples / elapsed)
                layer_bytes = side.stored()
                if layer_bytes["records"] != cycles:
                    raise RuntimeError(f"{layer_bytes['records']} process records stored for "
                                       f"{cycles} cycles")
            else:
                baseline = BaselineSide(workload)
                elapsed = timed(lambda b=baseline: b.run(cycles, single))  # type: ignore[misc]
                baseline_rates.append(samples / elapsed)
                baseline_bytes = baseline.stored()
            print(f"  {label:6} round {number + 1} {side_name:8} {samples / elapsed:>14,.0f} "
                  f"samples/s", flush=True)
    return Measure(layer_rates, baseline_rates, layer_bytes, baseline_bytes, samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_CYCLES} cycles per round instead of {DEFAULT_CYCLES}")
    parser.add_argument("--cycles", type=int, help="cycles (parts) per round")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--jitter", action="store_true",
                        help="+/-0.5 ms timestamp jitter at 100 ns resolution")
    parser.add_argument("--no-single", action="store_true",
                        help="skip the one-reading-at-a-time measure")
    args = parser.parse_args(argv)
    cycles = args.cycles or (QUICK_CYCLES if args.quick else DEFAULT_CYCLES)
    workload = Workload.build(args.jitter)
    print(f"collect: {len(SIGNALS)} parameters at {RATE_HZ} Hz, {CYCLE_S} s cycles "
          f"({SAMPLES_PER_CYCLE:,} samples per process record), {cycles} cycles per round, "
          f"{args.rounds} rounds, timestamps {'jittered' if args.jitter else 'on a 10 ms grid'}; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cpus", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-collect-") as tmp:
        directory = Path(tmp)
        bulk = measure(directory, workload, cycles, args.rounds, single=False, label="bulk")
        results["bulk"] = bulk.as_json()
        if not args.no_single:
            single_cycles = max(2, round(cycles * SINGLE_SHARE))
            single = measure(directory, workload, single_cycles, args.rounds, single=True,
                             label="single")
            results["single"] = single.as_json()
    print()
    print(f"{'path':8} {'layer samples/s':>16} {'baseline':>14} {'ratio':>7} "
          f"{'stored B/sample':>16} {'file B/sample':>14} {'pickle B/sample':>16}")
    for name, figures in results.items():
        print(f"{name:8} {figures['layer_samples_per_s']:>16,} "
              f"{figures['baseline_samples_per_s']:>14,} {figures['ratio']:>7.3f} "
              f"{figures['stored_bytes_per_sample']:>16.3f} "
              f"{figures['file_bytes_per_sample']:>14.3f} "
              f"{figures['baseline_pickle_bytes_per_sample']:>16.3f}")
    rate = results["bulk"]["layer_samples_per_s"]
    size = results["bulk"]["stored_bytes_per_sample"]
    print(f"target {TARGET_SAMPLES_PER_S:,.0f} samples/s per core (bulk path): "
          f"{'met' if rate >= TARGET_SAMPLES_PER_S else 'MISSED'}; "
          f"target {TARGET_BYTES_PER_SAMPLE} bytes/sample: "
          f"{'met' if size <= TARGET_BYTES_PER_SAMPLE else 'MISSED'}")
    print(json.dumps({
        "benchmark": "collect", **results, "cycles": cycles, "rounds": args.rounds,
        "parameters": len(SIGNALS), "rate_hz": RATE_HZ, "cycle_s": CYCLE_S,
        "jitter": args.jitter, "quick": args.quick,
        "targets": {"samples_per_s": TARGET_SAMPLES_PER_S,
                    "bytes_per_sample": TARGET_BYTES_PER_SAMPLE},
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
