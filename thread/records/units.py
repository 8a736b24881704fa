"""How a record prints units and requirements: as people write them, not as unit codes.

Facts state units by their UCUM-style codes (:mod:`thread.domain.units`):
``Cel``, ``um``, ``N.m``. A copy for people prints the symbols of the SI
Brochure (BIPM, 9th edition, 2019): degree Celsius ``°C`` (table 4), the
prefix micro ``µ`` (table 7), a product of units with a half-high dot,
``N·m`` (section 5.4.4), powers as superscripts, ``m/s²`` and ``m³/h``, and
a space between the number and the unit, ``21 °C`` and ``41 %``, except for
the plane-angle degree, minute and second, which follow the number directly,
``30°`` (section 5.4.3). Units outside the SI print as the trade writes them
(``rpm``, ``psi``, ``HRC``, ``mil``); UCUM annotations that only count
(``1``, ``{count}``) print no unit.

A limit on one side only, such as a roughness with nominal 0 and tolerance
+0.2/0, prints as a drawing states it, ``Ra ≤ 0.2 µm``: the parameter's
symbol (ISO 21920-2) when the characteristic's name ends in one.

Every code the domain accepts has a symbol here; a test holds the two tables
together, and every character used is one the PDF's embedded font can draw.
"""

from __future__ import annotations

from collections.abc import Iterable

from thread.domain.facts.measures import Reading

#: Unit code (thread.domain.units.UNITS) -> the symbol a record prints.
SYMBOLS: dict[str, str] = {
    # length
    "m": "m", "mm": "mm", "um": "\u00b5m", "nm": "nm", "cm": "cm", "in": "in",
    "[mil_i]": "mil",
    # angle: the degree, minute and second have no space before them (SI Brochure 5.4.3);
    # the embedded font has no prime glyphs, so minute and second are the typewriter marks
    "deg": "\u00b0", "rad": "rad", "arcmin": "'", "arcsec": '"',
    # temperature
    "Cel": "\u00b0C", "degF": "\u00b0F", "K": "K",
    # time
    "s": "s", "ms": "ms", "min": "min", "h": "h", "d": "d",
    # speed and feed
    "rpm": "rpm", "mm/min": "mm/min", "mm/rev": "mm/rev", "m/min": "m/min", "mm/s": "mm/s",
    "m/s": "m/s", "in/min": "in/min",
    # acceleration
    "mm/s2": "mm/s\u00b2", "m/s2": "m/s\u00b2", "g": "g",
    # pressure, force and torque
    "Pa": "Pa", "kPa": "kPa", "MPa": "MPa", "bar": "bar", "psi": "psi", "N": "N", "kN": "kN",
    "N.m": "N\u00b7m",
    # mass, volume and flow
    "kg": "kg", "t": "t", "L": "L", "mL": "mL", "L/min": "L/min", "m3/h": "m\u00b3/h",
    # electrical and power
    "V": "V", "A": "A", "W": "W", "kW": "kW", "kW.h": "kW\u00b7h", "Hz": "Hz", "kHz": "kHz",
    "Ohm": "\u03a9",
    # ratios, counts, hardness and levels
    "%": "%", "1": "", "{count}": "", "{cycle}": "cycles", "%RH": "%RH", "HRC": "HRC",
    "HV": "HV", "dB": "dB",
}
#: Symbols written against the number, with no space (SI Brochure 5.4.3).
_UNSPACED = frozenset({"\u00b0", "'", '"'})
#: Surface texture parameters (ISO 21920-2) a drawing writes before a limit.
_TEXTURE = frozenset({"Ra", "Rq", "Rz", "Rt", "Rp", "Rv", "Rsk", "Rku", "Rmax", "Sa", "Sq",
                      "Sz"})


def symbol(code: str | None) -> str:
    """The printed symbol of a unit code (an unknown code prints as it is)."""
    if code is None:
        return ""
    return SYMBOLS.get(code, code)


def number(value: float) -> str:
    """A measured or nominal value without float noise."""
    return f"{value:g}"


def quantity(value: float, code: str | None) -> str:
    """A value with its unit as people write it: ``21 °C``, ``0.11 µm``, ``30°``."""
    printed = symbol(code)
    if not printed:
        return number(value)
    return number(value) + ("" if printed in _UNSPACED else " ") + printed


def readings(values: Iterable[Reading]) -> str:
    """Named readings as a record lists them: ``temperature 21 °C, humidity 41 %RH``."""
    return ", ".join(f"{r.name} {quantity(r.value, r.unit)}" for r in values)


def requirement(nominal: float | None, lower: float | None, upper: float | None,
                unit: str | None, text: str | None = None, name: str | None = None
                ) -> str | None:
    """A requirement as a drawing states it: nominal, tolerances and limits, a one-sided
    limit (``Ra ≤ 0.2 µm``), or its text."""
    if nominal is None or lower is None or upper is None:
        return text
    if nominal == 0 and lower == 0 and upper > 0:  # a maximum, nothing below zero
        parameter = (name or "").split()[-1:]
        prefix = f"{parameter[0]} " if parameter and parameter[0] in _TEXTURE else ""
        return f"{prefix}\u2264 {quantity(upper, unit)}"
    tolerance = f"\u00b1{number(upper)}" if lower == -upper else f"{upper:+g}/{lower:+g}"
    low, high = round(nominal + lower, 9), round(nominal + upper, 9)  # no float noise
    printed = symbol(unit)
    spaced = f" {printed}" if printed and printed not in _UNSPACED else printed
    return (f"{number(nominal)}{spaced} {tolerance} "
            f"({number(low)} to {quantity(high, unit)})")
