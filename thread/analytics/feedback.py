"""Design feedback: what tolerance each machine actually holds, characteristic by characteristic.

For every characteristic of a part number's released revision that was measured,
the distribution of the measured values against the released tolerance: overall,
per machine (the machine that made each part) and per period, with the
capability indices of :func:`thread.quality.capability`, the share of parts out
of tolerance, and "what can we hold": the tightest tolerance, symmetric about the
tolerance's midpoint, at which each machine's parts reach Cpk 1.33 (its half
width is the distance of the machine's mean from the midpoint plus four
within-subgroup sigmas), and the same for a machine re-centred on the midpoint.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from thread.domain.condition import moment
from thread.errors import LedgerError
from thread.quality import Capability, capability
from thread.read.result import Model
from thread.read.series import Measured, Tolerance

if TYPE_CHECKING:
    from thread.ledger import Ledger
    from thread.read.clock import TimeAxis

Period = Literal["day", "week", "month"]
#: The Cpk a tolerance must be held at to count as held (AIAG's 1.33: four sigmas each side).
HELD_AT = 4 / 3


class Held(Model):
    """The tightest symmetric tolerance (half widths, about the tolerance's midpoint) at
    which a group of parts reaches Cpk 1.33: as it runs, and re-centred."""

    as_running: float
    centred: float


class GroupCapability(Model):
    """One machine's or one period's parts of a characteristic."""

    group: str
    n: int
    mean: float
    out_of_tolerance: float
    capability: Capability | None
    held: Held | None


class CharacteristicFeedback(Model):
    """A characteristic's measured values against its released tolerance."""

    characteristic: str
    name: str | None
    unit: str | None
    nominal: float | None
    lsl: float | None
    usl: float | None
    designator: str | None
    n: int
    without_value: int
    failed: int
    out_of_tolerance: float
    overall: Capability | None
    held: Held | None
    by_machine: tuple[GroupCapability, ...]
    by_period: tuple[GroupCapability, ...]
    #: The values themselves, for the report's histograms (capped: a sample beyond it).
    values: tuple[float, ...]
    values_by_machine: dict[str, tuple[float, ...]]

    @property
    def half_width(self) -> float | None:
        """Half the released tolerance's width (None for a one-sided or no tolerance)."""
        return None if self.lsl is None or self.usl is None else (self.usl - self.lsl) / 2

    @property
    def limits_text(self) -> str:
        """The tolerance as every view words it: ``19.99 to 20 mm``, ``at most 0.2 um``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.lsl is None and self.usl is None:
            return "no numeric tolerance"
        if self.lsl is None:
            return f"at most {self.usl:.6g}{unit}"
        if self.usl is None:
            return f"at least {self.lsl:.6g}{unit}"
        return f"{self.lsl:.6g} to {self.usl:.6g}{unit}"


class DesignFeedback(Model):
    """Capability of every measured characteristic of a part number, for the design team."""

    part_number: str
    revision: str | None
    period: Period
    since: datetime | None
    until: datetime | None
    as_of: datetime
    characteristics: tuple[CharacteristicFeedback, ...]


#: Values kept per characteristic for the histograms (evenly spaced when there are more).
_KEPT = 20_000


def design_feedback(ledger: Ledger, part_number: str, *, revision: str | None = None,
                    characteristics: Sequence[str] = (), operation: str | None = None,
                    period: Period = "week", since: datetime | None = None,
                    until: datetime | None = None, as_of: datetime | None = None,
                    by: TimeAxis = "recorded") -> DesignFeedback:
    """Design feedback for ``part_number`` (one ``revision``, or all) from its measurements."""
    found = ledger.measured(part_number, revision=revision, operation=operation, since=since,
                            until=until, as_of=as_of, by=by)
    if characteristics:
        missing = sorted(set(characteristics) - {m.characteristic for m in found})
        if missing:
            raise LedgerError(f"characteristic {', '.join(missing)} of {part_number} was never "
                              f"measured{' in this period' if since or until else ''}")
        found = [m for m in found if m.characteristic in characteristics]
    if not found:
        raise LedgerError(f"no measurement of part number {part_number} in this ledger"
                          + (f" for revision {revision}" if revision else ""))
    released = _released(ledger, part_number, revision)
    return DesignFeedback(
        part_number=part_number, revision=revision, period=period, since=since, until=until,
        as_of=as_of or datetime.now(UTC),
        characteristics=tuple(_feedback(m, released.get(m.characteristic), period)
                              for m in sorted(found, key=lambda m: _natural(m.characteristic))))


def _target(tolerance: Tolerance | None) -> float | None:
    """Cpm's target: the nominal, unless the nominal is a limit (20 +0/-0.010: aim between)."""
    if tolerance is None:
        return None
    if tolerance.lower < 0 < tolerance.upper:
        return tolerance.nominal
    return (tolerance.lsl + tolerance.usl) / 2


def _natural(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 30, name)


def _released(ledger: Ledger, part_number: str, revision: str | None
              ) -> dict[str, tuple[str, str]]:
    """Name and designator of each characteristic of the revision (the latest released)."""
    try:
        design = ledger.design(part_number)
    except LedgerError:
        return {}
    revisions = design.revisions
    chosen = revisions.get(revision) if revision else (
        list(revisions.values())[-1] if revisions else None)
    if chosen is None:
        return {}
    return {c.balloon: (c.name, c.designator) for c in chosen.characteristics}


def _feedback(found: Measured, described: tuple[str, str] | None,
              period: Period) -> CharacteristicFeedback:
    tolerance = found.tolerance
    lsl = tolerance.lsl if tolerance else None
    usl = tolerance.usl if tolerance else None
    values = found.values
    by_machine: dict[str, list[float]] = defaultdict(list)
    by_period: dict[str, list[float]] = defaultdict(list)
    for value, at, machine in zip(values, found.at_ns, found.machines, strict=True):
        by_machine[machine or "unknown"].append(value)
        by_period[_period_of(at, period)].append(value)
    step = max(1, len(values) // _KEPT)
    return CharacteristicFeedback(
        characteristic=found.characteristic, name=described[0] if described else None,
        unit=found.unit, nominal=tolerance.nominal if tolerance else None, lsl=lsl, usl=usl,
        designator=described[1] if described else None, n=len(values),
        without_value=found.without_value, failed=found.failed,
        out_of_tolerance=_outside(values, lsl, usl),
        overall=_capability(values, lsl, usl, _target(tolerance)),
        held=_held(values, lsl, usl),
        by_machine=tuple(_group(name, taken, lsl, usl) for name, taken in
                         sorted(by_machine.items())),
        by_period=tuple(_group(name, taken, lsl, usl) for name, taken in
                        sorted(by_period.items())),
        values=values[::step],
        values_by_machine={name: tuple(taken[::max(1, len(taken) // _KEPT)])
                           for name, taken in sorted(by_machine.items())})


def _group(name: str, values: list[float], lsl: float | None, usl: float | None
           ) -> GroupCapability:
    return GroupCapability(group=name, n=len(values), mean=sum(values) / len(values),
                           out_of_tolerance=_outside(values, lsl, usl),
                           capability=_capability(values, lsl, usl, None),
                           held=_held(values, lsl, usl))


def _capability(values: Sequence[float], lsl: float | None, usl: float | None,
                target: float | None) -> Capability | None:
    if len(values) < 3 or (lsl is None and usl is None) or len(set(values)) < 2:
        return None
    return capability(list(values), lsl=lsl, usl=usl, target=target)


def _held(values: Sequence[float], lsl: float | None, usl: float | None) -> Held | None:
    """Half widths about the tolerance midpoint at which the values reach Cpk 1.33."""
    found = _capability(values, lsl, usl, None)
    if found is None or lsl is None or usl is None:
        return None
    middle = (lsl + usl) / 2
    spread = 3 * HELD_AT * found.sigma_within
    return Held(as_running=abs(found.mean - middle) + spread, centred=spread)


def _outside(values: Sequence[float], lsl: float | None, usl: float | None) -> float:
    if not values:
        return 0.0
    outside = sum(1 for v in values if (lsl is not None and v < lsl)
                  or (usl is not None and v > usl))
    return outside / len(values)


def _period_of(at_ns: int, period: Period) -> str:
    day = moment(at_ns).date()
    if period == "day":
        return day.isoformat()
    if period == "month":
        return f"{day:%Y-%m}"
    monday = day - timedelta(days=day.weekday())
    return f"week of {monday.isoformat()}"


def report_lines(report: DesignFeedback) -> list[str]:
    """The report as text: per characteristic, overall then per machine."""
    from thread.presentation import table

    lines = [f"capability of {report.part_number}"
             + (f" rev {report.revision}" if report.revision else "")
             + " against the released tolerance (Cpk with its 95% interval; "
               "held: the tightest symmetric tolerance at Cpk 1.33)"]
    for c in report.characteristics:
        lines.append("")
        lines.append(f"characteristic {c.characteristic}"
                     + (f" {c.name}" if c.name else "") + f": {c.limits_text}, "
                     f"{c.n} measured, {c.out_of_tolerance:.2%} out of tolerance")
        if c.overall is not None and c.overall.warning:
            lines.append(f"  note: {c.overall.warning}")
        rows = [_row("all", c.n, c.overall, c.held, c.out_of_tolerance)]
        rows.extend(_row(g.group, g.n, g.capability, g.held, g.out_of_tolerance)
                    for g in c.by_machine)
        lines.append(table(("MACHINE", "N", "MEAN", "SIGMA", "CPK", "95% CI", "PPK",
                            "OUT", "HELD +/-", "CENTRED +/-"), rows))
    return lines


def _row(name: str, n: int, found: Capability | None, held: Held | None,
         outside: float) -> tuple[str, ...]:
    if found is None:
        return (name, str(n), "-", "-", "-", "-", "-", f"{outside:.2%}", "-", "-")
    interval = found.cpk_interval
    return (name, str(n), f"{found.mean:.6g}", _g(found.sigma_within), _g(found.cpk),
            "-" if interval is None else f"{_g(interval.low)} .. {_g(interval.high)}",
            _g(found.ppk), f"{outside:.2%}", _g(held.as_running if held else None),
            _g(held.centred if held else None))


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
