"""QIF 3 results import: facts per measured characteristic, counts, idempotency, refusals."""

from __future__ import annotations

import json
import re
import tempfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import row_counts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import thread
from thread import facts as f
from thread.cli import main
from thread.errors import LedgerError, UnknownSubject
from thread_adapters.qif import (
    SOURCE,
    MalformedQIF,
    QIFError,
    UnknownUnit,
    UnregisteredPart,
    import_results,
    read_results,
)
from thread_adapters.qif.vocabulary import designator_of, method_of, verdict_of

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "qif"
Q = {"q": "http://qifstandards.org/xsd/qif3"}
#: Every vector file and the serial it measured: its own, or the one we give it.
SERIALS = {
    "QIF_Results_Sample.QIF": "QM-X-123456-01",  # states no serial number
    "SheetMetal_QIF_Results_sample_1.QIF": "SN5802801",
    "SheetMetal_QIF_Results_sample_2.QIF": "SN5802802",
    "SheetMetal_QIF_Results_sample_3.QIF": "SN5802803",
    "WIDGET_QIF_RESULTS.QIF": "WIDGET-0001",  # states no serial number
    "mitutoyo_results_serialized_pass_fail_sample.QIF": "SN#1234-56789",
}
STATES_SERIAL = {"SheetMetal_QIF_Results_sample_1.QIF", "SheetMetal_QIF_Results_sample_2.QIF",
                 "SheetMetal_QIF_Results_sample_3.QIF",
                 "mitutoyo_results_serialized_pass_fail_sample.QIF"}
PLAN = "WIDGET_QIF_PLAN.QIF"
#: Read by eye from the files: (measurements, failures).
KNOWN_COUNTS = {
    "QIF_Results_Sample.QIF": (13, 4),
    "SheetMetal_QIF_Results_sample_1.QIF": (38, 0),
    "SheetMetal_QIF_Results_sample_2.QIF": (38, 2),
    "SheetMetal_QIF_Results_sample_3.QIF": (38, 2),
    "WIDGET_QIF_RESULTS.QIF": (42, 5),
    "mitutoyo_results_serialized_pass_fail_sample.QIF": (0, 0),
}


def _serial_option(name: str) -> str | None:
    return None if name in STATES_SERIAL else SERIALS[name]


def _counted(path: Path) -> tuple[int, int]:
    """Measurements and FAIL statuses counted from the XML, independently of the adapter."""
    root = ET.parse(path).getroot()  # noqa: S314 - our own test vectors
    measured = root.findall(".//q:MeasuredCharacteristics/q:CharacteristicMeasurements/*", Q)
    failed = [m for m in measured
              if m.findtext("q:Status/q:CharacteristicStatusEnum", namespaces=Q) == "FAIL"]
    return len(measured), len(failed)


def _register(ledger: thread.Ledger, *serials: str) -> None:
    with ledger.batch(source="test") as batch:
        for serial in serials:
            batch.record(f.PartRegistered(serial=serial, part_number="QIF-PART", revision="A",
                                          undocumented=True), source_record_id=serial)


def _inspections(ledger: thread.Ledger, serial: str) -> list[f.InspectionRecorded]:
    return [e.fact for e in ledger.history(serial) if isinstance(e.fact, f.InspectionRecorded)]


def _reports(ledger: thread.Ledger, serial: str) -> list[f.InspectionReported]:
    return [e.fact for e in ledger.history(serial) if isinstance(e.fact, f.InspectionReported)]


def _import_all(ledger: thread.Ledger, names: list[str]) -> None:
    for name in names:
        import_results(ledger, [VECTORS / name], serial=_serial_option(name))


# Reading files (no ledger)


def test_every_vector_file_is_covered() -> None:
    """Each QIF file in the vectors folder has an expectation here, so none goes untested."""
    on_disk = {path.name for path in VECTORS.glob("*.QIF")}
    assert on_disk == {*SERIALS, PLAN}
    assert (VECTORS / "LICENSE.md").read_text().startswith("**[Boost Software License")


@pytest.mark.parametrize("name", sorted(SERIALS))
def test_counts_match_the_file(name: str) -> None:
    """Measurements and failures read equal an independent XPath count and the count by eye."""
    results = read_results(VECTORS / name, serial=_serial_option(name))
    assert (results.measurements, results.failures) == _counted(VECTORS / name)
    assert (results.measurements, results.failures) == KNOWN_COUNTS[name]
    assert results.subjects == [("part", SERIALS[name])]
    inspections = [p.fact for p in results.facts if isinstance(p.fact, f.InspectionRecorded)]
    reported = [p.fact for p in results.facts if isinstance(p.fact, f.InspectionReported)]
    assert len(inspections) == results.measurements
    assert sum(fact.verdict == "fail" for fact in inspections) == results.failures
    assert [(r.measurements, r.failures) for r in reported] == [KNOWN_COUNTS[name]]
    assert len({p.source_record_id for p in results.facts}) == len(results.facts)


def test_a_plan_is_not_results() -> None:
    """A QIF plan file is refused with a message that says to import its results instead."""
    with pytest.raises(MalformedQIF, match=r"WIDGET_QIF_PLAN\.QIF is a QIF plan .* import the "
                                           r"results file"):
        read_results(VECTORS / PLAN, serial="ANY")


def test_a_file_without_serial_asks_for_one() -> None:
    """A results file whose component states no serial says which option names the part."""
    with pytest.raises(QIFError, match=r"QIF_Results_Sample\.QIF: ActualComponent id 4 "
                                       r"\(line 957\) has no serial number.*--serial SERIAL"):
        read_results(VECTORS / "QIF_Results_Sample.QIF")


def test_a_given_serial_cannot_contradict_the_file() -> None:
    """--serial for a file that states another serial is refused, not silently applied."""
    with pytest.raises(QIFError, match=r"has serial number SN5802802, but serial SN-OTHER was"):
        read_results(VECTORS / "SheetMetal_QIF_Results_sample_2.QIF", serial="SN-OTHER")
    with pytest.raises(QIFError, match="not both"):
        read_results(VECTORS / "QIF_Results_Sample.QIF", serial="A", lot="B")


@pytest.mark.parametrize(("status", "verdict"), [
    ("PASS", "pass"), ("FAIL", "fail"), ("REWORK", "fail"), ("BASIC_OR_TED", "pass"),
    ("INDETERMINATE", "fail"), ("NOT_ANALYZED", "fail"), ("SYSERROR", "fail"),
    ("UNDEFINED", "fail"), ("awaiting review", "fail"),
])
def test_only_pass_and_basic_dimensions_are_accepted(status: str, verdict: str) -> None:
    """A status that does not show conformance is recorded as fail, with the status kept."""
    recorded, note = verdict_of(status)
    assert recorded == verdict
    assert (note is None) == (status in ("PASS", "FAIL"))
    assert note is None or status in note


@pytest.mark.parametrize(("level", "area", "designator"), [
    ("KEY", None, "key"), ("CRITICAL", None, "critical"), ("Critical", None, "critical"),
    ("CRITICAL", "SAFETY", "flight-safety"), ("Flight Safety", None, "flight-safety"),
    ("MAJOR", None, "none"), ("MINOR", "SAFETY", "none"), ("REF", None, "none"),
    (None, None, "none"),
])
def test_criticality_becomes_the_as9102_designator(level: str | None, area: str | None,
                                                   designator: str) -> None:
    """QIF criticality levels and areas map to none, key, critical or flight-safety."""
    assert designator_of(level, area) == designator


@pytest.mark.parametrize(("tag", "name", "method"), [
    ("MeasurementDevice", "CMM", "cmm"), ("CartesianCMM", "Contura G2", "cmm"),
    ("MeasurementDevice", "GAGE PINS", "gauge"), ("MeasurementDevice", "CALIPERS", "gauge"),
    ("Micrometer", None, "gauge"), ("MeasurementDevice", "Vision system VS-3", "vision"),
    ("MeasurementDevice", "Spindle runout tester", "other"),
])
def test_the_device_decides_the_method(tag: str, name: str | None, method: str) -> None:
    """A device's QIF type or name picks cmm, gauge or vision; an unknown kind is other."""
    assert method_of(tag, name) == method


# Importing into a ledger (SQLite and PostgreSQL)


def test_import_records_every_file_once(ledger: thread.Ledger, ledger_url: str) -> None:
    """All vector files land with one fact per measurement plus one report; again adds nothing."""
    _register(ledger, *SERIALS.values())
    before = row_counts(ledger_url)
    names = sorted(SERIALS)
    first = [import_results(ledger, [VECTORS / n], serial=_serial_option(n))[0] for n in names]
    expected = sum(KNOWN_COUNTS[n][0] + 1 for n in names)
    assert sum(done.new for done in first) == expected
    assert all(done.already_present == 0 for done in first)
    after = row_counts(ledger_url)
    assert after == (before[0] + expected, before[1] + expected)
    again = [import_results(ledger, [VECTORS / n], serial=_serial_option(n))[0] for n in names]
    assert row_counts(ledger_url) == after
    assert [(d.new, d.already_present) for d in again] == [(0, d.new) for d in first]
    for name in names:
        inspections = _inspections(ledger, SERIALS[name])
        assert (len(inspections), sum(i.verdict == "fail" for i in inspections)) == (
            _counted(VECTORS / name))
        assert all(i.report == _reports(ledger, SERIALS[name])[0].report for i in inspections)
    sources = {e.source for e in ledger.history("SN5802802")[1:]}
    assert sources == {SOURCE}


def test_known_values_of_the_sample_report(ledger: thread.Ledger) -> None:
    """Values read by eye from QIF_Results_Sample.QIF are stored as the file states them."""
    _register(ledger, "QM-X-123456-01")
    import_results(ledger, [VECTORS / "QIF_Results_Sample.QIF"], serial="QM-X-123456-01")
    events = ledger.history("QM-X-123456-01")[1:]
    by = {(e.fact.characteristic, e.fact.measured): e.fact for e in events
          if isinstance(e.fact, f.InspectionRecorded)}
    bore = by[("6", 9.499476)]  # diameter 10 +/-0.4, measured under size, NC 1234
    assert (bore.nominal, bore.lower_tolerance, bore.upper_tolerance, bore.unit) == (
        10.0, -0.4, 0.4, "mm")
    assert (bore.verdict, bore.non_conformance, bore.location, bore.method, bore.designator) == (
        "fail", "1234", "sheet SHEET1, zone C1", "cmm", "none")
    profile = by[("4", -0.886195693015347)]  # offset profile zone +1.0/-0.5, CRITICAL
    assert (profile.lower_tolerance, profile.upper_tolerance, profile.designator) == (
        -0.5, 1.0, "critical")
    assert profile.verdict == "fail"
    caliper = by[("8", 10.199988)]  # limit dimension 9.6-10.4 measured with calipers
    assert (caliper.nominal, caliper.lower_tolerance, caliper.upper_tolerance) == (10.0, -0.4, 0.4)
    assert (caliper.method, caliper.gauge, caliper.verdict, caliper.non_conformance) == (
        "gauge", "CALIPERS", "pass", None)
    position = by[("7", 0.897298445619006)]  # MMC position 1.0, gauge pins, CRITICAL
    assert (position.method, position.gauge, position.designator, position.verdict) == (
        "gauge", "GAGE PINS", "critical", "pass")
    basic = by[("1", 2466.9)]  # a basic coordinate: no tolerance, cannot fail
    assert (basic.verdict, basic.lower_tolerance, basic.nominal) == (
        "pass", None, 2466.729248046875)
    assert "BASIC_OR_TED" in (basic.name or "")
    assert by[("11", 81.220808617517)].name == "DIST1 (distance between)"
    report = next(e for e in events if isinstance(e.fact, f.InspectionReported))
    assert report.fact.model_dump(exclude={"document_digest"}) == {
        "serial": "QM-X-123456-01", "lot": None, "report": "QIF 1",
        "preparer": "John Doe (123-456)", "organization": "Origin International",
        "supplier": "North_Fab", "purchase_order": "PO123456", "program": None,
        "measurements": 13, "failures": 4,
    }
    assert report.occurred_at == datetime(2015, 10, 23, 5, 36, 11, tzinfo=UTC)
    assert all(e.occurred_at == report.occurred_at for e in events)


def test_known_values_of_other_files(ledger: thread.Ledger) -> None:
    """A failed position in sheet metal 3, a failed distance in the widget, the empty Mitutoyo."""
    _register(ledger, "SN5802803", "WIDGET-0001", "SN#1234-56789")
    import_results(ledger, [VECTORS / "SheetMetal_QIF_Results_sample_3.QIF",
                            VECTORS / "mitutoyo_results_serialized_pass_fail_sample.QIF"])
    import_results(ledger, [VECTORS / "WIDGET_QIF_RESULTS.QIF"], serial="WIDGET-0001")
    position = [i for i in _inspections(ledger, "SN5802803") if i.characteristic == "W1RXXMRA21P"]
    assert [(i.measured, i.upper_tolerance, i.verdict) for i in position] == [
        (1.355625761986218, 1.25, "fail")]
    distance = [i for i in _inspections(ledger, "WIDGET-0001") if i.measured == 104.63]
    assert [(i.characteristic, i.nominal, i.lower_tolerance, i.verdict) for i in distance] == [
        ("19", 105.0, -0.25, "fail")]
    (empty,) = _reports(ledger, "SN#1234-56789")
    assert (empty.report, empty.measurements, empty.failures) == (
        "fd43400a-29bf-4ec6-b96c-e2f846eb6ff7", 0, 0)
    assert _inspections(ledger, "SN#1234-56789") == []


def test_one_call_is_one_transaction(ledger: thread.Ledger, ledger_url: str,
                                     tmp_path: Path) -> None:
    """A bad file among good ones: nothing of any file of the call is written."""
    _register(ledger, "SN5802801", "SN5802802")
    truncated = tmp_path / "truncated.QIF"
    data = (VECTORS / "SheetMetal_QIF_Results_sample_1.QIF").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    before = row_counts(ledger_url)
    with pytest.raises(MalformedQIF, match=r"truncated\.QIF: not well-formed XML at line \d+"):
        import_results(ledger, [VECTORS / "SheetMetal_QIF_Results_sample_2.QIF", truncated])
    assert row_counts(ledger_url) == before
    assert _reports(ledger, "SN5802802") == []


def test_an_unknown_serial_writes_nothing(ledger: thread.Ledger, ledger_url: str) -> None:
    """Results for a serial the ledger does not know say to register the part first."""
    _register(ledger, "SN5802801")
    before = row_counts(ledger_url)
    with pytest.raises(UnregisteredPart, match=r"SheetMetal_QIF_Results_sample_2\.QIF: measured "
                                               r"part SN5802802.*register the part first"
                       ) as raised:
        import_results(ledger, [VECTORS / "SheetMetal_QIF_Results_sample_1.QIF",
                                VECTORS / "SheetMetal_QIF_Results_sample_2.QIF"])
    assert isinstance(raised.value, UnknownSubject)
    assert row_counts(ledger_url) == before


def test_an_unknown_unit_writes_nothing(ledger: thread.Ledger, ledger_url: str,
                                        tmp_path: Path) -> None:
    """A linear unit the ledger has no code for names the file, element, line and unit."""
    _register(ledger, "SN5802801")
    text = (VECTORS / "SheetMetal_QIF_Results_sample_1.QIF").read_text()
    furlong = tmp_path / "furlong.QIF"
    furlong.write_text(text.replace("<UnitName>mm</UnitName>", "<UnitName>furlong</UnitName>")
                       .replace("<Factor>0.001</Factor>", "<Factor>201.168</Factor>"))
    before = row_counts(ledger_url)
    with pytest.raises(UnknownUnit, match=r"furlong\.QIF: LinearUnit \(line \d+\) names unit "
                                          r"'furlong'"):
        import_results(ledger, [furlong])
    assert row_counts(ledger_url) == before


def test_out_of_tolerance_is_a_fact(ledger: thread.Ledger) -> None:
    """Failed characteristics are recorded with verdict fail and their non-conformance."""
    _register(ledger, "QM-X-123456-01")
    (done,) = import_results(ledger, [VECTORS / "QIF_Results_Sample.QIF"],
                             serial="QM-X-123456-01")
    failed = [i for i in _inspections(ledger, "QM-X-123456-01") if i.verdict == "fail"]
    assert len(failed) == done.failures == 4
    assert {i.non_conformance for i in failed} == {"1234"}


def test_a_lot_can_be_named(ledger: thread.Ledger) -> None:
    """--lot records the results of a file without serial against a registered lot."""
    ledger.record(f.PartRegistered(lot="LOT-7", part_number="WIDGET", revision="A", quantity=50,
                                   undocumented=True))
    (done,) = import_results(ledger, [VECTORS / "WIDGET_QIF_RESULTS.QIF"], lot="LOT-7")
    assert (done.reports[0].kind, done.reports[0].key, done.new) == ("lot", "LOT-7", 43)
    inspections = [e.fact for e in ledger.history_of("lot", "LOT-7")
                   if isinstance(e.fact, f.InspectionRecorded)]
    assert len(inspections) == 42
    assert all(i.lot == "LOT-7" and i.serial is None for i in inspections)


# Files written for the cases the vectors do not show

SYNTHETIC = """<?xml version="1.0" encoding="UTF-8"?>
<QIFDocument xmlns="http://qifstandards.org/xsd/qif3" versionQIF="3.0.0" idMax="64">
  <QPId>0b7e1f5e-7d4c-4b8e-9a51-1c2d3e4f5a60</QPId>
  <FileUnits>
    <PrimaryUnits>
      <AngularUnit><SIUnitName>radian</SIUnitName><UnitName>degree</UnitName></AngularUnit>
      <LinearUnit><SIUnitName>meter</SIUnitName><UnitName>inch</UnitName>
        <UnitConversion><Factor>0.0254</Factor></UnitConversion></LinearUnit>
    </PrimaryUnits>
    <OtherUnits n="1">
      <LinearUnit><SIUnitName>meter</SIUnitName><UnitName>microns</UnitName>
        <UnitConversion><Factor>0.000001</Factor></UnitConversion></LinearUnit>
    </OtherUnits>
  </FileUnits>
  <MeasurementResources><MeasurementDevices n="1">
    <MeasurementDevice id="1"><Name>Digital caliper 150</Name></MeasurementDevice>
  </MeasurementDevices></MeasurementResources>
  <Characteristics>
    <CharacteristicDefinitions n="3">
      <DiameterCharacteristicDefinition id="10"><Tolerance><MaxValue>0.002</MaxValue>
        <MinValue>-0.001</MinValue><DefinedAsLimit>false</DefinedAsLimit></Tolerance>
      </DiameterCharacteristicDefinition>
      <AngleCharacteristicDefinition id="11"><AngularTolerance><MaxValue>30.5</MaxValue>
        <MinValue>29.5</MinValue><DefinedAsLimit>true</DefinedAsLimit></AngularTolerance>
      </AngleCharacteristicDefinition>
      <FlatnessCharacteristicDefinition id="12">
        <ToleranceValue linearUnit="microns">50</ToleranceValue>
      </FlatnessCharacteristicDefinition>
    </CharacteristicDefinitions>
    <CharacteristicNominals n="3">
      <DiameterCharacteristicNominal id="20">
        <CharacteristicDefinitionId>10</CharacteristicDefinitionId>
        <TargetValue>0.75</TargetValue></DiameterCharacteristicNominal>
      <AngleCharacteristicNominal id="21">
        <CharacteristicDefinitionId>11</CharacteristicDefinitionId>
        <TargetValue>30</TargetValue></AngleCharacteristicNominal>
      <FlatnessCharacteristicNominal id="22">
        <CharacteristicDefinitionId>12</CharacteristicDefinitionId>
      </FlatnessCharacteristicNominal>
    </CharacteristicNominals>
    <CharacteristicItems n="3">
      <DiameterCharacteristicItem id="30"><Name>Bore</Name>
        <CharacteristicDesignator><Designator>1</Designator>
          <Criticality><LevelEnum>KEY</LevelEnum></Criticality></CharacteristicDesignator>
        <MeasurementDeviceIds n="1"><Id>1</Id></MeasurementDeviceIds>
        <CharacteristicNominalId>20</CharacteristicNominalId>
        <LocationOnDrawing><DrawingId>5</DrawingId><SheetNumber>2</SheetNumber>
          <DrawingZone>B4</DrawingZone></LocationOnDrawing>
      </DiameterCharacteristicItem>
      <AngleCharacteristicItem id="31"><Name>Chamfer angle</Name>
        <CharacteristicDesignator><Designator>2</Designator>
          <Criticality><LevelEnum>CRITICAL</LevelEnum><AreaEnum>SAFETY</AreaEnum></Criticality>
        </CharacteristicDesignator>
        <CharacteristicNominalId>21</CharacteristicNominalId>
      </AngleCharacteristicItem>
      <FlatnessCharacteristicItem id="32">
        <CharacteristicDesignator><Designator>3</Designator>
          <Criticality><OtherLevel>Critical</OtherLevel></Criticality></CharacteristicDesignator>
        <CharacteristicNominalId>22</CharacteristicNominalId>
      </FlatnessCharacteristicItem>
    </CharacteristicItems>
  </Characteristics>
  <Results>
    <MeasurementResultsSet n="1">
      <MeasurementResults id="40">
        <InspectionTraceability>
          <InspectingOrganization><Name>Housing Works</Name></InspectingOrganization>
          <SupplierCode>SUP-77</SupplierCode>
          <PurchaseOrderNumber>PO-9</PurchaseOrderNumber>
          <ReportNumber>FAI-2026-014</ReportNumber>
          <InspectionStart>2026-03-02T08:00:00+01:00</InspectionStart>
          <InspectionEnd>2026-03-02T08:30:00+01:00</InspectionEnd>
          <InspectionProgram><File><Name>C:\\programs\\HSG-100.dmi</Name><Version>C</Version>
          </File></InspectionProgram>
          <ReportPreparer><Name>A. Inspector</Name></ReportPreparer>
          <ReportPreparationDate>2026-03-02T09:00:00Z</ReportPreparationDate>
        </InspectionTraceability>
        <MeasuredCharacteristics><CharacteristicMeasurements n="5">
          <DiameterCharacteristicMeasurement id="60">
            <Status><CharacteristicStatusEnum>PASS</CharacteristicStatusEnum></Status>
            <CharacteristicItemId>30</CharacteristicItemId>
            <ActualComponentId>50</ActualComponentId><Value>0.7507</Value>
          </DiameterCharacteristicMeasurement>
          <AngleCharacteristicMeasurement id="61">
            <Status><CharacteristicStatusEnum>REWORK</CharacteristicStatusEnum></Status>
            <CharacteristicItemId>31</CharacteristicItemId>
            <TimeStamp>2026-03-02T07:10:00Z</TimeStamp>
            <ActualComponentId>50</ActualComponentId><Value>30.7</Value>
          </AngleCharacteristicMeasurement>
          <FlatnessCharacteristicMeasurement id="62">
            <Status><CharacteristicStatusEnum>PASS</CharacteristicStatusEnum></Status>
            <CharacteristicItemId>32</CharacteristicItemId>
            <ActualComponentId>50</ActualComponentId><Value linearUnit="microns">12</Value>
          </FlatnessCharacteristicMeasurement>
          <DiameterCharacteristicMeasurement id="63">
            <Status><CharacteristicStatusEnum>FAIL</CharacteristicStatusEnum></Status>
            <CharacteristicItemId>30</CharacteristicItemId>
            <ActualComponentId>51</ActualComponentId>
            <NonConformanceDesignator>NCR-51</NonConformanceDesignator><Value>0.748</Value>
          </DiameterCharacteristicMeasurement>
          <FlatnessCharacteristicMeasurement id="64">
            <Status><CharacteristicStatusEnum>INDETERMINATE</CharacteristicStatusEnum></Status>
            <CharacteristicItemId>32</CharacteristicItemId>
            <ActualComponentId>51</ActualComponentId>
          </FlatnessCharacteristicMeasurement>
        </CharacteristicMeasurements></MeasuredCharacteristics>
        <InspectionStatus><InspectionStatusEnum>FAIL</InspectionStatusEnum></InspectionStatus>
        <ActualComponentIds n="2"><Id>50</Id><Id>51</Id></ActualComponentIds>
      </MeasurementResults>
    </MeasurementResultsSet>
    <ActualComponentSets n="1"><ActualComponentSet n="2">
      <ActualComponent id="50"><SerialNumber>SN-A</SerialNumber>
        <Status><InspectionStatusEnum>FAIL</InspectionStatusEnum></Status></ActualComponent>
      <ActualComponent id="51"><SerialNumber>SN-B</SerialNumber>
        <Status><InspectionStatusEnum>FAIL</InspectionStatusEnum></Status></ActualComponent>
    </ActualComponentSet></ActualComponentSets>
  </Results>
</QIFDocument>
"""


def _write(tmp_path: Path, text: str, name: str = "housing.QIF") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_two_serials_in_one_file(ledger: thread.Ledger, ledger_url: str,
                                 tmp_path: Path) -> None:
    """Each component's measurements go to its own serial, with units, times and designators."""
    _register(ledger, "SN-A", "SN-B")
    before = row_counts(ledger_url)
    (done,) = import_results(ledger, [_write(tmp_path, SYNTHETIC)])
    assert [(r.key, r.measurements, r.failures, r.statuses) for r in done.reports] == [
        ("SN-A", 3, 1, {"PASS": 2, "REWORK": 1}),
        ("SN-B", 2, 2, {"FAIL": 1, "INDETERMINATE": 1})]
    assert row_counts(ledger_url)[0] == before[0] + 7
    a = {i.characteristic: i for i in _inspections(ledger, "SN-A")}
    bore, angle, flatness = a["1"], a["2"], a["3"]
    assert (bore.unit, bore.nominal, bore.lower_tolerance, bore.upper_tolerance) == (
        "in", 0.75, -0.001, 0.002)
    assert (bore.designator, bore.method, bore.gauge, bore.location, bore.name) == (
        "key", "gauge", "Digital caliper 150", "sheet 2, zone B4", "Bore (diameter)")
    assert (bore.program, bore.report) == ("HSG-100.dmi rev C", "FAI-2026-014")
    assert (angle.unit, angle.nominal, angle.lower_tolerance, angle.upper_tolerance) == (
        "deg", 30.0, -0.5, 0.5)
    assert (angle.designator, angle.verdict, angle.method) == ("flight-safety", "fail", "cmm")
    assert "REWORK" in (angle.name or "")
    assert (flatness.unit, flatness.measured, flatness.upper_tolerance, flatness.designator) == (
        "um", 12.0, 50.0, "critical")
    occurred = [e.occurred_at for e in ledger.history("SN-A")[1:]]
    assert occurred == [datetime(2026, 3, 2, 7, 30, tzinfo=UTC),  # InspectionEnd
                        datetime(2026, 3, 2, 7, 10, tzinfo=UTC),  # its own TimeStamp
                        datetime(2026, 3, 2, 7, 30, tzinfo=UTC),
                        datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]  # ReportPreparationDate
    b = _inspections(ledger, "SN-B")
    assert [(i.characteristic, i.verdict, i.non_conformance, i.measured) for i in b] == [
        ("1", "fail", "NCR-51", 0.748), ("3", "fail", None, None)]
    (report,) = _reports(ledger, "SN-B")
    assert (report.supplier, report.purchase_order, report.organization, report.preparer,
            report.measurements, report.failures) == (
        "SUP-77", "PO-9", "Housing Works", "A. Inspector", 2, 2)
    last = ledger.history("SN-B")[-1]
    assert re.fullmatch(r"part:SN-B/report/[0-9a-f]{20}", last.source_record_id or "")


def _line(text: str, needle: str) -> int:
    """The line on which ``needle`` starts, found without the adapter's parser."""
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize(("change", "needle", "expected"), [
    (("<ActualComponentId>51</ActualComponentId>\n            <NonConformanceDesignator>",
      "<NonConformanceDesignator>"), '<DiameterCharacteristicMeasurement id="63">',
     r"DiameterCharacteristicMeasurement id 63 \(line {line}\) does not say which of the "
     r"actual components 50, 51"),
    (("<CharacteristicItemId>32</CharacteristicItemId>\n            <ActualComponentId>51",
      "<CharacteristicItemId>99</CharacteristicItemId>\n            <ActualComponentId>51"),
     "<CharacteristicItemId>99", r"CharacteristicItemId \(line {line}\) refers to "
                                 r"characteristic item 99, which this file does not define"),
    (("<Value>0.748</Value>", "<Value>0.748 mm</Value>"), "<Value>0.748 mm",
     r"Value \(line {line}\) holds '0.748 mm', which is not a number"),
    (('<ToleranceValue linearUnit="microns">', "<ToleranceValue>"),
     '<FlatnessCharacteristicMeasurement id="62">',
     r"FlatnessCharacteristicMeasurement id 62 \(line {line}\) states its value and "
     r"requirement in different units"),
    (("2026-03-02T09:00:00Z", "yesterday"), "<ReportPreparationDate>",
     r"ReportPreparationDate \(line {line}\) holds 'yesterday', which is not a date"),
    (("qif3", "qif2"), "<QIFDocument",
     r"root element is http://qifstandards.org/xsd/qif2:QIFDocument"),
    (('<?xml version="1.0" encoding="UTF-8"?>',
      '<?xml version="1.0"?>\n<!DOCTYPE q [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'),
     "<!DOCTYPE", r"line {line} declares a DOCTYPE"),
    (("</Results>\n</QIFDocument>", "</Results>\n"), "",
     r"not well-formed XML at line {line}, column \d+: no element found"),
], ids=["ambiguous-component", "dangling-reference", "not-a-number", "mixed-units",
        "not-a-date", "qif2-namespace", "doctype-entities", "truncated"])
def test_a_broken_file_names_the_element_and_writes_nothing(
        ledger: thread.Ledger, ledger_url: str, tmp_path: Path,
        change: tuple[str, str], needle: str, expected: str) -> None:
    """Ambiguous, dangling, non-numeric, mixed-unit, undated, foreign, DTD, cut input: refused."""
    _register(ledger, "SN-A", "SN-B")
    old, new = change
    assert old in SYNTHETIC
    text = SYNTHETIC.replace(old, new, 1)
    broken = _write(tmp_path, text)
    before = row_counts(ledger_url)
    line = _line(text, needle) if needle else text.count("\n") + 1  # a cut file ends there
    with pytest.raises(MalformedQIF, match=r"housing\.QIF.*" + expected.format(line=line)):
        import_results(ledger, [broken])
    assert row_counts(ledger_url) == before


EXPLODED = """<?xml version="1.0" encoding="UTF-8"?>
<QIFDocument xmlns="http://qifstandards.org/xsd/qif3" idMax="4" versionQIF="3.0.0">
  <QPId>C7523054-ADB7-47bb-AA6D-8B9B4AEC1556</QPId>
  <ExternalQIFReferences n="1">
    <ExternalQIFDocument id="1"><QPId>6558F196-D952-4b80-8054-0A0756D60526</QPId>
      <URI>./Exploded_Plan.QIF</URI></ExternalQIFDocument>
  </ExternalQIFReferences>
  <Results><MeasurementResultsSet n="1"><MeasurementResults id="2">
    <MeasuredCharacteristics><CharacteristicMeasurements n="1">
      <SphericityCharacteristicMeasurement id="4">
        <Status><CharacteristicStatusEnum>FAIL</CharacteristicStatusEnum></Status>
        <CharacteristicItemId xId="6">1</CharacteristicItemId><Value>0.251457258827</Value>
      </SphericityCharacteristicMeasurement>
    </CharacteristicMeasurements></MeasuredCharacteristics>
    <InspectionStatus><InspectionStatusEnum>FAIL</InspectionStatusEnum></InspectionStatus>
  </MeasurementResults></MeasurementResultsSet></Results>
</QIFDocument>
"""


def test_results_pointing_into_a_separate_plan_are_refused(tmp_path: Path) -> None:
    """A measurement whose characteristic lives in another QIF file is named, with that file."""
    exploded = _write(tmp_path, EXPLODED, "exploded.QIF")
    line = _line(EXPLODED, "<CharacteristicItemId xId")
    with pytest.raises(MalformedQIF, match=rf"exploded\.QIF: CharacteristicItemId \(line {line}\) "
                                           r"refers to characteristic item 6 in another QIF "
                                           r"document \(\./Exploded_Plan\.QIF\)"):
        read_results(exploded, serial="SN-1")


def test_several_results_sets_in_one_file(ledger: thread.Ledger, tmp_path: Path) -> None:
    """Each MeasurementResults of a file is its own report, with its own source record ids."""
    _register(ledger, "SN-A", "SN-B")
    split = SYNTHETIC.replace(
        "          <DiameterCharacteristicMeasurement id=\"63\">",
        "        </CharacteristicMeasurements></MeasuredCharacteristics>\n"
        "        <InspectionStatus><InspectionStatusEnum>FAIL</InspectionStatusEnum>"
        "</InspectionStatus>\n"
        "        <ActualComponentIds n=\"1\"><Id>50</Id></ActualComponentIds>\n"
        "      </MeasurementResults>\n      <MeasurementResults id=\"41\">\n"
        "        <MeasuredCharacteristics><CharacteristicMeasurements n=\"2\">\n"
        "          <DiameterCharacteristicMeasurement id=\"63\">",
    ).replace('<ActualComponentIds n="2"><Id>50</Id><Id>51</Id>',
              '<ActualComponentIds n="1"><Id>51</Id>')
    split = split.replace("<ActualComponentId>50</ActualComponentId>", "").replace(
        "<ActualComponentId>51</ActualComponentId>", "")
    (done,) = import_results(ledger, [_write(tmp_path, split)])
    assert [(r.key, r.report, r.measurements, r.failures) for r in done.reports] == [
        ("SN-A", "FAI-2026-014", 3, 1),
        ("SN-B", "0b7e1f5e-7d4c-4b8e-9a51-1c2d3e4f5a60", 2, 2)]  # no report number: the QPId
    # Record ids say what was measured, not which file or results set said so.
    ids = [e.source_record_id or "" for e in ledger.history("SN-B")[1:]]
    assert [i.rsplit("/", 1)[0] for i in ids] == [
        "part:SN-B/1", "part:SN-B/3", "part:SN-B/report"]
    assert all(re.fullmatch(r"[0-9a-f]{20}", i.rsplit("/", 1)[1]) for i in ids)


def test_an_unknown_unit_name_is_refused_whatever_its_factor(tmp_path: Path) -> None:
    """A factor of 0.001 to metre does not say the author meant millimetres: refused."""
    text = (VECTORS / "SheetMetal_QIF_Results_sample_2.QIF").read_text()
    renamed = _write(tmp_path, text.replace("<UnitName>mm</UnitName>",
                                            "<UnitName>Millimetres (ISO)</UnitName>"))
    with pytest.raises(UnknownUnit, match=r"'Millimetres \(ISO\)'.* does not know"):
        read_results(renamed)


# Order and repetition do not matter

Stored = dict[str, tuple[datetime, str]]
_REFERENCE: dict[str, Stored] = {}


def _stored(url: str) -> Stored:
    """source record id -> (occurred_at, fact as JSON) of every fact the QIF adapter recorded."""
    ledger = thread.open(url, actor="tester")
    try:
        return {event.source_record_id or "": (event.occurred_at, event.fact.model_dump_json())
                for _, event in ledger.scan() if event.source == SOURCE}
    finally:
        ledger.close()


def _imported_into_fresh_ledger(order: list[str]) -> Stored:
    with tempfile.TemporaryDirectory() as folder:
        url = str(Path(folder) / "ledger.db")
        ledger = thread.open(url, actor="tester")
        try:
            _register(ledger, *SERIALS.values())
            _import_all(ledger, order)
        finally:
            ledger.close()
        return _stored(url)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(SERIALS)), min_size=1, max_size=8))
def test_any_order_and_repetition_yield_the_same_facts(order: list[str]) -> None:
    """Importing files in any order, any number of times, stores exactly the facts of one import."""
    if "all" not in _REFERENCE:
        _REFERENCE["all"] = _imported_into_fresh_ledger(sorted(SERIALS))
    started = datetime.now(UTC)
    stored = _imported_into_fresh_ledger(order)
    planned = {p.source_record_id: p.occurred_at for name in set(order)
               for p in read_results(VECTORS / name, serial=_serial_option(name)).facts}
    assert stored.keys() == planned.keys()
    assert len(stored) == sum(KNOWN_COUNTS[name][0] + 1 for name in set(order))
    for key, (occurred_at, fact) in stored.items():
        assert fact == _REFERENCE["all"][key][1]
        # A file that states no time at all (the Mitutoyo sample) happens when imported.
        assert occurred_at == planned[key] if planned[key] is not None else (
            occurred_at >= started)


# The command line


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"THREAD_DB": None})
    return result.exit_code, result.output


def test_cli_prints_counts_per_file_then_nothing_new(tmp_path: Path) -> None:
    """thread import qif names each file's part, measurements, failures and new facts."""
    db = str(tmp_path / "plant.db")
    ledger = thread.open(db, actor="tester")
    _register(ledger, "SN5802802", "SN5802803")
    ledger.close()
    files = [str(VECTORS / "SheetMetal_QIF_Results_sample_2.QIF"),
             str(VECTORS / "SheetMetal_QIF_Results_sample_3.QIF")]
    code, output = _run("--db", db, "import", "qif", *files)
    assert code == 0, output
    assert ("SheetMetal_QIF_Results_sample_2.QIF: part SN5802802: 38 measurements, 2 failures; "
            "39 facts new, 0 already present") in output
    assert "Recorded 78 new facts from 2 files" in output
    code, output = _run("--db", db, "import", "qif", *files, "--json")
    assert code == 0, output
    summary = json.loads(output)
    assert (summary["new"], summary["already_present"]) == (0, 78)
    assert [(r["serial"], r["measurements"], r["failures"], r["report"])
            for file in summary["files"] for r in file["reports"]] == [
        ("SN5802802", 38, 2, "CheckMate Inspection Program"),
        ("SN5802803", 38, 2, "CheckMate Inspection Program")]


def test_cli_serial_option_and_errors(tmp_path: Path) -> None:
    """--serial names the part of a file without one; errors are one line, exit 1, no writes."""
    db = str(tmp_path / "plant.db")
    ledger = thread.open(db, actor="tester")
    _register(ledger, "WIDGET-0001")
    ledger.close()
    widget = str(VECTORS / "WIDGET_QIF_RESULTS.QIF")
    code, output = _run("--db", db, "import", "qif", widget)
    assert code == 1
    assert output.startswith("Error: WIDGET_QIF_RESULTS.QIF: ActualComponent id 4 (line 1821) "
                             "has no serial number")
    assert output.count("\n") == 1
    code, output = _run("--db", db, "import", "qif", widget, "--serial", "NOPE")
    assert code == 1
    assert "register the part first" in output
    code, output = _run("--db", db, "import", "qif", widget, "--serial", "A", "--lot", "B")
    assert code == 2
    assert "not both" in output
    ledger = thread.open(db, actor="tester")
    assert ledger.count() == 1
    ledger.close()
    code, output = _run("--db", db, "import", "qif", widget, "--serial", "WIDGET-0001", "--json")
    assert code == 0, output
    assert json.loads(output)["files"][0]["reports"][0]["statuses"] == {"PASS": 37, "FAIL": 5}


def test_errors_belong_to_the_ledger_hierarchy() -> None:
    """Every QIF refusal is a LedgerError, so callers and the CLI handle them like the rest."""
    for error in (QIFError, MalformedQIF, UnknownUnit, UnregisteredPart):
        assert issubclass(error, LedgerError)
