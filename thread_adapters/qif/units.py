"""QIF units (``FileUnits``) mapped to the ledger's UCUM-style unit codes.

A QIF file declares a primary unit per quantity (``PrimaryUnits/LinearUnit``,
``AngularUnit``, ``TemperatureUnit``, ...) and may declare others
(``OtherUnits``) that a value names in an attribute such as
``linearUnit="inch"``. ``UnitName`` is free text, so it is matched without
regard to case; a name we do not know is still accepted when its SI
conversion (``SIUnitName`` and ``UnitConversion/Factor``) identifies a unit
exactly, since that conversion is what the file itself says the unit is.
Anything else is an :class:`UnknownUnit` naming the file, the element and the
unit, because a value whose unit is guessed cannot be trusted later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from thread.domain.units import UNITS
from thread_adapters.qif.document import Document, local
from thread_adapters.qif.errors import UnknownUnit

#: QIF ``UnitName`` (compared case-folded) -> the ledger's unit code.
NAMES: dict[str, str] = {
    # length
    **dict.fromkeys(("mm", "millimeter", "millimetre", "millimeters", "millimetres"), "mm"),
    **dict.fromkeys(("in", "inch", "inches"), "in"),
    **dict.fromkeys(("m", "meter", "metre", "meters", "metres"), "m"),
    **dict.fromkeys(("cm", "centimeter", "centimetre", "centimeters", "centimetres"), "cm"),
    **dict.fromkeys(("um", "\u00b5m", "\u03bcm", "micrometer", "micrometre", "micrometers",
                     "micrometres", "micron", "microns"), "um"),
    **dict.fromkeys(("nm", "nanometer", "nanometre", "nanometers", "nanometres"), "nm"),
    **dict.fromkeys(("mil", "mils", "thou"), "[mil_i]"),
    # angle
    **dict.fromkeys(("deg", "degree", "degrees", "decimal degree", "decimal degrees", "\u00b0"),
                    "deg"),
    **dict.fromkeys(("rad", "radian", "radians"), "rad"),
    **dict.fromkeys(("arcmin", "arcminute", "arcminutes", "minute of arc"), "arcmin"),
    **dict.fromkeys(("arcsec", "arcsecond", "arcseconds", "second of arc"), "arcsec"),
    # temperature
    **dict.fromkeys(("cel", "celsius", "degc", "\u00b0c", "degree celsius", "degrees celsius"),
                    "Cel"),
    **dict.fromkeys(("fahrenheit", "degf", "\u00b0f", "degree fahrenheit",
                     "degrees fahrenheit"), "degF"),
    **dict.fromkeys(("k", "kelvin"), "K"),
    # force, mass, time, pressure, speed
    **dict.fromkeys(("n", "newton", "newtons"), "N"),
    **dict.fromkeys(("kn", "kilonewton", "kilonewtons"), "kN"),
    **dict.fromkeys(("kg", "kilogram", "kilograms"), "kg"),
    **dict.fromkeys(("g", "gram", "grams"), "g"),
    **dict.fromkeys(("s", "sec", "second", "seconds"), "s"),
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), "ms"),
    **dict.fromkeys(("min", "minute", "minutes"), "min"),
    **dict.fromkeys(("h", "hour", "hours"), "h"),
    **dict.fromkeys(("pa", "pascal", "pascals"), "Pa"),
    **dict.fromkeys(("kpa", "kilopascal", "kilopascals"), "kPa"),
    **dict.fromkeys(("mpa", "megapascal", "megapascals"), "MPa"),
    "bar": "bar",
    "psi": "psi",
    "mm/s": "mm/s", "m/s": "m/s", "mm/min": "mm/min", "m/min": "m/min", "in/min": "in/min",
}

#: SI unit name -> (factor to it, the ledger's unit code): what a declared unit's stated
#: factor must be for its name. A name not in :data:`NAMES` is refused even when its factor
#: equals a known unit's: a factor does not say what the file's author meant.
SI_FACTORS: dict[str, tuple[tuple[float, str], ...]] = {
    "meter": ((1.0, "m"), (0.01, "cm"), (0.001, "mm"), (1e-6, "um"), (1e-9, "nm"),
              (0.0254, "in"), (2.54e-5, "[mil_i]")),
    "radian": ((1.0, "rad"), (math.pi / 180, "deg"), (math.pi / 10_800, "arcmin"),
               (math.pi / 648_000, "arcsec")),
}
SI_FACTORS["metre"] = SI_FACTORS["meter"]

assert set(NAMES.values()) <= UNITS.keys(), "every QIF unit maps to a ledger unit code"


@dataclass(frozen=True)
class DeclaredUnit:
    """A unit as the file declares it in ``FileUnits``."""

    element: Element
    quantity: str
    name: str
    si_name: str | None
    factor: float | None


def quantity_of(tag: str) -> str:
    """The quantity a characteristic's values measure, from its QIF type.

    Angles are ``Angle...`` and ``AngularCoordinate...`` characteristics;
    user-defined ones say their quantity (``UserDefinedTemperature...``);
    everything else, geometric tolerances included, is a length.
    """
    name = local(tag)
    if name.startswith(("Angle", "AngularCoordinate", "UserDefinedAngular")):
        return "angular"
    for quantity in ("Temperature", "Force", "Mass", "Time", "Pressure", "Speed", "Area"):
        if name.startswith("UserDefined" + quantity):
            return quantity.lower()
    return "linear"


class FileUnits:
    """The units one QIF file declares, resolved to ledger unit codes on first use."""

    def __init__(self, document: Document) -> None:
        self._document = document
        self.primary: dict[str, DeclaredUnit] = {}
        self.named: dict[str, DeclaredUnit] = {}
        units = document.find(document.root, "q:FileUnits")
        if units is None:
            return
        for group in ("q:PrimaryUnits", "q:OtherUnits"):
            for element in document.findall(units, f"{group}/*"):
                declared = self._declared(element)
                if group == "q:PrimaryUnits":
                    self.primary.setdefault(declared.quantity, declared)
                self.named.setdefault(declared.name.casefold(), declared)

    def _declared(self, element: Element) -> DeclaredUnit:
        document = self._document
        name = document.text(element, "q:UnitName")
        if name is None:
            document.fail(element, "has no UnitName")
        factor = document.find(element, "q:UnitConversion/q:Factor")
        # PMIAngularUnit and friends state the same quantity for annotations.
        quantity = local(element.tag).removeprefix("PMI").removesuffix("Unit").lower()
        return DeclaredUnit(element, quantity, name, document.text(element, "q:SIUnitName"),
                            None if factor is None else document.number(factor))

    def code(self, value: Element, quantity: str) -> str:
        """The ledger's unit code for ``value``: its own unit attribute, else the primary unit."""
        document = self._document
        for attribute, named in value.attrib.items():
            if attribute.endswith("Unit"):
                declared = self.named.get(named.strip().casefold())
                return self._resolve(declared, named, value, f"its {attribute} attribute")
        declared = self.primary.get(quantity)
        if declared is None:
            document.fail(value, f"is a {quantity} value, but the file declares no primary "
                                 f"{quantity} unit (FileUnits/PrimaryUnits/"
                                 f"{quantity.capitalize()}Unit)")
        return self._resolve(declared, declared.name, declared.element, "its UnitName")

    def _resolve(self, declared: DeclaredUnit | None, name: str, element: Element,
                 how: str) -> str:
        code = NAMES.get(name.strip().casefold())
        if code is not None and declared is not None and declared.si_name and declared.factor:
            # A known name must mean what it says: its stated factor to SI agrees.
            expected = {unit: factor for factor, unit in
                        SI_FACTORS.get(declared.si_name.casefold(), ())}
            if code in expected and not math.isclose(declared.factor, expected[code],
                                                     rel_tol=1e-9):
                raise UnknownUnit(
                    f"{self._document.name}: {self._document.where(element)} names unit "
                    f"{name!r} with factor {declared.factor:g} to {declared.si_name}, but "
                    f"{code} is {expected[code]:g}; the file contradicts itself")
        if code is not None:
            return code
        known = ", ".join(sorted({*NAMES.values()} - {"g"}))
        raise UnknownUnit(
            f"{self._document.name}: {self._document.where(element)} names unit {name!r} in "
            f"{how}, which the ledger does not know (known: {known}); state the values in a "
            f"known unit"
        )


__all__ = ["NAMES", "SI_FACTORS", "DeclaredUnit", "FileUnits", "quantity_of"]
