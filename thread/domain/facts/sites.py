"""What a hub records in its own log about the site logs it mirrors.

Each site log has its own subject (kind ``site``, keyed by the site log's origin,
``<organisation>/<site>``). Each site checkpoint the hub has mirrored whole and
cosigned becomes a fact on it, with the cosigned note itself, so the hub's own
checkpoints commit to every site's head: a log of logs. So does each refusal of a
site's checkpoint or entries (a fork, a rollback, forged entries, a bad signature).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from thread.domain import topics
from thread.domain.facts.base import Fact, Identifier, Text

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class SiteFact(Fact):
    """A fact about one site log the hub mirrors."""

    subject_rule: ClassVar[topics.Subject] = topics.SITE
    site: Identifier


class SiteCheckpointMirrored(SiteFact):
    """The hub holds every entry of the site's log up to ``size``, whose Merkle root is
    ``root``, and cosigned the site's checkpoint: ``checkpoint`` is that signed note with
    the hub's cosignature (and any witness's)."""

    topic = "site.checkpoint-mirrored"
    size: Annotated[int, Field(ge=1)]
    root: Hex32
    checkpoint: Annotated[Text, StringConstraints(min_length=1)]


class SiteRefused(SiteFact):
    """The hub refused a site's checkpoint or entries, and why (``what``: fork, forged
    entries, bad signature, ...)."""

    topic = "site.refused"
    what: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    detail: Annotated[Text, StringConstraints(min_length=1)]
    checkpoint: Text | None = None


SITE_FACTS = (SiteCheckpointMirrored, SiteRefused)
