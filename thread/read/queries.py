"""The read side's queries over the read models: trace, genealogy, recall scope, serials.

Bootstrap gives the ledger a :class:`Queries` over its :class:`ReadModels`; the
ledger's own methods only delegate here, so the write side never imports the
read side.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Literal

from thread.errors import UnknownSubject
from thread.read.clock import AsOf, TimeAxis
from thread.read.genealogy import Node, genealogy
from thread.read.models import ReadModels
from thread.read.recall import RecallScope, recall_scope
from thread.read.registry import registered
from thread.read.sql import rows
from thread.read.story import Story
from thread.read.trace import trace
from thread.read.verified import verified_trace


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
                                longest_window_ns=models.longest_window_ns())

    def serials(self, part_number: str, revision: str | None = None, *,
                as_of: datetime | None = None, by: TimeAxis = "recorded",
                kind: Literal["part", "lot"] = "part", catch_up: bool = True) -> list[str]:
        """Serials (or lots) registered against a part number and revision, oldest first."""

        models = self.models
        models.fresh(["registry"], catch_up=catch_up)
        with models.engine.connect() as conn:
            return registered(conn, part_number, revision, AsOf(as_of, by), kind)
