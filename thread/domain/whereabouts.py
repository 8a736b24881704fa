"""Where a part or lot is: one fold over its own facts, the same for every view.

A subject's whereabouts change only through its own facts, in log order.
Each fact kind says in :mod:`thread.domain.topics` how it moves the subject
(registration, installation, removal, shipment, field installation, a scrap or
return-to-vendor disposition) or which flags it sets (quarantine, recall);
:func:`thread.domain.topics.fold` applies them. The aggregate, ``trace``, ``genealogy``,
``recall_scope``, the DHR and ``thread parts`` all call it, so they give one
answer. Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

State = Literal["not registered", "in production", "in stock", "in assembly", "shipped",
                "installed at site", "scrapped", "returned to vendor"]
Payload = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """Where a serial or lot is, and the holds on it, as its own facts say."""

    state: State = "not registered"
    assembly: str | None = None
    customer: str | None = None
    destination: str | None = None
    site: str | None = None
    quarantined: bool = False
    recalls: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        """The whereabouts in words: ``shipped to ACME (Berlin)``, ``in assembly GBX-1``."""
        if self.state == "in assembly":
            return f"in assembly {self.assembly}"
        if self.state == "shipped":
            return f"shipped to {self.customer}" + (
                f" ({self.destination})" if self.destination else "")
        if self.state == "installed at site":
            return f"installed at {self.site}"
        return self.state

    def model_dump(self) -> dict[str, Any]:
        """Plain JSON-ready data, with the location in words."""
        return {"state": self.state, "location": self.location, "assembly": self.assembly,
                "customer": self.customer, "destination": self.destination,
                "site": self.site, "quarantined": self.quarantined,
                "recalls": list(self.recalls)}


NOWHERE = Whereabouts()
IN_PRODUCTION = Whereabouts(state="in production")
IN_STOCK = Whereabouts(state="in stock")


@dataclass(frozen=True, slots=True)
class Move:
    """How one kind of fact moves its subject: the new whereabouts from the old and the
    payload, which it reads only through the fields named in ``reads`` (so a read model
    keeps just those, and a test checks the declaration against the code)."""

    apply: Callable[[Whereabouts, Payload], Whereabouts]
    reads: tuple[str, ...]
    name: str

    def __call__(self, here: Whereabouts, payload: Payload) -> Whereabouts:
        return self.apply(here, payload)


def move(*reads: str) -> Callable[[Callable[[Whereabouts, Payload], Whereabouts]], Move]:
    """Declare a move and the payload fields it reads."""
    def declare(apply: Callable[[Whereabouts, Payload], Whereabouts]) -> Move:
        return Move(apply, reads, apply.__name__)
    return declare


# Each move builds the new whereabouts field by field (state, assembly, customer,
# destination, site, quarantined, recalls): folds run over thousands of subjects per query.

@move()
def registered(_: Whereabouts, __: Payload) -> Whereabouts:
    """A part or production lot starts its life in production."""
    return IN_PRODUCTION


@move()
def received(_: Whereabouts, __: Payload) -> Whereabouts:
    """A material lot arrives in stock."""
    return IN_STOCK


@move("assembly")
def installed_into(h: Whereabouts, p: Payload) -> Whereabouts:
    """Installed into an assembly: it goes where the assembly goes."""
    return Whereabouts("in assembly", p["assembly"], h.customer, h.destination, h.site,
                       h.quarantined, h.recalls)


@move()
def removed_from(h: Whereabouts, _: Payload) -> Whereabouts:
    """Taken out of an assembly: back in stock."""
    return Whereabouts("in stock", None, h.customer, h.destination, h.site, h.quarantined,
                       h.recalls)


@move("customer", "destination")
def shipped(h: Whereabouts, p: Payload) -> Whereabouts:
    """Left the plant for a customer (and a destination, when one is given)."""
    return Whereabouts("shipped", None, p["customer"], p.get("destination"), h.site,
                       h.quarantined, h.recalls)


@move("site")
def installed_at_site(h: Whereabouts, p: Payload) -> Whereabouts:
    """Installed in the field."""
    return Whereabouts("installed at site", h.assembly, h.customer, h.destination, p["site"],
                       h.quarantined, h.recalls)


@move("decision")
def dispositioned(h: Whereabouts, p: Payload) -> Whereabouts:
    """A scrap or return-to-vendor decision ends its life here; other decisions keep it."""
    decision = p["decision"]
    if decision == "scrap":
        state: State = "scrapped"
    elif decision == "return-to-vendor":
        state = "returned to vendor"
    else:
        return h
    return Whereabouts(state, h.assembly, h.customer, h.destination, h.site, h.quarantined,
                       h.recalls)


@move()
def quarantined(h: Whereabouts, _: Payload) -> Whereabouts:
    """Held: it may not ship or be installed."""
    return Whereabouts(h.state, h.assembly, h.customer, h.destination, h.site, True, h.recalls)


@move()
def released(h: Whereabouts, _: Payload) -> Whereabouts:
    """The hold is lifted."""
    return Whereabouts(h.state, h.assembly, h.customer, h.destination, h.site, False,
                       h.recalls)


@move("recall")
def recalled(h: Whereabouts, p: Payload) -> Whereabouts:
    """In the scope of a recall."""
    return Whereabouts(h.state, h.assembly, h.customer, h.destination, h.site, h.quarantined,
                       (*h.recalls, p["recall"]))
