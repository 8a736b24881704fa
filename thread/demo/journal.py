"""The facts the demo plant has simulated but not yet written, and the tallies of what it did."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from thread.domain import facts as f
from thread.domain.signature import Signer
from thread.errors import LedgerError


@dataclass(frozen=True)
class Entry:
    """One fact of the simulation with its envelope."""

    fact: f.Fact
    at: datetime
    actor: str
    record_id: str
    sign: Signer | None


class Journal:
    """Facts queued for the ledger under record ids unique to the seed, and what they add up to.

    Every simulated subject draws from its own generator (``rng``), so a subject's
    story does not depend on what was simulated before it.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.counts: Counter[str] = Counter()
        self.example = ""  # a serial with a story worth reading, once there is one
        self.entries: list[Entry] = []
        self._ids: set[str] = set()

    def rng(self, *names: object) -> random.Random:
        """The random generator of one simulated subject."""
        return random.Random("/".join(str(name) for name in (self.seed, *names)))

    def add(self, fact: f.Fact, at: datetime, actor: str, tag: str = "",
            sign: Signer | None = None) -> None:
        """Queue ``fact`` with a record id unique to this seed, subject, topic and tag."""
        kind, key = fact.subject
        record_id = f"seed-{self.seed}/{kind}/{key}/{fact.topic}" + (f"/{tag}" if tag else "")
        if record_id in self._ids:
            raise LedgerError(f"demo plant: record id {record_id} was produced twice")
        self._ids.add(record_id)
        self.entries.append(Entry(fact, at, actor, record_id, sign))
        self.counts["facts"] += 1

    def take(self) -> list[Entry]:
        """The facts queued since the last call."""
        entries, self.entries = self.entries, []
        return entries

    def signer(self, signer: str, printed_name: str) -> Signer:
        """A person who signs demo facts, with a key derived from the seed."""
        secret = hashlib.sha256(f"thread demo plant {self.seed} {signer}".encode()).digest()
        return Signer(signer, printed_name, Ed25519PrivateKey.from_private_bytes(secret))
