"""From a customer's warranty claim to a closed CAPA, on the demo bearing plant.

A customer reports a failed wheel hub. The ledger says which bearing failed, which grinder
made it and how that grinder was doing; it finds that bearings from that grinder in a few
weeks of spring fail far more often per operating hour than the rest; then it quarantines
what is still in the plant, opens a CAPA, recalls the shipped hubs that need it, tightens
the vibration limit, schedules spindle maintenance, checks that the grinder's later bearings
fail in line with the rest, and closes the CAPA: every step signed and on the record.

Run: python examples/bearing_investigation.py [LEDGER_URL]   (default: a temporary file)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread import facts as f
from thread.analytics import corrective
from thread.demo import fill
from thread.records.dhr import device_history_record


def main(url: str) -> None:
    """Walk the investigation and print what a quality engineer wants to see at each step."""
    ledger = thread.open(url)
    summary = fill(ledger)
    print(f"demo plant: {summary.bearings} bearings, {summary.hubs} hubs, "
          f"{summary.failures} field failures")

    # 1. The claim: a hub failed in the field. Which bearing, which grinder?
    hub = summary.example
    claim = next(e.fact for e in ledger.history(hub) if isinstance(e.fact, f.FailureReported))
    assert isinstance(claim, f.FailureReported)
    print(f"\n1. claim {claim.claim} on hub {hub}: {claim.failure_mode} after "
          f"{claim.operating_hours:,.0f} operating hours")
    tree = ledger.genealogy(hub, direction="down", depth=1)
    bearing = next(node.key for node in tree.nodes
                   if any(isinstance(e.fact, f.FailureReported)
                          for e in ledger.history(node.key)))
    story = ledger.trace(bearing)
    grind = next(op for op in story.operations if op.machine)
    vibration = next((m for m in grind.condition.metrics if m.name == "spindle_vibration"),
                     None) if grind.condition else None
    print(f"   the failed bearing is {bearing}, ground on {grind.machine} at "
          f"{grind.started_at:%Y-%m-%d %H:%M}"
          + (f"; spindle vibration then: max {vibration.max} {vibration.unit} (limit "
             f"{vibration.threshold})" if vibration else ""))

    # 2. Is it a pattern? Failure rates per operating hour, per machine and window.
    part_number = ledger.part(bearing).part_number or ""
    found = ledger.failure_patterns(part_number=part_number)
    print(f"\n2. {part_number}: {found.failures} failures in {found.unit_hours:,.0f} unit-hours "
          f"of {found.in_service} bearings in service; {found.groups_tested} groups tested")
    if not found.findings:
        print("   no machine window fails more than the rest: nothing to act on")
        return
    finding = found.findings[0]
    print(f"   finding 1: {finding.machine}, bearings made {finding.start:%Y-%m-%d} to "
          f"{finding.end:%Y-%m-%d}: {finding.failures} failures of {finding.units}, "
          f"{finding.rate:.0f} against {finding.rest_rate:.0f} per million unit-hours "
          f"({finding.rate_ratio:.1f}x, 95% CI {finding.ci_low:.1f} to {finding.ci_high:.1f}), "
          f"q = {finding.q_value:.2g}")
    if finding.weibull is not None:
        print(f"   Weibull shape {finding.weibull.shape:.2f}: {finding.weibull.phase}")
    for evidence in finding.parameters[:3]:
        print(f"   {evidence.name}: {evidence.inside:.3g} in the window against "
              f"{evidence.outside:.3g} elsewhere ({evidence.n_inside} and {evidence.n_outside} "
              f"bearings)")
    print(f"   the claimed bearing is {'in' if bearing in finding.serials else 'outside'} "
          f"this finding")

    # 3. Act, each step signed by the quality engineer.
    engineer = thread.Signer("q.engineer", "Quinn Engineer", Ed25519PrivateKey.generate())
    capa, recall_id = "CAPA-2026-014", "RC-2026-03"
    assert finding.machine is not None
    assert finding.end is not None
    held = corrective.quarantine(ledger, finding, signer=engineer, capa=capa)
    corrective.open_capa(ledger, finding, capa=capa, signer=engineer, owner="Quinn Engineer")
    scope, recalled = corrective.recall(ledger, finding, recall_id=recall_id, signer=engineer)
    shipped = [a for a in scope.affected if a.state in ("shipped", "installed at site")]
    print(f"\n3. quarantined {len(held)} bearings still in the plant; {capa} opened on "
          f"{len(finding.serials)} bearings; recall {recall_id}: {len(scope.affected)} "
          f"bearings in scope (the naive scope: {scope.naive}), {len(shipped)} shipped, "
          f"recorded on {len(recalled)} bearings and hubs")
    for item in shipped[:3]:
        print(f"   {item.key}: {item.location}")
    corrective.change_limit(ledger, machine=finding.machine, metric="spindle_vibration",
                            threshold=4.0, previous=4.5, unit="mm/s", capa=capa,
                            reason="alarm before chatter marks appear", signer=engineer)
    corrective.schedule_maintenance(ledger, machine=finding.machine, due=found.at,
                                    description="spindle bearing vibration analysis, monthly",
                                    work_order="WO-MAINT-2211", capa=capa, signer=engineer)
    print(f"   {finding.machine}: vibration limit 4.5 -> 4.0 mm/s, monthly spindle analysis "
          f"scheduled")

    # 4. Did it work? The grinder's bearings made after the window, against the rest.
    check = corrective.effectiveness(ledger, finding, part_number=part_number,
                                     since=finding.end)
    print(f"\n4. since {check.since:%Y-%m-%d}: {check.failures} failures in "
          f"{check.unit_hours:,.0f} unit-hours on {check.machine}, {check.rest_failures} in "
          f"{check.rest_unit_hours:,.0f} for the rest: {check.verdict}")
    if check.verdict != "not yet known":
        corrective.close_capa(ledger, finding, capa=capa, check=check, signer=engineer)
        print(f"   {capa} closed: {check.verdict}")

    # 5. What the record of the failed bearing now shows.
    record = device_history_record(ledger, bearing)
    print(f"\n5. {bearing}'s DHR, actions:")
    for row in record.actions:
        print(f"   {row.at:%Y-%m-%d} {row.action} {row.reference or ''}: {row.text[:90]}")
    ledger.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(str(Path(folder) / "investigation.db"))
