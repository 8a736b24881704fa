"""What ``thread verify`` checks of the source records (``ledger_sources``), both directions.

Each event that carries a source record must have the record's row, naming that
event or an earlier one of the same record (the first event a record became is
the one the row names: signatures and effects on other subjects follow it); each
row must name an event that exists, carries the record in its canonical bytes
and has the hash the row gives (:func:`thread.storage.sources.link_problem`).

The events are met in the chain pass, a page at a time, with one lookup of the
rows per page. A row that names an event met there and gives its hash is
verified without reading anything again; when those are all the rows, the rows
need no pass of their own. Otherwise :func:`unverified_rows` reads every row with
the event it names, in key order, to say which rows are wrong. Memory stays
constant either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple
from uuid import UUID

from thread.domain.envelope import EnvelopeError, open_envelope
from thread.domain.topics import subject_label
from thread.ledger import PAGE
from thread.storage.mapper import FactMapper
from thread.storage.recorder import SOURCES_TABLE, LedgerRecorder, LogRow, SourceLink
from thread.storage.sources import link_problem, row_label, source_key


class Sourced(NamedTuple):
    """An event that carries a source record, as the chain pass met it."""

    source: str
    record_id: str
    originator: UUID
    version: int
    notification: int
    subject: str
    hash: bytes


class SourcedEvents:
    """The events carrying source records met so far on a page, checked against their rows."""

    def __init__(self, store: LedgerRecorder, mapper: FactMapper) -> None:
        self._store = store
        self._mapper = mapper
        self._page: list[Sourced] = []
        #: Rows seen naming an event met here, with that event's hash.
        self.verified = 0

    def met(self, event: Sourced) -> None:
        """Remember an event for the next :meth:`check`."""
        self._page.append(event)

    def check(self) -> list[tuple[Sourced, str]]:
        """The events met since the last check whose record's row is missing or names a
        later event, each with what is wrong; one lookup of rows for them all."""
        page, self._page = self._page, []
        if not page:
            return []
        keys = list(dict.fromkeys((event.source, event.record_id) for event in page))
        rows = self._store.select_sources(keys)
        # Rows naming another subject's event: only where that event sits says which is first.
        elsewhere = list(dict.fromkeys(
            key for event in page
            if (row := rows.get(key := (event.source, event.record_id))) is not None
            and row.originator_id != event.originator))
        links = self._store.select_source_links(elsewhere) if elsewhere else {}
        problems = []
        for event in page:
            key = (event.source, event.record_id)
            carries = f"carries {source_key(*key)}"
            row = rows.get(key)
            named = ""
            if row is None:
                problems.append((event, f"{carries}, but the {SOURCES_TABLE} row for it is "
                                        f"missing: deleted, so a re-send of the record would "
                                        f"be recorded again"))
                continue
            if row.originator_id == event.originator:
                if row.originator_version == event.version:
                    # It names this event; a wrong hash is for unverified_rows to report.
                    if row.event_hash == event.hash:
                        self.verified += 1
                elif row.originator_version > event.version:
                    named = (f"{event.subject or 'this subject'} version "
                             f"{row.originator_version}, a later one")
            elif (other := links[key].event) is not None and other.id > event.notification:
                named = (f"{self._subject(other)} version {other.originator_version}, "
                         f"committed after it")
            if named:
                problems.append((event, f"{carries} and is the first event that does, but "
                                        f"{row_label(row)} names {named}: the row was "
                                        f"altered, or deleted and the record recorded again"))
        return problems

    def _subject(self, row: LogRow) -> str:
        try:
            envelope = open_envelope(self._mapper.plaintext(row))
            subject = subject_label(envelope.topic, envelope.payload)
        except (ValueError, EnvelopeError):  # the chain pass reports that event
            subject = ""
        return subject or f"aggregate {row.originator_id}"


def unverified_rows(store: LedgerRecorder, mapper: FactMapper
                    ) -> Iterator[tuple[SourceLink | None, str]]:
    """Every row that does not name the event it became, with what is wrong, read a page at
    a time in key order; (None, why) when the rows cannot be read further in order."""
    after: tuple[str, str] | None = None
    while True:
        page = store.select_source_page(after, PAGE)
        for link in page:
            problem = link_problem(link, mapper)
            if problem:
                yield link, f"{row_label(link.record)} {problem}"
        if len(page) < PAGE:
            return
        last = (page[-1].record.source, page[-1].record.record_id)
        if after is not None and last <= after:  # only a key that is not text sorts so
            yield None, (f"{SOURCES_TABLE} holds a row whose key is not text after {last!r}: "
                         f"written behind the ledger's back; the rows after it were not checked")
            return
        after = last
