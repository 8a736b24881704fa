"""The keyring folder: key files only their owner reads, never overwritten; a person's key
made once and found again; shredding leaves a tombstone without the name; a bad key file
is one line naming it; ``THREAD_KEYRING`` names the folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from thread.storage.keyring import KEYRING_VARIABLE, Keyring, KeyringError, keyring_from

NAME = "Zebulon Quixote-Marchetti"


def _folder_bytes(folder: Path) -> bytes:
    """Every byte of every file in the keyring folder."""
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


def test_a_label_key_file_is_the_owner_s_only_and_never_overwritten(tmp_path: Path) -> None:
    """The file is 0600 in a folder it made; a second key for the label is refused naming
    the file, which keeps the first key."""
    ring = Keyring(tmp_path / "keys")
    path = ring.new_label_key("ITAR:XI")
    assert path == tmp_path / "keys" / "label-ITAR-XI.key"
    assert path.stat().st_mode & 0o777 == 0o600
    first, key = path.read_bytes(), ring.label_key("ITAR:XI")
    assert key is not None and len(key) == 32
    with pytest.raises(KeyringError, match=re.escape(f"key file {path} exists; a key is never "
                                                     f"overwritten")):
        ring.new_label_key("ITAR:XI")
    with pytest.raises(KeyringError, match="never overwritten"):
        Keyring(tmp_path / "keys").new_label_key("ITAR:XI")
    assert path.read_bytes() == first
    assert Keyring(tmp_path / "keys").label_key("ITAR:XI") == key
    assert Keyring(tmp_path / "keys").label_key("EAR:3A001") is None


@pytest.mark.parametrize("bad", ["ITAR:XXX", "EAR:3a001", "residency:de", "itar:XI", ""])
def test_a_bad_label_is_refused_with_the_labels_it_expects(tmp_path: Path, bad: str) -> None:
    """The refusal lists the label forms and quotes the bad one; no file is written."""
    with pytest.raises(KeyringError) as raised:
        Keyring(tmp_path).new_label_key(bad)
    assert str(raised.value) == (
        f"an export-control label: ITAR:<USML category I-XXI>, EAR:<ECCN such as 3A001>, "
        f"EAR99 or residency:<country such as US>, not {bad!r}")
    assert list(tmp_path.iterdir()) == []


def test_a_person_key_is_made_once_and_found_again(tmp_path: Path) -> None:
    """The first use writes one 0600 file per person; the same keyring, and a new one on the
    folder, give the same id and key; another person gets another key."""
    ring = Keyring(tmp_path)
    key_id, key = ring.person_key(NAME)
    assert ring.person_key(NAME) == (key_id, key)
    again = Keyring(tmp_path)
    assert again.person_key(NAME) == (key_id, key)
    assert again.key(key_id) == key and not again.erased(key_id)
    other_id, other = again.person_key("op-1042")
    assert other_id != key_id and other != key
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == sorted([f"person-{key_id}.key", f"person-{other_id}.key"])
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in tmp_path.iterdir())
    assert ring.key(other_id) == other  # written by another keyring, read on demand


def test_shredding_leaves_a_tombstone_without_the_name(tmp_path: Path) -> None:
    """After shred the key file is gone, the .erased file holds the key id and not the
    name, and a new keyring on the folder says erased with no key."""
    ring = Keyring(tmp_path)
    key_id, _ = ring.person_key(NAME)
    kept_id, kept = ring.person_key("op-1042")
    assert NAME.encode() in _folder_bytes(tmp_path)  # the search finds what is there
    assert ring.shred(NAME) == [key_id]
    assert not (tmp_path / f"person-{key_id}.key").exists()
    tombstone = tmp_path / f"person-{key_id}.erased"
    assert json.loads(tombstone.read_text())["id"] == key_id
    raw = _folder_bytes(tmp_path)
    assert NAME.encode() not in raw and b"Zebulon" not in raw
    assert b"op-1042" in raw
    for reader in (ring, Keyring(tmp_path)):
        assert reader.erased(key_id) and reader.key(key_id) is None
        assert reader.key(kept_id) == kept and not reader.erased(kept_id)
    assert ring.shred(NAME) == []


@pytest.mark.parametrize(("content", "why"), [
    ("{not json", "Expecting property name"),
    ("", "Expecting value"),
    ("[1, 2]", "expected a JSON object"),
    ('{"label": "ITAR:XI", "key": "c2hvcnQ="}', 'expected "key", 32 bytes in base64'),
    ('{"label": "ITAR:XI", "key": "not base64!"}', 'expected "key", 32 bytes in base64'),
    ('{"person": "op", "id": "1"}', 'expected "key", 32 bytes in base64'),
    ('{"key": "' + "A" * 44 + '"}', 'expected a "label" or a "person" and "id"'),
], ids=["bad JSON", "empty", "not an object", "short key", "not base64", "no key",
        "no owner"])
def test_a_malformed_key_file_is_one_line_naming_it(tmp_path: Path, content: str,
                                                    why: str) -> None:
    """Opening the folder fails with one KeyringError line: the file and what is wrong."""
    path = tmp_path / "label-ITAR-XI.key"
    path.write_text(content)
    with pytest.raises(KeyringError) as raised:
        Keyring(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"key file {path}: ") and why in message
    assert "\n" not in message


def test_a_keyring_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """A file where the folder should be is named in one line."""
    path = tmp_path / "keys"
    path.write_text("")
    with pytest.raises(KeyringError, match=f"^keyring {re.escape(str(path))} is not a folder$"):
        Keyring(path)


def test_keyring_from_reads_thread_keyring(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """No folder given: $THREAD_KEYRING names it, unset or empty means no keyring; a folder
    given wins over the variable."""
    monkeypatch.delenv(KEYRING_VARIABLE, raising=False)
    assert KEYRING_VARIABLE == "THREAD_KEYRING"
    assert keyring_from(None) is None
    monkeypatch.setenv(KEYRING_VARIABLE, "")
    assert keyring_from(None) is None
    monkeypatch.setenv(KEYRING_VARIABLE, str(tmp_path / "env"))
    named = keyring_from(None)
    assert named is not None and named.folder == tmp_path / "env"
    given = keyring_from(tmp_path / "given")
    assert given is not None and given.folder == tmp_path / "given"
