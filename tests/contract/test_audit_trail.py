"""The Part 11 audit trail: corrections with old and new values, who, when and why;
signatures; refused attempts and reads of controlled data; computed from the append-only
events, so later writes never change what it showed before."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import Clock, bearing, inspection, released_bearing
from signers import PASSPHRASE, founded, registered

import thread
from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.domain.facts.base import SubjectKind
from thread.errors import LedgerError, SigningRefused, UnknownSubject
from thread.records.audit_trail import WITHHELD, FieldChange, audit_trail

pytestmark = pytest.mark.contract

SERIAL, OTHER = "SN-1", "SN-2"


def _corrected(ledger: thread.Ledger, serial: str = SERIAL) -> None:
    """A bearing whose failing bore inspection (v2) is corrected by a passing one (v3,
    the correction v4) by m.ruiz."""
    try:
        ledger.design("BRG-6204")
    except UnknownSubject:
        ledger.record(released_bearing())
    ledger.record(bearing(serial))
    ledger.record(inspection(serial, 19.985))
    ledger.correct(inspection(serial, 19.995), corrects=2, reason="gauge re-zeroed",
                   actor="m.ruiz")


def _refused(serial: str, person: str = "j.doe") -> f.AccessAttemptRefused:
    return f.AccessAttemptRefused(signer=person, action="read", what="trace", kind="part",
                                  key=serial, rules=("forbid-uncleared",),
                                  detail="not cleared for ITAR:XI")


def _read(serial: str, person: str = "a.auditor") -> f.ControlledDataRead:
    return f.ControlledDataRead(signer=person, kind="part", key=serial, view="history",
                                labels=("ITAR:XI",))


def test_a_correction_shows_old_and_new_values_who_when_and_why(
        ledger: thread.Ledger) -> None:
    """The corrected and replacing versions, the changed fields, the actor, time and reason."""
    _corrected(ledger)
    trail = audit_trail(ledger, key=SERIAL)
    [entry] = trail.corrections
    correction = ledger.history(SERIAL)[3]
    assert (entry.kind, entry.key, entry.version) == ("part", SERIAL, 4)
    assert (entry.corrected_version, entry.replaced_by_version) == (2, 3)
    assert entry.topic == f.InspectionRecorded.topic
    assert set(entry.changes) == {FieldChange(field="measured", old=19.985, new=19.995),
                                  FieldChange(field="verdict", old="fail", new="pass")}
    assert (entry.actor, entry.recorded_at, entry.reason) == (
        "m.ruiz", correction.recorded_at, "gauge re-zeroed")
    text = trail.text()
    assert "m.ruiz" in text and "gauge re-zeroed" in text
    assert 'verdict: "fail" -> "pass"' in text and "measured: 19.985 -> 19.995" in text
    assert json.loads(json.dumps(trail.model_dump(mode="json")))["key"] == SERIAL


def test_signatures_show_printed_name_meaning_and_time(ledger: thread.Ledger,
                                                       tmp_path: Path) -> None:
    """A signed disposition is listed with signer, printed name, meaning, time and topic."""
    admin = founded(ledger, tmp_path)
    osei = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei").open(PASSPHRASE)
    _corrected(ledger)
    ledger.record(f.NonConformanceOpened(serial=SERIAL, non_conformance="NC-1",
                                         description="bore undersize"))
    ledger.record(f.DispositionRecorded(serial=SERIAL, non_conformance="NC-1",
                                        decision="use-as-is", rationale="within function"),
                  sign=osei, meaning="approval")
    [signature] = audit_trail(ledger, key=SERIAL).signatures
    stored = ledger.history(SERIAL)[-1].fact
    assert isinstance(stored, f.SignatureApplied)
    assert (signature.signer, signature.printed_name, signature.meaning) == (
        "k.osei", "Kwame Osei", "approval")
    assert (signature.signed_version, signature.signed_topic) == (
        6, f.DispositionRecorded.topic)
    assert signature.signed_at == stored.signed_at
    assert "Kwame Osei (k.osei)  approval of part SN-1 v6" in (
        audit_trail(ledger, key=SERIAL).text())


def test_refusals_and_reads_appear_for_their_part_and_not_for_another(
        ledger: thread.Ledger) -> None:
    """An AccessAttemptRefused and a ControlledDataRead naming SN-1 are in its trail only."""
    _corrected(ledger)
    _corrected(ledger, OTHER)
    ledger.record(_refused(SERIAL))
    ledger.record(_read(SERIAL))
    ledger.record(_refused(OTHER, "x.other"))
    trail = audit_trail(ledger, key=SERIAL)
    [refusal] = trail.refusals
    [read] = trail.reads
    assert (refusal.person, refusal.action, refusal.what, refusal.kind, refusal.key) == (
        "j.doe", "read", "trace", "part", SERIAL)
    assert refusal.rules == ("forbid-uncleared",) and refusal.detail == "not cleared for ITAR:XI"
    assert (read.person, read.view, read.labels) == ("a.auditor", "history", ("ITAR:XI",))
    other = audit_trail(ledger, key=OTHER)
    assert [r.person for r in other.refusals] == ["x.other"] and other.reads == ()
    assert "Reads of controlled data (0)\n  none" in other.text()


def test_since_lists_what_was_recorded_from_then_with_failed_signing(
        ledger: thread.Ledger, clock: Clock, tmp_path: Path) -> None:
    """--since mode: corrections, signatures, refusals and reads from then on, across
    subjects, and a failed attempt to sign (which names no subject)."""
    admin = founded(ledger, tmp_path)
    session = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei")
    _corrected(ledger)
    since = clock()
    _corrected(ledger, OTHER)
    ledger.record(_refused(SERIAL))
    with pytest.raises(SigningRefused, match="passphrase"):
        session.open("not the passphrase")
    ledger.record(_read(OTHER))
    trail = audit_trail(ledger, since=since)
    assert (trail.kind, trail.key, trail.since) == (None, None, since)
    assert [(c.key, c.corrected_version) for c in trail.corrections] == [(OTHER, 2)]
    assert trail.signatures == ()  # the registry's signatures came before
    assert [(r.person, r.reason, r.key) for r in trail.refusals] == [
        ("j.doe", None, SERIAL), ("k.osei", "wrong passphrase", None)]
    assert [(r.person, r.key) for r in trail.reads] == [("a.auditor", OTHER)]
    assert "signing failed (wrong passphrase)" in trail.text()
    everything = audit_trail(ledger, since=since.replace(year=2000))
    assert {s.key for s in everything.signatures} == {"admin", "k.osei"}
    assert [c.key for c in everything.corrections] == [SERIAL, OTHER]
    assert not any(r.reason for r in audit_trail(ledger, key=SERIAL).refusals)


def test_later_writes_leave_the_earlier_entries_as_they_were(ledger: thread.Ledger) -> None:
    """Correcting the correction and recording more attempts only adds entries."""
    _corrected(ledger)
    ledger.record(_refused(SERIAL))
    before = audit_trail(ledger, key=SERIAL)
    ledger.correct(inspection(SERIAL, 19.992), corrects=3, reason="re-measured at 20 °C",
                   actor="k.osei")
    ledger.record(_read(SERIAL))
    ledger.record(_refused(SERIAL, "x.other"))
    after = audit_trail(ledger, key=SERIAL)
    assert after.corrections[:1] == before.corrections
    assert after.refusals[:1] == before.refusals
    [second] = after.corrections[1:]
    assert (second.corrected_version, second.replaced_by_version, second.actor) == (
        3, 5, "k.osei")
    assert second.changes == (FieldChange(field="measured", old=19.995, new=19.992),)
    assert len(after.reads) == 1 and len(after.refusals) == 2
    assert [e.topic for e in ledger.history(SERIAL)[1:3]] == [f.InspectionRecorded.topic] * 2


def test_a_withheld_side_shows_its_labels_not_its_values(
        ledger: thread.Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader not cleared for the corrected event sees that it changed, never the values."""
    _corrected(ledger)
    shown = ledger.history_of

    def withholding(kind: SubjectKind, key: str) -> list[Recorded]:
        events = shown(kind, key)
        hidden = f.Withheld(kind=kind, key=key, withheld_topic=events[1].topic,
                            labels=("ITAR:XI",))
        return [dataclasses.replace(e, fact=hidden) if e.originator_version == 2 else e
                for e in events]

    monkeypatch.setattr(ledger, "history_of", withholding)
    [entry] = audit_trail(ledger, key=SERIAL).corrections
    assert entry.changes == (FieldChange(field=WITHHELD, old="ITAR:XI", new=None),)
    assert (entry.withheld, entry.topic, entry.reason) == (
        ("ITAR:XI",), f.InspectionRecorded.topic, "gauge re-zeroed")
    text = audit_trail(ledger, key=SERIAL).text()
    assert "values withheld (ITAR:XI)" in text and "19.985" not in text


def test_an_unknown_subject_or_a_wrong_request_is_refused(ledger: thread.Ledger) -> None:
    """An unknown serial names itself; neither or both of key and since is refused."""
    _corrected(ledger)
    with pytest.raises(UnknownSubject, match="part NOPE is not in this ledger"):
        audit_trail(ledger, key="NOPE")
    with pytest.raises(LedgerError, match="exactly one"):
        audit_trail(ledger)
    with pytest.raises(LedgerError, match="exactly one"):
        audit_trail(ledger, key=SERIAL, since=ledger.history(SERIAL)[0].recorded_at)
