"""The drive-unit plant's master data: the product tree, its designs, machines and customers.

The plant builds EDU-400 electric drive units. Every unit is the same tree,
five levels deep and two wide at every level (31 serialised parts):

    EDU-400 drive unit
      GBX-220 gearbox module            MTR-150 motor module
        SHA-221 input shaft assy          ROT-151 rotor assy
        SHA-222 output shaft assy         ENS-152 end shield assy
          bearings, gear assemblies, a seal carrier (components)
            rings, gear wheels, hubs, carrier bodies (detail parts)

Detail parts are turned, some hobbed, then ground; components are pressed,
assemblies bolted, modules and units tested at the end of the line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from thread import facts as f
from thread.domain.facts.measures import Designator

#: Unit 0 starts here; every simulated time is an offset from it (a Monday, first shift).
START = datetime(2025, 1, 6, 6, 0, tzinfo=UTC)
#: One drive unit's detail parts start every UNIT_STEP: 31 parts in 16 minutes is about
#: a million parts a year.
UNIT_STEP = timedelta(minutes=16)
#: Detail parts of one unit start one LEAF_STEP apart.
LEAF_STEP = timedelta(minutes=1)
SITE = "PLANT-EDU-1"
TOP = "EDU-400"
LEVELS = 5

Method = Literal["cmm", "vision", "manual", "gauge", "test-rig", "other"]


@dataclass(frozen=True)
class Check:
    """A characteristic on the drawing, how it is measured and how the process scatters."""

    characteristic: f.Characteristic
    method: Method
    gauge: str
    mean: float
    sd: float
    digits: int
    reworkable: bool  # material left on an outside ground surface can be ground off
    low: float
    high: float


def _check(balloon: str, name: str, nominal: float, unit: str, tolerance: tuple[float, float],
           designator: Designator = "none", method: Method = "gauge", gauge: str = "AIR-1",
           centre: float = 0.5, spread: float = 0.16, digits: int = 4,
           reworkable: bool = False) -> Check:
    """``centre`` places the process mean inside the band, ``spread`` is its sd as a share of it."""
    lower, upper = tolerance
    band = upper - lower
    return Check(
        f.Characteristic(balloon=balloon, name=name, nominal=nominal, unit=unit,
                         lower_tolerance=lower, upper_tolerance=upper, designator=designator,
                         location=f"sheet 1, zone {chr(64 + int(balloon))}{balloon}"),
        method, gauge, nominal + lower + band * centre, band * spread, digits, reworkable,
        nominal + lower, nominal + upper,
    )


Family = Literal["ring", "gear", "hub", "body", "bearing", "gear-assembly", "carrier",
                 "shaft", "rotor", "shield", "gearbox", "motor", "drive"]


@dataclass(frozen=True)
class Design:
    """A part number: what it is, its serial prefix, checks and the components it takes."""

    part_number: str
    name: str
    prefix: str
    family: Family
    checks: tuple[Check, ...]
    children: tuple[tuple[str, str], ...] = ()  # (position, part number)
    material: str | None = None


def _ring(kind: str, size: str, diameter: float, raceway: float, width: float) -> Design:
    inner = kind == "inner"
    seat = "Bore diameter" if inner else "Outside diameter"
    tolerance = (-0.010, 0.0) if inner else (-0.013, 0.0)
    return Design(
        f"{'IRG' if inner else 'ORG'}-{size}", f"{kind.capitalize()} ring {size}",
        f"{'IR' if inner else 'OR'}{size}", "ring", (
            _check("1", seat, diameter, "mm", tolerance, "key", gauge=f"AIR-{size}",
                   centre=0.55 if inner else 0.45, reworkable=not inner),
            _check("2", "Raceway diameter", raceway, "mm", (-0.015, 0.015), gauge="RW-2",
                   reworkable=inner),
            _check("3", "Ring width", width, "mm", (-0.120, 0.0), method="cmm",
                   gauge="CMM-02", digits=3),
            _check("4", "Raceway roughness Ra", 0.0, "um", (0.0, 0.2), "critical",
                   gauge="PROFILO-1", centre=0.5, spread=0.13, digits=3),
        ), material="100Cr6",
    )


def _gear(number: str, bore: float, width: float) -> tuple[Design, Design]:
    wheel = Design(f"GWH-{number}", f"Gear wheel {number}", f"GW{number}", "gear", (
        _check("1", "Bore diameter", bore, "mm", (0.0, 0.021), "key", gauge="AIR-G"),
        _check("2", "Profile deviation fa", 0.0, "um", (0.0, 8.0), "critical", method="cmm",
               gauge="GMM-1", centre=0.45, spread=0.15, digits=2),
        _check("3", "Radial runout Fr", 0.0, "um", (0.0, 20.0), method="cmm", gauge="GMM-1",
               centre=0.4, digits=1),
        _check("4", "Face width", width, "mm", (-0.05, 0.05), method="cmm", gauge="CMM-03",
               digits=3, reworkable=True),
    ), material="18CrNiMo7-6")
    hub = Design(f"GHB-{number}", f"Gear hub {number}", f"GH{number}", "hub", (
        _check("1", "Shaft seat diameter", bore, "mm", (0.002, 0.015), "key", gauge="AIR-H",
               reworkable=True),
        _check("2", "Spline over-pin dimension", bore + 6.0, "mm", (-0.03, 0.03),
               method="gauge", gauge="PIN-2", digits=3),
        _check("3", "Hub length", width + 12.0, "mm", (-0.1, 0.1), method="cmm",
               gauge="CMM-03", digits=3),
    ), material="42CrMo4")
    return wheel, hub


_RING_SIZES = {"6205": (25.0, 52.0, 15.0), "6206": (30.0, 62.0, 16.0),
               "6208": (40.0, 80.0, 18.0)}


def _catalogue() -> dict[str, Design]:
    designs: list[Design] = []
    for size, (bore, outside, width) in _RING_SIZES.items():
        designs.append(_ring("inner", size, bore, bore + (outside - bore) * 0.3, width))
        designs.append(_ring("outer", size, outside, outside - (outside - bore) * 0.3, width))
        designs.append(Design(f"BRG-{size}", f"Deep groove ball bearing {size}", f"B{size}",
                              "bearing", (
            _check("1", "Radial internal clearance", 13.0, "um", (-8.0, 8.0), method="test-rig",
                   gauge="RIC-3", spread=0.14, digits=1),
            _check("2", "Assembled width", width, "mm", (-0.12, 0.0), method="gauge",
                   gauge="W-1", digits=3),
        ), (("inner-ring", f"IRG-{size}"), ("outer-ring", f"ORG-{size}"))))
    for number, bore, width in (("231", 35.0, 28.0), ("232", 50.0, 36.0)):
        wheel, hub = _gear(number, bore, width)
        designs += [wheel, hub]
        designs.append(Design(f"GEA-{number}", f"Gear assembly {number}", f"G{number}",
                              "gear-assembly", (
            _check("1", "Wheel-to-hub runout", 0.0, "um", (0.0, 15.0), method="cmm",
                   gauge="CMM-04", centre=0.35, digits=1),
            _check("2", "Axial wheel position", 8.0, "mm", (-0.05, 0.05), method="gauge",
                   gauge="AX-1", digits=3),
        ), (("wheel", wheel.part_number), ("hub", hub.part_number))))
    designs += [
        Design("SCB-152", "Seal carrier body", "SB152", "body", (
            _check("1", "Seal bore diameter", 72.0, "mm", (0.0, 0.03), gauge="AIR-S"),
            _check("2", "Bearing seat diameter", 52.0, "mm", (-0.03, -0.01), "key",
                   gauge="AIR-S", reworkable=True),
            _check("3", "Face runout", 0.0, "um", (0.0, 25.0), method="cmm", gauge="CMM-02",
                   centre=0.4, digits=1),
        ), material="EN-GJS-500-7"),
        Design("WRG-152", "Wear ring", "WR152", "body", (
            _check("1", "Outside diameter", 45.0, "mm", (0.0, 0.016), "key", gauge="AIR-W",
                   reworkable=True),
            _check("2", "Width", 8.0, "mm", (-0.1, 0.0), method="gauge", gauge="W-2",
                   digits=3),
            _check("3", "Surface roughness Ra", 0.0, "um", (0.0, 0.25), "critical",
                   gauge="PROFILO-1", spread=0.13, digits=3),
        ), material="X46Cr13"),
        Design("SLC-152", "Seal carrier", "SC152", "carrier", (
            _check("1", "Wear ring press depth", 2.0, "mm", (-0.1, 0.1), digits=3),
            _check("2", "Concentricity", 0.0, "um", (0.0, 30.0), method="cmm", gauge="CMM-04",
                   centre=0.35, digits=1),
        ), (("body", "SCB-152"), ("wear-ring", "WRG-152"))),
    ]
    assembly_checks = (
        _check("1", "Axial play", 60.0, "um", (-40.0, 40.0), method="gauge", gauge="AX-2",
               digits=1),
        _check("2", "Total runout", 0.0, "um", (0.0, 30.0), method="cmm", gauge="CMM-05",
               centre=0.35, digits=1),
    )
    designs += [
        Design("SHA-221", "Input shaft assembly", "SHI", "shaft", assembly_checks,
               (("bearing", "BRG-6206"), ("gear", "GEA-231"))),
        Design("SHA-222", "Output shaft assembly", "SHO", "shaft", assembly_checks,
               (("bearing", "BRG-6208"), ("gear", "GEA-232"))),
        Design("ROT-151", "Rotor assembly", "ROT", "rotor", assembly_checks,
               (("drive-end", "BRG-6206"), ("non-drive-end", "BRG-6206"))),
        Design("ENS-152", "Non-drive-end shield assembly", "ENS", "shield", assembly_checks,
               (("bearing", "BRG-6205"), ("seal", "SLC-152"))),
        Design("GBX-220", "Two-stage helical gearbox module", "GBX", "gearbox", (
            _check("1", "Output backlash", 8.0, "arcmin", (-4.0, 4.0), method="test-rig",
                   gauge="EOL-BL", digits=1),
        ), (("input-shaft", "SHA-221"), ("output-shaft", "SHA-222"))),
        Design("MTR-150", "Traction motor module", "MTR", "motor", (
            _check("1", "Shaft runout", 0.0, "um", (0.0, 25.0), method="cmm", gauge="CMM-05",
                   centre=0.35, digits=1),
        ), (("rotor", "ROT-151"), ("end-shield", "ENS-152"))),
        Design(TOP, "Electric drive unit EDU 400", "EDU", "drive", (
            _check("1", "Output flange runout", 0.0, "um", (0.0, 40.0), method="cmm",
                   gauge="CMM-06", centre=0.35, digits=1),
            _check("2", "Leak test pressure drop", 0.0, "kPa", (0.0, 0.5), method="test-rig",
                   gauge="LEAK-1", centre=0.3, spread=0.12, digits=3),
        ), (("gearbox", "GBX-220"), ("motor", "MTR-150"))),
    ]
    return {design.part_number: design for design in designs}


DESIGNS = _catalogue()


@dataclass(frozen=True)
class Slot:
    """One part of a unit's tree: its part number, occurrence and place in the tree."""

    index: int  # position in LAYOUT
    level: int  # 1 = the drive unit, 5 = detail parts
    part_number: str
    occurrence: int  # among this part number's slots in a unit
    parent: int | None  # index in LAYOUT
    position: str | None
    children: tuple[int, ...]
    ordinal: int  # among the slots of the same level


def _layout() -> tuple[Slot, ...]:
    """A unit's slots, detail parts first and the drive unit last (the order of building)."""
    found: list[tuple[int, str, int | None, str | None, list[int]]] = []

    def walk(part_number: str, level: int, parent: int | None, position: str | None) -> int:
        index = len(found)
        found.append((level, part_number, parent, position, []))
        for child_position, child in DESIGNS[part_number].children:
            found[index][4].append(walk(child, level + 1, index, child_position))
        return index

    walk(TOP, 1, None, None)
    order = sorted(range(len(found)), key=lambda i: (-found[i][0], i))
    new = {old: position for position, old in enumerate(order)}
    counts: dict[str, int] = {}
    per_level: dict[int, int] = {}
    slots = []
    for old in order:
        level, part_number, parent, position, children = found[old]
        occurrence = counts.get(part_number, 0)
        counts[part_number] = occurrence + 1
        ordinal = per_level.get(level, 0)
        per_level[level] = ordinal + 1
        slots.append(Slot(new[old], level, part_number, occurrence,
                          None if parent is None else new[parent], position,
                          tuple(new[c] for c in children), ordinal))
    return tuple(slots)


LAYOUT = _layout()
PARTS_PER_UNIT = len(LAYOUT)
LEAVES_PER_UNIT = sum(slot.level == LEVELS for slot in LAYOUT)
PER_UNIT = {pn: sum(slot.part_number == pn for slot in LAYOUT) for pn in DESIGNS}


def serial(slot: Slot, unit: int) -> str:
    """The serial number of ``slot`` in drive unit ``unit`` (numbered per part number)."""
    design = DESIGNS[slot.part_number]
    return f"{design.prefix}-{unit * PER_UNIT[slot.part_number] + slot.occurrence + 1:07d}"


# Design changes, in force from their effective time on.


@dataclass(frozen=True)
class ChangeOrder:
    """An engineering change releasing a new revision of one part number."""

    change_order: str
    part_number: str
    revision: str
    effective: datetime
    title: str
    reason: str
    balloon: str
    tolerance: tuple[float, float]


CHANGE_ORDERS = (
    ChangeOrder("ECO-25-014", "GWH-232", "B", START + timedelta(days=3, hours=4),
                "Tighter profile tolerance on output gear wheel",
                "gear mesh noise at end-of-line test; profile deviation fa limited to 6 um",
                "2", (0.0, 6.0)),
    ChangeOrder("ECO-25-087", "IRG-6208", "B", START + timedelta(days=150, hours=2),
                "Finer raceway finish on 6208 inner ring",
                "field noise complaints traced to raceway finish; Ra limited to 0.16 um",
                "4", (0.0, 0.16)),
)


def revision(part_number: str, at: datetime) -> str:
    """The revision of ``part_number`` in force at ``at``."""
    current = "A"
    for change in CHANGE_ORDERS:
        if change.part_number == part_number and at >= change.effective:
            current = change.revision
    return current


def checks(part_number: str, rev: str) -> tuple[Check, ...]:
    """The checks of a revision: the design's, with any change order's tolerance applied."""
    base = DESIGNS[part_number].checks
    for change in CHANGE_ORDERS:
        if change.part_number == part_number and change.revision <= rev:
            base = tuple(_retolerance(check, change.tolerance)
                         if check.characteristic.balloon == change.balloon else check
                         for check in base)
    return base


def _retolerance(check: Check, tolerance: tuple[float, float]) -> Check:
    c = check.characteristic
    assert c.nominal is not None
    lower, upper = tolerance
    characteristic = c.model_copy(update={"lower_tolerance": lower, "upper_tolerance": upper})
    return Check(characteristic, check.method, check.gauge, check.mean, check.sd, check.digits,
                 check.reworkable, c.nominal + lower, c.nominal + upper)


# Machines.

MachineGroup = Literal["turn", "hob", "grind", "press", "assembly", "module", "final"]


@dataclass(frozen=True)
class Machine:
    """A machine on the floor and what it does."""

    machine: str
    name: str
    kind: str
    group: MachineGroup
    line: str
    window: timedelta  # length of its condition blocks
    machining: bool  # has a spindle and coolant


def _machines() -> tuple[Machine, ...]:
    quarter, half = timedelta(minutes=15), timedelta(minutes=30)
    rows: list[Machine] = []
    rows += [Machine(f"TRN-0{n}", f"CNC lathe {n} (DMG CLX 450)", "lathe", "turn", "LINE-SOFT",
                     quarter, True) for n in range(1, 6)]
    rows += [Machine(f"HOB-0{n}", f"Gear hobbing machine {n} (Liebherr LC 180)", "hobber",
                     "hob", "LINE-SOFT", quarter, True) for n in range(1, 3)]
    rows += [Machine(f"GRD-0{n}", f"CNC grinder {n} (Studer S33)", "grinder", "grind",
                     "LINE-HARD", quarter, True) for n in range(1, 5)]
    rows += [Machine(f"PRS-0{n}", f"Servo press {n}", "press", "press", "LINE-ASSY", half, False)
             for n in range(1, 4)]
    rows += [Machine(f"ASM-0{n}", f"Shaft assembly station {n}", "assembly-station",
                     "assembly", "LINE-ASSY", half, False) for n in range(1, 3)]
    rows += [Machine(f"ASM-1{n}", f"Module assembly station {n}", "assembly-station",
                     "module", "LINE-ASSY", half, False) for n in range(1, 3)]
    rows += [Machine(f"FAL-0{n}", f"Final assembly line {n}", "assembly-line", "final",
                     "LINE-FINAL", half, False) for n in range(1, 3)]
    return tuple(rows)


MACHINES = _machines()
BY_GROUP: dict[MachineGroup, tuple[str, ...]] = {}
for _machine in MACHINES:
    BY_GROUP[_machine.group] = (*BY_GROUP.get(_machine.group, ()), _machine.machine)
MACHINE = {machine.machine: machine for machine in MACHINES}
#: Grinder 2 is the fast new grinder: it takes two of every five detail parts.
GRIND_PATTERN = ("GRD-01", "GRD-02", "GRD-03", "GRD-02", "GRD-04")
BUSY = "GRD-02"


def operator(machine: str, at: datetime) -> str:
    """Who runs ``machine`` in the shift of ``at`` (shifts start at 06, 14 and 22)."""
    shift = ((at.hour - 6) % 24) // 8
    return f"op-{1100 + 100 * shift + MACHINES.index(MACHINE[machine]) + 1}"


# Material.


@dataclass(frozen=True)
class Material:
    """Bar or tube stock for detail parts, received in lots with a mill certificate."""

    code: str
    description: str
    specification: str
    suppliers: tuple[str, ...]
    lot_size: float  # kg per lot
    per_part: float  # kg per detail part


MATERIALS = {
    "100Cr6": Material("100Cr6", "100Cr6 bearing steel tube", "EN ISO 683-17",
                       ("Ovako Hofors", "Saarstahl Voelklingen"), 1200.0, 0.42),
    "18CrNiMo7-6": Material("18CrNiMo7-6", "18CrNiMo7-6 case-hardening steel bar",
                            "EN ISO 683-3", ("Deutsche Edelstahlwerke",), 900.0, 1.35),
    "42CrMo4": Material("42CrMo4", "42CrMo4 quenched and tempered steel bar", "EN 10083-3",
                        ("Georgsmarienhuette",), 800.0, 0.95),
    "EN-GJS-500-7": Material("EN-GJS-500-7", "EN-GJS-500-7 ductile iron castings", "EN 1563",
                             ("Fritz Winter Eisengiesserei",), 1500.0, 2.1),
    "X46Cr13": Material("X46Cr13", "X46Cr13 stainless steel tube", "EN 10088-3",
                        ("Outokumpu",), 400.0, 0.18),
}
#: Detail parts of each material per unit.
MATERIAL_PER_UNIT = {
    code: sum(PER_UNIT[d.part_number] for d in DESIGNS.values() if d.material == code)
    for code in MATERIALS
}


def units_per_lot(code: str) -> int:
    """How many drive units one lot of ``code`` serves."""
    material = MATERIALS[code]
    return max(1, int(material.lot_size / material.per_part) // MATERIAL_PER_UNIT[code])


def lot_name(code: str, number: int) -> str:
    """The lot id of lot ``number`` (from 0) of material ``code``."""
    return f"ML-{code.split('-')[0][:6].upper()}-{number + 1:05d}"


def digest(document: str) -> str:
    """The digest a fact records of a document (a CAD model, a certificate)."""
    return "sha256:" + hashlib.sha256(document.encode()).hexdigest()


# Customers.


@dataclass(frozen=True)
class Customer:
    """A buyer of drive units: where they go and where they are installed."""

    name: str
    destination: str
    site: str
    fleet: str
    carrier: str
    weight: int


CUSTOMERS = (
    Customer("Nordwind Trucks GmbH", "Ulm, DE", "Nordwind assembly plant Ulm", "NWT",
             "DB Schenker", 5),
    Customer("Cascade Utility Vehicles Inc.", "Portland OR, US", "Cascade works Portland",
             "CUV", "Kuehne+Nagel", 3),
    Customer("Aurora Agri Machines Oy", "Tampere, FI", "Aurora harvester plant Tampere", "AAM",
             "DSV", 2),
    Customer("Levante Forklifts S.p.A.", "Bologna, IT", "Levante plant Bologna", "LVF",
             "GEODIS", 3),
    Customer("Sakura Intralogistics K.K.", "Nagoya, JP", "Sakura AGV works Nagoya", "SIL",
             "Nippon Express", 1),
)
#: Drive units per customer order.
UNITS_PER_ORDER = 12
