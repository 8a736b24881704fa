"""Sealing benchmark: what sealing personal names and export-controlled content costs a
write and a read, against the same facts unsealed in the same run.

    python benchmarks/sealing.py --quick     # 2,000 parts
    python benchmarks/sealing.py             # 10,000 parts

Each part is a batch of three facts (registration, an operation naming its operator,
an inspection) on a SQLite file ledger, written three ways:

- **plain**: no keyring (the baseline);
- **personal**: a keyring, so each operator's name is sealed under their own key;
- **labelled**: a keyring and an ITAR:XI design, so each part's operation and inspection
  are sealed under the label's key as well.

Then every part's history is read back (decoded and chain-checked) with the keys. A
table goes to stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import thread
from thread.domain import facts as f
from thread.storage.keyring import Keyring

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _run(folder: Path, mode: str, parts: int) -> tuple[float, float]:
    """Microseconds per part written (three facts) and per part history read."""
    at = [T0]

    def clock(at: list[datetime] = at) -> datetime:
        at[0] += timedelta(milliseconds=1)
        return at[0]
    ring = None
    if mode != "plain":
        ring = Keyring(folder / f"{mode}-keys")
        ring.new_label_key("ITAR:XI")
    ledger = thread.open(folder / f"{mode}.db", clock=clock, keyring=ring)
    ledger.record(f.RevisionReleased(part_number="PN", revision="A", part_name="Housing",
                                     drawing="D-1"))
    if mode == "labelled":
        ledger.record(f.ExportClassified(kind="design", key="PN", labels=("ITAR:XI",)))
    ledger.record(f.MachineRegistered(machine="M", name="Mill", kind="mill"))
    start = time.perf_counter()
    for i in range(parts):
        serial = f"SN-{i:06d}"
        with ledger.batch() as batch:
            batch.record(f.PartRegistered(serial=serial, part_number="PN", revision="A"))
            batch.record(f.OperationPerformed(
                serial=serial, operation="OP10", station="ST", machine="M",
                operator=f"operator {i % 40}", started_at=T0, ended_at=T0 + timedelta(
                    minutes=5), cycle_time_s=300))
            batch.record(f.InspectionRecorded(
                serial=serial, characteristic="1", method="cmm", measured=20.0 - (i % 7) / 1000,
                unit="mm", nominal=20.0, lower_tolerance=-0.01, upper_tolerance=0.0,
                verdict="pass"))
    written = (time.perf_counter() - start) / parts * 1e6
    ledger.close()
    reader = thread.open(folder / f"{mode}.db", keyring=ring)
    start = time.perf_counter()
    for i in range(parts):
        reader.history(f"SN-{i:06d}")
    read = (time.perf_counter() - start) / parts * 1e6
    reader.close()
    return written, read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run for CI")
    quick = parser.parse_args().quick
    parts = 2_000 if quick else 10_000
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("plain", "personal", "labelled"):
            results[mode] = _run(Path(folder), mode, parts)
    plain_w, plain_r = results["plain"]
    for mode, (written, read) in results.items():
        print(f"{mode:9s} write {written:8.1f} us/part ({written / plain_w:4.2f}x plain)   "
              f"read {read:8.1f} us/part ({read / plain_r:4.2f}x plain)", file=sys.stderr)
    print(json.dumps({"benchmark": "sealing", "quick": quick, "parts": parts,
                      **{f"{mode}_write_us": round(w, 1) for mode, (w, _) in results.items()},
                      **{f"{mode}_read_us": round(r, 1) for mode, (_, r) in results.items()},
                      "labelled_write_ratio": round(results["labelled"][0] / plain_w, 3),
                      "labelled_read_ratio": round(results["labelled"][1] / plain_r, 3)}))


if __name__ == "__main__":
    main()
