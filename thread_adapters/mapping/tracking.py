"""Which part was in the machine when: cycles from triggers and serial or batch tags.

Triggers, serials and parameters arrive on different tags, interleaved in
any way across tags and, after an outage, even out of order within a tag. So
a cycle is not cut when its trigger arrives; the cycle is resolved by source
time once the other tags have caught up with its end, from the edges the
trigger tags' changes show then:

- it **ends** at a cycle-complete edge, or, when batches are tracked without
  a cycle-complete trigger, when the batch id changes;
- it **starts** at the last cycle-start edge after the previous cycle's end,
  or without a start trigger when the serial (batch) last changed or the
  previous cycle ended, whichever is later;
- its **part** is the serial (batch) in effect at the end (for a batch run
  ended by a change of id: the id just before the change).

A cycle whose start trigger was never seen (the collector started in the
middle of it) is not recorded: its readings are incomplete.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from typing import Literal

from thread_adapters.mapping.signals import Discrete, Edge, changed, rising
from thread_adapters.readings import TagValue


@dataclass(frozen=True)
class Cycle:
    """One part (or batch run) through the machine: who, from when, to when (ns)."""

    subject: str
    start: int
    end: int


@dataclass
class Skipped:
    """Cycles that ended but cannot be recorded, by reason."""

    no_start: int = 0      # started before the collector saw it
    no_subject: int = 0    # no serial or batch id known at the end


@dataclass
class Tracker:
    """Finds cycles in the trigger and subject tags' changes, and resolves them in time order.

    Edges are read from the tags' changes whenever they are needed, not noted
    as readings arrive, so a trigger merged out of arrival order (a
    store-and-forward replay) counts exactly as if it had arrived in order.
    """

    tracking: Literal["serial", "batch"]
    subject: Discrete
    start: Discrete | None
    complete: Discrete | None
    start_edge: Edge = rising
    complete_edge: Edge = rising
    skipped: Skipped = field(default_factory=Skipped)
    #: The end of the last cycle resolved (recorded or skipped).
    previous_end: int | None = None

    def starts(self) -> list[int]:
        """Times of cycle-start edges after the last resolved cycle, oldest first."""
        if self.start is None:
            return []
        return _edges(self.start, self.start_edge, self.previous_end)

    def ends(self) -> list[tuple[int, str | None]]:
        """(time, subject known then) of each cycle end not yet resolved, oldest first.

        A cycle ends at a cycle-complete edge; without a cycle-complete trigger,
        when the serial or batch id changes (the run was the previous id's).
        """
        if self.complete is not None:
            return [(at, None) for at in _edges(self.complete, self.complete_edge,
                                                self.previous_end)]
        after = self.previous_end
        return [(at, _name(before))
                for (_, before), (at, _) in itertools.pairwise(self.subject.changes)
                if (after is None or at > after) and _name(before) is not None]

    def pending(self) -> list[int]:
        """End times of cycles waiting to be resolved, oldest first."""
        return [end for end, _ in self.ends()]

    def resolve(self, upto: int) -> list[Cycle]:
        """The cycles that ended at or before ``upto``, in order."""
        starts = self.starts()
        cycles: list[Cycle] = []
        for end, known in self.ends():
            if end > upto:
                break
            cycle = self._cycle(end, known, starts)
            self.previous_end = end
            if cycle is not None:
                cycles.append(cycle)
        return cycles

    def _cycle(self, end: int, known: str | None, starts: list[int]) -> Cycle | None:
        subject = known if known is not None else _name(self.subject.at(end))
        if subject is None:
            self.skipped.no_subject += 1
            return None
        after = self.previous_end
        if self.start is not None:
            candidates = [t for t in starts if t <= end and (after is None or t > after)]
            if not candidates:
                self.skipped.no_start += 1
                return None
            return Cycle(subject, candidates[-1], end)
        changed_at = self._subject_since(end)
        start = max(t for t in (after, changed_at) if t is not None) if (
            after is not None or changed_at is not None) else end
        return Cycle(subject, min(start, end), end)

    def _subject_since(self, end: int) -> int | None:
        """When the subject in effect just before ``end`` was set."""
        changes = self.subject.changes
        index = bisect.bisect_left(changes, end, key=lambda change: change[0]) - 1
        if known_change := (changes[index] if index >= 0 else None):
            return known_change[0]
        return None

    def keep_from(self) -> int | None:
        """The earliest time a cycle not yet resolved can start (readings before it can go)."""
        if self.start is not None:
            # Cycles start at start edges: one not yet used, or one not yet seen.
            starts = self.starts()
            if starts:
                return starts[0]
            if self.ends():
                return self.previous_end
            return self.start.last_t if self.start.changes else self.previous_end
        if self.ends():
            return self.previous_end
        latest = self.subject.changes[-1][0] if self.subject.changes else None
        if latest is None:
            return self.previous_end
        return max(latest, self.previous_end) if self.previous_end is not None else latest


def _edges(tag: Discrete, edge: Edge, after: int | None) -> list[int]:
    """Times of the tag's changes after ``after`` that are edges of the given kind."""
    changes = tag.changes
    first = 1 if after is None else max(1, bisect.bisect_right(changes, after,
                                                               key=lambda change: change[0]))
    return [changes[index][0] for index in range(first, len(changes))
            if edge(changes[index - 1][1], changes[index][1])]


def _name(value: TagValue | None) -> str | None:
    """A serial or batch id as text; empty means no part in the machine."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a serial number held in a REAL tag
    text = str(value).strip()
    return text or None


def edge_of(option: Literal["rising", "change"]) -> Edge:
    """The edge function a tag's ``edge`` option names."""
    return rising if option == "rising" else changed
