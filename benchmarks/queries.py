"""Read-side benchmark: rebuild, trace, genealogy and recall scope on the scale data set.

Run ``benchmarks/dataset.py`` first (it writes the ledger and a probes file),
then:

    python benchmarks/queries.py --db benchmarks/plant.db
    python benchmarks/queries.py --quick          # builds a small plant in a temp dir

Each figure is printed next to a baseline measured in the same run, since
these machines are noisy:

- rebuild: events/s through every projection, against reading and decoding
  the same log without writing anything (the floor any rebuild pays);
  peak RSS is sampled during the rebuild;
- trace: p50/p99 over serials from every assembly level, against
  ``ledger.history`` (one subject's chain-verified events straight from the
  event store, no joins);
- genealogy: five levels down from top assemblies and up from leaf parts;
- recall scope: the probe's machine, week and predicate, against the same
  window with no predicate (every run on the machine).

The last line is one JSON object with every figure and whether each target
is met (trace p50 <= 2 ms, p99 <= 10 ms; genealogy <= 10 ms; recall <= 20 ms;
rebuild >= 60,000 events/s overall, index builds included).
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
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import thread
from thread.read.events import pages
from thread.storage.reading import StoredLog

TARGETS = {"trace_p50_ms": 2.0, "trace_p99_ms": 10.0, "genealogy_ms": 10.0, "recall_ms": 20.0,
           "rebuild_events_per_s": 60_000}


def rss_mb(field: str = "VmRSS") -> float:
    """Resident set size of this process now, in MB (Linux); ``RssAnon`` for its private
    part alone (without the files it maps, such as the read models' page cache)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(function: Callable[[], Any]) -> float:
    """Milliseconds one call takes."""
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p99 of a list of milliseconds."""
    ordered = sorted(samples)
    return {"p50_ms": round(ordered[len(ordered) // 2], 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
            "n": len(ordered)}


def measure_rebuild(ledger: thread.Ledger) -> dict[str, Any]:
    """Rebuild every projection, sampling RSS; and the decode-only floor for comparison."""
    events = ledger.count()
    log = StoredLog(ledger.store, ledger.mapper)
    start = time.perf_counter()
    decoded = sum(len(page) for page in pages(log.pages(0, 5000)))
    floor = decoded / (time.perf_counter() - start)
    samples: list[float] = []
    private: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            samples.append(rss_mb())
            private.append(rss_mb("RssAnon"))

    sampler = threading.Thread(target=sample, daemon=True)
    before = rss_mb()
    sampler.start()
    start = time.perf_counter()
    rebuilt = ledger.rebuild()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    rate = rebuilt / elapsed
    phases = ledger.read_models.last_rebuild
    return {
        "project_s": round(phases.get("project_s", 0), 1),
        "index_s": round(phases.get("index_s", 0), 1),
        "project_events_per_s": round(rebuilt / phases["project_s"]) if phases else None,
        "events": events,
        "rebuild_s": round(elapsed, 1),
        "rebuild_events_per_s": round(rate),
        "decode_only_events_per_s": round(floor),
        "rebuild_vs_decode_only": round(rate / floor, 3),
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(max(samples, default=before), 1),
        "rss_anon_peak_mb": round(max(private, default=rss_mb("RssAnon")), 1),
        "rss_at_quarters_mb": [round(samples[int(len(samples) * q)], 1)
                               for q in (0.25, 0.5, 0.75)] if len(samples) >= 4 else samples,
    }


def serials(ledger: thread.Ledger, probes: dict[str, Any], count: int, seed: int) -> list[str]:
    """Serials from every level: the probes' picks plus a random sample of registered parts."""
    picked = [s for level in probes["levels"] for s in level["serials"]]
    with ledger.read_models.engine.connect() as conn:
        from sqlalchemy import text

        total = conn.execute(text("SELECT MAX(position) FROM read_registry")).scalar() or 0
        rng = random.Random(seed)
        while len(picked) < count:
            low = rng.randrange(1, max(2, int(total)))
            row = conn.execute(text(
                "SELECT key FROM read_registry WHERE kind = 'part' AND position >= :low "
                "ORDER BY position LIMIT 1"), {"low": low}).first()
            if row is not None:
                picked.append(row[0])
    return picked[:count]


def measure_trace(ledger: thread.Ledger, keys: list[str]) -> dict[str, Any]:
    """trace() over the sample, and history() over the same serials."""
    for key in keys[:20]:
        ledger.trace(key)  # warm the connection pool and the statement cache
    traced = [timed(lambda key=key: ledger.trace(key)) for key in keys]
    history = [timed(lambda key=key: ledger.history(key)) for key in keys]
    result = percentiles(traced)
    baseline = percentiles(history)
    events = statistics.mean(len(ledger.trace(key).timeline) for key in keys[:50])
    return {**result, "history_p50_ms": baseline["p50_ms"], "history_p99_ms": baseline["p99_ms"],
            "trace_vs_history_p50": round(result["p50_ms"] / baseline["p50_ms"], 2),
            "mean_events_per_serial": round(events, 1)}


def measure_genealogy(ledger: thread.Ledger, probes: dict[str, Any], repeat: int
                      ) -> dict[str, Any]:
    """Five levels down from the top assemblies, and up from the leaf parts."""
    tops = probes["levels"][0]["serials"]
    leaves = probes["levels"][-1]["serials"]
    depth_down = max(ledger.genealogy(key).depth() for key in tops)
    depth_up = max(ledger.genealogy(key, direction="up").depth() for key in leaves)
    down = [timed(lambda key=key: ledger.genealogy(key)) for key in tops * repeat]
    up = [timed(lambda key=key: ledger.genealogy(key, direction="up"))
          for key in leaves * repeat]
    nodes = len(ledger.genealogy(tops[0]).subjects())
    return {"down": percentiles(down), "up": percentiles(up), "levels_down": depth_down,
            "levels_up": depth_up, "subjects_in_tree": nodes}


def measure_recall(ledger: thread.Ledger, probes: dict[str, Any], repeat: int) -> dict[str, Any]:
    """The probe's recall scope, against the same window without a predicate."""
    recall = probes["recall"]
    window = {"machine": recall["machine"], "start": datetime.fromisoformat(recall["start"]),
              "end": datetime.fromisoformat(recall["end"])}
    scope = ledger.recall_scope(**window, where=recall["predicate"])
    timings = sorted(timed(lambda: ledger.recall_scope(**window, where=recall["predicate"]))
                     for _ in range(repeat))
    everything = sorted(timed(lambda: ledger.recall_scope(**window)) for _ in range(repeat))
    median = timings[len(timings) // 2]
    return {
        "machine": recall["machine"], "start": recall["start"], "end": recall["end"],
        "predicate": recall["predicate"],
        "ms": round(median, 2), "no_predicate_ms": round(everything[len(everything) // 2], 2),
        "runs_examined": scope.examined, "affected": len(scope.affected),
        "generator_says_matching": recall.get("matching_parts"),
        "undetermined": len(scope.undetermined), "naive": scope.naive,
        "reduction": round(scope.reduction, 4) if scope.reduction is not None else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="benchmarks/plant.db", help="ledger URL or file")
    parser.add_argument("--probes", default=None, help="probes file [<db>.probes.json]")
    parser.add_argument("--quick", action="store_true",
                        help="build a 2,000-part plant in a temp dir and measure that")
    parser.add_argument("--samples", type=int, default=1000, help="serials to trace")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    url, probes_file = args.db, args.probes
    scratch = None
    if args.quick:
        from benchmarks.dataset import fill

        scratch = tempfile.TemporaryDirectory()
        url = str(Path(scratch.name) / "plant.db")
        probes_file = url + ".probes.json"
        fill(url, 2000, 7, probes_file=Path(probes_file), progress=False)
        args.samples = min(args.samples, 200)
    probes = json.loads(Path(probes_file or f"{url}.probes.json").read_text())
    ledger = thread.open(url, create=False)
    try:
        print(f"queries: {url}", file=sys.stderr)
        rebuild = measure_rebuild(ledger)
        print(f"rebuild: {rebuild['events']:,} events in {rebuild['rebuild_s']} s "
              f"({rebuild['project_s']} s projecting, {rebuild['index_s']} s building indexes), "
              f"{rebuild['rebuild_events_per_s']:,} events/s (decode-only floor "
              f"{rebuild['decode_only_events_per_s']:,}/s, ratio "
              f"{rebuild['rebuild_vs_decode_only']}); peak RSS {rebuild['rss_peak_mb']} MB, of it "
              f"private {rebuild['rss_anon_peak_mb']} MB (before {rebuild['rss_before_mb']} "
              f"MB)", file=sys.stderr)
        keys = serials(ledger, probes, args.samples, args.seed)
        trace = measure_trace(ledger, keys)
        print(f"trace: p50 {trace['p50_ms']} ms, p99 {trace['p99_ms']} ms over {trace['n']} "
              f"serials ({trace['mean_events_per_serial']} events each); history() baseline "
              f"p50 {trace['history_p50_ms']} ms", file=sys.stderr)
        genealogy = measure_genealogy(ledger, probes, 20 if not args.quick else 5)
        print(f"genealogy: down {genealogy['levels_down']} levels p50 "
              f"{genealogy['down']['p50_ms']} ms p99 {genealogy['down']['p99_ms']} ms; up "
              f"{genealogy['levels_up']} levels p50 {genealogy['up']['p50_ms']} ms",
              file=sys.stderr)
        recall = measure_recall(ledger, probes, 7)
        print(f"recall: {recall['ms']} ms for {recall['runs_examined']} runs, "
              f"{recall['affected']} affected (generator: {recall['generator_says_matching']}), "
              f"naive {recall['naive']}; no-predicate baseline {recall['no_predicate_ms']} ms",
              file=sys.stderr)
    finally:
        ledger.close()
        if scratch is not None:
            scratch.cleanup()
    figures = {
        "trace_p50_ms": trace["p50_ms"], "trace_p99_ms": trace["p99_ms"],
        "genealogy_ms": max(genealogy["down"]["p99_ms"], genealogy["up"]["p99_ms"]),
        "recall_ms": recall["ms"], "rebuild_events_per_s": rebuild["rebuild_events_per_s"],
    }
    met = {name: (figures[name] >= target if name.endswith("per_s") else figures[name] <= target)
           for name, target in TARGETS.items()}
    print(json.dumps({"benchmark": "queries", "db": url if not args.quick else "quick",
                      "rebuild": rebuild, "trace": trace, "genealogy": genealogy,
                      "recall": recall, "figures": figures, "targets": TARGETS, "met": met}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
