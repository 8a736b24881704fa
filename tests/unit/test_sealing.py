"""Seals inside a canonical payload, with keys held in memory: a round trip gives the payload
back; only the identifying fields stay clear; a seal opens only in its own event; a reader
without a key sees labels, ``(withheld)`` or ``(erased)`` instead of content."""

from __future__ import annotations

import copy
import os
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thread.domain.sealing import (
    ERASED,
    IDENTIFYING,
    PERSONAL,
    SEALED,
    WITHHELD,
    KeyMissing,
    SealingError,
    blind,
    context,
    seal,
    unseal,
)

OPERATION = "manufacturing.operation-performed"
LABELS = ("EAR99", "EAR:3A001", "ITAR:XI", "residency:DE")
SUBJECT = uuid.UUID(int=1).bytes
WHERE = context(SUBJECT, 2, OPERATION)
NAME = "Zebulon Quixote-Marchetti"
SECRET = "QZXV-SEEKER-GIMBAL-TORQUE"


class InMemoryKeys:
    """Label and person keys in a dict; a destroyed person key is remembered by its id."""

    def __init__(self, labels: Iterable[str] = LABELS) -> None:
        self.labels = {label: os.urandom(32) for label in labels}
        self.people: dict[str, tuple[str, bytes]] = {}
        self.destroyed: set[str] = set()

    def label_key(self, label: str) -> bytes | None:
        return self.labels.get(label)

    def person_key(self, person: str) -> tuple[str, bytes]:
        if person not in self.people:
            self.people[person] = (secrets.token_hex(8), os.urandom(32))
        return self.people[person]

    def key(self, key_id: str) -> bytes | None:
        return next((key for held, key in self.people.values() if held == key_id), None)

    def erased(self, key_id: str) -> bool:
        return key_id in self.destroyed

    def shred(self, person: str) -> None:
        key_id, _ = self.people.pop(person)
        self.destroyed.add(key_id)

    def only(self, *labels: str) -> InMemoryKeys:
        """The same person keys with only these labels' keys."""
        fewer = InMemoryKeys(())
        fewer.labels = {label: self.labels[label] for label in labels}
        fewer.people = dict(self.people)
        return fewer


def _operation(**extra: Any) -> dict[str, Any]:
    """An operation on a controlled part, its every identifying field filled in."""
    clear = {name: f"{name}-value" for name in IDENTIFYING}
    return {**clear, "operation": SECRET, "operator": NAME, "cycle_time_s": 1800,
            "station": "ST", **extra}


def _seal_in(sealed: dict[str, Any], field: str) -> dict[str, Any]:
    """The seal (nonce, data, ...) of ``field``, or of the labelled content for SEALED."""
    inner: dict[str, Any] = sealed[SEALED] if field == SEALED else sealed[field][SEALED]
    return inner


def _flipped(sealed: dict[str, Any], field: str) -> dict[str, Any]:
    """``sealed`` with one bit of the ciphertext of its seal in ``field`` flipped."""
    changed = copy.deepcopy(sealed)
    inner = _seal_in(changed, field)
    inner["data"] = bytes([inner["data"][0] ^ 0x01]) + inner["data"][1:]
    return changed


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
                     st.floats(allow_nan=False), st.text(max_size=20))
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
_other_fields = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(
        lambda name: name not in IDENTIFYING and name not in {"operator", SEALED}),
    _values, max_size=6)


@given(fields=_other_fields, operator=st.text(max_size=30), serial=st.text(max_size=12),
       labels=st.lists(st.sampled_from(LABELS), unique=True, max_size=3))
@settings(max_examples=150, deadline=None)
def test_a_sealed_payload_opens_to_exactly_what_was_sealed(
        fields: dict[str, Any], operator: str, serial: str, labels: list[str]) -> None:
    """Text, numbers and nested content, with or without labels: unsealed with the keys,
    the payload is the one sealed, and only identifying fields were left in clear."""
    payload = {"serial": serial, "operator": operator, **fields}
    keys = InMemoryKeys()
    sealed = seal(payload, topic=OPERATION, where=WHERE, labels=labels, keys=keys)
    if labels:
        assert set(sealed) == {"serial", SEALED}
        assert sealed[SEALED]["labels"] == sorted(labels)
    else:
        assert set(sealed["operator"]) == {SEALED}
        assert {**sealed, "operator": operator} == payload
    assert unseal(sealed, topic=OPERATION, where=WHERE, keys=keys) == (payload, None)


def test_identifying_fields_stay_clear_and_nothing_else_does() -> None:
    """Under a label the identifying fields keep their values; the operation, the operator,
    the numbers are in no byte of the sealed payload."""
    payload = _operation(cycle_time_s=918273645)
    sealed = seal(payload, topic=OPERATION, where=WHERE, labels=["ITAR:XI"],
                  keys=InMemoryKeys())
    assert set(sealed) == {*IDENTIFYING, SEALED}
    assert {name: sealed[name] for name in IDENTIFYING} == {
        name: payload[name] for name in IDENTIFYING}
    stored = msgpack.packb(sealed, use_bin_type=True)
    assert b"serial-value" in stored  # the search finds what is in clear
    for secret in (SECRET, NAME, "Zebulon"):
        assert secret.encode() not in stored
    assert (918273645).to_bytes(4, "big") not in stored


def test_without_labels_only_the_personal_field_is_sealed() -> None:
    """No labels: every field but the operator is left as it was; the name is not in the
    bytes."""
    payload = _operation()
    sealed = seal(payload, topic=OPERATION, where=WHERE, labels=[], keys=InMemoryKeys())
    assert PERSONAL[OPERATION] == ("operator",)
    assert {name: value for name, value in sealed.items() if name != "operator"} == {
        name: value for name, value in payload.items() if name != "operator"}
    assert set(sealed["operator"][SEALED]) == {"data", "key", "nonce"}
    assert NAME.encode() not in msgpack.packb(sealed, use_bin_type=True)


MOVES = {
    "another subject": context(uuid.UUID(int=2).bytes, 2, OPERATION),
    "another version": context(SUBJECT, 3, OPERATION),
    "another topic": context(SUBJECT, 2, "quality.inspection-recorded"),
}


@pytest.mark.parametrize("labels", [(), ("ITAR:XI",)], ids=["personal", "labelled"])
@pytest.mark.parametrize("where", MOVES.values(), ids=MOVES.keys())
def test_a_seal_moved_to_another_event_does_not_open(labels: tuple[str, ...],
                                                     where: bytes) -> None:
    """A personal or a label seal opened under another event's context raises
    SealingError, although the keys are right."""
    keys = InMemoryKeys()
    sealed = seal(_operation(), topic=OPERATION, where=WHERE, labels=labels, keys=keys)
    with pytest.raises(SealingError, match="does not open"):
        unseal(sealed, topic=OPERATION, where=where, keys=keys)


@pytest.mark.parametrize(("labels", "field"), [((), "operator"), (("ITAR:XI",), SEALED)],
                         ids=["personal", "labelled"])
def test_a_flipped_ciphertext_byte_does_not_open(labels: tuple[str, ...], field: str) -> None:
    """One bit changed in a seal's ciphertext raises SealingError (changed, not withheld)."""
    keys = InMemoryKeys()
    sealed = seal(_operation(), topic=OPERATION, where=WHERE, labels=labels, keys=keys)
    assert unseal(sealed, topic=OPERATION, where=WHERE, keys=keys)[0] == _operation()
    with pytest.raises(SealingError, match="changed ciphertext or moved seal"):
        unseal(_flipped(sealed, field), topic=OPERATION, where=WHERE, keys=keys)


def test_a_reader_without_keys_sees_the_labels_and_withheld_names() -> None:
    """No keys: labelled content stays sealed and its labels are returned; a personal field
    reads (withheld), the rest of an unlabelled payload is clear."""
    keys = InMemoryKeys()
    labelled = seal(_operation(), topic=OPERATION, where=WHERE,
                    labels=["ITAR:XI", "EAR:3A001"], keys=keys)
    opened, left = unseal(labelled, topic=OPERATION, where=WHERE, keys=None)
    assert left == ("EAR:3A001", "ITAR:XI")
    assert opened == labelled and "operation" not in opened and "operator" not in opened
    named = seal(_operation(), topic=OPERATION, where=WHERE, labels=[], keys=keys)
    assert unseal(named, topic=OPERATION, where=WHERE, keys=None) == (
        _operation(operator=WITHHELD), None)
    assert unseal(named, topic=OPERATION, where=WHERE, keys=InMemoryKeys()) == (
        _operation(operator=WITHHELD), None)  # other keys: not theirs to open
    assert blind(named, OPERATION) == _operation(operator=WITHHELD)


def test_a_destroyed_person_key_reads_erased() -> None:
    """After the person's key is destroyed their name reads (erased), inside labelled
    content too; the rest still opens."""
    keys = InMemoryKeys()
    named = seal(_operation(), topic=OPERATION, where=WHERE, labels=[], keys=keys)
    labelled = seal(_operation(), topic=OPERATION, where=WHERE, labels=["ITAR:XI"], keys=keys)
    keys.shred(NAME)
    for sealed in (named, labelled):
        assert unseal(sealed, topic=OPERATION, where=WHERE, keys=keys) == (
            _operation(operator=ERASED), None)


def test_content_under_two_labels_needs_both_keys() -> None:
    """Sealed under ITAR:XI and EAR:3A001: a keyring with one of them opens nothing; one with
    another key for a label raises SealingError."""
    keys = InMemoryKeys()
    sealed = seal(_operation(), topic=OPERATION, where=WHERE,
                  labels=["ITAR:XI", "EAR:3A001"], keys=keys)
    for one in ("ITAR:XI", "EAR:3A001"):
        opened, left = unseal(sealed, topic=OPERATION, where=WHERE, keys=keys.only(one))
        assert left == ("EAR:3A001", "ITAR:XI") and SECRET not in repr(opened)
    assert unseal(sealed, topic=OPERATION, where=WHERE,
                  keys=keys.only("ITAR:XI", "EAR:3A001")) == (_operation(), None)
    wrong = keys.only("ITAR:XI", "EAR:3A001")
    wrong.labels["EAR:3A001"] = os.urandom(32)
    with pytest.raises(SealingError, match="under its labels' keys"):
        unseal(sealed, topic=OPERATION, where=WHERE, keys=wrong)


def test_sealing_without_a_label_s_key_names_the_missing_label() -> None:
    """KeyMissing says which label's key the keyring lacks, not the ones it holds."""
    with pytest.raises(KeyMissing) as raised:
        seal(_operation(), topic=OPERATION, where=WHERE, labels=["ITAR:XI", "EAR:3A001"],
             keys=InMemoryKeys(["ITAR:XI"]))
    assert str(raised.value).endswith("the keyring holds none for EAR:3A001")
    assert "labelled EAR:3A001, ITAR:XI" in str(raised.value)


@pytest.mark.parametrize("labels", [(), ("ITAR:XI",)], ids=["personal", "labelled"])
def test_sealing_twice_gives_different_bytes(labels: tuple[str, ...]) -> None:
    """A fresh nonce each time: the same payload seals to other ciphertext, both open."""
    keys = InMemoryKeys()
    first, second = (seal(_operation(), topic=OPERATION, where=WHERE, labels=labels, keys=keys)
                     for _ in range(2))
    assert msgpack.packb(first, use_bin_type=True) != msgpack.packb(second, use_bin_type=True)
    field = SEALED if labels else "operator"
    seals = [_seal_in(sealed, field) for sealed in (first, second)]
    assert seals[0]["nonce"] != seals[1]["nonce"] and seals[0]["data"] != seals[1]["data"]
    for sealed in (first, second):
        assert unseal(sealed, topic=OPERATION, where=WHERE, keys=keys) == (_operation(), None)
