"""Drift alerts: a watched chart raises one alert per rule when a new point breaks it, on the
machine and on the part, never for the baseline or for points before the subscription; two
watchers record it once; acknowledging and closing are signed; the part's story shows it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from drift_plant import MACHINE, METRIC, made, plant

import thread
from thread.analytics import drift
from thread.domain import facts as f
from thread.domain.signature import Signer
from thread.errors import LedgerError

pytestmark = pytest.mark.contract

@pytest.fixture
def engineer() -> Signer:
    """A quality engineer who signs."""
    return Signer("q.eng", "Quinn Engineer", Ed25519PrivateKey.generate())


def test_a_new_point_beyond_the_limits_raises_one_alert(ledger: thread.Ledger,
                                                        engineer: Signer) -> None:
    """One point beyond 3 sigma after subscribing raises WE1 once, on machine and part."""
    at = plant(ledger)
    drift.subscribe(ledger, chart="GR9-LOAD", metric=METRIC, machine=MACHINE, phase1=20,
                    rules=["WE1"], notify=["quality@plant"])
    assert drift.check_drift(ledger) == []
    made(ledger, "SN-HIGH", 65.0, at)
    raised = drift.check_drift(ledger)
    # the point is beyond the individuals' limits, and its jump beyond the moving range's
    assert sorted((a.rule, a.points[-1].serial) for a in raised) == [
        ("MR:WE1", "SN-HIGH"), ("WE1", "SN-HIGH")]
    assert drift.check_drift(ledger) == []
    made(ledger, "SN-HIGH2", 66.0, at + timedelta(minutes=10))
    assert drift.check_drift(ledger) == []  # the WE1 alert is still open
    state = ledger.drift()
    [alert] = [a for a in state.alerts if a.rule == "WE1"]
    assert alert.kind == "machine" and alert.key == MACHINE and alert.status == "open"
    assert alert.notify == ("quality@plant",) and alert.ucl is not None
    assert alert.points[-1].value == 65.0 and alert.ucl < 65.0
    story = ledger.trace("SN-HIGH")
    assert any(e.topic == f.DriftAlertNoted.topic for e in story.timeline)

    before = ledger.count()
    with pytest.raises(LedgerError, match="never recorded unsigned"):
        ledger.record(f.DriftAlertAcknowledged(kind="machine", key=MACHINE, alert=alert.alert,
                                               note="unsigned"))
    assert ledger.count() == before
    drift.acknowledge(ledger, alert.alert, note="checking the spindle", signer=engineer)
    acknowledged = ledger.drift().alert(alert.alert)
    assert acknowledged is not None and acknowledged.status == "acknowledged"
    assert acknowledged.acknowledged is not None
    assert acknowledged.acknowledged.signed_by == "Quinn Engineer (q.eng)"
    drift.close(ledger, alert.alert, resolution="worn spindle bearing replaced",
                signer=engineer, reference="WO-9")
    closed = ledger.drift().alert(alert.alert)
    assert closed is not None and closed.status == "closed"
    with pytest.raises(LedgerError, match="already closed"):
        drift.close(ledger, alert.alert, resolution="again", signer=engineer)
    # closed: SN-HIGH2 came before the closure and raises nothing; a later point does
    assert drift.check_drift(ledger) == []
    made(ledger, "SN-HIGH3", 67.0, at + timedelta(minutes=20))
    assert [(a.rule, a.points[-1].serial) for a in drift.check_drift(ledger)] == [
        ("WE1", "SN-HIGH3")]


def test_points_before_the_subscription_and_the_baseline_raise_nothing(
        ledger: thread.Ledger) -> None:
    """Points before the subscription and the baseline raise nothing."""
    at = plant(ledger, 25)
    made(ledger, "SN-OLD-HIGH", 70.0, at)
    drift.subscribe(ledger, chart="C1", metric=METRIC, machine=MACHINE, phase1=20,
                    rules=["nelson"])
    assert drift.check_drift(ledger) == []
    assert ledger.drift().charts[0].rules == ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")


def test_two_watchers_record_each_alert_once(ledger_url: str) -> None:
    """Two watchers on one ledger record each alert once."""
    first = thread.open(ledger_url, actor="watcher-1")
    second = thread.open(ledger_url, actor="watcher-2")
    try:
        at = plant(first)
        drift.subscribe(first, chart="C2", metric=METRIC, machine=MACHINE, phase1=20,
                        rules=["WE1"])
        made(first, "SN-HIGH", 65.0, at)
        raised = drift.check_drift(first) + drift.check_drift(second)
        assert len(raised) == 2  # WE1 and MR:WE1, each once
        assert len(second.drift().alerts) == 2
        assert sum(e.fact.topic == f.DriftAlertRaised.topic
                   for e in second.history_of("machine", MACHINE)) == 2
    finally:
        first.close()
        second.close()


def test_bad_subscriptions_are_refused_with_one_line(ledger: thread.Ledger) -> None:
    """A bad metric, a missing baseline or a reused chart id is refused and writes nothing."""
    plant(ledger, 5)
    before = ledger.count()
    with pytest.raises(LedgerError, match=r"metric 'process\.load'"):
        drift.subscribe(ledger, chart="C", metric="process.load", machine=MACHINE, phase1=20)
    with pytest.raises(LedgerError, match="a baseline"):
        drift.subscribe(ledger, chart="C", metric=METRIC, machine=MACHINE)
    assert ledger.count() == before
    drift.subscribe(ledger, chart="C", metric=METRIC, machine=MACHINE, phase1=20)
    with pytest.raises(LedgerError, match="already watched"):
        drift.subscribe(ledger, chart="C", metric=METRIC, machine=MACHINE, phase1=20)


def _reads(ledger_url: str) -> str:
    if ledger_url.startswith("postgresql://"):
        return ledger_url
    from thread.bootstrap import read_models_file

    return str(read_models_file(ledger_url))


def test_a_forged_closure_in_the_read_model_is_named_by_verify(
        ledger: thread.Ledger, ledger_url: str) -> None:
    """An insider who closes an alert by editing read_drift is caught by the read-model check."""
    from conftest import raw_sql

    at = plant(ledger)
    drift.subscribe(ledger, chart="C3", metric=METRIC, machine=MACHINE, phase1=20,
                    rules=["WE1"])
    made(ledger, "SN-HIGH", 65.0, at)
    [alert] = [a for a in drift.check_drift(ledger) if a.rule == "WE1"]
    ledger.read_models.catch_up()
    assert ledger.read_models.verify().ok
    forged = json.dumps({"alert": alert.alert, "outcome": "false-alarm",
                         "resolution": "nothing to see"})
    raw_sql(_reads(ledger_url), "INSERT INTO read_drift VALUES (?,?,?,?,?,?,?,?,?,?)",
            (10**9, "machine", MACHINE, 99, f.DriftAlertClosed.topic, None, alert.alert,
             forged, 0, 0))
    fooled = ledger.drift(catch_up=False).alert(alert.alert)
    assert fooled is not None and fooled.status == "closed"
    report = ledger.read_models.verify()
    assert not report.ok
    assert any(finding.table == "read_drift" for finding in report.findings)


def test_the_alert_and_its_note_on_the_part_land_together(ledger: thread.Ledger) -> None:
    """The alert on the machine and the note on the part are one transaction: both or none."""
    at = plant(ledger)
    drift.subscribe(ledger, chart="C4", metric=METRIC, machine=MACHINE, phase1=20,
                    rules=["WE1"])
    made(ledger, "SN-HIGH", 65.0, at)
    raised = drift.check_drift(ledger)
    alerts = {e.fact.alert for e in ledger.history_of("machine", MACHINE)  # type: ignore[attr-defined]
              if e.fact.topic == f.DriftAlertRaised.topic}
    notes = {e.fact.alert for e in ledger.history("SN-HIGH")  # type: ignore[attr-defined]
             if e.fact.topic == f.DriftAlertNoted.topic}
    assert alerts == notes == {a.alert for a in raised}
    machine_events = [e for e in ledger.history_of("machine", MACHINE)
                      if e.fact.topic == f.DriftAlertRaised.topic]
    part_events = [e for e in ledger.history("SN-HIGH")
                   if e.fact.topic == f.DriftAlertNoted.topic]
    # written in one batch: the same recorded moment
    assert {e.timestamp for e in machine_events} == {e.timestamp for e in part_events}
