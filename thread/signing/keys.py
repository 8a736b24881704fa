"""Signer key files: an Ed25519 private key encrypted under the signer's passphrase.

The file is PKCS #8 PEM (``ENCRYPTED PRIVATE KEY``), which ``openssl pkey``
and every TLS library read; the public key sits beside it as 64 hex digits
(``.pub``), for the administrator who registers it.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from thread.errors import LedgerError

#: Shortest passphrase a key file accepts.
MIN_PASSPHRASE = 8


class KeyFileError(LedgerError):
    """A key file cannot be written or read as a signer's key."""


class WrongPassphrase(KeyFileError):  # noqa: N818 - the words a signer reads
    """The passphrase does not open the key file."""


def public_hex(key: Ed25519PrivateKey) -> str:
    """The raw public key of ``key`` as 64 hex digits."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def write_signer_key(path: Path, passphrase: str) -> str:
    """A new key, encrypted under ``passphrase`` into ``path`` (never overwriting), its
    public key into ``path`` + ``.pub``; returns the public key (hex)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyFileError(f"a passphrase of at least {MIN_PASSPHRASE} characters, not "
                           f"{len(passphrase)}")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                            BestAvailableEncryption(passphrase.encode()))
    public = public_hex(key)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} exists; a key file is never overwritten") from None
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    path.with_name(path.name + ".pub").write_text(public + "\n", encoding="ascii")
    return public


def read_signer_key(path: Path, passphrase: str) -> Ed25519PrivateKey:
    """The key in ``path``, opened with ``passphrase``."""
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"{path}: {error.strerror or error}") from None
    if b"ENCRYPTED PRIVATE KEY" not in pem:
        raise KeyFileError(f"{path} is not a passphrase-protected key file (PKCS #8 "
                           f"ENCRYPTED PRIVATE KEY); make one with thread signer key")
    try:
        key = load_pem_private_key(pem, passphrase.encode())
    except (ValueError, TypeError):
        raise WrongPassphrase(f"the passphrase does not open {path.name}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def read_public_key(value: str) -> str:
    """A public key given as 64 hex digits or as a ``.pub`` file holding them."""
    text = value.strip()
    if not _is_hex_key(text):
        try:
            text = Path(value).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            raise KeyFileError(f"public key {value!r}: expected 64 hex digits or a .pub "
                               f"file holding them") from None
    if not _is_hex_key(text):
        raise KeyFileError(f"public key file {value}: expected 64 hex digits")
    return text.lower()


def _is_hex_key(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)
