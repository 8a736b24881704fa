"""Export-control and data-residency labels, and which of a subject's facts they cover.

A label is written as a short string, so a policy file, a command line and a
stored fact all say it the same way:

* ``ITAR:XI`` - ITAR technical data of a USML category (I to XXI);
* ``EAR:3A001`` - EAR controlled, with its ECCN (``3A001``, ``9E003.a``);
* ``EAR99`` - subject to the EAR but of no listed ECCN;
* ``residency:DE`` - data that stays in a country (ISO 3166 alpha-2, or ``EU``).

A design item's labels are inherited by its parts unless the part states its
own; one event can carry labels of its own as well (``ExportClassified`` with a
``version``). :class:`Classification` is that rule, computed in one place for
every read path; what a reader may see under those labels is the role
policy's decision (:mod:`thread.access.policy`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator

_USML = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII",
         "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX", "XXI")
_ECCN = re.compile(r"^[0-9][A-E][0-9]{3}(?:\.[a-z0-9]+)*$")
_COUNTRY = re.compile(r"^(?:[A-Z]{2})$")
EAR99 = "EAR99"


def label(value: str) -> str:
    """``value`` if it is a label this ledger knows; ValueError naming what was expected."""
    scheme, _, rest = value.partition(":")
    if value == EAR99:
        return value
    if scheme == "ITAR" and rest in _USML:
        return value
    if scheme == "EAR" and _ECCN.match(rest):
        return value
    if scheme == "residency" and _COUNTRY.match(rest):
        return value
    raise ValueError(
        f"an export-control label: ITAR:<USML category I-XXI>, EAR:<ECCN such as 3A001>, "
        f"EAR99 or residency:<country such as US>, not {value!r}")


#: One export-control or data-residency label (see the module's text).
Label = Annotated[str, AfterValidator(label)]


def controlled(labels: Iterable[str]) -> tuple[str, ...]:
    """The labels that need a licence or US-person status to read (ITAR and EAR ECCNs)."""
    return tuple(sorted({x for x in labels if x.startswith(("ITAR:", "EAR:"))}))


def residency(labels: Iterable[str]) -> tuple[str, ...]:
    """The countries the labelled data must stay in."""
    return tuple(sorted({x.partition(":")[2] for x in labels if x.startswith("residency:")}))


def policy_context(labels: Iterable[str]) -> dict[str, Any]:
    """What a policy decision sees of ``labels``: all of them, the controlled ones, whether
    EAR99 is among them, and the residency countries."""
    every = sorted(set(labels))
    return {"labels": every, "controlled": list(controlled(every)), "ear99": EAR99 in every,
            "residency": list(residency(every))}


@dataclass(frozen=True)
class Classification:
    """The labels over one subject's events: the subject's own (stated on it, or inherited
    from its design item), and those of single events."""

    subject: tuple[str, ...] = ()
    #: Whether ``subject`` was stated on the subject itself (else inherited, or none).
    stated: bool = False
    events: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def of(self, version: int) -> tuple[str, ...]:
        """The labels that cover event ``version`` of the subject."""
        extra = self.events.get(version, ())
        return tuple(sorted({*self.subject, *extra})) if extra else self.subject

    @property
    def every(self) -> tuple[str, ...]:
        """Every label on the subject or any of its events."""
        return tuple(sorted({*self.subject, *(x for v in self.events.values() for x in v)}))

    @property
    def controlled(self) -> bool:
        """Whether anything of the subject is labelled."""
        return bool(self.subject or self.events)


def classify(own: Iterable[tuple[int | None, tuple[str, ...]]],
             inherited: tuple[str, ...] = ()) -> Classification:
    """The classification from a subject's ``ExportClassified`` facts in order ((version or
    None for the whole subject, labels)), over what its design item says (``inherited``).
    A later statement about the subject, or about one event, replaces the earlier one."""
    subject: tuple[str, ...] | None = None
    events: dict[int, tuple[str, ...]] = {}
    for version, labels in own:
        if version is None:
            subject = tuple(sorted(set(labels)))
        elif labels:
            events[version] = tuple(sorted(set(labels)))
        else:
            events.pop(version, None)
    if subject is None:
        return Classification(inherited, False, events)
    return Classification(subject, True, events)
