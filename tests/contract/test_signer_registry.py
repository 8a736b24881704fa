"""The signer registry and the signing ceremony: only registered signers sign, with the key
registered for them at that moment, after identifying themselves; failed attempts are
recorded and lock the signer; an insider's shortcuts are refused and caught by verify."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import Clock, bearing, released_bearing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from signers import PASSPHRASE, founded, key_file, registered

import thread
from thread.domain import facts as f
from thread.domain.signature import Signer
from thread.errors import RuleViolation, SigningRefused
from thread.log.audit import audit, audit_since
from thread.log.checkpoint import generate_signer
from thread.signing import registry
from thread.signing.ceremony import SessionExpired, SigningSession
from thread.signing.keys import read_signer_key

pytestmark = pytest.mark.contract


def _nc(ledger: thread.Ledger, serial: str = "SN-1", nc: str = "NC-1") -> f.DispositionRecorded:
    """A part with an open non-conformance, and the disposition that closes it."""
    try:
        ledger.design("BRG-6204")
    except thread.UnknownSubject:
        ledger.record(released_bearing())
    ledger.record(bearing(serial))
    ledger.record(f.NonConformanceOpened(serial=serial, non_conformance=nc,
                                         description="bore undersize"))
    return f.DispositionRecorded(serial=serial, non_conformance=nc, decision="use-as-is",
                                 rationale="within function")


def test_a_registered_signer_signs_through_a_session(ledger: thread.Ledger,
                                                     tmp_path: Path) -> None:
    """Registered by the administrator, a signer opens a session and signs a disposition."""
    admin = founded(ledger, tmp_path)
    session = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei")
    disposition = _nc(ledger)
    ledger.record(disposition, sign=session.open(PASSPHRASE))
    signature = ledger.history("SN-1")[-1].fact
    assert isinstance(signature, f.SignatureApplied)
    assert (signature.signer, signature.printed_name) == ("k.osei", "Kwame Osei")
    account = ledger.signer("k.osei")
    assert account.roles == ("quality-engineer",) and account.active_key is not None
    assert account.active_key.public_key == signature.public_key
    topics = [e.topic for e in ledger.history_of("signer", "k.osei")]
    assert topics == [f.SignerRegistered.topic, f.SignatureApplied.topic,
                      f.SigningSessionOpened.topic]
    assert audit(ledger).ok


def test_the_registry_starts_with_an_administrator_registering_themselves(
        ledger: thread.Ledger, tmp_path: Path) -> None:
    """On an empty registry, only a self-signed administrator registration is accepted."""
    path, public = key_file(tmp_path, "eve")
    eve = Signer("eve", "Eve", read_signer_key(path, PASSPHRASE))
    with pytest.raises(SigningRefused, match="starts with an administrator"):
        registry.register(ledger, eve, "eve", "Eve", ["quality-engineer"], public)
    with pytest.raises(SigningRefused, match="starts with an administrator"):
        registry.register(ledger, eve, "mallory", "Mallory", ["administrator"], public)
    assert ledger.count() == 0
    with pytest.raises(thread.InvalidFact, match="never recorded unsigned"):
        ledger.record(f.SignerRegistered(signer="eve", printed_name="Eve",
                                         roles=("administrator",), public_key=public,
                                         valid_from=ledger.clock()))
    assert ledger.count() == 0


def test_an_unregistered_or_non_admin_signer_is_refused(ledger: thread.Ledger,
                                                        tmp_path: Path) -> None:
    """Once the registry exists, an unknown key signs nothing and only admins change it."""
    admin = founded(ledger, tmp_path)
    session = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei")
    disposition = _nc(ledger)
    before = ledger.count()
    stranger = Signer("m.ruiz", "Marta Ruiz", Ed25519PrivateKey.generate())
    with pytest.raises(SigningRefused, match="not in the signer registry"):
        ledger.record(disposition, sign=stranger)
    assert ledger.count() == before
    osei = session.open(PASSPHRASE)
    _, public = key_file(tmp_path, "m.ruiz")
    with pytest.raises(SigningRefused, match="signed by an administrator"):
        registry.register(ledger, osei, "m.ruiz", "Marta Ruiz", ["operator"], public)
    with pytest.raises(SigningRefused, match="by another administrator"):
        registry.change_roles(ledger, admin, "admin", ["administrator", "auditor"])


def test_another_users_key_and_a_wrong_passphrase_fail_and_lock(ledger: thread.Ledger,
                                                                tmp_path: Path) -> None:
    """Someone else's key file, then wrong passphrases: each attempt is recorded; the third
    locks the signer until an administrator unlocks them."""
    admin = founded(ledger, tmp_path)
    osei = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei")
    ruiz = registered(ledger, admin, tmp_path, "m.ruiz", "Marta Ruiz")
    impostor = SigningSession(ledger, "k.osei", ruiz.key_file)
    with pytest.raises(SigningRefused, match=r"is not a key registered for signer k\.osei"):
        impostor.open(PASSPHRASE)
    with pytest.raises(SigningRefused, match="passphrase does not open"):
        osei.open("wrong passphrase")
    with pytest.raises(SigningRefused, match="now locked"):
        osei.open("still wrong")
    with pytest.raises(SigningRefused, match="locked"):
        osei.open(PASSPHRASE)
    topics = [e.topic for e in ledger.history_of("signer", "k.osei")]
    assert topics[-5:] == [f.SigningFailed.topic] * 3 + [f.SignerLocked.topic,
                                                          f.SigningFailed.topic]
    reasons = [e.fact.reason for e in ledger.history_of("signer", "k.osei")
               if isinstance(e.fact, f.SigningFailed)]
    assert reasons == ["wrong key", "wrong passphrase", "wrong passphrase", "locked"]
    # the key itself, taken out of the file, signs nothing while the signer is locked
    key = read_signer_key(osei.key_file, PASSPHRASE)
    disposition = _nc(ledger)
    with pytest.raises(SigningRefused, match="locked"):
        ledger.record(disposition, sign=Signer("k.osei", "Kwame Osei", key))
    registry.unlock(ledger, admin, "k.osei", "identity confirmed in person")
    ledger.record(disposition, sign=osei.open(PASSPHRASE))
    assert not ledger.signer("k.osei").locked


def test_a_revoked_key_signs_nothing_more_and_its_old_signatures_stay_valid(
        ledger: thread.Ledger, tmp_path: Path) -> None:
    """Revocation stops the key from now on; rotation brings a new one; verify passes."""
    admin = founded(ledger, tmp_path)
    osei = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei")
    ledger.record(_nc(ledger, "SN-1"), sign=osei.open(PASSPHRASE))
    old_key = Signer("k.osei", "Kwame Osei", read_signer_key(osei.key_file, PASSPHRASE))
    registry.revoke(ledger, admin, "k.osei", "compromised", "laptop stolen")
    second = _nc(ledger, "SN-2")
    before = ledger.count()
    with pytest.raises(SigningRefused, match="was revoked"):
        ledger.record(second, sign=old_key)
    assert ledger.history_of("signer", "k.osei")[-1].topic == f.SigningFailed.topic
    assert ledger.count() == before + 1  # the failed attempt, nothing else
    with pytest.raises(SigningRefused, match="was revoked"):
        osei.open(PASSPHRASE)
    new_path, new_public = key_file(tmp_path, "k.osei-2")
    registry.rotate(ledger, admin, "k.osei", new_public)
    ledger.record(second, sign=SigningSession(ledger, "k.osei", new_path).open(PASSPHRASE))
    with pytest.raises(RuleViolation, match="already had key"):
        registry.rotate(ledger, admin, "k.osei", old_key.public_key.hex())
    report = audit(ledger)
    assert report.ok, [x.describe() for x in report.findings]


def test_a_signature_cannot_be_moved_to_another_record(ledger: thread.Ledger,
                                                       tmp_path: Path) -> None:
    """A signature copied onto another part's event, or re-signed by hand, is refused."""
    admin = founded(ledger, tmp_path)
    osei = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei")
    ledger.record(_nc(ledger, "SN-1"), sign=osei.open(PASSPHRASE))
    _nc(ledger, "SN-2")
    signature = ledger.history("SN-1")[-1].fact
    assert isinstance(signature, f.SignatureApplied)
    target = ledger.history("SN-2")[-1]
    before = ledger.count()
    moved = signature.model_copy(update={"key": "SN-2"})
    with pytest.raises(RuleViolation, match="not an event of this subject"):
        ledger.record(moved)
    pointed = moved.model_copy(update={"signed_version": target.originator_version,
                                       "signed_hash": target.hash.hex()})
    with pytest.raises(thread.SignatureInvalid, match="does not verify"):
        ledger.record(pointed)
    assert ledger.count() == before


def test_a_session_signs_with_the_passphrase_until_it_is_idle(ledger: thread.Ledger,
                                                              tmp_path: Path) -> None:
    """After opening, the passphrase alone signs; idle too long, the session must reopen."""
    admin = founded(ledger, tmp_path)
    ticks = [0.0]
    path, public = key_file(tmp_path, "k.osei")
    registry.register(ledger, admin, "k.osei", "Kwame Osei", ["quality-engineer"], public)
    session = SigningSession(ledger, "k.osei", path, idle=timedelta(minutes=10),
                             clock=lambda: ticks[0])
    with pytest.raises(SessionExpired):
        session.signer(PASSPHRASE)
    session.open(PASSPHRASE)
    ticks[0] += 9 * 60
    ledger.record(_nc(ledger, "SN-1"), sign=session.signer(PASSPHRASE))
    ticks[0] += 11 * 60
    with pytest.raises(SessionExpired, match="idle"):
        session.signer(PASSPHRASE)
    with pytest.raises(SigningRefused, match="passphrase"):
        session.open("not it at all")


def test_verify_checks_each_signature_against_the_registry_at_its_position(
        ledger: thread.Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        clock: Clock) -> None:
    """A rogue writer that skips the registry check stores a revoked key's signature; verify
    names it (and passes the signatures made before the revocation)."""
    admin = founded(ledger, tmp_path)
    osei = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei")
    ledger.record(_nc(ledger, "SN-1"), sign=osei.open(PASSPHRASE))
    old_key = Signer("k.osei", "Kwame Osei", read_signer_key(osei.key_file, PASSPHRASE))
    registry.revoke(ledger, admin, "k.osei", "left")
    assert audit(ledger).ok
    monkeypatch.setattr("thread.ledger.signing_refusal", lambda *args: None)
    ledger.record(_nc(ledger, "SN-2"), sign=old_key)
    report = audit(ledger)
    assert not report.ok
    [finding] = report.findings
    assert "k.osei" in finding.what and "revoked" in finding.what
    assert finding.subject == "part SN-2"


def test_a_registry_founded_by_another_writer_binds_this_one(
        ledger: thread.Ledger, ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """A writer that signed freely while no signer was registered, and so remembers the events
    it has seen hold no registration, refuses an unregistered key once another writer on the
    same ledger founds the registry (it looks at the events since, not at none)."""
    stranger = Signer("m.ruiz", "Marta Ruiz", Ed25519PrivateKey.generate())
    ledger.record(_nc(ledger, "SN-1", "NC-1"), sign=stranger)
    other = thread.open(ledger_url, clock=clock, actor="other")
    try:
        founded(other, tmp_path)
    finally:
        other.close()
    before = ledger.count()
    with pytest.raises(SigningRefused, match="not in the signer registry"):
        ledger.record(_nc(ledger, "SN-2", "NC-2"), sign=stranger)
    assert ledger.count() == before + 2  # the part and its non-conformance, not the signature


def _trusted(ledger: thread.Ledger) -> tuple[str, str, str]:
    """A checkpoint signed now: (signer key, verifier key, note) for verify --from."""
    signer, verifier = generate_signer(ledger.origin)
    return signer, verifier, ledger.checkpoint(signer)


def test_verify_from_a_checkpoint_judges_the_signatures_made_since(
        ledger: thread.Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revoked key's signature stored after the trusted checkpoint by a writer that skips
    the registry check is named by verify --from, which judges only the signatures since
    (the one before the revocation was judged by the run that trusted the checkpoint)."""
    admin = founded(ledger, tmp_path)
    osei = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei")
    ledger.record(_nc(ledger, "SN-1"), sign=osei.open(PASSPHRASE))
    old_key = Signer("k.osei", "Kwame Osei", read_signer_key(osei.key_file, PASSPHRASE))
    registry.revoke(ledger, admin, "k.osei", "left")
    signer, verifier, trusted = _trusted(ledger)
    ledger.record(_nc(ledger, "SN-3", "NC-3"), sign=admin)
    clean = audit_since(ledger, trusted, verifier_keys=[verifier])
    assert clean.ok and clean.event_signatures == 1, clean.findings
    monkeypatch.setattr("thread.ledger.signing_refusal", lambda *args: None)
    ledger.record(_nc(ledger, "SN-2"), sign=old_key)
    ledger.checkpoint(signer)
    report = audit_since(ledger, trusted, verifier_keys=[verifier])
    assert not report.ok and report.event_signatures == 2
    [finding] = report.findings
    assert "k.osei" in finding.what and "revoked" in finding.what
    assert finding.subject == "part SN-2"


def test_verify_from_knows_a_registry_founded_before_the_checkpoint(
        ledger: thread.Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry was founded long before the trusted checkpoint, by signers the new
    events never name: an unregistered key's signature stored since is still refused."""
    founded(ledger, tmp_path)
    ledger.record(released_bearing())
    for n in range(5):
        ledger.record(bearing(f"B-{n}"))
    _, verifier, trusted = _trusted(ledger)
    monkeypatch.setattr("thread.ledger.signing_refusal", lambda *args: None)
    stranger = Signer("m.ruiz", "Marta Ruiz", Ed25519PrivateKey.generate())
    ledger.record(_nc(ledger, "SN-2"), sign=stranger)
    report = audit_since(ledger, trusted, verifier_keys=[verifier])
    assert not report.ok
    [finding] = report.findings
    assert "m.ruiz" in finding.what and finding.subject == "part SN-2"


def test_verify_from_accepts_signatures_on_a_ledger_without_a_registry(
        ledger: thread.Ledger) -> None:
    """With no signer ever registered, any valid signature stands, since a checkpoint too."""
    ledger.record(released_bearing())
    _, verifier, trusted = _trusted(ledger)
    stranger = Signer("m.ruiz", "Marta Ruiz", Ed25519PrivateKey.generate())
    ledger.record(_nc(ledger, "SN-2"), sign=stranger)
    report = audit_since(ledger, trusted, verifier_keys=[verifier])
    assert report.ok and report.event_signatures == 1, report.findings
