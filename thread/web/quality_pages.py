"""The web app's investigation and SPC pages (with the ``analytics`` extra): the failure
patterns of a part number with their pictures, and a control chart with the rules its points
break and the parts behind them; the pictures are the library's own, drawn on the server."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from thread.errors import LedgerError, one_line
from thread.quality.charts import CHARTS
from thread.web.access import AskersLedger
from thread.web.pages import page

router = APIRouter(include_in_schema=False)


@router.get("/ui/investigation", response_class=HTMLResponse)
def investigation_page(ledger: AskersLedger,
                       part_number: Annotated[str, Query(max_length=128)] = "",
                       since: datetime | None = None,
                       until: datetime | None = None) -> HTMLResponse:
    """Which machine windows and parameter ranges made parts that fail more in the field per
    operating hour, with the statistics and the pictures."""
    from thread.analytics.figures import png
    from thread.analytics.plots import investigation_pictures

    if not part_number:
        return page("investigation.html", title="Investigation", found=None, part_number="",
                    pictures={}, problem="", unpictured="")
    try:
        found = ledger.failure_patterns(part_number=part_number, since=since, until=until)
    except LedgerError as error:
        return page("investigation.html", status=400, title="Investigation", found=None,
                    part_number=part_number, pictures={}, problem=one_line(error),
                    unpictured="")
    try:
        pictures = {name: _data_uri(png(figure))
                    for name, figure in investigation_pictures(ledger, found).items()}
        unpictured = ""
    except LedgerError as error:  # nothing in service yet, say: the figures, not the answer
        pictures, unpictured = {}, one_line(error)
    return page("investigation.html", title=f"Investigation of {part_number}", found=found,
                part_number=part_number, pictures=pictures, problem="", unpictured=unpictured)


@router.get("/ui/spc", response_class=HTMLResponse)
def spc_page(ledger: AskersLedger, metric: Annotated[str, Query(max_length=200)] = "",
             part_number: Annotated[str | None, Query(max_length=128)] = None,
             machine: Annotated[str | None, Query(max_length=128)] = None,
             chart: Annotated[str, Query(max_length=16)] = "i-mr",
             subgroup_size: Annotated[int, Query(ge=1, le=50)] = 1) -> HTMLResponse:
    """A control chart of a metric, the rules its points break and the parts behind them."""
    from thread.analytics.control_chart_plots import control_chart_png
    from thread.analytics.spc import chart_series

    context: dict[str, Any] = {"metric": metric, "part_number": part_number or "",
                               "machine": machine or "", "chart": chart, "charts": CHARTS,
                               "subgroup_size": subgroup_size}
    if not metric:
        return page("spc.html", title="Control chart", drawn=None, picture="", problem="",
                    **context)
    try:
        found = ledger.series(metric, part_number=part_number or None,
                              machine=machine or None)
        drawn = chart_series(found, chart, subgroup_size=subgroup_size)
        picture = _data_uri(control_chart_png(drawn))
    except LedgerError as error:
        return page("spc.html", status=400, title="Control chart", drawn=None, picture="",
                    problem=one_line(error), **context)
    return page("spc.html", title=f"Control chart of {metric}", drawn=drawn, picture=picture,
                problem="", **context)


def _data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
