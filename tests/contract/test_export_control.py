"""ITAR, EAR and residency labels on every read path: a design item's labels reach its parts
unless they state their own; a reader without clearance sees that a controlled fact exists,
its time and kind, never its content; documents are refused whole; every read of
controlled data and every refusal is on the reader's account."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import Clock

import thread
from thread.access.policy import AccessRefused, Identity, Policy
from thread.domain import facts as f
from thread.errors import RuleViolation
from thread.log.checkpoint import generate_signer
from thread.log.dossier import dossier_of
from thread.records import device_history_record

pytestmark = pytest.mark.contract

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
FOREIGN = Identity("f.martin", ("quality-engineer",), citizenship=("FR",), country="FR")
US = Identity("u.smith", ("auditor",), us_person=True, citizenship=("US",), country="US")
LICENSED = Identity("l.weber", ("auditor",), citizenship=("DE",), country="US",
                    licences=("ITAR:XI",))
SECRET = "GIMBAL-7741-TORQUE-PROFILE"


def _plant(ledger: thread.Ledger) -> None:
    """A controlled seeker housing (ITAR:XI), its part SN-1 on mill M, installed in
    assembly A-1 of an uncontrolled design, and an uncontrolled part SN-2."""
    ledger.record(f.RevisionReleased(part_number="SEEKER", revision="A", part_name=SECRET,
                                     drawing="D-1"))
    ledger.record(f.RevisionReleased(part_number="FRAME", revision="A", part_name="Frame",
                                     drawing="D-2"))
    ledger.record(f.ExportClassified(kind="design", key="SEEKER", labels=("ITAR:XI",),
                                     reason="CJ determination"))
    ledger.record(f.MachineRegistered(machine="M", name="Mill", kind="mill"))
    for serial, number in (("SN-1", "SEEKER"), ("SN-2", "FRAME"), ("A-1", "FRAME")):
        ledger.record(f.PartRegistered(serial=serial, part_number=number, revision="A"))
        ledger.record(f.OperationPerformed(
            serial=serial, operation="OP10", station="ST", machine="M", operator="op",
            started_at=T0, ended_at=T0.replace(minute=30), cycle_time_s=1800))
    ledger.record(f.ComponentInstalled(serial="A-1", component="SN-1", position="P1"))


def _as(url: str, clock: Clock, who: Identity) -> thread.Ledger:
    return thread.open(url, clock=clock, actor=who.user, policy=Policy.default(),
                       identity=who)


def _account(ledger: thread.Ledger, user: str) -> list[f.Fact]:
    return [event.fact for event in ledger.history_of("signer", user)]


def test_a_part_inherits_its_design_item_s_labels_unless_it_states_its_own(
        ledger: thread.Ledger) -> None:
    """SN-1 inherits ITAR:XI; a statement on SN-2 overrides; one event can carry its own."""
    _plant(ledger)
    assert ledger.classification("part", "SN-1").subject == ("ITAR:XI",)
    assert not ledger.classification("part", "SN-1").stated
    assert not ledger.classification("part", "SN-2").controlled
    ledger.record(f.ExportClassified(kind="part", key="SN-1", labels=()))
    assert not ledger.classification("part", "SN-1").controlled  # stated: not controlled
    ledger.record(f.ExportClassified(kind="part", key="SN-2", labels=("EAR:3A001",),
                                     version=2))
    assert ledger.classification("part", "SN-2").of(2) == ("EAR:3A001",)
    assert ledger.classification("part", "SN-2").of(1) == ()
    with pytest.raises(RuleViolation, match="names version 99"):
        ledger.record(f.ExportClassified(kind="part", key="SN-2", labels=("EAR99",),
                                         version=99))
    with pytest.raises(thread.InvalidFact, match=r"labels\.0.*'ITAR:XXX'"):
        f.ExportClassified(kind="part", key="SN-2", labels=("ITAR:XXX",))


def test_an_uncleared_reader_sees_existence_time_and_kind_never_content(
        ledger_url: str, clock: Clock) -> None:
    """History, scan, trace, genealogy and recall withhold SN-1's content from a foreign
    national; its state, DHR, dossier and the part number's series are refused whole."""
    setup = thread.open(ledger_url, clock=clock)
    _plant(setup)
    signer, _ = generate_signer("test/plant")
    setup.checkpoint(signer)
    setup.close()
    reader = _as(ledger_url, clock, FOREIGN)
    history = reader.history("SN-1")
    assert [type(e.fact) for e in history] == [f.Withheld] * len(history)
    assert history[0].fact.withheld_topic == f.PartRegistered.topic  # type: ignore[attr-defined]
    assert all(e.canonical == b"" and len(e.hash) == 32 for e in history)
    assert SECRET not in repr(history)
    scanned = [e.fact for _, e in reader.scan(topics=[f.PartRegistered.topic])]
    assert [type(x) for x in scanned] == [f.Withheld, f.PartRegistered, f.PartRegistered]
    story = reader.trace("SN-1")
    assert story.operations == () and story.design is None
    assert {e.summary for e in story.timeline} == {"withheld (ITAR:XI)"}
    assert SECRET not in story.model_dump_json()
    tree = reader.genealogy("A-1")
    assert (tree.nodes[0].key, tree.nodes[0].part_number) == ("SN-1", None)
    assert tree.nodes[0].location == "withheld (ITAR:XI)"
    scope = reader.recall_scope(machine="M", start=T0, end=T0.replace(hour=7))
    shown = {a.key: a.operation for a in scope.affected}
    assert shown["SN-1"] == "withheld (ITAR:XI)" and shown["SN-2"] == "OP10"
    for refused in (lambda: reader.part("SN-1"), lambda: reader.design("SEEKER"),
                    lambda: device_history_record(reader, "SN-1"),
                    lambda: dossier_of(reader, "SN-1"),
                    lambda: reader.series("inspection.1", part_number="SEEKER")):
        with pytest.raises(AccessRefused, match="ITAR:XI"):
            refused()
    assert reader.part("SN-2").part_number == "FRAME"  # the rest of the plant is readable
    refusals = [x for x in _account(reader, "f.martin")
                if isinstance(x, f.AccessAttemptRefused)]
    assert {r.what for r in refusals} >= {"history", "trace", "state", "series", "genealogy",
                                          "recall"}
    assert not any(isinstance(x, f.ControlledDataRead) for x in _account(reader, "f.martin"))
    reader.close()


def test_a_cleared_reader_reads_and_each_read_is_on_record(ledger_url: str,
                                                           clock: Clock) -> None:
    """A US person and a holder of an ITAR:XI licence read everything; each read of SN-1's
    controlled data names the view and the labels on their account."""
    setup = thread.open(ledger_url, clock=clock)
    _plant(setup)
    setup.close()
    for who in (US, LICENSED):
        reader = _as(ledger_url, clock, who)
        assert reader.history("SN-1")[0].fact.part_number == "SEEKER"  # type: ignore[attr-defined]
        assert reader.trace("SN-1").operations[0].machine == "M"
        assert device_history_record(reader, "SN-1").key == "SN-1"
        reads = [(x.view, x.key, x.labels) for x in _account(reader, who.user)
                 if isinstance(x, f.ControlledDataRead)]
        assert ("trace", "SN-1", ("ITAR:XI",)) in reads
        # the history read, and the DHR's (it reads the chain-verified history)
        assert reads.count(("history", "SN-1", ("ITAR:XI",))) == 2
        assert ("history", "SEEKER", ("ITAR:XI",)) in reads  # the DHR's design item
        reader.close()


def test_an_event_label_withholds_that_event_only(ledger_url: str, clock: Clock) -> None:
    """An EAR:3A001 operation on an uncontrolled part: the foreign reader sees the part and
    its other events; the operation is withheld in history and left out of the story."""
    setup = thread.open(ledger_url, clock=clock)
    _plant(setup)
    setup.record(f.ExportClassified(kind="part", key="SN-2", labels=("EAR:3A001",),
                                    version=2))
    setup.close()
    reader = _as(ledger_url, clock, FOREIGN)
    topics = [e.topic for e in reader.history("SN-2")]
    assert topics[:2] == [f.PartRegistered.topic, f.Withheld.topic]
    assert reader.trace("SN-2").operations == ()
    with pytest.raises(AccessRefused, match="EAR:3A001"):
        reader.part("SN-2")
    reader.close()
    assert _as(ledger_url, clock, US).trace("SN-2").operations[0].operation == "OP10"


def test_residency_and_ear99_rules(ledger_url: str, clock: Clock) -> None:
    """residency:DE data is withheld outside Germany; EAR99 data from an embargoed
    country's national, not from anyone else."""
    setup = thread.open(ledger_url, clock=clock)
    _plant(setup)
    setup.record(f.ExportClassified(kind="part", key="SN-2", labels=("residency:DE",)))
    setup.record(f.ExportClassified(kind="part", key="A-1", labels=("EAR99",)))
    setup.close()
    munich = _as(ledger_url, clock, Identity("d.k", ("auditor",), country="DE"))
    assert munich.part("SN-2").part_number == "FRAME"
    assert munich.part("A-1").part_number == "FRAME"
    munich.close()
    embargoed = _as(ledger_url, clock, Identity("x.y", ("auditor",), citizenship=("IR",),
                                                  country="DE"))
    with pytest.raises(AccessRefused, match="EAR99"):
        embargoed.part("A-1")
    embargoed.close()
    with pytest.raises(AccessRefused, match="residency:DE"):
        _as(ledger_url, clock, US).part("SN-2")


def test_only_export_control_officers_classify(ledger_url: str, clock: Clock) -> None:
    """A quality engineer may not label data; an export-control officer may; a Withheld
    stand-in is never recorded."""
    setup = thread.open(ledger_url, clock=clock)
    _plant(setup)
    setup.close()
    engineer = _as(ledger_url, clock, Identity("k.osei", ("quality-engineer",)))
    with pytest.raises(AccessRefused, match=r"may not record record\.export-classified"):
        engineer.record(f.ExportClassified(kind="part", key="SN-2", labels=("EAR99",)))
    engineer.close()
    officer = _as(ledger_url, clock, Identity("e.c", ("export-control",), us_person=True))
    officer.record(f.ExportClassified(kind="part", key="SN-2", labels=("EAR99",)))
    officer.close()
    unguarded = thread.open(ledger_url, clock=clock)
    with pytest.raises(RuleViolation, match="never recorded"):
        unguarded.record(f.Withheld(kind="part", key="SN-2", withheld_topic="x", labels=()))
    unguarded.close()
