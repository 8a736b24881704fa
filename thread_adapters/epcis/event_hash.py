"""The GS1 EPCIS 2.0 / CBV 2.0 event hash: ``ni:///sha-256;<hex>?ver=CBV2.0``.

CBV 2.0 (section "EPCIS event hash ID") names an event by the SHA-256 digest of a
canonical *pre-hash string* of it, so that the same event gives the same name
whether it travelled as JSON-LD or XML, in whatever key or element order, with
EPC URNs or GS1 Digital Link URIs, in whatever time zone. This module computes
that string and its digest for EPCIS 2.0 JSON-LD events and documents and for
EPCIS 2.0 XML documents, and agrees with the reference implementation published
with the algorithm (the ``epcis-event-hash-generator`` package, 1.9.x) on every
example it ships; the tests hold it to that.

How the pre-hash string is made
-------------------------------
Both syntaxes are first read into one tree of named nodes with a text each (an
XML attribute is a child like an element; a JSON array gives one node per
member, and JSON-LD's names for lists are mapped to XML's: the members of
``epcList`` are ``epc``, of ``quantityList`` ``quantityElement`` and so on).
JSON-LD compact names are resolved with the prefixes the document's
``@context`` declares (``example:x`` becomes ``{https://ns.example.com/}x``),
bare CBV terms with the EPCIS 2.0 context's vocabularies (``bizStep: shipping``
becomes ``https://ref.gs1.org/cbv/BizStep-shipping``); in XML, ``gs1:`` and
``cbv:`` in values are expanded. Then, with no separators between the pieces:

1. ``eventType=`` and the event's type.
2. The standard fields in this order, each present one as ``name=value`` or, for
   a structure, ``name`` followed by its own fields in their order: eventTime,
   eventTimeZoneOffset, certificationInfo, parentID, epcList (epc),
   inputEPCList, childEPCs, quantityList (quantityElement: epcClass, quantity,
   uom), childQuantityList, inputQuantityList, outputEPCList,
   outputQuantityList, action, transformationID, bizStep, disposition,
   persistentDisposition (set, unset), readPoint (id), bizLocation (id),
   sensorElementList (sensorElement: sensorMetadata with time, startTime,
   endTime, deviceID, deviceMetadata, rawData, dataProcessingMethod, bizRules;
   then each sensorReport with type, exception, deviceID, deviceMetadata,
   rawData, dataProcessingMethod, time, microorganism, chemicalSubstance,
   value, component, stringValue, booleanValue, hexBinaryValue, uriValue,
   minValue, maxValue, meanValue, sDev, percRank, percValue, uom,
   coordinateReferenceSystem). Repeated members (the EPCs of a list, several
   sensor reports) are sorted by their own strings. Inside a structure (not
   at the event's top level) user extensions whose namespace ends in ``/`` come
   after its standard fields, as in step 3.
3. Everything else the event has, each as ``name=value`` or ``name`` followed by
   its members the same way, all sorted by their strings: bizTransactionList,
   sourceList and destinationList (each member as ``type=...`` then
   ``bizTransaction=...``, ``source=...`` or ``destination=...``), ilmd, user
   extensions, and what of a standard structure step 2 did not take.
   eventID, recordTime and errorDeclaration are left out, so that declaring an
   error later does not rename the event.

Values are stripped of surrounding white space; timestamps in step 2 are
written in UTC with milliseconds (``2020-03-04T10:00:30.000Z``, half-even
rounding); old CBV URNs (``urn:epcglobal:cbv:bizstep:...``) become web URIs;
numbers lose trailing zeros (``452.0`` is ``452``); EPC URIs (``urn:epc:id:``,
``urn:epc:class:``, ``urn:epc:idpat:``) become canonical GS1 Digital Link URIs,
and Digital Link URIs on any domain become the constrained canonical form on
``https://id.gs1.org`` with only the finest key level and no query string.
Strings compare by code point.

Where the reference's code and its README differ, this follows the code, since
that is what other implementations are tested against and what their hashes
match: step 3 sorts bizTransactionList, sourceList, destinationList and ilmd
in with the user extensions (the README's table puts the three lists before
sensorElementList); certificationInfo, missing from that table, follows
eventTimeZoneOffset; in JSON-LD a compact IRI value (``gs1:Angle``) is expanded
only with a prefix the document's own ``@context`` declares, while XML always
expands ``gs1:`` and ``cbv:``; JSON ``true`` and ``false`` are written ``True``
and ``False``; a number is whatever Python's float() reads. Where the
reference is stricter or looser than this module (a bizTransaction without a
type, a timestamp without a UTC offset, a JSON null, a term used outside its
field), see :func:`prehash`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final, Literal, NoReturn, TypeAlias
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLParser

__all__ = [
    "EVENT_TYPES",
    "EventHashError",
    "JsonLdContext",
    "document_hashes",
    "event_hash",
    "prehash",
    "xml_document_hashes",
]

#: A JSON-LD ``@context``: a URL, an object of term definitions, or a list of them.
JsonLdContext: TypeAlias = str | Mapping[str, Any] | Sequence[Any] | None

#: The five EPCIS 2.0 event types.
EVENT_TYPES: Final = frozenset({"ObjectEvent", "AggregationEvent", "TransactionEvent",
                                "TransformationEvent", "AssociationEvent"})

_HASH_PREFIX: Final = "ni:///sha-256;"
_HASH_SUFFIX: Final = "?ver=CBV2.0"


class EventHashError(ValueError):
    """An event (or document) that cannot be hashed: the message names the event, the field
    and what was expected, on one line."""


# -- the internal form ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Node:
    """One field of an event as both syntaxes give it: a name, a text and child fields.

    ``pair`` marks a member of bizTransactionList, sourceList or destinationList, whose
    children (its type, then its value) are written in that order rather than sorted.
    ``where`` says where the field was, for error messages.
    """

    name: str
    text: str = ""
    children: tuple[_Node, ...] = ()
    pair: bool = False
    where: str = ""


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str
    fields: tuple[_Node, ...]
    label: str


def _fail(label: str, where: str, expected: str, got: object = None, *,
          got_kind: str | None = None) -> NoReturn:
    """Raise the one-line error: which event, which field, what was expected and what came
    (a value, shown quoted, or a kind of JSON value, shown as is)."""
    shown = "" if got is None else f", got {_shown(got)}"
    if got_kind is not None:
        shown = f", got {got_kind}"
    raise EventHashError(f"{label}: {where}: expected {expected}{shown}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- the canonical order ----------------------------------------------------------------------

_Kind: TypeAlias = Literal["value", "group", "opaque"]


@dataclass(frozen=True, slots=True)
class _Slot:
    """A place in the canonical order. A ``value`` slot writes ``name=text``; a ``group``
    writes its name and then its own slots; an ``opaque`` one writes nothing here, and
    its field, unless empty, goes with the rest of the event in step 3."""

    name: str
    kind: _Kind = "value"
    inner: tuple[_Slot, ...] = ()


def _group(name: str, *inner: _Slot | str) -> _Slot:
    return _Slot(name, "group", tuple(_Slot(x) if isinstance(x, str) else x for x in inner))


_QUANTITIES: Final = _group("quantityElement", "epcClass", "quantity", "uom")
_SENSOR_METADATA: Final = _group(
    "sensorMetadata", "time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData",
    "dataProcessingMethod", "bizRules")
_SENSOR_REPORT: Final = _group(
    "sensorReport", "type", "exception", "deviceID", "deviceMetadata", "rawData",
    "dataProcessingMethod", "time", "microorganism", "chemicalSubstance", "value", "component",
    "stringValue", "booleanValue", "hexBinaryValue", "uriValue", "minValue", "maxValue",
    "meanValue", "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem")
_EVENT_ORDER: Final = (
    _Slot("eventTime"),
    _Slot("eventTimeZoneOffset"),
    _Slot("certificationInfo"),
    _Slot("parentID"),
    _group("epcList", "epc"),
    _group("inputEPCList", "epc"),
    _group("childEPCs", "epc"),
    _group("quantityList", _QUANTITIES),
    _group("childQuantityList", _QUANTITIES),
    _group("inputQuantityList", _QUANTITIES),
    _group("outputEPCList", "epc"),
    _group("outputQuantityList", _QUANTITIES),
    _Slot("action"),
    _Slot("transformationID"),
    _Slot("bizStep"),
    _Slot("disposition"),
    _group("persistentDisposition", "set", "unset"),
    _group("readPoint", "id"),
    _group("bizLocation", "id"),
    _Slot("bizTransactionList", "opaque"),
    _Slot("sourceList", "opaque"),
    _Slot("destinationList", "opaque"),
    _group("sensorElementList", _group("sensorElement", _SENSOR_METADATA, _SENSOR_REPORT)),
)
#: Top-level fields that never enter the hash.
_NOT_HASHED: Final = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})
#: Members whose siblings keep their order (the value half of a type/value pair).
_PAIRED: Final = ("bizTransaction", "source", "destination")


def _prehash_of(event: _Event) -> str:
    ordered, rest = _ordered(event.fields, _EVENT_ORDER, event.label, top=True)
    loose = [field for field in rest if field.name not in _NOT_HASHED]
    return f"eventType={event.kind}{ordered}{_loose(loose)}"


def _ordered(fields: tuple[_Node, ...], slots: tuple[_Slot, ...], label: str, *, top: bool
             ) -> tuple[str, tuple[_Node, ...]]:
    """The fields in ``slots`` order, then (below the top) the user extensions that travel
    with their parent; and the fields not written, for step 3."""
    pool = list(fields)
    travelling: list[_Node] = []
    if (not top and len(pool) > 1
            and not any("eventTime" in field.name or "action" in field.name for field in pool)):
        travelling = [field for field in pool if _travels(field.name)]
        pool = [field for field in pool if not _travels(field.name)]
    pieces: list[str] = []
    for slot in slots:
        written: list[str] = []
        kept: list[_Node] = []
        for field in pool:
            if field.name != slot.name:
                kept.append(field)
                continue
            text, rest = _in_slot(field, slot, label)
            if text:
                written.append(text)
            if rest is not None:
                kept.append(rest)
        pool = kept
        pieces.extend(sorted(written))
    return "".join(pieces) + _loose(travelling), tuple(pool)


def _travels(name: str) -> bool:
    """A user extension written inside its parent structure: a namespace that ends in '/'."""
    return name.startswith("{") and "/}" in name


def _in_slot(field: _Node, slot: _Slot, label: str) -> tuple[str, _Node | None]:
    """A field in its slot, and what of it is left for step 3 (None when nothing is)."""
    value = field.text.strip()
    if value:
        value = _timestamp(value, field, label) if _is_time(field.name) else _canonical(value)
    inner, rest = "", field.children
    if slot.kind == "group":
        inner, rest = _ordered(field.children, slot.inner, label, top=False)
    text = f"{field.name}={value}{inner}" if value else (f"{field.name}{inner}" if inner else "")
    return text, (replace(field, children=rest) if rest else None)


def _is_time(name: str) -> bool:
    lowered = name.lower()
    return "time" in lowered and "offset" not in lowered


def _loose(fields: Iterable[_Node]) -> str:
    """Fields outside the canonical order: each with its members, all sorted by string."""
    members = list(fields)
    pieces = [_loose_one(field) for field in members]
    if len(members) > 1 and not any(field.name in _PAIRED for field in members):
        pieces.sort()
    return "".join(pieces)


def _loose_one(field: _Node) -> str:
    if field.pair:
        return "".join(_loose_one(half) for half in field.children)
    value = field.text.strip()
    head = f"{field.name}={_canonical(value)}" if value else field.name
    return head + _loose(field.children)


# -- values ------------------------------------------------------------------------------------

_CBV_URNS: Final = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)


def _canonical(value: str) -> str:
    """A value as the pre-hash string has it: CBV web URIs, plain numbers, Digital Links."""
    for urn, web in _CBV_URNS:
        value = value.replace(urn, web)
    value = _number(value)
    return _digital_link(value) or value


def _number(value: str) -> str:
    """A decimal without trailing zeros (``452.0`` -> ``452``); anything else unchanged.

    Like the reference implementation, a number is whatever Python's float() reads, and
    it is written back from that binary value (so more than 17 significant digits are
    lost, and leading zeros go).
    """
    try:
        number = float(value)
    except ValueError:
        return value
    if not math.isfinite(number):
        return value
    return str(int(number)) if number.is_integer() else repr(number)


_TIMESTAMP: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)")


def _timestamp(value: str, field: _Node, label: str) -> str:
    """An ISO 8601 date-time with a UTC offset, in UTC with milliseconds."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        _fail(label, field.where or field.name,
              "an ISO 8601 date-time with a UTC offset (2020-03-04T11:00:30.000+01:00)", value)
    zone = match["zone"]
    offset = timedelta(0)
    if zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        if int(digits[2:] or 0) > 59:
            _fail(label, field.where or field.name, "a UTC offset of at most 59 minutes", value)
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if zone[0] == "-":
            offset = -offset
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    try:
        year, month, day = (int(part) for part in match["date"].split("-"))
        moment = datetime(year, month, day, int(match["hour"]), int(match["minute"]),
                          int(match["second"] or 0), int(fraction), tzinfo=timezone(offset))
    except ValueError as error:
        _fail(label, field.where or field.name, f"a valid date-time ({error})", value)
    try:
        utc = moment.astimezone(UTC)
        milliseconds, rest = divmod(utc.microsecond, 1000)
        if rest > 500 or (rest == 500 and milliseconds % 2):
            milliseconds += 1
        utc = utc.replace(microsecond=0) + timedelta(milliseconds=milliseconds)
    except OverflowError:
        _fail(label, field.where or field.name, "a date-time between years 1 and 9999 in UTC",
              value)
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
            f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z")


# -- EPC URIs and GS1 Digital Link -------------------------------------------------------------


def _escapes(codes: Iterable[int]) -> str:
    return "|".join(f"%{code:02X}|%{code:02x}" for code in sorted(set(codes)))


#: One character of an EPC URI's alphanumeric component: a character GS1's AI
#: encodable set 82 allows as is in a URN, or a %-escape of a printable character.
_URN_CHAR: Final = (
    "(?:" + _escapes([0x21, 0x22, *range(0x25, 0x40), *range(0x41, 0x5B), 0x5F,
                      *range(0x61, 0x7B)])
    + r"|[!')(*+,.0-9:;=A-Za-z_-])")
#: One character of a CPI's component (digits, capitals, '-', '#' and '/').
_CPI_CHAR: Final = (
    "(?:" + _escapes([0x23, 0x2D, 0x2F, *range(0x30, 0x3A), *range(0x41, 0x5B)])
    + r"|[0-9A-Z-])")
_GCP: Final = r"(?P<gcp>\d{6,12})\.(?P<ref>\d*)"


def _check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit: weights 3 and 1 alternating from the right."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1)
                for index, digit in enumerate(reversed(digits)))
    return str(-total % 10)


def _web(text: str) -> str:
    """Percent-encode what a Digital Link path segment may not carry but a URN may."""
    for char, code in (("!", "%21"), ("(", "%28"), (")", "%29"), ("*", "%2A"),
                       ("+", "%2B"), (",", "%2C"), (":", "%3A")):
        text = text.replace(char, code)
    return text


def _urn_length(text: str) -> int:
    return len(text) - 2 * text.count("%")


@dataclass(frozen=True, slots=True)
class _EpcScheme:
    """One EPC URI scheme: its pattern, the length of company prefix plus reference
    (None where the reference is free text), and how its Digital Link is written."""

    pattern: re.Pattern[str]
    digits: int | None
    build: str
    max_gcp: int = 12
    serial_limit: int = 0


_GTIN_SCHEMES: Final = {"sgtin", "itip", "upui", "lgtin"}


def _scheme(prefix: str, tail: str, digits: int | None, build: str, *, max_gcp: int = 12,
            serial_limit: int = 0) -> _EpcScheme:
    head = _GCP if digits is not None else r"(?P<gcp>\d{6,12})\."
    return _EpcScheme(re.compile(f"urn:epc:{prefix}:{head}{tail}"), digits, build, max_gcp,
                      serial_limit)


_U20: Final = rf"(?P<serial>{_URN_CHAR}{{1,20}})"
_EPC_SCHEMES: Final = {
    ("id", "sgtin"): _scheme("id:sgtin", rf"\.{_U20}", 13, "01/{gtin}/21/{serial}"),
    ("id", "sscc"): _scheme("id:sscc", "", 17, "00/{sscc}"),
    ("id", "sgln"): _scheme("id:sgln", rf"\.{_U20}", 12, "414/{key}{extension}"),
    ("id", "grai"): _scheme("id:grai", rf"\.(?P<serial>{_URN_CHAR}{{1,16}})", 12,
                            "8003/0{key}{serial}", max_gcp=11),
    ("id", "giai"): _scheme("id:giai", rf"(?P<serial>{_URN_CHAR}+)", None, "8004/{gcp}{serial}",
                            serial_limit=30),
    ("id", "gsrn"): _scheme("id:gsrn", "", 17, "8018/{key}"),
    ("id", "gsrnp"): _scheme("id:gsrnp", "", 17, "8017/{key}"),
    ("id", "gdti"): _scheme("id:gdti", rf"\.(?P<serial>{_URN_CHAR}{{0,20}})", 12,
                            "253/{key}{serial}"),
    ("id", "cpi"): _scheme("id:cpi", rf"(?P<serial>{_CPI_CHAR}+)\.(?P<cpi>\d{{1,12}})", None,
                           "8010/{gcp}{serial}/8011/{cpi}", serial_limit=30),
    ("id", "sgcn"): _scheme("id:sgcn", r"\.(?P<serial>\d{1,12})", 12, "255/{key}{serial}"),
    ("id", "ginc"): _scheme("id:ginc", rf"(?P<serial>{_URN_CHAR}+)", None, "401/{gcp}{serial}",
                            serial_limit=30),
    ("id", "gsin"): _scheme("id:gsin", "", 16, "402/{key}"),
    ("id", "itip"): _scheme("id:itip", rf"\.(?P<piece>\d\d)\.(?P<total>\d\d)\.{_U20}", 13,
                            "8006/{gtin}{piece}{total}/21/{serial}"),
    ("id", "upui"): _scheme("id:upui", rf"\.(?P<serial>{_URN_CHAR}{{1,28}})", 13,
                            "01/{gtin}/235/{serial}"),
    ("id", "pgln"): _scheme("id:pgln", "", 12, "417/{key}"),
    ("class", "lgtin"): _scheme("class:lgtin", rf"\.{_U20}", 13, "01/{gtin}/10/{serial}"),
    ("idpat", "sgtin"): _scheme("idpat:sgtin", r"\.\*", 13, "01/{gtin}"),
    ("idpat", "grai"): _scheme("idpat:grai", r"\.\*", 12, "8003/0{key}", max_gcp=11),
    ("idpat", "gdti"): _scheme("idpat:gdti", r"\.\*", 12, "253/{key}", max_gcp=11),
    ("idpat", "sgcn"): _scheme("idpat:sgcn", r"\.\*", 12, "255/{key}", max_gcp=11),
    ("idpat", "cpi"): _scheme("idpat:cpi", rf"(?P<serial>{_CPI_CHAR}+)\.\*", None,
                              "8010/{gcp}{serial}", serial_limit=30),
    ("idpat", "itip"): _scheme("idpat:itip", r"\.(?P<piece>\d\d)\.(?P<total>\d\d)\.\*", 13,
                               "8006/{gtin}{piece}{total}"),
    ("idpat", "upui"): _scheme("idpat:upui", r"\.\*", 13, "01/{gtin}"),
}


def _epc_to_digital_link(uri: str) -> str | None:
    """An EPC URI, EPC class URI or EPC pattern URI as a canonical GS1 Digital Link URI."""
    parts = uri.split(":", 4)
    if len(parts) < 5:
        return None
    scheme = _EPC_SCHEMES.get((parts[2], parts[3]))
    if scheme is None:
        return None
    match = scheme.pattern.fullmatch(uri)
    if match is None:
        return None
    gcp = match["gcp"]
    if len(gcp) > scheme.max_gcp:
        return None
    fields = {name: value or "" for name, value in match.groupdict().items()}
    if scheme.digits is None:
        if _urn_length(fields["serial"]) > scheme.serial_limit - len(gcp):
            return None
        # A CPI's company prefix and part reference are one Digital Link value.
        fields["gcp"] = _web(gcp + fields["serial"]) if parts[3] == "cpi" else gcp
        fields["serial"] = "" if parts[3] == "cpi" else _web(fields["serial"])
        return "https://id.gs1.org/" + scheme.build.format(**fields)
    ref = fields["ref"]
    if len(gcp) + len(ref) != scheme.digits:
        return None
    if parts[3] == "gdti" and parts[2] == "id" and not _gdti_serial_fits(gcp, fields["serial"]):
        return None
    if parts[3] in _GTIN_SCHEMES:
        body = ref[:1] + gcp + ref[1:]
        fields["gtin"] = body + _check_digit(body)
    elif parts[3] == "sscc":
        body = ref[:1] + gcp + ref[1:]
        fields["sscc"] = body + _check_digit(body)
    else:
        # A GRAI's key starts with a 0 the URI leaves out; it does not change the check digit.
        fields["key"] = gcp + ref + _check_digit(gcp + ref)
    if parts[3] == "sgln":
        extension = fields["serial"]
        fields["extension"] = "" if extension == "0" else "/254/" + _web(extension)
    else:
        fields["serial"] = _web(fields.get("serial", ""))
    return "https://id.gs1.org/" + scheme.build.format(**fields)


def _gdti_serial_fits(gcp: str, serial: str) -> bool:
    # The reference reads a GDTI's serial with the dot before it: 1 to 20 characters
    # in all, so a serial of up to 19 (or, for a 12-digit company prefix, 1 to 20).
    length = _urn_length(serial)
    return 1 <= length <= 20 if len(gcp) == 12 else length <= 19


_DL_SHORT_NAMES: Final = (
    ("gtin", "01"), ("itip", "8006"), ("cpid", "8010"), ("gln", "414"), ("party", "417"),
    ("gsrnp", "8017"), ("gsrn", "8018"), ("gcn", "255"), ("sscc", "00"), ("gdti", "253"),
    ("ginc", "401"), ("gsin", "402"), ("grai", "8003"), ("giai", "8004"), ("cpv", "22"),
    ("lot", "10"), ("ser", "21"))
#: Primary keys, in the order the reference looks for them in a URI.
_DL_PRIMARY: Final = ("00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004",
                      "8006", "8010", "8017", "8018")
_DL_KEYS: Final = "|".join((*_DL_PRIMARY, *(short for short, ai in _DL_SHORT_NAMES
                                            if ai in _DL_PRIMARY)))
_DL_SHAPE: Final = re.compile(rf"https?:[^?#]*/(?:{_DL_KEYS})/\d{{4}}[^/]")
_DL_CANONICAL_START: Final = re.compile(
    rf"https://id\.gs1\.org/(?:{'|'.join(_DL_PRIMARY)})/\d{{4}}[^/]")
#: A character a constrained Digital Link value may carry unescaped.
_DLC: Final = r"[\"'\-.0-9;-?A-Z_a-z]"
_DL_GTIN: Final = re.compile(r"https://id\.gs1\.org/01/(\d+)")
_DL_ITEM: Final = r"(https://id\.gs1\.org/(?:01/\d{14}|8006/\d{18}))"
_DL_CPV_LAST: Final = re.compile(rf"{_DL_ITEM}/22/{_DLC}{{0,20}}")
_DL_CPV_INSIDE: Final = re.compile(rf"{_DL_ITEM}/22/{_DLC}*(/[\"'\-./0-9;-?A-Z_a-z]*)")
_DL_LOT_AND_SERIAL: Final = re.compile(
    rf"{_DL_ITEM}/10/{_DLC}{{0,20}}(/21/{_DLC}{{0,20}})")
_DL_FORMS: Final = re.compile("https://id\\.gs1\\.org/(?:" + "|".join((
    r"00/\d{18}",
    rf"01/\d{{14}}(?:/(?:21|10)/{_DLC}{{0,20}}|/235/{_DLC}{{0,28}})?",
    rf"253/\d{{13}}{_DLC}{{0,17}}",
    r"255/\d{13}\d{0,12}",
    rf"401/{_DLC}{{0,30}}",
    r"402/\d{17}",
    rf"414/\d{{13}}(?:/254/{_DLC}{{0,20}})?",
    r"417/\d{13}",
    rf"8003/\d{{14}}{_DLC}{{0,16}}",
    rf"8004/{_DLC}{{0,30}}",
    rf"8006/\d{{18}}(?:/(?:21|10)/{_DLC}{{0,20}})?",
    r"8010/[#\-/0-9A-Z]{0,30}(?:/8011/\d{0,12})?",
    r"8017/\d{18}",
    r"8018/\d{18}",
)) + ")")


def _digital_link(value: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI of an EPC URI or a Digital Link URI
    on any domain, or None if ``value`` is neither (or not one this algorithm accepts)."""
    if "." not in value:
        return None
    if value.startswith("urn:epc:"):
        return _epc_to_digital_link(value)
    if _DL_SHAPE.match(value) is None:
        return None
    uri = value.split("?", 1)[0]
    for short, ai in _DL_SHORT_NAMES:
        uri = uri.replace(f"/{short}/", f"/{ai}/")
    if _DL_CANONICAL_START.match(uri) is None:
        for key in _DL_PRIMARY:
            at = uri.find(f"/{key}/")
            if at >= 0:
                uri = "https://id.gs1.org" + uri[at:]
                break
    gtin = _DL_GTIN.match(uri)
    if gtin is not None:
        padding = {13: "0", 12: "00", 11: "000000", 10: "000000", 9: "000000", 8: "000000"}
        uri = uri.replace("/01/", "/01/" + padding.get(len(gtin[1]), ""), 1)
    if (cpv := _DL_CPV_LAST.fullmatch(uri)) is not None:
        uri = cpv[1]
    elif (cpv := _DL_CPV_INSIDE.fullmatch(uri)) is not None and len(uri) - len(cpv[1]) <= 24:
        uri = cpv[1] + cpv[2]
    if (lot := _DL_LOT_AND_SERIAL.fullmatch(uri)) is not None:
        uri = lot[1] + lot[2]
    return uri if _DL_FORMS.fullmatch(uri) else None


# -- JSON-LD -----------------------------------------------------------------------------------

_CBV: Final = "https://ref.gs1.org/cbv/"
_GS1: Final = "https://gs1.org/voc/"


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """Bare terms a JSON-LD field may use for a CBV or GS1 web vocabulary URI."""

    iri: str
    terms: frozenset[str]


def _vocabulary(iri: str, terms: str) -> _Vocabulary:
    return _Vocabulary(iri, frozenset(terms.split()))


_BIZ_STEPS: Final = _vocabulary(_CBV + "BizStep-", """
    accepting arriving assembling collecting commissioning consigning creating_class_instance
    cycle_counting decommissioning departing destroying disassembling dispensing encoding
    entering_exiting holding inspecting installing killing loading other packing picking
    receiving removing repackaging repairing replacing reserving retail_selling sampling
    sensor_reporting shipping staging_outbound stock_taking stocking storing transporting
    unloading unpacking void_shipping""")
_DISPOSITIONS: Final = _vocabulary(_CBV + "Disp-", """
    active available completeness_verified completeness_inferred conformant container_closed
    container_open damaged destroyed dispensed disposed encoded expired in_progress in_transit
    inactive mismatch_instance mismatch_class mismatch_quantity needs_replacement
    no_pedigree_match non_conformant non_sellable_other partially_dispensed recalled reserved
    retail_sold returned sellable_accessible sellable_not_accessible stolen unavailable
    unknown""")
_TRANSACTION_TYPES: Final = _vocabulary(
    _CBV + "BTT-", "bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt")
_PARTY_TYPES: Final = _vocabulary(_CBV + "SDT-", "owning_party possessing_party location")
_MEASUREMENTS: Final = _vocabulary(_GS1, """
    AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude
    AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration AngularMomentum
    AngularVelocity Area Capacitance Conductance Conductivity Count Density Dimensionless
    DoseEquivalent DoseEquivalentRate DynamicViscosity ElectricCharge ElectricCurrent
    ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force Frequency Illuminance
    Inductance Irradiance KinematicViscosity Length LinearMomentum Luminance LuminousFlux
    LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass
    MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy
    MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity RelativeHumidity
    Resistance Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension
    Temperature Time Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux
    Wavenumber""")
_EXCEPTIONS: Final = _vocabulary(_GS1, "ALARM_CONDITION ERROR_CONDITION")
_COMPONENTS: Final = _vocabulary(_CBV + "Comp-", """
    x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle easting
    northing latitude longitude altitude""")
_ERROR_REASONS: Final = _vocabulary(_CBV + "ER-", "did_not_occur incorrect_data")

#: (where a field is, its name) -> the vocabulary of its bare terms.
_VOCABULARIES: Final = {
    ("event", "bizStep"): _BIZ_STEPS,
    ("event", "disposition"): _DISPOSITIONS,
    ("persistentDisposition", "set"): _DISPOSITIONS,
    ("persistentDisposition", "unset"): _DISPOSITIONS,
    ("bizTransactionList", "type"): _TRANSACTION_TYPES,
    ("sourceList", "type"): _PARTY_TYPES,
    ("destinationList", "type"): _PARTY_TYPES,
    ("sensorReport", "type"): _MEASUREMENTS,
    ("sensorReport", "exception"): _EXCEPTIONS,
    ("sensorReport", "component"): _COMPONENTS,
    ("errorDeclaration", "reason"): _ERROR_REASONS,
}
#: (where a field is, its name) -> where its members are.
_SCOPES: Final = {
    ("event", "persistentDisposition"): "persistentDisposition",
    ("event", "errorDeclaration"): "errorDeclaration",
    ("event", "sensorElementList"): "sensorElement",
    ("sensorElement", "sensorReport"): "sensorReport",
}
_PAIR_LISTS: Final = frozenset({"bizTransactionList", "sourceList", "destinationList"})
_IGNORED_KEYS: Final = frozenset({"comment", "rdfs:comment"})
#: JSON-LD's names for members that XML names differently.
_RENAMED: Final = {"inputEPC": "epc", "outputEPC": "epc", "inputQuantity": "quantityElement",
                   "outputQuantity": "quantityElement", "childQuantity": "quantityElement"}


def _prefixes(context: JsonLdContext, label: str = "document") -> dict[str, str]:
    """The prefixes a JSON-LD context declares in place (remote contexts are not fetched)."""
    found: dict[str, str] = {}
    if context is None or isinstance(context, str):
        return found
    entries: Sequence[Any] = [context] if isinstance(context, Mapping) else context
    for entry in entries:
        if isinstance(entry, str):
            continue
        if not isinstance(entry, Mapping):
            _fail(label, "@context", "a URL, an object or a list of them", entry)
        for term, definition in entry.items():
            if not isinstance(term, str) or term.startswith("@"):
                continue
            if isinstance(definition, str):
                found[term] = definition
            elif isinstance(definition, Mapping) and isinstance(definition.get("@id"), str):
                found[term] = definition["@id"]
    return found


def _event_from_json(event: object, prefixes: Mapping[str, str], label: str) -> _Event:
    if not isinstance(event, Mapping):
        _fail(label, "event", "a JSON object", got_kind=type(event).__name__)
    kind = event.get("type")
    label = f"{label} ({kind})" if isinstance(kind, str) else label
    if kind is None:
        _fail(label, "type", f"the event type, one of {', '.join(sorted(EVENT_TYPES))}")
    if kind not in EVENT_TYPES:
        _fail(label, "type", f"one of {', '.join(sorted(EVENT_TYPES))}", kind)
    if "@context" in event:
        prefixes = {**prefixes, **_prefixes(event["@context"], label)}
    reader = _JsonReader(prefixes, label)
    fields = reader.members(event, "event", "")
    _require_event_time(fields, label)
    return _Event(str(kind), fields, label)


def _require_event_time(fields: tuple[_Node, ...], label: str) -> None:
    if not any(field.name == "eventTime" and field.text.strip() for field in fields):
        _fail(label, "eventTime", "the time the event took place (ISO 8601 with a UTC offset)")


class _JsonReader:
    """Reads a JSON-LD event into :class:`_Node` form, the way its XML would read."""

    def __init__(self, prefixes: Mapping[str, str], label: str) -> None:
        self.prefixes = prefixes
        self.label = label

    def members(self, obj: Mapping[Any, Any], scope: str, where: str) -> tuple[_Node, ...]:
        fields: list[_Node] = []
        for key, value in obj.items():
            if not isinstance(key, str):
                _fail(self.label, where or "event", "string keys", key)
            if key in _IGNORED_KEYS or key.startswith("@") or (scope == "event" and key == "type"):
                continue
            path = f"{where}.{key}" if where else key
            fields.extend(self.member(self.name(key), key, value, scope, path))
        return tuple(fields)

    def name(self, key: str) -> str:
        prefix, colon, local = key.partition(":")
        if colon and prefix in self.prefixes:
            return "{" + self.prefixes[prefix] + "}" + local
        return key

    def member(self, name: str, key: str, value: Any, scope: str, where: str) -> list[_Node]:
        elements = value if isinstance(value, list) else [value]
        if name in _PAIR_LISTS:
            pairs = tuple(self.pair(name, element, f"{where}[{index}]")
                          for index, element in enumerate(elements))
            return [_Node(name, children=pairs, where=where)] if pairs else []
        inner = _SCOPES.get((scope, key), "other")
        if name.endswith("List") or name == "childEPCs":
            member_name = "epc" if name == "childEPCs" else name[:-4]
            members = [self.node(member_name, key, element, inner, scope, f"{where}[{index}]")
                       for index, element in enumerate(elements)]
            if name == "childEPCs":
                members = [_Node("epc", text=member.text, where=member.where)
                           for member in members]
            return [_Node(name, children=tuple(members), where=where)] if members else []
        if isinstance(value, list):
            return [self.node(name, key, element, inner, scope, f"{where}[{index}]")
                    for index, element in enumerate(value)]
        return [self.node(name, key, value, inner, scope, where)]

    def node(self, name: str, key: str, value: Any, inner: str, scope: str, where: str
             ) -> _Node:
        if isinstance(value, Mapping):
            node = _Node(name, children=self.members(value, inner, where), where=where)
        elif isinstance(value, list):
            _fail(self.label, where, "a string, number, boolean or object, not a nested array")
        else:
            node = _Node(name, text=self.scalar(value, _VOCABULARIES.get((scope, key)), where),
                         where=where)
        renamed = _RENAMED.get(node.name)
        if renamed is None and node.name == "quantity" and node.children:
            renamed = "quantityElement"
        return node if renamed is None else replace(node, name=renamed)

    def pair(self, list_name: str, element: Any, where: str) -> _Node:
        value_key = list_name[:-4]
        if not isinstance(element, Mapping) or value_key not in element:
            _fail(self.label, where, f"an object with '{value_key}' and optionally 'type'",
                  element)
        extra = sorted(str(key) for key in element if key not in ("type", value_key))
        if extra:
            _fail(self.label, where, f"only 'type' and '{value_key}'", ", ".join(extra))
        halves = []
        if "type" in element:
            halves.append(_Node("type", text=self.scalar(
                element["type"], _VOCABULARIES[(list_name, "type")], f"{where}.type")))
        halves.append(_Node(value_key, text=self.scalar(element[value_key], None,
                                                        f"{where}.{value_key}")))
        return _Node("", children=tuple(halves), pair=True, where=where)

    def scalar(self, value: Any, vocabulary: _Vocabulary | None, where: str) -> str:
        if isinstance(value, bool):
            # As the reference writes JSON booleans (its XML gives "true"/"false").
            return "True" if value else "False"
        if isinstance(value, int | float | Decimal):
            return str(value)
        if not isinstance(value, str):
            _fail(self.label, where, "a string, number, boolean, object or array",
                  got_kind="null" if value is None else type(value).__name__)
        if vocabulary is not None and value in vocabulary.terms:
            return vocabulary.iri + value
        prefix, colon, local = value.partition(":")
        if colon and prefix in self.prefixes:
            return self.prefixes[prefix] + local
        return value


# -- XML ---------------------------------------------------------------------------------------

#: Prefixes the reference expands in XML values (``gs1:Temperature``).
_XML_VALUE_PREFIXES: Final = (("gs1:", _GS1), ("cbv:", _CBV))
#: EPCIS 1.x wrappers whose content belongs to the element around them.
_XML_WRAPPERS: Final = frozenset({"extension", "baseExtension"})


class _NoDoctype(TreeBuilder):
    """Builds the tree, refusing any DOCTYPE (and so any entity declaration)."""

    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise EventHashError("XML document: declares a DOCTYPE; EPCIS documents have none, "
                             "and DTDs and entities are refused so a document cannot expand")


def _parse_xml(data: bytes) -> Element:
    parser = XMLParser(target=_NoDoctype())  # noqa: S314 - DOCTYPEs are refused
    try:
        parser.feed(data)
        root: Element = parser.close()
    except ParseError as error:
        line, column = error.position
        raise EventHashError(f"XML document: not well-formed at line {line}, column "
                             f"{column + 1}: {error}") from None
    return root


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _xml_events(data: bytes) -> list[_Event]:
    root = _parse_xml(data)
    event_list = next((element for element in root.iter() if _local(element.tag) == "EventList"),
                      None)
    if event_list is None:
        raise EventHashError("XML document: expected an EventList (EPCISBody/EventList, or "
                             "EPCISBody/QueryResults/resultsBody/EventList)")
    events: list[_Event] = []
    elements = [inner for element in event_list
                for inner in (element if element.tag in _XML_WRAPPERS else [element])]
    for index, element in enumerate(elements):
        label = f"EventList[{index}] ({element.tag})"
        if element.tag not in EVENT_TYPES:
            _fail(label, "element", f"one of {', '.join(sorted(EVENT_TYPES))}", element.tag)
        fields = tuple(node for child in element for node in _xml_nodes(child, child.tag))
        _require_event_time(fields, label)
        events.append(_Event(element.tag, fields, label))
    return events


def _xml_nodes(element: Element, where: str) -> list[_Node]:
    if element.tag in _XML_WRAPPERS:
        return [node for child in element for node in _xml_nodes(child, where)]
    children = [_Node(name, text=_xml_value(value), where=f"{where}@{_local(name)}")
                for name, value in element.attrib.items()]
    children.extend(node for child in element
                    for node in _xml_nodes(child, f"{where}/{_local(child.tag)}"))
    if any(child.name in _PAIRED for child in children):
        children = [_xml_pair(child) for child in children if child.name in _PAIRED]
    return [_Node(element.tag, text=_xml_value(element.text or ""), children=tuple(children),
                  where=where)]


def _xml_pair(member: _Node) -> _Node:
    halves = [half for half in member.children if half.name == "type"][:1]
    halves.append(_Node(member.name, text=member.text, where=member.where))
    return _Node("", children=tuple(halves), pair=True, where=member.where)


def _xml_value(value: str) -> str:
    value = value.strip()
    for prefix, iri in _XML_VALUE_PREFIXES:
        if value.startswith(prefix):
            return iri + value[len(prefix):]
    return value


# -- the API -----------------------------------------------------------------------------------


def _digest(prehash_string: str) -> str:
    return _HASH_PREFIX + hashlib.sha256(prehash_string.encode("utf-8")).hexdigest() + _HASH_SUFFIX


def prehash(event: Mapping[str, Any], context: JsonLdContext = None) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON-LD event (for debugging).

    ``context`` is the ``@context`` of the document the event came from: the prefixes it
    declares in place resolve the event's compact names (``example:x``); remote contexts
    are not fetched, and need not be (the EPCIS 2.0 context's terms are built in).

    Compared with the reference implementation, this refuses what it would hash by
    accident or crash on: a timestamp without a UTC offset (it would read it in the
    machine's time zone), a JSON null, a bizTransaction, source or destination without
    its value or with other keys, an unknown event type. It also expands a bare CBV term
    only in the field whose vocabulary it belongs to (the reference replaces any string
    in the document equal to a term used elsewhere), writes a pair's type before its value
    whatever the JSON key order, and reads a lone ``@context`` object as well as a list.
    Raises :class:`EventHashError`.
    """
    return _prehash_of(_event_from_json(event, _prefixes(context), "event"))


def event_hash(event: Mapping[str, Any], context: JsonLdContext = None) -> str:
    """``ni:///sha-256;<hex>?ver=CBV2.0`` of one EPCIS 2.0 JSON-LD event (see :func:`prehash`).

    Raises :class:`EventHashError`.
    """
    return _digest(prehash(event, context))


def _json_event_list(document: Mapping[str, Any]) -> tuple[Sequence[Any], str]:
    if not isinstance(document, Mapping):
        raise EventHashError(f"document: expected a JSON object, got {type(document).__name__}")
    body = document.get("epcisBody")
    if isinstance(body, Mapping):
        if isinstance(body.get("eventList"), list):
            return body["eventList"], "eventList"
        if "event" in body:
            return [body["event"]], "event"
        results = body.get("queryResults")
        if isinstance(results, Mapping):
            results_body = results.get("resultsBody")
            if isinstance(results_body, Mapping) and isinstance(
                    results_body.get("eventList"), list):
                return results_body["eventList"], "resultsBody.eventList"
    raise EventHashError("document: expected epcisBody.eventList (an EPCISDocument) or "
                         "epcisBody.queryResults.resultsBody.eventList (an EPCISQueryDocument)")


def document_hashes(document: Mapping[str, Any]) -> list[str]:
    """Every event's hash, in document order, of an EPCIS 2.0 JSON-LD EPCISDocument or
    EPCISQueryDocument (parsed JSON). Raises :class:`EventHashError`."""
    events, where = _json_event_list(document)
    prefixes = _prefixes(document.get("@context"))
    return [_digest(_prehash_of(_event_from_json(event, prefixes, f"{where}[{index}]")))
            for index, event in enumerate(events)]


def xml_document_hashes(data: bytes) -> list[str]:
    """Every event's hash, in document order, of an EPCIS 2.0 XML document (EPCISDocument
    or EPCISQueryDocument; EPCIS 1.x ``extension`` wrappers are read through).

    DOCTYPE declarations are refused, so entities cannot expand. Raises
    :class:`EventHashError`.
    """
    return [_digest(_prehash_of(event)) for event in _xml_events(data)]
