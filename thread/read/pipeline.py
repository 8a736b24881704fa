"""Projecting pages of the log, in this process or, for a long catch-up, in a second one.

A rebuild spends longer decoding events and building rows than writing them.
For a long catch-up two worker processes decode and project the next pages,
in turn, while this process writes the current one, so the work fills two
cores; a page in flight per worker is all that is buffered, so memory stays
bounded. Short catch-ups stay in-process: starting workers costs more than
they take.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from typing import NoReturn, cast

from sqlalchemy import Table

from thread.errors import LedgerError
from thread.read import schema as s
from thread.read.events import LogEvent, decode
from thread.read.projections import PROJECTIONS, Projection

#: Events behind the log from which a catch-up projects in worker processes.
PARALLEL_FROM = 100_000
#: Worker processes of a long catch-up: decoding and projecting a page takes them longer
#: than writing it takes this process, so two keep two cores busy with this one.
WORKERS = 2

Rows = dict[Table, list[tuple[object, ...]]]
#: A projected page: its last log position, its number of events, its rows.
Projected = tuple[int, int, Rows]
RawPage = list[tuple[int, bytes]]


def until(pages: Iterable[RawPage], end: int) -> Iterator[RawPage]:
    """The pages' leaves before log position ``end``, and no page after them."""
    for page in pages:
        kept = [leaf for leaf in page if leaf[0] < end]
        if kept:
            yield kept
        if len(kept) < len(page) or (page and page[-1][0] >= end - 1):
            return


def rows_of(chosen: Sequence[Projection], at: dict[str, int], page: list[LogEvent]) -> Rows:
    """The rows a page adds to each chosen projection past the log size it has read."""
    rows: Rows = defaultdict(list)
    after = min(at[projection.name] for projection in chosen)
    caught_up = all(at[projection.name] == after for projection in chosen)
    dispatch: dict[tuple[str, str], list[Projection]] = {}
    for log_event in page:
        if log_event.position < after:
            continue
        route = (log_event.topic, log_event.kind)
        takers = dispatch.get(route)
        if takers is None:
            takers = dispatch[route] = [p for p in chosen if p.takes(*route)]
        for projection in takers:
            if not caught_up and log_event.position < at[projection.name]:
                continue
            for table, row in projection.rows(log_event):
                rows[table].append(row)
    return rows


def project_page(names: list[str], at: dict[str, int], raw: RawPage
                 ) -> tuple[int, int, dict[str, list[tuple[object, ...]]]]:
    """Decode and project one page of (position, canonical bytes); rows by table name."""
    chosen = [PROJECTIONS[name] for name in names]
    page = [decode(position, canonical) for position, canonical in raw]
    rows = rows_of(chosen, at, page)
    return raw[-1][0], len(raw), {table.name: values for table, values in rows.items()}


def projected(chosen: Sequence[Projection], at: dict[str, int], raw: Iterable[RawPage],
              *, behind: int) -> Iterator[Projected]:
    """Each page's rows, in order; ``at`` is read when a page is handed out, not copied once."""
    names = [projection.name for projection in chosen]
    if behind < PARALLEL_FROM or (os.cpu_count() or 1) < 2:
        for page in raw:
            last, count, rows = project_page(names, at, page)
            yield last, count, _tables(rows)
        return
    with ExitStack() as stack:
        workers = [stack.enter_context(_Worker()) for _ in range(WORKERS)]
        pages = iter(raw)
        busy: deque[_Worker] = deque()
        for worker in workers:
            first = next(pages, None)
            if first is None:
                break
            worker.send((names, dict(at), first))
            busy.append(worker)
        while busy:
            worker = busy.popleft()
            last, count, rows = worker.receive()
            # Hand the worker the next page before writing this one, so that the workers
            # project while this process writes. Positions only move forward past earlier
            # pages, so a snapshot of ``at`` taken pages ahead filters the page exactly.
            following = next(pages, None)
            if following is not None:
                worker.send((names, dict(at), following))
                busy.append(worker)
            yield last, count, _tables(rows)


class _Worker:
    """``python -m thread.read.worker``: a child that projects pages sent over a pipe.

    A plain child interpreter rather than multiprocessing, so that nothing of the
    caller's own ``__main__`` runs again in it and no threads are forked. One
    request is in flight at a time, so neither side can block the other on a
    full pipe.
    """

    def __enter__(self) -> _Worker:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "thread.read.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        return self

    def send(self, request: tuple[list[str], dict[str, int], RawPage]) -> None:
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(len(data).to_bytes(8, "big") + data)
            stdin.flush()
        except BrokenPipeError:
            self._died()

    def receive(self) -> tuple[int, int, dict[str, list[tuple[object, ...]]]]:
        stdout = self.process.stdout
        assert stdout is not None
        header = stdout.read(8)
        if len(header) < 8:
            self._died()
        data = stdout.read(int.from_bytes(header, "big"))
        # The worker is this library's own child, fed only what this process sent it.
        return cast(tuple[int, int, dict[str, list[tuple[object, ...]]]],
                    pickle.loads(data))  # noqa: S301

    def _died(self) -> NoReturn:
        self.process.wait(timeout=10)
        stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
        raise LedgerError(f"read-model worker exited with status {self.process.returncode}: "
                          f"{stderr.strip().splitlines()[-1] if stderr.strip() else 'no message'}")

    def __exit__(self, *exc: object) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def _tables(rows: dict[str, list[tuple[object, ...]]]) -> Rows:
    return {s.metadata.tables[name]: values for name, values in rows.items()}
