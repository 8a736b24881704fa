"""Read models are checked, not trusted: an edited, deleted or forged row is named by
``ReadModels.verify()``, refuses a verified story, and never reaches a FAIR."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import raw_sql
from read_plant import BAD_END, BAD_START, T0, Plant, build

import thread
from thread import facts as f
from thread.bootstrap import read_models_file
from thread.read.verified import ReadModelDisagrees
from thread.records.dhr import device_history_record
from thread.records.evidence import Cutoff
from thread.records.fair import first_article_report, serials_of

HOUR_NS = 3_600_000_000_000


@pytest.fixture
def plant(ledger: thread.Ledger) -> Plant:
    """The test plant, its read models caught up."""
    built = build(ledger)
    ledger.read_models.catch_up()
    return built


def reads_of(ledger_url: str) -> str:
    """Where a ledger's read models are by default: a file beside it, or its own schema."""
    if ledger_url.startswith("postgresql://"):
        return ledger_url
    return str(read_models_file(ledger_url))


def story_row(ledger_url: str, serial: str, version: int) -> int:
    """The log position of a part's event in read_story."""
    [(position,)] = raw_sql(reads_of(ledger_url), "SELECT position FROM read_story WHERE "
                            "key = ? AND version = ?", (serial, version))
    return int(str(position))


def test_intact_read_models_verify(ledger: thread.Ledger, plant: Plant) -> None:
    """Every row of read models built from the log is the row the log gives."""
    report = ledger.read_models.verify()
    assert report.ok, [finding.describe() for finding in report.findings]
    assert report.rows > ledger.count()
    assert (report.tree_size, report.root) == (ledger.tree_head()[0], ledger.tree_head()[1].hex())


def test_an_edited_story_time_is_named_and_refuses_the_verified_story(
        ledger: thread.Ledger, ledger_url: str, plant: Plant) -> None:
    """Moving read_story.occurred_ns changes as-of answers; verify and trace --verified name it."""
    position = story_row(ledger_url, "B-014", 1)
    before = T0 + timedelta(hours=29)  # B-014 was registered at T0 + 28 h
    def versions() -> list[int]:
        return [e.version for e in ledger.trace("B-014", as_of=before, by="occurred").timeline]

    assert versions()[:2] == [1, 2]
    raw_sql(reads_of(ledger_url), "UPDATE read_story SET occurred_ns = occurred_ns + ? "
            "WHERE position = ?", (2 * HOUR_NS, position))
    assert versions()[:1] == [2]  # the edit changes the read model's answer
    report = ledger.read_models.verify()
    [finding] = report.findings
    assert (finding.table, finding.key) == ("read_story", {"position": position})
    assert finding.found is not None and finding.expected is not None
    assert finding.found["occurred_ns"] - finding.expected["occurred_ns"] == 2 * HOUR_NS
    assert finding.describe().startswith(f"read_story position {position}: occurred_ns is ")
    with pytest.raises(ReadModelDisagrees, match=f"read_story position {position}: "
                                                 "occurred_ns is .*, the log gives"):
        ledger.trace("B-014", verified=True)
    # As of the moment, the verified story stands on the event's own time.
    with pytest.raises(ReadModelDisagrees):
        ledger.trace("B-014", as_of=before, by="occurred", verified=True)


def test_an_edited_metric_is_named_where_it_empties_a_recall(
        ledger: thread.Ledger, ledger_url: str, plant: Plant) -> None:
    """Lowering read_metrics.max empties a recall scope; verify names the row and both values."""
    window = {"machine": "GR-1", "start": BAD_START, "end": BAD_END,
              "where": "vibration.max > 4.5"}
    assert ledger.recall_scope(**window).serials == ["B-014"]  # type: ignore[arg-type]
    raw_sql(reads_of(ledger_url), "UPDATE read_metrics SET max = 1.0 WHERE name = 'vibration' "
            "AND max = 6.0")
    assert ledger.recall_scope(**window).serials == []  # type: ignore[arg-type]
    first = ledger.read_models.verify().first
    assert first is not None
    assert first.table == "read_metrics" and first.key["name"] == "vibration"
    assert first.what == "max is 1.0, the log gives 6.0"
    with pytest.raises(ReadModelDisagrees, match=r"read_metrics position \d+, name 'vibration': "
                                                 r"max is 1.0, the log gives 6.0"):
        ledger.trace("B-014", verified=True)


def test_an_edited_whereabouts_row_is_named(ledger: thread.Ledger, ledger_url: str,
                                            plant: Plant) -> None:
    """A changed read_whereabouts row moves a part in genealogy; verify names the row."""
    assert ledger.genealogy("VEHICLE-1").location == "installed at Ulm depot"
    [(position,)] = raw_sql(reads_of(ledger_url), "SELECT position FROM read_whereabouts WHERE "
                            "key = 'VEHICLE-1' AND topic = ?", (f.InstalledAtSite.topic,))
    raw_sql(reads_of(ledger_url), "UPDATE read_whereabouts SET detail = ? WHERE position = ?",
            ('{"site": "Elsewhere"}', position))
    assert ledger.genealogy("VEHICLE-1").location == "installed at Elsewhere"
    [finding] = ledger.read_models.verify().findings
    assert (finding.table, finding.key) == ("read_whereabouts", {"position": position})
    assert "detail is '{\"site\": \"Elsewhere\"}'" in finding.what


def test_deleted_and_forged_rows_are_named(ledger: thread.Ledger, ledger_url: str,
                                           plant: Plant) -> None:
    """A deleted row is missing, a forged one not derived from the log: each named, per table."""
    position = story_row(ledger_url, "B-003", 2)
    raw_sql(reads_of(ledger_url), "DELETE FROM read_story WHERE position = ?", (position,))
    raw_sql(reads_of(ledger_url), "INSERT INTO read_alarms VALUES (?, 'GR-1', 'E-1', 'spindle', "
            "'critical', ?, NULL, ?, ?)", (ledger.count() + 5, 1, 1, 1))
    findings = {finding.table: finding for finding in ledger.read_models.verify().findings}
    assert set(findings) == {"read_story", "read_alarms"}
    missing = findings["read_story"]
    assert missing.key == {"position": position} and missing.found is None
    assert missing.expected is not None and missing.expected["key"] == "B-003"
    assert "is missing" in missing.what
    forged = findings["read_alarms"]
    assert forged.key == {"position": ledger.count() + 5} and forged.expected is None
    assert "no event it read gives this row" in forged.what


def test_a_position_past_the_log_is_named(ledger: thread.Ledger, ledger_url: str,
                                          plant: Plant) -> None:
    """A position moved past the log's end is a finding on read_positions."""
    raw_sql(reads_of(ledger_url), "UPDATE read_positions SET position = position + 7 "
            "WHERE projection = 'genealogy'")
    first = ledger.read_models.verify().first
    assert first is not None and first.table == "read_positions"
    assert first.key == {"projection": "genealogy"}
    assert first.found == {"position": ledger.count() + 7}


def test_a_lowered_longest_window_is_named(ledger: thread.Ledger, ledger_url: str,
                                           plant: Plant) -> None:
    """longest_window_ns bounds overlap queries; a lowered value is a finding."""
    raw_sql(reads_of(ledger_url), "UPDATE read_positions SET longest_window_ns = 1 "
            "WHERE projection = 'production'")
    first = ledger.read_models.verify().first
    assert first is not None and first.table == "read_positions"
    assert first.expected == {"longest_window_ns": 30 * 60 * 10**9}


def test_the_verified_story_is_the_story(ledger: thread.Ledger, plant: Plant) -> None:
    """On intact read models a verified story says the same as the read models, and says how
    it was proved."""
    for key in ("B-014", plant.failed, "HUB-1", "VEHICLE-1", "ML-1"):
        plain = ledger.trace(key).model_dump(mode="json")
        verified = ledger.trace(key, verified=True)
        assert verified.verified and not plain.pop("verified")
        size, root = ledger.tree_head()
        assert (verified.log_size, verified.log_root) == (size, root.hex())
        answer = verified.model_dump(mode="json")
        answer.pop("verified")
        answer.pop("log_root")
        plain.pop("log_root")
        assert answer == plain, key
    as_of = T0 + timedelta(hours=29)
    assert (ledger.trace("B-014", as_of=as_of, by="occurred", verified=True).timeline
            == ledger.trace("B-014", as_of=as_of, by="occurred").timeline)


def test_a_verified_story_leaves_out_nothing_the_read_models_dropped(
        ledger: thread.Ledger, ledger_url: str, plant: Plant) -> None:
    """A story row deleted from the read model hides an event from trace, not from --verified:
    that refuses, naming the missing row."""
    position = story_row(ledger_url, plant.failed, 4)
    raw_sql(reads_of(ledger_url), "DELETE FROM read_story WHERE position = ?", (position,))
    assert position not in [e.position for e in ledger.trace(plant.failed).timeline]
    with pytest.raises(ReadModelDisagrees, match=f"read_story position {position}: is missing"):
        ledger.trace(plant.failed, verified=True)


def test_a_fair_takes_its_serials_from_the_log(ledger: thread.Ledger, ledger_url: str,
                                              plant: Plant) -> None:
    """Deleting a registry row hides a serial from the read model, not from a FAIR."""
    raw_sql(reads_of(ledger_url), "DELETE FROM read_registry WHERE key = 'B-000'")
    assert "B-000" not in ledger.serials("BRG-6204", "A")
    serials = serials_of(ledger, "BRG-6204", "A", Cutoff())
    assert serials[:2] == ["B-000", "B-001"] and len(serials) == len(plant.ground)
    assert serials_of(ledger, "BRG-6204", "A", Cutoff(T0 + timedelta(hours=3), "occurred")) == [
        "B-000", "B-001"]


def test_records_are_untouched_by_edited_read_models(ledger: thread.Ledger, ledger_url: str,
                                                     plant: Plant) -> None:
    """A DHR and a FAIR read verified events: edits to every read model change neither."""
    at = T0 + timedelta(days=30)

    def records() -> tuple[object, object]:
        dhr = device_history_record(ledger, "B-014", generated_at=at).to_json()
        fair = first_article_report(ledger, "BRG-6204", "A", generated_at=at,
                                    evaluated_at=at).to_json()
        return dhr, fair

    before = records()
    reads = reads_of(ledger_url)
    raw_sql(reads, "UPDATE read_metrics SET max = 1.0 WHERE max = 6.0")
    raw_sql(reads, "UPDATE read_story SET occurred_ns = occurred_ns + ?", (HOUR_NS,))
    raw_sql(reads, "DELETE FROM read_registry WHERE key IN ('B-000', 'B-014')")
    raw_sql(reads, "DELETE FROM read_whereabouts")
    raw_sql(reads, "DELETE FROM read_operations")
    assert records() == before
