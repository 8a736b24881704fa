"""Reading over HTTP: a part's story and history, genealogy, recall scope, DHR and FAIR,
each the library's own answer (and its own pydantic model in the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from thread.domain.facts.base import SubjectKind
from thread.read.genealogy import Node
from thread.read.recall import RecallScope
from thread.read.story import Story
from thread.web.access import AskersLedger
from thread.web.models import EventOut, HistoryOut

if TYPE_CHECKING:
    from thread.records.dhr_record import DeviceHistoryRecord
    from thread.records.fair_record import FirstArticleReport

router = APIRouter(tags=["read"])

Key = Annotated[str, Path(min_length=1, max_length=128)]
AsOf = Annotated[datetime | None, Query(description="Answer as of this moment (with a zone).")]
By = Annotated[Literal["recorded", "occurred"],
               Query(description="The clock as_of is read on.")]
Format = Annotated[Literal["json", "html", "pdf"], Query(alias="format")]


@router.get("/parts/{serial}", response_model=Story)
def story(serial: Key, ledger: AskersLedger, as_of: AsOf = None, by: By = "recorded",
          verified: bool = False) -> Story:
    """The complete story of a serial or lot (``verified``: from chain-verified events, each
    proved in the log)."""
    return ledger.trace(serial, as_of=as_of, by=by, verified=verified)


@router.get("/subjects/{kind}/{key}/history", response_model=HistoryOut)
def history(kind: SubjectKind, key: Key, ledger: AskersLedger) -> HistoryOut:
    """A subject's events, oldest first, each linked to the one before (verified now)."""
    events = ledger.history_of(kind, key)
    return HistoryOut(kind=kind, key=key, head=events[-1].hash.hex(),
                      events=[EventOut.of(event) for event in events])


@router.get("/genealogy/{key}", response_model=Node)
def genealogy(key: Key, ledger: AskersLedger,
              direction: Literal["down", "up"] = "down",
              depth: Annotated[int | None, Query(ge=1, le=64)] = None,
              as_of: AsOf = None, by: By = "recorded") -> Node:
    """What went into an assembly (``down``), or every assembly a part or lot is in."""
    return ledger.genealogy(key, direction=direction, depth=depth, as_of=as_of, by=by)


@router.get("/recall", response_model=RecallScope)
def recall(machine: Annotated[str, Query(min_length=1, max_length=128)],
           start: datetime, end: datetime, ledger: AskersLedger,
           where: Annotated[str | None, Query(max_length=2000)] = None,
           as_of: AsOf = None, by: By = "recorded") -> RecallScope:
    """The serials ``machine`` ran in [start, end) for which ``where`` holds, with evidence."""
    return ledger.recall_scope(machine=machine, start=start, end=end,
                               where=where, as_of=as_of, by=by)


@router.get("/parts/{key}/dhr", response_model=None,
            responses={200: {"content": {"application/json": {}, "text/html": {},
                                         "application/pdf": {}}}})
def dhr(key: Key, ledger: AskersLedger, format_: Format = "json", as_of: AsOf = None,
        by: By = "recorded") -> Response:
    """The device history record of a serial or production lot (JSON, HTML or PDF)."""
    from thread.records.dhr import device_history_record

    return _document(device_history_record(ledger, key, as_of=as_of, by=by), format_)


@router.get("/designs/{part_number}/{revision}/fair", response_model=None,
            responses={200: {"content": {"application/json": {}, "text/html": {},
                                         "application/pdf": {}}}})
def fair(part_number: Key, revision: Key, ledger: AskersLedger, format_: Format = "json",
         serial: Annotated[str | None, Query(max_length=128)] = None, as_of: AsOf = None,
         by: By = "recorded") -> Response:
    """The AS9102 first article inspection report of a part number and revision."""
    from thread.records.fair import first_article_report

    return _document(first_article_report(ledger, part_number, revision, serial=serial,
                                          as_of=as_of, by=by), format_)


def _document(record: DeviceHistoryRecord | FirstArticleReport, format_: str) -> Response:
    from thread.records.html import render_html
    from thread.records.pdf import render_pdf

    if format_ == "pdf":
        return Response(render_pdf(record), media_type="application/pdf")
    if format_ == "html":
        return HTMLResponse(render_html(record))
    return Response(record.model_dump_json(), media_type="application/json")
