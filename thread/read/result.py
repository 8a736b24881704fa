"""What every read result is made of: frozen typed models that serialise to JSON.

Each result (a :class:`~thread.read.story.Story`, a genealogy
:class:`~thread.read.genealogy.Node`, a :class:`~thread.read.recall.RecallScope`)
reads by attribute and serialises with ``model_dump(mode="json")``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from thread.read.clock import AsOf, TimeAxis


class Model(BaseModel):
    """A frozen part of a read result."""

    # Bytes in a fact (a process record's raw samples) go to JSON as base64, as the facts'
    # own JSON writes them: a story or history with them must still serialise.
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_bytes="base64",
                              val_json_bytes="base64")


class AsOfNote(Model):
    """The moment a result reflects, and by which clock."""

    moment: datetime
    by: TimeAxis


def as_of_note(as_of: AsOf) -> AsOfNote | None:
    """How a result says which moment it reflects (None: the ledger as it is now)."""
    return None if as_of.moment is None else AsOfNote(moment=as_of.moment, by=as_of.by)
