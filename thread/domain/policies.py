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
from thread.domain.conformance import Requirement, UnitError, convert, same, verdict
from thread.domain.design import DesignItem
from thread.domain.facts.base import Fact, SubjectKind, fact_class
from thread.domain.part import Part
from thread.domain.units import UNITS
from thread.errors import (
    GenealogyViolation,
    QualityRuleViolation,
    UnknownSubject,
    UnreleasedRevision,
)

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


def _conforms(fact: Fact, aggregate: Aggregate, load: Load, rely: Rely) -> None:
    """A measurement of a characteristic of the part's released revision agrees with it:
    a unit of the same quantity, the design's nominal and tolerances, and a verdict that
    follows from value against tolerance unless the fact says why it does not."""
    m = cast(f.InspectionRecorded, fact)
    item = cast(Part, aggregate)
    if item.part_number is None or item.revision is None or item.undocumented:
        return
    design = cast(DesignItem, load("design", item.part_number))
    release = design.revisions.get(item.revision)
    characteristic = None if release is None else next(
        (c for c in release.characteristics if c.balloon == m.characteristic), None)
    if characteristic is None or characteristic.nominal is None:
        return
    rely(design)
    required = Requirement(str(characteristic.unit), characteristic.nominal,
                           float(characteristic.lower_tolerance or 0),
                           float(characteristic.upper_tolerance or 0))
    named = (f"characteristic {characteristic.balloon} ({characteristic.name}) of "
             f"{item.part_number} rev {item.revision}")
    unit = m.unit or required.unit
    try:
        stated = {name: convert(value, unit, required.unit) for name, value in (
            ("measured", m.measured), ("nominal", m.nominal),
            ("lower_tolerance", m.lower_tolerance), ("upper_tolerance", m.upper_tolerance))
            if value is not None}
    except UnitError:
        raise QualityRuleViolation(
            f"inspection of {aggregate.label}: unit {unit} ({UNITS.get(unit, 'unknown')}) "
            f"cannot measure {named}, which is in {required.unit} "
            f"({UNITS.get(required.unit, 'unknown')})") from None
    for name in ("nominal", "lower_tolerance", "upper_tolerance"):
        if name in stated and not same(stated[name], getattr(required, name)):
            raise QualityRuleViolation(
                f"inspection of {aggregate.label}: {name} {getattr(m, name):g} {unit} differs "
                f"from the design's {getattr(required, name):g} {required.unit} for {named}")
    measured = stated.get("measured")
    if measured is None:
        return
    derived = verdict(measured, required)
    if derived != m.verdict and m.verdict_reason is None:
        where = "inside" if derived == "pass" else "outside"
        raise QualityRuleViolation(
            f"inspection of {aggregate.label}: verdict {m.verdict} but {m.measured:g} {unit} "
            f"is {where} {required.describe()} for {named}, which gives {derived}; record "
            f"{derived}, or say in verdict_reason why not (guard band, bonus tolerance, "
            f"a reviewed decision)")


_Rule = Callable[[Fact, Aggregate, Load, Rely], None]
_RULES: dict[type[Fact], _Rule] = {
    f.PartRegistered: _released,
    f.ComponentInstalled: _acyclic,
    f.InspectionRecorded: _conforms,
}
