"""The demo plant: deterministic, idempotent, within every ledger rule, and telling its story:
13 weeks of production, GR-02's vibration rising until its spindle bearing is replaced, and
the bearings it ground meanwhile failing in the field sooner than the others."""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

import thread
from thread import facts as f
from thread.demo import DemoSummary, fill, signer_keys
from thread.demo.catalogue import NOISY, REPAIR, RISE, START, TODAY, VIBRATION_LIMIT
from thread.demo.shifts import CAPACITY, HOLIDAYS

F = TypeVar("F", bound=f.Fact)


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


# -- the story the default demo tells ---------------------------------------------------


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[thread.Ledger,
                                                                     DemoSummary]]:
    """The demo plant as `thread demo` fills it (seed 7, 300 bearings), on a fixed clock."""
    ledger = thread.open(str(tmp_path_factory.mktemp("story") / "demo.db"), clock=_clock())
    summary = fill(ledger)
    yield ledger, summary
    ledger.close()


def _all(ledger: thread.Ledger, kind: type[F]) -> list[tuple[datetime, F]]:
    """Every fact of one kind with when it occurred, in log order."""
    found = []
    for _, event in ledger.scan(topics=[kind.topic]):
        assert isinstance(event.fact, kind)
        found.append((event.occurred_at, event.fact))
    return found


def _grinding(ledger: thread.Ledger) -> dict[str, f.ProcessRecorded]:
    """Each bearing's grinding process record, by serial."""
    return {fact.serial: fact for _, fact in _all(ledger, f.ProcessRecorded)
            if fact.serial is not None and fact.operation.startswith("OP30")}


def _vibration(fact: f.ProcessRecorded | f.ConditionRecorded) -> tuple[float, float]:
    """Mean and max of a process record's or condition record's vibration."""
    if isinstance(fact, f.ProcessRecorded):
        vib = next(p for p in fact.parameters if p.name == "vibration")
        return vib.mean, vib.max
    metric = next(m for m in fact.metrics if m.name == "spindle_vibration")
    return metric.mean, metric.max


def _in_window(process: f.ProcessRecorded) -> bool:
    return process.machine == NOISY and RISE <= process.started_at < REPAIR


def test_production_takes_thirteen_weeks_of_shifts(
        plant: tuple[thread.Ledger, DemoSummary]) -> None:
    """300 bearings are ground over the 13 weeks from START, in the early and late shifts of
    working days, a few per grinder a day, each inside a condition record of its grinder."""
    ledger, summary = plant
    grinding = _grinding(ledger)
    assert summary.bearings == len(grinding) == 300
    starts = [p.started_at for p in grinding.values()]
    assert min(starts).date() == START.date()
    assert START + timedelta(weeks=12) < max(starts) < START + timedelta(weeks=13)
    assert all(t.weekday() < 5 and t.date() not in HOLIDAYS and 6 <= t.hour < 22
               for t in starts)
    assert max(Counter((p.machine, p.started_at.date()) for p in grinding.values())
               .values()) <= 2
    windows: defaultdict[str | None, list[tuple[datetime, datetime]]] = defaultdict(list)
    for _, condition in _all(ledger, f.ConditionRecorded):
        windows[condition.machine].append((condition.window_start, condition.window_end))
    assert summary.condition_windows == sum(map(len, windows.values()))
    for p in grinding.values():
        assert sum(start <= p.started_at and p.ended_at <= end
                   for start, end in windows[p.machine]) == 1, p.serial


def test_gr02_vibration_rises_until_its_spindle_bearing_is_replaced(
        plant: tuple[thread.Ledger, DemoSummary]) -> None:
    """GR-02's shift vibration climbs over the limit between RISE and REPAIR, with VIB-HIGH
    alarms, and is back to normal after the corrective maintenance; the bearings it ground
    meanwhile carry the raised vibration in their own process records."""
    ledger, summary = plant
    shifts = [(c.window_start, _vibration(c)) for _, c in _all(ledger, f.ConditionRecorded)
              if c.machine == NOISY]
    during = [vibration for start, vibration in shifts if RISE <= start < REPAIR]
    before = [vibration for start, vibration in shifts if start < RISE]
    after = [vibration for start, vibration in shifts if start >= REPAIR]
    assert max(mean for mean, _ in before + after) < 2.2 < min(mean for mean, _ in during)
    assert statistics.fmean(m for m, _ in during[-10:]) > statistics.fmean(
        m for m, _ in during[:10]) + 1.0
    assert 5 <= sum(peak > VIBRATION_LIMIT for _, peak in during) < len(during)
    vib_high = [at for at, alarm in _all(ledger, f.AlarmRaised)
                if alarm.machine == NOISY and alarm.code == "VIB-HIGH"]
    assert sum(RISE <= at < REPAIR for at in vib_high) >= 5
    repairs = [(at, m) for at, m in _all(ledger, f.MachineMaintenancePerformed)
               if m.kind == "corrective"]
    assert [(at, m.machine) for at, m in repairs] == [(REPAIR, NOISY)]
    assert "spindle bearing replaced" in repairs[0][1].description
    assert summary.maintenance == 2
    grinding = _grinding(ledger).values()
    assert min(_vibration(p)[0] for p in grinding if _in_window(p)) > 2.2 > max(
        _vibration(p)[0] for p in grinding if not _in_window(p))


def test_bearings_from_the_window_fail_sooner_than_the_rest(
        plant: tuple[thread.Ledger, DemoSummary]) -> None:
    """Per operating hour, bearings ground on GR-02 while it vibrated fail many times as often
    as the others, which fail now and then on more than one grinder; each bearing failure is
    a hub's claim with the same claim id and hours, torn down by the failure lab."""
    ledger, summary = plant
    grinding = _grinding(ledger)
    claims = {fact.claim: (at, fact) for at, fact in _all(ledger, f.FailureReported)
              if fact.serial is not None and fact.serial.startswith("HUB-")}
    analyses = {fact.claim: fact for _, fact in _all(ledger, f.FailureAnalysisRecorded)
                if fact.claim is not None}
    failed = {fact.serial: fact for _, fact in _all(ledger, f.FailureReported)
              if fact.serial is not None and fact.serial.startswith("BRG-")}
    assert (summary.failures, summary.bearing_failures) == (len(claims), len(failed))
    when = {fact.serial: at for at, fact in _all(ledger, f.FailureReported)}
    for serial, failure in failed.items():
        at, claim = claims[failure.claim]
        assert claim.serial == ledger.part(serial).installed_in
        assert (when[serial], failure.operating_hours) == (at, claim.operating_hours)
        assert serial in analyses[failure.claim].root_cause
    assert any(claims[c][1].failure_mode == "grease leak at the hub seal" for c in analyses)
    # Exposure: hours to failure, else the hub's last report (hubs without reports left out).
    hours: dict[str, float] = {}
    for _, report in _all(ledger, f.FieldPerformanceReported):
        assert report.serial is not None
        hours[report.serial] = report.operating_hours
    hours.update({c.serial: c.operating_hours or 0.0 for _, c in claims.values()
                  if c.serial is not None})
    exposure: defaultdict[bool, float] = defaultdict(float)
    failures: Counter[bool] = Counter()
    for serial, process in grinding.items():
        hub = ledger.part(serial).installed_in
        if hub in hours:
            exposure[_in_window(process)] += hours[hub]
            failures[_in_window(process)] += serial in failed
    rates = {window: failures[window] / exposure[window] for window in (True, False)}
    assert failures[True] >= 5 and failures[False] >= 2
    assert rates[True] > 10 * rates[False]
    assert len({grinding[s].machine for s in failed if not _in_window(grinding[s])}) >= 2


def test_the_field_ends_at_today_with_most_hubs_still_running(
        plant: tuple[thread.Ledger, DemoSummary]) -> None:
    """Nothing is later than the simulation's today; most hubs report their cumulative
    operating hours every month and are still running then."""
    ledger, summary = plant
    assert max(event.occurred_at for _, event in ledger.scan()
               if event.topic != f.SignatureApplied.topic) <= TODAY
    installed = {fact.serial for _, fact in _all(ledger, f.InstalledAtSite)}
    reports = defaultdict(list)
    for at, report in _all(ledger, f.FieldPerformanceReported):
        reports[report.serial].append((at, report.operating_hours))
    assert summary.field_reports == sum(map(len, reports.values()))
    assert len(installed) == summary.hubs
    assert len(reports) >= 0.8 * len(installed)
    for series in reports.values():
        assert series == sorted(series)
        assert len({hours for _, hours in series}) == len(series)
    assert summary.failures <= 0.2 * len(installed)


def test_the_example_is_a_hub_whose_window_bearing_failed(
        plant: tuple[thread.Ledger, DemoSummary]) -> None:
    """The serial the demo suggests reading is a hub whose bearing, ground on GR-02 while it
    vibrated, failed in the field."""
    ledger, summary = plant
    grinding = _grinding(ledger)
    culprits = [fact.serial for _, fact in _all(ledger, f.FailureReported)
                if fact.serial in grinding and _in_window(grinding[fact.serial])
                and ledger.part(fact.serial).installed_in == summary.example]
    assert summary.example.startswith("HUB-") and len(culprits) == 1


def test_more_bearings_than_the_plant_makes_are_refused(
        open_ledger: Callable[..., thread.Ledger]) -> None:
    """The plant grinds five bearings a working day until three weeks before its today;
    asking for more is refused before anything is written."""
    ledger = open_ledger()
    with pytest.raises(thread.LedgerError, match=f"at most {CAPACITY} bearings"):
        fill(ledger, bearings=CAPACITY + 1)
    assert ledger.count() == 0
