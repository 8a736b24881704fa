"""How facts and events read on a terminal and in JSON: one-line summaries, tables, records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from thread.domain import facts as f
from thread.domain.chain import Recorded

#: Fields that name the subject; a summary leaves them out since the subject is known.
_SUBJECT_FIELDS = frozenset({"serial", "lot", "machine", "part_number", "kind", "key"})


def summarize(fact: f.Fact) -> str:
    """One line saying what ``fact`` records, without naming its subject again."""
    match fact:
        case f.RevisionReleased():
            drawing = fact.drawing + (f" rev {fact.drawing_revision}"
                                      if fact.drawing_revision else "")
            return (f"rev {fact.revision} {fact.part_name}, drawing {drawing}, "
                    f"{len(fact.characteristics)} characteristics")
        case f.MachineRegistered():
            where = "/".join(part for part in (fact.site, fact.line) if part)
            return f"{fact.name}, {fact.kind}" + (f" at {where}" if where else "")
        case f.PartRegistered():
            text = f"{fact.part_number} rev {fact.revision}"
            if fact.work_order:
                text += f", work order {fact.work_order}"
            return text + (" (undocumented)" if fact.undocumented else "")
        case f.MaterialLotReceived():
            return (f"{fact.quantity:g} {fact.unit} {fact.material} from {fact.supplier}"
                    + (f", certificate {fact.certificate_number}"
                       if fact.certificate_number else ""))
        case f.MaterialConsumed():
            return f"{fact.quantity:g} {fact.unit} from lot {fact.material_lot}"
        case f.OperationPerformed():
            where = fact.machine or fact.station
            return (f"{fact.operation} on {where} by {fact.operator}"
                    + (f", program {fact.program}" if fact.program else "")
                    + f", {fact.cycle_time_s:g} s")
        case f.ProcessRecorded():
            return "; ".join(f"{p.name} {p.mean:g} {p.unit} (sd {p.sd:g}, n {p.n})"
                             for p in fact.parameters)
        case f.ComponentInstalled():
            return f"installed {fact.component}" + _at(fact.position)
        case f.ComponentRemoved():
            return f"removed {fact.component}: {fact.reason}"
        case f.InstalledInto():
            return f"into {fact.assembly}" + _at(fact.position)
        case f.RemovedFrom():
            return f"out of {fact.assembly}: {fact.reason}"
        case f.InspectionRecorded():
            text = f"{fact.verdict.upper()} {fact.characteristic}"
            if fact.name:
                text += f" {fact.name}"
            if fact.measured is not None:
                text += f": {fact.measured:g} {fact.unit or ''}".rstrip()
            if fact.nominal is not None:
                text += f" (nominal {fact.nominal:g} {_tolerance(fact)})"
            return text + (f", {fact.non_conformance}" if fact.non_conformance else "")
        case f.TestRecorded():
            values = ", ".join(f"{v.name} {v.value:g} {v.unit}" for v in fact.values)
            return f"{fact.verdict.upper()} {fact.procedure}" + (f": {values}" if values else "")
        case f.NonConformanceOpened():
            return f"{fact.non_conformance} ({fact.severity}): {fact.description}"
        case f.DispositionRecorded():
            return f"{fact.non_conformance} -> {fact.decision}: {fact.rationale}"
        case f.SignatureApplied():
            return (f"{fact.meaning} of version {fact.signed_version} by {fact.printed_name} "
                    f"({fact.signer})")
        case f.CorrectionRecorded():
            return (f"version {fact.corrects_version} corrected by version "
                    f"{fact.replaced_by_version}: {fact.reason}")
        case f.Quarantined() | f.ReleasedFromQuarantine():
            return (f"{fact.reference}: " if fact.reference else "") + fact.reason
        case f.Shipped():
            return f"to {fact.customer}, order {fact.order}" + (
                f", {fact.carrier}" if fact.carrier else "")
        case f.InstalledAtSite():
            return f"at {fact.site}" + (f", {fact.equipment}" if fact.equipment else "")
        case f.FieldPerformanceReported():
            readings = ", ".join(f"{r.name} {r.value:g} {r.unit}" for r in fact.readings)
            return f"{fact.operating_hours:g} h" + (f": {readings}" if readings else "")
        case f.FailureReported():
            hours = f" after {fact.operating_hours:g} h" if fact.operating_hours is not None else ""
            return f"claim {fact.claim}: {fact.failure_mode}{hours}"
        case f.FailureAnalysisRecorded():
            return f"root cause: {fact.root_cause}; {fact.conclusion}"
        case f.ConditionRecorded():
            exceeded = [m.name for m in fact.metrics if m.exceeded]
            text = f"{fact.window_start:%H:%M}-{fact.window_end:%H:%M}"
            if fact.oee is not None:
                text += f", OEE {fact.oee:.0%}"
            return text + (f", exceeded: {', '.join(exceeded)}" if exceeded else "")
        case f.AlarmRaised():
            return f"{fact.severity} {fact.code}: {fact.text}"
        case _:
            return _generic(fact)


def event_record(event: Recorded) -> dict[str, Any]:
    """An event as plain JSON values: envelope, hashes in hex, the fact's payload."""
    return {
        "version": event.originator_version,
        "topic": event.topic,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "actor": event.actor,
        "source": event.source,
        "source_record_id": event.source_record_id,
        "hash": event.hash.hex(),
        "prev_hash": event.prev_hash.hex(),
        "fact": event.fact.model_dump(mode="json"),
    }


def moment(value: datetime) -> str:
    """A time in UTC to the second, as a table shows it."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, marked when cut."""
    return text if len(text) <= width else text[: width - 3] + "..."


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns under a header; the last column is not padded."""
    widths = [max([len(header), *(len(row[i]) for row in rows)])
              for i, header in enumerate(headers)]
    lines = []
    for cells in (headers, *rows):
        padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=False)]
        lines.append("  ".join([*padded, cells[-1]]))
    return "\n".join(lines)


def _at(position: str | None) -> str:
    return f" at {position}" if position else ""


def _tolerance(fact: f.InspectionRecorded) -> str:
    lower, upper = fact.lower_tolerance, fact.upper_tolerance
    if lower is not None and upper is not None and lower == -upper:
        return f"+/-{upper:g}"
    return f"{_signed(upper)}/{_signed(lower)}"


def _signed(value: float | None) -> str:
    return "?" if value is None else f"{value:+g}"


def _generic(fact: f.Fact) -> str:
    values = fact.model_dump(mode="json", exclude_none=True)
    return ", ".join(
        f"{name}={value}" for name, value in values.items() if name not in _SUBJECT_FIELDS
    )
