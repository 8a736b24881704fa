"""EPCIS 2.0 event hashes: the reference's examples, a property against it, refusals."""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from epcis_oracle import EPCIS_CONTEXT, Oracle, reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thread_adapters.epcis.event_hash import (
    EventHashError,
    document_hashes,
    event_hash,
    prehash,
    xml_document_hashes,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "epcis"
#: Each example document's hashes as epcis-event-hash-generator 1.9.3 computes them.
EXPECTED: dict[str, list[str]] = json.loads((VECTORS / "hashes.json").read_text(encoding="utf-8"))
JSON_EXAMPLES = sorted(name for name in EXPECTED if not name.endswith(".xml"))
XML_EXAMPLES = sorted(name for name in EXPECTED if name.endswith(".xml"))
#: Examples published in both syntaxes whose events the reference hashes alike.
SAME_IN_BOTH = ["CertificationInfoAndSensorReportWithCRS", "ReferenceEventHashAlgorithm",
                "epcisDocWithVariousEventTypes", "epcisDocWithXMLstartTagAndErrorDeclaration"]
HASH = re.compile(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0")

CONTEXT: list[Any] = [EPCIS_CONTEXT, {"ex": "https://ns.example.com/epcis/"}]


def load_json(name: str) -> dict[str, Any]:
    """An example document, parsed."""
    document: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    """The reference implementation (skipped where it is not installed), offline."""
    with reference() as found:
        yield found


# -- the published examples --------------------------------------------------------------------


def test_the_vectors_cover_both_syntaxes() -> None:
    """The stored vectors hold the JSON-LD and XML examples, 66 events in all."""
    assert len(JSON_EXAMPLES) == 15
    assert len(XML_EXAMPLES) == 11
    assert sum(len(hashes) for hashes in EXPECTED.values()) == 66


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_json_ld_example_gives_the_stored_hashes(name: str) -> None:
    """Each JSON-LD example's events hash to the stored reference hashes, in order."""
    hashes = document_hashes(load_json(name))
    assert hashes == EXPECTED[name]
    assert all(HASH.fullmatch(value) for value in hashes)


@pytest.mark.parametrize("name", XML_EXAMPLES)
def test_xml_example_gives_the_stored_hashes(name: str) -> None:
    """Each XML example's events hash to the stored reference hashes, in order."""
    assert xml_document_hashes((VECTORS / name).read_bytes()) == EXPECTED[name]


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_json_ld_example_matches_the_reference(oracle: Oracle, name: str) -> None:
    """The reference implementation, run now, agrees on each JSON-LD example."""
    document = load_json(name)
    assert document_hashes(document) == oracle.json_hashes(document)


@pytest.mark.parametrize("name", XML_EXAMPLES)
def test_xml_example_matches_the_reference(oracle: Oracle, name: str) -> None:
    """The reference implementation, run now, agrees on each XML example."""
    data = (VECTORS / name).read_bytes()
    assert xml_document_hashes(data) == oracle.xml_hashes(data)


@pytest.mark.parametrize("stem", SAME_IN_BOTH)
def test_json_ld_and_xml_of_the_same_events_hash_alike(stem: str) -> None:
    """An example published as JSON-LD and as XML gives the same hashes either way."""
    assert document_hashes(load_json(f"{stem}.jsonld")) == xml_document_hashes(
        (VECTORS / f"{stem}.xml").read_bytes())


def test_prehash_of_the_reference_example() -> None:
    """The README's first example gives its pre-hash string, field by field."""
    document = load_json("ReferenceEventHashAlgorithm.jsonld")
    event = document["epcisBody"]["eventList"][0]
    ns = "{https://ns.example.com/epcis/}"
    assert prehash(event, document["@context"]) == (
        "eventType=ObjectEvent"
        "eventTime=2020-03-04T10:00:30.000Z"
        "eventTimeZoneOffset=+01:00"
        "epcList"
        "epc=https://id.gs1.org/00/040123450000001112"
        "epc=https://id.gs1.org/00/040123450000002225"
        "epc=https://id.gs1.org/00/040123450000003338"
        "action=OBSERVE"
        "bizStep=https://ref.gs1.org/cbv/BizStep-departing"
        "readPointid=https://id.gs1.org/414/4012345000115/254/987"
        f"{ns}myField1{ns}mySubField1=2{ns}mySubField2=5"
        f"{ns}myField2=0"
        f"{ns}myField3{ns}mySubField3=1{ns}mySubField3=3")
    assert event_hash(event, document["@context"]) == EXPECTED[
        "ReferenceEventHashAlgorithm.jsonld"][0]


def test_query_document_hashes_like_its_events() -> None:
    """An EPCISQueryDocument's events hash as the same events would one by one."""
    document = load_json("epcisQueryDocument.jsonld")
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert document_hashes(document) == [event_hash(event, document["@context"])
                                         for event in events]


# -- what the hash ignores and what it sees ----------------------------------------------------


def shipping() -> dict[str, Any]:
    """A small ObjectEvent with a list, a location, a transaction and an extension."""
    return {
        "type": "ObjectEvent",
        "eventTime": "2024-05-01T10:15:30.250+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1", "urn:epc:id:sgtin:4012345.011111.2"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epc:id:gdti:4012345.55555.1"}],
        "ex:lot": "L-1",
    }


def test_the_same_event_written_differently_hashes_alike() -> None:
    """Key order, list order, time zone, identifier syntax and vocabulary form do not count."""
    event = shipping()
    variant = dict(reversed(list(shipping().items())))
    variant["eventTime"] = "2024-05-01T08:15:30.25Z"
    variant["epcList"] = ["https://example.com/01/04012345111118/21/2?x=1",
                          "urn:epc:id:sgtin:4012345.011111.1"]
    variant["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"
    variant["disposition"] = "https://ref.gs1.org/cbv/Disp-in_transit"
    variant["eventID"] = "urn:uuid:9b3e0f4c-8a1d-4a55-9d49-3f5e2f7c1a10"
    variant["recordTime"] = "2024-05-02T00:00:00Z"
    variant["errorDeclaration"] = {"declarationTime": "2024-05-03T00:00:00Z",
                                   "reason": "incorrect_data"}
    assert event_hash(variant, CONTEXT) == event_hash(event, CONTEXT)


@pytest.mark.parametrize(("field", "value"), [
    ("epcList", ["urn:epc:id:sgtin:4012345.011111.1"]),
    ("eventTime", "2024-05-01T10:15:30.251+02:00"),
    ("bizStep", "receiving"),
    ("readPoint", {"id": "urn:epc:id:sgln:4012345.00002.0"}),
    ("ex:lot", "L-2"),
])
def test_a_changed_field_changes_the_hash(field: str, value: Any) -> None:
    """Changing any hashed field gives another hash."""
    changed = shipping()
    changed[field] = value
    assert event_hash(changed, CONTEXT) != event_hash(shipping(), CONTEXT)


def test_user_extension_prefixes_come_from_the_context() -> None:
    """A compact extension name is hashed as its namespace, so the prefix chosen is free."""
    renamed = shipping()
    renamed["other:lot"] = renamed.pop("ex:lot")
    context = [EPCIS_CONTEXT, {"other": "https://ns.example.com/epcis/"}]
    assert event_hash(renamed, context) == event_hash(shipping(), CONTEXT)
    assert "{https://ns.example.com/epcis/}lot=L-1" in prehash(renamed, context)


# -- refusals ------------------------------------------------------------------------------------


def test_event_without_event_type_is_refused() -> None:
    """An event with no type cannot be hashed, and the error names the field."""
    event = shipping()
    del event["type"]
    with pytest.raises(EventHashError, match=r"^event: type: expected the event type"):
        event_hash(event, CONTEXT)


def test_unknown_event_type_is_refused() -> None:
    """Only the five EPCIS 2.0 event types are hashed."""
    event = shipping() | {"type": "ShippingEvent"}
    with pytest.raises(EventHashError, match=r"type: expected one of .*'ShippingEvent'"):
        event_hash(event, CONTEXT)


@pytest.mark.parametrize("when", [
    "2024-13-01T10:15:30Z", "2024-05-01T10:15:30", "2024-05-01", "yesterday",
    "2024-05-01T25:00:00+01:00", "2024-05-01T10:15:30+25:00",
])
def test_malformed_event_time_is_refused(when: str) -> None:
    """An eventTime that is not an ISO 8601 date-time with a UTC offset is refused."""
    event = shipping() | {"eventTime": when}
    with pytest.raises(EventHashError, match=r"^event \(ObjectEvent\): eventTime: expected"):
        event_hash(event, CONTEXT)


def test_missing_event_time_is_refused() -> None:
    """An event without eventTime is refused rather than hashed without its time."""
    event = shipping()
    del event["eventTime"]
    with pytest.raises(EventHashError, match=r"eventTime: expected the time the event took"):
        event_hash(event, CONTEXT)


def test_refusal_in_a_document_names_the_event() -> None:
    """In a document, the error says which event (index and type) and which field."""
    bad = shipping()
    bad["sensorElementList"] = [{"sensorReport": [{"type": "Temperature", "time": "noon"}]}]
    document = {"@context": CONTEXT, "type": "EPCISDocument",
                "epcisBody": {"eventList": [shipping(), bad]}}
    with pytest.raises(EventHashError) as refused:
        document_hashes(document)
    message = str(refused.value)
    assert message.startswith("eventList[1] (ObjectEvent): sensorElementList[0].sensorReport[0]"
                              ".time: expected an ISO 8601 date-time")
    assert "\n" not in message


def test_null_value_is_refused() -> None:
    """A JSON null is not a value the hash can carry."""
    event = shipping() | {"ex:lot": None}
    with pytest.raises(EventHashError, match=r"ex:lot: expected .*, got null"):
        event_hash(event, CONTEXT)


def test_document_without_events_is_refused() -> None:
    """A document with neither an eventList nor query results is refused."""
    with pytest.raises(EventHashError, match=r"^document: expected epcisBody\.eventList"):
        document_hashes({"@context": CONTEXT, "epcisBody": {}})


def test_xml_with_a_doctype_is_refused() -> None:
    """An XML document declaring entities (an XML bomb) is refused before any expands."""
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b"<epcis:EPCISDocument xmlns:epcis='urn:epcglobal:epcis:xsd:2'><EPCISBody>"
            b"<EventList><ObjectEvent><eventTime>&lol2;</eventTime></ObjectEvent>"
            b"</EventList></EPCISBody></epcis:EPCISDocument>")
    with pytest.raises(EventHashError, match="DOCTYPE"):
        xml_document_hashes(bomb)


def test_malformed_xml_is_refused() -> None:
    """XML that is not well-formed is refused with its position."""
    with pytest.raises(EventHashError, match=r"^XML document: not well-formed at line 1"):
        xml_document_hashes(b"<EPCISDocument><EPCISBody></EPCISDocument>")


# -- a property against the reference --------------------------------------------------------

DIGITS = "0123456789"
#: Characters an EPC URI's serial may carry as they are, and some %-escapes.
URN_CHARACTERS = [*"!')(*+,.:;=_-", *DIGITS, *"ABCXYZabcxyz", "%22", "%25", "%26", "%2F", "%3C",
                  "%3E", "%3F"]
serials = st.lists(st.sampled_from(URN_CHARACTERS), min_size=1, max_size=20).map("".join)
link_serials = st.text("ABCXYZabcxyz0123456789-._", min_size=1, max_size=20)
offsets = st.sampled_from([0, 60, 120, -360, 330, 345, -210, 840, -720])
numbers = st.one_of(st.integers(-10**9, 10**9),
                    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
labels = st.from_regex(r"[A-Z]{2}-[0-9]{1,4}", fullmatch=True)


@st.composite
def split_key(draw: st.DrawFn, length: int) -> tuple[str, str]:
    """A GS1 company prefix (6 to 12 digits) and the reference that fills ``length`` digits."""
    digits = draw(st.text(DIGITS, min_size=length, max_size=length))
    prefix = draw(st.integers(6, min(12, length)))
    return digits[:prefix], digits[prefix:]


@st.composite
def epcs(draw: st.DrawFn) -> str:
    """An EPC as an EPC URI (SGTIN, SSCC, GIAI) or a GS1 Digital Link on some domain."""
    kind = draw(st.sampled_from(["sgtin", "sscc", "giai", "link"]))
    if kind == "sgtin":
        company, item = draw(split_key(13))
        return f"urn:epc:id:sgtin:{company}.{item}.{draw(serials)}"
    if kind == "sscc":
        company, serial = draw(split_key(17))
        return f"urn:epc:id:sscc:{company}.{serial}"
    if kind == "giai":
        company, _ = draw(split_key(12))
        asset = draw(st.lists(st.sampled_from(URN_CHARACTERS), min_size=1,
                              max_size=30 - len(company)))
        return f"urn:epc:id:giai:{company}.{''.join(asset)}"
    host = draw(st.sampled_from(["id.gs1.org", "example.com", "id.gs1.de"]))
    gtin = draw(st.text(DIGITS, min_size=14, max_size=14))
    query = draw(st.sampled_from(["", "?17=201231", "?linkType=all"]))
    return f"https://{host}/01/{gtin}/21/{draw(link_serials)}{query}"


@st.composite
def classes(draw: st.DrawFn) -> str:
    """An EPC class: an LGTIN URI, an SGTIN pattern or a Digital Link with a lot."""
    company, item = draw(split_key(13))
    kind = draw(st.sampled_from(["lgtin", "pattern", "link"]))
    if kind == "lgtin":
        return f"urn:epc:class:lgtin:{company}.{item}.{draw(serials)}"
    if kind == "pattern":
        return f"urn:epc:idpat:sgtin:{company}.{item}.*"
    return f"https://example.com/01/{draw(st.text(DIGITS, min_size=14, max_size=14))}/10/" \
           f"{draw(link_serials)}"


def zone(minutes: int, *, utc_as_z: bool) -> str:
    """A UTC offset as EPCIS writes it."""
    if minutes == 0 and utc_as_z:
        return "Z"
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@st.composite
def timestamps(draw: st.DrawFn, minutes: int | None = None) -> str:
    """A date-time in some time zone with 0 to 7 fraction digits."""
    moment = draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)))
    # The reference fails outright when rounding to milliseconds reaches the next second.
    micro = draw(st.integers(0, 999_499))
    minutes = draw(offsets) if minutes is None else minutes
    local = moment.replace(microsecond=0) + timedelta(minutes=minutes)
    digits = draw(st.sampled_from([0, 1, 3, 4, 6, 7]))
    fraction = "." + f"{micro:06d}0"[:digits] if digits else ""
    return (local.strftime("%Y-%m-%dT%H:%M:%S") + fraction
            + zone(minutes, utc_as_z=draw(st.booleans())))


sensor_reports = st.fixed_dictionaries(
    {"type": st.sampled_from(["Temperature", "RelativeHumidity", "Dimensionless", "gs1:Speed",
                              "https://example.org/voc/Noise"])},
    optional={"value": numbers, "uom": st.sampled_from(["CEL", "A93", "KMH"]),
              "time": timestamps(), "minValue": numbers, "maxValue": numbers, "sDev": numbers,
              "exception": st.sampled_from(["ALARM_CONDITION", "ERROR_CONDITION"]),
              "component": st.sampled_from(["x", "latitude"]), "booleanValue": st.booleans(),
              "stringValue": labels, "deviceID": epcs()})
sensor_metadata = st.fixed_dictionaries(
    {}, optional={"time": timestamps(), "startTime": timestamps(), "endTime": timestamps(),
                  "deviceID": st.just("urn:epc:id:giai:4000001.111"),
                  "bizRules": st.just("https://example.com/253/4012345000054987")})
sensor_elements = st.fixed_dictionaries(
    {"sensorReport": st.lists(sensor_reports, min_size=1, max_size=3)},
    optional={"sensorMetadata": sensor_metadata})
quantities = st.fixed_dictionaries(
    {"epcClass": classes()},
    optional={"quantity": numbers, "uom": st.sampled_from(["KGM", "LTR", "EA"])})


@st.composite
def locations(draw: st.DrawFn) -> dict[str, Any]:
    """A readPoint or bizLocation: an SGLN URI, sometimes with an extension field."""
    company, location = draw(split_key(12))
    extension = draw(st.sampled_from(["0", "7", "A-1"]))
    place: dict[str, Any] = {"id": f"urn:epc:id:sgln:{company}.{location}.{extension}"}
    if draw(st.booleans()):
        place["ex:dock"] = draw(labels)
    return place


@st.composite
def object_events(draw: st.DrawFn) -> dict[str, Any]:
    """ObjectEvents with any mix of the common fields, their keys in any order."""
    minutes = draw(offsets)
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": draw(timestamps(minutes)),
        "eventTimeZoneOffset": zone(minutes, utc_as_z=False),
        "action": draw(st.sampled_from(["ADD", "OBSERVE", "DELETE"])),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "epcList": st.lists(epcs(), max_size=4),
        "quantityList": st.lists(quantities, min_size=1, max_size=3),
        "bizStep": st.sampled_from(["shipping", "receiving", "inspecting",
                                    "urn:epcglobal:cbv:bizstep:packing",
                                    "https://ref.gs1.org/cbv/BizStep-storing",
                                    "https://example.com/steps/weighing"]),
        "disposition": st.sampled_from(["in_transit", "active", "in_progress",
                                        "urn:epcglobal:cbv:disp:damaged",
                                        "https://ref.gs1.org/cbv/Disp-recalled"]),
        "readPoint": locations(),
        "bizLocation": locations(),
        "sensorElementList": st.lists(sensor_elements, min_size=1, max_size=2),
        "ex:batch": labels,
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            event[name] = draw(strategy)
    order = draw(st.permutations(list(event)))
    return {name: event[name] for name in order}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(object_events(), min_size=1, max_size=3))
def test_object_events_hash_as_the_reference_hashes_them(oracle: Oracle,
                                                         events: list[dict[str, Any]]) -> None:
    """For generated ObjectEvents, every hash equals the reference implementation's."""
    document = {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": "2024-01-01T00:00:00Z", "epcisBody": {"eventList": events}}
    hashes = document_hashes(document)
    assert hashes == oracle.json_hashes(document)
    assert [event_hash(event, CONTEXT) for event in events] == hashes


def test_shuffled_lists_hash_alike() -> None:
    """The members of every list may come in any order."""
    document = load_json("epcisDocWithVariousEventTypes.jsonld")
    shuffled = copy.deepcopy(document)
    shuffler = random.Random(7)
    for event in shuffled["epcisBody"]["eventList"]:
        for value in event.values():
            if isinstance(value, list):
                shuffler.shuffle(value)
    assert document_hashes(shuffled) == document_hashes(document)
