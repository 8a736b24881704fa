"""Facts about the record itself: electronic signatures, corrections and export-control
labels."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from thread.domain.export_control import Label
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


class ExportClassified(SubjectFact):
    """The export-control and data-residency labels of a subject from now on (``version``
    None: the design item, part or lot as a whole, which its parts inherit unless they
    state their own) or of one of its events (``version``). Empty labels state that it is
    not controlled; a later classification replaces an earlier one."""

    topic = "record.export-classified"
    labels: Annotated[tuple[Label, ...], Field(max_length=16)]
    version: Annotated[int, Field(ge=1)] | None = None
    reason: Text = ""


class Withheld(SubjectFact):
    """What a reader without clearance is shown in place of a controlled event: that it
    exists, its kind (``withheld_topic``) and the labels that withhold it; its time and
    place in the chain stay on the event. Never recorded: only read."""

    topic = "record.withheld"
    withheld_topic: str
    labels: tuple[str, ...]
