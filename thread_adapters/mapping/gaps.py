"""Collection gaps that may still be backfilled, and what their facts say once they are not.

A protocol adapter reports a gap when it could not receive for a while (a
lost connection, a node offline, skipped sequence numbers). Some sources
keep what they measured meanwhile and send it afterwards with its own source
times: a Sparkplug B edge node publishes its store-and-forward buffer as
historical metrics right after its new NBIRTH. So a gap stays *open* after
it is reported:

- while it is open, the mapping layer resolves nothing after the gap's start
  (no cycle, window or alarm) and lets go of no reading after it, so
  readings from inside the gap merge into their place in time;
- it closes once ``settle_s`` of wall time has passed with no reading from
  inside it arriving (or at a flush), and only then is its
  ``CollectionGapRecorded`` written.

The fact keeps the stretch as reported: the time the collector itself
received nothing. When readings from inside the stretch arrived before the
gap closed, its reason says so, with how many and from when to when, so a
reader of the record knows the process data of that stretch came from the
source's stored history rather than live. Readings from inside a gap that
arrive after its fact was written are still merged while nothing after them
has been resolved, but the fact does not count them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from thread_adapters.mapping import summaries

#: What a gap's reason may hold before the backfill note (facts hold 4000 characters).
_REASON_KEPT = 3000


@dataclass
class OpenGap:
    """A reported gap not yet written: its stretch (ns), why, and what arrived from inside it."""

    start: int
    end: int
    reason: str
    lost: int | None
    #: Wall time (monotonic s) of the report or of the latest reading from inside the stretch.
    touched: float
    filled: int = 0
    first: int | None = None
    last: int | None = None

    def inside(self, at_ns: int) -> bool:
        """Whether a reading at ``at_ns`` was taken inside the stretch (not at its ends).

        The ends are the last reading before the outage and the first after it,
        both received live.
        """
        return self.start < at_ns < self.end

    def fill(self, first: int, last: int, count: int, wall: float) -> None:
        """``count`` readings from ``first`` to ``last`` (ns) inside the stretch arrived now."""
        self.filled += count
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)
        self.touched = wall

    def statement(self) -> str:
        """The reason the fact records: as reported, with what was backfilled, if anything."""
        if not self.filled or self.first is None or self.last is None:
            return self.reason[:4000]
        return (f"{self.reason[:_REASON_KEPT]}; backfilled afterwards: the source forwarded "
                f"{self.filled} stored reading(s) taken from "
                f"{_moment(self.first)} to {_moment(self.last)} within this stretch, merged "
                f"into the records by their source time")[:4000]


class OpenGaps:
    """The gaps reported and not yet written, oldest first."""

    def __init__(self) -> None:
        self.gaps: list[OpenGap] = []

    def __bool__(self) -> bool:
        return bool(self.gaps)

    def open(self, gap: OpenGap) -> None:
        """A gap was reported."""
        self.gaps.append(gap)

    def limit(self) -> int | None:
        """The earliest start of an open gap: nothing after it may be resolved yet."""
        return min((gap.start for gap in self.gaps), default=None)

    def note(self, at_ns: int, wall: float) -> None:
        """A reading taken at ``at_ns`` was kept."""
        for gap in self.gaps:
            if gap.inside(at_ns):
                gap.fill(at_ns, at_ns, 1, wall)

    def note_many(self, times: NDArray[np.int64], wall: float) -> None:
        """Readings taken at ``times`` were kept."""
        for gap in self.gaps:
            inside = times[(times > gap.start) & (times < gap.end)]
            if len(inside):
                gap.fill(int(inside.min()), int(inside.max()), len(inside), wall)

    def close(self, wall: float, wait_s: float, *, force: bool) -> list[OpenGap]:
        """The gaps nothing arrived from for ``wait_s`` (all of them with ``force``), taken out."""
        done = [gap for gap in self.gaps if force or wall - gap.touched >= wait_s]
        if done:
            self.gaps = [gap for gap in self.gaps if gap not in done]
        return done


def _moment(at_ns: int) -> str:
    return summaries.instant(at_ns).isoformat(timespec="milliseconds")
