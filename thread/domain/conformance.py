"""Does a measurement conform to its design characteristic: one rule, pure.

A measurement in a unit of the characteristic's quantity is converted exactly
(an inch is 25.4 mm by definition) and compared with the tolerance band
``[nominal + lower, nominal + upper]``, both ends included. A unit of another
quantity (kg on a millimetre characteristic) cannot conform to anything and
is refused, as is a stated nominal or tolerance that differs from the
design's. Standard library only.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal, NamedTuple

#: Unit code -> (quantity, exact factor to the quantity's first unit here). Only units
#: whose conversion is a pure factor: temperatures (offsets) convert only to themselves.
_FACTORS: dict[str, tuple[str, Fraction]] = {
    "mm": ("length", Fraction(1)), "m": ("length", Fraction(1000)),
    "cm": ("length", Fraction(10)), "um": ("length", Fraction(1, 1000)),
    "nm": ("length", Fraction(1, 1_000_000)), "in": ("length", Fraction(254, 10)),
    "[mil_i]": ("length", Fraction(254, 10_000)),
    "deg": ("angle", Fraction(1)), "arcmin": ("angle", Fraction(1, 60)),
    "arcsec": ("angle", Fraction(1, 3600)),
    "N": ("force", Fraction(1)), "kN": ("force", Fraction(1000)),
    "Pa": ("pressure", Fraction(1)), "kPa": ("pressure", Fraction(1000)),
    "MPa": ("pressure", Fraction(1_000_000)), "bar": ("pressure", Fraction(100_000)),
    "s": ("time", Fraction(1)), "ms": ("time", Fraction(1, 1000)),
    "min": ("time", Fraction(60)), "h": ("time", Fraction(3600)),
    "d": ("time", Fraction(86_400)),
    "kg": ("mass", Fraction(1)), "t": ("mass", Fraction(1000)),
    "L": ("volume", Fraction(1)), "mL": ("volume", Fraction(1, 1000)),
}
#: Relative slack for comparing converted values and band ends: float rounding, not design.
_SLACK = 1e-9


class UnitError(ValueError):
    """A value in a unit that cannot be converted to the one asked for."""


class Requirement(NamedTuple):
    """What a characteristic asks for: a band in its unit."""

    unit: str
    nominal: float
    lower_tolerance: float
    upper_tolerance: float

    @property
    def low(self) -> float:
        return self.nominal + self.lower_tolerance

    @property
    def high(self) -> float:
        return self.nominal + self.upper_tolerance

    def describe(self) -> str:
        return (f"{self.nominal:g} {self.unit} ({self.lower_tolerance:+g}/"
                f"{self.upper_tolerance:+g}): {self.low:g} to {self.high:g} {self.unit}")


def convert(value: float, unit: str, to: str) -> float:
    """``value`` in ``unit`` expressed in ``to``; :class:`UnitError` across quantities."""
    if unit == to:
        return value
    source, target = _FACTORS.get(unit), _FACTORS.get(to)
    if source is None or target is None or source[0] != target[0]:
        raise UnitError(f"{unit} does not convert to {to}")
    return float(Fraction(value) * source[1] / target[1])


def same(a: float, b: float) -> bool:
    """Two values equal up to float rounding."""
    return math.isclose(a, b, rel_tol=_SLACK, abs_tol=_SLACK)


def verdict(measured: float, requirement: Requirement) -> Literal["pass", "fail"]:
    """``pass`` when ``measured`` (in the requirement's unit) lies in the band, ends included."""
    low, high = requirement.low, requirement.high
    inside = (low <= measured <= high) or same(measured, low) or same(measured, high)
    return "pass" if inside else "fail"
