"""How facts and events read on a terminal and in JSON: one-line summaries, tables, records."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thread.domain import facts as f
    from thread.domain.chain import Recorded

# The facts and their canonical form load with the first summary, not with every command
# (``thread --help`` imports this module).

#: Characters that would move the cursor, recolour or reorder a terminal's text: the C0 and
#: C1 controls, DEL, and the bidirectional overrides and isolates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def summarize(fact: f.Fact) -> str:
    """One line saying what ``fact`` records, without naming its subject again."""
    from thread.domain import topics
    from thread.domain.canonical import model_payload

    return topics.summarize(fact.topic, model_payload(fact))


def printable(text: str) -> str:
    """``text`` with control characters escaped as Python writes them (``\\x1b``, ``\\n``).

    Whatever a user typed or a file held is echoed through this, so that it cannot
    clear the screen, recolour the terminal or break a one-line message in two.
    """
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def event_record(event: Recorded) -> dict[str, Any]:
    """An event as plain JSON values: envelope, hashes in hex, the fact's payload."""
    return {
        "version": event.originator_version,
        "topic": event.topic,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "actor": event.actor,
        "source": event.source,
        "source_record_id": event.source_record_id,
        "hash": event.hash.hex(),
        "prev_hash": event.prev_hash.hex(),
        "fact": event.fact.model_dump(mode="json"),
    }


def moment(value: datetime) -> str:
    """A time in UTC to the second, as a table shows it."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, marked when cut."""
    return text if len(text) <= width else text[: width - 3] + "..."


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns under a header; the last column is not padded.

    Cells are :func:`printable`: a value with a newline stays on its row.
    """
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in rows)])
              for i, header in enumerate(headers)]
    lines = []
    for cells in (headers, *rows):
        padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=False)]
        lines.append("  ".join([*padded, cells[-1]]))
    return "\n".join(lines)
