"""Complete dossiers: each checkpoint commits to every subject's head (dtl-map/v1), a dossier
carries its part's map proof, and a dossier with its tail cut is refused offline; thread verify
derives every signed map again and names stored map rows an insider changed, and a map a
key holder signed that leaves out a part's last event; on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Clock, bearing, drop_append_only_triggers, inspection, raw_sql
from web_server import small_plant

import thread
import thread.ledger as ledger_module
import thread.log.audit as audit_module
import thread.log.subject_map as subject_map_module
from thread.cli import main
from thread.domain.envelope import aggregate_id
from thread.log.audit import AuditReport, audit, audit_since
from thread.log.checkpoint import Checkpoint, generate_signer, sign_note
from thread.log.dossier import dossier_of
from thread.log.elsewhere import Elsewhere
from thread.log.map_audit import MapsElsewhere
from thread.log.merkle import leaf_hash
from thread.log.offline import DossierError, verify_dossier
from thread.log.subject_map import (
    BUCKET_DEPTH,
    STORED_DEPTHS,
    Head,
    MapError,
    MapProof,
    Sub,
    find_map_line,
    index_at,
    map_line,
    prove,
    root_of,
    subject_key,
    subtree,
)
from thread.storage.map_store import changed_heads, stored_proof

pytestmark = pytest.mark.contract


def _plant(url: str, clock: Clock) -> tuple[str, str, str, str]:
    """The small plant, checkpoint K1, then new parts and a second inspection of SN-1,
    checkpoint K2: (signer, verifier, K1, K2)."""
    small_plant(url, clock)
    ledger = thread.open(url, clock=clock)
    signer, verifier = generate_signer(ledger.origin)
    first = ledger.checkpoint(signer)
    for n in range(4):
        ledger.record(bearing(f"NEW-{n}"))
    ledger.record(inspection("SN-1", measured=19.991))
    second = ledger.checkpoint(signer)
    ledger.close()
    return signer, verifier, first, second


def _verified(ledger: thread.Ledger, verifier: str) -> AuditReport:
    """thread verify, in one process and with the maps (and chains) derived in processes of
    their own, as on a large ledger: both must report the same."""
    here = audit(ledger, verifier_keys=[verifier], workers=1)
    there = audit(ledger, verifier_keys=[verifier], workers=2)
    assert [f.describe() for f in there.findings] == [f.describe() for f in here.findings]
    assert (there.maps_checked, there.maps_unchecked) == (here.maps_checked,
                                                          here.maps_unchecked)
    return there


def _map_of(note: str) -> tuple[int, bytes, int]:
    """(size, map root, subjects) of a checkpoint note."""
    checkpoint = Checkpoint.from_note(note)
    found = find_map_line(checkpoint.extensions)
    assert found is not None, note
    return checkpoint.size, found.hash, found.subjects


def test_every_checkpoint_commits_to_each_subjects_head(ledger_url: str, clock: Clock) -> None:
    """K1 and K2 each carry the map of every subject's latest version and leaf at their size
    (recomputed whole from the log), and thread verify derives both again."""
    _, verifier, first, second = _plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    for note in (first, second):
        size, root, subjects = _map_of(note)
        heads = changed_heads(ledger.store, 0, size)
        assert root_of(heads).hash == root and subjects == len(heads)
    assert _map_of(second)[2] == _map_of(first)[2] + 4
    report = _verified(ledger, verifier)
    assert report.ok, report.findings
    assert report.maps_checked == 2
    ledger.close()


def test_a_dossier_is_complete_and_a_cut_tail_is_refused(ledger_url: str, clock: Clock) -> None:
    """SN-1's dossier at K2 holds its second inspection and verifies as complete; without its
    last event, or without its map proof, the auditor's verifier refuses it."""
    _, verifier, _, _ = _plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    dossier = dossier_of(ledger, "SN-1").dossier
    ledger.close()
    assert dossier.map is not None and len(dossier.to_bytes()) < 20_000
    verified = verify_dossier(dossier.to_bytes(), verifier)
    assert verified.complete and "every event of the part" in verified.coverage
    cut = dataclasses.replace(dossier, events=dossier.events[:-1])
    with pytest.raises(DossierError, match="were cut from the dossier"):
        verify_dossier(cut.to_bytes(), verifier)
    bare = dataclasses.replace(dossier, map=None)
    with pytest.raises(DossierError, match="carries no map proof"):
        verify_dossier(bare.to_bytes(), verifier)
    # A proof for the cut dossier's last event cannot be made under the signed root.
    shorter = MapProof(dossier.events[-2].version, bytes(32), dossier.map.path)
    with pytest.raises(DossierError, match="does not lead to the subject map root"):
        verify_dossier(dataclasses.replace(cut, map=shorter).to_bytes(), verifier)


def test_a_changed_map_row_is_named_by_verify(ledger_url: str, clock: Clock) -> None:
    """An insider cuts SN-1's head in the stored map back to its previous version: thread verify
    names the map rows, and no dossier of SN-1 is written from them."""
    _, verifier, _, second = _plant(ledger_url, clock)
    size = _map_of(second)[0]
    drop_append_only_triggers(ledger_url)
    key = subject_key(aggregate_id("part", "SN-1").bytes)
    raw_sql(ledger_url, "UPDATE ledger_map_heads SET version = version - 1 WHERE key = ? AND "
                        "size = ?", (key, size))
    ledger = thread.open(ledger_url, clock=clock)
    report = _verified(ledger, verifier)
    assert not report.ok
    assert any("subject map rows stored for the checkpoint" in f.what for f in report.findings)
    with pytest.raises(thread.IntegrityFailure):
        dossier_of(ledger, "SN-1")
    ledger.close()


def test_a_deleted_map_row_before_the_last_checkpoint_is_named(
        ledger_url: str, clock: Clock) -> None:
    """SN-2's head row written at K1 deleted: the map as stored at K1 no longer gives K1's
    root, which thread verify says when it derives K2's map from it."""
    _, verifier, first, _ = _plant(ledger_url, clock)
    drop_append_only_triggers(ledger_url)
    key = subject_key(aggregate_id("part", "SN-2").bytes)
    raw_sql(ledger_url, "DELETE FROM ledger_map_heads WHERE key = ? AND size = ?",
            (key, _map_of(first)[0]))
    ledger = thread.open(ledger_url, clock=clock)
    report = _verified(ledger, verifier)
    assert not report.ok
    assert any("subject map" in f.what for f in report.findings), report.findings
    ledger.close()


def test_a_key_holder_signing_a_map_without_the_last_event_is_caught(
        ledger_url: str, clock: Clock) -> None:
    """The worst insider: holds the signing key, signs K2 again with a map that has SN-1 one
    version short, and hands out a cut dossier with a proof that verifies offline under it.
    thread verify derives the map from the log and names the checkpoint."""
    signer, verifier, _, second = _plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    size = _map_of(second)[0]
    ident = aggregate_id("part", "SN-1")
    key = subject_key(ident.bytes)
    history = ledger.history("SN-1")
    heads = {h.key: h for h in changed_heads(ledger.store, 0, size)}
    previous = history[-2]
    heads[key] = Head(key, previous.originator_version, leaf_hash(previous.canonical))
    forged_root = root_of(heads.values())
    checkpoint = Checkpoint.from_note(second)
    forged = sign_note(Checkpoint(checkpoint.origin, size, checkpoint.root,
                                  (map_line(forged_root),)).body(), signer)
    honest = dossier_of(ledger, "SN-1").dossier
    ledger.close()
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "UPDATE ledger_checkpoints SET note = ? WHERE size = ?", (forged, size))
    # The forged proof: the map recomputed by the insider, SN-1 at its previous version.
    class _Forged:
        def bucket(self, index: int) -> list[Head]:
            return sorted(h for h in heads.values() if index_at(h.key, BUCKET_DEPTH) == index)

    stored: dict[tuple[int, int], Sub] = {}
    for depth in STORED_DEPTHS:
        for index in {index_at(k, depth) for k in heads}:
            stored[(depth, index)] = subtree(sorted(
                h for h in heads.values() if index_at(h.key, depth) == index), depth)
    proof = prove(key, _Forged().bucket(index_at(key, BUCKET_DEPTH)), stored)
    cut = dataclasses.replace(honest, checkpoint=forged, events=honest.events[:-1], map=proof)
    assert verify_dossier(cut.to_bytes(), verifier).complete  # the signature vouches for it
    ledger = thread.open(ledger_url, clock=clock)
    report = _verified(ledger, verifier)
    assert not report.ok
    assert any("is not the subjects' heads in the log" in f.what for f in report.findings)
    ledger.close()


def test_verify_from_a_trusted_checkpoint_checks_the_maps_since(
        ledger_url: str, clock: Clock) -> None:
    """From K1: K2's map derived from K1's and the new events; a changed head row at K2 is
    named."""
    _, verifier, first, _ = _plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    report = audit_since(ledger, first, verifier_keys=[verifier])
    assert report.ok and report.maps_checked == 1
    ledger.close()
    drop_append_only_triggers(ledger_url)
    key = subject_key(aggregate_id("part", "NEW-0").bytes)
    raw_sql(ledger_url, "UPDATE ledger_map_heads SET head = ? WHERE key = ?", (bytes(32), key))
    ledger = thread.open(ledger_url, clock=clock)
    report = audit_since(ledger, first, verifier_keys=[verifier])
    assert not report.ok and "subject map" in report.findings[0].what
    ledger.close()


def test_two_writers_checkpointing_in_turn_keep_one_map(ledger_url: str, clock: Clock) -> None:
    """Two ledgers open on one store record and sign in turn (each one's cached map goes stale
    when the other signs): every map verifies, and a dossier from either is complete."""
    small_plant(ledger_url, clock)
    one = thread.open(ledger_url, clock=clock)
    two = thread.open(ledger_url, clock=clock)
    signer, verifier = generate_signer(one.origin)
    for round_ in range(3):
        one.record(inspection("SN-1", measured=19.99 + round_ / 1000))
        one.checkpoint(signer)
        two.record(bearing(f"TWO-{round_}"))
        two.record(inspection("SN-2", measured=19.99 + round_ / 1000))
        two.checkpoint(signer)
    assert audit(one, verifier_keys=[verifier]).maps_checked == 6
    assert audit(one, verifier_keys=[verifier]).ok
    for ledger, serial in ((one, "SN-2"), (two, "SN-1")):
        assert verify_dossier(dossier_of(ledger, serial).dossier.to_bytes(), verifier).complete
    one.close()
    two.close()


def test_a_ledger_signed_before_maps_gets_one_at_its_next_checkpoint(
        ledger_url: str, clock: Clock) -> None:
    """A checkpoint without a map (as earlier versions signed) stays valid; the next one maps
    every subject from the start, verify derives it, and its dossiers are complete."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    signer, verifier = generate_signer(ledger.origin)
    size, root = ledger.tree_head()
    old = sign_note(Checkpoint(ledger.origin, size, root).body(), signer)
    ledger.store.insert_checkpoint(size, old)
    old_dossier = verify_dossier(dossier_of(ledger, "SN-1").dossier.to_bytes(), verifier)
    assert not old_dossier.complete and "cannot show" in old_dossier.coverage
    ledger.record(inspection("SN-2", measured=19.993))
    new = ledger.checkpoint(signer)
    assert _map_of(new)[2] == len(changed_heads(ledger.store, 0, ledger.count()))
    report = _verified(ledger, verifier)
    assert report.ok and report.maps_checked == 1
    unchecked = audit_since(ledger, old, verifier_keys=[verifier])
    assert unchecked.ok and unchecked.maps_unchecked == 1
    assert verify_dossier(dossier_of(ledger, "SN-2").dossier.to_bytes(), verifier).complete
    proof = stored_proof(ledger.store, _map_of(new)[0], aggregate_id("part", "SN-2").bytes)
    assert proof.root(subject_key(aggregate_id("part", "SN-2").bytes)) == _map_of(new)[1]
    ledger.close()


def test_a_map_far_behind_the_log_is_derived_while_others_write(
        ledger_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger signed before maps, its map far behind the log: the checkpoint derives the
    map of the log as it stands without the write lock (a second ledger on the same store
    commits a fact meanwhile, which would wait for the lock otherwise), signs that size and
    then the head with the other writer's fact; verify derives both maps and the part's
    dossier is complete."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    signer, verifier = generate_signer(ledger.origin)
    size, root = ledger.tree_head()
    ledger.store.insert_checkpoint(size, sign_note(Checkpoint(ledger.origin, size, root).body(),
                                                   signer))
    ledger.record(inspection("SN-2", measured=19.993))
    before = ledger.count()
    monkeypatch.setattr(ledger_module, "MAP_AHEAD", before - 1)
    other = thread.open(ledger_url, clock=clock)
    written = threading.Event()

    def writer() -> None:
        other.record(inspection("SN-1", measured=19.994))
        written.set()

    derive = subject_map_module.advance

    def derive_while_another_writes(view: Any, changes: Any, **kwargs: Any) -> Any:
        if not written.is_set():
            thread_ = threading.Thread(target=writer)
            thread_.start()
            thread_.join(timeout=20)
            assert written.is_set(), "the other writer waited for the lock"
        return derive(view, changes, **kwargs)

    monkeypatch.setattr(ledger_module, "advance", derive_while_another_writes)
    note = ledger.checkpoint(signer)
    assert Checkpoint.from_note(note).size == before + 1 == ledger.count()
    assert [size for size, _ in ledger.checkpoints()] == [size, before, before + 1]
    assert all(find_map_line(Checkpoint.from_note(n).extensions) is not None
               for _, n in ledger.checkpoints()[1:])
    report = _verified(ledger, verifier)
    assert report.ok and report.maps_checked == 2
    assert verify_dossier(dossier_of(ledger, "SN-1").dossier.to_bytes(), verifier).complete
    other.close()
    ledger.close()


def test_the_cli_says_a_dossier_is_complete(ledger_url: str, clock: Clock,
                                            tmp_path: Path) -> None:
    """thread dossier and verify-dossier say the dossier is complete; thread verify counts
    the maps it derived."""
    _, verifier, _, _ = _plant(ledger_url, clock)
    vkey = tmp_path / "log.vkey"
    vkey.write_text(verifier + "\n")
    file = tmp_path / "SN-1.dossier.json"
    runner = CliRunner()
    written = runner.invoke(main, ["--db", ledger_url, "dossier", "SN-1", "-o", str(file)])
    assert written.exit_code == 0 and "complete by its subject map" in written.output
    checked = runner.invoke(main, ["verify-dossier", str(file), "--vkey", str(vkey), "--json"])
    assert checked.exit_code == 0 and '"complete": true' in checked.output
    verified = runner.invoke(main, ["--db", ledger_url, "verify", "--vkey", str(vkey)])
    assert verified.exit_code == 0 and "2 subject maps derived again" in verified.output


def test_a_stream_rolled_back_leaves_no_head_in_the_next_map(
        ledger_url: str, clock: Clock) -> None:
    """A stream that wrote chunks, then failed, is rolled back whole, and the writer's record of
    the heads it moved goes with it: when another writer then brings the log to the same
    size and this one appends and signs, the map holds what landed, not the rolled back."""
    small_plant(ledger_url, clock)
    ledger = thread.open(ledger_url, clock=clock)
    other = thread.open(ledger_url, clock=clock)
    signer, verifier = generate_signer(ledger.origin)
    ledger.checkpoint(signer)
    with pytest.raises(RuntimeError), ledger.stream(chunk=2) as stream:
        for n in range(4):
            stream.record(bearing(f"GONE-{n}"))
        raise RuntimeError("the file ended early")
    with other.batch() as batch:  # as many events as were rolled back
        for n in range(4):
            batch.record(bearing(f"OTHER-{n}"))
    ledger.record(bearing("KEPT-1"))
    note = ledger.checkpoint(signer)
    size, root, _ = _map_of(note)
    assert root_of(changed_heads(ledger.store, 0, size)).hash == root
    assert _verified(ledger, verifier).ok
    other.close()
    ledger.close()


def test_a_map_row_slipped_in_between_checkpoints_is_named(
        ledger_url: str, clock: Clock) -> None:
    """A subtree row inserted at a size where no checkpoint was signed would be read by the
    next checkpoint and by proofs: thread verify names the size."""
    _, verifier, first, _ = _plant(ledger_url, clock)
    size = _map_of(first)[0] + 1
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "INSERT INTO ledger_map_nodes VALUES (?, 16, 7, ?, 1)",
            (size, bytes(32)))
    ledger = thread.open(ledger_url, clock=clock)
    report = _verified(ledger, verifier)
    assert not report.ok
    assert any(f"stored at size {size}" in f.what for f in report.findings), report.findings
    ledger.close()


def test_a_deleted_bucket_subtree_stops_the_next_checkpoint(
        ledger_url: str, clock: Clock) -> None:
    """An insider deletes the stored subtree of SN-1's bucket: the next checkpoint touching it
    refuses to sign (its siblings no longer give the subtree above them) and writes nothing,
    and thread verify names the stored map."""
    signer, verifier, _, second = _plant(ledger_url, clock)
    key = subject_key(aggregate_id("part", "SN-1").bytes)
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "DELETE FROM ledger_map_nodes WHERE depth = ? AND idx = ?",
            (BUCKET_DEPTH, index_at(key, BUCKET_DEPTH)))
    ledger = thread.open(ledger_url, clock=clock)
    ledger.record(inspection("SN-1", measured=19.992))
    with pytest.raises(MapError, match="do not give them"):
        ledger.checkpoint(signer)
    assert ledger.checkpoints()[-1][1] == second
    report = _verified(ledger, verifier)
    assert not report.ok
    assert any("subject map" in f.what for f in report.findings), report.findings
    ledger.close()


def test_a_failed_map_process_leaves_the_maps_to_this_one(
        ledger_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """When the process deriving the maps dies, verify says why in a warning and derives them
    itself from the start: the same report, a changed map row still named."""
    _, verifier, _, second = _plant(ledger_url, clock)

    def broken(module: str, function: str, what: str) -> Elsewhere:
        return Elsewhere(module, "serve_nothing" if function == "serve_maps" else function, what)

    monkeypatch.setattr(audit_module, "Elsewhere", broken)
    ledger = thread.open(ledger_url, clock=clock)
    report = audit(ledger, verifier_keys=[verifier], workers=2)
    assert report.ok and report.maps_checked == 2
    assert ("the process verifying the subject maps failed: ImportError: cannot import name "
            "'serve_nothing'") in caplog.text
    ledger.close()
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "UPDATE ledger_map_heads SET version = version + 1 WHERE size = ?",
            (_map_of(second)[0],))
    ledger = thread.open(ledger_url, clock=clock)
    report = audit(ledger, verifier_keys=[verifier], workers=2)
    assert [f.describe() for f in report.findings] == [
        f.describe() for f in audit(ledger, verifier_keys=[verifier], workers=1).findings]
    assert any("subject map rows stored for the checkpoint" in f.what for f in report.findings)
    ledger.close()


def test_a_map_process_killed_mid_verify_leaves_the_maps_to_this_one(
        ledger_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The map process SIGKILLed after the first checkpoint was sent to it: verify derives
    the maps in its own process from the start, with a warning, and still names a changed
    map row at the second checkpoint."""
    _, verifier, _, second = _plant(ledger_url, clock)
    drop_append_only_triggers(ledger_url)
    raw_sql(ledger_url, "UPDATE ledger_map_heads SET version = version + 1 WHERE size = ?",
            (_map_of(second)[0],))
    sent = MapsElsewhere.reached

    def reached_then_killed(self: MapsElsewhere, size: int, checkpoints: Any) -> None:
        sent(self, size, checkpoints)
        process = self._process._process
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    monkeypatch.setattr(MapsElsewhere, "reached", reached_then_killed)
    ledger = thread.open(ledger_url, clock=clock)
    report = audit(ledger, verifier_keys=[verifier], workers=2)
    assert "the process verifying the subject maps failed" in caplog.text
    assert report.maps_checked == 2
    assert any("subject map rows stored for the checkpoint" in f.what for f in report.findings)
    ledger.close()
