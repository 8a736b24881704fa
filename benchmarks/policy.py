"""Role-policy benchmark: what one Cedar decision costs, and what it adds to a write.

    python benchmarks/policy.py --quick     # 20,000 decisions, 2,000 facts recorded
    python benchmarks/policy.py             # 200,000 decisions, 10,000 facts recorded

Two measurements, each beside a baseline from the same run:

- **decision**: :meth:`thread.access.policy.Policy.decide` with the default policy
  (allow and deny, record, sign and read, an identity's entities cached as the
  ledger caches them), median of the per-call time over 5 rounds; baseline:
  ``cedarpy.is_authorized`` given the policy text and entity list each call (what
  calling Cedar without keeping its parsed policy costs).
- **write**: recording facts one ``Ledger.record`` at a time on a SQLite file ledger
  opened with the default policy, against the same facts on a ledger opened without
  one; the difference per fact is what the policy adds to a write.

Target (printed, not asserted): a decision <= 1 ms. A table goes to stderr; the last
line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cedarpy

import thread
from thread.access.policy import SUBJECT, Identity, Policy, Resource, _topic_entities
from thread.domain import facts as f

TARGET_MS = 1.0


def _requests() -> list[tuple[Identity, str, Resource]]:
    operator = Identity("o.lund", ("operator",), site="Pune")
    engineer = Identity("k.osei", ("quality-engineer",), us_person=True)
    auditor = Identity("a.diaz", ("auditor",))
    return [
        (operator, "record", Resource(f.OperationPerformed.topic, "part", "SN-1", "BRG-6204")),
        (operator, "record", Resource(f.DispositionRecorded.topic, "part", "SN-1", "BRG-6204")),
        (engineer, "sign", Resource(f.DispositionRecorded.topic, "part", "SN-1", "BRG-6204")),
        (auditor, "read", Resource(SUBJECT, "part", "SN-1", "BRG-6204", labels=("ITAR:XI",))),
        (engineer, "read", Resource(SUBJECT, "part", "SN-1", "BRG-6204", labels=("ITAR:XI",))),
    ]


def _decisions(count: int) -> tuple[float, float]:
    """Median microseconds per decision: ours, and Cedar given text and entities per call."""
    policy = Policy.default()
    text = Policy.default_text()
    requests = _requests()
    raw = []
    for identity, action, resource in requests:
        user = {"uid": {"type": "User", "id": identity.user},
                "attrs": {"us_person": identity.us_person, "citizenship": [],
                          "licences": [], "exemptions": [], "site": identity.site or "",
                          "country": ""},
                "parents": [{"type": "Role", "id": r} for r in identity.roles]}
        roles = [{"uid": {"type": "Role", "id": r}, "attrs": {}, "parents": []}
                 for r in identity.roles]
        raw.append(({"principal": f'User::"{identity.user}"', "action": f'Action::"{action}"',
                     "resource": f'Topic::"{resource.topic}"', "context": resource.context()},
                    [user, *roles, *_topic_entities()]))
    ours, theirs = [], []
    per_round = count // 5
    for _ in range(5):
        start = time.perf_counter()
        for i in range(per_round):
            identity, action, resource = requests[i % len(requests)]
            policy.decide(identity, action, resource)  # type: ignore[arg-type]
        ours.append((time.perf_counter() - start) / per_round * 1e6)
        start = time.perf_counter()
        for i in range(per_round // 10):
            request, entities = raw[i % len(raw)]
            cedarpy.is_authorized(request, text, entities)
        theirs.append((time.perf_counter() - start) / (per_round // 10) * 1e6)
    return statistics.median(ours), statistics.median(theirs)


def _writes(count: int, folder: Path) -> tuple[float, float]:
    """Microseconds per recorded fact: with the default policy, and without a policy."""
    results = []
    for governed in (True, False):
        at = [datetime(2030, 1, 1, tzinfo=UTC)]

        def clock(at: list[datetime] = at) -> datetime:
            at[0] += timedelta(milliseconds=1)
            return at[0]
        who = Identity("o.lund", ("operator",))
        ledger = thread.open(folder / f"{governed}.db", clock=clock, actor=who.user,
                             policy=Policy.default() if governed else None, identity=who)
        ledger.record(f.MachineRegistered(machine="CNC-1", name="Lathe", kind="lathe"))
        start = time.perf_counter()
        for i in range(count):
            ledger.record(f.AlarmRaised(machine="CNC-1", code=f"A{i}", severity="warning",
                                        text="door open", raised_at=at[0]))
        results.append((time.perf_counter() - start) / count * 1e6)
        ledger.close()
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run for CI")
    quick = parser.parse_args().quick
    decisions, facts = (20_000, 2_000) if quick else (200_000, 10_000)
    ours, raw = _decisions(decisions)
    with tempfile.TemporaryDirectory() as folder:
        governed, free = _writes(facts, Path(folder))
    print(f"decision (default policy, cached entities)  {ours:8.1f} us  "
          f"target {TARGET_MS * 1000:.0f} us  {'met' if ours <= TARGET_MS * 1000 else 'MISSED'}",
          file=sys.stderr)
    print(f"  baseline: cedarpy given text + entities   {raw:8.1f} us  ({raw / ours:.1f}x ours)",
          file=sys.stderr)
    print(f"record one fact with the policy              {governed:8.1f} us", file=sys.stderr)
    print(f"  baseline: without a policy                {free:8.1f} us  "
          f"(+{governed - free:.1f} us per write)", file=sys.stderr)
    print(json.dumps({"benchmark": "policy", "quick": quick, "decisions": decisions,
                      "decision_us": round(ours, 2), "cedar_uncached_us": round(raw, 2),
                      "record_with_policy_us": round(governed, 1),
                      "record_without_policy_us": round(free, 1),
                      "target_decision_us": TARGET_MS * 1000,
                      "met": ours <= TARGET_MS * 1000}))


if __name__ == "__main__":
    main()
