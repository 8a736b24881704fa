"""Bearings on the grinding line: ground, gauged, held after a vibration alarm, and reviewed.

A bearing ground while its grinder's spindle vibrates more carries it in its own process
record (the ``vibration`` parameter) and, from chatter, a rougher raceway; what that does
to its life in service is ``failures``' business."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from thread.demo.catalogue import (
    BEARING,
    BEARINGS_PER_LOT,
    GAUGINGS,
    GRINDERS,
    LOTS,
    REVISION,
    SITE,
    STEEL_PER_BEARING,
    VIBRATION_LIMIT,
    Gauging,
)
from thread.demo.journal import Journal
from thread.demo.machines import BASELINE, Grinders, Window, vibration, wear
from thread.demo.quality import Quality
from thread.demo.shifts import due, on_shift, operator
from thread.domain import facts as f
from thread.domain.facts.quality import Decision, Verdict


@dataclass(frozen=True)
class Ready:
    """A bearing that passed (or was dispositioned fit for use), waiting for a hub."""

    serial: str
    at: datetime
    chatter: float | None  # how far its grinder's spindle bearing had failed (0 to 1), if it had
    held: bool  # quarantined after a vibration alarm, reviewed and released


class GrindingLine:
    """Makes bearings one by one; those fit for use wait in ``ready`` for a hub."""

    def __init__(self, journal: Journal, grinders: Grinders, certificates: dict[str, str],
                 quality: Quality) -> None:
        self.journal = journal
        self.grinders = grinders
        self.certificates = certificates  # digest of each material lot's mill certificate
        self.quality = quality
        self.ready: list[Ready] = []
        self.non_conformances = 0

    def bearing(self, index: int) -> datetime:
        """Make, gauge and disposition one bearing; return when it was last on its grinder."""
        journal = self.journal
        serial = f"BRG-{index + 1:06d}"
        rng = journal.rng("bearing", serial)
        machine = GRINDERS[index % len(GRINDERS)]
        start = due(index) + timedelta(seconds=rng.randint(0, 1800))
        cycle = round(rng.gauss(96.0, 3.0), 1)
        end = start + timedelta(seconds=cycle)
        window = self.grinders.window(machine, start)
        chatter = wear(machine, start)
        person = operator(machine, start)
        lot = LOTS[(index // BEARINGS_PER_LOT) % len(LOTS)]

        journal.add(f.PartRegistered(serial=serial, part_number=BEARING, revision=REVISION,
                                     work_order=f"WO-{start:%y%m%d}-BRG", site=SITE),
                    start - timedelta(minutes=20), "mes")
        journal.add(f.MaterialConsumed(
            serial=serial, material_lot=lot.lot, quantity=STEEL_PER_BEARING, unit="kg",
            certificate_digest=self.certificates[lot.lot],
        ), start - timedelta(minutes=15), person)
        journal.add(f.OperationPerformed(
            serial=serial, operation="OP30-grind-bore-raceway", station="GRIND-CELL-1",
            machine=machine, operator=person, program="BRG6204-IG", program_revision="7",
            started_at=start, ended_at=end, cycle_time_s=cycle,
        ), end, person)
        journal.add(f.ProcessRecorded(
            serial=serial, operation="OP30-grind-bore-raceway", machine=machine,
            started_at=start, ended_at=end,
            parameters=_process(rng, machine, window, start, n=int(cycle // 2)),
        ), end, machine)

        at = end + timedelta(minutes=15)
        # Chatter from a vibrating spindle roughens the raceway.
        excess = vibration(machine, start) - BASELINE[machine]
        failures = self.gauge(serial, rng, at, "first", start, roughening=0.025 * excess)
        if window.exceeded:
            self.hold(serial, window)
        scrapped, at, last = self.review(serial, rng, machine, failures, at, start)
        manager = self.quality.manager
        if window.exceeded and not scrapped:
            at = max(at, window.end) + timedelta(hours=4)
            journal.add(f.ReleasedFromQuarantine(
                serial=serial, reference=window.hold,
                reason="inspection results reviewed against the vibration event; "
                       "fit for use",
            ), at, manager.signer, sign=manager, meaning="approval")
        if not scrapped:
            self.quality.release(journal, serial, at + timedelta(minutes=20))
            self.ready.append(Ready(serial, at + timedelta(minutes=30), chatter,
                                    window.exceeded))
        return max(end, last)

    def hold(self, serial: str, window: Window) -> None:
        """Quarantine a bearing ground in a shift whose spindle vibration passed the limit,
        once the shift's condition record shows it."""
        shift = "early" if window.index % 2 == 0 else "late"
        self.journal.counts["quarantined"] += 1
        self.journal.add(f.Quarantined(
            serial=serial, reference=window.hold,
            reason=f"ground on {window.machine} in the {shift} shift of "
                   f"{window.start:%Y-%m-%d}, when spindle vibration peaked at "
                   f"{window.peak:g} mm/s, above the {VIBRATION_LIMIT} mm/s limit",
        ), window.end + timedelta(minutes=5), "quality")

    def gauge(self, serial: str, rng: random.Random, at: datetime, tag: str,
              produced: datetime, *, roughening: float = 0.0,
              reground: tuple[Gauging, ...] = ()) -> list[tuple[Gauging, float]]:
        """Measure the characteristics (only the reground ones after a rework) and report
        them; return the ones out of tolerance with their values."""
        failures: list[tuple[Gauging, float]] = []
        gaugings = reground or GAUGINGS
        for gauging in gaugings:
            char = gauging.characteristic
            mean, sd = gauging.mean, gauging.sd
            if reground:  # regrinding aims at the middle of the limits
                mean, sd = (gauging.low + gauging.high) / 2, sd / 2
            elif char.balloon == "4":
                mean += roughening
            measured = round(max(rng.gauss(mean, sd), 10.0 ** -gauging.digits), gauging.digits)
            verdict: Verdict = "pass" if char.conforms(measured) else "fail"
            if verdict == "fail":
                failures.append((gauging, measured))
            self.journal.counts["inspections"] += 1
            self.journal.counts["failed inspections"] += verdict == "fail"
            self.journal.add(f.InspectionRecorded(
                serial=serial, characteristic=char.balloon, name=char.name,
                method=gauging.method, gauge=gauging.gauge, measured=measured, unit=char.unit,
                nominal=char.nominal, lower_tolerance=char.lower_tolerance,
                upper_tolerance=char.upper_tolerance, verdict=verdict,
                report=f"IR-{serial}-{tag}",
                non_conformance=self.next_nc() if verdict == "fail" else None,
            ), at, "inspector", tag=f"{tag}/{char.balloon}")
            at += timedelta(minutes=1)
        self.quality.report(self.journal, serial, BEARING, f"IR-{serial}-{tag}",
                            measurements=len(gaugings), failures=len(failures), at=at,
                            produced=produced)
        return failures

    def next_nc(self) -> str:
        """The number the next non-conformance will get."""
        return f"NC-26-{self.non_conformances + 1:04d}"

    def review(self, serial: str, rng: random.Random, machine: str,
               failures: list[tuple[Gauging, float]], at: datetime, produced: datetime
               ) -> tuple[bool, datetime, datetime]:
        """Open a non-conformance for failed gauging and disposition it: whether it was
        scrapped, when the review ended, and when the bearing was last on its grinder."""
        journal = self.journal
        rounds = 0
        last = produced
        while failures:
            rounds += 1
            nc = self.next_nc()
            self.non_conformances += 1
            decision = _decide(failures) if rounds == 1 else "scrap"
            gauging, _ = failures[0]
            at += timedelta(minutes=10)
            journal.add(f.NonConformanceOpened(
                serial=serial, non_conformance=nc, characteristic=gauging.characteristic.balloon,
                description="; ".join(g.deviation(value) for g, value in failures),
                severity=_severity(failures),
            ), at, "inspector")
            at += timedelta(hours=4)
            journal.add(f.DispositionRecorded(
                serial=serial, non_conformance=nc, decision=decision,
                rationale=_rationale(decision, failures), reference=f"MRB-{at:%y%m%d}",
            ), at, self.quality.mrb.signer, sign=self.quality.mrb)
            journal.example = journal.example or serial
            if decision == "scrap":
                journal.counts["scrapped"] += 1
                return True, at, last
            if decision != "rework":
                return False, at, last
            cycle = round(rng.gauss(58.0, 3.0), 1)
            at = on_shift(at + timedelta(hours=1), within=timedelta(seconds=cycle))
            last = at + timedelta(seconds=cycle)
            person = operator(machine, at)
            journal.add(f.OperationPerformed(
                serial=serial, operation="OP35-rework-grind", station="GRIND-CELL-1",
                machine=machine, operator=person, program="BRG6204-RW",
                program_revision="3", started_at=at, ended_at=at + timedelta(seconds=cycle),
                cycle_time_s=cycle,
            ), at + timedelta(seconds=cycle), person, tag=nc)
            at += timedelta(minutes=20)
            failures = self.gauge(serial, rng, at, f"recheck-{rounds}", produced,
                                  reground=tuple(g for g, _ in failures))
        return False, at, last


def _process(rng: random.Random, machine: str, window: Window, start: datetime, n: int
             ) -> tuple[f.ParameterSummary, ...]:
    """Grinding parameters sampled every two seconds of one cycle; the vibration follows the
    spindle's level at the time, within what its shift's condition record shows."""
    offset = GRINDERS.index(machine) * 0.2
    worn = wear(machine, start)
    series: tuple[tuple[str, str, float, float, int], ...] = (
        ("spindle_speed", "rpm", 24000.0, 35.0, 1),
        ("infeed_rate", "mm/min", 0.8, 0.01, 4),
        ("coolant_temperature", "Cel", 20.4 + offset, 0.15, 2),
        ("vibration", "mm/s", vibration(machine, start) + rng.gauss(0.0, 0.05),
         0.2 + 0.4 * (worn or 0.0), 3),
    )
    summaries = []
    for name, unit, mean, sd, digits in series:
        values = [abs(rng.gauss(mean, sd)) for _ in range(n)]
        if name == "vibration":
            values = [min(max(value, window.low), window.peak) for value in values]
        summaries.append(f.ParameterSummary(
            name=name, unit=unit, n=n, min=round(min(values), digits),
            max=round(max(values), digits), mean=round(statistics.fmean(values), digits),
            sd=round(statistics.stdev(values), digits + 1),
        ))
    return tuple(summaries)


def _decide(failures: list[tuple[Gauging, float]]) -> Decision:
    if all(g.rework == g.side(value) for g, value in failures):
        return "rework"
    if all(g.characteristic.designator == "none" and g.slightly_out(value)
           for g, value in failures):
        return "use-as-is"
    return "scrap"


def _severity(failures: list[tuple[Gauging, float]]) -> Literal["minor", "major", "critical"]:
    designators = {g.characteristic.designator for g, _ in failures}
    if "critical" in designators:
        return "critical"
    return "major" if "key" in designators else "minor"


def _rationale(decision: Decision, failures: list[tuple[Gauging, float]]) -> str:
    names = ", ".join(g.characteristic.name for g, _ in failures)
    if decision == "rework":
        return f"{names}: material left on the ground surface; regrind to mid-tolerance"
    if decision == "use-as-is":
        return f"{names}: deviation within a quarter of the tolerance band on a minor feature"
    return f"{names}: cannot be recovered by regrinding"
