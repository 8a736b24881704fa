"""Build a wheel hub from two bearings, disposition a non-conformance with a signature,
correct a mistyped measurement, and print the hub's and a bearing's story.

Run: python examples/assembly.py [LEDGER_URL]
"""

from __future__ import annotations

import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import thread
from thread import facts as f


def main(url: str) -> None:
    """Record a small assembly's life and print what the ledger holds."""
    ledger = thread.open(url)
    quality_engineer = thread.Signer("qe-104", "Dana Whitfield", Ed25519PrivateKey.generate())
    with ledger.batch(source="example") as batch:
        batch.record(f.RevisionReleased(part_number="BRG-6204", revision="A", part_name="Bearing",
                                        drawing="DWG-6204"))
        batch.record(f.RevisionReleased(part_number="HUB-77", revision="B", part_name="Wheel hub",
                                        drawing="DWG-77"))
        batch.record(f.PartRegistered(serial="HUB-0001", part_number="HUB-77", revision="B"))
        for serial, position in (("BRG-1", "inboard"), ("BRG-2", "outboard")):
            batch.record(f.PartRegistered(serial=serial, part_number="BRG-6204", revision="A"))
            batch.record(f.ComponentInstalled(serial="HUB-0001", component=serial,
                                              position=position))
    ledger.record(f.InspectionRecorded(serial="BRG-2", characteristic="1", method="cmm",
                                       measured=19.89, unit="mm", nominal=20.0,
                                       lower_tolerance=-0.01, upper_tolerance=0.0, verdict="fail"))
    mistyped = ledger.part("BRG-2").version
    ledger.correct(f.InspectionRecorded(serial="BRG-2", characteristic="1", method="cmm",
                                        measured=19.989, unit="mm", nominal=20.0,
                                        lower_tolerance=-0.01, upper_tolerance=0.0,
                                        verdict="fail"),
                   corrects=mistyped, reason="decimal slipped when keyed from the CMM printout")
    ledger.record(f.NonConformanceOpened(serial="BRG-2", non_conformance="NC-311",
                                         description="bore 0.011 mm under minimum"))
    ledger.record(f.DispositionRecorded(serial="BRG-2", non_conformance="NC-311",
                                        decision="use-as-is",
                                        rationale="engineering concession C-9"),
                  sign=quality_engineer, meaning="approval")
    for serial in ("HUB-0001", "BRG-2"):
        print(f"-- {serial}")
        for event in ledger.history(serial):
            print(f"{event.originator_version:>3} {event.topic:<34} {event.hash.hex()[:16]}")
    hub = ledger.part("HUB-0001")
    print(f"HUB-0001 components: {hub.components}")
    ledger.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "example.db")
