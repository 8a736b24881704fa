"""How long writers wait while a checkpoint brings a lagging subject map up to the log.

    python benchmarks/map_catch_up.py --quick    # 100,000 events
    python benchmarks/map_catch_up.py            # 1,000,000 events

A ledger of the ingest workload (ten events per part) is written without any checkpoint,
as a ledger from before subject maps, or one signed seldom, is: its first checkpoint maps
every subject. The file is copied, and on each copy one checkpoint is signed while another
ledger on the same file commits one small batch (a part's inspection) every 20 ms, as a
production line would. Measured in the same run:

- **as before**: the map derived holding the write lock (the ahead step switched off by
  setting ``thread.ledger.MAP_AHEAD`` past the ledger's size);
- **now**: the map of the log as it stands derived without the lock, then only the
  leaves appended meanwhile under it.

Printed: the checkpoint's duration, and the other writer's commits that overlapped it (how
many, and the longest and median time each took, waiting for the lock included). The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ingest import EVENTS_PER_PART, LedgerSide, plan_part
from verify import fill

import thread
import thread.ledger as ledger_module
from thread import facts as f
from thread.log.checkpoint import generate_signer

#: How often the other writer commits.
INTERVAL_S = 0.02


def inspection(serial: str, number: int) -> f.InspectionRecorded:
    """A small fact for the other writer: one more inspection of an existing part."""
    return f.InspectionRecorded(
        serial=serial, characteristic=f"X{number}", name="bore", method="cmm", gauge="CMM-2",
        measured=20.001, unit="mm", nominal=20.0, lower_tolerance=-0.01,
        upper_tolerance=0.01, verdict="pass")


def signed_meanwhile(path: Path, serial: str, ahead: int) -> dict[str, Any]:
    """Sign the first checkpoint of the ledger at ``path`` while another writer commits;
    ``ahead`` is the lag from which the map is derived without the lock."""
    ledger_module.MAP_AHEAD = ahead
    ledger = thread.open(str(path), actor="bench")
    other = thread.open(str(path), actor="line")
    signer, _ = generate_signer(ledger.origin)
    commits: list[tuple[float, float]] = []  # (started, ended)
    stop = threading.Event()

    def line() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            started = time.perf_counter()
            other.record(inspection(serial, number))
            commits.append((started, time.perf_counter()))
            stop.wait(INTERVAL_S)

    writer = threading.Thread(target=line)
    writer.start()
    time.sleep(0.2)  # the line is running
    started = time.perf_counter()
    note_size = int(ledger.checkpoint(signer).split("\n")[1])
    ended = time.perf_counter()
    seconds = ended - started
    time.sleep(0.2)  # a commit held up by the checkpoint ends
    stop.set()
    writer.join()
    # Each commit that overlapped the checkpoint, however long it waited.
    during = [end - begin for begin, end in commits if begin < ended and end > started]
    checkpoints = len(ledger.checkpoints())
    other.close()
    ledger.close()
    return {"checkpoint_s": round(seconds, 2), "signed_size": note_size,
            "checkpoints": checkpoints, "commits_during": len(during),
            "longest_commit_s": round(max(during, default=0.0), 3),
            "median_commit_s": round(statistics.median(during), 4) if during else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    parser.add_argument("--events", type=int, default=None,
                        help="events in the ledger (default 1,000,000)")
    args = parser.parse_args(argv)
    if args.events is not None and args.events < EVENTS_PER_PART:
        parser.error(f"--events must be at least {EVENTS_PER_PART} (one part), not {args.events}")
    events = args.events or (100_000 if args.quick else 1_000_000)
    parts = max(1, events // EVENTS_PER_PART)
    default_ahead = ledger_module.MAP_AHEAD
    with tempfile.TemporaryDirectory(prefix="bench-map-catch-up-") as name:
        directory = Path(name)
        original = directory / "ledger.db"
        print(f"writing {parts * EVENTS_PER_PART:,} events without a checkpoint", flush=True)
        side = LedgerSide(str(original))
        fill(side, parts)
        side.close()
        serial = plan_part(0).serial
        copies = {}
        for label in ("before", "now"):
            copies[label] = directory / f"{label}.db"
            shutil.copy(original, copies[label])
        results = {
            "before": signed_meanwhile(copies["before"], serial, sys.maxsize),
            "now": signed_meanwhile(copies["now"], serial, default_ahead),
        }
    for label, found in results.items():
        print(f"{label:>6}: checkpoint {found['checkpoint_s']} s ({found['checkpoints']} "
              f"signed); the other writer's {found['commits_during']} commits meanwhile: "
              f"longest {found['longest_commit_s']} s, median {found['median_commit_s']} s",
              file=sys.stderr)
    print(json.dumps({"benchmark": "map_catch_up", "events": parts * EVENTS_PER_PART,
                      "map_ahead": default_ahead, **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
