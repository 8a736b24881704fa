"""Each whereabouts move reads exactly the payload fields it declares, since the read model
keeps only those for the fold at query time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from thread.domain import topics
from thread.domain import whereabouts as w


class _Probe(Mapping[str, object]):
    """A payload that answers every field with one value and notes which fields were read."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> object:
        self.read.add(name)
        return self.value

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


_STARTS = (w.NOWHERE, w.IN_PRODUCTION,
           w.Whereabouts("shipped", None, "ACME", "Berlin", None, True, ("R-1",)))
_VALUES = ("scrap", "return-to-vendor", "rework", "X-1")


@pytest.mark.parametrize("name", sorted(topics.moves()))
def test_a_move_reads_exactly_the_fields_it_declares(name: str) -> None:
    """Over every start and value, the fields read are the declared ones, no more, no fewer."""
    move = topics.moves()[name]
    read: set[str] = set()
    for start in _STARTS:
        for value in _VALUES:
            probe = _Probe(value)
            move(start, probe)
            assert probe.read <= set(move.reads), f"{move.name} read undeclared {probe.read}"
            read |= probe.read
    assert read == set(move.reads)


def test_moves_keep_what_they_do_not_change() -> None:
    """A hold, a release and a recall leave the state, the customer and the site alone."""
    shipped = w.shipped(w.IN_PRODUCTION, {"customer": "ACME", "destination": "Berlin"})
    held = w.quarantined(shipped, {})
    assert (held.location, held.quarantined) == ("shipped to ACME (Berlin)", True)
    recalled = w.recalled(w.released(held, {}), {"recall": "R-7"})
    assert (recalled.location, recalled.quarantined, recalled.recalls) == (
        "shipped to ACME (Berlin)", False, ("R-7",))
    at_site = w.installed_at_site(recalled, {"site": "Ulm"})
    assert (at_site.location, at_site.customer, at_site.recalls) == (
        "installed at Ulm", "ACME", ("R-7",))
    assert w.dispositioned(at_site, {"decision": "use-as-is"}) is at_site
    assert w.dispositioned(at_site, {"decision": "scrap"}).location == "scrapped"
