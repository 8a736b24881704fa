"""Planned facts in the order they happened, however many an export holds.

An export may be sorted any way (newest first, by order number), and the
facts must be recorded in the order they happened, so the whole export is
sorted before anything is written. Up to a run's worth of facts stay in
memory; beyond that each run is sorted and written to a temporary file, and
going through the facts merges the runs, so an export of a million rows takes
the memory of one run. Ties keep file order.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType

from thread_adapters.business.conversion import PlannedFact

#: Facts held in memory before a sorted run is written to disk.
RUN = 5_000

_Item = tuple[datetime, int, PlannedFact]


def _order(item: _Item) -> tuple[datetime, int]:
    return item[0], item[1]


class Chronology:
    """Planned facts, given in file order, gone through in the order they happened."""

    def __init__(self, run: int = RUN) -> None:
        self._run = max(1, run)
        self._held: list[_Item] = []
        self._runs: list[Path] = []
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        #: How many facts were added.
        self.count = 0

    def add(self, fact: PlannedFact) -> None:
        """Add the next fact in file order."""
        self._held.append((fact.occurred_at, self.count, fact))
        self.count += 1
        if len(self._held) >= self._run:
            self._spill()

    def __iter__(self) -> Iterator[PlannedFact]:
        self._held.sort(key=_order)
        if not self._runs:
            return (item[2] for item in self._held)
        runs = [*(_read(path) for path in self._runs), iter(self._held)]
        return (item[2] for item in heapq.merge(*runs, key=_order))

    def close(self) -> None:
        """Remove the runs written to disk."""
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None
        self._runs, self._held = [], []

    def __enter__(self) -> Chronology:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _spill(self) -> None:
        if self._directory is None:
            self._directory = tempfile.TemporaryDirectory(prefix="thread-import-")
        self._held.sort(key=_order)
        path = Path(self._directory.name) / f"run-{len(self._runs)}"
        with path.open("wb") as out:
            for item in self._held:
                pickle.dump(item, out, protocol=pickle.HIGHEST_PROTOCOL)
        self._runs.append(path)
        self._held = []


def _read(path: Path) -> Iterator[_Item]:
    """The items of one run, one at a time."""
    with path.open("rb") as run:
        while True:
            try:
                # Our own temporary file, written just before by this process.
                yield pickle.load(run)  # noqa: S301
            except EOFError:
                return
