"""Large QIF results files stream: read one results set at a time, written in chunks of one
transaction, so a refusal near the end of a file still writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import row_counts

import thread
from thread import facts as f
from thread import ledger as ledger_module
from thread_adapters.qif import (
    ForeignReport,
    MalformedQIF,
    UnregisteredPart,
    import_results,
    read_results,
)
from thread_adapters.qif import document as document_module

PARTS = 120
CHARACTERISTICS = 6
START = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """File chunks and stream chunks small enough that one file takes many of each."""
    monkeypatch.setattr(document_module, "_CHUNK", 2_048)
    monkeypatch.setattr(ledger_module, "STREAM_CHUNK", 64)


def _nominal(balloon: int) -> float:
    return 10.0 + balloon


def _results_file(path: Path, *, balloon_of_last: int | None = None) -> Path:
    """A CMM's results for PARTS serials, one MeasurementResults each; the last part's
    first measurement names characteristic ``balloon_of_last`` instead of its own."""
    items = "".join(
        f'<DiameterCharacteristicDefinition id="{100 + c}"><Tolerance><MaxValue>0.05</MaxValue>'
        f"<MinValue>-0.05</MinValue></Tolerance></DiameterCharacteristicDefinition>"
        for c in range(1, CHARACTERISTICS + 2))
    nominals = "".join(
        f'<DiameterCharacteristicNominal id="{200 + c}"><CharacteristicDefinitionId>{100 + c}'
        f"</CharacteristicDefinitionId><TargetValue>{_nominal(c)}</TargetValue>"
        f"</DiameterCharacteristicNominal>" for c in range(1, CHARACTERISTICS + 2))
    named = "".join(
        f'<DiameterCharacteristicItem id="{300 + c}"><Name>D{c}</Name><CharacteristicDesignator>'
        f"<Designator>{c}</Designator></CharacteristicDesignator><CharacteristicNominalId>"
        f"{200 + c}</CharacteristicNominalId></DiameterCharacteristicItem>"
        for c in range(1, CHARACTERISTICS + 2))
    results, components = [], []
    for part in range(PARTS):
        ident = 1_000 + part * 20
        at = START + timedelta(minutes=part)
        measured = "".join(
            f'<DiameterCharacteristicMeasurement id="{ident + 2 + c}"><Status>'
            f"<CharacteristicStatusEnum>PASS</CharacteristicStatusEnum></Status>"
            f"<CharacteristicItemId>{300 + item}</CharacteristicItemId>"
            f"<Value>{_nominal(item) + 0.01}</Value><TimeStamp>{at:%Y-%m-%dT%H:%M:%SZ}"
            f"</TimeStamp></DiameterCharacteristicMeasurement>\n"
            for c in range(1, CHARACTERISTICS + 1)
            for item in [balloon_of_last if part == PARTS - 1 and c == 1
                         and balloon_of_last is not None else c])
        results.append(
            f'<MeasurementResults id="{ident}"><InspectionStatus><InspectionStatusEnum>PASS'
            f"</InspectionStatusEnum></InspectionStatus><ActualComponentIds n=\"1\"><Id>"
            f"{ident + 1}</Id></ActualComponentIds><MeasuredCharacteristics>"
            f'<CharacteristicMeasurements n="{CHARACTERISTICS}">\n{measured}'
            f"</CharacteristicMeasurements></MeasuredCharacteristics></MeasurementResults>\n")
        components.append(f'<ActualComponent id="{ident + 1}"><SerialNumber>H-{part:04d}'
                          f"</SerialNumber></ActualComponent>\n")
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<QIFDocument xmlns="http://qifstandards.org/xsd/qif3" versionQIF="3.0.0">\n'
        "<QPId>9f1e0d2c-3b4a-5968-7a6b-5c4d3e2f1a0b</QPId>\n"
        "<FileUnits><PrimaryUnits><LinearUnit><SIUnitName>meter</SIUnitName><UnitName>mm"
        "</UnitName></LinearUnit></PrimaryUnits></FileUnits>\n"
        '<Product><PartSet n="1"><Part id="2"><PartNumber>HSG-1</PartNumber></Part></PartSet>'
        "</Product>\n"
        f"<Characteristics><CharacteristicDefinitions>{items}</CharacteristicDefinitions>"
        f"<CharacteristicNominals>{nominals}</CharacteristicNominals>"
        f"<CharacteristicItems>{named}</CharacteristicItems></Characteristics>\n"
        f'<Results><MeasurementResultsSet n="{PARTS}">\n{"".join(results)}'
        "</MeasurementResultsSet>\n"
        f'<ActualComponentSets><ActualComponentSet n="{PARTS}">\n{"".join(components)}'
        "</ActualComponentSet></ActualComponentSets></Results>\n</QIFDocument>\n")
    return path


def _register(ledger: thread.Ledger, parts: int = PARTS) -> None:
    with ledger.batch() as batch:
        batch.record(f.RevisionReleased(
            part_number="HSG-1", revision="A", part_name="Housing", drawing="DWG-1",
            characteristics=tuple(
                f.Characteristic(balloon=str(c), name=f"D{c}", nominal=_nominal(c), unit="mm",
                                 lower_tolerance=-0.05, upper_tolerance=0.05)
                for c in range(1, CHARACTERISTICS + 1))))
        for part in range(parts):
            batch.record(f.PartRegistered(serial=f"H-{part:04d}", part_number="HSG-1",
                                          revision="A"), occurred_at=START - timedelta(days=1))


def test_a_large_file_lands_whole_and_again_adds_nothing(ledger: thread.Ledger,
                                                          tmp_path: Path) -> None:
    """Every part's measurements and report land, read one results set at a time."""
    _register(ledger)
    path = _results_file(tmp_path / "cmm.QIF")
    (done,) = import_results(ledger, [path])
    assert (done.measurements, done.failures, done.new) == (
        PARTS * CHARACTERISTICS, 0, PARTS * (CHARACTERISTICS + 1))
    assert [report.key for report in done.reports] == [f"H-{p:04d}" for p in range(PARTS)]
    assert all(report.facts == () for report in done.reports)  # they are in the ledger
    assert len(read_results(path).facts) == done.new
    assert len(ledger.history("H-0119")) == 1 + CHARACTERISTICS + 1
    (again,) = import_results(ledger, [path])
    assert (again.new, again.already_present) == (0, done.new)


def test_a_foreign_measurement_in_the_last_part_writes_nothing(
        ledger: thread.Ledger, ledger_url: str, tmp_path: Path) -> None:
    """The last of 120 parts measured a characteristic off the drawing: refused, naming it,
    after most of the file was written into the transaction; nothing lands."""
    _register(ledger)
    before = row_counts(ledger_url)
    path = _results_file(tmp_path / "cmm.QIF", balloon_of_last=CHARACTERISTICS + 1)
    with pytest.raises(ForeignReport, match=r"cmm\.QIF: part H-0119: characteristic 7 "
                                            r"\(D7 \(diameter\)\) is not on the drawing"):
        import_results(ledger, [path])
    assert row_counts(ledger_url) == before


def test_an_unregistered_last_part_writes_nothing(ledger: thread.Ledger, ledger_url: str,
                                                  tmp_path: Path) -> None:
    """Results for a part the ledger does not know, at the end of a file, leave no trace."""
    _register(ledger, parts=PARTS - 1)
    before = row_counts(ledger_url)
    with pytest.raises(UnregisteredPart, match=r"measured part H-0119, which this ledger does "
                                               r"not know"):
        import_results(ledger, [_results_file(tmp_path / "cmm.QIF")])
    assert row_counts(ledger_url) == before


def test_a_reused_id_is_found_among_measurements_read_apart(tmp_path: Path) -> None:
    """Measurements are not kept in the tree, yet an id one of them reuses is still named
    with both elements and lines."""
    path = _results_file(tmp_path / "cmm.QIF")
    text = path.read_text()
    path.write_text(text.replace('<DiameterCharacteristicMeasurement id="2004">',
                                 '<DiameterCharacteristicMeasurement id="2003">'))
    line = text[: text.index('id="2004"')].count("\n") + 1
    first = text[: text.index('id="2003"')].count("\n") + 1
    with pytest.raises(MalformedQIF, match=rf"DiameterCharacteristicMeasurement id 2003 \(line "
                                           rf"{line}\) reuses QIF id 2003 of "
                                           rf"DiameterCharacteristicMeasurement id 2003 \(line "
                                           rf"{first}\)"):
        read_results(path)
