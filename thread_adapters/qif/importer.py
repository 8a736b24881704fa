"""Importing QIF results files into a ledger: every file of one call in one transaction, or
nothing.

Each file is opened (read and checked but for its measurements) before anything is
written; then its reports are read one at a time, each checked against the part it names
and written to one :meth:`~thread.ledger.Ledger.stream` for the whole call, so a file of
any size imports in the memory of its plan and one part's measurements, and any error,
in any file, leaves nothing of the call written."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from thread.domain import conformance
from thread.domain import facts as f
from thread.domain.design import DesignItem
from thread.domain.part import Item
from thread.errors import LedgerError, UnknownSubject
from thread.ledger import Ledger
from thread_adapters.qif.errors import ForeignReport, QIFError, UnregisteredPart
from thread_adapters.qif.results import (
    SOURCE,
    Kind,
    OpenResults,
    PartReport,
    Planned,
    open_results,
)


@dataclass(frozen=True)
class ImportedFile:
    """What importing one QIF file did: its reports (without their facts, which are in the
    ledger), and how many facts were new."""

    path: Path
    reports: tuple[PartReport, ...]
    measurements: int
    failures: int
    new: int
    already_present: int
    #: The measuring system's verdicts that value against tolerance contradicts (kept).
    disagreements: int = 0


def import_results(
    ledger: Ledger,
    paths: Iterable[str | Path],
    *,
    serial: str | None = None,
    lot: str | None = None,
    actor: str | None = None,
    scrapped: bool = False,
    material_lot: bool = False,
) -> list[ImportedFile]:
    """Record the measurements of QIF 3 results files, all in one transaction.

    Every file is read and checked before anything is written: a malformed
    file, an unknown unit or a part the ledger does not know raises a
    :class:`~thread_adapters.qif.errors.QIFError` and nothing of any file is
    recorded. ``serial`` (or ``lot``) names the part of files whose actual
    component states no serial number. Facts already recorded from the same
    file count as ``already_present``: importing a file again changes nothing, and
    neither does the same measurements exported again into a new file.

    A report must belong to the part it names: the file's part number or model is
    the part's design (its part number, name or drawing), and every characteristic
    it measured is one of the released revision's (by balloon, else by name) with
    the same nominal and a unit of the same quantity; the first mismatch is
    refused. Results for a scrapped part, or for a material lot, are refused
    unless ``scrapped`` or ``material_lot`` says they are meant.
    """
    files = [open_results(path, serial=serial, lot=lot) for path in paths]
    checks = _Checks(ledger, scrapped=scrapped, material_lot=material_lot)
    imported: list[ImportedFile] = []
    try:
        with ledger.stream(source=SOURCE, actor=actor) as stream:
            for results in files:
                written, duplicates = stream.written, stream.duplicates
                reports = []
                for report in results.reports():
                    report = checks.belonging(results, report)
                    for planned in report.facts:
                        stream.record(planned.fact, occurred_at=planned.occurred_at,
                                      source_record_id=planned.source_record_id)
                    reports.append(replace(report, facts=()))
                stream.flush()
                imported.append(ImportedFile(
                    results.path, tuple(reports),
                    sum(report.measurements for report in reports),
                    sum(report.failures for report in reports),
                    stream.written - written, stream.duplicates - duplicates,
                    sum(report.disagreements for report in reports)))
    except QIFError:
        raise
    except LedgerError as error:
        error.add_note("nothing of the QIF files was recorded")
        raise
    return imported


@dataclass
class _Checks:
    """Whether each report belongs to the part it names; the designs read once per call."""

    ledger: Ledger
    scrapped: bool
    material_lot: bool
    designs: dict[str, DesignItem] = field(default_factory=dict)

    def belonging(self, results: OpenResults, report: PartReport) -> PartReport:
        """``report`` checked against its registered part, its characteristics named by the
        design's balloons."""
        item = _registered(self.ledger, results, report.kind, report.key)
        return _belonging(self.ledger, results, report, item, self.design,
                          scrapped=self.scrapped, material_lot=self.material_lot)

    def design(self, part_number: str) -> DesignItem:
        found = self.designs.get(part_number)
        if found is None:
            found = self.designs[part_number] = self.ledger.design(part_number)
        return found


def _registered(ledger: Ledger, results: OpenResults, kind: Kind, key: str) -> Item:
    """The part (or lot) a file measured; one the ledger does not know is refused, naming
    the file."""
    try:
        return ledger.part(key) if kind == "part" else ledger.lot(key)
    except UnknownSubject:
        what = "serial" if kind == "part" else "lot"
        raise UnregisteredPart(
            f"{results.path.name}: measured {kind} {key}, which this ledger does not "
            f"know; register the part first (PartRegistered with {what} {key}), then "
            "import the file again; nothing of the QIF files was recorded"
        ) from None


def _belonging(ledger: Ledger, results: OpenResults, report: PartReport, item: Item,
               designs: Callable[[str], DesignItem], *, scrapped: bool,
               material_lot: bool) -> PartReport:
    """The report checked against the part it names, with the characteristics named by the
    design's balloons."""
    where = f"{results.path.name}: {report.kind} {report.key}"
    if item.scrapped and not scrapped:
        raise ForeignReport(f"{where} was dispositioned scrap; import its results only "
                            f"if they are meant (--scrapped; scrapped=True in Python)")
    if report.kind == "lot" and not material_lot and any(
            isinstance(event.fact, f.MaterialLotReceived)
            for event in ledger.history_of("lot", report.key)[:1]):
        raise ForeignReport(f"{where} is a lot of received material, not of parts made; "
                            f"import its results only if they are meant (--material-lot; "
                            f"material_lot=True in Python)")
    if item.undocumented or item.part_number is None or item.revision is None:
        return report
    release = designs(item.part_number).revisions.get(item.revision)
    if release is None or not release.characteristics:
        return report
    design = f"{item.part_number} rev {item.revision} (drawing {release.drawing})"
    names = {item.part_number, release.part_name, release.drawing}
    if results.model is not None and results.model.strip().casefold() not in {
            name.casefold() for name in names if name}:
        raise ForeignReport(f"{where}: the file measured {results.model!r}, but the part "
                            f"is {design}, {release.part_name!r}")
    return replace(report, facts=tuple(
        _matched(planned, release, where, design) for planned in report.facts))


def _matched(planned: Planned, release: f.RevisionReleased, where: str, design: str
             ) -> Planned:
    fact = planned.fact
    if not isinstance(fact, f.InspectionRecorded):
        return planned
    found = next((c for c in release.characteristics if c.balloon == fact.characteristic),
                 None)
    if found is None and fact.name is not None:
        # By name only where the drawing has one characteristic of that name.
        named_so = [c for c in release.characteristics
                    if c.name.casefold() == fact.name.casefold()]
        found = named_so[0] if len(named_so) == 1 else None
    named = f"characteristic {fact.characteristic} ({fact.name or 'unnamed'})"
    if found is None:
        balloons = ", ".join(f"{c.balloon} {c.name}" for c in release.characteristics)
        raise ForeignReport(f"{where}: {named} is not on the drawing of {design} "
                            f"(its characteristics: {balloons})")
    if found.nominal is not None and found.unit and fact.unit:
        for field in ("nominal", "lower_tolerance", "upper_tolerance"):
            stated, drawn = getattr(fact, field), getattr(found, field)
            if stated is None or drawn is None:
                continue
            try:
                value = conformance.convert(stated, fact.unit, found.unit)
            except conformance.UnitError:
                raise ForeignReport(
                    f"{where}: {named} is measured in {fact.unit}, but balloon "
                    f"{found.balloon} of {design} is in {found.unit}") from None
            if not conformance.same(value, drawn):
                raise ForeignReport(
                    f"{where}: {named} has {field.replace('_', ' ')} {stated:g} {fact.unit}, "
                    f"but balloon {found.balloon} of {design} has {drawn:g} {found.unit}")
    if found.balloon == fact.characteristic:
        return planned
    return replace(planned, fact=fact.model_copy(update={"characteristic": found.balloon}))
