"""Action facts: quarantine, release, recall, corrective and preventive action."""

from __future__ import annotations

from thread.domain.facts.base import Identifier, PartFact, Text


class Quarantined(PartFact):
    """The part or lot is held: it may not ship or be installed until released."""

    topic = "action.quarantined"
    reason: Text
    reference: Identifier | None = None


class ReleasedFromQuarantine(PartFact):
    """A quarantine on the part or lot is lifted."""

    topic = "action.released-from-quarantine"
    reason: Text
    reference: Identifier | None = None


class Recalled(PartFact):
    """The part or lot is within the scope of a recall."""

    topic = "action.recalled"
    recall: Identifier
    reason: Text


class CorrectiveActionOpened(PartFact):
    """A CAPA is opened because of this part or lot."""

    topic = "action.corrective-action-opened"
    capa: Identifier
    problem: Text
    owner: Text | None = None


class CorrectiveActionClosed(PartFact):
    """A CAPA opened on this part or lot is closed with its outcome."""

    topic = "action.corrective-action-closed"
    capa: Identifier
    resolution: Text
    effective: bool
