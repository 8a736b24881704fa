"""`thread verify` on a ledger that writers keep appending to: it checks one moment of it.

Verification makes many queries (events, leaves, nodes, checkpoints, chains,
source records). Read in separate transactions, a commit landing between two
of them looked like tampering ("the event the log committed at this position
is missing: deleted"); read in one snapshot, a live writer changes nothing the
audit sees, while real tampering is still reported.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import bearing, drop_append_only_triggers, inspection, raw_sql, released_bearing

import thread
from thread.cli import main
from thread.log.audit import AuditReport, audit
from thread.log.checkpoint import generate_signer

SERIALS = ("SN-1", "SN-2", "SN-3")
#: The parts the live writer inspects (SN-3 is left alone, for the insider).
WRITTEN = SERIALS[:2]
#: Every read `thread verify` makes through the store.
READS = ("count_events", "select_checkpoints", "get_meta", "select_log", "select_leaves",
         "select_nodes", "tree_size", "select_chains", "leaf_position", "rank_of",
         "select_sources", "select_source_links", "count_sources", "select_source_page",
         "select_map_buckets", "select_map_nodes", "select_map_rows", "count_map_rows")


def _seed(url: str) -> int:
    """A design, three parts and their inspections, each with a source record; events."""
    ledger = thread.open(url, actor="setup")
    ledger.record(released_bearing())
    for serial in SERIALS:
        ledger.record(bearing(serial), source="mes", source_record_id=f"register-{serial}")
        for number in range(3):
            ledger.record(inspection(serial), source="cmm",
                          source_record_id=f"bore-{serial}-{number}")
    count = ledger.count()
    ledger.close()
    return count


def _write(url: str, started: Any, stop: Any) -> None:
    """Commit small batches of sourced inspections (and a checkpoint now and then) until told."""
    ledger = thread.open(url, actor="writer")
    signer, _ = generate_signer("live")
    number = 0
    while not stop.is_set():
        with ledger.batch(source="cmm-live") as batch:
            for serial in WRITTEN:
                batch.record(inspection(serial), source_record_id=f"{serial}/{number}")
        number += 1
        if number % 10 == 0:
            ledger.checkpoint(signer)
        started.set()
    ledger.close()


class LiveWriter:
    """A writer process that commits throughout the block."""

    def __init__(self, url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._started, self._stop = context.Event(), context.Event()
        self._process = context.Process(target=_write, args=(url, self._started, self._stop),
                                        daemon=True)

    def __enter__(self) -> LiveWriter:
        self._process.start()
        assert self._started.wait(timeout=60), "the writer process committed nothing"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=60)
        if self._process.is_alive():
            self._process.kill()
        assert self._process.exitcode == 0, f"writer process ended with {self._process.exitcode}"


def _verified_while_growing(url: str, runs: int, workers: int = 1) -> list[AuditReport]:
    """Audit ``runs`` times; each report checked against the sizes around it."""
    ledger = thread.open(url)
    reports = []
    try:
        for _ in range(runs):
            before = ledger.store.tree_size()
            report = audit(ledger, workers=workers)
            after = ledger.store.tree_size()
            assert report.ok, [finding.describe() for finding in report.findings]
            assert before <= report.events == report.tree_size <= after
            reports.append(report)
    finally:
        ledger.close()
    return reports


def test_live_writer_causes_no_finding(ledger_url: str) -> None:
    """Verifications while another process commits batches and checkpoints find nothing."""
    _seed(ledger_url)
    with LiveWriter(ledger_url):
        reports = _verified_while_growing(ledger_url, 8)
    sizes = [report.events for report in reports]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes  # the writer kept writing


def test_chains_in_a_second_process_under_a_live_writer_find_nothing(ledger_url: str) -> None:
    """With the chains checked by a second process (bounded to the first one's snapshot)
    while another process commits, every verification is clean and counts no chain the
    log pass did not see."""
    _seed(ledger_url)
    with LiveWriter(ledger_url):
        reports = _verified_while_growing(ledger_url, 4, workers=2)
    for report in reports:
        assert report.aggregates <= report.events
    assert [r.events for r in reports] == sorted(r.events for r in reports)


def test_cli_verify_under_a_live_writer_exits_0(ledger_url: str) -> None:
    """`thread verify` run while another process commits reports the ledger verified."""
    _seed(ledger_url)
    runner = CliRunner()
    with LiveWriter(ledger_url):
        results = [runner.invoke(main, ["--db", ledger_url, "verify"]) for _ in range(4)]
    for result in results:
        assert result.exit_code == 0, result.output
        assert result.output.startswith("verified: "), result.output


def test_commits_between_every_read_of_one_verification_change_nothing(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit (and a checkpoint) after each read verify makes: it sees the ledger it began on."""
    events = _seed(ledger_url)
    verifying, writer = thread.open(ledger_url), thread.open(ledger_url, actor="writer")
    signer, _ = generate_signer("live")
    commits: list[str] = []

    def committing(read: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = read(*args, **kwargs)
            if len(commits) < 60:
                serial = SERIALS[len(commits) % len(SERIALS)]
                writer.record(inspection(serial), source="cmm-live",
                              source_record_id=f"after-{name}-{len(commits)}")
                writer.checkpoint(signer)
                commits.append(name)
            return result
        return wrapped

    store = verifying.store
    for name in READS:
        monkeypatch.setattr(store, name, committing(getattr(store, name), name))
    report = audit(verifying)
    assert report.ok, [finding.describe() for finding in report.findings]
    assert (report.events, report.tree_size, report.checkpoints) == (events, events, 0)
    assert {"select_log", "select_leaves", "select_chains", "select_sources",
            "count_sources"} <= set(commits), commits
    assert writer.count() == events + len(commits)
    verifying.close()
    assert audit(writer).ok
    writer.close()


def test_tampering_is_still_found_under_a_live_writer(ledger_url: str) -> None:
    """A deleted event is reported where it was while another process keeps committing."""
    _seed(ledger_url)
    drop_append_only_triggers(ledger_url)
    column = "notification_id" if ledger_url.startswith("postgresql://") else "rowid"
    # Log position 10: SN-3's first inspection (0 design, then each part and 3 inspections).
    raw_sql(ledger_url, f"DELETE FROM ledger_events WHERE {column} = "
                        f"(SELECT MIN({column}) FROM ledger_events) + 10")
    ledger = thread.open(ledger_url)
    with LiveWriter(ledger_url):
        time.sleep(0.2)
        reports = [audit(ledger) for _ in range(3)]
    ledger.close()
    for report in reports:
        first = report.first
        assert first is not None, "the deleted event went unnoticed"
        assert first.describe().startswith("log position 10: the event the log committed at "
                                           "this position"), first.describe()
        assert "is missing: deleted" in first.what
