"""What became of each serial of a part number in the plant: its inspection verdicts, and the
material lots it was made from.

Quality prediction learns from these beside the service records of
:mod:`thread.read.field`. Superseded (corrected) inspections and consumptions are left
out: the outcome is what the record says now, or as of the moment asked.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Connection

from thread.domain.condition import moment
from thread.read.clock import AsOf
from thread.read.result import Model
from thread.read.sql import not_superseded, rows

_UNITS = (
    "SELECT key, occurred_ns FROM read_registry WHERE part_number = :number AND kind = 'part' "
    "AND occurred_ns >= :since AND occurred_ns < :until AND {clock} <= :bound"
)
_INSPECTIONS = (
    "SELECT i.key, i.characteristic, i.verdict, i.occurred_ns FROM read_registry r "  # noqa: S608
    "JOIN read_inspections i ON i.key = r.key AND i.kind = r.kind "
    "WHERE r.part_number = :number AND r.kind = 'part' AND r.occurred_ns >= :since "
    "AND r.occurred_ns < :until AND r.{clock} <= :bound AND i.{clock} <= :bound AND "
    + not_superseded("i")
)
_LOTS = (
    "SELECT e.parent, e.child FROM read_registry r "
    "JOIN read_edges e ON e.parent = r.key AND e.parent_kind = r.kind "
    "WHERE r.part_number = :number AND r.kind = 'part' AND r.occurred_ns >= :since "
    "AND r.occurred_ns < :until AND r.{clock} <= :bound AND e.{clock} <= :bound "
    "AND e.action = 'consume' AND NOT EXISTS (SELECT 1 FROM read_superseded x "
    "WHERE x.kind = e.parent_kind AND x.key = e.parent AND x.version = e.version "
    "AND x.{clock} <= :bound)"
)


class Outcome(Model):
    """One serial's inspection record and the material lots it consumed."""

    serial: str
    produced: datetime
    inspections: int
    failed_inspections: int
    #: The characteristics that failed at least once, sorted.
    failed_characteristics: tuple[str, ...]
    first_inspected: datetime | None
    #: The material lots the part consumed, sorted.
    lots: tuple[str, ...]

    @property
    def failed(self) -> bool | None:
        """Whether the part failed any inspection (None: it was never inspected)."""
        return None if not self.inspections else self.failed_inspections > 0


def outcomes(conn: Connection, part_number: str, since_ns: int, until_ns: int,
             as_of: AsOf) -> list[Outcome]:
    """Every serial of ``part_number`` made in ``[since, until)`` with its outcome, oldest
    first."""
    window = {"number": part_number, "since": since_ns, "until": until_ns}
    produced: dict[str, int] = dict(rows(conn, _UNITS, as_of, **window))
    verdicts: dict[str, list[tuple[str, bool, int]]] = defaultdict(list)
    for key, characteristic, verdict, occurred in rows(conn, _INSPECTIONS, as_of, **window):
        verdicts[key].append((characteristic, verdict == "fail", occurred))
    lots: dict[str, set[str]] = defaultdict(set)
    for key, lot in rows(conn, _LOTS, as_of, **window):
        lots[key].add(lot)
    found = []
    for key, made in produced.items():
        seen = verdicts.get(key, [])
        found.append(Outcome(
            serial=key, produced=moment(made), inspections=len(seen),
            failed_inspections=sum(failed for _, failed, _ in seen),
            failed_characteristics=tuple(sorted({c for c, failed, _ in seen if failed})),
            first_inspected=moment(min(at for *_, at in seen)) if seen else None,
            lots=tuple(sorted(lots.get(key, ())))))
    return sorted(found, key=lambda o: (o.produced, o.serial))
