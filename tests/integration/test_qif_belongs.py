"""QIF results belong to the part they name: its design's part number, characteristics and
nominals; not a scrapped part or a material lot unless meant; a re-export is recorded once;
a measuring system's verdict that value against tolerance contradicts is kept and counted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import bearing, released_bearing, row_counts
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread import facts as f
from thread.errors import QualityRuleViolation
from thread.records import device_history_record, first_article_report
from thread_adapters.qif import ForeignReport, import_results, read_results

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "qif"
SHEET = VECTORS / "SheetMetal_QIF_Results_sample_2.QIF"
SERIAL = "SN5802802"
#: The material review board member who signs the scrap disposition.
MRB = thread.Signer("qe-4", "Dana Quality", Ed25519PrivateKey.generate())


def _design_of(path: Path, *, part_number: str = "Wing mirror reinforcement",
               renumber: bool = False) -> f.RevisionReleased:
    """A released design whose characteristics are the ones the file measured (balloons
    numbered 1, 2, ... instead of the file's designators when ``renumber``)."""
    seen: dict[str, f.Characteristic] = {}
    for planned in read_results(path).facts:
        m = planned.fact
        if isinstance(m, f.InspectionRecorded) and m.characteristic not in seen:
            seen[m.characteristic] = f.Characteristic(
                balloon=str(len(seen) + 1) if renumber else m.characteristic,
                name=m.name or m.characteristic, nominal=m.nominal, unit=m.unit,
                lower_tolerance=m.lower_tolerance, upper_tolerance=m.upper_tolerance,
                requirement=None if m.nominal is not None else "as measured")
    return f.RevisionReleased(part_number=part_number, revision="A", part_name="Reinforcement",
                              drawing="DWG-1", characteristics=tuple(seen.values()))


def _register(ledger: thread.Ledger, design: f.RevisionReleased) -> None:
    ledger.record(design)
    ledger.record(f.PartRegistered(serial=SERIAL, part_number=design.part_number,
                                   revision="A"))


def test_a_foreign_report_is_refused_and_writes_nothing(ledger: thread.Ledger,
                                                          ledger_url: str) -> None:
    """A 2015 sheet-metal report against a bearing: the file's model is not the bearing."""
    ledger.record(released_bearing())
    ledger.record(bearing("BRG-000001"))
    before = row_counts(ledger_url)
    with pytest.raises(ForeignReport, match=r"measured 'QM_X_123456', but the part is "
                                            r"BRG-6204 rev A"):
        import_results(ledger, [VECTORS / "QIF_Results_Sample.QIF"], serial="BRG-000001")
    assert row_counts(ledger_url) == before


def test_a_characteristic_off_the_drawing_is_refused(ledger: thread.Ledger) -> None:
    """Same part number, but the drawing lacks a characteristic the file measured."""
    design = _design_of(SHEET)
    _register(ledger, design.model_copy(update={"characteristics": design.characteristics[1:]}))
    first = design.characteristics[0]
    with pytest.raises(ForeignReport, match=f"characteristic {first.balloon} .* is not on the "
                                            "drawing of Wing mirror reinforcement rev A"):
        import_results(ledger, [SHEET])


def test_a_nominal_other_than_the_drawings_is_refused(ledger: thread.Ledger) -> None:
    """The characteristic is on the drawing, with another nominal."""
    design = _design_of(SHEET)
    first = next(c for c in design.characteristics if c.nominal is not None)
    moved = first.model_copy(update={"nominal": (first.nominal or 0) + 1})
    _register(ledger, design.model_copy(update={"characteristics": tuple(
        moved if c is first else c for c in design.characteristics)}))
    with pytest.raises(ForeignReport, match=f"{first.balloon} .* has nominal 0 mm, but "
                                            f"balloon {first.balloon} .* has 1 mm"):
        import_results(ledger, [SHEET])


def test_a_name_matches_only_when_the_drawing_has_it_once(ledger: thread.Ledger) -> None:
    """Balloons 1, 2, ... on the drawing, every one a "Point profile": the file's designators
    cannot be told apart by name, so the report is refused rather than guessed."""
    _register(ledger, _design_of(SHEET, renumber=True))
    with pytest.raises(ForeignReport, match="is not on the drawing"):
        import_results(ledger, [SHEET])


def test_a_report_that_belongs_lands_and_a_reexport_adds_nothing(
        ledger: thread.Ledger, tmp_path: Path) -> None:
    """The CMM software exporting the same measurements again (new file and results ids)
    records nothing twice; the one disagreeing verdict is kept, marked and counted."""
    _register(ledger, _design_of(SHEET))
    (done,) = import_results(ledger, [SHEET])
    assert (done.measurements, done.new, done.already_present) == (38, 39, 0)
    assert done.disagreements == 1
    [marked] = [e.fact for e in ledger.history(SERIAL) if isinstance(e.fact, f.InspectionRecorded)
                and e.fact.verdict_reason is not None]
    assert marked.verdict == "fail" and "gives pass" in (marked.verdict_reason or "")
    text = SHEET.read_text(encoding="utf-8")
    again = tmp_path / "re-export.QIF"
    again.write_text(text.replace("<QPId>", "<QPId>0").replace(
        "<ThisResultsInstanceQPId>", "<ThisResultsInstanceQPId>0"), encoding="utf-8")
    assert read_results(again).digest != read_results(SHEET).digest
    (second,) = import_results(ledger, [again])
    assert (second.new, second.already_present) == (0, 39)


def test_scrapped_parts_and_material_lots_need_asking(ledger: thread.Ledger,
                                                      tmp_path: Path) -> None:
    """Results for a scrapped part or a received material lot are refused unless meant."""
    ledger.record(f.PartRegistered(serial=SERIAL, part_number="X", revision="A",
                                   undocumented=True))
    ledger.record(f.NonConformanceOpened(serial=SERIAL, non_conformance="NC-1",
                                         description="cracked", severity="major"))
    ledger.record(f.DispositionRecorded(serial=SERIAL, non_conformance="NC-1", decision="scrap",
                                        rationale="crack through the flange"), sign=MRB)
    with pytest.raises(ForeignReport, match="dispositioned scrap"):
        import_results(ledger, [SHEET])
    assert import_results(ledger, [SHEET], scrapped=True)[0].new == 39
    ledger.record(f.MaterialLotReceived(lot="HEAT-1", material="DC04", supplier="Steel AG",
                                        quantity=10, unit="kg"))
    plain = tmp_path / "plain.QIF"
    shutil.copy(VECTORS / "QIF_Results_Sample.QIF", plain)
    with pytest.raises(ForeignReport, match="received material"):
        import_results(ledger, [plain], lot="HEAT-1")
    assert import_results(ledger, [plain], lot="HEAT-1", material_lot=True)[0].new == 14


def test_the_ledger_itself_refuses_a_disagreeing_verdict_without_a_reason(
        ledger: thread.Ledger) -> None:
    """The importer's mark is what lets the system's verdict land: without it, refused."""
    _register(ledger, _design_of(SHEET))
    planned = next(p.fact for p in read_results(SHEET).facts
                   if isinstance(p.fact, f.InspectionRecorded) and p.fact.verdict_reason)
    with pytest.raises(QualityRuleViolation, match="verdict fail but"):
        ledger.record(planned.model_copy(update={"verdict_reason": None}))


def test_trace_shows_a_kept_verdict(ledger: thread.Ledger) -> None:
    """The story's line for the inspection says the verdict was kept and why."""
    _register(ledger, _design_of(SHEET))
    import_results(ledger, [SHEET])
    lines = [entry.summary for entry in ledger.trace(SERIAL).timeline
             if "verdict kept" in entry.summary]
    assert lines == ["FAIL W1RISMRA07V Point profile: 0 mm (nominal 0 +/-0.25); verdict kept: "
                     "the measuring system's verdict (QIF status FAIL); value against tolerance "
                     "gives pass"]


def test_the_dhr_and_the_fair_show_a_kept_verdict(ledger: thread.Ledger) -> None:
    """Both records say beside the result that the measuring system's verdict was kept."""
    _register(ledger, _design_of(SHEET))
    import_results(ledger, [SHEET])
    dhr = device_history_record(ledger, SERIAL)
    remarks = [r.remarks for r in dhr.acceptance.inspections
               if r.characteristic == "W1RISMRA07V" and r.remarks]
    assert remarks == ["verdict kept against value and tolerance: the measuring system's "
                       "verdict (QIF status FAIL); value against tolerance gives pass"]
    fair = first_article_report(ledger, "Wing mirror reinforcement", "A", serial=SERIAL)
    [char] = [c for c in fair.form3.rows if c.balloon == "W1RISMRA07V"]
    assert any(r.note and r.note.startswith("verdict kept") for r in char.results)
    comments = [fld.value for fld in char.fields if fld.name == "Additional Data / Comments"]
    assert comments and "verdict kept" in str(comments[0])
