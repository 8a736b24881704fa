"""Changes to the signer registry, each signed by an administrator (11.100, 11.300(b)).

What the CLI's ``thread signer`` commands and the Python API both call: one
place that words each change as its fact and signs it with the meaning
``responsibility``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from thread.domain import facts as f
from thread.domain.facts.signers import RevocationReason
from thread.domain.signature import Signer
from thread.domain.signers import SignerAccount
from thread.errors import RuleViolation

if TYPE_CHECKING:
    from thread.ledger import Ledger, Receipt


def register(ledger: Ledger, admin: Signer, signer: str, printed_name: str,
             roles: Sequence[str], public_key: str, *,
             valid_from: datetime | None = None) -> Receipt:
    """Register ``signer`` with their public key (hex) and roles, signed by ``admin``.

    The first registration of a ledger is its first administrator registering
    themselves, signed with the key being registered.
    """
    return ledger.record(f.SignerRegistered(
        signer=signer, printed_name=printed_name, roles=tuple(roles), public_key=public_key,
        valid_from=valid_from or ledger.clock()), sign=admin, meaning="responsibility",
        source="signer-registry")


def rotate(ledger: Ledger, admin: Signer, signer: str, public_key: str, *,
           valid_from: datetime | None = None) -> Receipt:
    """Give ``signer`` a new key; their previous key signs no more."""
    return ledger.record(f.SignerKeyRotated(signer=signer, public_key=public_key,
                                            valid_from=valid_from or ledger.clock()),
                         sign=admin, meaning="responsibility", source="signer-registry")


def revoke(ledger: Ledger, admin: Signer, signer: str, reason: RevocationReason,
           note: str = "", *, public_key: str | None = None) -> Receipt:
    """Revoke ``signer``'s active key (or ``public_key``): what it signed stays valid,
    nothing more is signed with it."""
    if public_key is None:
        active = ledger.signer(signer).active_key
        if active is None:
            raise RuleViolation(f"signer {signer} has no active key to revoke")
        public_key = active.public_key
    return ledger.record(f.SignerKeyRevoked(signer=signer, public_key=public_key,
                                            reason=reason, note=note),
                         sign=admin, meaning="responsibility", source="signer-registry")


def change_roles(ledger: Ledger, admin: Signer, signer: str, roles: Sequence[str],
                 reason: str = "") -> Receipt:
    """The roles ``signer`` holds from now on."""
    return ledger.record(f.SignerRolesChanged(signer=signer, roles=tuple(roles),
                                              reason=reason),
                         sign=admin, meaning="responsibility", source="signer-registry")


def unlock(ledger: Ledger, admin: Signer, signer: str, reason: str) -> Receipt:
    """Let a locked signer sign again."""
    return ledger.record(f.SignerUnlocked(signer=signer, reason=reason), sign=admin,
                         meaning="responsibility", source="signer-registry")


def signers(ledger: Ledger) -> list[SignerAccount]:
    """Every registered signer, in the order they were registered."""
    ids = dict.fromkeys(event.fact.subject[1] for _, event in
                        ledger.scan(topics=[f.SignerRegistered.topic]))
    return [ledger.signer(signer) for signer in ids]
