"""Which serials and lots exist, by part number and revision, as of a moment."""

from __future__ import annotations

from sqlalchemy import Connection

from thread.read.clock import AsOf
from thread.read.sql import rows

_SERIALS = (
    "SELECT key FROM read_registry WHERE part_number = :number AND kind = :kind "
    "AND {clock} <= :bound ORDER BY position"
)
_SERIALS_OF_REVISION = (
    "SELECT key FROM read_registry WHERE part_number = :number AND revision = :revision "
    "AND kind = :kind AND {clock} <= :bound ORDER BY position"
)


def registered(conn: Connection, part_number: str, revision: str | None, as_of: AsOf,
               kind: str = "part") -> list[str]:
    """Keys registered against a part number (and revision), in registration order."""
    if revision is None:
        found = rows(conn, _SERIALS, as_of, number=part_number, kind=kind)
    else:
        found = rows(conn, _SERIALS_OF_REVISION, as_of, number=part_number, revision=revision,
                     kind=kind)
    return [key for (key,) in found]
