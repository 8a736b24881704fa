"""Electronic signatures: Ed25519 over the hash of the signed event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from thread.domain.chain import Recorded
from thread.domain.facts.base import SubjectKind
from thread.domain.facts.records import Meaning, SignatureApplied
from thread.errors import SignatureInvalid

_CONTEXT = b"thread-ledger signature v1\n"


def signed_message(event_hash: bytes, signer: str, meaning: str, signed_at: datetime) -> bytes:
    """The bytes a signature covers: the event hash bound to who, why and when."""
    return b"".join([
        _CONTEXT,
        event_hash,
        b"\n", signer.encode(), b"\n", meaning.encode(), b"\n",
        signed_at.isoformat().encode(),
    ])


@dataclass(frozen=True)
class Signer:
    """A person who signs approvals: id, printed name and their private key."""

    signer: str
    printed_name: str
    key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(
        self, event: Recorded, kind: SubjectKind, key: str, meaning: Meaning, at: datetime
    ) -> SignatureApplied:
        """A signature fact over ``event``'s hash, for the same subject."""
        signature = SignatureApplied(
            kind=kind,
            key=key,
            signed_version=event.originator_version,
            signed_hash=event.hash.hex(),
            signer=self.signer,
            printed_name=self.printed_name,
            meaning=meaning,
            signed_at=at,
            public_key=self.public_key.hex(),
            signature="0" * 128,
        )
        message = signed_message(event.hash, self.signer, meaning, signature.signed_at)
        return signature.model_copy(update={"signature": self.key.sign(message).hex()})


def verify_signature(fact: SignatureApplied, trusted_key: bytes | None = None) -> None:
    """Raise :class:`SignatureInvalid` unless ``fact`` is a valid signature by its signer.

    ``trusted_key`` pins the public key the caller trusts for that signer;
    without it the key inside the fact is used, which proves integrity only.
    """
    public_key = bytes.fromhex(fact.public_key)
    if trusted_key is not None and trusted_key != public_key:
        raise SignatureInvalid(
            f"signature by {fact.signer} on {fact.kind} {fact.key} version "
            f"{fact.signed_version} uses a key that is not the trusted key for that signer",
            subject=f"{fact.kind} {fact.key}", version=fact.signed_version,
        )
    message = signed_message(
        bytes.fromhex(fact.signed_hash), fact.signer, fact.meaning, fact.signed_at
    )
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            bytes.fromhex(fact.signature), message
        )
    except InvalidSignature:
        raise SignatureInvalid(
            f"signature by {fact.signer} ({fact.printed_name}) on {fact.kind} {fact.key} "
            f"version {fact.signed_version} does not verify",
            subject=f"{fact.kind} {fact.key}", version=fact.signed_version,
        ) from None
