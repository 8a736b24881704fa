"""One drive unit made from its detail parts up: machined, gauged, reviewed, assembled, tested.

Every part draws from its own generator (seed and serial), every machine
slot is a fixed function of the unit number, so a unit's facts are the same
whichever chunk of the plant produces them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from plant.catalogue import (
    BY_GROUP,
    DESIGNS,
    GRIND_PATTERN,
    LAYOUT,
    LEAVES_PER_UNIT,
    LEVELS,
    MATERIALS,
    SITE,
    START,
    UNIT_STEP,
    Check,
    Slot,
    checks,
    digest,
    lot_name,
    operator,
    revision,
    serial,
    units_per_lot,
)
from plant.health import VIBRATION_LIMIT, Health
from plant.journal import Journal
from thread import Signer
from thread import facts as f
from thread.domain.facts.quality import Decision, Verdict

TURN, HOB, GRIND = BY_GROUP["turn"], BY_GROUP["hob"], BY_GROUP["grind"]
#: Detail parts are ground this long after turning (soft machining, heat treatment, queue).
GRIND_AFTER = timedelta(hours=3)
#: Scrapped detail parts are replaced by a part started this long after the original.
REPLACE_AFTER = timedelta(hours=3, minutes=30)

# (cycle s, its sd, spindle rpm, feed mm/min, force N) per family and machining step
_TURNING = {"ring": (150.0, 5.0, 2200.0, 180.0, 850.0), "gear": (240.0, 7.0, 1600.0, 220.0,
            1250.0), "hub": (200.0, 6.0, 1900.0, 200.0, 980.0), "body": (250.0, 7.0, 1400.0,
            240.0, 1400.0)}
_GRINDING = {"ring": (92.0, 3.0, 18000.0, 2.4, 140.0), "gear": (98.0, 2.0, 9000.0, 3.1, 210.0),
             "hub": (85.0, 3.0, 16000.0, 2.6, 150.0), "body": (80.0, 3.0, 12000.0, 2.8, 160.0)}


def leaf_start(unit: int, ordinal: int) -> datetime:
    """When detail part ``ordinal`` of ``unit`` starts turning (nominally)."""
    return START + unit * UNIT_STEP + ordinal * timedelta(minutes=1)


def grind_machine(unit: int, ordinal: int) -> str:
    """The grinder a detail part goes to (grinder 2 takes two in five)."""
    return GRIND_PATTERN[(unit * LEAVES_PER_UNIT + ordinal) % len(GRIND_PATTERN)]


def _summary(rng: random.Random, name: str, unit: str, n: int, mean: float, sd: float,
             digits: int) -> f.ParameterSummary:
    return f.ParameterSummary(
        name=name, unit=unit, n=n, min=round(mean - rng.uniform(2.2, 3.3) * sd, digits),
        max=round(mean + rng.uniform(2.2, 3.3) * sd, digits), mean=round(mean, digits),
        sd=round(sd, digits + 1),
    )


@dataclass
class Watch:
    """Machining process records of one machine in one time window, kept for the probes."""

    machine: str
    start: datetime
    end: datetime
    seen: list[tuple[str, dict[str, f.ParameterSummary]]] = field(default_factory=list)


@dataclass
class Made:
    """What one unit's production left behind for the rest of the plant."""

    serials: list[str]  # by LAYOUT slot, replacements in place of scrapped parts
    scrapped: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)


class Production:
    """Makes drive units; queues their facts in the journal."""

    def __init__(self, journal: Journal, health: Health, mrb: Signer) -> None:
        self.journal = journal
        self.health = health
        self.mrb = mrb
        self.watch: Watch | None = None
        self._certificates: dict[str, str] = {}

    # Material

    def receive_lots(self, unit: int) -> None:
        """The material lots that unit ``unit`` opens, received two days before."""
        for code, material in MATERIALS.items():
            per_lot = units_per_lot(code)
            if unit % per_lot:
                continue
            number = unit // per_lot
            lot = lot_name(code, number)
            rng = self.journal.rng("lot", lot)
            supplier = material.suppliers[rng.randrange(len(material.suppliers))]
            heat = f"H{rng.randint(10000, 99999)}"
            self.journal.add(f.MaterialLotReceived(
                lot=lot, material=material.description, specification=material.specification,
                supplier=supplier, heat=heat, quantity=material.lot_size, unit="kg",
                certificate_number=f"3.1-{heat}", certificate_digest=self.certificate(lot),
            ), START + unit * UNIT_STEP - timedelta(days=2), "receiving", lot, "received")

    def certificate(self, lot: str) -> str:
        """The digest of a lot's EN 10204 3.1 certificate (derived from seed and lot)."""
        known = self._certificates.get(lot)
        if known is None:
            known = digest(f"EN 10204 3.1 certificate, dataset seed {self.journal.seed}, {lot}")
            if len(self._certificates) > 256:
                self._certificates.clear()
            self._certificates[lot] = known
        return known

    # The unit

    def unit(self, unit: int) -> Made:
        """Every part of drive unit ``unit``, detail parts first."""
        self.receive_lots(unit)
        made = Made([serial(slot, unit) for slot in LAYOUT])
        for slot in LAYOUT:
            if slot.level == LEVELS:
                self.detail(unit, slot, made)
            else:
                self.assembly(unit, slot, made)
        return made

    # Detail parts

    def detail(self, unit: int, slot: Slot, made: Made) -> None:
        start = leaf_start(unit, slot.ordinal)
        number = made.serials[slot.index]
        if self.machined(unit, slot, number, start, replacement=False, made=made):
            return
        made.scrapped.append(number)
        replacement = f"{number}-R"
        made.serials[slot.index] = replacement
        self.machined(unit, slot, replacement, start + REPLACE_AFTER, replacement=True, made=made)

    def machined(self, unit: int, slot: Slot, number: str, start: datetime, *,
                 replacement: bool, made: Made) -> bool:
        """Turn, hob, grind and gauge one detail part; False if it ended as scrap."""
        journal, design = self.journal, DESIGNS[slot.part_number]
        rng = journal.rng("part", number)
        registered = start - timedelta(minutes=30)
        rev = revision(slot.part_number, registered)
        journal.add(f.PartRegistered(serial=number, part_number=slot.part_number, revision=rev,
                                     work_order=f"WO-{registered:%y%m%d}-{design.prefix}",
                                     site=SITE), registered, "mes", number, "reg")
        assert design.material is not None
        lot = lot_name(design.material, unit // units_per_lot(design.material))
        journal.add(f.MaterialConsumed(
            serial=number, material_lot=lot, unit="kg",
            quantity=round(MATERIALS[design.material].per_part * rng.uniform(0.98, 1.03), 3),
            certificate_digest=self.certificate(lot),
        ), start - timedelta(minutes=10), "stores", number, "mat")
        leaf_index = unit * LEAVES_PER_UNIT + slot.ordinal
        self.machine_op(number, rng, "OP10-turn", TURN[leaf_index % len(TURN)], design.prefix,
                        start + timedelta(seconds=rng.randint(0, 20)), _TURNING[design.family])
        if design.family == "gear":
            hobber = HOB[(unit + slot.ordinal // 4) % len(HOB)]
            self.machine_op(number, rng, "OP20-hob", hobber, design.prefix,
                            start + timedelta(minutes=90, seconds=rng.randint(0, 20)),
                            (420.0, 12.0, 900.0, 95.0, 1600.0))
        grinder = grind_machine(unit, slot.ordinal)
        nominal = start + GRIND_AFTER
        vibrated, _ = self.health.state(grinder, nominal)
        ground = self.machine_op(number, rng, "OP30-grind", grinder, design.prefix,
                                 nominal + timedelta(seconds=rng.randint(0, 15)),
                                 _GRINDING[design.family])
        window = self.health.window_index(grinder, ground)
        held = self.health.exceeded(grinder, window)
        if held:
            made.quarantined.append(number)
            journal.counts["quarantined"] += 1
            _, window_end = self.health.window(grinder, window)
            journal.add(f.Quarantined(
                serial=number, reference=f"QH-{grinder}-{window}",
                reason=f"ground on {grinder} while spindle vibration exceeded "
                       f"{VIBRATION_LIMIT} mm/s",
            ), window_end + timedelta(minutes=5), "quality", number, "hold")
        plan = checks(slot.part_number, rev)
        at = ground + timedelta(minutes=10)
        failures = self.gauge(number, rng, plan, at, "first", vibrated=vibrated,
                              conforming=replacement)
        scrapped, at = self.review(number, rng, grinder, design.prefix, failures, at)
        if held and not scrapped:
            journal.add(f.ReleasedFromQuarantine(
                serial=number, reference=f"QH-{grinder}-{window}",
                reason="gauging reviewed against the vibration event; fit for use",
            ), max(at, ground) + timedelta(hours=2), self.mrb.signer, number, "release",
                sign=self.mrb)
        return not scrapped

    def machine_op(self, number: str, rng: random.Random, operation: str, machine: str,
                   prefix: str, started: datetime,
                   spec: tuple[float, float, float, float, float]) -> datetime:
        """An operation on a machine and its process record; returns when it ended."""
        journal = self.journal
        cycle_mean, cycle_sd, speed, feed, force = spec
        cycle = round(rng.gauss(cycle_mean, cycle_sd), 1)
        ended = started + timedelta(seconds=cycle)
        person = operator(machine, started)
        journal.add(f.OperationPerformed(
            serial=number, operation=operation, station=f"CELL-{machine}", machine=machine,
            operator=person, program=f"{prefix}-{operation[:4]}",
            program_revision=self.program_revision(machine, started), started_at=started,
            ended_at=ended, cycle_time_s=cycle,
        ), ended, person, number, operation)
        vibrating, hot = self.health.state(machine, started)
        day = (started - START).days
        drift = 1.0 + 0.012 * math.sin(2 * math.pi * (day / 41.0 + len(machine) / 7.0))
        drift += self.health.override(machine, day)
        season = 1.6 * math.sin(2 * math.pi * (day - 100) / 365.0)
        n = max(2, int(cycle * 10))
        if vibrating:
            vibration_mean = rng.uniform(2.2, 3.2)
            vibration_max = rng.uniform(3.6, 6.5)
        else:
            vibration_mean = rng.uniform(0.9, 1.7)
            vibration_max = vibration_mean + rng.uniform(0.6, 1.6)
        coolant = rng.uniform(30.2, 34.0) if hot else 22.0 + season + rng.gauss(0.0, 0.6)
        parameters = (
            _summary(rng, "spindle_speed", "rpm", n, speed * (1 + rng.gauss(0, 0.0015)),
                     speed * rng.uniform(0.001, 0.003), 0),
            _summary(rng, "feed_rate", "mm/min", n, feed * drift * (1 + rng.gauss(0, 0.004)),
                     feed * rng.uniform(0.002, 0.006), 3),
            _summary(rng, "force", "N", n, force * (1.12 if vibrating else 1.0)
                     * (1 + rng.gauss(0, 0.03)), force * rng.uniform(0.03, 0.06), 1),
            _summary(rng, "coolant_temp", "Cel", n, coolant, rng.uniform(0.1, 0.4), 2),
            f.ParameterSummary(
                name="vibration", unit="mm/s", n=n,
                min=round(max(0.05, vibration_mean - rng.uniform(0.5, 0.9)), 3),
                max=round(vibration_max, 3), mean=round(vibration_mean, 3),
                sd=round((vibration_max - vibration_mean) / rng.uniform(2.5, 3.5), 4),
            ),
        )
        journal.add(f.ProcessRecorded(
            serial=number, operation=operation, machine=machine, started_at=started,
            ended_at=ended, parameters=parameters,
        ), ended, machine, number, f"{operation}/process")
        watch = self.watch
        if watch is not None and watch.machine == machine and watch.start <= started < watch.end:
            watch.seen.append((number, {p.name: p for p in parameters}))
        return ended

    def program_revision(self, machine: str, at: datetime) -> str:
        """Programs are revised on the grinders after two months, elsewhere after five."""
        months = 2 if machine in GRIND else 5
        return str(7 + int((at - START).days // (30 * months) > 0))

    def gauge(self, number: str, rng: random.Random, plan: tuple[Check, ...], at: datetime,
              tag: str, *, vibrated: bool = False, reground: tuple[Check, ...] = (),
              conforming: bool = False) -> list[tuple[Check, float]]:
        """Measure the characteristics (only the reground ones after a rework); return the
        ones out of tolerance with their values."""
        failures: list[tuple[Check, float]] = []
        for check in reground or plan:
            char = check.characteristic
            band = check.high - check.low
            mean, sd = check.mean, check.sd
            if reground:  # regrinding aims at the middle of the limits
                mean, sd = (check.low + check.high) / 2, sd / 2
            elif vibrated and char.designator == "critical":  # chatter roughens the surface
                mean += 0.3 * band
            measured = rng.gauss(mean, sd)
            if conforming:
                measured = min(max(measured, check.low + 0.1 * band), check.high - 0.1 * band)
            measured = round(max(measured, 0.0) if check.low >= 0 else measured, check.digits)
            verdict: Verdict = "pass" if check.low <= measured <= check.high else "fail"
            nc = f"NC-{number}-{tag}" if verdict == "fail" else None
            if verdict == "fail":
                failures.append((check, measured))
            self.journal.counts["inspections"] += 1
            self.journal.counts["failed inspections"] += verdict == "fail"
            self.journal.add(f.InspectionRecorded(
                serial=number, characteristic=char.balloon, name=char.name,
                designator=char.designator, location=char.location, method=check.method,
                gauge=check.gauge, measured=measured, unit=char.unit, nominal=char.nominal,
                lower_tolerance=char.lower_tolerance, upper_tolerance=char.upper_tolerance,
                verdict=verdict, report=f"IR-{number}-{tag}", non_conformance=nc,
            ), at, "inspector", number, f"insp/{tag}/{char.balloon}")
            at += timedelta(minutes=1)
        return failures

    def review(self, number: str, rng: random.Random, grinder: str, prefix: str,
               failures: list[tuple[Check, float]], at: datetime) -> tuple[bool, datetime]:
        """Open a non-conformance for failed gauging and disposition it; True if scrapped."""
        journal = self.journal
        rounds = 0
        tag = "first"
        while failures:
            rounds += 1
            nc = f"NC-{number}-{tag}"
            decision = _decide(failures) if rounds == 1 else "scrap"
            journal.counts["non-conformances"] += 1
            at += timedelta(minutes=5)
            journal.add(f.NonConformanceOpened(
                serial=number, non_conformance=nc, characteristic=failures[0][0].characteristic
                .balloon, description="; ".join(_deviation(c, v) for c, v in failures),
                severity=_severity(failures),
            ), at, "inspector", number, f"nc/{tag}")
            at += timedelta(minutes=40)
            journal.add(f.DispositionRecorded(
                serial=number, non_conformance=nc, decision=decision,
                rationale=_rationale(decision, failures), reference=f"MRB-{at:%y%m%d}",
            ), at, self.mrb.signer, number, f"disposition/{tag}", sign=self.mrb)
            if decision == "scrap":
                journal.counts["scrapped"] += 1
                return True, at
            if decision != "rework":
                return False, at
            at += timedelta(minutes=15)
            self.machine_op(number, rng, "OP35-regrind", grinder, prefix, at,
                            (60.0, 3.0, 18000.0, 1.8, 120.0))
            at += timedelta(minutes=12)
            tag = f"recheck{rounds}"
            failures = self.gauge(number, rng, (), at, tag,
                                  reground=tuple(c for c, _ in failures))
        return False, at

    # Assemblies

    def assembly(self, unit: int, slot: Slot, made: Made) -> None:
        """Register an assembly, install its components, run its operation and checks."""
        journal, design = self.journal, DESIGNS[slot.part_number]
        number = made.serials[slot.index]
        rng = journal.rng("part", number)
        group, offset, spacing, cycle, params = _ASSEMBLY_STEP[slot.level]
        start = (START + unit * UNIT_STEP + offset + slot.ordinal * spacing
                 + timedelta(seconds=rng.randint(0, 20)))
        stations = BY_GROUP[group]
        # Modules alternate between their two stations; the others take turns in order.
        turn = unit + slot.ordinal if slot.level == 2 else unit * _PER_LEVEL[slot.level] + (
            slot.ordinal)
        machine = stations[turn % len(stations)]
        registered = start - timedelta(minutes=20)
        journal.add(f.PartRegistered(
            serial=number, part_number=slot.part_number,
            revision=revision(slot.part_number, registered),
            work_order=f"WO-{registered:%y%m%d}-{design.prefix}", site=SITE,
        ), registered, "mes", number, "reg")
        for child in slot.children:
            component = made.serials[child]
            journal.add(f.ComponentInstalled(serial=number, component=component,
                                             position=LAYOUT[child].position),
                        start, operator(machine, start), number, f"install/{component}")
        seconds = round(rng.gauss(*cycle), 1)
        ended = start + timedelta(seconds=seconds)
        person = operator(machine, start)
        operation = _OPERATION[slot.level]
        journal.add(f.OperationPerformed(
            serial=number, operation=operation, station=f"CELL-{machine}", machine=machine,
            operator=person, program=f"{design.prefix}-{operation[:4]}", program_revision="3",
            started_at=start, ended_at=ended, cycle_time_s=seconds,
        ), ended, person, number, operation)
        n = max(2, int(seconds * 5))
        journal.add(f.ProcessRecorded(
            serial=number, operation=operation, machine=machine, started_at=start,
            ended_at=ended, parameters=tuple(
                _summary(rng, name, unit_code, n, mean * (1 + rng.gauss(0, 0.01)), mean * sd,
                         digits) for name, unit_code, mean, sd, digits in params),
        ), ended, machine, number, f"{operation}/process")
        at = ended + timedelta(minutes=5)
        if design.family in ("bearing", "gearbox", "motor", "drive"):
            at = self.test(number, rng, design.family, unit, at)
        failures = self.gauge(number, rng, checks(slot.part_number, "A"), at, "first",
                              conforming=slot.level == 1)
        if failures:  # assembled parts are not reworked here: the board accepts them as is
            at += timedelta(minutes=len(failures) + 5)
            nc = f"NC-{number}-first"
            journal.counts["non-conformances"] += 1
            journal.add(f.NonConformanceOpened(
                serial=number, non_conformance=nc, characteristic=failures[0][0].characteristic
                .balloon, description="; ".join(_deviation(c, v) for c, v in failures),
                severity="minor",
            ), at, "inspector", number, "nc/first")
            journal.add(f.DispositionRecorded(
                serial=number, non_conformance=nc, decision="use-as-is",
                rationale="assembly deviation reviewed; no effect on fit or function",
                reference=f"MRB-{at:%y%m%d}",
            ), at + timedelta(hours=1), self.mrb.signer, number, "disposition/first",
                sign=self.mrb)
        if slot.level == 1:
            journal.add(f.CertificationAttached(
                serial=number, document="conformance", number=f"COC-{number}",
                digest=digest(f"certificate of conformance {number} seed {journal.seed}"),
                issuer="Quality, EDU plant 1",
            ), at + timedelta(minutes=40), "quality", number, "coc")

    def test(self, number: str, rng: random.Random, family: str, unit: int,
             at: datetime) -> datetime:
        """An end-of-line or noise test; a failed drive unit is held, reworked and retested."""
        journal = self.journal
        rig = f"EOL-0{unit % 2 + 1}" if family == "drive" else _RIGS[family]
        values = _TESTS[family]
        failed = family == "drive" and rng.random() < 0.006
        readings = tuple(f.Reading(name=name, unit=code, value=round(
            rng.gauss(mean, sd) + (4 * sd if failed and name == "noise" else 0.0), digits))
            for name, code, mean, sd, digits in values)
        verdict: Verdict = "fail" if failed else "pass"
        journal.add(f.TestRecorded(serial=number, procedure=f"TP-{rig}", procedure_revision="4",
                                   values=readings, verdict=verdict, report=f"TR-{number}"),
                    at, rig.lower(), number, "test")
        if not failed:
            return at + timedelta(minutes=5)
        nc = f"NC-{number}-eol"
        journal.counts["non-conformances"] += 1
        journal.counts["quarantined"] += 1
        journal.add(f.Quarantined(serial=number, reference=nc,
                                  reason="end-of-line noise above limit; held for rework"),
                    at + timedelta(minutes=2), "quality", number, "hold")
        journal.add(f.NonConformanceOpened(serial=number, non_conformance=nc, severity="major",
                                           description="end-of-line test: gear mesh noise "
                                                       "above 72 dB(A)"),
                    at + timedelta(minutes=3), "quality", number, "nc/eol")
        journal.add(f.DispositionRecorded(serial=number, non_conformance=nc, decision="rework",
                                          rationale="replace output gear shims and retest",
                                          reference=f"MRB-{at:%y%m%d}"),
                    at + timedelta(hours=1), self.mrb.signer, number, "disposition/eol",
                    sign=self.mrb)
        at += timedelta(hours=2)
        journal.add(f.TestRecorded(serial=number, procedure=f"TP-{rig}", procedure_revision="4",
                                   values=tuple(f.Reading(name=name, unit=code, value=round(
                                       rng.gauss(mean, sd / 2), digits))
                                       for name, code, mean, sd, digits in values),
                                   verdict="pass", report=f"TR-{number}-retest"),
                    at, rig.lower(), number, "retest")
        journal.add(f.ReleasedFromQuarantine(serial=number, reference=nc,
                                             reason="reworked and retested: pass"),
                    at + timedelta(minutes=20), self.mrb.signer, number, "release",
                    sign=self.mrb)
        return at + timedelta(minutes=25)


_PER_LEVEL = {level: sum(slot.level == level for slot in LAYOUT) for level in range(1, LEVELS + 1)}
_RIGS = {"bearing": "RIG-NOISE", "gearbox": "EOL-GBX", "motor": "EOL-MTR"}
_OPERATION = {4: "OP40-press", 3: "OP50-assemble", 2: "OP60-module", 1: "OP70-final"}
Params = tuple[tuple[str, str, float, float, int], ...]
_PRESS: Params = (("press_force", "kN", 9.5, 0.03, 3), ("stroke", "mm", 14.0, 0.004, 3),
                  ("press_speed", "mm/s", 5.0, 0.02, 3))
_ASSEMBLE: Params = (("nut_torque", "N.m", 95.0, 0.015, 2), ("angle", "deg", 42.0, 0.03, 1),
                     ("press_force", "kN", 22.0, 0.03, 3))
_MODULE: Params = (("bolt_torque", "N.m", 48.0, 0.012, 2), ("oil_volume", "L", 1.2, 0.01, 3))
_FINAL: Params = (("bolt_torque", "N.m", 85.0, 0.012, 2), ("leak_pressure", "kPa", 50.0, 0.01,
                  2), ("oil_volume", "L", 2.4, 0.01, 3))
AssemblyGroup = Literal["press", "assembly", "module", "final"]
_ASSEMBLY_STEP: dict[int, tuple[AssemblyGroup, timedelta, timedelta, tuple[float, float],
                                Params]] = {
    4: ("press", timedelta(hours=8), timedelta(minutes=2), (42.0, 3.0), _PRESS),
    3: ("assembly", timedelta(hours=10), timedelta(minutes=4), (200.0, 10.0), _ASSEMBLE),
    2: ("module", timedelta(hours=12), timedelta(minutes=8), (360.0, 15.0), _MODULE),
    1: ("final", timedelta(hours=14), timedelta(0), (1500.0, 60.0), _FINAL),
}
_TESTS: dict[str, Params] = {
    "bearing": (("vibration", "mm/s", 0.9, 0.15, 3), ("noise", "dB", 38.0, 1.5, 1)),
    "gearbox": (("noise", "dB", 64.0, 1.8, 1), ("temperature_rise", "K", 18.0, 2.0, 1),
                ("backlash", "arcmin", 8.0, 1.0, 2)),
    "motor": (("insulation_resistance", "Ohm", 2.5e8, 3e7, 0), ("back_emf", "V", 212.0, 2.5, 1),
              ("noise", "dB", 55.0, 1.5, 1)),
    "drive": (("efficiency", "%", 94.2, 0.4, 2), ("noise", "dB", 66.0, 1.5, 1),
              ("peak_torque", "N.m", 410.0, 6.0, 1)),
}


def _decide(failures: list[tuple[Check, float]]) -> Decision:
    if all(c.reworkable and v > c.high for c, v in failures):
        return "rework"
    band_share = [max(c.low - v, v - c.high) / (c.high - c.low) for c, v in failures]
    if all(c.characteristic.designator == "none" for c, _ in failures) and max(band_share) < 0.25:
        return "use-as-is"
    return "scrap"


def _severity(failures: list[tuple[Check, float]]) -> Literal["minor", "major", "critical"]:
    designators = {c.characteristic.designator for c, _ in failures}
    if "critical" in designators:
        return "critical"
    return "major" if "key" in designators else "minor"


def _deviation(check: Check, measured: float) -> str:
    c = check.characteristic
    return (f"{c.name} (balloon {c.balloon}) measured {measured:g} {c.unit}, "
            f"limits {check.low:g} to {check.high:g} {c.unit}")


def _rationale(decision: Decision, failures: list[tuple[Check, float]]) -> str:
    names = ", ".join(c.characteristic.name for c, _ in failures)
    if decision == "rework":
        return f"{names}: material left on a ground surface; regrind to mid-tolerance"
    if decision == "use-as-is":
        return f"{names}: within a quarter of the tolerance band on a minor feature"
    return f"{names}: cannot be recovered by regrinding"
