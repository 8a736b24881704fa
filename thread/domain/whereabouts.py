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

from collections.abc import Mapping
from dataclasses import dataclass, replace
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


def registered(_: Whereabouts, __: Payload) -> Whereabouts:
    """A part or production lot starts its life in production."""
    return Whereabouts(state="in production")


def received(_: Whereabouts, __: Payload) -> Whereabouts:
    """A material lot arrives in stock."""
    return Whereabouts(state="in stock")


def installed_into(here: Whereabouts, p: Payload) -> Whereabouts:
    """Installed into an assembly: it goes where the assembly goes."""
    return replace(here, state="in assembly", assembly=p["assembly"])


def removed_from(here: Whereabouts, _: Payload) -> Whereabouts:
    """Taken out of an assembly: back in stock."""
    return replace(here, state="in stock", assembly=None)


def shipped(here: Whereabouts, p: Payload) -> Whereabouts:
    """Left the plant for a customer (and a destination, when one is given)."""
    return replace(here, state="shipped", assembly=None, customer=p["customer"],
                   destination=p.get("destination"))


def installed_at_site(here: Whereabouts, p: Payload) -> Whereabouts:
    """Installed in the field."""
    return replace(here, state="installed at site", site=p["site"])


def dispositioned(here: Whereabouts, p: Payload) -> Whereabouts:
    """A scrap or return-to-vendor decision ends its life here; other decisions keep it."""
    decision = p["decision"]
    if decision == "scrap":
        return replace(here, state="scrapped")
    if decision == "return-to-vendor":
        return replace(here, state="returned to vendor")
    return here


def quarantined(here: Whereabouts, _: Payload) -> Whereabouts:
    """Held: it may not ship or be installed."""
    return replace(here, quarantined=True)


def released(here: Whereabouts, _: Payload) -> Whereabouts:
    """The hold is lifted."""
    return replace(here, quarantined=False)


def recalled(here: Whereabouts, p: Payload) -> Whereabouts:
    """In the scope of a recall."""
    return replace(here, recalls=(*here.recalls, p["recall"]))
