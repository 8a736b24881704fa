"""QIF 3 measurement results as ledger facts, read without touching a ledger.

Each measured characteristic (``CharacteristicMeasurements/*``) of each
actual component becomes one :class:`~thread.facts.InspectionRecorded`; each
``MeasurementResults`` and part gets one
:class:`~thread.facts.InspectionReported` with the report's traceability and
its counts. How the file maps to the facts:

- **Characteristic**: measurement -> ``CharacteristicItem`` (designator,
  name, drawing location, criticality, devices) -> ``CharacteristicNominal``
  (``TargetValue``) -> ``CharacteristicDefinition`` (tolerance). The
  characteristic id is the item's ``CharacteristicDesignator/Designator``
  (the balloon), else its ``Name``, else its QIF id.
- **Requirement**: a ``Tolerance`` with ``MaxValue``/``MinValue`` gives the
  tolerances as deviations from ``TargetValue``; with ``DefinedAsLimit`` true
  they are limits, turned into deviations from ``TargetValue`` (or from the
  middle of the limits when the file has no target). A geometric
  ``ToleranceValue`` T is the requirement 0..T on the measured zone, except
  for a point profile, whose value is a signed deviation within
  ``OuterDisposition - T`` .. ``OuterDisposition`` (default +/-T/2).
- **Verdict, designator, method**: from the file's status, the item's
  criticality and the measurement device, as ``vocabulary`` describes.
- **Times**: a measurement's ``TimeStamp``, else the report's
  ``InspectionEnd``, ``InspectionStart`` or ``ReportPreparationDate``, else
  the document's ``Version/TimeCreated``. QIF defines these times as GMT, so
  a time written without a zone is taken as UTC. A file with no time at all
  is recorded as happening when it is imported.
- **Identity**: source ``qif``; each fact's source record id is the results
  id (``ThisResultsInstanceQPId``, else the document's ``QPId`` and the
  results' QIF id, else the file's SHA-256), the part, and the measurement's
  QIF id, so importing the same file again changes nothing.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PureWindowsPath
from typing import Any, Literal, TypeVar
from xml.etree.ElementTree import Element

from thread.domain import conformance
from thread.domain import facts as f
from thread.domain.facts.measures import Designator
from thread.errors import InvalidFact
from thread_adapters.qif.document import Document, local, words
from thread_adapters.qif.errors import MalformedQIF, QIFError
from thread_adapters.qif.units import FileUnits, quantity_of
from thread_adapters.qif.vocabulary import (
    NO_NON_CONFORMANCE,
    Method,
    designator_of,
    method_of,
    verdict_of,
)

#: The ``source`` of every fact this adapter records.
SOURCE = "qif"

Kind = Literal["part", "lot"]
F = TypeVar("F", f.InspectionRecorded, f.InspectionReported)

@dataclass(frozen=True)
class Planned:
    """A fact ready to record, with when it happened and the source record it comes from."""

    fact: f.InspectionRecorded | f.InspectionReported
    occurred_at: datetime | None
    source_record_id: str


@dataclass(frozen=True)
class PartReport:
    """One QIF ``MeasurementResults`` as it concerns one part (or lot)."""

    kind: Kind
    key: str
    report: str
    inspected_at: datetime | None
    measurements: int
    failures: int
    statuses: dict[str, int]
    facts: tuple[Planned, ...]
    #: Verdicts of the measuring system that value against tolerance contradicts: kept, and
    #: said so on the fact (``verdict_reason``).
    disagreements: int = 0


@dataclass(frozen=True)
class ResultsFile:
    """A QIF results file read into facts: one report per results set and part."""

    path: Path
    digest: str
    reports: tuple[PartReport, ...]
    #: The part number or model the file says it measured (``Product/PartSet/Part``).
    model: str | None = None

    @property
    def disagreements(self) -> int:
        """Verdicts the file states that value against tolerance contradicts."""
        return sum(report.disagreements for report in self.reports)

    @property
    def measurements(self) -> int:
        """Measured characteristics in the file, over every part."""
        return sum(report.measurements for report in self.reports)

    @property
    def failures(self) -> int:
        """Measured characteristics recorded with verdict fail."""
        return sum(report.failures for report in self.reports)

    @property
    def facts(self) -> list[Planned]:
        """Every fact the file yields, in the order it is recorded."""
        return [planned for report in self.reports for planned in report.facts]

    @property
    def subjects(self) -> list[tuple[Kind, str]]:
        """The parts (or lots) the file measured, in file order."""
        return list(dict.fromkeys((report.kind, report.key) for report in self.reports))


def read_results(path: str | Path, *, serial: str | None = None,
                 lot: str | None = None) -> ResultsFile:
    """Read a QIF 3 results file into the facts it yields, without touching a ledger.

    ``serial`` (or ``lot``) names the part measured by a file whose actual
    component has no ``SerialNumber``; it must not contradict a serial the
    file states. Raises :class:`~thread_adapters.qif.errors.QIFError` naming
    the file, the element and its line.
    """
    opened = open_results(path, serial=serial, lot=lot)
    return ResultsFile(opened.path, opened.digest, tuple(opened.reports()), opened.model)


def open_results(path: str | Path, *, serial: str | None = None,
                 lot: str | None = None) -> OpenResults:
    """Open a QIF 3 results file to read its reports one at a time (a large file's facts
    are never all in memory); see :func:`read_results`. Everything but the measurements
    is read and checked here."""
    if serial is not None and lot is not None:
        raise QIFError("give the serial or the lot a QIF file measured, not both")
    return OpenResults(Document.read(Path(path)), serial, lot)


def _digest(parts: list[str | None]) -> str:
    """A short, stable digest of a record's identifying values."""
    joined = "\x1f".join("" if part is None else part for part in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:20]


def _tidy(value: float) -> float:
    # Limits turned into deviations carry binary noise such as 0.2000000000000455.
    return round(value, 12)


class _Traceability:
    """Inspection traceability, most specific first: the results set's, the file's, the plan's."""

    def __init__(self, document: Document, layers: list[Element | None]) -> None:
        self.document = document
        self.layers = [layer for layer in layers if layer is not None]

    def element(self, path: str) -> Element | None:
        for layer in self.layers:
            found = self.document.find(layer, path)
            if found is not None:
                return found
        return None

    def text(self, path: str) -> str | None:
        for layer in self.layers:
            found = self.document.text(layer, path)
            if found is not None:
                return found
        return None

    def moment(self, *paths: str) -> datetime | None:
        for layer in self.layers:
            for path in paths:
                found = self.document.find(layer, path)
                if found is not None:
                    return self.document.moment(found)
        return None


class OpenResults:
    """A QIF results file opened for reading: what it measured, read one report at a time.

    Going through :meth:`reports` reads the measurements from the file, one
    ``MeasurementResults`` at a time, so the memory it takes is that of the
    file's plan and one part's measurements, however many parts it holds.
    """

    def __init__(self, document: Document, serial: str | None, lot: str | None) -> None:
        self.doc = document
        self.path = document.path
        self.digest = document.digest
        self.units = FileUnits(document)
        self.serial = serial
        self.lot = lot
        self.anonymous: set[str | None] = set()
        doc = document
        results = doc.find(doc.root, "q:Results")
        if results is None:
            if doc.find(doc.root, "q:Plan") is not None:
                raise MalformedQIF(
                    f"{doc.name} is a QIF plan (it has a Plan and no Results), not measurement "
                    "results; import the results file measured against it"
                )
            doc.fail(doc.root, "has no Results element, so it holds no measurement results")
        self.sets = doc.findall(results, "q:MeasurementResultsSet/q:MeasurementResults")
        if not self.sets:
            doc.fail(results, "has no MeasurementResultsSet/MeasurementResults")
        self.components = {
            component.get("id", ""): component for component in doc.findall(
                results, "q:ActualComponentSets/q:ActualComponentSet/q:ActualComponent")
        }
        self.shared = [doc.find(results, "q:InspectionTraceability"),
                       doc.find(doc.root, "q:PreInspectionTraceability")]
        part = doc.find(doc.root, "q:Product/q:PartSet/q:Part")
        #: The part number or model the file says it measured (``Product/PartSet/Part``).
        self.model = None if part is None else (doc.text(part, "q:PartNumber")
                                                or doc.text(part, "q:ModelNumber"))

    def reports(self) -> Iterator[PartReport]:
        """Every report of the file in file order: one per results set and part."""
        self.anonymous = set()
        doc = self.doc
        for measured, measurements in doc.measured(self.sets):
            trace = _Traceability(doc, [doc.find(measured, "q:InspectionTraceability"),
                                        *self.shared])
            yield from self._results(measured, measurements, trace)

    def _results(self, results: Element, measurements: list[Element],
                 trace: _Traceability) -> list[PartReport]:
        """One report per actual component of one ``MeasurementResults``."""
        doc = self.doc
        components = self.components
        listed = [ident for ident in (doc.text(element) for element in doc.findall(
            results, "q:ActualComponentIds/q:Id")) if ident is not None]
        groups: dict[str | None, list[Element]] = {ident: [] for ident in listed}
        for measurement in measurements:
            own = doc.text(measurement, "q:ActualComponentId")
            if own is None and len(listed) > 1:
                doc.fail(measurement, "does not say which of the actual components "
                                      f"{', '.join(listed)} it measured (no ActualComponentId)")
            groups.setdefault(own if own is not None else (listed[0] if listed else None),
                              []).append(measurement)
        if not groups:
            groups[None] = []
        inspected_at = trace.moment("q:InspectionEnd", "q:InspectionStart",
                                    "q:ReportPreparationDate")
        if inspected_at is None:
            created = doc.find(doc.root, "q:Version/q:TimeCreated")
            inspected_at = None if created is None else doc.moment(created)
        reports = []
        for ident, measurements in groups.items():
            component = None
            if ident is not None:
                component = components.get(ident)
                if component is None:
                    doc.fail(results, f"names actual component {ident}, which this file does "
                                      "not define")
            kind, key = self._subject(results, ident, component)
            reports.append(self._report(results, kind, key, measurements, trace, inspected_at))
        return reports

    def _subject(self, results: Element, ident: str | None,
                 component: Element | None) -> tuple[Kind, str]:
        """The part a component is: its serial number, else the serial or lot given."""
        doc = self.doc
        serial = None if component is None else doc.text(component, "q:SerialNumber")
        if serial is not None:
            if self.lot is not None or self.serial not in (None, serial):
                given = f"lot {self.lot}" if self.lot is not None else f"serial {self.serial}"
                raise QIFError(
                    f"{doc.name}: {doc.where(component or results)} has serial number "
                    f"{serial}, but {given} was given; import files that state their serial "
                    "number without --serial or --lot"
                )
            return "part", serial
        self.anonymous.add(ident)
        element = component if component is not None else results
        if len(self.anonymous) > 1:
            raise QIFError(
                f"{doc.name}: {doc.where(element)} is another actual component without a "
                "serial number; one --serial or --lot cannot tell the components apart, so "
                "add their SerialNumber to the file"
            )
        if self.serial is not None:
            return "part", self.serial
        if self.lot is not None:
            return "lot", self.lot
        raise QIFError(
            f"{doc.name}: {doc.where(element)} has no serial number, so the file does not "
            f"say which part it measured; name it: thread import qif --serial SERIAL "
            f"{doc.name} (or --lot LOT; serial= or lot= in Python)"
        )

    def _report(self, results: Element, kind: Kind, key: str, measurements: list[Element],
                trace: _Traceability, inspected_at: datetime | None) -> PartReport:
        doc = self.doc
        report = (trace.text("q:ReportNumber") or doc.text(results, "q:ThisResultsInstanceQPId")
                  or doc.text(doc.root, "q:QPId") or f"MeasurementResults {results.get('id')}")
        program = self._program(trace)
        prefix = f"{kind}:{key}"
        subject = {"serial" if kind == "part" else "lot": key}
        facts: list[Planned] = []
        statuses: dict[str, int] = {}
        seen: dict[str, int] = {}
        for measurement in measurements:
            planned, status = self._inspection(measurement, subject, report, program,
                                               inspected_at, prefix)
            # Measurements alike in every value (points of one profile) count in file order.
            seen[planned.source_record_id] = repeat = seen.get(planned.source_record_id, 0) + 1
            if repeat > 1:
                planned = replace(planned, source_record_id=f"{planned.source_record_id}#{repeat}")
            facts.append(planned)
            statuses[status] = statuses.get(status, 0) + 1
        disagreements = sum(1 for planned in facts if isinstance(planned.fact, f.InspectionRecorded)
                            and planned.fact.verdict_reason is not None)
        failures = sum(1 for planned in facts
                       if isinstance(planned.fact, f.InspectionRecorded)
                       and planned.fact.verdict == "fail")
        preparer = trace.element("q:ReportPreparer")
        name, employee = doc.text(preparer, "q:Name"), doc.text(preparer, "q:EmployeeId")
        reported = self._fact(
            f.InspectionReported, results, **subject, report=report,
            preparer=f"{name} ({employee})" if name and employee else name or employee,
            organization=trace.text("q:InspectingOrganization/q:Name"),
            supplier=trace.text("q:SupplierCode"),
            purchase_order=trace.text("q:PurchaseOrderNumber"),
            program=program, document_digest=doc.digest,
            measurements=len(measurements), failures=failures,
        )
        reported_at = trace.moment("q:ReportPreparationDate") or inspected_at
        # The same measurements exported again (new file and results ids) are the same
        # report: its record id is that of its measurements, not of the file.
        measured = _digest([planned.source_record_id for planned in facts])
        facts.append(Planned(reported, reported_at, f"{prefix}/report/{measured}"))
        return PartReport(kind, key, report, inspected_at, len(measurements), failures,
                          statuses, tuple(facts), disagreements)

    def _program(self, trace: _Traceability) -> str | None:
        """The inspection program's file name (and version): AS9102 Form 3, field 10."""
        program = trace.element("q:InspectionProgram/q:File")
        name = self.doc.text(program, "q:Name")
        if name is None:
            return None
        name = PureWindowsPath(name).name or name  # the directory is incidental
        version = self.doc.text(program, "q:Version")
        return f"{name} rev {version}" if version else name

    def _inspection(self, measurement: Element, subject: dict[str, str], report: str,
                    program: str | None, inspected_at: datetime | None,
                    prefix: str) -> tuple[Planned, str]:
        """One measured characteristic as an inspection fact, and its QIF status."""
        doc = self.doc
        item = doc.referenced(measurement, "q:CharacteristicItemId", "CharacteristicItem")
        nominal = doc.referenced(item, "q:CharacteristicNominalId", "CharacteristicNominal")
        definition = doc.referenced(nominal, "q:CharacteristicDefinitionId",
                                    "CharacteristicDefinition")
        status = (doc.text(measurement, "q:Status/q:CharacteristicStatusEnum")
                  or doc.text(measurement, "q:Status/q:OtherCharacteristicStatus"))
        if status is None:
            doc.fail(measurement, "has no Status/CharacteristicStatusEnum")
        ident = measurement.get("id")
        if ident is None:
            doc.fail(measurement, "has no id attribute")
        verdict, note = verdict_of(status)
        designation = next((found for found in (doc.find(element, "q:CharacteristicDesignator")
                                                for element in (item, nominal, definition))
                            if found is not None), None)
        characteristic = (doc.text(designation, "q:Designator") or doc.text(item, "q:Name")
                          or f"item {item.get('id')}")
        value = doc.find(measurement, "q:Value")
        measured = None if value is None else doc.number(value)
        nominal_value, lower, upper, carriers = self._requirement(
            definition, doc.find(nominal, "q:TargetValue"))
        unit = self._unit(measurement, [value, *carriers])
        method, gauge = self._device(measurement, item)
        non_conformance = doc.text(measurement, "q:NonConformanceDesignator")
        if non_conformance is not None and non_conformance.upper() in NO_NON_CONFORMANCE:
            non_conformance = None
        stamp = doc.find(measurement, "q:TimeStamp")
        occurred_at = inspected_at if stamp is None else doc.moment(stamp)
        reason = None
        if measured is not None and nominal_value is not None and (
                lower is not None or upper is not None):
            derived = conformance.verdict(measured, conformance.Requirement(
                unit or "", nominal_value, -math.inf if lower is None else lower,
                math.inf if upper is None else upper))
            if derived != verdict:
                reason = (f"the measuring system's verdict (QIF status {status}); value "
                          f"against tolerance gives {derived}")
        fact = self._fact(
            f.InspectionRecorded, measurement, **subject, characteristic=characteristic,
            name=self._name(item, characteristic, note),
            designator=self._designator(designation), location=self._location(item),
            method=method, gauge=gauge, program=program, measured=measured, unit=unit,
            nominal=nominal_value, lower_tolerance=lower, upper_tolerance=upper,
            verdict=verdict, verdict_reason=reason, report=report,
            non_conformance=non_conformance,
        )
        # What was measured, not which file said so: a re-export is recorded once.
        what = _digest([characteristic, fact.name, fact.location, local(measurement.tag),
                        doc.text(item, "q:Name"), repr(measured), unit, repr(nominal_value),
                        repr(lower),
                        repr(upper), verdict, "" if occurred_at is None
                        else occurred_at.isoformat()])
        return Planned(fact, occurred_at, f"{prefix}/{characteristic}/{what}"), status.upper()

    def _requirement(self, definition: Element, target: Element | None
                     ) -> tuple[float | None, float | None, float | None, list[Element]]:
        """(nominal, lower tolerance, upper tolerance) of a characteristic, and the elements
        that state them (each carries a unit)."""
        doc = self.doc
        nominal = None if target is None else doc.number(target)
        for child in definition:
            maximum, minimum = doc.find(child, "q:MaxValue"), doc.find(child, "q:MinValue")
            if not local(child.tag).endswith("Tolerance") or (maximum is None and minimum is None):
                continue
            carriers = [e for e in (target, maximum, minimum) if e is not None]
            upper = None if maximum is None else doc.number(maximum)
            lower = None if minimum is None else doc.number(minimum)
            if doc.text(child, "q:DefinedAsLimit") not in ("true", "1"):
                return nominal, lower, upper, carriers
            if nominal is None:
                nominal = (_tidy((upper + lower) / 2) if upper is not None
                           and lower is not None else upper if upper is not None else lower)
            assert nominal is not None
            return (nominal, None if lower is None else _tidy(lower - nominal),
                    None if upper is None else _tidy(upper - nominal), carriers)
        zone = doc.find(definition, "q:ToleranceValue")
        if zone is None:
            return nominal, None, None, [] if target is None else [target]
        width = doc.number(zone)
        if not local(definition.tag).startswith("PointProfile"):
            return 0.0, 0.0, width, [zone]
        disposition = doc.find(definition, "q:OuterDisposition")
        outer = width / 2 if disposition is None else doc.number(disposition)
        return (0.0, _tidy(outer - width), _tidy(outer),
                [zone] if disposition is None else [zone, disposition])

    def _unit(self, measurement: Element, carriers: list[Element | None]) -> str | None:
        """The one unit of a measurement's value and requirement, or None when it has no number.

        The ledger keeps one unit per inspection, so a file that states the value and
        its requirement in different units is refused rather than converted silently.
        """
        quantity = quantity_of(measurement.tag)
        stated = {self.units.code(element, quantity): element
                  for element in carriers if element is not None}
        if len(stated) > 1:
            mixed = ", ".join(f"{self.doc.where(element)} in {unit}"
                              for unit, element in stated.items())
            self.doc.fail(measurement, f"states its value and requirement in different units "
                                       f"({mixed}); the ledger records one unit per inspection")
        return next(iter(stated), None)

    def _name(self, item: Element, characteristic: str, note: str | None) -> str:
        label = words(item.tag).removesuffix(" characteristic item")
        name = self.doc.text(item, "q:Name")
        text = label.capitalize() if name in (None, characteristic) else f"{name} ({label})"
        return f"{text} [{note}]" if note else text

    def _designator(self, designation: Element | None) -> Designator:
        criticality = self.doc.find(designation, "q:Criticality") if designation is not None \
            else None
        if criticality is None:
            return "none"
        text = self.doc.text
        return designator_of(text(criticality, "q:LevelEnum") or text(criticality, "q:OtherLevel"),
                             text(criticality, "q:AreaEnum") or text(criticality, "q:OtherArea"))

    def _location(self, item: Element) -> str | None:
        """The characteristic's place on the drawing (AS9102 Form 3, field 6)."""
        where = self.doc.find(item, "q:LocationOnDrawing")
        if where is None:
            return None
        parts = [f"{label} {text}" for path, label in (
            ("q:SheetNumber", "sheet"), ("q:DrawingZone", "zone"), ("q:View", "view"))
            if (text := self.doc.text(where, path)) is not None]
        return ", ".join(parts) or None

    def _device(self, measurement: Element, item: Element) -> tuple[Method, str | None]:
        doc = self.doc
        references = (doc.findall(measurement, "q:MeasurementDeviceIds/q:Id")
                      or doc.findall(item, "q:MeasurementDeviceIds/q:Id"))
        if not references:
            return "cmm", None
        ident = doc.text(references[0])
        device = doc.ids.get(ident or "")
        if device is None:
            doc.fail(references[0], f"refers to measurement device {ident}, which this file "
                                    "does not define")
        name = doc.text(device, "q:Name")
        return method_of(local(device.tag), name), name

    def _fact(self, cls: type[F], element: Element, **fields: Any) -> F:
        """Build a fact; a value the fact refuses is an error about this element of the file."""
        try:
            return cls(**fields)
        except InvalidFact as error:
            raise MalformedQIF(
                f"{self.doc.name}: {self.doc.where(element)} cannot be recorded: {error}"
            ) from None
