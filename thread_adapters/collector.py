"""What every collector shares, whatever its protocol: run until stopped, write on a timer,
show live counts on a terminal, and flush on Ctrl-C or SIGTERM.

A protocol adapter provides a coroutine that reads its source until a stop
event is set; :func:`collect` runs it beside a timer that writes finished
records, and flushes the sink when it ends, whichever way it ends.

What a sink refuses does not stop collection when it concerns one reading or
one record (:func:`refused`); errors that make further collection
meaningless do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TextIO

from thread.errors import ConfigurationError, IntegrityFailure, LedgerError
from thread_adapters.readings import CollectingSink

logger = logging.getLogger(__name__)

#: A protocol's reading loop: runs until the event is set.
Source = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def refused(error: BaseException) -> bool:
    """Whether a sink's error refuses one reading or one record, so collection goes on.

    A reading its tag cannot hold (text on a numeric tag) or a record the
    ledger refuses (a part it does not know) concerns that reading or record:
    it is counted and reported, and the machine's other data keeps flowing. A
    configuration error (a unit the tag map contradicts, an unregistered
    machine), a ledger that does not verify, or one that cannot be reached at
    all (an error outside the ledger's hierarchy) makes further collection
    meaningless, and stops it.
    """
    return isinstance(error, LedgerError) and not isinstance(
        error, (ConfigurationError, IntegrityFailure))


class Console:
    """One-line messages, and live counts redrawn in place when the stream is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None,
                 interval_s: float = 0.5) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.interval_s = interval_s
        self._drawn = False
        self._shown_at = 0.0

    def say(self, text: str) -> None:
        """Print a message on its own line (always, terminal or not)."""
        self._clear()
        print(text, file=self.stream, flush=True)

    def show(self, counts: Mapping[str, object], *, force: bool = False) -> None:
        """Redraw the live line of counts (only on a terminal, at most every ``interval_s``)."""
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._shown_at < self.interval_s:
            return
        self._shown_at = now
        line = "  ".join(f"{name} {_count(value)}" for name, value in counts.items())
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the live line so the shell prompt starts on a fresh one."""
        self._clear()

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def stop_on_signals(stop: asyncio.Event) -> Callable[[], None]:
    """Set ``stop`` on SIGINT (Ctrl-C) and SIGTERM; returns a function that undoes it."""
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(number, stop.set)
            installed.append(number)
        except (NotImplementedError, RuntimeError):  # not on this platform or thread
            continue

    def undo() -> None:
        for number in installed:
            loop.remove_signal_handler(number)
    return undo


async def collect(sink: CollectingSink, source: Source, stop: asyncio.Event, *,
                  write_every_s: float = 1.0, console: Console | None = None,
                  counts: Callable[[], Mapping[str, object]] | None = None) -> None:
    """Run ``source`` until ``stop`` is set, writing finished records every ``write_every_s``.

    When it ends - stopped, or failed - the sink is flushed and closed, so
    what was buffered is written. An error from the source is raised after
    that; refusals from the sink are logged as they happen and raised from
    the final flush.
    """
    reading = asyncio.create_task(source(stop), name="collector-source")
    try:
        while not reading.done():
            await asyncio.wait({reading}, timeout=write_every_s)
            try:
                sink.write_ready()
            except LedgerError as error:
                if not refused(error):
                    raise
                # Refused records are reported; the rest was written; collection goes on.
                logger.error("%s", error)
                if console is not None:
                    console.say(f"error: {error}")
            if console is not None and counts is not None:
                console.show(counts())
        reading.result()
    finally:
        if not reading.done():
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(reading, timeout=10)
        try:
            sink.close()
        finally:
            if console is not None:
                if counts is not None:
                    console.show(counts(), force=True)
                console.close()
