"""Rules and effects that span subjects: what one fact needs of, or does to, another subject.

The write side calls :func:`check` before a fact lands and :func:`effects` for
the facts it causes elsewhere in the same transaction; which facts cause what
is declared once, in :mod:`thread.domain.topics`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from thread.domain import facts as f
from thread.domain import topics
from thread.domain.chain import Aggregate
from thread.domain.design import DesignItem
from thread.domain.facts.base import Fact, SubjectKind, fact_class
from thread.domain.part import Part
from thread.errors import GenealogyViolation, UnknownSubject, UnreleasedRevision

#: Loads another subject's aggregate (a new, empty one if it does not exist yet).
Load = Callable[[SubjectKind, str], Aggregate]
#: Notes that a decision relied on a subject it does not write (for conflict checks).
Rely = Callable[[Aggregate], None]


def check(fact: Fact, aggregate: Aggregate, load: Load, rely: Rely) -> None:
    """Refuse ``fact`` on ``aggregate`` if another subject it names does not allow it."""
    for kind, key in fact.references():
        if not load(kind, key).exists:
            raise UnknownSubject(
                f"{type(fact).__name__} for {aggregate.label} names {kind} {key}, "
                f"which is not registered"
            )
    rule = _RULES.get(type(fact))
    if rule is not None:
        rule(fact, aggregate, load, rely)


def effects(fact: Fact) -> list[Fact]:
    """The facts ``fact`` causes on other subjects, as its topic's entry declares them."""
    entry = topics.topic(fact.topic)
    if entry is None:
        return []
    _, key = fact.subject
    caused = []
    for effect in entry.effects:
        topic, payload = effect.derive(key, fact.__dict__)
        caused.append(fact_class(topic).parse(payload))
    return caused


def _released(fact: Fact, aggregate: Aggregate, load: Load, rely: Rely) -> None:
    """A part is registered against a released design revision, or says it is undocumented."""
    registered = cast(f.PartRegistered, fact)
    if registered.undocumented:
        return
    design = cast(DesignItem, load("design", registered.part_number))
    if not design.is_released(registered.revision):
        released = ", ".join(design.revisions) or "none"
        raise UnreleasedRevision(
            f"{aggregate.label} names part number {registered.part_number} revision "
            f"{registered.revision}, which was never released (released: {released}); "
            f"release it first, or register the part with undocumented=True"
        )


def _acyclic(fact: Fact, aggregate: Aggregate, load: Load, rely: Rely) -> None:
    """A part cannot go into itself, or into anything already inside it."""
    installed = cast(f.ComponentInstalled, fact)
    if installed.component == aggregate.key:
        raise GenealogyViolation(f"{aggregate.label} cannot be installed into itself")
    path = [aggregate.key]
    node = cast(Part, aggregate)
    while node.installed_in is not None:
        path.append(node.installed_in)
        if node.installed_in == installed.component:
            raise GenealogyViolation(
                f"installing part {installed.component} into {aggregate.label} would put it "
                f"inside itself: {' in '.join(path)}"
            )
        node = cast(Part, load("part", node.installed_in))
        rely(node)


_Rule = Callable[[Fact, Aggregate, Load, Rely], None]
_RULES: dict[type[Fact], _Rule] = {
    f.PartRegistered: _released,
    f.ComponentInstalled: _acyclic,
}
