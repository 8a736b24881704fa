"""The role policy (Cedar) on every write, signature and read: an operator records production
but not a disposition, signs nothing; only the MRB or a quality engineer signs a disposition;
a refusal names the rule or says none permits it, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Clock, bearing, inspection, released_bearing
from signers import PASSPHRASE, founded, registered

import thread
from thread.access.policy import AccessRefused, Identity, Policy, PolicyError
from thread.domain import facts as f
from thread.signing.ceremony import SigningSession

pytestmark = pytest.mark.contract

OPERATOR = Identity("o.lund", ("operator",))
ENGINEER = Identity("k.osei", ("quality-engineer",))


def _open(url: str, clock: Clock, who: Identity, policy: Policy | None = None
          ) -> thread.Ledger:
    return thread.open(url, clock=clock, actor=who.user, policy=policy or Policy.default(),
                       identity=who)


def test_each_role_records_what_the_policy_allows(ledger_url: str, clock: Clock,
                                                  tmp_path: Path) -> None:
    """The operator registers a part; a disposition by them is refused by name; the
    engineer's signed disposition lands."""
    setup = thread.open(ledger_url, clock=clock)
    admin = founded(setup, tmp_path)
    osei = registered(setup, admin, tmp_path, "k.osei", "Kwame Osei")
    setup.record(released_bearing())
    setup.close()
    operator = _open(ledger_url, clock, OPERATOR)
    operator.record(bearing("SN-1"))
    before = operator.count()
    with pytest.raises(AccessRefused, match=r"o\.lund \(operator\) may not record "
                                            r"quality\.inspection-recorded on part SN-1: no "
                                            r"rule of the policy permits it"):
        operator.record(inspection("SN-1", 19.95, "fail"))
    with pytest.raises(AccessRefused, match=r"may not record quality\.non-conformance-opened"):
        operator.record(f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1",
                                               description="bore undersize"))
    assert [event.topic for event in operator.history("SN-1")] == [f.PartRegistered.topic]
    refusals = [event.fact for event in operator.history_of("signer", "o.lund")]
    assert operator.count() == before + 2  # the refused attempts, on the operator's account
    assert [(r.action, r.what, r.key) for r in refusals
            if isinstance(r, f.AccessAttemptRefused)] == [
        ("record", "quality.inspection-recorded", "SN-1"),
        ("record", "quality.non-conformance-opened", "SN-1")]
    operator.close()
    engineer = _open(ledger_url, clock, ENGINEER)
    engineer.record(f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1",
                                           description="bore undersize"))
    disposition = f.DispositionRecorded(serial="SN-1", non_conformance="NC-1",
                                        decision="scrap", rationale="undersize")
    engineer.record(disposition,
                    sign=SigningSession(engineer, "k.osei", osei.key_file).open(PASSPHRASE))
    assert engineer.history("SN-1")[-1].topic == f.SignatureApplied.topic
    engineer.close()


def test_a_signature_is_checked_for_the_signer_s_registered_roles(
        ledger_url: str, clock: Clock, tmp_path: Path) -> None:
    """An engineer records; the inspector registered beside them may not sign a disposition."""
    setup = thread.open(ledger_url, clock=clock)
    admin = founded(setup, tmp_path)
    inspector = registered(setup, admin, tmp_path, "i.novak", "Irena Novak", ("inspector",))
    setup.record(released_bearing())
    setup.record(bearing("SN-1"))
    setup.record(f.NonConformanceOpened(serial="SN-1", non_conformance="NC-1",
                                        description="bore undersize"))
    setup.close()
    engineer = _open(ledger_url, clock, ENGINEER)
    before = engineer.count()
    with pytest.raises(AccessRefused, match=r"i\.novak \(inspector\) may not sign"):
        engineer.record(f.DispositionRecorded(serial="SN-1", non_conformance="NC-1",
                                              decision="scrap", rationale="undersize"),
                        sign=SigningSession(engineer, "i.novak",
                                            inspector.key_file).open(PASSPHRASE))
    # the inspector's session and the refusal on the engineer's account, nothing else
    assert engineer.count() == before + 2
    refusal = engineer.history_of("signer", "k.osei")[-1].fact
    assert isinstance(refusal, f.AccessAttemptRefused)
    assert refusal.what == "quality.disposition-recorded"
    engineer.close()


def test_reads_are_decided_and_a_forbid_rule_is_named(ledger_url: str, clock: Clock) -> None:
    """A plant rule forbidding reads of another site's parts refuses history and trace."""
    setup = thread.open(ledger_url, clock=clock)
    setup.record(released_bearing())
    setup.record(f.PartRegistered(serial="SN-9", part_number="BRG-6204", revision="A",
                                  site="Pune"))
    setup.close()
    text = Policy.default_text() + """
@id("readers see their own site's parts only")
forbid (principal, action == Action::"read", resource)
when { context.site != "" && context.site != principal.site };
"""
    policy = Policy(text, "plant.cedar")
    away = _open(ledger_url, clock, Identity("a.diaz", ("auditor",), site="Leeds"), policy)
    with pytest.raises(AccessRefused, match="readers see their own site's parts only"):
        away.history("SN-9")
    with pytest.raises(AccessRefused, match="own site"):
        away.trace("SN-9")
    away.close()
    home = _open(ledger_url, clock, Identity("p.rao", ("auditor",), site="Pune"), policy)
    assert home.trace("SN-9").key == "SN-9"
    home.close()


def test_a_bad_policy_file_is_one_line(tmp_path: Path) -> None:
    """A policy Cedar cannot parse is refused with the file name and Cedar's words."""
    path = tmp_path / "plant.cedar"
    path.write_text("permit(principal, action, resource) when { bogus };\n")
    with pytest.raises(PolicyError, match=r"plant\.cedar: .*bogus"):
        Policy.from_file(path)
