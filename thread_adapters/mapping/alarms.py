"""Alarms from alarm bits and threshold crossings, resolved by source time.

An alarm bit raises its alarm on a rising edge and clears it on a falling
one; a numeric tag with a threshold raises one while above it. Transitions
are taken in source-time order up to the moment the layer has caught up
with (the same moment condition windows are resolved to), not as readings
arrive: a reading merged out of arrival order then counts as if it had
arrived in order. An ``AlarmRaised`` is queued when its alarm clears, or,
still active, at a flush.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from thread import facts as f
from thread.errors import LedgerError
from thread_adapters.mapping import summaries
from thread_adapters.mapping.signals import NEVER, Discrete, Signal, truthy
from thread_adapters.mapping.writer import Record, Writer

_NEVER_END = 2**63 - 1


@dataclass
class Alarm:
    """One alarm: what it is, the tag it comes from, and whether it is active now."""

    code: str
    text: str
    severity: str
    source: Signal | Discrete
    active_since: int | None = None
    written_open: bool = False


class Alarms:
    """A machine's alarms, their history for condition windows, and their records."""

    def __init__(self, machine: str, writer: Writer) -> None:
        self.machine = machine
        self.writer = writer
        self.alarms: dict[str, Alarm] = {}
        #: (code, raised, cleared or None) of each alarm windows may still need.
        self.log: list[tuple[str, int, int | None]] = []
        #: Transitions up to and including this moment have been taken.
        self.processed_to = NEVER

    def __bool__(self) -> bool:
        return bool(self.alarms)

    def add(self, key: str, alarm: Alarm) -> None:
        """Watch a tag's alarm."""
        self.alarms[key] = alarm

    def may_change(self, key: str, values: NDArray[np.float64]) -> bool:
        """Whether new readings of ``key`` can change its alarm (it is active, or one is above)."""
        alarm = self.alarms.get(key)
        if alarm is None or not isinstance(alarm.source, Signal):
            return False
        threshold = alarm.source.threshold
        return alarm.active_since is not None or (
            threshold is not None and bool((values > threshold).any()))

    def process(self, upto: int) -> None:
        """Take every transition after the last moment taken, up to and including ``upto``."""
        after = self.processed_to
        if upto <= after:
            return
        for alarm in self.alarms.values():
            source = alarm.source
            if isinstance(source, Signal):
                self._crossings(alarm, source, after, upto)
            else:
                for at_ns, value in source.since(after + 1, min(upto, _NEVER_END - 1) + 1):
                    self.state(alarm, truthy(value), at_ns)
        self.processed_to = upto

    def _crossings(self, alarm: Alarm, signal: Signal, after: int, upto: int) -> None:
        threshold = signal.threshold
        assert threshold is not None
        (first, last), _ = signal.span(after + 1, min(upto, _NEVER_END - 1) + 1)
        if last <= first:
            return
        times = np.frombuffer(signal.times, dtype=np.int64)[first:last].copy()
        above = np.frombuffer(signal.values, dtype=np.float64)[first:last] > threshold
        before = np.concatenate(([alarm.active_since is not None], above[:-1]))
        for index in np.flatnonzero(above != before).tolist():
            self.state(alarm, bool(above[index]), int(times[index]))

    def state(self, alarm: Alarm, active: bool, at_ns: int) -> None:
        """The alarm is (in)active from ``at_ns``; a clearing queues its record."""
        if active and alarm.active_since is None:
            alarm.active_since = at_ns
            alarm.written_open = False
            self.log.append((alarm.code, at_ns, None))
        elif not active and alarm.active_since is not None:
            raised, alarm.active_since = alarm.active_since, None
            for index in range(len(self.log) - 1, -1, -1):
                code, start, _ = self.log[index]
                if code == alarm.code and start == raised:
                    self.log[index] = (code, start, at_ns)
                    break
            self._queue(alarm, raised, at_ns)

    def write_open(self) -> None:
        """Queue the alarms still active, without a clearing time (at a flush)."""
        for alarm in self.alarms.values():
            if alarm.active_since is not None and not alarm.written_open:
                alarm.written_open = True
                self._queue(alarm, alarm.active_since, None)

    def active_in(self, start: int, end: int) -> tuple[str, ...]:
        """Codes of the alarms active at any time in [start, end)."""
        return tuple(sorted({code for code, raised, cleared in self.log
                             if raised < end and (cleared is None or cleared > start)}))

    def prune(self, before: int) -> None:
        """Forget alarms that cleared before ``before`` (no open window needs them)."""
        self.log = [entry for entry in self.log if entry[2] is None or entry[2] > before]

    def _queue(self, alarm: Alarm, raised: int, cleared: int | None) -> None:
        try:
            fact = f.AlarmRaised(
                machine=self.machine, code=alarm.code, text=alarm.text,
                severity=alarm.severity, raised_at=summaries.instant(raised),
                cleared_at=summaries.instant(cleared) if cleared is not None else None)
        except LedgerError as error:
            self.writer.refuse(f"alarm {alarm.code} raised at "
                               f"{summaries.instant(raised).isoformat()}: {error}")
            return
        self.writer.queue(Record(fact, summaries.instant(raised),
                                 f"{self.machine}/alarm/{alarm.code}/{raised}"))
