"""Hub dossiers at scale: what a part's dossier costs the hub when a site's log is long.

    python benchmarks/hub_dossier.py --quick     # a site of 20,000 events
    python benchmarks/hub_dossier.py             # a site of 1,000,000 events

A site ledger (SQLite, the workload of ``ingest.py``: ten events per part, a signed
checkpoint every 10,000 events, each with its subject map) is mirrored checkpoint by
checkpoint into a hub (a SQLite file, or PostgreSQL with ``--postgres URL``) whose own log
records each cosigned checkpoint, as ``thread hub`` does. Measured in the same run:

- **mirroring**: entries per second from the first checkpoint offered to the last
  cosignature, and the share of it spent storing the site's subtrees and bringing its
  subject map up to date (what lets a dossier skip the site's log);
- **a part's hub dossier** (``hub_dossier_of``) for random parts: p50 and p99;
- **the baseline**: what a dossier cost before the hub stored subtrees and maps, computed
  the same way here: every mirrored leaf read into an in-memory tree for the inclusion
  proofs, and every subject's head read and the site's map built in memory for the map
  proof (the fallback the hub still uses for a checkpoint it mirrored before it kept maps).

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest import EVENTS_PER_PART, plan_part
from verify import build

import thread
import thread.sites.mirror as mirror_module
from thread.domain.envelope import aggregate_id
from thread.log.checkpoint import Checkpoint, generate_signer
from thread.log.cosignature import generate_cosigner
from thread.log.merkle import MemoryTree, inclusion_proof
from thread.log.subject_map import proof_among, subject_key
from thread.sites.hub_dossier import hub_dossier_of
from thread.sites.hub_log import HubLog
from thread.sites.mirror import Mirror
from thread.sites.site import extension_proof, log_entries

#: Entries per message, as the forwarder sends them.
CHUNK = 512
TARGET_DOSSIER_MS = 100.0


class Stopwatch:
    """Seconds spent inside the wrapped functions."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return timed


@contextmanager
def indexing_timed(watch: Stopwatch) -> Iterator[None]:
    """Time the mirror's storing of subtrees and maps."""
    saved = mirror_module.store_subtrees, mirror_module.advance_map
    mirror_module.store_subtrees = watch.wrap(saved[0])
    mirror_module.advance_map = watch.wrap(saved[1])
    try:
        yield
    finally:
        mirror_module.store_subtrees, mirror_module.advance_map = saved


def mirror_site(site: thread.Ledger, mirror: Mirror) -> dict[str, Any]:
    """Mirror every checkpoint of ``site`` in turn, its entries in chunks."""
    watch = Stopwatch()
    origin = site.origin
    checkpoints = site.checkpoints()
    started = time.perf_counter()
    with indexing_timed(watch):
        for size, note in checkpoints:
            held = mirror.state(origin).mirror_size
            mirror.add_checkpoint(note, extension_proof(site, held, size))
            entries = log_entries(site, held, size)
            start = mirror.state(origin).next
            while start < size:
                start = mirror.add_entries(origin, start,
                                           entries[start - held:start - held + CHUNK]).next
    elapsed = time.perf_counter() - started
    size = mirror.state(origin).mirror_size
    return {"entries": size, "checkpoints": len(checkpoints), "seconds": round(elapsed, 1),
            "entries_per_s": round(size / elapsed),
            "subtrees_and_maps_s": round(watch.seconds, 2),
            "subtrees_and_maps_share": round(watch.seconds / elapsed, 4)}


def before(mirror: Mirror, origin: str, size: int, serial: str) -> None:
    """A dossier's site proofs as the hub computed them before: the whole tree and the whole
    map of the site in memory."""
    subject = aggregate_id("part", serial).bytes
    events = mirror.subject_entries(origin, subject, size)
    with mirror.engine.connect() as conn:
        from sqlalchemy import select

        from thread.sites.mirror_tables import SITE_ENTRIES

        tree = MemoryTree(bytes(leaf) for leaf, in conn.execute(
            select(SITE_ENTRIES.c.leaf).where(SITE_ENTRIES.c.origin == origin,
                                              SITE_ENTRIES.c.idx < size)
            .order_by(SITE_ENTRIES.c.idx)))
    [inclusion_proof(index, size, tree.subtree) for index, _ in events]
    proof_among(mirror.heads(origin, size), subject_key(subject))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def unreachable(url: str) -> str | None:
    """Why the PostgreSQL server at ``url`` cannot be used, in one line (None: it can)."""
    import psycopg

    try:
        with psycopg.connect(url.split("?")[0], connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error).splitlines()[0]


def hub_url(directory: Path, postgres: str | None) -> tuple[str, Callable[[], None]]:
    """The hub's database: a SQLite file, or a fresh schema (dropped afterwards)."""
    if postgres is None:
        return str(directory / "hub.db"), lambda: None
    import psycopg

    base = postgres.split("?")[0]
    schema = f"bench_hub_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return f"{base}?schema={schema}", drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Hub dossiers at scale, with the baseline.")
    parser.add_argument("--quick", action="store_true", help="a site of 20,000 events")
    parser.add_argument("--events", type=int, default=None,
                        help="events in the site's log (default 1,000,000)")
    parser.add_argument("--samples", type=int, default=50, help="dossiers timed")
    parser.add_argument("--postgres", metavar="URL", default=None,
                        help="the hub in a fresh schema of this PostgreSQL database")
    args = parser.parse_args(argv)
    if args.events is not None and args.events < EVENTS_PER_PART:
        parser.error(f"--events must be at least {EVENTS_PER_PART} (one part), not {args.events}")
    if args.samples < 1:
        parser.error(f"--samples must be at least 1, not {args.samples}")
    if args.postgres is not None:
        problem = unreachable(args.postgres)
        if problem is not None:
            print(f"hub_dossier: --postgres {args.postgres}: not reachable ({problem}); "
                  f"nothing was built", file=sys.stderr)
            return 2
    events = args.events or (20_000 if args.quick else 1_000_000)
    parts = max(1, events // EVENTS_PER_PART)
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as name:
        directory = Path(name)
        site_path = directory / "site.db"
        _, verifier, built = build(str(site_path), parts)
        site = thread.open(site_path, actor="bench")
        origin = site.origin
        url, drop = hub_url(directory, args.postgres)
        try:
            hub = thread.open(url, origin="bench.example/hub")
            mirror = Mirror(url, cosigner_key=generate_cosigner("bench.example/hub")[0],
                            sites={origin: verifier})
            print(f"mirroring {site.count():,} entries, checkpoint by checkpoint", flush=True)
            mirrored = mirror_site(site, mirror)
            hub_signer, _ = generate_signer("bench.example/hub")
            HubLog(hub, mirror, signer_key=hub_signer).catch_up()
            size = mirror.state(origin).mirror_size
            assert Checkpoint.parse(mirror.state(origin).mirror_note.split("\n\n")[0] + "\n"
                                    ).size == size  # type: ignore[union-attr]
            rng = random.Random(7)
            serials = [plan_part(rng.randrange(parts)).serial for _ in range(args.samples)]
            hub_dossier_of(hub, mirror, serials[0])  # warm
            times = []
            for serial in serials:
                started = time.perf_counter()
                hub_dossier_of(hub, mirror, serial)
                times.append((time.perf_counter() - started) * 1000)
            baseline = []
            for serial in serials[:3]:
                started = time.perf_counter()
                before(mirror, origin, size, serial)
                baseline.append((time.perf_counter() - started) * 1000)
            hub.close()
            mirror.close()
        finally:
            drop()
        site.close()
    p50, p99 = statistics.median(times), percentile(times, 0.99)
    base = statistics.median(baseline)
    store = "postgresql" if args.postgres else "sqlite"
    print(f"site build: {built['events_per_s']:,.0f} events/s", file=sys.stderr)
    print(f"mirroring into {store}: {mirrored['entries_per_s']:,} entries/s "
          f"({mirrored['entries']:,} entries, {mirrored['checkpoints']} checkpoints); "
          f"storing subtrees and maps {mirrored['subtrees_and_maps_share']:.1%} of it",
          file=sys.stderr)
    verdict = "met" if p99 <= TARGET_DOSSIER_MS else "MISSED"
    print(f"hub dossier of a part: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"(target {TARGET_DOSSIER_MS:.0f} ms: {verdict}); "
          f"the whole site read into memory as before: {base:,.0f} ms ({base / p50:,.0f}x)",
          file=sys.stderr)
    print(json.dumps({"benchmark": "hub_dossier", "store": store, "events": events,
                      "mirroring": mirrored, "dossier_p50_ms": round(p50, 2),
                      "dossier_p99_ms": round(p99, 2), "before_ms": round(base, 1),
                      "speedup": round(base / p50, 1), "samples": len(times),
                      "target_dossier_ms": TARGET_DOSSIER_MS}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
