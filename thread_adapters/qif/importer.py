"""Importing QIF results files into a ledger: every file of one call in one batch, or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from thread.errors import LedgerError, UnknownSubject
from thread.ledger import Ledger
from thread_adapters.qif.errors import UnregisteredPart
from thread_adapters.qif.results import SOURCE, Kind, PartReport, ResultsFile, read_results


@dataclass(frozen=True)
class ImportedFile:
    """What importing one QIF file did: its reports, and how many facts were new."""

    path: Path
    reports: tuple[PartReport, ...]
    measurements: int
    failures: int
    new: int
    already_present: int


def import_results(
    ledger: Ledger,
    paths: Iterable[str | Path],
    *,
    serial: str | None = None,
    lot: str | None = None,
    actor: str | None = None,
) -> list[ImportedFile]:
    """Record the measurements of QIF 3 results files, all in one transaction.

    Every file is read and checked before anything is written: a malformed
    file, an unknown unit or a part the ledger does not know raises a
    :class:`~thread_adapters.qif.errors.QIFError` and nothing of any file is
    recorded. ``serial`` (or ``lot``) names the part of files whose actual
    component states no serial number. Facts already recorded from the same
    file count as ``already_present``: importing a file again changes nothing.
    """
    files = [read_results(path, serial=serial, lot=lot) for path in paths]
    _check_registered(ledger, files)
    try:
        with ledger.batch(source=SOURCE, actor=actor) as batch:
            for results in files:
                for planned in results.facts:
                    batch.record(planned.fact, occurred_at=planned.occurred_at,
                                 source_record_id=planned.source_record_id)
    except LedgerError as error:
        error.add_note("nothing of the QIF files was recorded")
        raise
    imported: list[ImportedFile] = []
    start = 0
    for results in files:
        receipts = batch.receipts[start:start + len(results.facts)]
        start += len(results.facts)
        present = sum(1 for receipt in receipts if receipt.duplicate)
        imported.append(ImportedFile(results.path, results.reports, results.measurements,
                                     results.failures, len(receipts) - present, present))
    return imported


def _check_registered(ledger: Ledger, files: list[ResultsFile]) -> None:
    """Refuse results for a part the ledger does not know, with the file that names it."""
    known: set[tuple[Kind, str]] = set()
    for results in files:
        for kind, key in results.subjects:
            if (kind, key) in known:
                continue
            try:
                ledger.part(key) if kind == "part" else ledger.lot(key)
            except UnknownSubject:
                what = "serial" if kind == "part" else "lot"
                raise UnregisteredPart(
                    f"{results.path.name}: measured {kind} {key}, which this ledger does not "
                    f"know; register the part first (PartRegistered with {what} {key}), then "
                    "import the file again; nothing of the QIF files was recorded"
                ) from None
            known.add((kind, key))
