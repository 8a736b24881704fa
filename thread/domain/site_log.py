"""A site log as the hub's own log knows it: the checkpoints it mirrored, in growing order,
and the refusals on record."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from thread.domain import facts as f
from thread.domain.chain import Aggregate, Recorded
from thread.domain.facts.base import Fact, SubjectKind
from thread.domain.part import check_reference
from thread.errors import RuleViolation


class SiteLog(Aggregate):
    """A site log the hub mirrors, keyed by the site log's origin."""

    kind: ClassVar[SubjectKind] = "site"

    def __init__(self, *, kind_key: str, id: UUID | None = None) -> None:
        super().__init__(kind_key=kind_key, id=id)
        self.mirrored = 0  # the size of the latest checkpoint mirrored
        self.root = ""
        self.checkpoint: str | None = None
        self.refusals = 0

    @classmethod
    def creators(cls) -> tuple[type[Fact], ...]:
        return (f.SiteCheckpointMirrored, f.SiteRefused)

    def check(self, fact: Fact) -> None:
        if isinstance(fact, f.SiteCheckpointMirrored) and fact.size <= self.mirrored:
            raise RuleViolation(f"{self.label} is mirrored to {self.mirrored} entries already; "
                                f"a mirrored checkpoint only grows (got {fact.size})")
        check_reference(self, fact)

    def apply(self, event: Recorded) -> None:
        fact = event.fact
        if isinstance(fact, f.SiteCheckpointMirrored):
            self.mirrored, self.root, self.checkpoint = fact.size, fact.root, fact.checkpoint
        elif isinstance(fact, f.SiteRefused):
            self.refusals += 1
