"""Large exports stream: rows read as they are used, facts sorted in runs on disk, written in
chunks of one transaction, so the file still lands whole or not at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import row_counts

import thread
from thread import facts as f
from thread import ledger as ledger_module
from thread_adapters.business import RowsRefused, import_file, read_export
from thread_adapters.business import chronology as chronology_module

MAPPING = Path(__file__).resolve().parents[2] / "examples" / "mappings" / "erp-work-orders.toml"
ROWS = 3_000
START = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks and sorted runs small enough that a few thousand rows take many of each."""
    monkeypatch.setattr(ledger_module, "STREAM_CHUNK", 250)
    monkeypatch.setattr(chronology_module, "RUN", 400)


def _export(path: Path, *, revision_at: dict[int, str] | None = None,
            newest_first: bool = False) -> Path:
    """An ERP export of ROWS serials (row index -> revision where it is not B)."""
    revisions = revision_at or {}
    order = range(ROWS - 1, -1, -1) if newest_first else range(ROWS)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Order,Material,Revision,Serial Number,Plant,Created On\n")
        for index in order:
            created = START + timedelta(seconds=5 * index)
            out.write(f"{1_000 + index // 100},BRG-6206,{revisions.get(index, 'B')},"
                      f"S-{index:05d},DE01,{created:%Y-%m-%d %H:%M:%S}\n")
    return path


def _released(ledger: thread.Ledger) -> None:
    ledger.record(f.RevisionReleased(part_number="BRG-6206", revision="B",
                                     part_name="Deep groove ball bearing", drawing="DWG-6206"))


def test_a_refused_row_near_the_end_of_a_large_export_writes_nothing(
        ledger: thread.Ledger, ledger_url: str, tmp_path: Path) -> None:
    """Row 2,990 of 3,000 names a revision never released: it is named by its line, and
    nothing of the export lands although most of it was written before it was reached."""
    _released(ledger)
    before = row_counts(ledger_url)
    export = _export(tmp_path / "orders.csv", revision_at={2_989: "Z"})
    with pytest.raises(RowsRefused) as refused:
        import_file(ledger, MAPPING, export)
    assert [error.line for error in refused.value.errors] == [2_991]  # after the header
    assert refused.value.errors[0].refused
    assert "revision Z, which was never released" in str(refused.value)
    assert refused.value.report.facts == ROWS - 1
    assert row_counts(ledger_url) == before
    with pytest.raises(thread.UnknownSubject):
        ledger.part("S-00000")


def test_a_malformed_row_near_the_end_writes_nothing(
        ledger: thread.Ledger, ledger_url: str, tmp_path: Path) -> None:
    """A row that does not convert, near the end, stops the whole export before any write."""
    _released(ledger)
    before = row_counts(ledger_url)
    export = _export(tmp_path / "orders.csv")
    text = export.read_text().replace("S-02995,DE01,2026-03-10", "S-02995,DE01,10.03.2026")
    export.write_text(text)
    with pytest.raises(RowsRefused) as refused:
        import_file(ledger, MAPPING, export)
    assert [error.line for error in refused.value.errors] == [2_997]
    assert row_counts(ledger_url) == before


def test_skipping_a_bad_row_lands_every_other_row_of_a_large_export(
        ledger: thread.Ledger, tmp_path: Path) -> None:
    """With skip_bad_rows the refused row is set aside and the other 2,999 land."""
    _released(ledger)
    export = _export(tmp_path / "orders.csv", revision_at={1_500: "Z"})
    report = import_file(ledger, MAPPING, export, skip_bad_rows=True)
    assert (report.rows, report.facts, report.new, report.written) == (ROWS, ROWS - 1,
                                                                      ROWS - 1, True)
    assert [error.line for error in report.skipped] == [1_502]
    again = import_file(ledger, MAPPING, export, skip_bad_rows=True)
    assert (again.new, again.present) == (0, ROWS - 1)


def test_a_large_export_newest_first_lands_in_the_order_it_happened(
        ledger: thread.Ledger, tmp_path: Path) -> None:
    """Sorted runs merged from disk: the parts are registered oldest first."""
    _released(ledger)
    report = import_file(ledger, MAPPING, _export(tmp_path / "orders.csv", newest_first=True))
    assert report.new == ROWS
    assert ledger.parts() == [f"S-{index:05d}" for index in range(ROWS)]


def test_an_export_file_is_read_again_each_time_its_rows_are_used(tmp_path: Path) -> None:
    """A file's rows are not kept: they are counted when it is opened, then read again."""
    export = read_export(_export(tmp_path / "orders.csv"))
    assert len(export.rows) == ROWS
    assert export.columns == ("Order", "Material", "Revision", "Serial Number", "Plant",
                              "Created On")
    assert [row.line for row in export.rows][:2] == [2, 3]
    assert export.rows[2].get("Serial Number") == "S-00002"
    assert not isinstance(export.rows, list)
