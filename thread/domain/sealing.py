"""Sealed content: export-controlled facts and personal data encrypted inside the canonical
bytes, so the hash chain and the log commit to the ciphertext and verify without any key.

Two kinds of seal, both AES-GCM with the event's aggregate id, version, topic and field
as associated data (a sealed value moved to another event or field does not open):

* **Labels.** A fact recorded on a subject that carries export-control labels (its own,
  or its design item's) has everything but its identifying fields (serial, lot,
  machine, part number, revision, kind, key) sealed under a key derived from the keys
  of all its labels: ``{"$sealed": {"labels": [...], "nonce": ..., "data": ...}}``.
  Registrations, genealogy links and the record's own facts (signatures, corrections,
  classifications) stay clear: they say who and what a part is, not its technical data.
* **People.** A personal field (an operator, a technician) is sealed under that person's
  own key: ``{"$sealed": {"key": <key id>, "nonce": ..., "data": ...}}``. Destroying the
  key erases the name everywhere, while every hash, proof and checkpoint stays valid.

A reader without a key sees what an uncleared reader sees: a
:class:`~thread.domain.facts.Withheld` in place of a sealed fact, and ``(withheld)`` (or
``(erased)``, once the key was destroyed) in place of a sealed name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgpack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from thread.errors import IntegrityFailure, LedgerError

SEALED = "$sealed"
WITHHELD = "(withheld)"
ERASED = "(erased)"
#: Payload fields that stay clear in a fact sealed for its labels: what names the subject.
IDENTIFYING = frozenset({"serial", "lot", "machine", "part_number", "revision", "kind", "key"})
#: Story sections whose facts are never sealed for labels (who and what a part is).
CLEAR_SECTIONS = frozenset({"registration", "genealogy", "record", "signers", "sites"})
#: Personal fields, by topic: each sealed under the key of the person it names.
PERSONAL: Mapping[str, tuple[str, ...]] = {
    "manufacturing.operation-performed": ("operator",),
    "machine.maintenance-performed": ("technician",),
    "service.maintenance-performed": ("technician",),
}


class Keys(Protocol):
    """What sealing needs of a keyring."""

    def label_key(self, label: str) -> bytes | None:
        """The key of an export-control label, if held."""

    def person_key(self, person: str) -> tuple[str, bytes]:
        """The key id and key of ``person`` (made on first use)."""

    def key(self, key_id: str) -> bytes | None:
        """A person's key by its id, if held."""

    def erased(self, key_id: str) -> bool:
        """Whether the key ``key_id`` was destroyed."""


@dataclass(frozen=True)
class Sealing:
    """How one fact is sealed as it is recorded: under these labels (none: only its
    personal fields), with keys from ``keys``."""

    labels: tuple[str, ...]
    keys: Keys


class SealingError(IntegrityFailure):
    """A seal that does not open under the key it names: changed, or moved from another
    event or field."""


class KeyMissing(LedgerError):  # noqa: N818 - the words a user reads
    """Content to be sealed under a label whose key the keyring does not hold."""


def _aad(context: bytes, field: str) -> bytes:
    return context + b"\x00" + field.encode()


def _label_key(keys: Keys | None, labels: Sequence[str]) -> bytes | None:
    material = b""
    for label in labels:
        key = keys.label_key(label) if keys is not None else None
        if key is None:
            return None
        material += key
    return hashlib.sha256(b"thread seal\x00" + "\x00".join(labels).encode() + b"\x00"
                          + material).digest()


def context(aggregate_id: bytes, version: int, topic: str) -> bytes:
    """What a seal is bound to: the event's place and kind."""
    return aggregate_id + version.to_bytes(8, "big") + topic.encode()


def seal(payload: dict[str, Any], *, topic: str, where: bytes, labels: Sequence[str],
         keys: Keys) -> dict[str, Any]:
    """``payload`` (canonical) with its personal fields and, when ``labels`` are given, its
    content sealed; :class:`SealingError` when a label's key is not held."""
    sealed = dict(payload)
    for name in PERSONAL.get(topic, ()):
        value = sealed.get(name)
        if isinstance(value, str):
            key_id, key = keys.person_key(value)
            nonce = os.urandom(12)
            data = AESGCM(key).encrypt(nonce, msgpack.packb(value), _aad(where, name))
            sealed[name] = {SEALED: {"data": data, "key": key_id, "nonce": nonce}}
    if not labels:
        return sealed
    ordered = sorted(set(labels))
    content_key = _label_key(keys, ordered)
    if content_key is None:
        missing = [x for x in ordered if keys.label_key(x) is None]
        raise KeyMissing(f"{topic} on a subject labelled {', '.join(ordered)} is sealed "
                           f"under its labels' keys; the keyring holds none for "
                           f"{', '.join(missing)}")
    content = {name: value for name, value in sealed.items() if name not in IDENTIFYING}
    nonce = os.urandom(12)
    data = AESGCM(content_key).encrypt(nonce, msgpack.packb(content, datetime=True,
                                                    use_bin_type=True), _aad(where, SEALED))
    clear = {name: value for name, value in sealed.items() if name in IDENTIFYING}
    clear[SEALED] = {"data": data, "labels": ordered, "nonce": nonce}
    return dict(sorted(clear.items()))


def is_sealed(value: Any) -> bool:
    """Whether a payload value (or a whole payload) is a seal."""
    return isinstance(value, dict) and SEALED in value


def sealed_labels(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The labels a payload's content is sealed under, or None when it is not."""
    seal_ = payload.get(SEALED)
    return tuple(seal_.get("labels", ())) if isinstance(seal_, dict) else None


def unseal(payload: dict[str, Any], *, topic: str, where: bytes,
           keys: Keys | None) -> tuple[dict[str, Any], tuple[str, ...] | None]:
    """The payload as far as ``keys`` open it, and the labels of content left sealed (None
    when it is open). Personal fields that do not open read ``(withheld)``, or ``(erased)``
    when their key was destroyed."""
    opened = dict(payload)
    labels = sealed_labels(payload)
    if labels is not None:
        seal_ = payload[SEALED]
        key = _label_key(keys, labels)
        if key is None:
            return _personal(opened, topic, where, keys), labels
        try:
            content = msgpack.unpackb(
                AESGCM(key).decrypt(seal_["nonce"], seal_["data"], _aad(where, SEALED)),
                timestamp=3, raw=False, strict_map_key=True, use_list=True)
        except (InvalidTag, KeyError, TypeError, ValueError) as error:
            raise SealingError(f"{topic}: the sealed content does not open under its labels' "
                               f"keys (changed ciphertext or moved seal): "
                               f"{type(error).__name__}") from None
        del opened[SEALED]
        opened.update(content)
    return _personal(opened, topic, where, keys), None


def _personal(payload: dict[str, Any], topic: str, where: bytes,
              keys: Keys | None) -> dict[str, Any]:
    for name in PERSONAL.get(topic, ()):
        value = payload.get(name)
        if not isinstance(value, dict) or not isinstance(value.get(SEALED), dict):
            continue
        seal_ = value[SEALED]
        key_id = str(seal_.get("key"))
        key = keys.key(key_id) if keys is not None else None
        if key is None:
            payload[name] = ERASED if keys is not None and keys.erased(key_id) else WITHHELD
            continue
        try:
            payload[name] = msgpack.unpackb(
                AESGCM(key).decrypt(seal_["nonce"], seal_["data"], _aad(where, name)),
                raw=False)
        except (InvalidTag, KeyError, TypeError, ValueError) as error:
            raise SealingError(f"{topic}: the sealed {name} does not open under key {key_id} "
                               f"(changed ciphertext or moved seal): "
                               f"{type(error).__name__}") from None
    return payload


def blind(payload: dict[str, Any], topic: str) -> dict[str, Any]:
    """A payload as a keyless reader (a projection) sees it: personal seals read
    ``(withheld)``; a label seal is left for the caller to show as withheld."""
    return _personal(dict(payload), topic, b"", None)
