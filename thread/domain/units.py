"""The units a fact may state, by their UCUM-style codes.

A value without a known unit cannot be compared or converted later, so
facts refuse unknown unit codes instead of storing them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

#: Unit code -> quantity it measures.
UNITS: dict[str, str] = {
    # length
    "m": "length", "mm": "length", "um": "length", "nm": "length", "in": "length",
    "[mil_i]": "length", "cm": "length",
    # angle
    "deg": "angle", "rad": "angle", "arcmin": "angle", "arcsec": "angle",
    # surface finish and form are lengths, named for clarity in reports
    # temperature
    "Cel": "temperature", "degF": "temperature", "K": "temperature",
    # time
    "s": "time", "ms": "time", "min": "time", "h": "time", "d": "time",
    # rotational and linear speed, feed
    "rpm": "rotational speed", "mm/min": "feed rate", "mm/rev": "feed per revolution",
    "m/min": "speed", "mm/s": "speed", "m/s": "speed", "in/min": "feed rate",
    # vibration
    "mm/s2": "acceleration", "m/s2": "acceleration", "g": "acceleration or mass",
    # pressure and force
    "Pa": "pressure", "kPa": "pressure", "MPa": "pressure", "bar": "pressure",
    "psi": "pressure", "N": "force", "kN": "force", "N.m": "torque",
    # mass, volume, flow
    "kg": "mass", "t": "mass", "L": "volume", "mL": "volume", "L/min": "flow",
    "m3/h": "flow",
    # electrical and power
    "V": "voltage", "A": "current", "W": "power", "kW": "power", "kW.h": "energy",
    "Hz": "frequency", "kHz": "frequency", "Ohm": "resistance",
    # ratios and counts
    "%": "ratio", "1": "count", "{count}": "count", "{cycle}": "count", "%RH": "humidity",
    "HRC": "hardness", "HV": "hardness", "dB": "level",
}


def check_unit(code: str) -> str:
    """Return ``code`` if it is a known unit, else explain which codes are accepted."""
    if code not in UNITS:
        raise ValueError(
            f"a known unit code such as mm, um, Cel, rpm, mm/min, bar, mm/s, %, h "
            f"(unknown unit {code!r})"
        )
    return code


#: A unit code validated against :data:`UNITS`.
Unit = Annotated[str, AfterValidator(check_unit)]
