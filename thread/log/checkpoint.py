"""Signed checkpoints of the global log in the C2SP text formats, byte for byte.

* c2sp.org/tlog-checkpoint: the note body ``origin``, tree size, base64 root
  hash and optional extension lines, each ending in a newline.
* c2sp.org/signed-note: the body, a blank line, then one line per signature,
  ``— <key name> <base64(4-byte key id || Ed25519 signature)>``.
* c2sp.org/tlog-proof: an inclusion proof of one leaf with the signed
  checkpoint it leads to.

Keys are text in the form of Go's golang.org/x/mod/sumdb/note, so that
third-party verifiers read them: ``<name>+<hex key id>+<base64(0x01 ||
public key)>`` and ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from thread.errors import IntegrityFailure

#: Signature type byte of Ed25519 in c2sp.org/signed-note.
ED25519 = 0x01

#: A note with more signature lines than this is refused (the spec asks for at least 16).
MAX_SIGNATURES = 100

#: First line of every c2sp.org/tlog-proof.
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"

_SIGNATURE_PREFIX = "\u2014 "  # EM DASH, SPACE
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_KEY_ID_SIZE = 4
_ROOT_SIZE = 32
_MAX_TREE_SIZE = 2**64 - 1  # tree sizes and indexes are uint64 in every tlog implementation
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)


class CheckpointError(IntegrityFailure):
    """A checkpoint, signed note, note key or tlog-proof is malformed or does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """A c2sp.org/tlog-checkpoint: which log, how many leaves, and their Merkle root."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or _has_control(self.origin):
            raise CheckpointError(
                f"checkpoint origin {self.origin!r} must be non-empty, without control characters"
            )
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint tree size {self.size} is out of range")
        if len(self.root) != _ROOT_SIZE:
            raise CheckpointError(
                f"checkpoint root hash is {len(self.root)} bytes; it must be {_ROOT_SIZE}"
            )
        for line in self.extensions:
            if not line or _has_control(line):
                raise CheckpointError(
                    f"checkpoint extension line {line!r} must be non-empty, without control "
                    "characters"
                )

    def body(self) -> str:
        """The note text: one line each for origin, size, root and extensions."""
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_note(cls, note: str) -> Checkpoint:
        """The checkpoint in a signed note whose signatures were checked elsewhere (or
        need not be: the ledger reading its own stored notes)."""
        separator = note.rfind("\n\n")
        if separator < 0:
            raise CheckpointError("signed note has no blank line before its signature lines")
        return cls.parse(note[:separator + 1])

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """The checkpoint in a note text; refuses anything :meth:`body` would not write."""
        if not body.endswith("\n"):
            raise CheckpointError("checkpoint text must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(
                f"checkpoint text has {len(lines)} lines; it needs origin, tree size and root hash"
            )
        origin, size, root, *extensions = lines
        if not origin:
            raise CheckpointError("checkpoint line 1 (origin) is empty")
        tree_size = _parse_decimal(size, "checkpoint line 2 (tree size)")
        root_hash = _b64decode(root, "checkpoint line 3 (root hash)")
        for number, line in enumerate(extensions, start=4):
            if not line:
                raise CheckpointError(f"checkpoint line {number} (extension) is empty")
        return cls(origin, tree_size, root_hash, tuple(extensions))


class _Verifier(NamedTuple):
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey
    text: str


def generate_signer(name: str) -> tuple[str, str]:
    """A new Ed25519 key for ``name``: (signer key string, verifier key string)."""
    _check_key_name(name)
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    key_id = _key_id(name, _public_bytes(private))
    signer = f"{_PRIVATE_PREFIX}{name}+{key_id.hex()}+{_b64(bytes([ED25519]) + seed)}"
    return signer, verifier_key_for(signer)


def signing_key(signer_key: str) -> tuple[str, Ed25519PrivateKey]:
    """The name and Ed25519 private key of a signer key string (``thread keygen``'s file)."""
    name, _, private = _parse_signer_key(signer_key.strip())
    return name, private


def verifier_key_for(signer_key: str) -> str:
    """The verifier key string that checks signatures made with ``signer_key``."""
    name, key_id, private = _parse_signer_key(signer_key)
    return f"{name}+{key_id.hex()}+{_b64(bytes([ED25519]) + _public_bytes(private))}"


def verifier_public_key(verifier_key: str) -> bytes:
    """The Ed25519 public key a note verifier key string wraps (its key id checked)."""
    return _parse_verifier(verifier_key.strip()).public_key.public_bytes_raw()


def sign_note(body: str, signer_key: str) -> str:
    """The signed note: ``body``, a blank line and one Ed25519 signature line."""
    _check_note_text(body, "note body")
    if not body.endswith("\n"):
        raise CheckpointError("note body must end with a newline")
    name, key_id, private = _parse_signer_key(signer_key)
    signature = private.sign(body.encode("utf-8"))
    return f"{body}\n{_SIGNATURE_PREFIX}{name} {_b64(key_id + signature)}\n"


def open_note(note: str | bytes, verifier_keys: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """The body of ``note`` and the verifier keys whose signatures on it verified.

    Signatures by keys not in ``verifier_keys`` are ignored, as the spec
    requires; a signature by a known key that does not verify rejects the
    whole note, and so does a note no known key signed.
    """
    text = _decode_note(note)
    _check_note_text(text, "signed note")
    if not text.endswith("\n"):
        raise CheckpointError("signed note must end with a newline")
    separator = text.rfind("\n\n")
    if separator < 0:
        raise CheckpointError("signed note has no blank line before its signature lines")
    body, lines = text[:separator + 1], text[separator + 2:-1]
    if not lines:
        raise CheckpointError("signed note has no signature lines after its blank line")
    signatures = lines.split("\n")
    if len(signatures) > MAX_SIGNATURES:
        raise CheckpointError(
            f"signed note has {len(signatures)} signature lines; at most {MAX_SIGNATURES} are read"
        )
    known = _verifier_map(verifier_keys)
    message = body.encode("utf-8")
    signed_by: list[str] = []
    for number, line in enumerate(signatures, start=1):
        name, key_id, signature = _parse_signature_line(line, number)
        verifier = known.get((name, key_id))
        if verifier is None:
            continue
        try:
            verifier.public_key.verify(signature, message)
        except InvalidSignature:
            raise CheckpointError(
                f"signature line {number} by known key {name}+{key_id.hex()} does not verify "
                "over the note text"
            ) from None
        if verifier.text not in signed_by:
            signed_by.append(verifier.text)
    if not signed_by:
        names = ", ".join(sorted(f"{v.name}+{v.key_id.hex()}" for v in known.values()))
        raise CheckpointError(f"signed note carries no signature by a known key ({names})")
    return body, tuple(signed_by)


def verify_checkpoint(
    note_text: str | bytes, verifier_key: str, *, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in a signed note, once ``verifier_key``'s signature on it verifies.

    ``origin``, when given, must be the checkpoint's origin line.
    """
    body, _ = open_note(note_text, [verifier_key])
    checkpoint = Checkpoint.parse(body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(
            f"checkpoint is for log {checkpoint.origin!r}, not the expected {origin!r}"
        )
    return checkpoint


@dataclass(frozen=True)
class TlogProof:
    """A c2sp.org/tlog-proof: a leaf's index, its inclusion proof and the signed checkpoint."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str  # the signed checkpoint note, verbatim
    extra: bytes = b""  # opaque and unauthenticated; omitted from the text when empty

    def __post_init__(self) -> None:
        if not 0 <= self.index <= _MAX_TREE_SIZE:
            raise CheckpointError(f"tlog-proof index {self.index} is out of range")
        for position, value in enumerate(self.hashes):
            if len(value) != _ROOT_SIZE:
                raise CheckpointError(
                    f"tlog-proof hash {position} is {len(value)} bytes; it must be {_ROOT_SIZE}"
                )
        if not self.checkpoint.endswith("\n"):
            raise CheckpointError("tlog-proof checkpoint must be a signed note ending in a newline")

    def text(self) -> str:
        """The proof in the c2sp.org/tlog-proof@v1 text format."""
        lines = [TLOG_PROOF_HEADER]
        if self.extra:
            lines.append(f"extra {_b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(_b64(value) for value in self.hashes)
        return "".join(line + "\n" for line in lines) + "\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        """The proof in a tlog-proof text; its checkpoint is kept verbatim, unverified."""
        separator = text.find("\n\n")
        if separator < 0:
            raise CheckpointError("tlog-proof has no blank line before its checkpoint")
        lines = text[:separator].split("\n")
        checkpoint = text[separator + 2:]
        if lines[0] != TLOG_PROOF_HEADER:
            raise CheckpointError(
                f"tlog-proof starts with {lines[0]!r}, not {TLOG_PROOF_HEADER!r}"
            )
        position = 1
        extra = b""
        if position < len(lines) and lines[position].startswith("extra "):
            extra = _b64decode(lines[position][len("extra "):], "tlog-proof extra data", size=None)
            if not extra:
                raise CheckpointError("tlog-proof extra line is empty; it must be omitted instead")
            position += 1
        if position == len(lines) or not lines[position].startswith("index "):
            raise CheckpointError("tlog-proof has no 'index <n>' line after its header")
        index = _parse_decimal(lines[position][len("index "):], "tlog-proof index")
        hashes = tuple(
            _b64decode(line, f"tlog-proof hash line {number}")
            for number, line in enumerate(lines[position + 1:], start=position + 2)
        )
        if not checkpoint:
            raise CheckpointError("tlog-proof has no checkpoint after its blank line")
        return cls(index, hashes, checkpoint, extra)


def _key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || public key)[:4], per c2sp.org/signed-note."""
    material = name.encode("utf-8") + b"\n" + bytes([ED25519]) + public_key
    return hashlib.sha256(material).digest()[:_KEY_ID_SIZE]


def _public_bytes(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _parse_signer_key(signer_key: str) -> tuple[str, bytes, Ed25519PrivateKey]:
    """Name, key id and private key of a ``PRIVATE+KEY+<name>+<id>+<key>`` string."""
    if not signer_key.startswith(_PRIVATE_PREFIX):
        raise CheckpointError(f"signer key must start with {_PRIVATE_PREFIX!r}")
    name, key_id, material = _split_key(signer_key[len(_PRIVATE_PREFIX):], "signer key")
    private = Ed25519PrivateKey.from_private_bytes(material)
    if _key_id(name, _public_bytes(private)) != key_id:
        raise CheckpointError(
            f"signer key for {name!r} declares key id {key_id.hex()}, which is not the id "
            "of its key"
        )
    return name, key_id, private


def _parse_verifier(text: str) -> _Verifier:
    """A ``<name>+<id>+<key>`` verifier key string, with its key id checked."""
    name, key_id, material = _split_key(text, "verifier key")
    if _key_id(name, material) != key_id:
        raise CheckpointError(
            f"verifier key for {name!r} declares key id {key_id.hex()}, which is not the id "
            "of its public key"
        )
    return _Verifier(name, key_id, Ed25519PublicKey.from_public_bytes(material), text)


def _split_key(text: str, what: str) -> tuple[str, bytes, bytes]:
    """Name, key id and 32 raw key bytes of ``<name>+<hex id>+<base64(0x01 || key)>``."""
    parts = text.split("+", 2)  # base64 may itself contain '+'
    if len(parts) != 3:
        raise CheckpointError(f"{what} must be '<name>+<8 hex digits>+<base64 key>'")
    name, key_id, encoded = parts
    _check_key_name(name)
    if not _HEX_KEY_ID.fullmatch(key_id):
        raise CheckpointError(f"{what} for {name!r}: key id {key_id!r} is not 8 hex digits")
    material = _b64decode(encoded, f"{what} for {name!r}", size=33)
    if material[0] != ED25519:
        raise CheckpointError(
            f"{what} for {name!r} has signature type 0x{material[0]:02x}; only Ed25519 "
            f"(0x{ED25519:02x}) is supported"
        )
    return name, bytes.fromhex(key_id), material[1:]


def _verifier_map(verifier_keys: Iterable[str]) -> dict[tuple[str, bytes], _Verifier]:
    if isinstance(verifier_keys, str):
        verifier_keys = [verifier_keys]  # one key passed bare, not its characters
    known: dict[tuple[str, bytes], _Verifier] = {}
    for text in verifier_keys:
        verifier = _parse_verifier(text)
        slot = (verifier.name, verifier.key_id)
        other = known.get(slot)
        if other is not None and other.public_key.public_bytes_raw() != (
            verifier.public_key.public_bytes_raw()
        ):
            raise CheckpointError(
                f"two different verifier keys share name {verifier.name!r} and key id "
                f"{verifier.key_id.hex()}; the trusted key list is ambiguous"
            )
        known.setdefault(slot, verifier)
    if not known:
        raise CheckpointError("no verifier key was given to check the note with")
    return known


def _parse_signature_line(line: str, number: int) -> tuple[str, bytes, bytes]:
    """Key name, key id and signature of one ``— <name> <base64>`` line."""
    if not line.startswith(_SIGNATURE_PREFIX):
        raise CheckpointError(
            f"signature line {number} must start with an em dash (U+2014) and a space"
        )
    parts = line[len(_SIGNATURE_PREFIX):].split(" ")
    if len(parts) != 2:
        raise CheckpointError(
            f"signature line {number} must be '\u2014 <key name> <base64 signature>'"
        )
    name, encoded = parts
    _check_key_name(name)
    blob = _b64decode(encoded, f"signature line {number}", size=None)
    if len(blob) <= _KEY_ID_SIZE:
        raise CheckpointError(
            f"signature line {number} holds {len(blob)} bytes; it needs a 4-byte key id "
            "and a signature"
        )
    return name, blob[:_KEY_ID_SIZE], blob[_KEY_ID_SIZE:]


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() or c < " " for c in name):
        raise CheckpointError(
            f"key name {name!r} must be non-empty, without spaces, '+' or control characters"
        )


def _has_control(line: str) -> bool:
    """Whether ``line`` holds a newline or any other character below U+0020."""
    return any(character < " " for character in line)


def _check_note_text(text: str, what: str) -> None:
    """Refuse the control characters the signed-note spec forbids (all but newline)."""
    for position, character in enumerate(text):
        if character < " " and character != "\n":
            raise CheckpointError(
                f"{what} contains control character U+{ord(character):04X} at position "
                f"{position}; only newline is allowed"
            )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise CheckpointError(f"{what} is not valid UTF-8: {error.reason}") from None


def _decode_note(note: str | bytes) -> str:
    if isinstance(note, str):
        return note
    try:
        return note.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CheckpointError(
            f"signed note is not valid UTF-8 at byte {error.start}"
        ) from None


def _parse_decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise CheckpointError(
            f"{what} is {text!r}; it must be a decimal number without sign or leading zeros"
        )
    value = int(text)
    if value > _MAX_TREE_SIZE:
        raise CheckpointError(f"{what} {value} is beyond the largest tree size, 2**64 - 1")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str, size: int | None = _ROOT_SIZE) -> bytes:
    """Standard padded base64 in its one canonical spelling, of ``size`` bytes when given."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not standard padded base64: {text!r}") from None
    if _b64(data) != text:
        # Refusing other spellings of the same bytes keeps each value one exact text.
        raise CheckpointError(f"{what} is not canonical base64: {text!r}")
    if size is not None and len(data) != size:
        raise CheckpointError(f"{what} decodes to {len(data)} bytes; it must be {size}")
    return data
