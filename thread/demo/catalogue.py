"""The demo plant's master data: designs, gaugings, steel lots, operators, customers, and the
dates of its story (production start, GR-02's failing spindle bearing, the simulation's today)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from thread.domain import facts as f
from thread.domain.facts.measures import Designator
from thread.records.units import quantity

#: When the first bearing is ground (a Monday); every simulated time is an offset from here.
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
#: The simulation's present: the field has reported up to here, about eight months after
#: START, and nothing the demo records is later.
TODAY = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)

BEARING = "BRG-6204"
HUB = "WH-3100"
REVISION = "A"
SITE = "PLANT-1"
#: Who the plant is, as its inspection reports name it (AS9102 Form 1 fields 10 and 11).
ORGANIZATION = "Thread Demo Bearing Works, Plant 1"
SUPPLIER_CODE = "SUP-10427"
#: The people who sign: signer id -> (printed name, what they sign).
SIGNERS = {
    "r.okafor": ("Ruth Okafor", "design engineer: releases design revisions"),
    "d.lindqvist": ("Dana Lindqvist", "material review board: dispositions non-conformances"),
    "k.nakamura": ("Kenji Nakamura", "quality inspector: verifies inspection and test reports"),
    "a.mensah": ("Abena Mensah", "quality manager: approves releases and first articles"),
}
GRINDERS = ("GR-01", "GR-02", "GR-03")
#: Shift windows of each grinder's vibration that set its watched chart's limits (two weeks).
WATCH_BASELINE = 20
#: The grinder whose spindle bearing wears out.
NOISY = "GR-02"
#: Spindle vibration alarm limit, mm/s.
VIBRATION_LIMIT = 4.5
#: When NOISY's spindle bearing starts to fail (Monday of week 5): its vibration steps up
#: and keeps climbing until the spindle bearing is replaced at REPAIR (Saturday of week 8).
RISE = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
REPAIR = datetime(2026, 4, 25, 14, 0, tzinfo=UTC)

Method = Literal["cmm", "vision", "manual", "gauge", "test-rig", "other"]
Side = Literal["below", "above"]


@dataclass(frozen=True)
class Gauging:
    """How a characteristic is measured and how the grinding process scatters around it."""

    characteristic: f.Characteristic
    low: float
    high: float
    method: Method
    gauge: str
    mean: float
    sd: float
    digits: int
    rework: Side | None  # the side of the limits that more grinding can fix

    def side(self, measured: float) -> Side:
        """Which limit ``measured`` passed."""
        return "below" if measured < self.low else "above"

    def slightly_out(self, measured: float) -> bool:
        """Out by at most a quarter of the tolerance band."""
        return max(self.low - measured, measured - self.high) <= (self.high - self.low) / 4

    def deviation(self, measured: float) -> str:
        """A non-conformance description of ``measured``, units as people write them."""
        name, unit = self.characteristic.name, self.characteristic.unit
        return (f"{name} (balloon {self.characteristic.balloon}) measured "
                f"{quantity(measured, unit)}, limits {self.low:g} to {quantity(self.high, unit)}")


def _gauging(balloon: str, name: str, nominal: float, unit: str, tolerance: tuple[float, float],
             designator: Designator, method: Method, gauge: str, scatter: tuple[float, float],
             digits: int, rework: Side | None) -> Gauging:
    lower, upper = tolerance
    characteristic = f.Characteristic(
        balloon=balloon, name=name, nominal=nominal, unit=unit, lower_tolerance=lower,
        upper_tolerance=upper, designator=designator, location=f"sheet 1, zone B{balloon}",
    )
    return Gauging(characteristic, nominal + lower, nominal + upper, method, gauge,
                   scatter[0], scatter[1], digits, rework)


GAUGINGS = (
    _gauging("1", "Bore diameter", 20.0, "mm", (-0.010, 0.0), "key", "gauge", "AIR-20",
             (19.995, 0.0019), 4, "below"),
    _gauging("2", "Outside diameter", 47.0, "mm", (-0.011, 0.0), "none", "gauge", "AIR-47",
             (46.9945, 0.0021), 4, "above"),
    _gauging("3", "Ring width", 14.0, "mm", (-0.120, 0.0), "none", "cmm", "CMM-02",
             (13.94, 0.02), 3, "above"),
    _gauging("4", "Inner raceway roughness Ra", 0.0, "um", (0.0, 0.2), "critical", "gauge",
             "PROFILO-1", (0.11, 0.025), 3, None),
    _gauging("5", "Radial internal clearance", 12.5, "um", (-7.5, 7.5), "none", "test-rig",
             "RIC-3", (12.5, 2.6), 1, None),
)


@dataclass(frozen=True)
class Lot:
    """A lot of bearing steel as received, with the mill certificate's heat."""

    lot: str
    supplier: str
    heat: str
    quantity: float


LOTS = (
    Lot("ML-2602-101", "Ovako Hofors", "H48213", 480.0),
    Lot("ML-2602-102", "Ovako Hofors", "H48377", 495.0),
    Lot("ML-2602-117", "Saarstahl Voelklingen", "S7-11842", 510.0),
    Lot("ML-2602-125", "Saarstahl Voelklingen", "S7-11903", 470.0),
)
#: Bearings made from one lot before the next lot is opened.
BEARINGS_PER_LOT = 100
#: Steel going into one bearing's rings, kg.
STEEL_PER_BEARING = 0.16


def certificate(lot: Lot, rng: random.Random) -> str:
    """The text of a lot's EN 10204 3.1 mill certificate (its digest is what is recorded)."""
    chemistry = {"C": (0.93, 1.05), "Si": (0.15, 0.35), "Mn": (0.25, 0.45),
                 "Cr": (1.35, 1.60), "Mo": (0.0, 0.10), "S": (0.0, 0.015)}
    lines = [
        "INSPECTION CERTIFICATE EN 10204 3.1",
        f"Certificate: 3.1-{lot.heat}",
        f"Supplier: {lot.supplier}",
        f"Heat: {lot.heat}",
        "Material: 100Cr6 / EN ISO 683-17",
        f"Quantity: {lot.quantity:.1f} kg",
        *(f"{element}: {rng.uniform(low, high):.3f} %" for element, (low, high)
          in chemistry.items()),
    ]
    return "\n".join(lines) + "\n"


def digest(document: str) -> str:
    """The digest a fact records of a document (a CAD model, a certificate)."""
    return "sha256:" + hashlib.sha256(document.encode()).hexdigest()


#: Operators per grinder, by shift (early 06-14, late 14-22 UTC).
OPERATORS = {
    "GR-01": ("op-1042", "op-1187"),
    "GR-02": ("op-1063", "op-1190"),
    "GR-03": ("op-1071", "op-1194"),
}


@dataclass(frozen=True)
class Customer:
    """A customer of wheel hubs: where they are shipped and installed, and how hard their
    fleet runs them (operating hours a day, least and most)."""

    name: str
    destination: str
    site: str
    fleet: str
    installer: str
    carrier: str
    hours_per_day: tuple[float, float]


CUSTOMERS = (
    Customer("Nordwind Trucks GmbH", "Ulm, DE", "Nordwind assembly plant Ulm", "NWT",
             "Nordwind line 2", "DB Schenker", (14.0, 20.0)),
    Customer("Cascade Trailer Co.", "Portland OR, US", "Cascade trailer works Portland",
             "CTC", "Cascade axle shop", "Kuehne+Nagel", (11.0, 17.0)),
    Customer("Aurora Agri Machines Oy", "Tampere, FI", "Aurora harvester plant Tampere",
             "AAM", "Aurora final assembly", "DSV", (9.0, 15.0)),
)
#: Hubs per customer order.
HUBS_PER_ORDER = 8
