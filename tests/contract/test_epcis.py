"""GS1 EPCIS 2.0 out of and into the ledger, on SQLite and PostgreSQL: an exported part's
events carry CBV 2.0 vocabulary and, as eventID, a CBV 2.0 event hash equal to the GS1
reference implementation's; a partner's document becomes facts once, whatever is captured
again; an event about nothing here is listed, not recorded; one invalid event refuses the
whole document."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Clock
from epcis_oracle import reference
from web_server import small_plant

import thread
from thread import facts as f
from thread_adapters.epcis.capture import CaptureError, capture
from thread_adapters.epcis.event_hash import document_hashes
from thread_adapters.epcis.export import CONTEXT, epcis_document

pytestmark = pytest.mark.contract

CREATED = datetime(2030, 2, 1, tzinfo=UTC)


def _document(*events: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2030-02-01T00:00:00.000Z", "epcisBody": {"eventList": list(events)}}


def test_an_exported_part_speaks_cbv_and_its_hashes_are_the_reference_s(
        ledger_url: str, clock: Clock) -> None:
    """SN-1's commissioning, process data, inspection and installation as EPCIS 2.0 events;
    every eventID is the hash the GS1 reference implementation computes for it."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    document = epcis_document(ledger, serial="SN-1", created=CREATED)
    events = document["epcisBody"]["eventList"]
    steps = [(e["type"], e.get("action"), e.get("bizStep")) for e in events]
    assert steps[0] == ("ObjectEvent", "ADD", "commissioning")
    assert ("ObjectEvent", "OBSERVE", "sensor_reporting") in steps
    assert ("ObjectEvent", "OBSERVE", "inspecting") in steps
    [assembly] = [e for e in events if e["type"] == "AggregationEvent"]
    assert (assembly["parentID"], assembly["childEPCs"]) == ("urn:dtl:part:A-1",
                                                             ["urn:dtl:part:SN-1"])
    [process] = [e for e in events if e.get("bizStep") == "sensor_reporting"]
    assert process["sensorElementList"][0]["sensorReport"][0]["maxValue"] == 24100
    assert [e["eventID"] for e in events] == document_hashes(document)
    assert all(e["dtl:hash"] == r.hash.hex() for e, r in zip(
        events[:3], ledger.history("SN-1")[:3], strict=True))
    with reference() as oracle:
        assert [e["eventID"] for e in events] == oracle.json_hashes(
            json.loads(json.dumps(document)))
    ledger.close()


def test_a_partner_document_becomes_facts_once(ledger_url: str, clock: Clock) -> None:
    """An aggregation, a shipment with a purchase order and an owner, a receiving event and
    an event about an unknown part: two facts, one kept partner event, one listed; the same
    document again, and the ledger's own export, record nothing."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    ledger.record(f.PartRegistered(serial="SN-3", part_number="BRG-6204", revision="A"))
    document = _document(
        {"type": "AggregationEvent", "eventTime": "2029-12-02T08:00:00.000Z",
         "eventTimeZoneOffset": "+01:00", "parentID": "urn:dtl:part:A-1",
         "childEPCs": ["urn:dtl:part:SN-3"], "action": "ADD", "bizStep": "assembling"},
        {"type": "ObjectEvent", "eventTime": "2029-12-03T08:00:00.000Z",
         "eventTimeZoneOffset": "+01:00", "epcList": ["urn:dtl:part:A-1"],
         "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
         "bizTransactionList": [{"type": "po", "bizTransaction": "PO-77"}],
         "destinationList": [{"type": "owning_party", "destination": "ACME"}]},
        {"type": "ObjectEvent", "eventTime": "2029-12-04T08:00:00.000Z",
         "eventTimeZoneOffset": "+01:00", "epcList": ["https://id.gs1.org/01/09506000134352/21/A-1"],
         "action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress",
         "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"}},
        {"type": "ObjectEvent", "eventTime": "2029-12-04T09:00:00.000Z",
         "eventTimeZoneOffset": "+01:00", "epcList": ["urn:dtl:part:NOT-HERE"],
         "action": "OBSERVE", "bizStep": "receiving"})
    hashes = document_hashes(document)
    done = capture(ledger, document)
    assert (done.events, done.recorded, done.already) == (4, 3, 0)
    assert done.about_nothing_here == (hashes[3],)
    assert [c.serial for c in ledger.trace("A-1").components] == ["SN-1", "SN-3"]
    assert ledger.history("A-1")[-2].fact == f.Shipped(serial="A-1", customer="ACME",
                                                       order="PO-77")
    [kept] = [e.fact for e in ledger.history("A-1")
              if isinstance(e.fact, f.PartnerEventReceived)]
    assert (kept.biz_step, kept.event_id, kept.read_point) == (
        "receiving", hashes[2], "urn:epc:id:sgln:4012345.00001.0")
    assert any("ObjectEvent OBSERVE receiving" in s.summary for s in ledger.trace("A-1").service)
    size = ledger.count()
    assert capture(ledger, document).recorded == 0
    own = epcis_document(ledger, serial="SN-1", created=CREATED)
    again = capture(ledger, own)
    assert (again.recorded, again.already) == (0, len(own["epcisBody"]["eventList"]))
    assert ledger.count() == size
    ledger.close()


def test_one_invalid_event_refuses_the_whole_document(ledger_url: str, clock: Clock) -> None:
    """A good event and one with an eventTime that is not a time: refused naming the second
    (eventList[1]), and nothing of the first is recorded."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    size = ledger.count()
    good = {"type": "ObjectEvent", "eventTime": "2030-01-04T08:00:00.000Z",
            "eventTimeZoneOffset": "+00:00", "epcList": ["urn:dtl:part:SN-1"],
            "action": "OBSERVE", "bizStep": "receiving"}
    bad = {**good, "eventTime": "yesterday"}
    with pytest.raises(CaptureError, match=r"eventList\[1\] \(ObjectEvent\): eventTime"):
        capture(ledger, _document(good, bad))
    assert ledger.count() == size
    ledger.close()


def test_a_corrected_event_is_declared_an_error_naming_its_correction(
        ledger_url: str, clock: Clock) -> None:
    """An inspection corrected: the document sends it again with an errorDeclaration whose
    corrective event is the correcting inspection, under the corrected event's eventID."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    wrong = next(e for e in ledger.history("SN-1") if isinstance(e.fact, f.InspectionRecorded))
    ledger.correct(wrong.fact.model_copy(update={"measured": 19.992}),
                   corrects=wrong.originator_version, reason="transcription error")
    events = epcis_document(ledger, serial="SN-1", created=CREATED)["epcisBody"]["eventList"]
    [declared] = [e for e in events if "errorDeclaration" in e]
    [original] = [e for e in events if e.get("dtl:version") == wrong.originator_version
                  and "errorDeclaration" not in e]
    corrective = declared["errorDeclaration"]["correctiveEventIDs"]
    assert declared["eventID"] == original["eventID"]
    assert [e["dtl:hash"] for e in events if e["eventID"] in corrective] == [
        ledger.history("SN-1")[-2].hash.hex()]
    assert declared["errorDeclaration"]["reason"] == "incorrect_data"
    ledger.close()
