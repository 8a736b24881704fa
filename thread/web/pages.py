"""The web app for quality engineers: server-rendered pages (Jinja2, htmx served from the
package, no CDN), each a URL that can be pasted into a CAPA as evidence. Every page shows
the library's own answer (the same story, genealogy and recall scope as the API)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from thread.domain.facts.base import SubjectKind
from thread.errors import LedgerError, UnknownSubject, one_line
from thread.read.story import Story
from thread.web.access import AskersLedger
from thread.web.models import EventOut

router = APIRouter(include_in_schema=False)
_templates = Environment(loader=PackageLoader("thread.web", "templates"),
                         autoescape=select_autoescape(["html"]))
_templates.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S") \
    if isinstance(moment, datetime) else ""
_STATIC = {"htmx.min.js": "text/javascript", "style.css": "text/css",
           "htmx.LICENSE": "text/plain"}


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A template of the app rendered with ``context``."""
    return HTMLResponse(_templates.get_template(name).render(**context), status_code=status)


@router.get("/")
def home() -> RedirectResponse:
    """The app's home is its search page."""
    return RedirectResponse("/ui/")


@router.get("/ui/static/{name}")
def static(name: str) -> Response:
    """The app's own files (htmx and its licence, the style sheet)."""
    if name not in _STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    data = files("thread.web").joinpath("static", name).read_bytes()
    return Response(data, media_type=_STATIC[name],
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/ui/", response_class=HTMLResponse)
def searchpage() -> HTMLResponse:
    """Search by serial or part number; a recall scope by machine and window."""
    return page("search.html", title="Search")


@router.get("/ui/search", response_class=HTMLResponse)
def search(ledger: AskersLedger, q: Annotated[str, Query(max_length=128)] = "") -> HTMLResponse:
    """What a search term names: a serial or lot (its story), or a part number (its serials);
    htmx swaps the answer into the search page."""
    term = q.strip()
    found: list[tuple[str, str]] = []
    note = ""
    if term:
        if _exists(ledger, "part", term) or _exists(ledger, "lot", term):
            found.append((term, f"/ui/parts/{term}"))
        serials = _safe(lambda: ledger.serials(term), [])
        found += [(serial, f"/ui/parts/{serial}") for serial in serials[:200]]
        if len(serials) > 200:
            note = f"{len(serials)} serials of {term}; the first 200 are shown"
        if not found:
            note = f"nothing in this ledger is called {term}"
    return page("results.html", found=found, note=note, term=term)


@router.get("/ui/search-go", response_model=None)
def search_go(ledger: AskersLedger,
              q: Annotated[str, Query(max_length=128)] = "") -> Response:
    """The header's search: straight to the story of a serial or lot, else the results."""
    term = q.strip()
    if term and (_exists(ledger, "part", term) or _exists(ledger, "lot", term)):
        return RedirectResponse(f"/ui/parts/{term}", status_code=303)
    return page("search.html", title="Search", initial=bytes(search(ledger, term).body).decode())


@router.get("/ui/parts/{serial}", response_class=HTMLResponse)
def storypage(serial: str, ledger: AskersLedger) -> HTMLResponse:
    """The story of a serial or lot, from chain-verified events proved in the log."""
    try:
        story = ledger.trace(serial, verified=True)
    except LedgerError as error:
        return _refused(error, serial)
    return page("story.html", title=f"{story.kind} {story.key}", story=story,
                 charts=_operation_charts(ledger, story))


@router.get("/ui/genealogy/{key}", response_class=HTMLResponse)
def genealogypage(key: str, ledger: AskersLedger,
                   direction: Literal["down", "up"] = "down") -> HTMLResponse:
    """The genealogy down (what went in) or up (where it went), every node a link."""
    try:
        node = ledger.genealogy(key, direction=direction)
    except LedgerError as error:
        return _refused(error, key)
    return page("genealogy.html", title=f"Genealogy of {key}", node=node, key=key,
                 direction=direction)


@router.get("/ui/recall", response_class=HTMLResponse)
def recallpage(ledger: AskersLedger,
                machine: Annotated[str, Query(max_length=128)] = "",
                start: datetime | None = None, end: datetime | None = None,
                where: Annotated[str, Query(max_length=2000)] = "") -> HTMLResponse:
    """The recall scope of a machine and window, with matched values, undecided runs and the
    reduction against the naive scope."""
    if not machine or start is None or end is None:
        return page("recall.html", title="Recall scope", scope=None, machine=machine,
                     start=start, end=end, where=where, problem="")
    try:
        scope = ledger.recall_scope(machine=machine, start=start, end=end,
                                    where=where or None)
    except LedgerError as error:
        return page("recall.html", title="Recall scope", scope=None, machine=machine,
                     start=start, end=end, where=where, problem=one_line(error), status=400)
    return page("recall.html", title=f"Recall scope of {machine}", scope=scope,
                 machine=machine, start=start, end=end, where=where, problem="")


@router.get("/ui/history/{kind}/{key}", response_class=HTMLResponse)
def historypage(kind: SubjectKind, key: str, ledger: AskersLedger) -> HTMLResponse:
    """A subject's record history: who recorded what when, corrections with the old and new
    values, signatures; the chain verified."""
    try:
        events = [EventOut.of(event) for event in ledger.history_of(kind, key)]
    except LedgerError as error:
        return _refused(error, key)
    return page("history.html", title=f"History of {kind} {key}", kind=kind, key=key,
                 events=events)


def _refused(error: LedgerError, key: str) -> HTMLResponse:
    status = 404 if isinstance(error, UnknownSubject) else 403 \
        if type(error).__name__ == "AccessRefused" else 400
    return page("refused.html", status=status, title=f"{key}: not shown",
                 problem=one_line(error))


def _exists(ledger: Any, kind: SubjectKind, key: str) -> bool:
    return bool(_safe(lambda: ledger.history_of(kind, key), []))


def _safe(call: Any, default: Any) -> Any:
    try:
        return call()
    except LedgerError:
        return default


def _operation_charts(ledger: Any, story: Story) -> list[tuple[str, Markup]]:
    """Each operation's process parameters and its machine's condition on one time axis."""
    from thread.web.charts import AROUND, LOOK_BACK, operation_chart, operation_panels


    charts = []
    kept = _raw_samples(ledger, story)
    for operation in story.operations:
        series = []
        if operation.machine and operation.condition is not None:
            for metric in operation.condition.metrics:
                try:
                    series.append(ledger.condition_series(
                        machine=operation.machine, metric=metric.name,
                        since=operation.started_at - LOOK_BACK,
                        until=operation.ended_at + AROUND))
                except LedgerError:
                    continue  # a metric the reader may not see: not drawn
        readings = next((found for (name, began), found in kept.items()
                         if name == operation.operation
                         and operation.started_at <= began <= operation.ended_at), None)
        panels = operation_panels(operation, series, readings)
        if panels:
            charts.append((f"{operation.operation} on {operation.machine or operation.station}"
                           f", {operation.started_at:%Y-%m-%d %H:%M} UTC",
                           operation_chart(operation, panels)))
    return charts


def _raw_samples(ledger: Any, story: Story
                 ) -> dict[tuple[str, datetime], dict[str, list[tuple[datetime, float]]]]:
    """The raw readings the part's process records keep, by (operation, start) and
    parameter, from its chain-verified history, decoded by the samples decoders installed
    (the ``thread.samples`` entry points: the adapters' ``dtl-samples/1``)."""
    from importlib.metadata import entry_points

    from thread import facts as f

    decoders: dict[str, Any] = {}
    for entry in entry_points(group="thread.samples"):
        try:
            decoders.update(entry.load())
        except ImportError:  # the decoder's own dependencies (numpy) are not installed
            continue
    found: dict[tuple[str, datetime], dict[str, list[tuple[datetime, float]]]] = {}
    if not decoders or story.kind != "part" or not story.operations:
        return found
    for event in ledger.history(story.key):
        fact = event.fact
        if not isinstance(fact, f.ProcessRecorded):
            continue
        for parameter in fact.parameters:
            decode = decoders.get(parameter.samples_encoding or "")
            if parameter.samples is None or decode is None:
                continue
            try:
                pairs = decode(parameter.samples)
            except LedgerError:
                continue  # a damaged block: the summary is drawn instead
            found.setdefault((fact.operation, fact.started_at), {})[parameter.name] = [
                (datetime.fromtimestamp(ns / 1e9, tz=UTC), value) for ns, value in pairs]
    return found
