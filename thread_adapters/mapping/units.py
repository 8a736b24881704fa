"""Units as sources spell them, read as the ledger's unit codes."""

from __future__ import annotations

from thread.domain.units import UNITS

#: Spellings where case matters (newton metre against nanometre).
EXACT: dict[str, str] = {"Nm": "N.m", "N m": "N.m", "nm": "nm"}

#: Spellings PLCs, HMIs and OPC UA display names use for units the ledger knows.
SPELLINGS: dict[str, str] = {
    "°c": "Cel", "degc": "Cel", "deg c": "Cel", "celsius": "Cel",
    "°f": "degF", "deg f": "degF", "fahrenheit": "degF", "kelvin": "K",
    "1/min": "rpm", "r/min": "rpm", "min-1": "rpm", "min⁻¹": "rpm", "rev/min": "rpm",
    "mm/s²": "mm/s2", "m/s²": "m/s2", "percent": "%", "pct": "%", "µm": "um", "μm": "um",
    "n·m": "N.m", "kwh": "kW.h", "l/min": "L/min", "m³/h": "m3/h",
    "ohm": "Ohm", "ω": "Ohm", "%rh": "%RH", "pcs": "{count}", "count": "{count}",
}

# Unit codes by lower case, where lower case names only one of them.
_LOWER: dict[str, str] = {}
for _code in UNITS:
    _LOWER[_code.lower()] = "" if _code.lower() in _LOWER else _code


def source_unit(text: str) -> str | None:
    """The unit code a source's unit text means, or None when it is not recognised."""
    stripped = text.strip()
    if stripped in UNITS:
        return stripped
    if stripped in EXACT:
        return EXACT[stripped]
    lower = stripped.lower()
    return SPELLINGS.get(lower) or _LOWER.get(lower) or None
