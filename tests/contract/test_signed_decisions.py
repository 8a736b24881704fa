"""Decisions a person answers for are recorded signed or not at all (21 CFR Part 11): a
disposition, a release from quarantine, a recall and a CAPA's closure."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import bearing, released_bearing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from signers import PASSPHRASE, founded, registered

import thread
from thread import facts as f
from thread.domain.signature import Signer
from thread.errors import InvalidFact
from thread.records import device_history_record
from thread.signing import registry

pytestmark = pytest.mark.contract

SERIAL = "SN-1"
QE = Signer("qe-4", "Dana Quality", Ed25519PrivateKey.generate())
UNSIGNED = "never recorded unsigned"

#: Each signed decision: what the part needs before it, and the decision.
DECISIONS: dict[str, tuple[tuple[f.Fact, ...], f.Fact]] = {
    "disposition": (
        (f.NonConformanceOpened(serial=SERIAL, non_conformance="NC-1",
                                description="bore undersize"),),
        f.DispositionRecorded(serial=SERIAL, non_conformance="NC-1", decision="use-as-is",
                              rationale="within function"),
    ),
    "release from quarantine": (
        (f.Quarantined(serial=SERIAL, reason="suspect heat lot"),),
        f.ReleasedFromQuarantine(serial=SERIAL, reason="heat lot cleared"),
    ),
    "recall": (
        (),
        f.Recalled(serial=SERIAL, recall="R-1", reason="supplier bore defect"),
    ),
    "CAPA closure": (
        (f.CorrectiveActionOpened(serial=SERIAL, capa="CAPA-1", problem="bore drift"),),
        f.CorrectiveActionClosed(serial=SERIAL, capa="CAPA-1", resolution="new wheel",
                                 effective=True),
    ),
}


@pytest.fixture(params=list(DECISIONS))
def decision(request: pytest.FixtureRequest, ledger: thread.Ledger) -> f.Fact:
    """A registered bearing ready for one signed decision, and that decision."""
    before, fact = DECISIONS[request.param]
    ledger.record(released_bearing())
    ledger.record(bearing(SERIAL))
    for fact_before in before:
        ledger.record(fact_before)
    return fact


def test_each_decision_kind_needs_a_signature(decision: f.Fact) -> None:
    """The fact kind itself says it is signed."""
    assert type(decision).needs_signature


def test_an_unsigned_decision_is_refused_and_nothing_is_written(
        ledger: thread.Ledger, decision: f.Fact) -> None:
    """Recorded alone, in a batch or in a stream, an unsigned decision writes nothing."""
    before = ledger.count()
    with pytest.raises(InvalidFact, match=UNSIGNED):
        ledger.record(decision)
    assert ledger.count() == before
    with pytest.raises(InvalidFact, match=UNSIGNED), ledger.batch() as batch:
        batch.record(bearing("SN-2"))
        batch.record(decision)
    assert ledger.count() == before
    with pytest.raises(InvalidFact, match=UNSIGNED), ledger.stream() as stream:
        stream.record(bearing("SN-3"))
        stream.record(decision)
    assert ledger.count() == before


def test_a_signed_decision_is_recorded_with_its_signature(
        ledger: thread.Ledger, decision: f.Fact) -> None:
    """Signed, the decision lands with a signature over its event, by the signer."""
    before = ledger.count()
    ledger.record(decision, sign=QE, meaning="approval")
    assert ledger.count() == before + 2
    recorded, signature = ledger.history(SERIAL)[-2:]
    assert recorded.fact == decision
    assert isinstance(signature.fact, f.SignatureApplied)
    assert signature.fact.signed_hash == recorded.hash.hex()
    assert (signature.fact.signer, signature.fact.printed_name, signature.fact.meaning) == (
        "qe-4", "Dana Quality", "approval")
    thread.verify_signature(signature.fact, trusted_key=QE.public_key)


def test_a_dhr_verifies_signatures_against_the_signer_registry(
        ledger: thread.Ledger, tmp_path: Path) -> None:
    """With a registry, a disposition signed with the signer's registered key reads VERIFIED
    in the DHR without a pinned key, and stays so after the key is revoked later."""
    admin = founded(ledger, tmp_path)
    session = registered(ledger, admin, tmp_path, "k.osei", "Kwame Osei")
    ledger.record(released_bearing())
    ledger.record(bearing(SERIAL))
    ledger.record(f.NonConformanceOpened(serial=SERIAL, non_conformance="NC-1",
                                         description="bore undersize"))
    signer = session.open(PASSPHRASE)
    ledger.record(f.DispositionRecorded(serial=SERIAL, non_conformance="NC-1",
                                        decision="scrap", rationale="undersize"), sign=signer)
    first = device_history_record(ledger, SERIAL).signatures
    assert [(s.signer, s.status) for s in first] == [("k.osei", "verified")]
    assert "signer registry held for k.osei (Kwame Osei)" in first[0].verification
    registry.revoke(ledger, admin, "k.osei", "left")
    after = device_history_record(ledger, SERIAL).signatures
    assert [s.status for s in after] == ["verified"]
