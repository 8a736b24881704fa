"""Design items: the released revisions of a part number and the changes to them."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from thread.domain import facts as f
from thread.domain.chain import Aggregate, Recorded
from thread.domain.facts.base import Fact, SubjectKind
from thread.domain.part import check_reference
from thread.errors import AlreadyRegistered, UnreleasedRevision


class DesignItem(Aggregate):
    """A part number's design history: revisions with characteristics, ECOs, simulations."""

    kind: ClassVar[SubjectKind] = "design"

    def __init__(self, *, kind_key: str, id: UUID | None = None) -> None:
        super().__init__(kind_key=kind_key, id=id)
        self.revisions: dict[str, f.RevisionReleased] = {}
        self.current_revision: str | None = None
        self.change_orders: dict[str, f.ChangeOrderIssued] = {}
        self.simulations: list[f.SimulationRecorded] = []

    @classmethod
    def creators(cls) -> tuple[type[Fact], ...]:
        return (f.RevisionReleased,)

    def is_released(self, revision: str) -> bool:
        """Whether ``revision`` of this part number was released."""
        return revision in self.revisions

    def check(self, fact: Fact) -> None:
        if isinstance(fact, f.RevisionReleased) and fact.revision in self.revisions:
            raise AlreadyRegistered(
                f"revision {fact.revision} of {self.key} is already released; "
                f"release a new revision through a change order instead"
            )
        if isinstance(fact, f.ChangeOrderIssued):
            if fact.change_order in self.change_orders:
                raise AlreadyRegistered(f"change order {fact.change_order} of {self.key} exists")
            unknown = [rev for rev in fact.affected_revisions if rev not in self.revisions]
            if unknown:
                raise UnreleasedRevision(
                    f"change order {fact.change_order} affects revision(s) {', '.join(unknown)} "
                    f"of {self.key}, never released (released: {', '.join(self.revisions)})"
                )
        if isinstance(fact, f.SimulationRecorded) and fact.revision not in self.revisions:
            raise UnreleasedRevision(
                f"simulation for revision {fact.revision} of {self.key}, never released"
            )
        check_reference(self, fact)

    def apply(self, event: Recorded) -> None:
        fact = event.fact
        if isinstance(fact, f.RevisionReleased):
            self.revisions[fact.revision] = fact
            self.current_revision = fact.revision
        elif isinstance(fact, f.ChangeOrderIssued):
            self.change_orders[fact.change_order] = fact
        elif isinstance(fact, f.SimulationRecorded):
            self.simulations.append(fact)
