"""The mapping layer: readings from any protocol in, process, condition, alarm and gap facts out.

One :class:`MappingLayer` serves one machine's tag map. A protocol adapter
calls it as a :class:`~thread_adapters.readings.ReadingSink`; it buffers
readings per tag, resolves part cycles and condition windows by source time,
and records through the ledger:

- ``ProcessRecorded`` per part (or batch) and operation when its cycle has
  completed and the other tags have caught up with the cycle's end (or
  ``settle_s`` of source time has passed), with n, min, max, mean, sample
  standard deviation and a ``dtl-samples/1`` raw-samples block per parameter;
- ``ConditionRecorded`` per machine per time window (``window_s``, aligned to
  the clock) in which anything was heard from the machine: condition metrics
  against their thresholds, alarms active, OEE factors;
- ``AlarmRaised`` for each alarm-bit rising edge and each threshold crossing,
  written when it clears (or, still active, at :meth:`flush`);
- ``CollectionGapRecorded`` for every :meth:`gap` the adapter reports, once
  the source has had ``settle_s`` to backfill it.

Every record has a source record id derived from what it is about (machine,
operation, serial and cycle start time for a process record), so readings
delivered again - after a reconnect, a restart, a store-and-forward replay -
record nothing twice.

**Late readings.** Readings of one tag usually arrive in source-time order,
but not always: after an outage a Sparkplug B edge node publishes its NBIRTH
(current values) first and then its store-and-forward buffer, readings older
than the ones just delivered. Each tag has a *horizon*: the moment before
which the layer has already resolved everything the tag feeds - the end of
the last resolved cycle for part-tracking tags and parameters, the start of
the next condition window and the moment alarms were taken to for condition,
alarm and OEE tags, and how far readings were let go of, for all tags.

- a reading older than the tag's last but not older than its horizon is
  merged into its place, so cycles and windows come out exactly as if it had
  arrived in order;
- a reading older than its horizon is *late*: it is counted
  (``stats().late``), logged, and left out, never folded into a record that
  is already written or into the wrong one;
- a reading the layer already holds (same tag, time and value) is counted as
  delivered again (``stats().re_delivered``) and writes nothing.

Since per-tag order no longer proves that everything up to a moment is in
while a source may still backfill, a reported gap stays open until
``settle_s`` of wall time passes with no reading from inside it, and nothing
after its start is resolved meanwhile (see :mod:`~thread_adapters.mapping.gaps`
for what the gap's fact then says).

The layer is not thread-safe: call it from one thread at a time.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import operator
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thread import facts as f
from thread.domain.facts.base import SubjectKind
from thread.errors import LedgerError
from thread.ledger import Ledger
from thread_adapters.mapping import summaries
from thread_adapters.mapping.alarms import Alarm, Alarms
from thread_adapters.mapping.errors import (
    ReadingRefused,
    UnitMismatch,
)
from thread_adapters.mapping.gaps import OpenGap, OpenGaps
from thread_adapters.mapping.signals import MERGED, NEVER, Discrete, Signal
from thread_adapters.mapping.tracking import Cycle, Tracker, edge_of
from thread_adapters.mapping.units import source_unit
from thread_adapters.mapping.writer import CollectionStats, Record, Writer
from thread_adapters.readings import TagValue
from thread_adapters.tagmap import Tag, TagKind, TagMap

logger = logging.getLogger(__name__)

#: Readings a numeric tag may hold unsummarised before the oldest are let go.
MAX_BUFFERED = 20_000_000
#: Readings a discrete tag may hold before the oldest are let go.
MAX_DISCRETE = 1_000_000
_NS = 1_000_000_000
_NEVER_END = 2**63 - 1


@dataclass
class _Window:
    start: int
    end: int


@dataclass
class _Roles:
    """The map's tags sorted by what the layer does with them."""

    parameters: dict[str, Signal] = field(default_factory=dict)
    conditions: dict[str, Signal] = field(default_factory=dict)
    alarms: dict[str, Discrete] = field(default_factory=dict)
    thresholds: dict[str, Signal] = field(default_factory=dict)
    running: Discrete | None = None
    total: Discrete | None = None
    good: Discrete | None = None


@dataclass(frozen=True)
class _Feeds:
    """What a tag's readings end up in, which says how far back a reading may still come."""

    cycles: bool = False
    windows: bool = False
    alarms: bool = False


class MappingLayer:
    """Turns one machine's raw readings into facts in the ledger (a ``ReadingSink``)."""

    def __init__(self, ledger: Ledger, tag_map: TagMap, *, protocol: str,
                 source: str | None = None, actor: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ledger = ledger
        self.tag_map = tag_map
        self.protocol = protocol
        self.machine = tag_map.machine.id
        self.source = source or tag_map.collection.source or f"{protocol}:{self.machine}"
        self.actor = actor or tag_map.collection.actor or self.source
        self.operation = tag_map.part.operation if tag_map.part else None
        self._monotonic = monotonic
        self._settle_ns = int(tag_map.collection.settle_s * _NS)
        self._window_ns = int(tag_map.conditions.window_s * _NS)
        self._batch = tag_map.collection.batch_records
        self._write_every = tag_map.collection.write_every_s
        self._last_write = monotonic()
        self._stats = CollectionStats()
        self._writer = Writer(ledger, tag_map, source=self.source, actor=self.actor,
                              batch=tag_map.collection.batch_records, stats=self._stats)
        self._unmapped: set[str] = set()
        self._mark: tuple[int, float] = (NEVER, monotonic())
        self._heartbeats: list[int] = []
        self._alarms = Alarms(self.machine, self._writer)
        self._gaps = OpenGaps()
        self._gap_queued = False
        self._window_from: int | None = None
        self._seen: deque[tuple[float, int]] = deque()
        self._settled_at = NEVER
        #: Readings before this moment were let go of (every tag's horizon is at least this).
        self._let_go = NEVER
        self._capped: dict[str, int] = {}
        self._late_told: dict[str, int] = {}
        self._signals: dict[str, Signal] = {}
        self._discrete: dict[str, Discrete] = {}
        self._roles = _Roles()
        self.tracker: Tracker | None = None
        self._build()
        self._feeds = self._feeds_of()
        names = tag_map.incoming_names(protocol)
        self._keys = names
        self._handlers: dict[str, Callable[[TagValue, int], int]] = {
            name: self._handler_of(key) for name, key in names.items()}
        # Names whose changes can complete a cycle or move an alarm: checked at once.
        self._progress_on = frozenset(
            name for name, key in names.items()
            if key in self._roles.alarms or (self.tracker is not None and key in (
                self.tracker.subject.key, *(d.key for d in (self.tracker.start,
                                                            self.tracker.complete) if d))))
        self._windows_on = bool(self._roles.conditions or self._roles.alarms
                                or self._roles.thresholds or self._roles.running
                                or self._roles.total)
        self._writer.ensure_machine()

    # The ReadingSink protocol

    def observe(self, tag: str, value: TagValue, at_ns: int) -> None:
        """One reading of ``tag`` (its key, or its name in this protocol) at source time ``at_ns``.

        Readings of a tag may arrive out of time order: one older than the
        tag's horizon is counted as late and left out; any other is merged
        into its place. Raises :class:`ReadingRefused` for a value its tag
        cannot have (text on a numeric tag) or a time that is not an integer.
        """
        handler = self._handlers.get(tag)
        if handler is None:
            self._unmapped_tag(tag)
            return
        try:
            kept = handler(value, at_ns)
        except (TypeError, OverflowError):
            if self._keys[tag] not in self._signals and _is_time(at_ns):
                raise
            raise self._refused(tag, value, at_ns) from None
        if kept <= MERGED:
            if self._gaps:
                self._gaps.note(at_ns, self._monotonic())
            if kept and tag in self._progress_on:
                self._progress()

    def observe_many(self, tag: str, values: ArrayLike, times_ns: ArrayLike) -> None:
        """Many readings of one tag at once: the fast path for numeric signals."""
        key = self._keys.get(tag)
        if key is None:
            self._unmapped_tag(tag)
            return
        signal = self._signals.get(key)
        if signal is None:
            for value, at_ns in zip(np.asarray(values).tolist(), np.asarray(times_ns).tolist(),
                                    strict=True):
                self.observe(tag, value, at_ns)
            return
        try:
            numbers = np.asarray(values, dtype=np.float64)
            times = np.asarray(times_ns)
        except (TypeError, ValueError):
            raise self._refused(tag, values, 0) from None
        if times.dtype.kind not in "iu" or numbers.shape != times.shape or numbers.ndim != 1:
            raise ReadingRefused(
                f"tag map '{self.tag_map.name}': readings of tag '{key}' need one integer "
                f"time (ns) per value (got {numbers.shape} values, {times.shape} "
                f"times of {times.dtype})")
        kept = signal.extend(numbers, times.astype(np.int64, copy=False))
        if self._gaps and len(kept):
            self._gaps.note_many(kept, self._monotonic())
        if self._may_progress(signal, numbers):
            self._progress()

    def gap(self, start_ns: int, end_ns: int, reason: str, lost: int | None = None) -> None:
        """Note that nothing was received between two moments.

        The gap's fact is written once the source has had ``settle_s`` of wall
        time to backfill it (or at the next flush); until then nothing after
        its start is resolved. Its reason then says whether readings from
        inside it arrived (see :mod:`~thread_adapters.mapping.gaps`).
        """
        end_ns = max(start_ns, end_ns)
        # Checked now, so a gap that cannot be a fact is refused to the adapter that reported it.
        self._gap_fact(start_ns, end_ns, reason, lost)
        self._gaps.open(OpenGap(start_ns, end_ns, reason, lost, self._monotonic()))
        self._progress()

    def flush(self) -> None:
        """Write everything that can be written now: open gaps, completed cycles whatever
        other tags still owe, the open condition window, alarms still active.

        A cycle that has started but not completed stays buffered: it is not a
        part's record yet. Raises :class:`RecordsRefused` after writing the rest
        when the ledger refused some records.
        """
        self._progress(force=True)
        self._tell_late()
        self._write(quiet=False)

    # Beyond the protocol

    def write_ready(self) -> None:
        """Write the records that are finished now (collectors call it on a timer)."""
        self._progress()
        self._tell_late()
        self._write(quiet=False)

    def heartbeat(self, at_ns: int) -> None:
        """The source was connected and had nothing new up to ``at_ns`` (its own clock).

        Lets cycles and windows finish while a machine stands still, and marks
        the window as heard from.
        """
        if not self._heartbeats or at_ns > self._heartbeats[-1]:
            self._heartbeats.append(at_ns)
        self._progress()

    def declare_unit(self, tag: str, unit: str, origin: str) -> None:
        """Check the unit the source states for a tag against the tag map.

        ``unit`` may be a unit code or a common spelling (``°C``, ``RPM``);
        ``origin`` says where it was read, for the message. Raises
        :class:`UnitMismatch` when they differ; an unrecognised spelling is
        logged and not checked.
        """
        key = self._keys.get(tag)
        if key is None:
            return
        declared = self.tag_map.tags[key].unit
        if declared is None:
            return
        stated = source_unit(unit)
        if stated is None:
            logger.info("tag %s: unit %r from %s is not one this library knows; not checked",
                        key, unit, origin)
            return
        if stated != declared:
            line = self.tag_map.line_of("tags", key, "unit")
            raise UnitMismatch(
                f"tag map '{self.tag_map.name}' ({self.tag_map.file}"
                f"{f' line {line}' if line else ''}): parameter "
                f"'{self.tag_map.parameter_name(key)}' is in {stated} at the source ({origin}) "
                f"but the tag map declares {declared}; correct the tag map or the source")

    def close(self) -> None:
        """Flush, and say which cycle was left unfinished."""
        try:
            self.flush()
        finally:
            tracker = self.tracker
            starts = tracker.starts() if tracker is not None else []
            if starts:
                logger.warning("%s: a cycle started at %s had not completed; its readings are "
                               "not recorded", self.machine,
                               summaries.instant(starts[-1]).isoformat())

    def stats(self) -> CollectionStats:
        """A snapshot of the counts."""
        stats = CollectionStats(**vars(self._stats))
        buffers = self._buffers()
        stats.readings = sum(buffer.received for buffer in buffers)
        stats.re_delivered = sum(buffer.dropped for buffer in buffers)
        stats.late = sum(buffer.late for buffer in buffers)
        stats.backfilled = sum(buffer.merged for buffer in buffers)
        stats.buffered = sum(len(s.times) for s in self._signals.values())
        stats.pending = len(self._writer.pending)
        stats.open_gaps = len(self._gaps.gaps)
        if self.tracker is not None:
            stats.cycles_started_unseen = self.tracker.skipped.no_start
            stats.cycles_without_part = self.tracker.skipped.no_subject
        return stats

    @property
    def refusals(self) -> list[str]:
        """The most recent refusal messages, oldest first."""
        return self._writer.refusals

    def horizon(self, tag: str) -> int:
        """The moment (ns) before which a reading of ``tag`` is late; ``NEVER`` when none is."""
        key = self._keys.get(tag, tag)
        buffer = self._signals.get(key) or self._discrete.get(key)
        return buffer.horizon if buffer is not None else NEVER

    # Building the tag roles

    def _build(self) -> None:
        tag_map, roles = self.tag_map, self._roles
        for key, tag in tag_map.tags.items():
            if tag.kind in ("parameter", "condition"):
                signal = Signal(key, tag.threshold)
                self._signals[key] = signal
                if tag.kind == "parameter":
                    roles.parameters[key] = signal
                if tag.kind == "condition" or tag.condition:
                    roles.conditions[key] = signal
                if tag.threshold is not None:
                    roles.thresholds[key] = signal
                    self._alarms.add(key, Alarm(
                        tag.code or f"{tag_map.parameter_name(key)}-high",
                        tag.text or (f"{tag_map.parameter_name(key)} above {tag.threshold:g} "
                                     f"{tag.unit}"), tag.severity, signal))
                continue
            discrete = Discrete(key)
            self._discrete[key] = discrete
            if tag.kind == "alarm":
                roles.alarms[key] = discrete
                self._alarms.add(key, Alarm(tag.code or key, tag.text or key, tag.severity,
                                            discrete))
            elif tag.kind == "running":
                roles.running = discrete
            elif tag.kind == "count-total":
                roles.total = discrete
            elif tag.kind == "count-good":
                roles.good = discrete
        part = tag_map.part
        if part is None:
            return
        subject_kind: TagKind = "serial" if part.tracking == "serial" else "batch"
        subject = next(self._discrete[k] for k in tag_map.tags_of(subject_kind))
        start = next((self._discrete[k] for k in tag_map.tags_of("cycle-start")), None)
        complete = next((self._discrete[k] for k in tag_map.tags_of("cycle-complete")), None)
        self.tracker = Tracker(
            part.tracking, subject, start, complete,
            start_edge=edge_of(tag_map.tags[start.key].edge) if start else edge_of("rising"),
            complete_edge=edge_of(tag_map.tags[complete.key].edge) if complete
            else edge_of("rising"),
        )

    def _feeds_of(self) -> dict[str, _Feeds]:
        roles, tracker = self._roles, self.tracker
        cycles = set(roles.parameters)
        if tracker is not None:
            cycles |= {d.key for d in (tracker.subject, tracker.start, tracker.complete) if d}
        windows = {*roles.conditions, *roles.thresholds, *roles.alarms}
        windows |= {d.key for d in (roles.running, roles.total, roles.good) if d is not None}
        if tracker is not None and tracker.complete is not None and roles.total is None:
            windows.add(tracker.complete.key)  # it counts the parts of each window
        return {key: _Feeds(key in cycles, key in windows, key in self._alarms.alarms)
                for key in self.tag_map.tags}

    def _handler_of(self, key: str) -> Callable[[TagValue, int], int]:
        signal = self._signals.get(key)
        if signal is not None:
            return signal.observe
        return self._discrete[key].observe

    # Progress: gaps, alarms, cycles, windows, writing

    def _progress(self, *, force: bool = False) -> None:
        now = self._source_now()
        self._close_gaps(force)
        if self._alarms:
            taken = self._alarms.processed_to
            self._alarms.process(_NEVER_END if force else self._frontier(self._window_tags(), now))
            if force:
                # Everything heard is taken; what comes later continues from there.
                self._alarms.processed_to = max(taken, self._last_heard() or NEVER)
        if self.tracker is not None:
            self._resolve_cycles(now, force)
        if self._windows_on:
            self._close_windows(now, force)
        if force:
            self._alarms.write_open()
        self._prune()
        self._set_horizons()
        if (self._gap_queued or len(self._writer.pending) >= self._batch
                or self._monotonic() - self._last_write >= self._write_every):
            self._gap_queued = False
            self._write(quiet=True)

    def _may_progress(self, signal: Signal, values: NDArray[np.float64]) -> bool:
        """Whether new readings of ``signal`` can finish anything (cheap, so bulk stays fast)."""
        if self._gaps or self._alarms.may_change(signal.key, values):
            return True
        if self.tracker is not None and self.tracker.pending():
            return True
        if self._windows_on:
            start = self._window_from
            if start is None or signal.last_t >= (start // self._window_ns + 1) * self._window_ns:
                return True
        return self._monotonic() - self._last_write >= self._write_every

    def _source_now(self) -> int:
        """The latest source time heard, advanced by the wall time since it was heard."""
        mark = max([s.last_t for s in self._signals.values()]
                   + [d.last_t for d in self._discrete.values()]
                   + self._heartbeats[-1:] + [NEVER])
        heard, at = self._mark
        if mark != heard:
            self._mark = (mark, self._monotonic())
            return mark
        if mark == NEVER:
            return NEVER
        return mark + int((self._monotonic() - at) * _NS)

    def _frontier(self, tags: Sequence[Signal | Discrete], now: int) -> int:
        """The latest moment up to which every reading of ``tags`` is in, as far as anyone can tell.

        Every moment up to the earliest of the tags' last readings, when each
        tag arrives in time order. Otherwise up to ``settle_s`` before the
        source time that has been known for ``settle_s`` of wall time: a
        protocol that delivers one tag's backlog before another's (a replay, a
        slow publish) must not close a cycle or window early, and a tag that
        stays silent must not hold it forever. Never past the start of a gap
        the source may still backfill: after an outage, tags do not arrive in
        time order.
        """
        ordered = min((tag.last_t for tag in tags), default=_NEVER_END)
        frontier = max(ordered, self._settled(now) - self._settle_ns)
        limit = self._gaps.limit()
        return frontier if limit is None else min(frontier, limit)

    def _settled(self, now: int) -> int:
        """The latest source time that has been known for ``settle_s`` of wall time."""
        wall = self._monotonic()
        seen = self._seen
        if not seen or now > seen[-1][1]:
            seen.append((wall, now))
        limit = wall - self._settle_ns / _NS
        while seen and seen[0][0] <= limit:
            self._settled_at = max(self._settled_at, seen.popleft()[1])
        return self._settled_at

    def _close_gaps(self, force: bool) -> None:
        for gap in self._gaps.close(self._monotonic(), self._settle_ns / _NS, force=force):
            try:
                fact = self._gap_fact(gap.start, gap.end, gap.statement(), gap.lost)
            except LedgerError as error:
                self._writer.refuse(f"collection gap from "
                                    f"{summaries.instant(gap.start).isoformat()}: {error}")
                continue
            self._writer.queue(Record(fact, summaries.instant(gap.start),
                                      f"{self.machine}/gap/{gap.start}/{gap.end}"))
            self._gap_queued = True

    def _gap_fact(self, start_ns: int, end_ns: int, reason: str,
                  lost: int | None) -> f.CollectionGapRecorded:
        return f.CollectionGapRecorded(
            machine=self.machine, gap_start=summaries.instant(start_ns),
            gap_end=summaries.instant(end_ns), protocol=self.protocol,
            reason=reason[:4000], lost_messages=lost)

    def _resolve_cycles(self, now: int, force: bool) -> None:
        tracker = self.tracker
        assert tracker is not None
        ends = tracker.pending()
        if not ends:
            return
        watched: list[Signal | Discrete] = [*self._roles.parameters.values(), tracker.subject]
        if tracker.start is not None:
            watched.append(tracker.start)
        frontier = _NEVER_END if force else self._frontier(watched, now)
        ready = [end for end in ends if end <= frontier]
        if not ready:
            return
        for cycle in tracker.resolve(ready[-1]):
            self._process_record(cycle)

    def _process_record(self, cycle: Cycle) -> None:
        tag_map, part = self.tag_map, self.tag_map.part
        assert part is not None
        assert self.operation is not None
        summaries_: list[f.ParameterSummary] = []
        try:
            for key, signal in self._roles.parameters.items():
                span, held = signal.span(cycle.start, cycle.end + 1)
                if not part.hold_value_at_start:
                    held = None
                times, values = signal.columns(span, held, cycle.start)
                times, values, bad = summaries.finite(times, values)
                self._stats.not_numbers += bad
                if not len(values):
                    continue
                tag = tag_map.tags[key]
                keep = tag.keep_samples if tag.keep_samples is not None else tag_map.samples.keep
                assert tag.unit is not None
                summaries_.append(summaries.parameter_summary(
                    tag_map.parameter_name(key), tag.unit, times, values,
                    resolution=tag.resolution, keep=keep, codec=tag_map.samples.compression,
                    level=tag_map.samples.level))
            if not summaries_:
                self._stats.cycles_without_readings += 1
                logger.info("%s: cycle of %s from %s had no parameter readings; nothing to "
                            "record", self.machine, cycle.subject,
                            summaries.instant(cycle.start).isoformat())
                return
            kind: SubjectKind = "part" if part.tracking == "serial" else "lot"
            subject = {"serial": cycle.subject} if kind == "part" else {"lot": cycle.subject}
            fact = f.ProcessRecorded(
                **subject, operation=self.operation, machine=self.machine,
                started_at=summaries.instant(cycle.start), ended_at=summaries.instant(cycle.end),
                parameters=tuple(summaries_),
            )
        except LedgerError as error:
            self._writer.refuse(f"process record for {cycle.subject} (cycle from "
                                f"{summaries.instant(cycle.start).isoformat()}): {error}")
            return
        self._writer.queue(Record(
            fact, summaries.instant(cycle.end),
            f"{self.machine}/{self.operation}/{cycle.subject}/{cycle.start}",
            needs=(kind, cycle.subject)))

    # Condition windows

    def _close_windows(self, now: int, force: bool) -> None:
        if self._window_from is None:
            first = self._first_heard()
            if first is None:
                return
            self._window_from = first
        size = self._window_ns
        last = self._last_heard() if force else None
        frontier = self._frontier(self._window_tags(), now)
        # Windows end at or before what is known; at a flush, at or before the last reading.
        reach = frontier if last is None else max(frontier, last)
        while True:
            start = self._window_from
            end = (start // size + 1) * size
            if end > reach:
                break
            following = self._next_heard(start)
            if following is None:
                # Nothing heard since: no window to write, up to the time all is known.
                self._window_from = max(end, reach // size * size)
                break
            if following >= end:
                self._window_from = max(end, min(following, reach) // size * size)
                continue
            self._condition_record(_Window(start, end))
            self._window_from = end
        if last is not None:
            start = self._window_from
            if last >= start and self._next_heard(start) is not None:
                # Up to and including the last reading, in whole microseconds as facts hold.
                end = (last // 1000 + 1) * 1000
                self._condition_record(_Window(start, end))
                self._window_from = end

    def _window_tags(self) -> list[Signal | Discrete]:
        roles = self._roles
        tags: list[Signal | Discrete] = [*roles.conditions.values(), *roles.thresholds.values(),
                                         *roles.alarms.values()]
        tags += [d for d in (roles.running, roles.total, roles.good) if d is not None]
        return tags

    def _first_heard(self) -> int | None:
        firsts = [int(s.times[0]) for s in self._signals.values() if len(s.times)]
        firsts += [d.readings[0][0] for d in self._discrete.values() if d.readings]
        firsts += self._heartbeats[:1]
        return min(firsts) if firsts else None

    def _last_heard(self) -> int | None:
        lasts = [s.last_t for s in self._signals.values() if s.last_t != NEVER]
        lasts += [d.last_t for d in self._discrete.values() if d.last_t != NEVER]
        lasts += self._heartbeats[-1:]
        return max(lasts) if lasts else None

    def _next_heard(self, start: int) -> int | None:
        """The first reading or heartbeat at or after ``start``."""
        found: list[int] = []
        for signal in self._signals.values():
            (first, last), _ = signal.span(start, _NEVER_END)
            if last > first:
                found.append(int(signal.times[first]))
        for discrete in self._discrete.values():
            heard = discrete.first_at_or_after(start)
            if heard is not None:
                found.append(heard)
        beats = self._heartbeats
        index = bisect.bisect_left(beats, start)
        if index < len(beats):
            found.append(beats[index])
        return min(found) if found else None

    def _condition_record(self, window: _Window) -> None:
        roles, tag_map = self._roles, self.tag_map
        metrics: list[f.ConditionMetric] = []
        for key, signal in roles.conditions.items():
            span, held = signal.span(window.start, window.end)
            times, values = signal.columns(span, held, window.start)
            _, values, _ = summaries.finite(times, values)
            if len(values):
                tag = tag_map.tags[key]
                assert tag.unit is not None
                metrics.append(summaries.condition_metric(
                    tag_map.parameter_name(key), tag.unit, values, tag.threshold))
        active = self._alarms.active_in(window.start, window.end)
        availability = performance = quality = None
        seconds = (window.end - window.start) / _NS
        running_s = seconds
        if roles.running is not None:
            on, known = summaries.running_time(roles.running, window.start, window.end)
            availability = summaries.ratio(on, known)
            running_s = on / _NS
        total = (summaries.counted(roles.total, window.start, window.end)
                 if roles.total is not None else self._cycles_in(window))
        ideal = tag_map.conditions.ideal_cycle_s
        if ideal is not None and total is not None:
            performance = summaries.ratio(ideal * total, running_s)
        if roles.good is not None and total:
            good = summaries.counted(roles.good, window.start, window.end)
            quality = summaries.ratio(good, total) if good is not None else None
        try:
            fact = f.ConditionRecorded(
                machine=self.machine, window_start=summaries.instant(window.start),
                window_end=summaries.instant(window.end), metrics=tuple(metrics),
                alarms_active=active, availability=availability,
                performance=performance, quality=quality)
        except LedgerError as error:
            self._writer.refuse(f"condition record of {self.machine} from "
                                f"{summaries.instant(window.start).isoformat()}: {error}")
            return
        self._writer.queue(Record(fact, summaries.instant(window.end),
                                  f"{self.machine}/condition/{window.start}/{window.end}"))

    def _cycles_in(self, window: _Window) -> int | None:
        """Parts completed in the window, counted from the cycle-complete trigger."""
        tracker = self.tracker
        if tracker is None or tracker.complete is None:
            return None
        edge = tracker.complete_edge
        changes = tracker.complete.changes
        count = 0
        for (_, before), (at_ns, value) in itertools.pairwise(changes):
            if window.start <= at_ns < window.end and edge(before, value):
                count += 1
        return count

    # Keeping memory bounded, and how far back readings may still come

    def _prune(self) -> None:
        keeps: list[int | None] = []
        if self.tracker is not None:
            keeps.append(self.tracker.keep_from())
        if self._windows_on:
            keeps.append(self._window_from)
        if any(keep is None for keep in keeps):
            for key, signal in self._signals.items():
                self._cap(key, signal)
            for key, discrete in self._discrete.items():
                self._cap(key, discrete)
            return
        before = min(k for k in keeps if k is not None) if keeps else self._last_heard()
        if before is None:
            return
        limit = self._gaps.limit()
        if limit is not None:
            before = min(before, limit)  # a backfill may still come after the gap's start
        if before <= self._let_go:
            return
        self._let_go = before
        for signal in self._signals.values():
            if len(signal.times) > 1 and signal.times[0] < before:
                signal.prune(before)
        for discrete in self._discrete.values():
            if len(discrete.changes) > 1 and discrete.changes[0][0] < before:
                discrete.prune(before)
        # Heartbeats and alarm history only matter for windows not yet closed.
        if self._heartbeats and self._heartbeats[0] < before:
            self._heartbeats = [beat for beat in self._heartbeats if beat >= before] or (
                self._heartbeats[-1:])
        self._alarms.prune(before)

    def _cap(self, key: str, buffer: Signal | Discrete) -> None:
        if isinstance(buffer, Signal):
            if len(buffer.times) <= MAX_BUFFERED:
                return
            cut = len(buffer.times) - MAX_BUFFERED // 2
            since = int(buffer.times[cut])
            buffer.prune(since)
        else:
            if len(buffer.readings) <= MAX_DISCRETE:
                return
            cut = buffer.cap(MAX_DISCRETE // 2)
            since = buffer.readings[0][0]
        self._capped[key] = since
        logger.warning("%s: tag %s buffered more readings than it may without a cycle or window "
                       "to put them in; letting the oldest %d go", self.machine, key, cut)

    def _set_horizons(self) -> None:
        """Move each tag's horizon up to what has been resolved for what it feeds."""
        tracker = self.tracker
        cycles = (tracker.previous_end + 1 if tracker is not None
                  and tracker.previous_end is not None else NEVER)
        windows = self._window_from if self._window_from is not None else NEVER
        alarms = min(self._alarms.processed_to, _NEVER_END - 1) + 1
        for buffer in self._buffers():
            key = buffer.key
            feeds = self._feeds[key]
            horizon = max(self._let_go, self._capped.get(key, NEVER))
            if feeds.cycles:
                horizon = max(horizon, cycles)
            if feeds.windows:
                horizon = max(horizon, windows)
            if feeds.alarms:
                horizon = max(horizon, alarms)
            buffer.horizon = horizon

    def _tell_late(self) -> None:
        """Log the readings that came too late to be used, since the last time."""
        for buffer in self._buffers():
            told = self._late_told.get(buffer.key, 0)
            if buffer.late > told:
                self._late_told[buffer.key] = buffer.late
                logger.warning(
                    "%s: %d reading(s) of tag %s (the latest taken at %s) arrived after the "
                    "records they belong to were resolved; counted as late, not recorded",
                    self.machine, buffer.late - told, buffer.key,
                    summaries.instant(buffer.late_at).isoformat())

    def _buffers(self) -> list[Signal | Discrete]:
        return [*self._signals.values(), *self._discrete.values()]

    def _write(self, *, quiet: bool) -> None:
        self._last_write = self._monotonic()
        self._writer.write(quiet=quiet)

    # Refusing readings

    def _unmapped_tag(self, tag: str) -> None:
        self._stats.unmapped += 1
        if tag not in self._unmapped and len(self._unmapped) < 10_000:
            self._unmapped.add(tag)
            logger.info("%s: tag %r is not in tag map '%s'; its readings are ignored",
                        self.machine, tag, self.tag_map.name)

    def _refused(self, tag: str, value: Any, at_ns: Any) -> ReadingRefused:
        key = self._keys.get(tag, tag)
        signal = self._signals.get(key)
        if signal is not None:
            signal.repair()
        spec: Tag = self.tag_map.tags[key]
        line = self.tag_map.line_of("tags", key)
        where = f"{self.tag_map.file}{f' line {line}' if line else ''}"
        if not _is_time(at_ns):
            return ReadingRefused(
                f"tag map '{self.tag_map.name}' ({where}): reading of tag '{key}' has time "
                f"{at_ns!r}; times are integer ns since the Unix epoch")
        return ReadingRefused(
            f"tag map '{self.tag_map.name}' ({where}): tag '{key}' is a {spec.kind} in "
            f"{spec.unit}, but the reading at {summaries.instant(at_ns).isoformat()} is "
            f"{_short(value)}")


def _is_time(at_ns: Any) -> bool:
    """An integer number of ns (Python or numpy), not a flag or a float."""
    if isinstance(at_ns, bool):
        return False
    try:
        operator.index(at_ns)
    except TypeError:
        return False
    return True


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
