"""What an auditor runs on a part's dossier: no database, no ledger, only the file and a key.

A dossier (written by :mod:`thread.log.dossier`, ``thread dossier SERIAL -o FILE``)
holds one part's events in their canonical bytes, the RFC 6962 inclusion proof
of each in the global log, and the signed checkpoint those proofs lead to.
:func:`verify_dossier` checks all of it with the verifier key of the log's
signer. This module imports only the standard library, ``msgpack``,
``cryptography`` and the ledger's pure modules (:mod:`thread.errors`,
:mod:`thread.log.merkle`, :mod:`thread.log.checkpoint`, :mod:`thread.log.verify`,
:mod:`thread.log.subject_map`): never
the storage layer, the ledger, eventsourcing or pydantic.

The format, ``thread-dossier/v2``
=================================

One JSON object, ASCII only, with these members in this order::

    {
      "format": "thread-dossier/v2",
      "serial": "<the part's serial number>",
      "origin": "<the log's origin line, as in the checkpoint>",
      "tree_size": <leaves in the checkpoint's tree>,
      "checkpoint": "<the signed note, verbatim: c2sp.org/tlog-checkpoint + signed-note>",
      "map": {
        "version": <the part's latest version in the log at the checkpoint>,
        "head": "<that event's leaf hash, 64 lowercase hex digits>",
        "path": ["<base64 of each sibling hash of its dtl-map/v1 proof, deepest first>"]
      },
      "events": [
        {
          "version": <1, 2, ... in order>,
          "index": <the event's leaf index in the global log>,
          "hash": "<SHA-256 of the canonical bytes, 64 lowercase hex digits>",
          "canonical": "<base64 of the event's canonical bytes>",
          "path": ["<base64 of each hash of the RFC 6962 audit path, leaf's sibling first>"]
        }
      ]
    }

Canonical bytes are ``DTL\\x01`` and a msgpack array: aggregate id (16 bytes,
UUIDv5 of ``part:<serial>`` in the ledger's namespace), version, topic, class
version, the previous event's hash (32 zero bytes for version 1), occurred
time, recorded time, actor, source, source record id, and the fact's payload
map. An event's leaf hash is SHA-256(0x00 || canonical bytes).

``map`` proves the part's head in the subject map the checkpoint commits to
on its ``dtl-map/v1`` extension line (:mod:`thread.log.subject_map`).
``thread-dossier/v1`` is the same without ``map``: written for a checkpoint
that carries no map (signed before the ledger kept one), and still read.

The file is in one canonical layout, so that every byte of it is either
verified content or fixed syntax: two-space indentation, every member and
array element on its own line, ``": "`` after a name, ``","`` at the end of
every line but an object's or array's last, an empty array as ``[]``, every
character outside printable ASCII as a ``\\uXXXX`` escape with lowercase hex
(``\\n``, ``\\"``, ``\\\\`` and friends as their short escapes), base64 with
padding, and one newline at the end: what Python's ``json.dumps(document,
indent=2)`` writes. A file that is not byte for byte in that layout is
refused, even if only its whitespace differs, so any change to a dossier is
detected. Other members are refused; a format other than
``thread-dossier/v1`` or ``/v2`` is refused as unknown.

Each part stands on its own for other tools: the ``checkpoint`` string is a
C2SP signed note (``thread verify-checkpoint`` or any signed-note verifier
reads it), and each event's leaf hash, index and path are an RFC 6962
inclusion proof against it.

What verifying proves, and what it cannot
=========================================

Every signature line of the checkpoint verifies with a key the auditor
trusts (a line by an unknown key, which a signed-note reader skips, is
refused here, so that it cannot change unnoticed); each event is a leaf at
its index in the tree the checkpoint signs; the events are versions 1 to n
of one part, the one the serial names, each linked to the hash of the one
before, the first to 32 zero bytes. Events recorded after the checkpoint
are not in the dossier. With the map (v2), the dossier is complete: the
checkpoint's subject map holds the part at exactly its last version and
that event's leaf, so no later version of the part was in the log when the
checkpoint was signed, and a dossier whose last events were cut is refused.
A v1 dossier whose checkpoint carries a map is refused too (its proof was
removed). That the map itself matches the log is what ``thread verify``
checks, as it checks the tree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from thread.domain.envelope import (
    GENESIS,
    Envelope,
    EnvelopeError,
    aggregate_id,
    open_envelope,
)
from thread.domain.topics import subject_label, summarize
from thread.errors import IntegrityFailure
from thread.log.checkpoint import Checkpoint, CheckpointError, open_note
from thread.log.merkle import HASH_SIZE, ProofError, leaf_hash
from thread.log.subject_map import (
    KEY_BITS,
    MAP_LINE,
    MapError,
    MapProof,
    find_map_line,
    head_problem,
    subject_key,
)
from thread.log.verify import verify_inclusion

#: The format tag this module writes, with a subject map proof, and the one before it.
FORMAT = "thread-dossier/v2"
FORMAT_V1 = "thread-dossier/v1"

#: Format tags of this family start with this; another version is refused by name.
FORMAT_FAMILY = "thread-dossier/"

_TOP_FIELDS = ("format", "serial", "origin", "tree_size", "checkpoint", "map", "events")
_TOP_FIELDS_V1 = tuple(name for name in _TOP_FIELDS if name != "map")
_MAP_FIELDS = ("version", "head", "path")
_EVENT_FIELDS = ("version", "index", "hash", "canonical", "path")
_HEX_HASH = re.compile(r"[0-9a-f]{64}", re.ASCII)


class DossierError(IntegrityFailure):
    """A dossier is malformed or does not verify: says which check failed, and where."""


class UnsupportedDossier(DossierError):  # noqa: N818 - reads as the verdict
    """A dossier in a format version this library does not read."""


@dataclass(frozen=True)
class DossierEvent:
    """One event as a dossier holds it: its bytes, its leaf index and its audit path."""

    version: int
    index: int
    canonical: bytes
    path: tuple[bytes, ...]

    @property
    def hash(self) -> bytes:
        """SHA-256 of the canonical bytes: the event's hash in its chain."""
        return hashlib.sha256(self.canonical).digest()


@dataclass(frozen=True)
class Dossier:
    """A ``thread-dossier/v1`` file's content; :meth:`to_bytes` and :meth:`parse` are exact."""

    serial: str
    origin: str
    tree_size: int
    checkpoint: str
    events: tuple[DossierEvent, ...]
    #: The part's head in the checkpoint's subject map (None: a v1 dossier, without one).
    map: MapProof | None = None

    def to_bytes(self) -> bytes:
        """The file, in the one canonical layout (see the module documentation)."""
        document: dict[str, Any] = {
            "format": FORMAT if self.map is not None else FORMAT_V1,
            "serial": self.serial,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint,
        }
        if self.map is not None:
            document["map"] = map_proof_json(self.map)
        document |= {
            "events": [
                {
                    "version": event.version,
                    "index": event.index,
                    "hash": event.hash.hex(),
                    "canonical": _b64(event.canonical),
                    "path": [_b64(node) for node in event.path],
                }
                for event in self.events
            ],
        }
        return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")

    @classmethod
    def parse(cls, data: bytes) -> Dossier:
        """Read a dossier file; refuses any layout, member or value :meth:`to_bytes` would not
        write. Nothing is verified cryptographically here: see :func:`verify_dossier`."""
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as error:
            raise DossierError(
                f"byte {error.start} of the dossier is not ASCII; a {FORMAT} file writes "
                "every other character as a \\u escape"
            ) from None
        try:
            document = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:  # nesting deeper than the interpreter's stack
            raise DossierError(f"its JSON nests deeper than any {FORMAT} file does; it is not "
                               "a dossier") from None
        except (json.JSONDecodeError, ValueError) as error:
            where = (f" at line {error.lineno}, column {error.colno}"
                     if isinstance(error, json.JSONDecodeError) else "")
            message = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
            raise DossierError(f"the dossier is not valid JSON{where}: {message}") from None
        if not isinstance(document, dict):
            raise DossierError(f"the dossier is a JSON {_json_type(document)}, not an object")
        tag = _check_format(document.get("format"))
        _check_members(document, _TOP_FIELDS if tag == FORMAT else _TOP_FIELDS_V1,
                       "the dossier")
        events = document["events"]
        if not isinstance(events, list) or not events:
            raise DossierError("the dossier's 'events' must be a non-empty array")
        dossier = cls(
            serial=_text(document, "serial", "the dossier"),
            origin=_text(document, "origin", "the dossier"),
            tree_size=_integer(document, "tree_size", "the dossier", minimum=1),
            checkpoint=_text(document, "checkpoint", "the dossier"),
            events=tuple(_event(item, position)
                         for position, item in enumerate(events, start=1)),
            map=map_proof_of(document["map"]) if tag == FORMAT else None,
        )
        _check_layout(data, dossier.to_bytes())
        return dossier


@dataclass(frozen=True)
class StoryEvent:
    """One verified event of the part, decoded: who recorded what, when, and its summary."""

    version: int
    index: int
    hash: bytes
    prev_hash: bytes
    topic: str
    class_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    source: str
    source_record_id: str | None
    payload: Mapping[str, Any]
    summary: str


@dataclass(frozen=True)
class VerifiedDossier:
    """A dossier that verified: the part's story and the checkpoint that vouches for it."""

    serial: str
    origin: str
    tree_size: int
    root: bytes
    signed_by: tuple[str, ...]
    events: tuple[StoryEvent, ...]
    #: Proved to hold every event of the part in the log at the checkpoint (by its map).
    complete: bool = False

    @property
    def head(self) -> bytes:
        """The hash of the last event: the part's chain head as of the checkpoint."""
        return self.events[-1].hash

    def record(self) -> dict[str, Any]:
        """The verified story as plain JSON values: the checkpoint, then each event."""
        return {
            "ok": True, "serial": self.serial, "origin": self.origin,
            "tree_size": self.tree_size, "root": self.root.hex(),
            "signed_by": list(self.signed_by), "head": self.head.hex(),
            "complete": self.complete, "coverage": self.coverage,
            "events": [{
                "version": event.version, "index": event.index, "topic": event.topic,
                "occurred_at": event.occurred_at.isoformat(),
                "recorded_at": event.recorded_at.isoformat(), "actor": event.actor,
                "source": event.source, "source_record_id": event.source_record_id,
                "hash": event.hash.hex(), "prev_hash": event.prev_hash.hex(),
                "summary": event.summary, "fact": plain(event.payload),
            } for event in self.events],
        }

    @property
    def coverage(self) -> str:
        """What the dossier shows and what it cannot, in one sentence for the report."""
        last = self.events[-1].version
        if self.complete:
            return (
                f"covers versions 1-{last} of part {self.serial}: every event of the part in "
                f"the log at its checkpoint of {self.tree_size} leaves, as the checkpoint's "
                f"subject map proves; events recorded after that checkpoint are not in it"
            )
        return (
            f"covers versions 1-{last} of part {self.serial} as the log held them at its "
            f"checkpoint of {self.tree_size} leaves; events recorded after that checkpoint are "
            f"not in it, and a dossier cannot show that no later version of the part was "
            f"already in the log then"
        )


def verify_dossier(data: bytes, verifier_keys: str | Iterable[str]) -> VerifiedDossier:
    """Verify a dossier file with the log signer's verifier key(s) and return the story.

    Raises :class:`DossierError` (:class:`UnsupportedDossier` for an unknown
    format version) naming the first check that failed.
    """
    dossier = Dossier.parse(data)
    checkpoint, signed_by = _verified_checkpoint(dossier, verifier_keys)
    expected_id = aggregate_id("part", dossier.serial)
    count = len(dossier.events)
    story: list[StoryEvent] = []
    previous = GENESIS
    for position, event in enumerate(dossier.events, start=1):
        where = f"event {position} of {count} (version {event.version}, leaf {event.index})"
        try:
            verify_inclusion(leaf_hash(event.canonical), event.index, checkpoint.size,
                             event.path, checkpoint.root)
        except ProofError as error:
            raise DossierError(
                f"{where} is not in the log the checkpoint signs: {error}"
            ) from None
        decoded = _decoded(event, where)
        if decoded.version != position:
            raise DossierError(
                f"{where} holds version {decoded.version} where version {position} belongs: "
                "the chain must run from version 1 with no gap, repeat or reordering"
            )
        if (position == 1 and decoded.aggregate_id != expected_id.bytes
                and subject_label(decoded.topic, decoded.payload) == f"part {dossier.serial}"):
            # An encrypted ledger keys its subject ids (HMAC), which only its key gives: the
            # chain is then the first event's id, and every payload names the part.
            expected_id = UUID(bytes=decoded.aggregate_id)
        if decoded.aggregate_id != expected_id.bytes:
            raise DossierError(
                f"{where} belongs to aggregate {UUID(bytes=decoded.aggregate_id)}, not to part "
                f"{dossier.serial} ({expected_id})"
            )
        subject = subject_label(decoded.topic, decoded.payload)
        if subject and subject != f"part {dossier.serial}":
            raise DossierError(
                f"{where}: its {decoded.topic} fact is about {subject}, not part {dossier.serial}"
            )
        if not hmac.compare_digest(decoded.prev_hash, previous):
            link = "the genesis hash (32 zero bytes)" if position == 1 else (
                f"the hash of version {position - 1} ({previous.hex()})")
            raise DossierError(
                f"{where} links to {decoded.prev_hash.hex()}, not to {link}: the chain is broken"
            )
        previous = event.hash
        story.append(StoryEvent(
            version=decoded.version, index=event.index, hash=event.hash,
            prev_hash=decoded.prev_hash, topic=decoded.topic,
            class_version=decoded.class_version, occurred_at=decoded.occurred_at,
            recorded_at=decoded.recorded_at, actor=decoded.actor, source=decoded.source,
            source_record_id=decoded.source_record_id, payload=decoded.payload,
            summary=summarize(decoded.topic, decoded.payload),
        ))
    complete = _check_complete(dossier, checkpoint, expected_id)
    return VerifiedDossier(
        serial=dossier.serial, origin=checkpoint.origin, tree_size=checkpoint.size,
        root=checkpoint.root, signed_by=signed_by, events=tuple(story), complete=complete,
    )


def _check_complete(dossier: Dossier, checkpoint: Checkpoint, aggregate: UUID) -> bool:
    """With a map proof: that the dossier's last event is the part's head in the
    checkpoint's map. True when proved, False for a checkpoint without a map."""
    try:
        committed = find_map_line(checkpoint.extensions)
    except MapError as error:
        raise DossierError(f"the dossier's checkpoint: {error}") from None
    proof = dossier.map
    if committed is None:
        if proof is not None:
            raise DossierError(f"the dossier carries a map proof but its checkpoint commits to "
                               f"no subject map ({MAP_LINE} line)")
        return False
    if proof is None:
        raise DossierError(
            f"the dossier's checkpoint commits to a subject map ({MAP_LINE}) but the dossier "
            f"carries no map proof for part {dossier.serial}: it was written without one or "
            "the proof was removed, so it cannot show that it holds every event of the part")
    last = dossier.events[-1]
    problem = head_problem(proof, committed, subject_key(aggregate.bytes), last.version,
                           leaf_hash(last.canonical), f"part {dossier.serial}", "the dossier",
                           checkpoint.size)
    if problem is not None:
        raise DossierError(problem)
    return True


def map_proof_json(proof: MapProof) -> dict[str, Any]:
    """A map proof as a dossier's ``map`` member holds it."""
    return {"version": proof.version, "head": proof.head.hex(),
            "path": [_b64(node) for node in proof.path]}


def plain(value: Any) -> Any:
    """A decoded payload value as JSON: times in ISO 8601, bytes in base64."""
    if isinstance(value, Mapping):
        return {str(name): plain(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return _b64(value)
    return value


# Reading the file


def _check_format(tag: object) -> str:
    if tag in (FORMAT, FORMAT_V1):
        return str(tag)
    if tag is None:
        raise UnsupportedDossier(
            f"the file has no 'format' member; it is not a thread dossier ({FORMAT})"
        )
    if isinstance(tag, str) and tag.startswith(FORMAT_FAMILY):
        raise UnsupportedDossier(
            f"the dossier is format {tag!r}; this verifier reads {FORMAT_V1!r} and {FORMAT!r} "
            "(a newer "
            "version of the library may read it)"
        )
    raise UnsupportedDossier(f"the file is format {tag!r}, not a thread dossier ({FORMAT})")


def _check_members(document: dict[str, Any], names: Sequence[str], what: str) -> None:
    missing = [name for name in names if name not in document]
    if missing:
        raise DossierError(f"{what} has no {', '.join(repr(n) for n in missing)}")
    unknown = [name for name in document if name not in names]
    if unknown:
        raise DossierError(
            f"{what} has member(s) {', '.join(repr(n) for n in unknown)} that {FORMAT} does "
            "not define"
        )


def map_proof_of(item: object, what: str = "the dossier's 'map'") -> MapProof:
    """A dossier's ``map`` member read back; :class:`DossierError` names what is wrong."""
    if not isinstance(item, dict):
        raise DossierError(f"{what} is a JSON {_json_type(item)}, not an object")
    _check_members(item, _MAP_FIELDS, what)
    head, path = item["head"], item["path"]
    if not isinstance(head, str) or not _HEX_HASH.fullmatch(head):
        raise DossierError(f"{what}: 'head' must be 64 lowercase hex digits")
    if not isinstance(path, list) or len(path) > KEY_BITS:
        raise DossierError(f"{what}: 'path' must be an array of at most {KEY_BITS} base64 "
                           "hashes")
    return MapProof(
        version=_integer(item, "version", what, minimum=1), head=bytes.fromhex(head),
        path=tuple(_base64(node, f"{what}: path hash {number}", size=HASH_SIZE)
                   for number, node in enumerate(path)))


def _event(item: object, position: int) -> DossierEvent:
    what = f"event {position} of the dossier"
    if not isinstance(item, dict):
        raise DossierError(f"{what} is a JSON {_json_type(item)}, not an object")
    _check_members(item, _EVENT_FIELDS, what)
    path = item["path"]
    if not isinstance(path, list):
        raise DossierError(f"{what}: 'path' must be an array of base64 hashes")
    event = DossierEvent(
        version=_integer(item, "version", what, minimum=1),
        index=_integer(item, "index", what, minimum=0),
        canonical=_base64(item["canonical"], f"{what}: 'canonical'"),
        path=tuple(_base64(node, f"{what}: path hash {number}", size=HASH_SIZE)
                   for number, node in enumerate(path)),
    )
    stated = item["hash"]
    if not isinstance(stated, str) or not _HEX_HASH.fullmatch(stated):
        raise DossierError(f"{what}: 'hash' must be 64 lowercase hex digits")
    if stated != event.hash.hex():
        raise DossierError(
            f"{what}: 'hash' says {stated} but its canonical bytes hash to {event.hash.hex()}"
        )
    return event


def _text(document: dict[str, Any], name: str, what: str) -> str:
    value = document[name]
    if not isinstance(value, str) or not value:
        raise DossierError(f"{what}: {name!r} must be a non-empty string")
    return value


def _integer(document: dict[str, Any], name: str, what: str, *, minimum: int) -> int:
    value = document[name]
    if type(value) is not int or not minimum <= value < 2**64:
        raise DossierError(
            f"{what}: {name!r} is {value!r}; it must be a whole number from {minimum} to 2**64 - 1"
        )
    return value


def _base64(value: object, what: str, *, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise DossierError(f"{what} must be a base64 string")
    try:
        decoded = base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise DossierError(f"{what} is not base64: {error}") from None
    if _b64(decoded) != value:
        raise DossierError(f"{what} is not in standard padded base64")
    if size is not None and len(decoded) != size:
        raise DossierError(f"{what} is {len(decoded)} bytes; it must be {size}")
    return decoded


def _check_layout(data: bytes, expected: bytes) -> None:
    """Refuse a file whose content is fine but whose bytes are not the canonical layout."""
    if data == expected:
        return
    offset = next((i for i, (a, b) in enumerate(zip(data, expected, strict=False)) if a != b),
                  min(len(data), len(expected)))
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    raise DossierError(
        f"the dossier is not byte for byte in the {FORMAT} layout: it departs from it at line "
        f"{line}, column {column} (byte {offset}); a dossier must not be edited, re-indented "
        "or re-saved by another tool"
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else (
        "boolean")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# Verifying


def _verified_checkpoint(
    dossier: Dossier, verifier_keys: str | Iterable[str]
) -> tuple[Checkpoint, tuple[str, ...]]:
    try:
        body, signed_by = open_note(dossier.checkpoint, verifier_keys)
        checkpoint = Checkpoint.parse(body)
    except CheckpointError as error:
        raise DossierError(f"the dossier's checkpoint does not verify: {error}") from None
    # A signed note's lines by keys the reader does not know are skipped, so a change in one
    # would pass unseen; in a dossier every signature line must verify with a given key.
    lines = dossier.checkpoint[len(body) + 1:-1].split("\n")
    for number, line in enumerate(lines, start=1):
        try:
            open_note(f"{body}\n{line}\n", verifier_keys)
        except CheckpointError as error:
            raise DossierError(
                f"the dossier's checkpoint: signature line {number} of {len(lines)} does not "
                f"verify with the given keys ({error}); every signature in a dossier must, so "
                "give the verifier key of each signer"
            ) from None
    if checkpoint.origin != dossier.origin:
        raise DossierError(
            f"the dossier names log {dossier.origin!r} but its checkpoint is for log "
            f"{checkpoint.origin!r}"
        )
    if checkpoint.size != dossier.tree_size:
        raise DossierError(
            f"the dossier says tree size {dossier.tree_size} but its checkpoint signs a tree of "
            f"{checkpoint.size} leaves"
        )
    return checkpoint, signed_by


def _decoded(event: DossierEvent, where: str) -> Envelope:
    """The envelope and payload in an event's canonical bytes, each field of the right type."""
    try:
        envelope = open_envelope(event.canonical)
    except EnvelopeError as error:
        raise DossierError(f"{where} {error}") from None
    if envelope.version != event.version:
        raise DossierError(f"{where}: the dossier says version {event.version} but its bytes "
                           f"say {envelope.version}")
    return envelope
