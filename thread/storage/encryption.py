"""Encryption at rest: AES-GCM keys from the environment or a key file."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from thread.errors import EncryptionKeyError

#: Environment variable holding a base64 AES key (16, 24 or 32 bytes).
KEY_VARIABLE = "THREAD_ENCRYPTION_KEY"
#: Environment variable naming a file that holds the base64 key.
KEY_FILE_VARIABLE = "THREAD_ENCRYPTION_KEY_FILE"


def new_key() -> str:
    """A fresh 256-bit key, base64-encoded."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def write_key_file(path: Path) -> str:
    """Create ``path`` (mode 0600) holding a new key; refuse to overwrite."""
    key = new_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key


def load_key(key: str | None = None, key_file: str | Path | None = None) -> bytes | None:
    """The key given, or named by the environment; None when encryption is not asked for."""
    if key is None and key_file is None:
        key = os.environ.get(KEY_VARIABLE) or None
        key_file = os.environ.get(KEY_FILE_VARIABLE) or None
    origin = "the key argument"
    if key is None and key_file is not None:
        path = Path(key_file)
        origin = f"key file {path}"
        try:
            key = path.read_text().strip()
        except OSError as error:
            raise EncryptionKeyError(f"cannot read {origin}: {error.strerror}") from None
    if key is None:
        return None
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise EncryptionKeyError(f"{origin} is not base64") from None
    if len(raw) not in (16, 24, 32):
        raise EncryptionKeyError(
            f"{origin} decodes to {len(raw)} bytes; expected an AES key of 16, 24 or 32 bytes"
        )
    return raw


def cipher_for(raw_key: bytes) -> AESCipher:
    """eventsourcing's AES-GCM cipher (the ``cryptography`` one) for ``raw_key``."""
    return AESCipher(Environment(env={AESCipher.CIPHER_KEY: base64.b64encode(raw_key).decode()}))


def key_check(raw_key: bytes) -> str:
    """A value stored with the ledger that tells a wrong key from the right one."""
    return hmac.new(raw_key, b"thread-ledger key check", hashlib.sha256).hexdigest()[:32]


def identifier_key(raw_key: bytes) -> bytes:
    """The key that keys identifiers stored outside the encrypted bytes (source record ids),
    derived from the ledger's encryption key so that one key is all an operator keeps."""
    return hmac.new(raw_key, b"thread identifiers", hashlib.sha256).digest()
