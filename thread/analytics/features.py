"""What quality prediction learns from: a feature table per serial, its labels, and the
time-ordered splits that evaluate it (one cut, or a rolling origin of several).

Features are what is known of a part when it leaves the machine:

- every value its service record holds (:mod:`thread.read.field`): ``process.NAME.mean``
  of each process parameter, ``condition.NAME.max`` and ``condition.NAME.mean`` of the
  machine's condition while it ran; a value not recorded for a part stays NaN (gradient
  boosting routes it, it is not guessed);
- ``machine=ID``: 1 when a machine ran one of its operations, else 0;
- ``lot=ID``: 1 when it consumed that material lot, else 0.

Indicator columns rather than category codes, so that a part run on two machines (a
rework) or made from two lots says so, a machine the model never saw scores as none of
the known ones, and an importance names the machine or lot, not a column.

Labels, per target:

- ``inspection-failure``: the part failed any inspection; a part never inspected has no
  label;
- ``field-failure``: the part failed in the field within ``horizon_hours`` operating hours,
  under the project's one service-life rule (:func:`thread.analytics.patterns.service_lives`).
  A part that has run the horizon is a negative, whether it failed later or not; a part
  still short of the horizon that has not failed cannot be labelled yet, and neither can
  one never in service. Both are counted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from thread.analytics.patterns import service_lives
from thread.domain.condition import moment
from thread.domain.service_life import UnitRecord
from thread.errors import LedgerError
from thread.read.outcomes import Outcome
from thread.read.result import Model

Target = Literal["inspection-failure", "field-failure"]
TARGETS: tuple[Target, ...] = ("inspection-failure", "field-failure")
MACHINE = "machine="
LOT = "lot="
#: The share of parts in service whose hours the suggested horizon is.
REACHED = 0.8


class PredictionError(LedgerError):
    """A prediction that cannot be trained, evaluated or scored as asked."""


@dataclass(frozen=True)
class Table:
    """Feature values per serial, oldest first: one row per serial, one column per name."""

    serials: tuple[str, ...]
    produced_ns: NDArray[np.int64]
    names: tuple[str, ...]
    values: NDArray[np.float64]

    def take(self, rows: NDArray[np.intp]) -> Table:
        """The rows ``rows``, in that order."""
        return Table(tuple(self.serials[i] for i in rows), self.produced_ns[rows], self.names,
                     self.values[rows])

    def machine_columns(self) -> NDArray[np.intp]:
        """The indexes of the ``machine=`` columns."""
        return np.array([i for i, name in enumerate(self.names) if name.startswith(MACHINE)],
                        dtype=np.intp)


class Labels(Model):
    """How a target labelled a part number's serials, and how many it could not label."""

    target: Target
    horizon_hours: float | None
    #: The field data the labels count up to.
    at: datetime
    parts: int
    labelled: int
    positives: int
    #: inspection-failure: parts never inspected.
    not_inspected: int = 0
    #: field-failure: parts never in service, or whose hours nobody reported.
    not_in_service: int = 0
    #: field-failure: in service fewer hours than the horizon, and not failed.
    too_short: int = 0

    @property
    def left_out(self) -> int:
        """Parts without a label."""
        return self.parts - self.labelled

    @property
    def what(self) -> str:
        """What a positive part had: ``a failed inspection``, ``a field failure within ...``."""
        if self.target == "inspection-failure":
            return "a failed inspection"
        return f"a field failure within {self.horizon_hours:g} operating hours"


def feature_table(units: Sequence[UnitRecord], outcomes: Sequence[Outcome],
                  names: Sequence[str] | None = None) -> Table:
    """The features of ``units`` (oldest first), with the columns ``names`` (None: every
    value, machine and lot the units have, numeric values first, each group sorted)."""
    lots = {outcome.serial: outcome.lots for outcome in outcomes}
    rows = [_features(unit, lots.get(unit.key, ())) for unit in units]
    if names is None:
        found = {name for row in rows for name in row}
        names = sorted(found, key=lambda n: (n.startswith(MACHINE) + 2 * n.startswith(LOT), n))
    # an indicator is 0, not unknown, for a part that did not run on that machine
    absent = [0.0 if name.startswith((MACHINE, LOT)) else math.nan for name in names]
    values = np.array([[row.get(name, missing) for name, missing in zip(names, absent,
                                                                          strict=True)]
                       for row in rows], dtype=np.float64).reshape(len(rows), len(names))
    return Table(tuple(unit.key for unit in units),
                 np.array([unit.produced_ns for unit in units], dtype=np.int64),
                 tuple(names), values)


def _features(unit: UnitRecord, lots: Sequence[str]) -> dict[str, float]:
    row = {name: float(value) for name, value in unit.values.items()
           if name.startswith(("process.", "condition."))}
    for run in unit.runs:
        row[MACHINE + run.machine] = 1.0
    for lot in lots:
        row[LOT + lot] = 1.0
    return row


def inspection_labels(outcomes: Sequence[Outcome], at: datetime) -> tuple[dict[str, bool], Labels]:
    """Whether each inspected part failed any inspection."""
    labels = {o.serial: o.failed_inspections > 0 for o in outcomes if o.inspections}
    return labels, Labels(target="inspection-failure", horizon_hours=None, at=at,
                          parts=len(outcomes), labelled=len(labels),
                          positives=sum(labels.values()),
                          not_inspected=len(outcomes) - len(labels))


def field_labels(units: Sequence[UnitRecord], now: datetime, horizon_hours: float
                 ) -> tuple[dict[str, bool], Labels]:
    """Whether each part that could run ``horizon_hours`` by ``now`` failed within them."""
    if not horizon_hours > 0:
        raise PredictionError(f"horizon {horizon_hours:g} h: a field-failure prediction needs "
                              f"a horizon of more than 0 operating hours")
    labels: dict[str, bool] = {}
    lives = service_lives(units, now)
    too_short = 0
    for unit, life in lives:
        if life.failed and life.hours <= horizon_hours:
            labels[unit.key] = True
        elif life.hours >= horizon_hours:
            labels[unit.key] = False
        else:
            too_short += 1
    return labels, Labels(target="field-failure", horizon_hours=horizon_hours, at=now,
                          parts=len(units), labelled=len(labels),
                          positives=sum(labels.values()),
                          not_in_service=len(units) - len(lives), too_short=too_short)


def labelled(units: Sequence[UnitRecord], outcomes: Sequence[Outcome], now: datetime,
             target: Target, horizon_hours: float | None
             ) -> tuple[Table, NDArray[np.bool_], Labels]:
    """The feature table of the labelled parts, their labels, and how they were labelled."""
    if target == "field-failure":
        if horizon_hours is None:
            raise PredictionError("a field-failure prediction needs a horizon: within how many "
                                  "operating hours (--horizon HOURS)" + _reached(units, now))
        labels, summary = field_labels(units, now, horizon_hours)
    elif target == "inspection-failure":
        if horizon_hours is not None:
            raise PredictionError("an inspection-failure prediction has no horizon; give "
                                  "--horizon with --target field-failure only")
        labels, summary = inspection_labels(outcomes, now)
    else:
        raise PredictionError(f"target {target!r}: expected inspection-failure or "
                              f"field-failure")
    table = feature_table(units, outcomes)
    rows = np.array([i for i, serial in enumerate(table.serials) if serial in labels],
                    dtype=np.intp)
    chosen = table.take(rows)
    return chosen, np.array([labels[s] for s in chosen.serials], dtype=bool), summary


def _reached(units: Sequence[UnitRecord], now: datetime) -> str:
    """What horizon most parts in service have reached, as advice."""
    hours = [life.hours for _, life in service_lives(units, now)]
    if not hours:
        return f"; no part of these {len(units)} is in service yet"
    return (f"; {REACHED:.0%} of the {len(hours)} parts in service have run "
            f"{float(np.quantile(hours, 1 - REACHED)):,.0f} hours or more")


def time_split(produced_ns: NDArray[np.int64], test_share: float
               ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Indexes of the earlier parts (training) and the later ones (test), in production
    order: no test part was made before a training part, and parts made at the same moment
    stay on one side."""
    if not 0 < test_share < 1:
        raise PredictionError(f"test share {test_share:g}: expected a fraction between 0 and 1 "
                              f"(0.3 tests on the latest 30 % of the parts)")
    order = np.argsort(produced_ns, kind="stable").astype(np.intp)
    cut = _cut(produced_ns[order], len(order) - math.ceil(len(order) * test_share))
    return order[:cut], order[cut:]


def rolling_origins(produced_ns: NDArray[np.int64], blocks: int
                    ) -> tuple[tuple[NDArray[np.intp], NDArray[np.intp]], ...]:
    """The folds of a rolling-origin (expanding-window) evaluation: the parts, in production
    order, cut into ``blocks`` consecutive blocks of near-equal size (parts made at the same
    moment stay in one block), and for each block from the second the indexes of every part
    made before it (training) and of the block's own parts (predicted)."""
    if blocks < 2:
        raise PredictionError(f"{blocks} blocks: a rolling origin needs at least 2 (1 is the "
                              f"single time-ordered split)")
    if len(produced_ns) < blocks:
        raise PredictionError(f"{len(produced_ns)} labelled parts cannot be cut into {blocks} "
                              f"blocks; give fewer --folds")
    order = np.argsort(produced_ns, kind="stable").astype(np.intp)
    ordered = produced_ns[order]
    bounds = [0]
    for block in range(1, blocks):
        cut = _cut(ordered, block * len(order) // blocks)
        if cut > bounds[-1]:  # a run of ties wider than a block leaves no block between
            bounds.append(cut)
    bounds.append(len(order))
    return tuple((order[:start], order[start:end])
                 for start, end in itertools.pairwise(bounds) if start > 0)


def _cut(ordered: NDArray[np.int64], cut: int) -> int:
    """``cut``, moved earlier until it falls between parts made at different moments."""
    while 0 < cut < len(ordered) and ordered[cut - 1] == ordered[cut]:
        cut -= 1
    return cut


def inputs_digest(names: Sequence[str], row: NDArray[np.float64]) -> str:
    """``sha256:`` of the canonical JSON of the values a part was scored on (keys sorted,
    no blanks, a value not recorded as null)."""
    values = {name: None if math.isnan(value) else float(value)
              for name, value in zip(names, row.tolist(), strict=True)}
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def period(table: Table) -> tuple[datetime, datetime] | None:
    """When the first and the last part of ``table`` were made (None: no part)."""
    if not len(table.serials):
        return None
    return moment(int(table.produced_ns.min())), moment(int(table.produced_ns.max()))
