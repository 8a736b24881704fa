"""Verification from a checkpoint the auditor trusted before (``thread verify --from``): the
log proved an extension of it, only the events after it derived again with the chains they
touch, and the newest verified checkpoint handed back to trust next time; an event edited
after it, a log rewritten behind it, a cut tail and a checkpoint of another log are each
caught, on SQLite and PostgreSQL."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Clock, bearing, drop_append_only_triggers, inspection, raw_sql
from test_tamper import rebuild_log, row_of, set_state
from web_server import small_plant

import thread
from thread.cli import main
from thread.log.audit import audit, audit_since
from thread.log.checkpoint import generate_signer

pytestmark = pytest.mark.contract


def _grown(url: str, clock: Clock) -> tuple[str, str, str, str]:
    """The small plant, a checkpoint K1, then more parts and an inspection of SN-1 and a
    checkpoint K2: (signer, verifier, K1, K2)."""
    small_plant(url, clock)
    ledger = thread.open(url, clock=clock)
    signer, verifier = generate_signer(ledger.origin)
    first = ledger.checkpoint(signer)
    for n in range(5):
        ledger.record(bearing(f"NEW-{n}"))
        ledger.record(inspection(f"NEW-{n}"))
    ledger.record(inspection("SN-1", measured=19.991))
    second = ledger.checkpoint(signer)
    ledger.close()
    return signer, verifier, first, second


def _flipped(canonical: bytes) -> bytes:
    """The bytes with one bit of the 19.995 mm measure flipped."""
    state = bytearray(canonical)
    state[state.index(struct.pack(">d", 19.995)) + 7] ^= 0x01
    return bytes(state)


def test_only_what_came_after_the_trusted_checkpoint_is_derived_again(
        ledger_url: str, clock: Clock) -> None:
    """The report covers the eleven events after K1 and the six chains they touch, and
    hands back K2, which in turn verifies as the start of an empty increment."""
    _, verifier, first, second = _grown(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    report = audit_since(ledger, first, verifier_keys=[verifier])
    assert report.ok, report.findings
    assert (report.events - report.since, report.aggregates) == (11, 6)
    assert report.newest_checkpoint == second and report.root == ledger.tree_head()[1]
    again = audit_since(ledger, second, verifier_keys=[verifier])
    assert again.ok and again.events == again.since == ledger.count()
    ledger.close()


def test_an_edit_after_the_checkpoint_and_a_rewrite_behind_it_are_caught(
        ledger_url: str, clock: Clock) -> None:
    """A new event's bytes edited: named at its position. The log rebuilt after editing an
    event before K1 (every leaf and node recomputed to match): not an extension of K1."""
    _, verifier, first, _ = _grown(ledger_url, clock)
    drop_append_only_triggers(ledger_url)
    edited = row_of(ledger_url, "NEW-2", 2)  # an inspection: flip a bit of its measure
    raw_sql(ledger_url, *set_state(ledger_url, edited.id, _flipped(edited.event.canonical)))
    ledger = thread.open(ledger_url, clock=clock)
    report = audit_since(ledger, first, verifier_keys=[verifier])
    assert not report.ok and "event bytes differ" in report.findings[0].describe()
    ledger.close()
    old = next(row_of(ledger_url, "SN-2", version) for version in range(1, 9)
               if row_of(ledger_url, "SN-2", version).event.topic ==
               "quality.inspection-recorded")  # before K1, in no chain touched since
    drop_append_only_triggers(ledger_url)  # opening the ledger put them back
    raw_sql(ledger_url, *set_state(ledger_url, old.id, _flipped(old.event.canonical)))
    rebuild_log(ledger_url)
    ledger = thread.open(ledger_url, clock=clock)
    report = audit_since(ledger, first, verifier_keys=[verifier])
    assert not report.ok
    assert "is not an extension of the trusted checkpoint" in report.findings[0].describe()
    assert not audit(ledger).ok
    ledger.close()


def test_a_cut_tail_and_a_checkpoint_of_another_log_are_refused(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """K2 trusted against the ledger with its newest events deleted; a checkpoint of
    another ledger; a checkpoint whose signature is not the key given."""
    _, _, first, second = _grown(ledger_url, clock)
    other = thread.open(tmp_path / "other.db", clock=clock)
    other_signer, other_verifier = generate_signer(other.origin)
    small_plant(str(tmp_path / "other.db"), Clock())
    foreign = other.checkpoint(other_signer)
    other.close()
    ledger = thread.open(ledger_url, clock=clock)
    assert "is for log" in audit_since(ledger, foreign).findings[0].describe()
    assert "does not verify" in audit_since(ledger, first, verifier_keys=[other_verifier]
                                            ).findings[0].describe()
    ledger.close()
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "DELETE FROM ledger_leaves WHERE position >= ?", (20,))
    ledger = thread.open(ledger_url, clock=clock)
    assert "fewer than the" in audit_since(ledger, second).findings[0].describe()
    ledger.close()


def test_thread_verify_from_a_note_keeps_the_next_one(ledger_url: str, clock: Clock,
                                                      tmp_path: Path) -> None:
    """``--from K1 --keep next.note`` verifies and writes K2; ``--from next.note`` then
    verifies nothing new."""
    _, verifier, first, second = _grown(ledger_url, clock)
    (tmp_path / "k1.note").write_text(first)
    (tmp_path / "k.vkey").write_text(verifier + "\n")
    keep = tmp_path / "next.note"
    result = CliRunner().invoke(main, ["--db", ledger_url, "verify", "--from",
                                       str(tmp_path / "k1.note"), "--vkey",
                                       str(tmp_path / "k.vkey"), "--keep", str(keep)])
    assert result.exit_code == 0, result.output
    assert "11 events after the trusted checkpoint" in result.output
    assert keep.read_text() == second
    result = CliRunner().invoke(main, ["--db", ledger_url, "verify", "--from", str(keep)])
    assert result.exit_code == 0 and "0 events after the trusted checkpoint" in result.output


def test_an_edit_before_the_checkpoint_in_a_chain_touched_since_is_caught(
        ledger_url: str, clock: Clock) -> None:
    """SN-1's inspection before K1 edited in place (its leaf left alone): not derived again
    by the log pass, but SN-1 has an event after K1, so its whole chain is checked and the
    next version no longer links to it."""
    _, verifier, first, _ = _grown(ledger_url, clock)
    drop_append_only_triggers(ledger_url)
    old = next(row_of(ledger_url, "SN-1", version) for version in range(1, 9)
               if row_of(ledger_url, "SN-1", version).event.topic ==
               "quality.inspection-recorded")
    raw_sql(ledger_url, *set_state(ledger_url, old.id, _flipped(old.event.canonical)))
    ledger = thread.open(ledger_url, clock=clock)
    report = audit_since(ledger, first, verifier_keys=[verifier])
    assert not report.ok
    assert "does not link to the hash of version" in report.findings[0].describe()
    assert "part SN-1" in report.findings[0].describe()
    ledger.close()


def test_a_source_record_row_deleted_after_the_checkpoint_is_named(
        ledger_url: str, clock: Clock) -> None:
    """An event recorded after K1 from a source record, then its ledger_sources row deleted
    (a re-send would be recorded twice): verify --from names it, as the whole verify does."""
    _, verifier, first, _ = _grown(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    ledger.record(inspection("NEW-3", measured=19.997), source="cmm", source_record_id="RUN-77")
    ledger.close()
    ledger = thread.open(ledger_url, clock=clock)
    assert audit_since(ledger, first, verifier_keys=[verifier]).ok
    ledger.close()
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "DELETE FROM ledger_sources WHERE source = ?", ("cmm",))
    ledger = thread.open(ledger_url, clock=clock)
    report = audit_since(ledger, first, verifier_keys=[verifier])
    assert not report.ok and "row for it is missing" in report.findings[0].what
    assert "row for it is missing" in audit(ledger, verifier_keys=[verifier]).findings[0].what
    ledger.close()


def test_chains_checked_by_a_second_process_give_the_same_report(
        ledger_url: str, clock: Clock) -> None:
    """The whole verify with its chains and signatures checked in a second process (as it
    does from 200,000 events on) reports what one process does, on an intact ledger and on
    one where an insider edited an old event and dropped a source record's row."""
    _, verifier, _, _ = _grown(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    ledger.record(inspection("NEW-1", measured=19.997), source="cmm", source_record_id="RUN-9")
    here = audit(ledger, verifier_keys=[verifier], workers=1)
    there = audit(ledger, verifier_keys=[verifier], workers=2)
    assert here.ok and there.ok
    assert (there.aggregates, there.event_signatures, there.events) == (
        here.aggregates, here.event_signatures, here.events)
    ledger.close()
    drop_append_only_triggers(ledger_url)
    edited = next(row_of(ledger_url, "SN-2", version) for version in range(1, 9)
                  if row_of(ledger_url, "SN-2", version).event.topic ==
                  "quality.inspection-recorded")
    raw_sql(ledger_url, *set_state(ledger_url, edited.id, _flipped(edited.event.canonical)))
    raw_sql(ledger_url, "DELETE FROM ledger_sources WHERE source = ?", ("cmm",))
    ledger = thread.open(ledger_url, clock=clock)
    here = audit(ledger, verifier_keys=[verifier], workers=1)
    there = audit(ledger, verifier_keys=[verifier], workers=2)
    assert not here.ok and [f.describe() for f in there.findings] == [
        f.describe() for f in here.findings]
    assert any("row for it is missing" in f.what for f in there.findings)
    ledger.close()
