"""As-of moments for queries: which clock, and up to when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from thread.errors import LedgerError
from thread.times import EARLIEST, LATEST

TimeAxis = Literal["recorded", "occurred"]

#: Later than any event: the bound a query uses when no as-of moment is asked for.
_END_OF_TIME = 2**62


@dataclass(frozen=True)
class AsOf:
    """Up to which moment, on which clock, a query looks at the record."""

    moment: datetime | None = None
    by: TimeAxis = "recorded"

    def __post_init__(self) -> None:
        if self.moment is not None and self.moment.tzinfo is None:
            raise LedgerError(f"as_of {self.moment.isoformat()} needs a time zone")
        if self.moment is not None and not EARLIEST <= self.moment <= LATEST:
            raise LedgerError(
                f"as_of {self.moment.isoformat()}: expected a time from "
                f"{EARLIEST.isoformat()} (nothing in a ledger is older) to {LATEST.isoformat()} "
                f"(the last nanosecond the read models count)")
        if self.by not in ("recorded", "occurred"):
            raise LedgerError(f"by {self.by!r}: expected 'recorded' or 'occurred'")

    @property
    def column(self) -> str:
        """The read-model column that holds this clock."""
        return "recorded_ns" if self.by == "recorded" else "occurred_ns"

    @property
    def bound_ns(self) -> int:
        """The moment in nanoseconds since the epoch (far future when there is none)."""
        if self.moment is None:
            return _END_OF_TIME
        return int(self.moment.astimezone(UTC).timestamp() * 1_000_000) * 1_000

    def phrase(self) -> str:
        """The moment as words for a message: empty for now, else " as of ... (... clock)"."""
        if self.moment is None:
            return ""
        when = self.moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return f" as of {when} ({self.by} clock)"



def ns(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime, as a query bound: a moment before
    1970 or after 2262 bounds as the first or last moment a ledger can hold (nothing lies
    outside), never as a number the read models' 64-bit columns cannot take."""
    if moment.tzinfo is None:
        raise LedgerError(f"{moment.isoformat()} needs a time zone")
    moment = min(max(moment, EARLIEST), LATEST)
    return int(moment.astimezone(UTC).timestamp() * 1_000_000) * 1_000
