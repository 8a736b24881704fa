"""What the HTTP API takes and gives that the library's own models do not already say:
a fact to record (its topic and payload), a receipt, an event of a history. The read
side's answers (stories, genealogies, recall scopes, records) are the library's pydantic
models themselves, so the OpenAPI document is generated from the same models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from thread.domain.chain import Recorded
from thread.presentation import summarize


class FactIn(BaseModel):
    """One fact to record: its topic (``manufacturing.part-registered``, ...), its fields,
    and where it came from. The same ``source`` and ``source_record_id`` again is a
    no-op, so a retried request writes nothing twice."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1, max_length=128,
                       examples=["manufacturing.part-registered"])
    fact: dict[str, Any] = Field(examples=[{"serial": "SN-1", "part_number": "BRG-6204",
                                            "revision": "A"}])
    occurred_at: AwareDatetime | None = None
    source: str | None = Field(default=None, min_length=1, max_length=128)
    source_record_id: str | None = Field(default=None, min_length=1, max_length=256)


class BatchIn(BaseModel):
    """Facts that land together or not at all."""

    model_config = ConfigDict(extra="forbid")

    facts: list[FactIn] = Field(min_length=1, max_length=10_000)


class ReceiptOut(BaseModel):
    """Where a fact landed: its subject, version and hash, or that it was a re-delivery."""

    kind: str
    key: str
    version: int
    hash: str
    duplicate: bool


class EventOut(BaseModel):
    """An event of a chain-verified history."""

    version: int
    topic: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    source: str
    source_record_id: str | None
    hash: str
    prev_hash: str
    summary: str
    fact: dict[str, Any]

    @classmethod
    def of(cls, event: Recorded) -> EventOut:
        """The event as the API shows it."""
        return cls(version=event.originator_version, topic=event.topic,
                   occurred_at=event.occurred_at, recorded_at=event.recorded_at,
                   actor=event.actor, source=event.source,
                   source_record_id=event.source_record_id, hash=event.hash.hex(),
                   prev_hash=event.prev_hash.hex(), summary=summarize(event.fact),
                   fact=event.fact.model_dump(mode="json"))


class HistoryOut(BaseModel):
    """A subject's events, each linked to the one before: the chain verified."""

    kind: str
    key: str
    head: str
    events: list[EventOut]


class InclusionOut(BaseModel):
    """Where an event sits in the log and the RFC 6962 audit path that proves it."""

    index: int
    tree_size: int
    leaf_hash: str
    path: list[str]
    root: str


class ConsistencyOut(BaseModel):
    """Proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2``."""

    size1: int
    size2: int
    path: list[str]
