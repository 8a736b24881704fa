"""EPCIS 2.0 over HTTP, added to the API through the ``thread.routers`` entry point:
``GET /epcis/events`` (one part's events, or every event since a time, as an EPCIS 2.0
JSON-LD document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from thread.errors import LedgerError
from thread.web.access import AskersLedger
from thread_adapters.epcis.export import epcis_document, matching

router = APIRouter(tags=["epcis"])


@router.get("/epcis/events", response_model=None,
            responses={200: {"content": {"application/ld+json": {}}}})
def events(ledger: AskersLedger,
           serial: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
           since: datetime | None = None,
           match_epc: Annotated[list[str], Query(alias="MATCH_epc", max_length=100)] = [],  # noqa: B006
           eq_biz_step: Annotated[list[str], Query(alias="EQ_bizStep", max_length=50)] = [],  # noqa: B006
           eq_disposition: Annotated[list[str], Query(alias="EQ_disposition",
                                                      max_length=50)] = [],  # noqa: B006
           ge_event_time: Annotated[datetime | None, Query(alias="GE_eventTime")] = None,
           lt_event_time: Annotated[datetime | None, Query(alias="LT_eventTime")] = None,
           ) -> JSONResponse:
    """The ledger's facts as an EPCIS 2.0 document (CBV 2.0 vocabulary, each event's eventID
    its CBV 2.0 event hash): one part's (``serial``) or every one recorded since ``since``,
    narrowed by the EPCIS 2.0 query parameters that matter for traceability: by EPC, by
    bizStep, by disposition, by event time."""
    for name, moment in (("since", since), ("GE_eventTime", ge_event_time),
                         ("LT_eventTime", lt_event_time)):
        if moment is not None and moment.tzinfo is None:
            raise LedgerError(f"{name} {moment.isoformat()}: expected a time with a zone, "
                              f"such as 2026-03-02T06:00:00Z")
    document: dict[str, Any] = epcis_document(ledger, serial=serial, since=since)
    body = document["epcisBody"]
    body["eventList"] = matching(body["eventList"], epcs=match_epc, biz_steps=eq_biz_step,
                                 dispositions=eq_disposition, from_time=ge_event_time,
                                 before=lt_event_time)
    return JSONResponse(document, media_type="application/ld+json")


@router.post("/epcis/capture", response_model=None, status_code=201)
def capture_document(document: dict[str, Any], ledger: AskersLedger) -> dict[str, Any]:
    """Capture an EPCIS 2.0 JSON-LD document (as ``thread epcis import`` does): refused whole,
    naming the event, if one event is invalid; the same document again writes nothing."""
    from thread_adapters.epcis.capture import capture

    done = capture(ledger, document)
    return {"events": done.events, "recorded": done.recorded, "already": done.already,
            "about_nothing_here": list(done.about_nothing_here)}
