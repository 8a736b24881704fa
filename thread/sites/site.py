"""What a site ledger hands its hub: its log's entries by index, its latest signed
checkpoint, and the consistency proof from what the hub holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thread.ledger import Ledger

#: Entries read from the site's store at a time.
PAGE = 1024


def log_entries(ledger: Ledger, start: int, stop: int) -> list[bytes]:
    """The canonical bytes of the log's entries ``start`` to ``stop - 1``, in order."""
    found: list[bytes] = []
    plaintext = ledger.mapper.plaintext
    while start < stop:
        page = ledger.store.select_log_by_leaf(start, min(PAGE, stop - start))
        if not page:
            break
        found.extend(plaintext(row) for _, row in page)
        start = page[-1][0] + 1
    return found


def latest_checkpoint(ledger: Ledger) -> tuple[int, str] | None:
    """The site's latest signed checkpoint (tree size, note), or None."""
    stored = ledger.checkpoints()
    return stored[-1] if stored else None


def extension_proof(ledger: Ledger, held: int, size: int) -> list[bytes]:
    """The consistency proof from the ``held`` entries the hub mirrors to ``size`` (none
    from an empty mirror, or to the same size)."""
    if held == 0 or held == size:
        return []
    return ledger.consistency_proof(held, size)
