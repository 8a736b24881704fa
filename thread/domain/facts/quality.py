"""Quality facts: inspections, tests, non-conformances, dispositions, certifications."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from thread.domain.facts.base import Digest, Identifier, Number, PartFact, Text
from thread.domain.facts.measures import Designator, Reading
from thread.domain.units import Unit

Verdict = Literal["pass", "fail"]
Decision = Literal["accept", "use-as-is", "rework", "repair", "scrap", "return-to-vendor"]


class InspectionRecorded(PartFact):
    """One characteristic measured, with its requirement and verdict.

    An out-of-tolerance result is a fact like any other: it is recorded with
    verdict ``fail``, not refused.
    """

    topic = "quality.inspection-recorded"
    class_version = 3
    characteristic: Identifier
    name: Text | None = None
    designator: Designator = "none"
    location: Text | None = None
    method: Literal["cmm", "vision", "manual", "gauge", "test-rig", "other"]
    gauge: Identifier | None = None
    program: Identifier | None = None
    measured: Number | None = None
    unit: Unit | None = None
    nominal: Number | None = None
    lower_tolerance: Number | None = None
    upper_tolerance: Number | None = None
    verdict: Verdict
    #: Why the verdict differs from the measured value against the design's tolerance: a
    #: guard band, bonus tolerance from GD&T, a reviewed decision, a measuring system's own.
    verdict_reason: Text | None = None
    report: Identifier | None = None
    non_conformance: Identifier | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 2 carries the characteristic's designator and drawing location."""
        state.setdefault("designator", "none")
        state.setdefault("location", None)

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """Version 3 can say why a verdict differs from value against tolerance."""
        state.setdefault("verdict_reason", None)


class InspectionReported(PartFact):
    """An inspection report's traceability: who prepared it, when, for which supplier and PO.

    One per report and part; the measurements themselves are
    :class:`InspectionRecorded` facts naming the same ``report``.
    """

    topic = "quality.inspection-reported"
    report: Identifier
    preparer: Text | None = None
    organization: Text | None = None
    supplier: Identifier | None = None
    purchase_order: Identifier | None = None
    program: Identifier | None = None
    document_digest: Digest | None = None
    measurements: Annotated[int, Field(ge=0)]
    failures: Annotated[int, Field(ge=0)]


class TestRecorded(PartFact):
    """A functional test run against a procedure, with its values and verdict."""

    __test__ = False  # not a pytest test class
    topic = "quality.test-recorded"
    procedure: Identifier
    procedure_revision: Identifier | None = None
    values: tuple[Reading, ...] = ()
    verdict: Verdict
    report: Identifier | None = None


class NonConformanceOpened(PartFact):
    """A non-conformance is raised against this part or lot."""

    topic = "quality.non-conformance-opened"
    non_conformance: Identifier
    description: Text
    characteristic: Identifier | None = None
    severity: Literal["minor", "major", "critical"] = "major"


class DispositionRecorded(PartFact):
    """The material review decision that closes an open non-conformance (a signed fact)."""

    topic = "quality.disposition-recorded"
    needs_signature = True
    non_conformance: Identifier
    decision: Decision
    rationale: Text
    reference: Identifier | None = None


class CertificationAttached(PartFact):
    """A certificate (of conformance, material, test) is attached by its digest."""

    topic = "quality.certification-attached"
    document: Literal["conformance", "material", "test", "calibration", "other"]
    number: Identifier
    digest: Digest
    issuer: Text | None = None

