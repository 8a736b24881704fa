"""The facts the demo plant has simulated but not yet written, and the tallies of what it did."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from thread.domain import facts as f
from thread.domain.facts.records import Meaning
from thread.domain.signature import Signer
from thread.errors import LedgerError


@dataclass(frozen=True)
class Entry:
    """One fact of the simulation with its envelope, signed by ``sign`` with ``meaning``."""

    fact: f.Fact
    at: datetime
    actor: str
    record_id: str
    sign: Signer | None
    meaning: Meaning = "approval"


@dataclass(frozen=True)
class Countersignature:
    """A further signature on the event of an earlier entry: a second person signs it too
    (AS9102 Form 1: verified by one person, approved by another). It can only be made once
    that event is in the ledger, since it signs the event's hash."""

    record_id: str  # of the entry whose event is signed
    signer: Signer
    meaning: Meaning
    at: datetime


class Journal:
    """Facts queued for the ledger under record ids unique to the seed, and what they add up to.

    Every simulated subject draws from its own generator (``rng``), so a subject's
    story does not depend on what was simulated before it.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.counts: Counter[str] = Counter()
        self.example = ""  # a serial with a story worth reading, once there is one
        self.entries: list[Entry | Countersignature] = []
        self._ids: set[str] = set()

    def rng(self, *names: object) -> random.Random:
        """The random generator of one simulated subject."""
        return random.Random("/".join(str(name) for name in (self.seed, *names)))

    def add(self, fact: f.Fact, at: datetime, actor: str, tag: str = "",
            sign: Signer | None = None, meaning: Meaning = "approval") -> str:
        """Queue ``fact`` with a record id unique to this seed, subject, topic and tag; return
        the record id."""
        kind, key = fact.subject
        record_id = f"seed-{self.seed}/{kind}/{key}/{fact.topic}" + (f"/{tag}" if tag else "")
        if record_id in self._ids:
            raise LedgerError(f"demo plant: record id {record_id} was produced twice")
        self._ids.add(record_id)
        self.entries.append(Entry(fact, at, actor, record_id, sign, meaning))
        self.counts["facts"] += 1
        self.counts["signatures"] += sign is not None
        return record_id

    def countersign(self, record_id: str, signer: Signer, meaning: Meaning,
                    at: datetime) -> None:
        """Queue a further signature by ``signer`` on the event of entry ``record_id``."""
        self.entries.append(Countersignature(record_id, signer, meaning, at))
        self.counts["signatures"] += 1

    def take(self) -> list[Entry | Countersignature]:
        """The facts queued since the last call."""
        entries, self.entries = self.entries, []
        return entries

    def signer(self, signer: str, printed_name: str) -> Signer:
        """A person who signs demo facts, with a key derived from the seed (a demo: a plant
        keeps each person's private key to that person)."""
        secret = hashlib.sha256(f"thread demo plant {self.seed} {signer}".encode()).digest()
        return Signer(signer, printed_name, Ed25519PrivateKey.from_private_bytes(secret))
