"""The corrective loop from a finding: quarantine what is in the plant, a CAPA naming the
finding, a recall that is recall_scope's, machine changes, the effectiveness check and the
CAPA's closure, each signed, in the trace and the DHR of an affected serial."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread.analytics import corrective
from thread.demo.reliability import PART_NUMBER, START, Cause, plant
from thread.domain import facts as f
from thread.domain.signature import Signer
from thread.errors import LedgerError
from thread.records.dhr import device_history_record

pytestmark = pytest.mark.contract


def test_the_loop_from_a_finding_to_a_closed_capa(ledger_url: str) -> None:
    """The loop from a finding to a closed capa."""
    simulated = plant(21, weeks=10, per_week=12, cause=Cause("M-02", 3, 5, "feed_rate"))
    ledger = thread.open(ledger_url, clock=lambda: simulated.now, actor="tester")
    with ledger.batch(actor="simulation", source="reliability") as batch:
        for index, (fact, at) in enumerate(simulated.facts):
            batch.record(fact, occurred_at=at, source_record_id=str(index))
        # one part of the window never left the plant
        made = START + timedelta(weeks=4, hours=3)
        batch.record(f.PartRegistered(serial="SH-KEPT", part_number=PART_NUMBER, revision="A"),
                     occurred_at=made)
        batch.record(f.OperationPerformed(serial="SH-KEPT", operation="turn", station="M-02-S1",
                                          machine="M-02", operator="op-1", started_at=made,
                                          ended_at=made + timedelta(minutes=20),
                                          cycle_time_s=1200.0),
                     occurred_at=made + timedelta(minutes=20))
    engineer = Signer("q.engineer", "Quinn Engineer", Ed25519PrivateKey.generate())
    finding = ledger.failure_patterns(part_number=PART_NUMBER).findings[0]
    assert finding.machine == "M-02"
    assert finding.start is not None and finding.end is not None

    held = corrective.quarantine(ledger, finding, signer=engineer, capa="CAPA-7")
    assert [receipt.key for receipt in held] == ["SH-KEPT"]
    assert ledger.part("SH-KEPT").quarantined
    opened = corrective.open_capa(ledger, finding, capa="CAPA-7", signer=engineer)
    assert len(opened) == len(finding.serials)
    assert corrective.open_capa(ledger, finding, capa="CAPA-7", signer=engineer)[0].duplicate
    scope, recalled = corrective.recall(ledger, finding, recall_id="RC-7", signer=engineer)
    shipped = [a.key for a in scope.affected if a.state in ("shipped", "installed at site")]
    assert sorted(r.key for r in recalled) == sorted(shipped)
    assert "SH-KEPT" not in shipped
    corrective.change_limit(ledger, machine="M-02", metric="spindle_vibration", threshold=3.5,
                            unit="mm/s", previous=4.5, reason="tighter limit",
                            signer=engineer, capa="CAPA-7")
    corrective.schedule_maintenance(ledger, machine="M-02", due=simulated.now,
                                    description="replace spindle bearing", work_order="WO-1",
                                    signer=engineer, capa="CAPA-7")
    assert ledger.machine("M-02").limits == {"spindle_vibration": 3.5}

    check = corrective.effectiveness(ledger, finding, part_number=PART_NUMBER,
                                     since=finding.end)
    assert check.verdict == "effective", check
    assert check.units > 0 and check.rest_units > 0
    corrective.close_capa(ledger, finding, capa="CAPA-7", check=check, signer=engineer)

    serial = finding.failed[0]
    story = ledger.trace(serial)
    text = story.model_dump_json()
    assert "CAPA-7" in text and "RC-7" in text and finding.id in text
    assert "spindle_vibration limit 4.5 -> 3.5 mm/s" in text
    assert "replace spindle bearing" in text
    part = ledger.part(serial)
    assert "CAPA-7" not in part.open_capas
    record = device_history_record(ledger, serial)
    actions = {(row.action, row.reference) for row in record.actions}
    assert {("CAPA opened", "CAPA-7"), ("CAPA closed", "CAPA-7"), ("recalled", "RC-7")} <= actions
    signed = [e.fact for e in ledger.history(serial) if isinstance(e.fact, f.SignatureApplied)]
    assert {s.printed_name for s in signed} == {"Quinn Engineer"}
    assert len(signed) >= 3  # opened, recalled, closed
    opened_event = next(e for e in ledger.history(serial)
                        if isinstance(e.fact, f.CorrectiveActionOpened))
    assert isinstance(opened_event.fact, f.CorrectiveActionOpened)
    assert opened_event.fact.evidence_digest == f"sha256:{finding.evidence_digest}"
    ledger.close()


def test_a_capa_is_not_closed_on_a_check_that_cannot_know(ledger_url: str) -> None:
    """A capa is not closed on a check that cannot know."""
    simulated = plant(3, weeks=4, per_week=6, cause=Cause("M-01", 1, 2, "feed_rate",
                                                          factor=30.0))
    ledger = thread.open(ledger_url, clock=lambda: simulated.now, actor="tester")
    with ledger.batch(actor="simulation", source="reliability") as batch:
        for index, (fact, at) in enumerate(simulated.facts):
            batch.record(fact, occurred_at=at, source_record_id=str(index))
    finding = ledger.failure_patterns(part_number=PART_NUMBER).findings[0]
    engineer = Signer("q.engineer", "Quinn Engineer", Ed25519PrivateKey.generate())
    assert finding.end is not None
    with pytest.raises(LedgerError, match="no serial of part number"):
        corrective.effectiveness(ledger, finding, part_number=PART_NUMBER,
                                 since=simulated.now)
    since = START + timedelta(weeks=3)
    early = corrective.effectiveness(ledger, finding, part_number=PART_NUMBER, since=since,
                                     as_of=since + timedelta(days=1), by="occurred")
    assert early.verdict == "not yet known"
    assert early.units + early.rest_units == 0
    with pytest.raises(LedgerError, match="not yet known"):
        corrective.close_capa(ledger, finding, capa="CAPA-1", check=early, signer=engineer)
    ledger.close()
