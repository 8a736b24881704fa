"""SPC benchmark: control charts with rules, capability of a part number, drift-alert latency.

    python benchmarks/quality.py --quick     # 100,000 chart points, 100,000 parts, 20 alerts
    python benchmarks/quality.py             # 100,000 chart points, 1,000,000 parts, 50 alerts

Three measurements, each beside a baseline from the same run:

- **chart**: ``thread.quality.control_chart`` (I-MR, every Nelson rule; and the
  Western Electric set) over 100,000 individuals with a drift, median of 7 calls;
  baseline: plain numpy computing the same centre, moving-range sigma and limits
  and only the first rule (points beyond the limits).
- **capability**: every characteristic of a part number (five, each measured on
  every part, parts made on three machines): the ledger's read-side query
  (:func:`thread.read.series.measured`, as ``thread capability`` runs it) and
  :func:`thread.quality.capability` overall and per machine, with intervals,
  normality test and percentile indices; baseline: the same rows read with the
  ``sqlite3`` module alone and Cpk per characteristic and machine in plain numpy.
  The read-model tables are filled directly with generated rows (ingest is
  measured by ``benchmarks/ingest.py``; this measures the question, not the
  loading).
- **drift alert latency** on PostgreSQL: a watcher (``thread.analytics.drift.watch``,
  woken by the ledger's commit notification) and a writer; per trial the writer
  commits a part whose spindle load is far out, and the latency is from the
  commit's return to the alert fact's recorded time (p50, p95); the alert is then
  closed (signed) so the next trial can raise one. Baseline: the same commit
  followed by the read models alone (``read_models.follow``), latency to caught up.

Targets (printed, not asserted): chart <= 200 ms, capability at 1M parts <= 5 s,
alert p95 <= 1 s. A table goes to stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from sqlalchemy import create_engine

import thread
from thread.quality import capability, control_chart
from thread.read import schema as s
from thread.read.clock import AsOf
from thread.read.series import measured

TARGETS = {"chart_ms": 200.0, "capability_1m_s": 5.0, "alert_p95_s": 1.0}
CHARACTERISTICS = {"1": (20.0, -0.01, 0.0), "2": (47.0, -0.011, 0.0), "3": (14.0, -0.12, 0.0),
                   "4": (0.0, 0.0, 0.2), "5": (12.5, -7.5, 7.5)}
MACHINES = ("GR-01", "GR-02", "GR-03")
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


# -- chart ---------------------------------------------------------------------------

def numpy_chart(values: np.ndarray) -> int:
    """The baseline: centre, MR-bar/d2 sigma, 3-sigma limits and points beyond them."""
    center = values.mean()
    sigma = np.abs(np.diff(values)).mean() / 1.128
    return int(np.count_nonzero(np.abs(values - center) > 3 * sigma))


def bench_chart(points: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    values = rng.normal(10.0, 1.0, points) + np.linspace(0, 1.5, points)
    listed = values.tolist()
    nelson_s, chart = timed(lambda: control_chart(listed, "i-mr", rules="nelson"), 7)
    we_s, _ = timed(lambda: control_chart(listed, "i-mr", rules="western-electric"), 7)
    base_s, beyond = timed(lambda: numpy_chart(values), 7)
    return {"points": points, "nelson_ms": nelson_s * 1e3, "western_electric_ms": we_s * 1e3,
            "numpy_rule1_ms": base_s * 1e3, "violations": len(chart.violations),
            "numpy_beyond": beyond}


# -- capability ----------------------------------------------------------------------

def fill_reads(path: Path, parts: int) -> None:
    """Registry, operations and inspections rows of ``parts`` bearings, straight into SQL
    (the read models' own tables and indexes)."""
    engine = create_engine(f"sqlite:///{path}")
    s.metadata.create_all(engine, tables=[s.registry, s.operations, s.parameters,
                                          s.inspections, s.superseded])
    engine.dispose()
    rng = np.random.default_rng(2)
    start = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp()) * 10**9
    connection = sqlite3.connect(path)
    position = 1
    chunk = 50_000
    for first in range(0, parts, chunk):
        count = min(chunk, parts - first)
        keys = [f"BRG-{first + i:07d}" for i in range(count)]
        made = start + (first + np.arange(count)) * 30 * 10**9
        machine = rng.integers(0, 3, count)
        registry, operations, inspections = [], [], []
        for i, key in enumerate(keys):
            at = int(made[i])
            registry.append((position, "part", key, "BRG-6204", "A", "WO", 1.0, at, at))
            operations.append((position + 1, "part", key, 2, "OP30", MACHINES[machine[i]],
                               "S", "op", None, None, at, at + 60 * 10**9, at, at))
            position += 2
        for name, (nominal, lower, upper) in CHARACTERISTICS.items():
            middle = nominal + (lower + upper) / 2
            width = (upper - lower) / 8
            drawn = rng.normal(middle, width, count) + (machine == 1) * width * 0.5
            for i, key in enumerate(keys):
                value = float(drawn[i])
                verdict = "pass" if nominal + lower <= value <= nominal + upper else "fail"
                at = int(made[i]) + 120 * 10**9
                inspections.append((position, "part", key, 3, name, "cmm", None, value, "mm",
                                    nominal, lower, upper, verdict, at, at))
                position += 1
        connection.executemany(f"INSERT INTO {s.registry.name} VALUES "
                               "(?,?,?,?,?,?,?,?,?)", registry)
        connection.executemany(f"INSERT INTO {s.operations.name} VALUES "
                               "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", operations)
        connection.executemany(f"INSERT INTO {s.inspections.name} VALUES "
                               "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", inspections)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


def ledger_capability(path: Path) -> int:
    """What ``thread capability`` computes: the query, then capability overall and per machine."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        found = measured(conn, "BRG-6204", AsOf())
    engine.dispose()
    studies = 0
    for m in found:
        assert m.tolerance is not None
        limits = {"lsl": m.tolerance.lsl, "usl": m.tolerance.usl}
        capability(m.values, **limits, target=m.tolerance.nominal)
        machines = np.array(m.machines)
        values = np.asarray(m.values)
        for name in MACHINES:
            capability(values[machines == name], **limits)
            studies += 1
        studies += 1
    return studies


def numpy_capability(path: Path) -> int:
    """The baseline: the same rows with sqlite3 alone, Cpk per characteristic and machine."""
    connection = sqlite3.connect(path)
    rows = connection.execute(
        "SELECT i.characteristic, i.measured, o.machine, i.nominal, i.lower_tolerance, "
        "i.upper_tolerance FROM read_registry r JOIN read_inspections i ON i.key = r.key "
        "JOIN read_operations o ON o.key = r.key WHERE r.part_number = 'BRG-6204'").fetchall()
    connection.close()
    studies = 0
    by: dict[str, list[tuple[float, str]]] = {}
    limits: dict[str, tuple[float, float]] = {}
    for name, value, machine, nominal, lower, upper in rows:
        by.setdefault(name, []).append((value, machine))
        limits[name] = (nominal + lower, nominal + upper)
    for name, taken in by.items():
        values = np.array([v for v, _ in taken])
        machines = np.array([m for _, m in taken])
        lsl, usl = limits[name]
        for chosen in (values, *(values[machines == m] for m in MACHINES)):
            mean, sd = chosen.mean(), chosen.std(ddof=1)
            min((usl - mean) / (3 * sd), (mean - lsl) / (3 * sd))
            studies += 1
    return studies


def bench_capability(parts: int, folder: Path) -> dict[str, Any]:
    path = folder / "reads.db"
    started = time.perf_counter()
    fill_reads(path, parts)
    filled = time.perf_counter() - started
    ledger_s, studies = timed(lambda: ledger_capability(path), 3)
    numpy_s, base_studies = timed(lambda: numpy_capability(path), 3)
    return {"parts": parts, "measurements": parts * len(CHARACTERISTICS),
            "fill_s": filled, "ledger_s": ledger_s, "numpy_s": numpy_s, "studies": studies,
            "numpy_studies": base_studies}


# -- drift alert latency -------------------------------------------------------------

def bench_alerts(url: str, trials: int) -> dict[str, Any]:
    import psycopg
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from thread.analytics import drift
    from thread.domain import facts as f
    from thread.domain.signature import Signer

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    at_url = f"{url}?schema={schema}"
    writer = thread.open(at_url, actor="mes")
    watcher = thread.open(at_url, actor="watcher")
    signer = Signer("q.eng", "Quinn Engineer", Ed25519PrivateKey.generate())
    stop = threading.Event()
    try:
        writer.record(f.MachineRegistered(machine="GR-B", name="Grinder", kind="grinder"))
        at = datetime.now(UTC) - timedelta(days=2)
        rng = np.random.default_rng(3)

        def made(serial: str, load: float) -> None:
            nonlocal at
            at += timedelta(minutes=5)
            with writer.batch(source="mes") as batch:
                batch.record(f.PartRegistered(serial=serial, part_number="BRG-B", revision="A",
                                              undocumented=True), occurred_at=at)
                batch.record(f.ProcessRecorded(
                    serial=serial, operation="OP30", machine="GR-B", started_at=at,
                    ended_at=at + timedelta(minutes=1),
                    parameters=(f.ParameterSummary(name="spindle_load", unit="%", n=1,
                                                   min=load, max=load, mean=load, sd=0.0),)),
                    occurred_at=at + timedelta(minutes=1))

        for index in range(30):
            made(f"B-{index:04d}", float(50 + rng.normal()))
        drift.subscribe(writer, chart="LOAD", metric="process.spindle_load.mean",
                        machine="GR-B", phase1=30, rules=["WE1"])
        # Baseline first: the read models alone, woken by the same notification.
        base = _latency(writer, watcher, stop, made, trials, alerts=False, signer=signer)
        alert = _latency(writer, watcher, stop, made, trials, alerts=True, signer=signer)
    finally:
        stop.set()
        writer.close()
        watcher.close()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return {"trials": trials, **{f"alert_{k}": v for k, v in alert.items()},
            **{f"follow_{k}": v for k, v in base.items()}}


def _latency(writer: thread.Ledger, watcher: thread.Ledger, stop: threading.Event,
             made: Callable[[str, float], None], trials: int, *, alerts: bool,
             signer: Any) -> dict[str, float]:
    from thread.analytics import drift
    from thread.domain import facts as f

    stop.clear()
    if alerts:
        runner = threading.Thread(target=drift.watch, args=(watcher, stop),
                                  kwargs={"interval": 60.0}, daemon=True)
    else:
        runner = threading.Thread(target=watcher.read_models.follow, args=(stop,),
                                  kwargs={"interval": 60.0}, daemon=True)
    runner.start()
    time.sleep(0.5)
    latencies = []
    for trial in range(trials):
        serial = f"X-{'a' if alerts else 'f'}-{trial:03d}"
        if alerts:
            made(serial, 90.0)
            committed = time.time()
            deadline = committed + 10
            while True:
                found = [a for a in writer.drift().alerts
                         if a.status == "open" and a.rule == "WE1"]
                if found:
                    break
                if time.time() > deadline:
                    raise RuntimeError("no alert within 10 s")
                time.sleep(0.002)
            raised = [e for e in writer.history_of("machine", "GR-B")
                      if e.fact.topic == f.DriftAlertRaised.topic][-1]
            latencies.append(raised.timestamp.timestamp() - committed)
            for open_alert in writer.drift().alerts:
                if open_alert.status != "closed":
                    drift.close(writer, open_alert.alert, resolution="benchmark",
                                outcome="false-alarm", signer=signer)
            time.sleep(0.05)
        else:
            made(serial, 50.0)
            committed = time.time()
            head = writer.count()
            while min(p.position for p in watcher.read_models.positions()) < head:
                time.sleep(0.001)
            latencies.append(time.time() - committed)
    stop.set()
    writer.record(f.MachineRegistered(machine=f"WAKE-{alerts}", name="Wake", kind="mill"))
    runner.join(timeout=10)
    ordered = sorted(latencies)
    return {"p50_s": statistics.median(ordered),
            "p95_s": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k parts, 20 alert trials")
    parser.add_argument("--parts", type=int, default=None)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL URL (or 'none')")
    args = parser.parse_args(argv)
    parts = args.parts or (100_000 if args.quick else 1_000_000)
    results: dict[str, Any] = {}
    results["chart"] = bench_chart(100_000)
    c = results["chart"]
    print(f"chart, {c['points']:,} points: Nelson {c['nelson_ms']:.0f} ms, Western Electric "
          f"{c['western_electric_ms']:.0f} ms; numpy limits and rule 1 only "
          f"{c['numpy_rule1_ms']:.1f} ms (target {TARGETS['chart_ms']:.0f} ms)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        results["capability"] = bench_capability(parts, Path(folder))
    k = results["capability"]
    print(f"capability, {k['parts']:,} parts x {len(CHARACTERISTICS)} characteristics "
          f"({k['studies']} studies): {k['ledger_s']:.2f} s; sqlite3 + numpy Cpk only "
          f"{k['numpy_s']:.2f} s (target {TARGETS['capability_1m_s']:.0f} s at 1M; rows filled "
          f"in {k['fill_s']:.0f} s)", file=sys.stderr)
    if args.postgres != "none":
        results["alerts"] = bench_alerts(args.postgres, 20 if args.quick else 50)
        a = results["alerts"]
        print(f"drift alert latency on PostgreSQL, {a['trials']} trials: p50 "
              f"{a['alert_p50_s'] * 1e3:.0f} ms, p95 {a['alert_p95_s'] * 1e3:.0f} ms; read "
              f"models alone p50 {a['follow_p50_s'] * 1e3:.0f} ms, p95 "
              f"{a['follow_p95_s'] * 1e3:.0f} ms (target p95 {TARGETS['alert_p95_s']:.0f} s)",
              file=sys.stderr)
    print(json.dumps({"benchmark": "quality", "quick": args.quick, **results,
                      "targets": TARGETS}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
