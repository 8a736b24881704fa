"""Service facts: shipment, field installation, maintenance, field reports, claims."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from thread.domain.facts.base import Digest, Identifier, Instant, PartFact, Text
from thread.domain.facts.measures import Reading


class Shipped(PartFact):
    """The part or lot left the plant for a customer order."""

    topic = "service.shipped"
    customer: Text
    order: Identifier
    destination: Text | None = None
    carrier: Text | None = None
    tracking: Identifier | None = None


class InstalledAtSite(PartFact):
    """The part was installed in the field, at a customer's site or equipment."""

    topic = "service.installed-at-site"
    site: Text
    equipment: Identifier | None = None
    installer: Text | None = None


class FieldMaintenancePerformed(PartFact):
    """Maintenance done on the part in service."""

    topic = "service.maintenance-performed"
    kind: Identifier
    description: Text
    operating_hours: Annotated[float, Field(ge=0)] | None = None
    technician: Text | None = None


class FieldPerformanceReported(PartFact):
    """Readings from the field: operating hours and condition values."""

    topic = "service.performance-reported"
    operating_hours: Annotated[float, Field(ge=0)]
    readings: tuple[Reading, ...] = ()


class FailureReported(PartFact):
    """A failure in service, usually with a warranty claim."""

    topic = "service.failure-reported"
    claim: Identifier
    failure_mode: Text
    operating_hours: Annotated[float, Field(ge=0)] | None = None
    description: Text | None = None
    warranty: bool = True


class FailureAnalysisRecorded(PartFact):
    """The result of analysing a returned or failed part."""

    topic = "service.failure-analysis-recorded"
    claim: Identifier | None = None
    method: Text
    root_cause: Text
    conclusion: Text
    report_digest: Digest | None = None


class CustomerFeedbackReceived(PartFact):
    """What a customer said about the part."""

    topic = "service.customer-feedback-received"
    customer: Text
    text: Text
    rating: Annotated[int, Field(ge=1, le=5)] | None = None


class PartnerEventReceived(PartFact):
    """A trading partner's traceability event about this part or lot (GS1 EPCIS 2.0) that
    no other fact says: kept as it came, so nothing captured is dropped. ``event_id`` is its
    CBV 2.0 event hash."""

    topic = "service.partner-event-received"
    standard: Literal["epcis-2.0"] = "epcis-2.0"
    event_type: Identifier
    event_id: Annotated[str, Field(min_length=1, max_length=200)]
    event_time: Instant
    action: Identifier | None = None
    biz_step: Annotated[str, Field(max_length=200)] | None = None
    disposition: Annotated[str, Field(max_length=200)] | None = None
    read_point: Annotated[str, Field(max_length=400)] | None = None
    biz_location: Annotated[str, Field(max_length=400)] | None = None
