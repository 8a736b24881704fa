"""GS1 Unique Device Identification: the element string, its HRI and the GS1 Digital Link URI.

A UDI in GS1 form is a device identifier, (01) GTIN-14, followed by
production identifiers: (11) production date and (17) expiry date as YYMMDD,
(10) lot and (21) serial of up to 20 characters. A scanner reads it from a
GS1 DataMatrix as an element string, where a GS character (the FNC1 of the
symbol) ends each variable-length field; labels print it as human-readable
interpretation ``(01)...(17)...``; a GS1 Digital Link URI carries it as
``https://id.gs1.org/01/{gtin}/10/{lot}/21/{serial}?17={expiry}``.

Pure functions only: no I/O and no clock, so the same text always parses to
the same UDI.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from thread.errors import LedgerError

__all__ = [
    "GS",
    "UDI",
    "InvalidUDI",
    "gtin_check_digit",
    "parse_digital_link",
    "parse_element_string",
    "parse_hri",
    "parse_udi",
]

#: The group separator (ASCII 29) that a scanner transmits for FNC1 between fields.
GS: Final = "\x1d"
#: FNC1 as some scanners pass the DataMatrix codeword through (Latin-1 232).
_FNC1_CODEWORD: Final = "\xe8"
#: Symbology identifiers a scanner may prefix: GS1 DataMatrix, GS1-128, GS1 QR, DataBar,
#: GS1 DotCode.
_SYMBOLOGY = re.compile(r"^\](?:d2|C1|Q3|e0|J1)")

#: The application identifiers of a UDI: name and fixed length (None: variable, max 20).
_AIS: Final[dict[str, tuple[str, int | None]]] = {
    "01": ("GTIN (device identifier)", 14),
    "11": ("production date", 6),
    "17": ("expiry date", 6),
    "10": ("lot", None),
    "21": ("serial", None),
}
#: Digital Link path keys: the numeric AI or the convenience alias of the 2018 standard.
_PATH_KEYS: Final = {"01": "01", "gtin": "01", "10": "10", "lot": "10", "21": "21", "ser": "21"}
_MAX_VARIABLE = 20
#: GS1 AI encodable character set 82, which lot and serial numbers are written in.
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$")
_DIGITS = re.compile(r"^[0-9]+$")
_HRI_AI = re.compile(r"\((\d{2,4})\)")


class InvalidUDI(LedgerError, ValueError):  # noqa: N818 - reads as the state of the input
    """A UDI that does not parse or validate; names the application identifier and value."""

    def __init__(self, message: str, *, ai: str | None = None, value: str | None = None) -> None:
        self.ai = ai
        self.value = value
        super().__init__(message)


def _refuse(ai: str, value: str, expected: str) -> InvalidUDI:
    name = _AIS[ai][0] if ai in _AIS else "application identifier"
    return InvalidUDI(f"UDI ({ai}) {name} = {value!r}: expected {expected}", ai=ai, value=value)


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of a GTIN body (weights 3 and 1 from the right)."""
    if not _DIGITS.match(body):
        raise InvalidUDI(f"GTIN body {body!r}: expected digits only", ai="01", value=body)
    total = sum(int(digit) * (3 if index % 2 == 0 else 1)
                for index, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _check_gtin(value: str) -> str:
    if len(value) != 14 or not _DIGITS.match(value):
        raise _refuse("01", value, "14 digits")
    expected = gtin_check_digit(value[:13])
    if int(value[13]) != expected:
        raise _refuse("01", value, f"check digit {expected}, not {value[13]}")
    return value


def _check_date(ai: str, value: str) -> str:
    if len(value) != 6 or not _DIGITS.match(value):
        raise _refuse(ai, value, "a date as 6 digits YYMMDD")
    year, month, day = 2000 + int(value[:2]), int(value[2:4]), int(value[4:])
    if not 1 <= month <= 12:
        raise _refuse(ai, value, f"a month 01-12 in YYMMDD, not {value[2:4]}")
    last = calendar.monthrange(year, month)[1]
    if not 0 <= day <= last:  # GS1: day 00 means the last day of the month
        raise _refuse(ai, value, f"a day 00-{last} for {year}-{month:02d}, not {value[4:]}")
    return value


def _check_text(ai: str, value: str) -> str:
    if not value:
        raise _refuse(ai, value, "at least one character")
    if len(value) > _MAX_VARIABLE:
        raise _refuse(ai, value, f"at most {_MAX_VARIABLE} characters, not {len(value)}")
    if not _CSET82.match(value):
        bad = next(char for char in value if not _CSET82.match(char))
        raise _refuse(ai, value, f"GS1 character set 82 only (letters, digits and "
                                 f"!\"%&'()*+,-./:;<=>?_), not {bad!r}")
    return value


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    year, month, day = 2000 + int(value[:2]), int(value[2:4]), int(value[4:])
    return date(year, month, day or calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class UDI:
    """A GS1 UDI: the device identifier (GTIN-14) and the production identifiers.

    Dates are kept as encoded (YYMMDD, day 00 allowed) so that writing the UDI
    back gives the same text; :attr:`production_day` and :attr:`expiry_day`
    read them as calendar dates. Years are read as 20YY: GS1's sliding
    century window would make one label mean different dates depending on the
    day it is read, which a record must not do, and UDI dates are all in this
    century.
    """

    gtin: str
    lot: str | None = None
    serial: str | None = None
    production_date: str | None = None
    expiry_date: str | None = None

    def __post_init__(self) -> None:
        _check_gtin(self.gtin)
        for ai, value in (("11", self.production_date), ("17", self.expiry_date)):
            if value is not None:
                _check_date(ai, value)
        for ai, value in (("10", self.lot), ("21", self.serial)):
            if value is not None:
                _check_text(ai, value)

    @property
    def production_day(self) -> date | None:
        """The (11) production date as a date (day 00: the month's last day)."""
        return _day(self.production_date)

    @property
    def expiry_day(self) -> date | None:
        """The (17) expiry date as a date (day 00: the month's last day)."""
        return _day(self.expiry_date)

    def elements(self) -> list[tuple[str, str]]:
        """(AI, value) pairs in GS1's recommended order: fixed-length fields first."""
        pairs = [("01", self.gtin), ("11", self.production_date), ("17", self.expiry_date),
                 ("10", self.lot), ("21", self.serial)]
        return [(ai, value) for ai, value in pairs if value is not None]

    def element_string(self, separator: str = GS) -> str:
        """The element string a GS1 DataMatrix encodes, with ``separator`` after each
        variable-length field that is not the last."""
        text = ""
        pairs = self.elements()
        for index, (ai, value) in enumerate(pairs):
            text += ai + value
            if _AIS[ai][1] is None and index < len(pairs) - 1:
                text += separator
        return text

    def hri(self) -> str:
        """The human-readable interpretation printed under the symbol: ``(01)...(21)...``."""
        return "".join(f"({ai}){value}" for ai, value in self.elements())

    def digital_link(self, domain: str = "https://id.gs1.org") -> str:
        """The GS1 Digital Link URI: key and qualifiers in the path, dates in the query."""
        path = f"{domain.rstrip('/')}/01/{self.gtin}"
        for ai, value in (("10", self.lot), ("21", self.serial)):
            if value is not None:
                path += f"/{ai}/{quote(value, safe='')}"
        query = "&".join(f"{ai}={value}" for ai, value in (("11", self.production_date),
                                                            ("17", self.expiry_date))
                         if value is not None)
        return path + (f"?{query}" if query else "")


def _build(found: dict[str, str], text: str) -> UDI:
    if "01" not in found:
        raise InvalidUDI(f"UDI {text!r}: expected the device identifier (01) GTIN, "
                         f"found only {', '.join(f'({ai})' for ai in found) or 'nothing'}",
                         ai="01", value=None)
    return UDI(gtin=found["01"], lot=found.get("10"), serial=found.get("21"),
               production_date=found.get("11"), expiry_date=found.get("17"))


def _put(found: dict[str, str], ai: str, value: str) -> None:
    if ai not in _AIS:
        raise InvalidUDI(
            f"UDI application identifier ({ai}) with value {value!r} is not one this parser "
            f"reads; a UDI has (01), (11), (17), (10) and (21)", ai=ai, value=value)
    if ai in found:
        raise _refuse(ai, value, f"one ({ai}) per UDI; it already has {found[ai]!r}")
    if ai == "01":
        found[ai] = _check_gtin(value)
    elif ai in ("11", "17"):
        found[ai] = _check_date(ai, value)
    else:
        found[ai] = _check_text(ai, value)


def parse_element_string(text: str) -> UDI:
    """A UDI from a scanned element string: AIs and values, GS (or FNC1) after variable fields.

    A symbology identifier such as ``]d2`` and a leading FNC1 are skipped.
    """
    data = _SYMBOLOGY.sub("", text).replace(_FNC1_CODEWORD, GS).lstrip(GS)
    found: dict[str, str] = {}
    at = 0
    while at < len(data):
        ai = data[at:at + 2]
        if ai not in _AIS:
            raise InvalidUDI(
                f"UDI element string {text!r}: application identifier {ai!r} at position {at} "
                f"is not one this parser reads; a UDI has (01), (11), (17), (10) and (21)",
                ai=ai, value=data[at + 2:])
        at += 2
        length = _AIS[ai][1]
        if length is not None:
            value = data[at:at + length]
            if len(value) < length:
                raise _refuse(ai, value, f"{length} characters, the element string ends "
                                         f"after {len(value)}")
            at += length
            if data[at:at + 1] == GS:  # a separator after a fixed field is tolerated
                at += 1
        else:
            end = data.find(GS, at)
            end = len(data) if end < 0 else end
            value, at = data[at:end], end + 1
        _put(found, ai, value)
    return _build(found, text)


def parse_hri(text: str) -> UDI:
    """A UDI from its human-readable interpretation, ``(01)09506000134352(10)A1(21)7``."""
    stripped = text.strip()
    marks = list(_HRI_AI.finditer(stripped))
    if not marks or marks[0].start() != 0:
        raise InvalidUDI(f"UDI {text!r}: expected it to start with an AI in parentheses, "
                         "such as (01)", ai=None, value=text)
    found: dict[str, str] = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following is not None else len(stripped)
        _put(found, mark.group(1), stripped[mark.end():end].strip())  # '(01) 0950...' is common
    return _build(found, text)


def parse_digital_link(uri: str) -> UDI:
    """A UDI from a GS1 Digital Link URI on any domain, with its path prefix ignored."""
    try:
        parts = urlsplit(uri.strip())
    except ValueError as error:  # an unbalanced [ in the host, for example
        raise InvalidUDI(f"UDI {uri!r}: not a URI ({error})", value=uri) from None
    if parts.scheme not in ("http", "https"):
        raise InvalidUDI(f"UDI {uri!r}: expected an http(s) GS1 Digital Link URI", value=uri)
    segments = [segment for segment in parts.path.split("/") if segment]
    starts = [index for index, segment in enumerate(segments) if _PATH_KEYS.get(segment) == "01"]
    if not starts:
        raise InvalidUDI(f"UDI {uri!r}: expected a path with /01/ and the GTIN", ai="01",
                         value=None)
    pairs = segments[starts[0]:]
    if len(pairs) % 2:
        raise InvalidUDI(f"UDI {uri!r}: path segment {pairs[-1]!r} has no value", value=uri)
    found: dict[str, str] = {}
    for key, value in zip(pairs[::2], pairs[1::2], strict=True):
        ai = _PATH_KEYS.get(key, key)
        value = unquote(value)
        if ai == "01" and _DIGITS.match(value) and len(value) in (8, 12, 13):
            value = value.zfill(14)  # Digital Link allows GTIN-8, -12, -13 unpadded
        _put(found, ai, value)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _DIGITS.match(key):  # other query keys (linkType, context) are not identifiers
            _put(found, key, value)
    return _build(found, uri)


def parse_udi(text: str) -> UDI:
    """A UDI in any GS1 form: Digital Link URI, HRI with parenthesised AIs, or element string."""
    stripped = text.strip(" \t\r\n")
    if not stripped:
        raise InvalidUDI("UDI is empty: expected a GS1 element string, HRI or Digital Link URI",
                         value=text)
    if stripped.lower().startswith(("http://", "https://")):
        return parse_digital_link(stripped)
    if stripped.startswith("("):
        return parse_hri(stripped)
    return parse_element_string(stripped)
