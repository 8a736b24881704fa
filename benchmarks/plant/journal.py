"""Facts the simulation has produced but not yet written, with their record ids and tallies."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from datetime import datetime
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from thread import Signer
from thread import facts as f

#: The source every dataset fact names.
SOURCE = "dataset"


class Entry(NamedTuple):
    """One fact with its envelope."""

    fact: f.Fact
    at: datetime
    actor: str
    record_id: str
    sign: Signer | None


class Journal:
    """Queues facts under record ids unique to the seed, the subject and a tag.

    The record id makes re-sending a fact a no-op, so a re-run, an extension
    to more parts or a resumed run writes each fact once.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.entries: list[Entry] = []
        self.counts: Counter[str] = Counter()

    def rng(self, *names: object) -> random.Random:
        """The generator of one simulated subject, independent of everything else."""
        return random.Random("/".join(str(name) for name in (self.seed, *names)))

    def add(self, fact: f.Fact, at: datetime, actor: str, key: str, tag: str,
            sign: Signer | None = None) -> None:
        """Queue ``fact`` about subject ``key``; ``tag`` tells it from the subject's others."""
        self.entries.append(Entry(fact, at, actor, f"{self.seed}/{key}/{tag}", sign))

    def take(self) -> list[Entry]:
        """The facts queued since the last call."""
        entries, self.entries = self.entries, []
        return entries

    def signer(self, signer: str, printed_name: str) -> Signer:
        """A person who signs dataset facts, with a key derived from the seed."""
        secret = hashlib.sha256(f"thread dataset plant {self.seed} {signer}".encode()).digest()
        return Signer(signer, printed_name, Ed25519PrivateKey.from_private_bytes(secret))
