"""The log the read models were built against, and whether the ledger's log still extends it.

Read models are derived from a prefix of the log. They keep that prefix's tree size
and RFC 6962 root (their positions never pass it), and before every catch-up ask the
log for a consistency proof from that size to its own: a log restored from an older
copy, or with rows cut from its tail, no longer extends it, even once it has grown
past the old size again with different events. Read models built on a history that
no longer exists are rebuilt, and say so, rather than answer from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from thread.domain.condition import moment
from thread.errors import LedgerError
from thread.log.merkle import EMPTY_ROOT
from thread.log.verify import verify_consistency
from thread.read import schema as s
from thread.read.source import LogTree


@dataclass(frozen=True)
class Head:
    """A tree of the log: its size and root."""

    size: int
    root: bytes

    def __str__(self) -> str:
        return f"{self.size} events (root {self.root.hex()[:16]})"


#: The tree read models start from: every log extends it.
EMPTY = Head(0, EMPTY_ROOT)


@dataclass(frozen=True)
class Basis:
    """What the read models were built against, and their last rebuild on their own."""

    #: The tree of the log they were last caught up against; no position passes its size.
    built_on: Head
    #: When they last found the log no longer extended what they were built on, and rebuilt.
    rebuilt_at: datetime | None
    #: Why, in words (None: never).
    rebuilt_because: str | None


def head_of(tree: LogTree) -> Head:
    """The log's tree now."""
    size, root = tree.tree_head()
    return Head(size, root)


def stored(conn: Connection) -> Basis:
    """The basis the read models in ``conn`` record (the empty tree if none yet)."""
    row = conn.execute(select(s.basis.c.size, s.basis.c.root, s.basis.c.rebuilt_ns,
                              s.basis.c.rebuilt_because)).first()
    if row is None:
        return Basis(EMPTY, None, None)
    return Basis(Head(int(row.size), bytes.fromhex(row.root)),
                 None if row.rebuilt_ns is None else moment(int(row.rebuilt_ns)),
                 row.rebuilt_because)


def ensure(conn: Connection) -> None:
    """Give new read models their basis row: the empty tree."""
    if conn.execute(select(s.basis.c.size)).first() is None:
        conn.execute(s.basis.insert().values(size=0, root=EMPTY_ROOT.hex()))


def departure(tree: LogTree, built_on: Head, now: Head) -> str | None:
    """How the log ``now`` fails to extend the tree ``built_on``, in words; None if it does."""
    if built_on.size == 0:
        return None
    if now.size < built_on.size:
        return (f"the log holds {now.size} events, fewer than the {built_on} the read models "
                f"were built on: its tail was cut, or an older copy of the ledger restored")
    if now.size == built_on.size:
        if now.root == built_on.root:
            return None
        return (f"the log's {now.size} events have root {now.root.hex()[:16]}, not the "
                f"{built_on} the read models were built on: an older copy of the ledger was "
                f"restored and written to, or its rows replaced")
    try:
        verify_consistency(built_on.size, now.size, built_on.root, now.root,
                           tree.consistency_proof(built_on.size, now.size))
    except LedgerError:
        return (f"the log of {now} does not extend the {built_on} the read models were "
                f"built on: an older copy of the ledger was restored and written past that "
                f"size, or its tail cut and written again")
    return None


def advance(conn: Connection, to: Head) -> None:
    """Record that the read models are being caught up against ``to`` (never moves back)."""
    conn.execute(s.basis.update().where(s.basis.c.size < to.size)
                 .values(size=to.size, root=to.root.hex()))


def restart(conn: Connection, built_on: Head, because: str, at_ns: int) -> bool:
    """Reset the basis to the empty tree, saying why; False if another process already did
    (the basis is no longer ``built_on``)."""
    return conn.execute(
        s.basis.update().where(s.basis.c.size == built_on.size,
                               s.basis.c.root == built_on.root.hex())
        .values(size=0, root=EMPTY_ROOT.hex(), rebuilt_ns=at_ns, rebuilt_because=because)
    ).rowcount == 1
