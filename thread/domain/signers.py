"""A registered signer: their keys over time, their roles, and whether they may sign now.

The one place that decides whether a signature by a given key, at a given
moment, is one the registry allows: the ledger asks it before writing a
signature, and ``thread verify`` asks it again for every stored signature
with the registry as it stood at that signature's position in the log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from thread.domain import facts as f
from thread.domain.chain import Aggregate, Recorded
from thread.domain.facts.base import Fact, SubjectKind
from thread.domain.facts.signers import FailureReason
from thread.domain.part import check_reference
from thread.errors import AlreadyRegistered, RuleViolation, UnknownSubject

#: The role that may change the registry.
ADMINISTRATOR = "administrator"
#: Failed attempts in a row after which a signer is locked, by default.
MAX_FAILURES = 3
#: Registry facts: only an administrator signs them.
REGISTRY_FACTS: tuple[type[Fact], ...] = (
    f.SignerRegistered, f.SignerKeyRotated, f.SignerKeyRevoked, f.SignerRolesChanged,
    f.SignerUnlocked)
#: Facts only a registered signer's account takes (the rest record reads and refusals).
SIGNER_FACTS: tuple[type[Fact], ...] = (
    *REGISTRY_FACTS, f.SigningSessionOpened, f.SigningFailed, f.SignerLocked)


@dataclass(frozen=True)
class KeyPeriod:
    """One key of a signer and the time it may sign in: from ``valid_from`` until it was
    revoked or replaced (``ended_at``, the moment the ledger learned it)."""

    public_key: str
    valid_from: datetime
    ended_at: datetime | None = None
    ended_because: str | None = None

    @property
    def active(self) -> bool:
        """Whether the key still signs."""
        return self.ended_at is None

    def covers(self, signed_at: datetime, recorded_at: datetime) -> bool:
        """Whether a signature made at ``signed_at`` and recorded at ``recorded_at`` falls in
        this key's period: from ``valid_from``, and recorded before the key ended."""
        return signed_at >= self.valid_from and (self.ended_at is None
                                                 or recorded_at < self.ended_at)


@dataclass(frozen=True)
class Refusal:
    """Why the registry does not allow a signature: a recorded reason and the words."""

    reason: FailureReason
    detail: str


class SignerAccount(Aggregate):
    """A person who signs, keyed by signer id: printed name, roles, keys, lock state."""

    kind: ClassVar[SubjectKind] = "signer"

    def __init__(self, *, kind_key: str, id: UUID | None = None) -> None:
        super().__init__(kind_key=kind_key, id=id)
        self.printed_name = ""
        self.roles: tuple[str, ...] = ()
        self.keys: list[KeyPeriod] = []
        self.failures = 0  # failed attempts since the last session opened or unlock
        self.locked = False

    @classmethod
    def creators(cls) -> tuple[type[Fact], ...]:
        return (f.SignerRegistered, f.ControlledDataRead, f.AccessAttemptRefused)

    @property
    def registered(self) -> bool:
        """Whether an administrator registered this person as a signer (their account may
        hold only the record of their reads and refused attempts)."""
        return bool(self.keys)

    @property
    def active_key(self) -> KeyPeriod | None:
        """The key the signer signs with now, if any."""
        return next((key for key in self.keys if key.active), None)

    def key_period(self, public_key: str) -> KeyPeriod | None:
        """The period of ``public_key`` (hex), if it was ever this signer's."""
        return next((key for key in self.keys if key.public_key == public_key), None)

    def check(self, fact: Fact) -> None:
        if isinstance(fact, f.SignerRegistered) and self.registered:
            raise AlreadyRegistered(f"{self.label} is already registered as "
                                    f"{self.printed_name!r}; rotate the key or change the "
                                    f"roles instead")
        if (isinstance(fact, SIGNER_FACTS) and not isinstance(fact, f.SignerRegistered)
                and not self.registered):
            raise UnknownSubject(f"{self.label} is not registered: record SignerRegistered "
                                 f"before {type(fact).__name__}")
        if isinstance(fact, f.SignerKeyRotated) and self.key_period(fact.public_key) is not None:
            raise RuleViolation(f"{self.label} already had key {fact.public_key[:16]}...; a "
                                f"rotation names a new key")
        if isinstance(fact, f.SignerKeyRevoked):
            key = self.key_period(fact.public_key)
            if key is None or not key.active:
                raise RuleViolation(
                    f"{self.label} has no active key {fact.public_key[:16]}... to revoke "
                    + ("(it was never theirs)" if key is None else
                       f"(it was {key.ended_because} at {key.ended_at:%Y-%m-%d %H:%M})"))
        if isinstance(fact, f.SignerUnlocked) and not self.locked:
            raise RuleViolation(f"{self.label} is not locked")
        check_reference(self, fact)

    def apply(self, event: Recorded) -> None:
        fact = event.fact
        if isinstance(fact, f.SignerRegistered):
            self.printed_name, self.roles = fact.printed_name, fact.roles
            self.keys = [KeyPeriod(fact.public_key, fact.valid_from)]
        elif isinstance(fact, f.SignerKeyRotated):
            self._end_active(event.recorded_at, "superseded")
            self.keys = [*self.keys, KeyPeriod(fact.public_key, fact.valid_from)]
        elif isinstance(fact, f.SignerKeyRevoked):
            self.keys = [replace(key, ended_at=event.recorded_at, ended_because="revoked")
                         if key.public_key == fact.public_key else key for key in self.keys]
        elif isinstance(fact, f.SignerRolesChanged):
            self.roles = fact.roles
        elif isinstance(fact, f.SigningSessionOpened):
            self.failures = 0
        elif isinstance(fact, f.SigningFailed):
            self.failures += 1
        elif isinstance(fact, f.SignerLocked):
            self.locked = True
        elif isinstance(fact, f.SignerUnlocked):
            self.locked, self.failures = False, 0

    def _end_active(self, at: datetime, because: str) -> None:
        self.keys = [replace(key, ended_at=at, ended_because=because) if key.active else key
                     for key in self.keys]

    def refusal(self, public_key: str, at: datetime) -> Refusal | None:
        """Why this signer may not sign with ``public_key`` (hex) at ``at`` now, or None."""
        if self.locked:
            return Refusal("locked", f"{self.label} is locked after {self.failures} failed "
                                     f"attempts; an administrator must unlock them")
        key = self.key_period(public_key)
        if key is None:
            return Refusal("wrong key", f"key {public_key[:16]}... is not a key registered "
                                        f"for {self.label}")
        if not key.active:
            assert key.ended_at is not None
            return Refusal("revoked key", f"key {public_key[:16]}... of {self.label} was "
                                          f"{key.ended_because} at "
                                          f"{key.ended_at.isoformat(timespec='seconds')}")
        if at < key.valid_from:
            return Refusal("wrong key", f"key {public_key[:16]}... of {self.label} signs from "
                                        f"{key.valid_from.isoformat(timespec='seconds')}, "
                                        f"not at {at.isoformat(timespec='seconds')}")
        return None


def bootstraps(fact: Fact, signer: str, public_key: str) -> bool:
    """Whether ``fact``, signed by ``signer`` with ``public_key``, may found an empty
    registry: the first administrator registering themselves with that very key."""
    return (isinstance(fact, f.SignerRegistered) and ADMINISTRATOR in fact.roles
            and fact.signer == signer and fact.public_key == public_key)


def signing_refusal(fact: Fact, signer: str, public_key: str, at: datetime,
                    account: SignerAccount, registry_in_use: bool) -> Refusal | None:
    """Why the registry refuses ``signer``'s signature with ``public_key`` at ``at`` on
    ``fact``, or None.

    ``account`` is the signer's subject as it stands when the signature is written (after
    ``fact`` itself, when ``fact`` registers them); ``registry_in_use`` says whether any
    signer was registered before. A ledger with no registry yet accepts signatures from
    anyone (they verify against the key they carry, as before), except on registry facts:
    the registry is founded by its first administrator registering themselves. Changes to a
    signer's own registration are signed by another administrator.
    """
    if isinstance(fact, REGISTRY_FACTS):
        if not registry_in_use:
            if bootstraps(fact, signer, public_key):
                return None
            return Refusal("not registered", f"the signer registry is empty: it starts with "
                                             f"an administrator registering themselves, "
                                             f"signed with their own key, not with "
                                             f"{type(fact).__name__} by {signer}")
        if fact.subject == ("signer", signer):
            return Refusal("not permitted", f"{type(fact).__name__} about {signer} is signed "
                                            f"by another administrator, not by {signer}")
    if not account.registered:
        if not registry_in_use:
            return None
        return Refusal("not registered", f"{signer} is not in the signer registry; an "
                                         f"administrator registers them first "
                                         f"(thread signer add)")
    refusal = account.refusal(public_key, at)
    if refusal is None and isinstance(fact, REGISTRY_FACTS) and ADMINISTRATOR not in account.roles:
        return Refusal("not permitted", f"{type(fact).__name__} is signed by an administrator; "
                                        f"{signer} holds {', '.join(account.roles)}")
    return refusal
