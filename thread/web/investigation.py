"""Investigation and alerts over HTTP: the failure patterns of a part number (the
``analytics`` extra) and the drift alerts, each the library's own answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from thread.analytics.patterns import FailurePatterns
from thread.read.drift import DriftState
from thread.web.access import AskersLedger

router = APIRouter(tags=["investigate"])


@router.get("/investigation", response_model=FailurePatterns)
def investigation(part_number: Annotated[str, Query(min_length=1, max_length=128)],
                  ledger: AskersLedger, since: datetime | None = None,
                  until: datetime | None = None,
                  alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
                  max_weeks: Annotated[int, Query(ge=1, le=52)] = 8) -> FailurePatterns:
    """The machines, production windows and process conditions whose parts of
    ``part_number`` fail more in the field per operating hour, with the statistics."""
    return ledger.failure_patterns(part_number=part_number, since=since, until=until,
                                   alpha=alpha, max_weeks=max_weeks)


@router.get("/alerts", response_model=DriftState, tags=["investigate"])
def alerts(ledger: AskersLedger, as_of: datetime | None = None,
           by: Literal["recorded", "occurred"] = "recorded") -> DriftState:
    """The charts watched for drift and their alerts (open, acknowledged, closed)."""
    return ledger.drift(as_of=as_of, by=by)
