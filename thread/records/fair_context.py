"""The first article and the production it is compared with: who was made when, and the
state every part of a FAIR builder shares."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from thread.access.reading import whole
from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.ledger import Ledger
from thread.records.evidence import (
    Cutoff,
    Derivation,
    EventRef,
    Reader,
    Stream,
)


def serials_of(ledger: Ledger, part_number: str, revision: str, cutoff: Cutoff) -> list[str]:
    """Serials registered against ``part_number`` rev ``revision`` as of ``cutoff``, in the
    order the log took them.

    The one question a FAIR asks across parts. A FAIR is evidence, so it is answered from
    the registrations in the log, not from the registry read model, whose rows anyone with
    SQL could change; each serial's chain is then verified as the FAIR reads it.
    """
    found: dict[str, None] = {}
    for _, event in ledger.scan(topics=[f.PartRegistered.topic]):
        if isinstance(event.fact, f.Withheld):  # a controlled part: the FAIR is all or nothing
            whole([event], event.fact.kind, event.fact.key, "FAIR")
        fact = cast(f.PartRegistered, event.fact)
        if (fact.serial is not None and fact.part_number == part_number
                and fact.revision == revision and cutoff.admits(event)):
            found[fact.serial] = None
    return list(found)


def fair_identifier(part_number: str, revision: str, serial: str) -> str:
    """The FAIR identifier (Form 1 field 4) of a first article."""
    return f"FAIR-{part_number}-{revision}-{serial}"


class Production:
    """The serials of one part number and revision, ordered by when they were produced.

    A serial with an operation or process record was produced when the first
    of them started; one without any (an assembly put together, or a part
    registered but not yet made) counts from its registration and sorts
    after those that were made, so that a part merely registered early is
    never taken for the first article.
    """

    def __init__(self, reader: Reader, serials: Iterable[str]) -> None:
        self.streams: dict[str, Stream] = {}
        self.produced: dict[str, datetime] = {}
        made: set[str] = set()
        for serial in serials:
            stream = reader.stream("part", serial)
            if stream is not None:
                self.streams[serial] = stream
                started = started_at(stream)
                if started is not None:
                    made.add(serial)
                self.produced[serial] = started or stream.events[0].occurred_at
        self.serials = sorted(self.streams,
                              key=lambda s: (s not in made, self.produced[s], s))


def started_at(stream: Stream) -> datetime | None:
    """When a part's first operation or process record started, if it has any."""
    starts = [fact.started_at for _, fact in stream.facts(f.OperationPerformed)]
    starts += [fact.started_at for _, fact in stream.facts(f.ProcessRecorded)]
    return min(starts) if starts else None


def add_years(moment_: datetime, years: int) -> datetime:
    """The same calendar moment ``years`` later (29 February becomes 28 February)."""
    try:
        return moment_.replace(year=moment_.year + years)
    except ValueError:  # 29 February
        return moment_.replace(year=moment_.year + years, day=28)


class FirstArticle:
    """The first article of a part number and revision, its design and its production."""

    def __init__(self, reader: Reader, design: Stream,
                 release: tuple[Recorded, f.RevisionReleased], production: Production,
                 serial: str, evaluated_at: datetime) -> None:
        self.reader = reader
        self.design = design
        self.release_event, self.release = release
        self.production = production
        self.serial = serial
        self.stream = production.streams[serial]
        self.produced = production.produced[serial]
        self.evaluated_at = evaluated_at
        self.part_number, self.revision = self.release.part_number, self.release.revision
        self.fair_id = fair_identifier(self.part_number, self.revision, serial)
        self.derivations: list[Derivation] = []
        registered = self.stream.first(f.PartRegistered)
        assert registered is not None  # a part's stream starts with its registration
        self.registered_event, self.registration = registered
        self.reports = self.stream.facts(f.InspectionReported)
        # First articles of the components' part numbers, looked up once each.
        self.first_serials: dict[tuple[str, str], str | None] = {}

    def ref(self, event: Recorded) -> EventRef:
        """Cite an event of the first article."""
        return self.reader.ref(self.stream, event)

    def derive(self, name: str, source: str) -> None:
        """Note which facts a part of the report comes from."""
        self.derivations.append(Derivation(field=name, derived_from=source))

