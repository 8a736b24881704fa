"""Cosignatures of checkpoints in the c2sp.org/tlog-cosignature format (Ed25519,
``cosignature/v1``), byte for byte.

A cosignature is a note signature line ``— <cosigner name> base64(key id ||
timestamp || signature)`` added to a checkpoint: the key id is SHA-256(name || "\\n" ||
0x04 || public key)[:4], the timestamp a big-endian u64 of POSIX seconds, and the
Ed25519 signature covers ``cosignature/v1\\ntime <timestamp>\\n`` followed by the
checkpoint's note body. A mirror's cosignature says, besides, that it holds every
entry of the log up to the checkpoint's size (c2sp.org/tlog-mirror).

Cosigner keys are text like the log's own note keys, with signature type 0x04:
``<name>+<hex key id>+<base64(0x04 || public key)>`` and
``PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 || seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from thread.log.checkpoint import CheckpointError

#: Key-id algorithm byte of an Ed25519 cosignature/v1 cosigner.
COSIGNATURE_V1 = 0x04
_PREFIX = "\u2014 "
_PRIVATE = "PRIVATE+KEY+"
_MAX_TIMESTAMP = 2**63 - 1


@dataclass(frozen=True)
class Cosigner:
    """A cosigner's verifier key: its name, key id and Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @property
    def text(self) -> str:
        """The verifier key string."""
        return (f"{self.name}+{self.key_id.hex()}+"
                f"{_b64(bytes([COSIGNATURE_V1]) + self.public_key)}")


@dataclass(frozen=True)
class Cosignature:
    """A cosignature that verified: by whom, and when it was made (POSIX seconds)."""

    cosigner: Cosigner
    timestamp: int


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || "\\n" || 0x04 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1])
                          + public_key).digest()[:4]


def generate_cosigner(name: str) -> tuple[str, str]:
    """A new cosigner key for ``name``: (signer key string, verifier key string)."""
    _check_name(name)
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    ident = key_id(name, public)
    seed = _b64(bytes([COSIGNATURE_V1]) + private.private_bytes_raw())
    signer = f"{_PRIVATE}{name}+{ident.hex()}+{seed}"
    return signer, Cosigner(name, ident, public).text


def cosigner_of(signer_key: str) -> Cosigner:
    """The verifier of a cosigner signer key string (checked: its id is its key's)."""
    name, ident, private = _signer(signer_key)
    return Cosigner(name, ident, private.public_key().public_bytes_raw())


def signed_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header line, the time line and the note body."""
    if not body.endswith("\n"):
        raise CheckpointError("a cosigned checkpoint body ends with a newline")
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, signer_key: str, timestamp: int) -> str:
    """The cosignature line (ending in a newline) of ``signer_key`` on the checkpoint whose
    note body is ``body``, made at ``timestamp``."""
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise CheckpointError(f"cosignature timestamp {timestamp} is out of range")
    name, ident, private = _signer(signer_key)
    signature = private.sign(signed_message(body, timestamp))
    blob = ident + timestamp.to_bytes(8, "big") + signature
    return f"{_PREFIX}{name} {_b64(blob)}\n"


def verifier(text: str) -> Cosigner:
    """A cosigner verifier key string, with its key id checked."""
    name, ident, material = _split(text.strip(), "cosigner verifier key")
    if key_id(name, material) != ident:
        raise CheckpointError(f"cosigner verifier key for {name!r} declares key id "
                              f"{ident.hex()}, which is not the id of its public key")
    return Cosigner(name, ident, material)


def cosignatures(note: str, cosigners: Iterable[str]) -> list[Cosignature]:
    """The cosignatures on ``note`` (a signed checkpoint with its signature lines) by
    ``cosigners`` that verify; lines by other keys are ignored, as the spec says, and a
    line by a known cosigner that does not verify refuses the note."""
    known = {(c.name, c.key_id): c for c in map(verifier, cosigners)}
    separator = note.rfind("\n\n")
    if separator < 0 or not note.endswith("\n"):
        raise CheckpointError("a signed checkpoint has a blank line before its signature "
                              "lines and ends with a newline")
    body, lines = note[:separator + 1], note[separator + 2:-1].split("\n")
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_PREFIX) or line.count(" ") != 2:
            raise CheckpointError(f"signature line {number} is not '\u2014 <name> <base64>'")
        name, encoded = line[len(_PREFIX):].split(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise CheckpointError(f"signature line {number} is not base64") from None
        cosigner = known.get((name, blob[:4]))
        if cosigner is None or len(blob) != 4 + 8 + 64:
            continue  # another key's signature, or the log's own
        timestamp = int.from_bytes(blob[4:12], "big")
        try:
            Ed25519PublicKey.from_public_bytes(cosigner.public_key).verify(
                blob[12:], signed_message(body, timestamp))
        except InvalidSignature:
            raise CheckpointError(f"cosignature line {number} by {name}+{cosigner.key_id.hex()} "
                                  f"does not verify") from None
        found.append(Cosignature(cosigner, timestamp))
    return found


def _signer(text: str) -> tuple[str, bytes, Ed25519PrivateKey]:
    text = text.strip()
    if not text.startswith(_PRIVATE):
        raise CheckpointError(f"a cosigner signer key starts with {_PRIVATE!r}")
    name, ident, seed = _split(text[len(_PRIVATE):], "cosigner signer key")
    private = Ed25519PrivateKey.from_private_bytes(seed)
    if key_id(name, private.public_key().public_bytes_raw()) != ident:
        raise CheckpointError(f"cosigner signer key for {name!r} declares key id "
                              f"{ident.hex()}, which is not the id of its key")
    return name, ident, private


def _split(text: str, what: str) -> tuple[str, bytes, bytes]:
    parts = text.split("+", 2)
    if len(parts) != 3 or len(parts[1]) != 8:
        raise CheckpointError(f"{what} must be '<name>+<8 hex digits>+<base64 key>'")
    name, ident, encoded = parts
    _check_name(name)
    try:
        material = base64.b64decode(encoded, validate=True)
        ident_bytes = bytes.fromhex(ident)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what} for {name!r} is not hex and base64") from None
    if len(material) != 33 or material[0] != COSIGNATURE_V1:
        raise CheckpointError(f"{what} for {name!r} is not an Ed25519 cosignature/v1 key "
                              f"(type 0x{COSIGNATURE_V1:02x}, 32 bytes)")
    return name, ident_bytes, material[1:]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() or c < " " for c in name):
        raise CheckpointError(f"cosigner name {name!r} must be non-empty, without spaces, "
                              f"'+' or control characters")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
