"""Facts about the record itself: electronic signatures and corrections."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from thread.domain.facts.base import Identifier, Instant, SubjectFact, Text

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]
Meaning = Literal["review", "approval", "responsibility", "authorship"]


class SignatureApplied(SubjectFact):
    """An Ed25519 electronic signature over the hash of an earlier event of the same subject.

    Part 11: it shows the signer's printed name, the time and the meaning, and
    it is bound to one event by that event's hash.
    """

    topic = "record.signature-applied"
    signed_version: Annotated[int, Field(ge=1)]
    signed_hash: Hex32
    signer: Identifier
    printed_name: Text
    meaning: Meaning
    signed_at: Instant
    public_key: Hex32
    signature: Hex64


class CorrectionRecorded(SubjectFact):
    """An earlier event is superseded by a later one; both stay in the record."""

    topic = "record.correction-recorded"
    corrects_version: Annotated[int, Field(ge=1)]
    corrects_hash: Hex32
    replaced_by_version: Annotated[int, Field(ge=1)]
    reason: Text
