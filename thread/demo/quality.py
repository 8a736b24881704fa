"""The plant's quality department: who signs what, as a plant does it.

An inspector verifies each inspection or test report (a signature with
meaning review); the quality manager approves each release with a
certificate of conformance (meaning approval) and approves the first
article's report (AS9102 Form 1 fields 20-23: verified by one person,
approved by another); the material review board signs its dispositions. So
every DHR reads verified and approved (ISO 13485 7.5.1) and every FAIR signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from thread.demo.catalogue import ORGANIZATION, SUPPLIER_CODE, digest
from thread.demo.journal import Journal
from thread.domain import facts as f
from thread.domain.signature import Signer

#: How long after the report the quality manager approves a first article.
FIRST_ARTICLE_REVIEW = timedelta(hours=2)


@dataclass
class Quality:
    """The people who sign, and the first article of each part number so far."""

    inspector: Signer
    manager: Signer
    mrb: Signer
    #: part number -> (when the first article was produced, its serial): the serial a FAIR
    #: takes as the first article is the earliest produced one.
    first: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def report(self, journal: Journal, serial: str, part_number: str, report: str, *,
               measurements: int, failures: int, at: datetime, produced: datetime) -> None:
        """The inspector's report on ``serial``, signed as verified; the quality manager
        approves it too when the unit is the earliest produced of its part number so far."""
        record_id = journal.add(f.InspectionReported(
            serial=serial, report=report, preparer=self.inspector.printed_name,
            organization=ORGANIZATION, supplier=SUPPLIER_CODE, measurements=measurements,
            failures=failures,
        ), at, self.inspector.signer, tag=report, sign=self.inspector, meaning="review")
        first = self.first.get(part_number)
        if first is None or (produced, serial) < first:
            self.first[part_number] = (produced, serial)
            journal.countersign(record_id, self.manager, "approval", at + FIRST_ARTICLE_REVIEW)

    def release(self, journal: Journal, serial: str, at: datetime) -> None:
        """A certificate of conformance for a unit that passed, approved by the manager."""
        number = f"COC-{serial}"
        text = (f"CERTIFICATE OF CONFORMANCE {number}\n{ORGANIZATION}\nSerial {serial} was "
                "made, inspected and tested to its released revision and conforms.\n")
        journal.add(f.CertificationAttached(
            serial=serial, document="conformance", number=number, digest=digest(text),
            issuer=ORGANIZATION,
        ), at, self.manager.signer, sign=self.manager, meaning="approval")
