"""The read side's queries over the read models: trace, genealogy, recall scope, serials.

Bootstrap gives the ledger a :class:`Queries` over its :class:`ReadModels`; the
ledger's own methods only delegate here, so the write side never imports the
read side.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Literal

from thread.domain.condition import moment as moment_of
from thread.domain.service_life import UnitRecord
from thread.errors import UnknownSubject
from thread.read.clock import AsOf, TimeAxis, ns
from thread.read.conditions import ConditionSeries, condition_series
from thread.read.drift import DriftState, drift_state
from thread.read.genealogy import Node, genealogy
from thread.read.models import ReadModels
from thread.read.recall import RecallScope, recall_scope
from thread.read.registry import registered
from thread.read.series import Measured, Series, measured, series
from thread.read.sql import rows
from thread.read.story import Story
from thread.read.trace import trace
from thread.read.verified import verified_trace

if TYPE_CHECKING:
    from thread.analytics.patterns import FailurePatterns, Finding, Grouping
    from thread.read.outcomes import Outcome


class Queries:
    """Answers from one ledger's read models, each caught up (or checked) first."""

    def __init__(self, models: ReadModels) -> None:
        self.models = models

    def trace(self, key: str, *, as_of: datetime | None = None, by: TimeAxis = "recorded",
              catch_up: bool = True, verified: bool = False) -> Story:
        """The complete story of a serial or lot, now or as of a past moment.

        The read models catch up with the log first; with ``catch_up=False``
        a view that is behind raises :class:`~thread.read.models.StaleReadModel`
        instead of answering from stale data. With ``verified=True`` the story is
        built from chain-verified events proved in the log, and refused, naming the
        row, if a read-model row it used disagrees (:mod:`thread.read.verified`).
        """

        models = self.models
        if verified:
            return verified_trace(models, key, AsOf(as_of, by), catch_up=catch_up)
        position = models.fresh(["story", "registry", "production"], catch_up=catch_up)
        with models.engine.connect() as conn:
            return trace(partial(rows, conn), models.log.canonical_of, key, AsOf(as_of, by),
                         log_size=position, longest_window_ns=models.longest_window_ns())

    def genealogy(self, key: str, *, direction: Literal["down", "up"] = "down",
                  depth: int | None = None, as_of: datetime | None = None,
                  by: TimeAxis = "recorded", catch_up: bool = True) -> Node:
        """What went into an assembly (``down``), or every assembly a part or lot is in (``up``)."""

        models = self.models
        models.fresh(["genealogy", "registry"], catch_up=catch_up)
        with models.engine.connect() as conn:
            return genealogy(conn, key, direction, AsOf(as_of, by), depth=depth)

    def recall_scope(self, *, machine: str, start: datetime, end: datetime,
                     where: str | None = None, as_of: datetime | None = None,
                     by: TimeAxis = "recorded", catch_up: bool = True) -> RecallScope:
        """The serials ``machine`` ran between ``start`` and ``end`` for which ``where`` holds.

        ``where`` is a predicate over process and condition values, such as
        ``"vibration.max > 4.0 and coolant_temp.mean > 30"`` (see
        :mod:`thread.read.predicate`); without it, every run in the window is in scope.
        """

        if not self.models.log.exists("machine", machine):
            raise UnknownSubject(f"no machine {machine} in this ledger; a recall scope needs "
                                 f"the id a MachineRegistered fact gave it")
        models = self.models
        position = models.fresh(["production", "registry", "genealogy", "story"],
                                catch_up=catch_up)
        with models.engine.connect() as conn:
            return recall_scope(conn, machine=machine, start=start, end=end, where=where,
                                as_of=AsOf(as_of, by), position=position,
                                longest_window_ns=models.longest_window_ns(),
                                beside=models.engine.connect)

    def serials(self, part_number: str, revision: str | None = None, *,
                as_of: datetime | None = None, by: TimeAxis = "recorded",
                kind: Literal["part", "lot"] = "part", catch_up: bool = True) -> list[str]:
        """Serials (or lots) registered against a part number and revision, oldest first."""

        models = self.models
        models.fresh(["registry"], catch_up=catch_up)
        with models.engine.connect() as conn:
            return registered(conn, part_number, revision, AsOf(as_of, by), kind)

    def failure_patterns(self, *, part_number: str, since: datetime | None = None,
                         until: datetime | None = None, by: tuple[Grouping, ...] = (
                             "machine", "parameter"), alpha: float = 0.05,
                         confidence: float = 0.95, max_weeks: int = 8,
                         as_of: datetime | None = None, by_clock: TimeAxis = "recorded",
                         catch_up: bool = True) -> FailurePatterns:
        """Field-failure rates of a part number's serials per machine window and parameter
        bin, tested against the rest per unit-hour, with ranked findings
        (:mod:`thread.analytics.patterns`; needs the ``analytics`` extra)."""
        from thread.analytics import require

        require()
        from thread.analytics.patterns import failure_patterns
        from thread.read.result import as_of_note

        units, now = self.unit_records(part_number=part_number, since=since, until=until,
                                       as_of=as_of, by=by_clock, catch_up=catch_up)
        found = failure_patterns(units, part_number=part_number, now=now, since=since,
                                 until=until, as_of=as_of_note(AsOf(as_of, by_clock)), by=by,
                                 alpha=alpha, confidence=confidence, max_weeks=max_weeks)
        return found.model_copy(update={
            "findings": self._traced(found.findings, as_of, by_clock),
            "parameter_findings": self._traced(found.parameter_findings, as_of, by_clock)})

    def _traced(self, findings: tuple[Finding, ...], as_of: datetime | None, by: TimeAxis
                ) -> tuple[Finding, ...]:
        """The findings with the story of each one's representative part."""
        return tuple(
            finding.model_copy(update={"trace": self.trace(finding.representative, as_of=as_of,
                                                           by=by, catch_up=False)})
            if finding.representative is not None else finding
            for finding in findings)

    def unit_records(self, *, part_number: str, since: datetime | None = None,
                     until: datetime | None = None, as_of: datetime | None = None,
                     by: TimeAxis = "recorded", catch_up: bool = True
                     ) -> tuple[list[UnitRecord], datetime]:
        """The serials of ``part_number`` made between ``since`` and ``until`` with their runs,
        values and service facts (:mod:`thread.read.field`), and the moment their field data
        counts up to: ``as_of``, or the latest service fact recorded."""
        from thread.read.field import unit_records

        moment = AsOf(as_of, by)
        models = self.models
        models.fresh(["story", "registry", "production", "genealogy", "field"],
                     catch_up=catch_up)
        low = ns(since) if since is not None else 0
        high = ns(until) if until is not None else 2**62
        with models.engine.connect() as conn:
            units = unit_records(conn, part_number, low, high, moment,
                                 models.longest_window_ns())
        if not units:
            raise UnknownSubject(f"no serial of part number {part_number!r} was made "
                                 f"{_period(since, until)}in this ledger")
        return units, as_of if as_of is not None else _latest(units)

    def condition_series(self, *, machine: str, metric: str, since: datetime | None = None,
                         until: datetime | None = None, as_of: datetime | None = None,
                         by: TimeAxis = "recorded", catch_up: bool = True) -> ConditionSeries:
        """A machine's condition metric window by window, between ``since`` and ``until``."""
        if not self.models.log.exists("machine", machine):
            raise UnknownSubject(f"no machine {machine} in this ledger")
        self.models.fresh(["production"], catch_up=catch_up)
        with self.models.engine.connect() as conn:
            return condition_series(conn, machine, metric,
                                    ns(since) if since is not None else 0,
                                    ns(until) if until is not None else 2**62,
                                    AsOf(as_of, by))

    def series(self, metric: str, *, part_number: str | None = None,
               revision: str | None = None, machine: str | None = None,
               operation: str | None = None, since: datetime | None = None,
               until: datetime | None = None, as_of: datetime | None = None,
               by: TimeAxis = "recorded", catch_up: bool = True) -> Series:
        """The values of ``metric`` in a scope, oldest first, each with its part and event
        (:mod:`thread.read.series`)."""
        models = self.models
        models.fresh(["story", "registry", "production", "inspection"], catch_up=catch_up)
        with models.engine.connect() as conn:
            return series(conn, metric, AsOf(as_of, by), part_number=part_number,
                          revision=revision, machine=machine, operation=operation,
                          since_ns=ns(since) if since is not None else 0,
                          until_ns=ns(until) if until is not None else 2**62)

    def measured(self, part_number: str, *, revision: str | None = None,
                 operation: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, as_of: datetime | None = None,
                 by: TimeAxis = "recorded", catch_up: bool = True) -> list[Measured]:
        """Every characteristic of ``part_number`` measured in the period, as plain columns
        with the machine that made each part (:func:`thread.read.series.measured`)."""
        models = self.models
        models.fresh(["story", "registry", "production", "inspection"], catch_up=catch_up)
        with models.engine.connect() as conn:
            return measured(conn, part_number, AsOf(as_of, by), revision=revision,
                            operation=operation,
                            since_ns=ns(since) if since is not None else 0,
                            until_ns=ns(until) if until is not None else 2**62)

    def drift(self, *, as_of: datetime | None = None, by: TimeAxis = "recorded",
              catch_up: bool = True) -> DriftState:
        """Every watched chart and drift alert, and where each alert stands."""
        self.models.fresh(["drift"], catch_up=catch_up)
        with self.models.engine.connect() as conn:
            return drift_state(conn, AsOf(as_of, by))

    def outcomes(self, *, part_number: str, since: datetime | None = None,
                 until: datetime | None = None, as_of: datetime | None = None,
                 by: TimeAxis = "recorded", catch_up: bool = True) -> list[Outcome]:
        """Per serial of ``part_number`` made in the period: its inspection verdicts and the
        material lots it consumed (:mod:`thread.read.outcomes`)."""
        from thread.read.outcomes import outcomes

        models = self.models
        models.fresh(["story", "registry", "genealogy", "inspection"], catch_up=catch_up)
        with models.engine.connect() as conn:
            return outcomes(conn, part_number, ns(since) if since is not None else 0,
                            ns(until) if until is not None else 2**62, AsOf(as_of, by))


def _period(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return ""
    return (f"between {since.isoformat() if since else 'the start'} and "
            f"{until.isoformat() if until else 'now'} ")


def _latest(units: list[UnitRecord]) -> datetime:
    """The latest moment the units' records speak of: field data as recent as it gets."""
    latest = max(max((r.occurred_ns for r in (*u.own, *u.holder)), default=u.produced_ns)
                 for u in units)
    return moment_of(latest)
