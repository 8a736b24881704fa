"""Imports: peak memory (RSS) of a large CSV export and a large QIF results file.

Each import runs in a fresh process on a ledger prepared for it (the design
released, and for QIF the measured parts registered), and reports its peak
resident set size (``ru_maxrss``), the time it took and what it wrote. In the
same run, a baseline process does everything but the import (the same modules
loaded, the same ledger opened and read), so the figure that is the import's
own is the difference. The files are generated, reproducibly:

- **CSV**: an ERP export of serialised production orders through
  ``examples/mappings/erp-work-orders.toml``, one ``PartRegistered`` per row
  (100,000 rows, about 6 MB).
- **QIF**: a QIF 3 results file of a CMM measuring 50 diameter characteristics
  on each of many serialised parts, one ``MeasurementResults`` per part
  (about 50 MB).

The ledger is a SQLite file, or a PostgreSQL schema of its own per import that
the script drops afterwards. Target (printed, not asserted): at most 150 MB
peak RSS per import. Run ``python benchmarks/imports.py --help``; the last line
printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

Backend = Literal["sqlite", "postgres"]
Kind = Literal["csv", "qif"]

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "examples" / "mappings" / "erp-work-orders.toml"
DEFAULT_ROWS = 100_000
QUICK_ROWS = 20_000
DEFAULT_QIF_MB = 50.0
QUICK_QIF_MB = 10.0
CHARACTERISTICS = 50
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: Peak resident set size of an import, MB (printed, not asserted).
TARGET_MB = 150.0

QIF_PART_NUMBER = "HSG-2201"
QIF_SERIAL = "HSG2201-{:06d}"
START = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)


# Generated files.


def write_csv(path: Path, rows: int) -> None:
    """An ERP export: ``rows`` serial numbers over production orders of 500."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Order,Material,Revision,Serial Number,Plant,Created On\n")
        for index in range(rows):
            created = START + timedelta(seconds=7 * index)
            out.write(f"{1_000_000 + index // 500},BRG-6206,B,BRG6206-{index:07d},DE01,"
                      f"{created:%Y-%m-%d %H:%M:%S}\n")


def _nominal(index: int) -> float:
    return 10.0 + index * 0.5


def write_qif(path: Path, megabytes: float) -> int:
    """A QIF 3 results file of about ``megabytes``; returns how many parts it measured."""
    chars = range(1, CHARACTERISTICS + 1)
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<QIFDocument xmlns="http://qifstandards.org/xsd/qif3" versionQIF="3.0.0">',
        "  <QPId>4a1f0e52-9c1b-4f7e-8d0a-3b2c1d4e5f60</QPId>",
        "  <FileUnits><PrimaryUnits><LinearUnit><SIUnitName>meter</SIUnitName>"
        "<UnitName>mm</UnitName><UnitConversion><Factor>0.001</Factor></UnitConversion>"
        "</LinearUnit></PrimaryUnits></FileUnits>",
        "  <MeasurementResources><MeasurementDevices n=\"1\"><MeasurementDevice id=\"1\">"
        "<Name>CMM-7</Name></MeasurementDevice></MeasurementDevices></MeasurementResources>",
        f"  <Product><PartSet n=\"1\"><Part id=\"2\"><PartNumber>{QIF_PART_NUMBER}</PartNumber>"
        "</Part></PartSet></Product>",
        f"  <Characteristics><CharacteristicDefinitions n=\"{CHARACTERISTICS}\">",
    ]
    head += [f"    <DiameterCharacteristicDefinition id=\"{100 + c}\"><Tolerance><MaxValue>0.05"
             f"</MaxValue><MinValue>-0.05</MinValue><DefinedAsLimit>false</DefinedAsLimit>"
             f"</Tolerance></DiameterCharacteristicDefinition>" for c in chars]
    head.append(f"  </CharacteristicDefinitions><CharacteristicNominals n=\"{CHARACTERISTICS}\">")
    head += [f"    <DiameterCharacteristicNominal id=\"{200 + c}\"><CharacteristicDefinitionId>"
             f"{100 + c}</CharacteristicDefinitionId><TargetValue>{_nominal(c)}</TargetValue>"
             f"</DiameterCharacteristicNominal>" for c in chars]
    head.append(f"  </CharacteristicNominals><CharacteristicItems n=\"{CHARACTERISTICS}\">")
    head += [f"    <DiameterCharacteristicItem id=\"{300 + c}\"><Name>D{c}</Name>"
             f"<CharacteristicDesignator><Designator>{c}</Designator></CharacteristicDesignator>"
             f"<MeasurementDeviceIds n=\"1\"><Id>1</Id></MeasurementDeviceIds>"
             f"<CharacteristicNominalId>{200 + c}</CharacteristicNominalId>"
             f"</DiameterCharacteristicItem>" for c in chars]
    head += ["  </CharacteristicItems></Characteristics>", "  <Results>",
             "    <MeasurementResultsSet n=\"1\">"]
    chooser = random.Random(7)
    target = int(megabytes * 1_000_000)
    parts = 0
    ident = 1_000
    with path.open("w", encoding="utf-8") as out:
        out.write("\n".join(head) + "\n")
        written = out.tell()
        while written < target:
            at = START + timedelta(minutes=3 * parts)
            lines = [f"      <MeasurementResults id=\"{ident}\">",
                     f"        <ThisResultsInstanceQPId>5b2e{parts:028x}</ThisResultsInstanceQPId>",
                     "        <InspectionStatus><InspectionStatusEnum>PASS</InspectionStatusEnum>"
                     "</InspectionStatus>",
                     f"        <ActualComponentIds n=\"1\"><Id>{ident + 1}</Id>"
                     "</ActualComponentIds>",
                     f"        <MeasuredCharacteristics><CharacteristicMeasurements "
                     f"n=\"{CHARACTERISTICS}\">"]
            for c in chars:
                value = _nominal(c) + chooser.uniform(-0.04, 0.04)
                lines.append(
                    f"          <DiameterCharacteristicMeasurement id=\"{ident + 1 + c}\">"
                    "<Status><CharacteristicStatusEnum>PASS</CharacteristicStatusEnum></Status>"
                    f"<CharacteristicItemId>{300 + c}</CharacteristicItemId>"
                    f"<Value>{value:.4f}</Value>"
                    f"<TimeStamp>{at + timedelta(seconds=2 * c):%Y-%m-%dT%H:%M:%SZ}</TimeStamp>"
                    "</DiameterCharacteristicMeasurement>")
            lines += ["        </CharacteristicMeasurements></MeasuredCharacteristics>",
                      "      </MeasurementResults>"]
            out.write("\n".join(lines) + "\n")
            written = out.tell()
            ident += CHARACTERISTICS + 2
            parts += 1
        out.write("    </MeasurementResultsSet>\n    <ActualComponentSets n=\"1\">"
                  f"<ActualComponentSet n=\"{parts}\">\n")
        for part in range(parts):
            out.write(f"      <ActualComponent id=\"{1_001 + part * (CHARACTERISTICS + 2)}\">"
                      f"<SerialNumber>{QIF_SERIAL.format(part)}</SerialNumber>"
                      "</ActualComponent>\n")
        out.write("    </ActualComponentSet></ActualComponentSets>\n  </Results>\n"
                  "</QIFDocument>\n")
    return parts


# What each process does: prepare, import, or only open (the baseline).


def prepare(url: str, kind: Kind, parts: int) -> None:
    """The ledger an import needs: the design released, for QIF the parts registered."""
    import thread
    from thread import facts as f

    ledger = thread.open(url, actor="bench-setup")
    if kind == "csv":
        ledger.record(f.RevisionReleased(part_number="BRG-6206", revision="B",
                                         part_name="Deep groove ball bearing",
                                         drawing="DWG-6206"))
    else:
        ledger.record(f.RevisionReleased(
            part_number=QIF_PART_NUMBER, revision="A", part_name="Gear housing",
            drawing="DWG-2201", characteristics=tuple(
                f.Characteristic(balloon=str(c), name=f"D{c}", nominal=_nominal(c), unit="mm",
                                 lower_tolerance=-0.05, upper_tolerance=0.05)
                for c in range(1, CHARACTERISTICS + 1))))
        for first in range(0, parts, 1_000):
            with ledger.batch() as batch:
                for part in range(first, min(parts, first + 1_000)):
                    batch.record(f.PartRegistered(serial=QIF_SERIAL.format(part),
                                                  part_number=QIF_PART_NUMBER, revision="A"),
                                 occurred_at=START - timedelta(days=1))
    ledger.close()


def run_import(url: str, kind: Kind, file: str, baseline: bool, results: Any) -> None:
    """Import ``file`` (or, for the baseline, only load and open what an import would)."""
    import thread
    from thread_adapters.business import import_file, load_mapping
    from thread_adapters.qif import import_results

    ledger = thread.open(url, actor="bench")
    mapping = load_mapping(MAPPING)
    before = ledger.count()
    started = time.perf_counter()
    written = 0
    if not baseline:
        if kind == "csv":
            written = import_file(ledger, mapping, file).new
        else:
            written = sum(done.new for done in import_results(ledger, [file]))
    elapsed = time.perf_counter() - started
    stored = ledger.count() - before
    ledger.close()
    results.put({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 "seconds": elapsed, "new": written, "stored": stored})


def in_process(target: Callable[..., None], *args: Any) -> dict[str, Any]:
    """Run ``target`` in a fresh process; what it put on the queue."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=target, args=(*args, results))
    process.start()
    found: dict[str, Any] = results.get(timeout=3_600)
    process.join(timeout=60)
    if process.exitcode != 0:
        raise RuntimeError(f"{target.__name__} exited with {process.exitcode}")
    return found


# Backends: a fresh ledger per process pair.


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
def fresh_ledger(backend: Backend, directory: Path, name: str, postgres: str) -> Iterator[str]:
    if backend == "sqlite":
        yield str(directory / f"{name}.db")
        return
    import psycopg
    from psycopg import sql

    server = _server_url(postgres)
    schema = f"bench_imports_{os.getpid()}_{name}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{server}?schema={schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema)))


def measure(backend: Backend, directory: Path, postgres: str, files: dict[Kind, Path],
            parts: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for kind, file in files.items():
        with fresh_ledger(backend, directory, f"{kind}_base", postgres) as url:
            prepare(url, kind, parts)
            base = in_process(run_import, url, kind, str(file), True)
        with fresh_ledger(backend, directory, kind, postgres) as url:
            prepare(url, kind, parts)
            done = in_process(run_import, url, kind, str(file), False)
        if done["stored"] != done["new"] or not done["new"]:
            raise RuntimeError(f"{backend} {kind}: {done['new']} new facts reported, "
                               f"{done['stored']} stored")
        figures[kind] = {
            "file_mb": round(file.stat().st_size / 1e6, 2),
            "peak_mb": round(done["peak_mb"], 1), "baseline_mb": round(base["peak_mb"], 1),
            "import_mb": round(done["peak_mb"] - base["peak_mb"], 1),
            "seconds": round(done["seconds"], 2), "facts": done["new"],
            "facts_per_s": round(done["new"] / done["seconds"], 1),
            "met": done["peak_mb"] <= TARGET_MB,
        }
        j = figures[kind]
        print(f"  {backend:<9} {kind:<4} {j['file_mb']:>7.1f} MB file  peak {j['peak_mb']:>6.1f} MB"
              f"  (baseline {j['baseline_mb']:.1f} MB)  {j['facts']:,} facts in "
              f"{j['seconds']:.1f} s", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROWS:,} CSV rows and a {QUICK_QIF_MB:g} MB QIF file")
    parser.add_argument("--rows", type=int, default=None,
                        help=f"CSV rows (default {DEFAULT_ROWS:,}; {QUICK_ROWS:,} with --quick)")
    parser.add_argument("--qif-mb", type=float, default=None,
                        help=f"QIF file size in MB (default {DEFAULT_QIF_MB:g}; "
                             f"{QUICK_QIF_MB:g} with --quick)")
    parser.add_argument("--only", choices=("csv", "qif"), default=None)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES_URL),
                        help=f"server and database to use (default {DEFAULT_POSTGRES_URL} "
                             "or $BENCH_POSTGRES_URL); a schema per import is created and "
                             "dropped")
    args = parser.parse_args(argv)
    rows = args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS)
    megabytes = args.qif_mb or (QUICK_QIF_MB if args.quick else DEFAULT_QIF_MB)
    backends: list[Backend] = (["sqlite", "postgres"] if args.backend == "both"
                               else [args.backend])
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as name:
        directory = Path(name)
        files: dict[Kind, Path] = {}
        parts = 0
        if args.only in (None, "csv"):
            files["csv"] = directory / "work-orders.csv"
            write_csv(files["csv"], rows)
        if args.only in (None, "qif"):
            files["qif"] = directory / "results.QIF"
            parts = write_qif(files["qif"], megabytes)
        print("imports: " + ", ".join(
            f"{kind.upper()} {path.stat().st_size / 1e6:.1f} MB" for kind, path in files.items())
            + (f" ({rows:,} rows)" if "csv" in files else "")
            + (f" ({parts:,} parts x {CHARACTERISTICS} characteristics)" if "qif" in files
               else ""), flush=True)
        for backend in backends:
            if backend == "postgres":
                problem = postgres_unreachable(args.postgres_url)
                if problem is not None:
                    if args.backend == "postgres":
                        print(f"postgres: FAILED, server not reachable ({problem})",
                              file=sys.stderr)
                        return 1
                    print(f"postgres: skipped, server not reachable ({problem})", flush=True)
                    results[backend] = {"skipped": problem}
                    continue
            results[backend] = measure(backend, directory, args.postgres_url, files, parts)
    print()
    print(f"{'backend':<9} {'import':<6} {'file MB':>8} {'peak MB':>8} {'baseline':>9} "
          f"{'own MB':>7} {'facts/s':>9}  target <= {TARGET_MB:g} MB peak")
    met = True
    for backend, figures in results.items():
        for kind, j in figures.items():
            if kind == "skipped":
                continue
            met &= j["met"]
            print(f"{backend:<9} {kind:<6} {j['file_mb']:>8.1f} {j['peak_mb']:>8.1f} "
                  f"{j['baseline_mb']:>9.1f} {j['import_mb']:>7.1f} {j['facts_per_s']:>9,.0f}  "
                  f"{'met' if j['met'] else 'MISSED'}")
    print()
    print(json.dumps({"benchmark": "imports", **results, "rows": rows, "qif_mb": megabytes,
                      "qif_parts": parts, "characteristics": CHARACTERISTICS,
                      "quick": bool(args.quick), "target_peak_mb": TARGET_MB, "met": met}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
