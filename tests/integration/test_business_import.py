"""Business-system imports: mapping files, rows with their lines, all-or-nothing, skip mode, CLI."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import released_bearing, row_counts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import thread
from thread import facts as f
from thread.cli import main
from thread_adapters.business import (
    ExportFileError,
    ImportReport,
    MappingError,
    RowsRefused,
    import_file,
    load_mapping,
    parse_export,
    parse_mapping,
)
from thread_adapters.business import importer as importer_module

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mappings"

#: The example exports in the order a plant's systems would feed them.
STORY = [
    ("plm-revisions.toml", "plm-revisions.csv"),
    ("plm-change-orders.toml", "plm-change-orders.csv"),
    ("erp-work-orders.toml", "erp-work-orders.csv"),
    ("qms-non-conformances.yaml", "qms-non-conformances.json"),
    ("cmms-assets.toml", "cmms-assets.csv"),
    ("cmms-maintenance.toml", "cmms-maintenance.csv"),
    ("crm-service.toml", "crm-service.jsonl"),
]


def feed(ledger: thread.Ledger, upto: str | None = None) -> list[ImportReport]:
    """Import the example exports in story order, up to and including ``upto``."""
    reports = []
    for mapping, export in STORY:
        reports.append(import_file(ledger, EXAMPLES / mapping, EXAMPLES / export))
        if export == upto:
            break
    return reports


def write(tmp_path: Path, name: str, text: str) -> Path:
    """A file with exactly this text (no newline translation)."""
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def lines_of(refused: RowsRefused | ImportReport) -> list[int]:
    """The lines a refusal or a skip report names."""
    report = refused.report if isinstance(refused, RowsRefused) else refused
    return [error.line for error in report.skipped]


# One test per system, through the example mappings, on SQLite and PostgreSQL


def test_plm_revisions_become_released_designs(ledger: thread.Ledger) -> None:
    """PLM: released rows become revisions with Berlin times in UTC; in-work rows are ignored."""
    report = feed(ledger, "plm-revisions.csv")[-1]
    assert (report.rows, report.facts, report.new, report.present) == (4, 3, 3, 0)
    assert report.ignored == (5,)
    assert sorted(ledger.design("BRG-6206").revisions) == ["A", "B"]
    released = ledger.history_of("design", "BRG-6206")[1]
    assert released.occurred_at == datetime(2026, 3, 9, 13, 5, tzinfo=UTC)  # 14:05 CET
    assert (released.source, released.source_record_id) == ("plm", "REV/BRG-6206/B")
    assert released.actor == "m.yilmaz"
    fact = released.fact
    assert isinstance(fact, f.RevisionReleased)
    assert (fact.change_order, fact.material_spec) == ("ECO-2026-014", "100Cr6 (EN ISO 683-17)")


def test_plm_change_orders_keep_multiline_reasons_and_split_revisions(
        ledger: thread.Ledger) -> None:
    """PLM: quoted multi-line reasons survive, 'A|B' becomes two affected revisions."""
    feed(ledger, "plm-change-orders.csv")
    orders = ledger.design("BRG-6206").change_orders
    assert sorted(orders) == ["ECO-2026-014", "ECO-2026-016"]
    assert orders["ECO-2026-014"].reason == ("Field returns show creep on the shaft seat.\n"
                                             "Bore tolerance tightened from -0.012/0 to "
                                             "-0.010/0 mm.")
    assert orders["ECO-2026-016"].affected_revisions == ("A", "B")
    assert orders["ECO-2026-016"].title == 'Supplier change for cages, "SteelCo" to "Kagura"'
    assert ledger.design("HUB-3300").change_orders["ECO-2026-015"].new_revision is None


def test_erp_work_orders_register_serials(ledger: thread.Ledger) -> None:
    """ERP: each order serial becomes a registered part with its work order and plant."""
    report = feed(ledger, "erp-work-orders.csv")[-1]
    assert report.new == 7
    assert [serial for serial in ledger.parts() if serial.startswith("BRG6206")] == [
        f"BRG6206-{n:06d}" for n in range(100, 104)]
    part = ledger.part("HUB3300-000011")
    assert (part.part_number, part.revision, part.work_order) == ("HUB-3300", "A", "1000452")
    registered = ledger.history("HUB3300-000011")[0]
    assert isinstance(registered.fact, f.PartRegistered)
    assert registered.fact.site == "DE01"
    assert registered.source_record_id == "WO/1000452/HUB3300-000011"


def test_qms_json_array_opens_non_conformances_and_leaves_dispositions_unimported(
        ledger: thread.Ledger) -> None:
    """QMS: each report opens its NC; its MRB disposition is signed in the ledger, not imported."""
    report = feed(ledger, "qms-non-conformances.json")[-1]
    assert (report.rows, report.facts, report.new) == (3, 3, 3)
    assert not ledger.part("BRG6206-000101").scrapped
    assert ledger.part("BRG6206-000103").open_non_conformances == ["NC-26-0043"]
    assert ledger.part("HUB3300-000012").open_non_conformances == ["NC-26-0044"]
    (opened,) = ledger.history("BRG6206-000103")[1:]
    assert isinstance(opened.fact, f.NonConformanceOpened)
    assert (opened.fact.severity, opened.fact.characteristic) == ("minor", None)
    assert (opened.actor, opened.source_record_id) == ("s.nowak", "NC/NC-26-0043")


def test_cmms_assets_and_maintenance_work_orders(ledger: thread.Ledger) -> None:
    """CMMS: assets become machines, work types map to maintenance kinds (EM is corrective)."""
    feed(ledger, "cmms-maintenance.csv")
    assert ledger.machine("GR-11").maintenance == 2
    assert ledger.machine("LT-04").machine_kind == "lathe"
    kinds = [event.fact.kind for event in ledger.history_of("machine", "GR-11")[1:]
             if isinstance(event.fact, f.MachineMaintenancePerformed)]
    assert kinds == ["preventive", "predictive"]
    emergency = ledger.history_of("machine", "LT-04")[-1]
    assert isinstance(emergency.fact, f.MachineMaintenancePerformed)
    assert (emergency.fact.kind, emergency.fact.work_order) == ("corrective", "WO-77152")
    assert emergency.occurred_at == datetime(2026, 3, 13, 1, 35, tzinfo=UTC)


def test_crm_json_lines_ship_install_and_claim(ledger: thread.Ledger) -> None:
    """CRM: one JSON Lines export, three record types, nested keys, coverage coded to a flag."""
    report = feed(ledger)[-1]
    assert (report.rows, report.new) == (5, 5)
    location = ledger.part("HUB3300-000011").location
    assert location == "installed at Nordfahrzeug fleet depot Hannover"
    claim = ledger.history("HUB3300-000010")[-1]
    assert isinstance(claim.fact, f.FailureReported)
    assert (claim.fact.claim, claim.fact.operating_hours, claim.fact.warranty) == (
        "WC-2026-0007", 812.5, True)
    assert claim.occurred_at == datetime(2026, 6, 2, 7, 45, tzinfo=UTC)
    assert claim.actor == "svc.dubois"
    shipped = ledger.history("HUB3300-000010")[1]
    assert isinstance(shipped.fact, f.Shipped)
    assert shipped.fact.customer == "Nordfahrzeug AG"


# Idempotency


def test_reimporting_every_example_changes_nothing(ledger: thread.Ledger, ledger_url: str) -> None:
    """Importing the same exports again writes no event and reports every fact as present."""
    first = feed(ledger)
    before = row_counts(ledger_url)
    assert before[1] == sum(report.new for report in first)
    again = feed(ledger)
    assert row_counts(ledger_url) == before
    assert [(report.new, report.present) for report in again] == [
        (0, report.facts) for report in first]


def test_edited_reexport_adds_only_its_new_rows(ledger: thread.Ledger, ledger_url: str,
                                                tmp_path: Path) -> None:
    """A later export with two more rows adds exactly those two facts."""
    feed(ledger, "erp-work-orders.csv")
    before = row_counts(ledger_url)
    text = (EXAMPLES / "erp-work-orders.csv").read_text()
    text += ("1000453,BRG-6206,B,BRG6206-000104,DE01,2026-03-14 06:00:00\n"
             "1000453,BRG-6206,B,BRG6206-000105,DE01,2026-03-14 06:00:01\n")
    report = import_file(ledger, EXAMPLES / "erp-work-orders.toml",
                         write(tmp_path, "later.csv", text))
    assert (report.new, report.present) == (2, 7)
    assert row_counts(ledger_url) == (before[0] + 2, before[1] + 2)


# Bad rows: every one listed with its line, nothing written


ECO_HEADER = ("ECO,Part Number,Title,Reason,Affected Revisions,New Revision,Effectivity,"
              "Approver,Approved At\n")
BAD_ECOS = ECO_HEADER + (
    # line 2-4: one record over three physical lines
    'ECO-9001,BRG-6206,Good one,"first line\nsecond line\nthird line",A,,,m.y,'
    "2026-03-20T10:00:00+01:00\n"
    # line 5: a time in another format
    "ECO-9002,BRG-6206,Bad time,r,A,,,m.y,20.03.2026\n"
    # line 6: a blank required cell and a revision identifier too long to be one
    f"ECO-9003,BRG-6206,,r,A|{'R' * 130},,,m.y,2026-03-20T10:00:00+01:00\n"
    # line 7: well formed, but revision Z was never released
    "ECO-9004,BRG-6206,Unreleased,r,Z,,,m.y,2026-03-20T11:00:00+01:00\n"
    # line 8: good
    "ECO-9005,HUB-3300,Good too,r,A,,,m.y,2026-03-20T12:00:00+01:00\n"
)


def test_bad_rows_are_all_listed_and_nothing_is_written(ledger: thread.Ledger, ledger_url: str,
                                                        tmp_path: Path) -> None:
    """Every bad row is named by its physical line (after a multi-line cell); nothing lands."""
    feed(ledger, "plm-revisions.csv")
    before = row_counts(ledger_url)
    with pytest.raises(RowsRefused) as refused:
        import_file(ledger, EXAMPLES / "plm-change-orders.toml",
                    write(tmp_path, "ecos.csv", BAD_ECOS))
    assert row_counts(ledger_url) == before
    assert lines_of(refused.value) == [5, 6, 7]
    time, blank, rule = refused.value.errors
    assert [(p.origin, p.value, p.field) for p in time.problems] == [
        ("column 'Approved At'", "20.03.2026", "occurred_at")]
    assert "ISO 8601" in time.problems[0].expected
    assert {(p.origin, p.field) for p in blank.problems} == {
        ("column 'Title'", "title"), ("column 'Affected Revisions'", "affected_revisions.1")}
    assert [p.value for p in blank.problems if p.field == "title"] == [""]
    assert rule.refused
    assert "revision(s) Z" in str(rule)
    message = str(refused.value)
    assert "3 bad rows, nothing was written" in message
    assert "line 5: column 'Approved At' = '20.03.2026' (occurred_at)" in message


def test_skip_bad_rows_lands_the_good_rows_and_names_the_skipped(
        ledger: thread.Ledger, ledger_url: str, tmp_path: Path) -> None:
    """With skip_bad_rows the two good rows land and the report says which lines were skipped."""
    feed(ledger, "plm-revisions.csv")
    before = row_counts(ledger_url)
    report = import_file(ledger, EXAMPLES / "plm-change-orders.toml",
                         write(tmp_path, "ecos.csv", BAD_ECOS), skip_bad_rows=True)
    assert (report.new, report.facts, report.written) == (2, 2, True)
    assert lines_of(report) == [5, 6, 7]
    assert [error.refused for error in report.skipped] == [False, False, True]
    assert row_counts(ledger_url) == (before[0] + 2, before[1] + 2)
    assert set(ledger.design("BRG-6206").change_orders) == {"ECO-9001"}
    assert ledger.design("BRG-6206").change_orders["ECO-9001"].reason == (
        "first line\nsecond line\nthird line")


def test_rule_refusals_are_row_errors_on_the_line_the_object_opens(
        ledger: thread.Ledger, ledger_url: str, tmp_path: Path) -> None:
    """A report on an unregistered serial is refused by the ledger and named by its line."""
    feed(ledger, "erp-work-orders.csv")
    before = row_counts(ledger_url)
    reports = [
        {"ncNumber": "NC-1", "serial": "BRG6206-000100", "openedAt": "2026-03-11T09:00:00Z",
         "defect": "burr", "severity": "MIN", "reportedBy": "qa", "disposition": None},
        {"ncNumber": "NC-2", "serial": "NOT-REGISTERED", "openedAt": "2026-03-11T09:01:00Z",
         "defect": "burr", "severity": "MIN", "reportedBy": "qa",
         "disposition": {"code": "ACC", "decidedAt": "2026-03-11T10:00:00Z",
                         "decidedBy": "mrb", "comment": "ok"}},
        {"ncNumber": "NC-3", "serial": "BRG6206-000102", "openedAt": "2026-03-11T09:02:00Z",
         "defect": "burr", "severity": "MIN", "reportedBy": "qa", "disposition": None},
    ]
    text = json.dumps(reports, indent=2)
    opening = [n for n, line in enumerate(text.splitlines(), start=1) if line == "  {"]
    with pytest.raises(RowsRefused) as refused:
        import_file(ledger, EXAMPLES / "qms-non-conformances.yaml",
                    write(tmp_path, "ncs.json", text))
    assert lines_of(refused.value) == [opening[1]]
    assert refused.value.errors[0].refused
    assert "part NOT-REGISTERED is not registered" in str(refused.value.errors[0])
    assert row_counts(ledger_url) == before


def test_a_repeated_source_record_id_with_other_content_is_a_bad_row(
        ledger: thread.Ledger, ledger_url: str, tmp_path: Path) -> None:
    """Two rows claiming one source record but saying different things: the second is bad."""
    feed(ledger, "erp-work-orders.csv")
    text = (EXAMPLES / "erp-work-orders.csv").read_text() + (
        "1000451,BRG-6206,B,BRG6206-000103,DE01,2026-03-10 06:02:13\n"  # the same again
        "1000451,BRG-6206,A,BRG6206-000103,DE01,2026-03-10 06:02:13\n")  # other revision
    before = row_counts(ledger_url)
    with pytest.raises(RowsRefused) as refused:
        import_file(ledger, EXAMPLES / "erp-work-orders.toml", write(tmp_path, "wo.csv", text))
    assert lines_of(refused.value) == [10]
    assert "'WO/1000451/BRG6206-000103' already came with line 5" in str(refused.value)
    assert row_counts(ledger_url) == before


EVENTS_MAPPING = """
system = "mes"
[[record]]
topic = "quality.non-conformance-opened"
when = { column = "Event", equals = "NC" }
occurred_at = "At"
source_record_id = { template = "{Serial}/{Event}" }
fields = { serial = "Serial", non_conformance = "NC", description = "Text" }
[[record]]
topic = "manufacturing.part-registered"
when = { column = "Event", equals = "REG" }
occurred_at = "At"
source_record_id = { template = "{Serial}/{Event}" }
fields = { serial = "Serial", part_number = "Item", revision = "Rev" }
"""
EVENTS_HEADER = "Serial,Event,At,Item,Rev,NC,Text\n"


def test_a_row_that_depends_on_a_bad_row_is_named_too(
        ledger: thread.Ledger, ledger_url: str, tmp_path: Path) -> None:
    """A malformed registration and the NC that needed it are both listed; nothing lands."""
    feed(ledger, "erp-work-orders.csv")
    before = row_counts(ledger_url)
    export = write(tmp_path, "events.csv", EVENTS_HEADER
                   + "BRG6206-000200,REG,2026-03-12T09:00:00Z,BRG-6206,,,\n"
                   + "BRG6206-000201,REG,2026-03-12T09:00:00Z,BRG-6206,B,,\n"
                   + "BRG6206-000200,NC,2026-03-12T10:00:00Z,,,NC-5,burr\n")
    with pytest.raises(RowsRefused) as refused:
        import_file(ledger, parse_mapping(EVENTS_MAPPING, "events.toml"), export)
    registration, opening = refused.value.errors
    assert (registration.line, registration.refused) == (2, False)
    assert (opening.line, opening.refused) == (4, True)
    assert "part BRG6206-000200 is not registered" in str(opening)
    assert row_counts(ledger_url) == before


def test_an_export_sorted_newest_first_still_registers_before_it_reports(
        ledger: thread.Ledger, tmp_path: Path) -> None:
    """Rows are recorded in the order they happened, so a newest-first export imports."""
    feed(ledger, "erp-work-orders.csv")
    export = write(tmp_path, "events.csv", EVENTS_HEADER
                   + "BRG6206-000200,NC,2026-03-12T10:00:00Z,,,NC-5,burr on face\n"
                   + "BRG6206-000200,REG,2026-03-12T09:00:00Z,BRG-6206,B,,\n")
    report = import_file(ledger, parse_mapping(EVENTS_MAPPING, "events.toml"), export)
    assert report.new == 2
    topics = [event.topic for event in ledger.history("BRG6206-000200")]
    assert topics == [f.PartRegistered.topic, f.NonConformanceOpened.topic]


def test_bisecting_finds_the_refused_row_when_the_batch_note_is_missing(
        ledger: thread.Ledger, ledger_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the ledger's position note the importer still finds each refused row."""
    feed(ledger, "plm-revisions.csv")
    monkeypatch.setattr(importer_module, "_refused_index", lambda error, size: None)
    before = row_counts(ledger_url)
    text = ECO_HEADER + "".join(
        f"ECO-80{n},BRG-6206,t,r,{revision},,,m.y,2026-03-20T1{n}:00:00+01:00\n"
        for n, revision in enumerate(["A", "X", "B", "Y", "A"]))
    with pytest.raises(RowsRefused) as refused:
        import_file(ledger, EXAMPLES / "plm-change-orders.toml", write(tmp_path, "e.csv", text))
    assert lines_of(refused.value) == [3, 5]
    assert row_counts(ledger_url) == before
    report = import_file(ledger, EXAMPLES / "plm-change-orders.toml",
                         tmp_path / "e.csv", skip_bad_rows=True)
    assert (report.new, lines_of(report)) == (3, [3, 5])


def test_rows_no_record_kind_takes_are_errors_unless_ignored(tmp_path: Path) -> None:
    """A record type the mapping does not know is a bad row, naming what was expected."""
    text = (EXAMPLES / "crm-service.jsonl").read_text() + json.dumps(
        {"Id": "x1", "RecordType": "Complaint"}) + "\n"
    mapping = load_mapping(EXAMPLES / "crm-service.toml")
    with tempfile.TemporaryDirectory() as directory:
        ledger = thread.open(str(Path(directory) / "l.db"))
        try:
            with pytest.raises(RowsRefused) as refused:
                import_file(ledger, mapping, write(tmp_path, "crm.jsonl", text))
        finally:
            ledger.close()
    unmatched = [error for error in refused.value.errors if error.line == 6]
    assert len(unmatched) == 1
    assert "RecordType = 'Shipment'" in str(unmatched[0])
    assert "no record kind takes this row" in str(unmatched[0])


# Reading rows with their lines


def test_csv_rows_carry_the_line_they_start_on() -> None:
    """A quoted cell over three lines moves the next row to line 5; blank lines are skipped."""
    export = parse_export(b'a,b\r\n1,"x\r\ny\r\nz"\r\n\r\n2,w\r\n;;\r\n3,"q"\n', "t.csv", "csv")
    assert [(row.line, row.cells.get("a")) for row in export.rows] == [
        (2, "1"), (6, "2"), (7, None), (8, "3")]
    assert export.rows[2].defect == "has 1 cells, the header has 2; a delimiter or quote is off"
    assert export.rows[0].cells["b"] == "x\r\ny\r\nz"


def test_json_array_objects_carry_the_line_they_open_on() -> None:
    """Objects of a pretty-printed array are numbered by their opening brace."""
    text = json.dumps([{"a": 1, "b": {"c": "x"}}, {"a": 2}, {"a": "3\n4"}], indent=2)
    export = parse_export(text.encode(), "t.json", "json")
    assert [row.line for row in export.rows] == [2, 8, 11]
    assert export.rows[0].get("b.c") == "x"
    assert export.rows[0].get("b.missing") is None
    assert parse_export(b"  [ ]  ", "e.json", "json").rows == []


def test_json_lines_keep_bad_lines_as_row_defects() -> None:
    """A broken JSON Lines line is a bad row on its line, not the end of the file."""
    export = parse_export(b'{"a": 1}\n\n{"a": 2,\n[1]\n{"a": 3}\n', "t.jsonl", "jsonl")
    assert [(row.line, row.defect is None) for row in export.rows] == [
        (1, True), (3, False), (4, False), (5, True)]
    assert "expected a JSON object, found an array" in (export.rows[2].defect or "")


@pytest.mark.parametrize(("layout", "data", "line", "words"), [
    ("csv", b"a,b\n1,2\n3,\xff\n", 3, "not utf-8-sig text"),
    ("csv", b'a,b\n1,2\n3,"unterminated\n4,5\n', 3, "is a quote opened here never closed"),
    ("csv", b"a,a\n1,2\n", 1, "names column 'a' twice"),
    ("json", b'[\n{"a": 1},\n{"a": 2\n]', 4, "not valid JSON"),
    ("json", b'[\n{"a": 1},\n7\n]', 3, "expected a JSON object in the array, found a number"),
    ("json", b'{"a": 1}', 1, "expected a JSON array"),
])
def test_unreadable_exports_name_the_file_and_line(layout: Any, data: bytes, line: int,
                                                   words: str) -> None:
    """A file that cannot be read as a whole is one error naming its line."""
    with pytest.raises(ExportFileError) as error:
        parse_export(data, "x", layout)
    assert error.value.line == line
    assert words in str(error.value)


def test_a_header_without_a_mapped_column_is_refused_before_any_row(
        ledger: thread.Ledger, tmp_path: Path) -> None:
    """A CSV whose header lacks a mapped column names the column and the mapping line."""
    path = write(tmp_path, "wo.csv", "Order,Material,Rev,Serial Number,Plant,Created On\n")
    with pytest.raises(ExportFileError) as error:
        import_file(ledger, EXAMPLES / "erp-work-orders.toml", path)
    assert "no column 'Revision'" in str(error.value)
    assert "erp-work-orders.toml reads (first at line 13, record[0].fields.revision)" in str(
        error.value)


# Bad mapping files: the line and the key


GOOD_RECORD = """\
system = "erp"

[[record]]
topic = "manufacturing.part-registered"
occurred_at = { column = "At", zone = "UTC", format = "%Y-%m-%d" }
source_record_id = "Id"

[record.fields]
serial = "Serial"
part_number = "Material"
revision = "Rev"
"""


@pytest.mark.parametrize(("text", "line", "key", "words"), [
    (GOOD_RECORD.replace('topic = "manufacturing.part-registered"', 'topic = "erp.order"'),
     4, "record[0].topic", "unknown topic 'erp.order'"),
    (GOOD_RECORD.replace('topic = "manufacturing.part-registered"',
                         'topic = "manufacturing.installed-into"'),
     4, "record[0].topic", "written by the ledger itself"),
    (GOOD_RECORD.replace('topic = "manufacturing.part-registered"',
                         'topic = "quality.disposition-recorded"'),
     4, "record[0].topic", "'quality.disposition-recorded' must be signed in the ledger"),
    (GOOD_RECORD + 'colour = "Colour"\n', 12, "record[0].fields.colour",
     "PartRegistered has no field 'colour'"),
    (GOOD_RECORD.replace('revision = "Rev"\n', ""), 8, "record[0].fields",
     "needs field 'revision'"),
    (GOOD_RECORD.replace('serial = "Serial"\n', ""), 8, "record[0].fields",
     "needs 'serial' or 'lot'"),
    (GOOD_RECORD.replace('revision = "Rev"', 'revision = { column = "Rev", split = "," }'),
     11, "record[0].fields.revision.split", "one value, not a list"),
    (GOOD_RECORD.replace(', zone = "UTC"', ""), 5, "record[0].occurred_at",
     "has no UTC offset"),
    (GOOD_RECORD.replace('source_record_id = "Id"', 'source_record_id = { template = "{Id" }'),
     6, "record[0].source_record_id", "does not parse"),
    (GOOD_RECORD.replace('"UTC"', '"Mars/Olympus"'), 5, "record[0].occurred_at",
     "not an IANA time zone"),
    (GOOD_RECORD + "\n[record.constants]\nudi = 3\nundocumented = true\nrevision = \"A\"\n",
     16, "record[0].constants.revision", "mapped in fields too"),
    (GOOD_RECORD + '\n[[record]]\ntopic = "service.shipped"\noccurred_at = "At"\n'
     'source_record_id = "Id"\nfields = { serial = "S", customer = "C", odrer = "O" }\n',
     17, "record[1].fields.odrer", "Shipped has no field 'odrer'"),
    (GOOD_RECORD.replace('system = "erp"', 'system = "ERP System"'), 1, "system",
     "should match pattern"),
    (GOOD_RECORD + "[csv]\ndelimiter = ';;'\n", 13, "csv.delimiter", "at most 1 character"),
    (GOOD_RECORD.replace("[record.fields]", "[record.feilds]"), 8, "record[0].feilds",
     "no such key here"),
])
def test_bad_toml_mappings_name_line_and_key(text: str, line: int, key: str, words: str) -> None:
    """Each mapping mistake is reported with the file, the line of its key and the key."""
    with pytest.raises(MappingError) as error:
        parse_mapping(text, "erp.toml")
    message = str(error.value)
    assert f"erp.toml line {line}, key '{key}'" in message, message
    assert words in message


def test_every_problem_of_a_mapping_is_reported_at_once() -> None:
    """A malformed entry does not hide an unknown field beside it or a bad second record."""
    text = GOOD_RECORD + "serail = \"S\"\nquantity = 3\n\n[[record]]\ntopic = \"nope\"\n"
    with pytest.raises(MappingError) as error:
        parse_mapping(text, "m.toml")
    keys = [(line, key) for line, key, _ in error.value.problems]
    assert (12, "record[0].fields.serail") in keys
    assert (13, "record[0].fields.quantity") in keys
    assert (16, "record[1].topic") in keys
    assert (15, "record[1].occurred_at") in keys


def test_bad_yaml_mapping_names_line_and_key(tmp_path: Path) -> None:
    """YAML mappings point at the line of the bad key too."""
    path = write(tmp_path, "qms.yaml", """\
system: qms
record:
  - topic: quality.non-conformance-opened
    occurred_at: At
    source_record_id: Id
    fields:
      serial: Serial
      non_conformance: NC
      description: Why
      severity: {column: Code, codes: {A: minor}, other: maybe}
      characteristics: Chars
""")
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    message = str(error.value)
    assert f"{path} line 10, key 'record[0].fields.severity.other'" in message
    assert f"{path} line 11, key 'record[0].fields.characteristics'" in message


def test_unreadable_mapping_files_are_mapping_errors(tmp_path: Path) -> None:
    """Broken TOML, broken YAML and a missing file are each one clear error."""
    with pytest.raises(MappingError, match="not valid TOML"):
        parse_mapping("system = ", "x.toml")
    with pytest.raises(MappingError, match=r"x.yaml line 2, key '\(file\)': not valid YAML"):
        parse_mapping("a: [\nb: c: d", "x.yaml", kind="yaml")
    with pytest.raises(MappingError, match="cannot read it"):
        load_mapping(tmp_path / "absent.toml")


def test_example_mappings_all_load() -> None:
    """Every example mapping validates, and each has a sample export beside it."""
    for mapping, export in STORY:
        loaded = load_mapping(EXAMPLES / mapping)
        assert loaded.records
        assert (EXAMPLES / export).exists()


# A property: order and grouping of good rows do not matter


POOL_MAPPING = parse_mapping("""
system = "mes-export"
[[record]]
topic = "manufacturing.part-registered"
when = { column = "Kind", equals = "REG" }
occurred_at = { column = "At", format = "%Y-%m-%d %H:%M", zone = "Europe/Berlin" }
source_record_id = { template = "{Kind}/{Serial}" }
fields = { serial = "Serial", part_number = "Item", revision = "Rev" }
[[record]]
topic = "quality.non-conformance-opened"
when = { column = "Kind", equals = "NC" }
occurred_at = { column = "At", format = "%Y-%m-%d %H:%M", zone = "Europe/Berlin" }
source_record_id = { template = "{Kind}/{Serial}" }
fields = { serial = "Serial", non_conformance = "Text", description = "Text" }
""", "pool.toml")
#: Registrations of four parts, and a non-conformance on each, an hour later.
POOL = [f"REG,SN-{n},BRG-6204,A,2026-03-02 0{n}:00" for n in range(4)] + [
    f"NC,SN-{n},BRG-6204,A,2026-03-02 1{n}:00" for n in range(4)]


def _ledger_story(ledger: thread.Ledger) -> list[tuple[Any, ...]]:
    story: list[tuple[Any, ...]] = []
    for n in range(4):
        try:
            events = ledger.history(f"SN-{n}")
        except thread.UnknownSubject:
            continue
        story.extend((event.topic, event.fact, event.occurred_at, event.source,
                      event.source_record_id) for event in events)
    return story


@contextmanager
def two_ledgers() -> Iterator[tuple[thread.Ledger, thread.Ledger, Path]]:
    """Two fresh SQLite ledgers with the bearing design released, and a scratch folder."""
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        ledgers = [thread.open(str(folder / f"{name}.db"), actor="tester") for name in "ab"]
        try:
            for ledger in ledgers:
                ledger.record(released_bearing())
            yield ledgers[0], ledgers[1], folder
        finally:
            for ledger in ledgers:
                ledger.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(POOL), unique=True).flatmap(st.permutations))
def test_any_subset_in_any_order_lands_as_row_by_row_imports_do(rows: list[str]) -> None:
    """One file of any good rows, in any order, lands the same facts as one import per row."""
    header = "Kind,Serial,Item,Rev,At,Text\n"
    with two_ledgers() as (whole, single, folder):
        path = folder / "all.csv"
        path.write_text(header + "".join(row + ",burr\n" for row in rows))
        report = import_file(whole, POOL_MAPPING, path, skip_bad_rows=True)
        for index, row in enumerate(sorted(rows, key=lambda row: row.split(",")[4])):
            one = folder / f"row{index}.csv"
            one.write_text(header + row + ",burr\n")
            import_file(single, POOL_MAPPING, one, skip_bad_rows=True)
        assert _ledger_story(whole) == _ledger_story(single)
        registered = {row.split(",")[1] for row in rows if row.startswith("REG")}
        orphans = [row for row in rows if row.startswith("NC") and
                   row.split(",")[1] not in registered]
        assert report.new == len(rows) - len(orphans)
        assert len(report.skipped) == len(orphans)
        assert all(error.refused for error in report.skipped)
        again = import_file(whole, POOL_MAPPING, path, skip_bad_rows=True)
        assert (again.new, again.present) == (0, report.new)


# The command line


def run(*args: str) -> Result:
    """``thread ARGS`` as a user types it, with THREAD_DB unset."""
    return CliRunner().invoke(main, list(args), env={"THREAD_DB": None})


def test_cli_imports_the_story_and_reports_new_then_present(tmp_path: Path) -> None:
    """thread import csv reports rows, new and present facts; again, everything is present."""
    db = str(tmp_path / "plant.db")
    for mapping, export in STORY:
        result = run("--db", db, "import", "csv", "--mapping", str(EXAMPLES / mapping),
                     str(EXAMPLES / export))
        assert result.exit_code == 0, result.output
        assert "0 already present" in result.output
    result = run("--db", db, "import", "csv", "--mapping", str(EXAMPLES / "plm-revisions.toml"),
                 str(EXAMPLES / "plm-revisions.csv"))
    assert result.exit_code == 0, result.output
    assert "4 rows read, 3 facts: 0 new, 3 already present; 1 row no record kind takes" in (
        result.output)
    ledger = thread.open(db)
    try:
        assert ledger.part("HUB3300-000010").claims == ["WC-2026-0007"]
    finally:
        ledger.close()


def test_cli_json_report(tmp_path: Path) -> None:
    """--json prints the report: rows, facts, new, present, ignored lines, skipped rows."""
    db = str(tmp_path / "plant.db")
    result = run("--db", db, "import", "csv", "--json", "--mapping",
                 str(EXAMPLES / "plm-revisions.toml"), str(EXAMPLES / "plm-revisions.csv"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {key: report[key] for key in ("system", "rows", "facts", "new", "present",
                                         "ignored", "written", "skipped")} == {
        "system": "plm", "rows": 4, "facts": 3, "new": 3, "present": 0, "ignored": [5],
        "written": True, "skipped": []}


def test_cli_refuses_a_file_with_bad_rows_listing_each(tmp_path: Path) -> None:
    """Bad rows: exit 1, every bad line on stderr, the hint to skip them, nothing written."""
    db = str(tmp_path / "plant.db")
    run("--db", db, "import", "csv", "--mapping", str(EXAMPLES / "plm-revisions.toml"),
        str(EXAMPLES / "plm-revisions.csv"))
    before = row_counts(db)
    path = write(tmp_path, "ecos.csv", BAD_ECOS)
    result = run("--db", db, "import", "csv", "--mapping",
                 str(EXAMPLES / "plm-change-orders.toml"), str(path))
    assert result.exit_code == 1
    assert "3 bad rows, nothing was written" in result.output
    assert "with --skip-bad-rows" in result.output
    for line in (5, 6, 7):
        assert f"\n  line {line}: " in result.output
    assert row_counts(db) == before
    as_json = run("--db", db, "import", "csv", "--json", "--mapping",
                  str(EXAMPLES / "plm-change-orders.toml"), str(path))
    assert as_json.exit_code == 1
    report = json.loads(as_json.output)
    assert (report["written"], [error["line"] for error in report["errors"]]) == (
        False, [5, 6, 7])
    assert report["errors"][0]["problems"][0] == {
        "origin": "column 'Approved At'", "field": "occurred_at", "value": "20.03.2026",
        "expected": "expected an ISO 8601 time such as 2026-03-02T06:00:00+01:00"}


def test_cli_skip_bad_rows_lists_the_skipped_lines(tmp_path: Path) -> None:
    """--skip-bad-rows imports the good rows and prints each skipped line and why."""
    db = str(tmp_path / "plant.db")
    run("--db", db, "import", "csv", "--mapping", str(EXAMPLES / "plm-revisions.toml"),
        str(EXAMPLES / "plm-revisions.csv"))
    result = run("--db", db, "import", "csv", "--skip-bad-rows", "--mapping",
                 str(EXAMPLES / "plm-change-orders.toml"), str(write(tmp_path, "e.csv",
                                                                     BAD_ECOS)))
    assert result.exit_code == 0, result.output
    assert "2 new, 0 already present" in result.output
    assert "Skipped 3 bad rows:" in result.output
    assert "  line 7: refused by the ledger: change order ECO-9004" in result.output


def test_cli_bad_mapping_or_file_creates_no_ledger(tmp_path: Path) -> None:
    """A bad mapping or an unreadable export is one error and leaves no ledger file behind."""
    db = tmp_path / "plant.db"
    mapping = write(tmp_path, "m.toml", GOOD_RECORD + 'colour = "C"\n')
    result = run("--db", str(db), "import", "csv", "--mapping", str(mapping),
                 str(EXAMPLES / "erp-work-orders.csv"))
    assert result.exit_code == 1
    assert f"{mapping} line 12, key 'record[0].fields.colour'" in result.output
    result = run("--db", str(db), "import", "csv", "--mapping",
                 str(EXAMPLES / "erp-work-orders.toml"), str(tmp_path / "absent.csv"))
    assert result.exit_code == 1
    assert "cannot read it" in result.output
    assert not db.exists()


def test_cli_format_option_reads_json_lines_with_any_name(tmp_path: Path) -> None:
    """--format jsonl reads a file whose name says nothing; an unknown ending asks for it."""
    db = str(tmp_path / "plant.db")
    for mapping, export in STORY[:3]:
        run("--db", db, "import", "csv", "--mapping", str(EXAMPLES / mapping),
            str(EXAMPLES / export))
    renamed = tmp_path / "service-export.txt"
    shutil.copy(EXAMPLES / "crm-service.jsonl", renamed)
    unnamed = tmp_path / "service-export.dat"
    shutil.copy(EXAMPLES / "crm-service.jsonl", unnamed)
    result = run("--db", db, "import", "csv", "--mapping", str(EXAMPLES / "crm-service.toml"),
                 str(unnamed))
    assert result.exit_code == 1
    assert "give --format" in result.output
    result = run("--db", db, "import", "csv", "--format", "jsonl", "--mapping",
                 str(EXAMPLES / "crm-service.toml"), str(renamed))
    assert result.exit_code == 0, result.output
    assert "5 rows read, 5 facts: 5 new" in result.output


def test_two_record_kinds_giving_a_row_one_source_record_id_is_a_bad_row(
        ledger: thread.Ledger, tmp_path: Path) -> None:
    """A mapping whose record kinds share an id template would lose a fact; the row says so."""
    feed(ledger, "erp-work-orders.csv")
    mapping = parse_mapping(EVENTS_MAPPING.replace('equals = "REG"', 'equals = "NC"')
                            .replace("{Serial}/{Event}", "{Serial}"), "events.toml")
    export = write(tmp_path, "events.csv", EVENTS_HEADER
                   + "BRG6206-000200,NC,2026-03-12T10:00:00Z,BRG-6206,B,NC-5,burr\n")
    with pytest.raises(RowsRefused) as refused:
        import_file(ledger, mapping, export)
    assert lines_of(refused.value) == [2]
    assert "two record kinds give this row the same source record id 'BRG6206-000200'" in str(
        refused.value)


def test_json_numbers_become_text_where_the_fact_wants_text(ledger: thread.Ledger,
                                                             tmp_path: Path) -> None:
    """An order number written as a JSON number fills a text field and the record id."""
    feed(ledger, "plm-revisions.csv")
    line = {"Order": 1000460, "Material": "BRG-6206", "Revision": "B", "Serial Number": 42,
            "Plant": "DE01", "Created On": "2026-03-14 06:00:00"}
    path = write(tmp_path, "orders.jsonl", json.dumps(line) + "\n")
    report = import_file(ledger, EXAMPLES / "erp-work-orders.toml", path)
    assert report.new == 1
    registered = ledger.history("42")[0]
    assert isinstance(registered.fact, f.PartRegistered)
    assert registered.fact.work_order == "1000460"
    assert registered.source_record_id == "WO/1000460/42"


def test_lines_stay_right_after_multiline_strings_and_arrays() -> None:
    """Key lines inside a multi-line string or array do not confuse where later keys are."""
    text = '''system = "crm"
description = """
serial = "not a key"
"""

[[record]]  # shipments
topic = "service.shipped"
when = { column = "Type", one_of = [
    "Shipment",
    "Delivery",  # both mean the same
] }
occurred_at = "At"
source_record_id = "Id"

[record.fields]
serial = "Serial"
customer = "Customer"
order = "Order"
"lead time" = "Days"
'''
    with pytest.raises(MappingError) as error:
        parse_mapping(text, "crm.toml")
    assert [(line, key) for line, key, _ in error.value.problems] == [
        (19, "record[0].fields.lead time")]
