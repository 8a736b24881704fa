"""Signers for tests: passphrase-protected key files and a registry founded by an
administrator, through the same ceremony a plant uses."""

from __future__ import annotations

from pathlib import Path

import thread
from thread.domain.signature import Signer
from thread.signing import registry
from thread.signing.ceremony import SigningSession
from thread.signing.keys import write_signer_key

PASSPHRASE = "correct horse battery"


def key_file(folder: Path, signer: str, passphrase: str = PASSPHRASE) -> tuple[Path, str]:
    """A new key file for ``signer`` in ``folder`` and its public key (hex)."""
    path = folder / f"{signer}.key"
    return path, write_signer_key(path, passphrase)


def founded(ledger: thread.Ledger, folder: Path) -> Signer:
    """A registry founded by administrator ``admin`` (Ada Admin); their signer, in session."""
    path, public = key_file(folder, "admin")
    from thread.signing.keys import read_signer_key
    founder = Signer("admin", "Ada Admin", read_signer_key(path, PASSPHRASE))
    registry.register(ledger, founder, "admin", "Ada Admin", ["administrator"], public)
    return SigningSession(ledger, "admin", path).open(PASSPHRASE)


def registered(ledger: thread.Ledger, admin: Signer, folder: Path, signer: str,
               printed_name: str, roles: tuple[str, ...] = ("quality-engineer",)
               ) -> SigningSession:
    """``signer`` registered by ``admin`` with a new key file; their (unopened) session."""
    path, public = key_file(folder, signer)
    registry.register(ledger, admin, signer, printed_name, roles, public)
    return SigningSession(ledger, signer, path)
