"""Action facts: quarantine, release, recall, corrective and preventive action."""

from __future__ import annotations

from typing import Any

from thread.domain.facts.base import Digest, Identifier, PartFact, Text


class Quarantined(PartFact):
    """The part or lot is held: it may not ship or be installed until released."""

    topic = "action.quarantined"
    reason: Text
    reference: Identifier | None = None


class ReleasedFromQuarantine(PartFact):
    """A quarantine on the part or lot is lifted (a signed fact: whoever lifts it approves)."""

    topic = "action.released-from-quarantine"
    needs_signature = True
    reason: Text
    reference: Identifier | None = None


class Recalled(PartFact):
    """The part or lot is within the scope of a recall (a signed fact: the recall's approval)."""

    topic = "action.recalled"
    needs_signature = True
    recall: Identifier
    reason: Text


class CorrectiveActionOpened(PartFact):
    """A CAPA is opened because of this part or lot."""

    topic = "action.corrective-action-opened"
    class_version = 2
    capa: Identifier
    problem: Text
    owner: Text | None = None
    #: The investigation finding it answers, and the SHA-256 of that finding's evidence.
    finding: Text | None = None
    evidence_digest: Digest | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 1 had no finding."""
        state.setdefault("finding", None)
        state.setdefault("evidence_digest", None)


class CorrectiveActionClosed(PartFact):
    """A CAPA opened on this part or lot is closed with its outcome (a signed fact)."""

    topic = "action.corrective-action-closed"
    needs_signature = True
    class_version = 2
    capa: Identifier
    resolution: Text
    effective: bool
    #: The SHA-256 of the effectiveness check's evidence (the statistics it rests on).
    evidence_digest: Digest | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 1 had no evidence digest."""
        state.setdefault("evidence_digest", None)
