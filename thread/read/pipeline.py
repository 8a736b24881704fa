"""Projecting pages of the log, in this process or, for a long catch-up, in a second one.

A rebuild spends about as long decoding events and building rows as it does
writing them. For a long catch-up a worker process decodes and projects the
next page while this process writes the current one, so the two halves run
on two cores; a page in flight ahead is all that is buffered, so memory stays
bounded. Short catch-ups stay in-process: starting a worker costs more than
they take.
"""

from __future__ import annotations

import os
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context

from sqlalchemy import Table

from thread.read import schema as s
from thread.read.events import LogEvent, decode
from thread.read.projections import PROJECTIONS, Projection

#: Events behind the log from which a catch-up projects in a worker process.
PARALLEL_FROM = 100_000

Rows = dict[Table, list[tuple[object, ...]]]
#: A projected page: its last log position, its number of events, its rows.
Projected = tuple[int, int, Rows]
RawPage = list[tuple[int, bytes]]


def rows_of(chosen: Sequence[Projection], at: dict[str, int], page: list[LogEvent]) -> Rows:
    """The rows a page adds to each chosen projection past its position."""
    rows: Rows = defaultdict(list)
    after = min(at[projection.name] for projection in chosen)
    caught_up = all(at[projection.name] == after for projection in chosen)
    dispatch: dict[tuple[str, str], list[Projection]] = {}
    for log_event in page:
        if log_event.position <= after:
            continue
        route = (log_event.topic, log_event.kind)
        takers = dispatch.get(route)
        if takers is None:
            takers = dispatch[route] = [p for p in chosen if p.takes(*route)]
        for projection in takers:
            if not caught_up and log_event.position <= at[projection.name]:
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
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        pending: deque[Future[tuple[int, int, dict[str, list[tuple[object, ...]]]]]] = deque()
        for page in raw:
            # Positions only move forward past earlier pages, so the snapshot taken
            # here filters this page exactly as the positions after them would.
            pending.append(pool.submit(project_page, names, dict(at), page))
            if len(pending) > 1:
                last, count, rows = pending.popleft().result()
                yield last, count, _tables(rows)
        while pending:
            last, count, rows = pending.popleft().result()
            yield last, count, _tables(rows)


def _tables(rows: dict[str, list[tuple[object, ...]]]) -> Rows:
    return {s.metadata.tables[name]: values for name, values in rows.items()}
