"""The production side of a DHR: operations with their machine's condition, process
parameters, materials, components, work environment, distribution and holds."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from thread.domain import condition
from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.domain.condition import ConditionSummary
from thread.domain.part import Part
from thread.records.dhr_record import (
    ActionRow,
    ComponentRow,
    DistributionRow,
    EnvironmentRow,
    MaterialRow,
    OperationRow,
    ParameterRow,
)
from thread.records.evidence import Derivation, EventRef, Reader, Stream, moment
from thread.records.units import readings


class Traceability:
    """What a DHR builder knows about the unit's production, from its stream and the
    machines, lots and components the stream names."""

    reader: Reader
    stream: Stream
    derivations: list[Derivation]

    def ref(self, event: Recorded) -> EventRef:
        """Cite an event of the unit."""
        return self.reader.ref(self.stream, event)

    def derive(self, name: str, source: str) -> None:
        """Note which facts a part of the record comes from."""
        self.derivations.append(Derivation(field=name, derived_from=source))

    def operations(self) -> tuple[OperationRow, ...]:
        self.derive("Operations", "OperationPerformed; machine condition from the machine's "
                    "ConditionRecorded, AlarmRaised and CollectionGapRecorded that share a "
                    "moment with the operation's [start, end) (thread.domain.condition), and "
                    "its last CalibrationRecorded before the start")
        rows = []
        for event, fact in self.stream.facts(f.OperationPerformed):
            text, alert, summary, refs = self.machine_condition(
                fact.machine, fact.started_at, fact.ended_at)
            rows.append(OperationRow(
                operation=fact.operation, station=fact.station, machine=fact.machine,
                operator=fact.operator, program=fact.program,
                program_revision=fact.program_revision, started_at=fact.started_at,
                ended_at=fact.ended_at, cycle_time_s=fact.cycle_time_s,
                machine_condition=text, machine_alert=alert, condition=summary,
                evidence=(self.ref(event), *refs)))
        return tuple(rows)

    def machine_condition(
        self, machine: str | None, start: datetime, end: datetime,
    ) -> tuple[str, bool, ConditionSummary | None, tuple[EventRef, ...]]:
        """What the machine's stream says about one operation's ``[start, end)``, by the
        domain's one rule (:func:`thread.domain.condition.condition_during`); whether
        anything in it (threshold, alarm, data gap, overdue or failed calibration) needs a
        look; the summary; and the events it used."""
        if machine is None:
            return "no machine named", False, None, ()
        stream = self.reader.stream("machine", machine)
        if stream is None:
            return f"machine {machine} not in this copy", True, None, ()
        cited: dict[int, Recorded] = {}  # the machine stream's version -> its event
        windows: list[condition.Window] = []
        alarms: list[condition.Alarm] = []
        gaps: list[condition.Gap] = []
        for event, window in stream.facts(f.ConditionRecorded):
            cited[event.originator_version] = event
            windows.append(condition.Window(
                event.originator_version, condition.nanoseconds(window.window_start),
                condition.nanoseconds(window.window_end),
                metrics=tuple(condition.Metric(m.name, m.unit, m.n, m.min, m.max, m.mean,
                                               m.threshold) for m in window.metrics),
                alarms=tuple(window.alarms_active), availability=window.availability,
                performance=window.performance, quality=window.quality))
        for event, alarm in stream.facts(f.AlarmRaised):
            cited[event.originator_version] = event
            alarms.append(condition.Alarm(
                event.originator_version, alarm.code, alarm.text, alarm.severity,
                condition.nanoseconds(alarm.raised_at),
                None if alarm.cleared_at is None else condition.nanoseconds(alarm.cleared_at)))
        for event, gap in stream.facts(f.CollectionGapRecorded):
            cited[event.originator_version] = event
            gaps.append(condition.Gap(
                event.originator_version, condition.nanoseconds(gap.gap_start),
                condition.nanoseconds(gap.gap_end), gap.reason))
        summary = condition.condition_during(
            machine, condition.nanoseconds(start), condition.nanoseconds(end),
            windows, alarms, gaps)
        used = [cited[position] for position in (
            *summary.windows, *(a.position for a in summary.alarms),
            *(g.position for g in summary.gaps))]
        notes = [summary.describe()]
        alert = bool(summary.exceeded or summary.alarms_active or summary.gaps)
        calibrations = [(e, c) for e, c in stream.facts(f.CalibrationRecorded)
                        if e.occurred_at <= start]
        if calibrations:
            event, calibration = calibrations[-1]
            used.append(event)
            overdue = calibration.due is not None and calibration.due < start
            alert |= overdue or calibration.result == "fail"
            notes.append(f"last calibration {calibration.result} "
                         f"{moment(event.occurred_at)}" + (" (OVERDUE)" if overdue else ""))
        return ("; ".join(notes), alert, summary,
                self.reader.refs(stream, dict.fromkeys(used)))

    def parameters(self) -> tuple[ParameterRow, ...]:
        self.derive("Process parameters", "ProcessRecorded parameter summaries")
        return tuple(ParameterRow(
            operation=fact.operation, machine=fact.machine, parameter=p.name, unit=p.unit, n=p.n,
            min=p.min, max=p.max, mean=p.mean, sd=p.sd, event=self.ref(event))
            for event, fact in self.stream.facts(f.ProcessRecorded) for p in fact.parameters)

    def materials(self) -> tuple[MaterialRow, ...]:
        self.derive("Materials", "MaterialConsumed, with the lot's MaterialLotReceived; the "
                    "certificate digest of the consumption is compared with the receipt's")
        rows = []
        for event, consumed in self.stream.facts(f.MaterialConsumed):
            refs = [self.ref(event)]
            lot = self.reader.stream("lot", consumed.material_lot)
            receipt = lot.first(f.MaterialLotReceived) if lot else None
            received = receipt[1] if receipt else None
            if lot is not None and receipt is not None:
                refs.append(self.reader.ref(lot, receipt[0]))
            if received is None:
                check = "no receipt of the lot in this copy"
            elif consumed.certificate_digest is None or received.certificate_digest is None:
                check = "not checked: a certificate digest is not recorded"
            elif consumed.certificate_digest == received.certificate_digest:
                check = "certificate digest matches the lot's receipt"
            else:
                check = "MISMATCH: certificate digest differs from the lot's receipt"
            rows.append(MaterialRow(
                lot=consumed.material_lot, quantity=consumed.quantity, unit=consumed.unit,
                material=received.material if received else None,
                specification=received.specification if received else None,
                supplier=received.supplier if received else None,
                heat=received.heat if received else None,
                certificate_number=received.certificate_number if received else None,
                certificate_digest=consumed.certificate_digest or (
                    received.certificate_digest if received else None),
                certificate_check=check, evidence=tuple(refs)))
        return tuple(rows)

    def components(self) -> tuple[ComponentRow, ...]:
        self.derive("Components", "ComponentInstalled / ComponentRemoved on the unit; each "
                    "component's PartRegistered and acceptance from its own facts")
        removed = {fact.component: (event, fact)
                   for event, fact in self.stream.facts(f.ComponentRemoved)}
        rows = []
        for event, installed in self.stream.facts(f.ComponentInstalled):
            refs = [self.ref(event)]
            component = self.reader.stream("part", installed.component)
            registration = component.first(f.PartRegistered) if component else None
            reg = registration[1] if registration else None
            acceptance = "component not in this copy"
            if component is not None:
                if registration is not None:
                    refs.append(self.reader.ref(component, registration[0]))
                state = cast(Part, Part.replay(installed.component, component.events))
                decisions = [n.id + " " + (n.decision or "open")
                             for n in state.non_conformances.values()]
                acceptance = (f"{state.inspections} inspections, {state.failed_inspections} "
                              "failed" + (f"; {', '.join(decisions)}" if decisions else "")
                              + ("; QUARANTINED" if state.quarantined else "")
                              + ("; registered undocumented (no released revision)"
                                 if reg is not None and reg.undocumented else ""))
            removal = removed.get(installed.component)
            if removal is not None:
                refs.append(self.ref(removal[0]))
            rows.append(ComponentRow(
                serial=installed.component, position=installed.position,
                part_number=reg.part_number if reg else None,
                revision=reg.revision if reg else None, udi=reg.udi if reg else None,
                installed_at=event.occurred_at,
                removed=(f"{moment(removal[0].occurred_at)}: {removal[1].reason}"
                         if removal else None),
                acceptance=acceptance, evidence=tuple(refs)))
        return tuple(rows)

    def environment(self) -> tuple[EnvironmentRow, ...]:
        self.derive("Work environment", "EnvironmentRecorded")
        return tuple(EnvironmentRow(
            area=fact.area, started_at=fact.started_at, ended_at=fact.ended_at,
            readings=readings(fact.readings),
            event=self.ref(event)) for event, fact in self.stream.facts(f.EnvironmentRecorded))

    def distribution(self) -> tuple[DistributionRow, ...]:
        self.derive("Distribution (consignee)", "Shipped and InstalledAtSite")
        rows = [DistributionRow(
            kind="shipped", consignee=fact.customer, reference=fact.order,
            destination=fact.destination,
            carrier=" ".join(x for x in (fact.carrier, fact.tracking) if x) or None,
            at=event.occurred_at, event=self.ref(event))
            for event, fact in self.stream.facts(f.Shipped)]
        rows += [DistributionRow(
            kind="installed at site", consignee=fact.site, reference=fact.equipment,
            destination=None, carrier=fact.installer, at=event.occurred_at, event=self.ref(event))
            for event, fact in self.stream.facts(f.InstalledAtSite)]
        return tuple(sorted(rows, key=lambda row: row.at))

    def actions(self) -> tuple[ActionRow, ...]:
        self.derive("Holds, releases, recalls, CAPA", "Quarantined, ReleasedFromQuarantine, "
                    "Recalled, CorrectiveActionOpened, CorrectiveActionClosed")
        rows = []
        for event in self.stream.events:
            fact = event.fact
            match fact:
                case f.Quarantined() | f.ReleasedFromQuarantine():
                    action = "quarantined" if isinstance(fact, f.Quarantined) else "released"
                    rows.append((action, fact.reference, fact.reason, event))
                case f.Recalled():
                    rows.append(("recalled", fact.recall, fact.reason, event))
                case f.CorrectiveActionOpened():
                    rows.append(("CAPA opened", fact.capa, fact.problem, event))
                case f.CorrectiveActionClosed():
                    rows.append(("CAPA closed", fact.capa, fact.resolution + (
                        "" if fact.effective else " (not effective)"), event))
        return tuple(ActionRow(action=action, reference=reference, text=text,
                               at=event.occurred_at, actor=event.actor, event=self.ref(event))
                     for action, reference, text, event in rows
                     if event.originator_version not in self.stream.superseded)

