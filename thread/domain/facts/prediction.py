"""Prediction facts: what a quality model predicted for a part when it was made."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from thread.domain.facts.base import Digest, Identifier, PartFact

Target = Literal["inspection-failure", "field-failure"]


class QualityPredicted(PartFact):
    """A model's score for this part, recorded at production time.

    The model's id, version and SHA-256 digest, and the digest of the inputs it
    scored, let an investigation later compare what was predicted with what
    happened, and show that the model and inputs were the ones on record.
    """

    topic = "quality.prediction-recorded"
    target: Target
    #: For a field failure: within how many operating hours.
    horizon_hours: Annotated[float, Field(gt=0)] | None = None
    model: Identifier
    model_version: Identifier
    model_digest: Digest
    inputs_digest: Digest
    score: Annotated[float, Field(ge=0, le=1)]
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    predicted: bool | None = None
