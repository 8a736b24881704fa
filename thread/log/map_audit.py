"""``thread verify``'s check of the subject map: every map a checkpoint signs, derived again.

The log pass hands over each event's aggregate, version and leaf hash in log
order. At each checkpoint carrying a ``dtl-map/v1`` line, the heads that moved
since the previous one are applied to the map as stored at the previous one,
by the same :func:`~thread.log.subject_map.advance` the ledger signs with; the
heads and subtrees it gives must be exactly the rows stored with the
checkpoint, and its root the one the checkpoint signs. What it reads of the
stored map was itself derived at an earlier checkpoint of the same run, from
the empty map at size 0, so by induction every signed map holds exactly each
subject's latest version and leaf in the log at its size, and every stored
row a proof is served from is right. Rows at any other size are named too.

From a trusted checkpoint (``thread verify --from``), what is read of the map
stored before it was not derived in the run: each step also recomputes the map
before it from the same rows, which must give the previous checkpoint's root
(the trusted one first).

Memory holds the heads that moved between two checkpoints and the subtrees
down to depth 16, whatever the ledger's size (the buckets below are read for
each checkpoint's changes).

On a large ledger the maps are derived by a process of their own
(:class:`MapsElsewhere`): the log pass collects the heads that moved, and at each
checkpoint sends them there, where a :class:`MapAudit` derives the map exactly
as it would in the log pass's process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from thread.log.checkpoint import Checkpoint
from thread.log.elsewhere import Elsewhere
from thread.log.subject_map import (
    EMPTY_SUB,
    Head,
    MapError,
    Sub,
    advance,
    find_map_line,
    subject_key,
)
from thread.storage.log import originator_bytes
from thread.storage.map_store import MapCache
from thread.storage.recorder import LedgerRecorder


@dataclass(frozen=True)
class MapProblem:
    """What does not verify in the map signed at ``size``."""

    size: int
    what: str


#: A subject's latest version and leaf among the events since the last checkpoint, by its id
#: as the store gives it.
Moved = dict[UUID | str, tuple[int, bytes]]


class MapCheck(Protocol):
    """What the log pass tells the map check, and what the check found."""

    checked: int
    unchecked: int
    problems: list[MapProblem]

    def seen(self, originator: UUID | str, version: int, leaf: bytes) -> None: ...

    def seen_page(self, rows: Sequence[tuple[UUID | str, int]],
                  leaves: Sequence[bytes]) -> None: ...

    def reached(self, size: int, checkpoints: Sequence[Checkpoint]) -> None: ...

    def finish(self) -> None: ...


class _Heads:
    """The heads that moved since the last checkpoint reached, as the log pass sees events."""

    def __init__(self) -> None:
        self._moved: Moved = {}

    def seen(self, originator: UUID | str, version: int, leaf: bytes) -> None:
        """One event, in log order."""
        self._moved[originator] = (version, leaf)

    def seen_page(self, rows: Sequence[tuple[UUID | str, int]], leaves: Sequence[bytes]) -> None:
        """Consecutive events, in log order (ids as the store gives them, one form per
        store: converted once per subject, at the checkpoint)."""
        moved = self._moved
        for (originator, version), leaf in zip(rows, leaves, strict=True):
            moved[originator] = (version, leaf)


class MapAudit(_Heads):
    """Follows the log pass and checks each signed map as its checkpoint's size is reached."""

    def __init__(self, store: LedgerRecorder, start: int, base: Sub | None) -> None:
        """``base`` is the map at ``start`` (the empty map at 0, a trusted checkpoint's, or
        None when not known: then no later map can be derived)."""
        super().__init__()
        self._store = store
        self._start = start
        self._size = start
        self._root = base
        self._prove_reads = start > 0  # what is read of the stored map must be proved
        self._rows: dict[int, int] = {}
        self._cache = MapCache()
        self.checked = 0
        self.unchecked = 0
        self.problems: list[MapProblem] = []

    def moved(self, moved: Moved) -> None:
        """The heads that moved since the last checkpoint reached, seen elsewhere."""
        self._moved.update(moved)

    def reached(self, size: int, checkpoints: Sequence[Checkpoint]) -> None:
        """The log pass has derived the first ``size`` leaves; check the maps signed there."""
        committed: list[Sub] = []
        for checkpoint in checkpoints:
            try:
                found = find_map_line(checkpoint.extensions)
            except MapError as error:
                self.problems.append(MapProblem(size, f"the checkpoint's map line: {error}"))
                continue
            if found is not None:
                committed.append(found)
        if not committed:
            return
        if self._root is None:
            self.unchecked += 1
            return
        changes = [Head(subject_key(originator_bytes(originator)), version, leaf)
                   for originator, (version, leaf) in self._moved.items()]
        try:
            update = advance(self._cache.view(self._store, self._size), changes,
                             check=self._prove_reads)
        except MapError as error:  # stored subtrees that do not give the one above them
            self.problems.append(MapProblem(size, f"the subject map as stored at {self._size} "
                                                  f"leaves: {error}"))
            self._cache.forget()
            self._root = None  # nothing later can be derived from it
            return
        if update.bad_buckets:
            self.problems.append(MapProblem(size, (
                f"the subject map's stored heads in bucket(s) "
                f"{', '.join(str(b) for b in update.bad_buckets[:5])} no longer give the "
                f"map of the checkpoint at {self._size} leaves: map rows were changed")))
        elif self._prove_reads and update.old_root != self._root:
            self.problems.append(MapProblem(size, (
                f"the subject map as stored at {self._size} leaves is not the one its "
                f"checkpoint signs: map subtree rows were changed")))
        for claim in committed:
            if claim != update.root:
                self.problems.append(MapProblem(size, (
                    f"the subject map the checkpoint signs ({claim.subjects} subjects) is not the "
                    f"subjects' heads in the log ({update.root.subjects} subjects): a head was "
                    f"left out, cut back or added")))
        heads, nodes = self._store.select_map_rows(size)
        if sorted(heads) != sorted(update.heads) or nodes != update.nodes:
            self.problems.append(MapProblem(size, (
                f"the subject map rows stored for the checkpoint at {size} leaves differ from "
                f"the map derived from the log (changed, missing or added): proofs served "
                f"from them would be wrong")))
        self.checked += 1
        self._rows[size] = len(update.heads) + len(update.nodes)
        self._cache.advanced(size)
        self._size, self._root = size, update.root
        self._moved = {}

    def finish(self) -> None:
        """After the log pass: no map rows at a size where no map was derived."""
        if self._root is None:
            return
        for size, count in sorted(self._store.count_map_rows(self._start).items()):
            if size > self._size:
                continue  # a checkpoint after the snapshot's log: not this run's to check
            if self._rows.get(size) != count:
                self.problems.append(MapProblem(size, (
                    f"{count} subject map rows are stored at size {size}, where the map "
                    f"derived from the log has {self._rows.get(size, 0)}: rows were added "
                    f"outside a checkpoint")))
                break


class MapsElsewhere(_Heads):
    """The map check of a log pass from the empty map, run by another process: at each
    checkpoint reached, the heads that moved since the one before are sent there; its
    findings come back with :meth:`finish`."""

    def __init__(self, process: Elsewhere) -> None:
        super().__init__()
        self._process = process
        self.checked = 0
        self.unchecked = 0
        self.problems: list[MapProblem] = []

    def reached(self, size: int, checkpoints: Sequence[Checkpoint]) -> None:
        self._process.send([
            {ident if isinstance(ident, str) else ident.hex: head
             for ident, head in self._moved.items()},
            size, [checkpoint.body() for checkpoint in checkpoints]])
        self._moved = {}

    def finish(self) -> None:
        problems, self.checked, self.unchecked = self._process.result()
        self.problems = [MapProblem(size, what) for size, what in problems]

    def stop(self) -> None:
        """Let the process go (after :meth:`finish`, or when the log pass failed)."""
        self._process.stop()


def start_map(store: LedgerRecorder, start: int, trusted: Checkpoint | None) -> MapAudit:
    """The map check for a log pass from ``start``: from the empty map at 0, or from the
    trusted checkpoint's map (unknown if it carries none)."""
    if start == 0:
        return MapAudit(store, 0, EMPTY_SUB)
    try:
        base = find_map_line(trusted.extensions) if trusted is not None else None
    except MapError:
        base = None
    return MapAudit(store, start, base)
