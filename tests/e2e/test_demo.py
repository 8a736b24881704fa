"""The demo plant: deterministic, idempotent, and within every ledger rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import thread
from thread import facts as f
from thread.demo import fill, signer_keys


def _clock() -> Callable[[], datetime]:
    """A clock that advances one second per reading from a fixed start."""
    now = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

    def tick() -> datetime:
        nonlocal now
        now += timedelta(seconds=1)
        return now

    return tick


@pytest.fixture
def open_ledger(tmp_path: Path) -> Iterator[Callable[..., thread.Ledger]]:
    """Opens fresh SQLite ledgers in tmp_path with a fixed clock; closes them afterwards."""
    opened: list[thread.Ledger] = []

    def open_(name: str = "demo.db") -> thread.Ledger:
        ledger = thread.open(str(tmp_path / name), clock=_clock(), actor="tester")
        opened.append(ledger)
        return ledger

    yield open_
    for ledger in opened:
        ledger.close()


def _hashes(ledger: thread.Ledger) -> list[tuple[str, int, str]]:
    return [(str(event.originator_id), event.originator_version, event.hash.hex())
            for _, event in ledger.scan()]


def _facts(ledger: thread.Ledger) -> list[tuple[str, str | None, datetime, str]]:
    """What the demo asked for: payloads, record ids, occurred times and sources (not
    signatures, which carry the time they were recorded)."""
    return sorted(
        (event.fact.model_dump_json(), event.source_record_id, event.occurred_at, event.source)
        for _, event in ledger.scan() if event.topic != f.SignatureApplied.topic
    )


def test_same_seed_gives_the_same_event_hashes(open_ledger: Callable[..., thread.Ledger]) -> None:
    """Two fresh ledgers filled with the same seed and clock hold byte-identical events."""
    first, second = open_ledger("a.db"), open_ledger("b.db")
    fill(first, seed=11, bearings=30)
    fill(second, seed=11, bearings=30)
    assert _hashes(first) == _hashes(second)
    assert first.count() > 30 * 9


def test_same_seed_gives_the_same_facts_at_any_time(tmp_path: Path) -> None:
    """On the wall clock too, the same seed records the same payloads, times and sources."""
    recorded = []
    for name in ("a.db", "b.db"):
        ledger = thread.open(str(tmp_path / name))
        try:
            fill(ledger, seed=11, bearings=15)
            recorded.append(_facts(ledger))
        finally:
            ledger.close()
    assert recorded[0] == recorded[1]


def test_another_seed_gives_another_plant(open_ledger: Callable[..., thread.Ledger]) -> None:
    """The seed drives the simulation: another seed records other measurements."""
    first, second = open_ledger("a.db"), open_ledger("b.db")
    fill(first, seed=1, bearings=6)
    fill(second, seed=2, bearings=6)
    assert _hashes(first) != _hashes(second)


def test_filling_again_is_a_no_op(open_ledger: Callable[..., thread.Ledger]) -> None:
    """A second fill with the same seed writes nothing and reports the same plant."""
    ledger = open_ledger()
    summary = fill(ledger, bearings=30)
    count = ledger.count()
    again = fill(ledger, bearings=30)
    assert ledger.count() == count
    assert again.written == 0
    assert again == dataclasses.replace(summary, written=0)


def test_more_bearings_extend_the_same_story(open_ledger: Callable[..., thread.Ledger]) -> None:
    """Filling 10 then 30 bearings leaves the ledger with the same facts as filling 30 at once."""
    grown, fresh = open_ledger("grown.db"), open_ledger("fresh.db")
    fill(grown, bearings=10)
    fill(grown, bearings=30)
    fill(fresh, bearings=30)
    assert _facts(grown) == _facts(fresh)


def test_fill_respects_the_counts_asked_for(open_ledger: Callable[..., thread.Ledger]) -> None:
    """N bearings become N serials and a hub per two good ones; progress reports all N."""
    ledger = open_ledger()
    steps: list[int] = []
    summary = fill(ledger, bearings=60, progress=steps.append)
    serials = ledger.parts()
    bearings = [s for s in serials if s.startswith("BRG-")]
    hubs = [s for s in serials if s.startswith("HUB-")]
    assert len(bearings) == summary.bearings == 60
    assert len(hubs) == summary.hubs == (60 - summary.scrapped) // 2
    assert sum(steps) == 60
    # The ledger adds InstalledInto beside each installation; signatures come on top of facts.
    assert summary.written == summary.facts
    assert ledger.count() == summary.facts + 2 * summary.hubs + summary.signatures


def test_fill_keeps_every_ledger_rule(open_ledger: Callable[..., thread.Ledger]) -> None:
    """No scrapped bearing is installed, nothing held ships, every NC is signed off."""
    ledger = open_ledger()
    summary = fill(ledger, seed=1, bearings=90)
    assert summary.quarantined
    assert summary.scrapped
    for serial in ledger.parts():
        part = ledger.part(serial)
        assert not part.open_non_conformances, serial
        if part.scrapped:
            assert part.installed_in is None, serial
        if part.location.startswith(("shipped", "installed at")):
            assert not part.quarantined, serial
    dispositions = list(ledger.scan(topics=[f.DispositionRecorded.topic]))
    signatures = [event.fact for _, event in ledger.scan(topics=[f.SignatureApplied.topic])]
    assert dispositions
    assert len(signatures) == summary.signatures
    signed = {(s.key, s.signed_version) for s in signatures if isinstance(s, f.SignatureApplied)}
    assert all((e.fact.subject[1], e.originator_version) in signed for _, e in dispositions)
    keys = signer_keys(seed=1)
    for signature in signatures:
        assert isinstance(signature, f.SignatureApplied)
        thread.verify_signature(signature, keys[signature.signer])


def test_verdicts_follow_the_tolerances(open_ledger: Callable[..., thread.Ledger]) -> None:
    """Each inspection's verdict is pass exactly when the measured value is within its limits."""
    ledger = open_ledger()
    fill(ledger, seed=1, bearings=60)
    verdicts = set()
    for _, event in ledger.scan(topics=[f.InspectionRecorded.topic]):
        fact = event.fact
        assert isinstance(fact, f.InspectionRecorded)
        assert fact.measured is not None
        assert fact.nominal is not None
        assert fact.lower_tolerance is not None
        assert fact.upper_tolerance is not None
        within = (fact.nominal + fact.lower_tolerance <= fact.measured
                  <= fact.nominal + fact.upper_tolerance)
        assert fact.verdict == ("pass" if within else "fail")
        assert (fact.non_conformance is not None) == (fact.verdict == "fail")
        verdicts.add(fact.verdict)
    assert verdicts == {"pass", "fail"}


def test_another_seed_on_a_filled_ledger_is_refused(
        open_ledger: Callable[..., thread.Ledger]) -> None:
    """Filling a ledger the demo filled with another seed is refused; nothing is written."""
    ledger = open_ledger()
    fill(ledger, seed=7, bearings=3)
    count = ledger.count()
    with pytest.raises(thread.AlreadyRegistered, match=r"\(seed 8\).*fill an empty ledger"):
        fill(ledger, seed=8, bearings=3)
    assert ledger.count() == count


def test_at_least_one_bearing(open_ledger: Callable[..., thread.Ledger]) -> None:
    """A demo of no bearings is refused with the ledger's own error."""
    with pytest.raises(thread.LedgerError, match="at least one bearing"):
        fill(open_ledger(), bearings=0)
