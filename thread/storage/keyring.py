"""The keyring: the keys that seal export-controlled content and personal data, held by
their owner in a folder of key files (``THREAD_KEYRING``), never in the ledger.

One file per key, readable by its owner only:

* ``label-<label>.key`` - ``{"label": "ITAR:XI", "key": <base64 AES-256>}``, made by
  :meth:`Keyring.new_label_key` (``thread keys label``) and handed to those cleared;
* ``person-<id>.key`` - ``{"id": ..., "person": "op-1042", "key": ...}``, made the first
  time a person's name is sealed;
* ``person-<id>.erased`` - what is left when a person's keys are destroyed
  (:meth:`Keyring.shred`): the key id and when, not the name, so their data reads
  ``(erased)`` rather than ``(withheld)``.

A KMS would hold the same keys behind the same four questions (:class:`thread.domain.
sealing.Keys`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thread.domain.export_control import label as check_label
from thread.errors import LedgerError

#: The environment variable naming the keyring folder.
KEYRING_VARIABLE = "THREAD_KEYRING"


class KeyringError(LedgerError):
    """A keyring folder or key file that cannot be used: which, and why."""


class Keyring:
    """The key files in one folder (created on first use)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._labels: dict[str, bytes] = {}
        self._people: dict[str, tuple[str, bytes]] = {}  # person -> (id, key)
        self._ids: dict[str, bytes] = {}
        self._erased: set[str] = set()
        self._loaded: set[str] = set()
        self._load()

    def _load(self) -> None:
        if not self.folder.exists():
            return
        if not self.folder.is_dir():
            raise KeyringError(f"keyring {self.folder} is not a folder")
        for path in sorted(self.folder.iterdir()):
            if path.name in self._loaded or path.suffix not in (".key", ".erased"):
                continue
            data = _read(path)
            self._loaded.add(path.name)  # only once it read whole: a bad file is read again
            if path.suffix == ".erased":
                self._erased.add(str(data.get("id")))
            elif "label" in data:
                self._labels[str(data["label"])] = _key(path, data)
            elif "person" in data and "id" in data:
                key = _key(path, data)
                self._people[str(data["person"])] = (str(data["id"]), key)
                self._ids[str(data["id"])] = key
            else:
                raise KeyringError(f"key file {path}: expected a \"label\" or a \"person\" "
                                   f"and \"id\"")

    # The questions sealing asks (thread.domain.sealing.Keys)

    def label_key(self, label: str) -> bytes | None:
        """The key of an export-control label, if this keyring holds it."""
        with self._lock:
            if label not in self._labels:
                self._load()
            return self._labels.get(label)

    def person_key(self, person: str) -> tuple[str, bytes]:
        """The key id and key of ``person``, made and written on first use."""
        with self._lock:
            if person not in self._people:
                self._load()
            if person not in self._people:
                key_id = secrets.token_hex(8)
                key = secrets.token_bytes(32)
                _write(self.folder / f"person-{key_id}.key",
                       {"id": key_id, "person": person, "key": _b64(key)})
                self._people[person] = (key_id, key)
                self._ids[key_id] = key
            return self._people[person]

    def key(self, key_id: str) -> bytes | None:
        """A person's key by its id, if held (and not destroyed since, by any process)."""
        with self._lock:
            if key_id not in self._ids and key_id not in self._erased:
                self._load()
            if key_id in self._ids and (self.folder / f"person-{key_id}.erased").exists():
                del self._ids[key_id]
                self._erased.add(key_id)
                self._people = {p: k for p, k in self._people.items() if k[0] != key_id}
            return self._ids.get(key_id)

    def erased(self, key_id: str) -> bool:
        """Whether the key ``key_id`` was destroyed."""
        with self._lock:
            if key_id not in self._erased:
                self._load()
            return key_id in self._erased

    # Keeping keys

    def new_label_key(self, label: str) -> Path:
        """Make the key of ``label`` (never overwriting one); the file to hand out."""
        try:
            check_label(label)
        except ValueError as error:
            raise KeyringError(str(error)) from None
        path = self.folder / f"label-{label.replace(':', '-')}.key"
        with self._lock:
            _write(path, {"label": label, "key": _b64(secrets.token_bytes(32))})
            self._load()
        return path

    def shred(self, person: str) -> list[str]:
        """Destroy every key of ``person``: their sealed names read ``(erased)`` from now on,
        everywhere. The ids of the keys destroyed (none: the keyring had no key for them)."""
        with self._lock:
            self._load()
            gone = []
            for path in sorted(self.folder.glob("person-*.key")):
                data = _read(path)
                if data.get("person") != person:
                    continue
                key_id = str(data["id"])
                _write(self.folder / f"person-{key_id}.erased",
                       {"id": key_id, "erased_at": datetime.now(UTC).isoformat()})
                _destroy(path)
                self._loaded.discard(path.name)
                self._ids.pop(key_id, None)
                self._erased.add(key_id)
                gone.append(key_id)
            self._people.pop(person, None)
            return gone


def keyring_from(folder: str | Path | None) -> Keyring | None:
    """The keyring in ``folder``, or named by ``$THREAD_KEYRING``; None when neither is."""
    chosen = folder if folder is not None else os.environ.get(KEYRING_VARIABLE) or None
    return Keyring(chosen) if chosen is not None else None


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise KeyringError(f"key file {path}: {error}") from None
    if not isinstance(data, dict):
        raise KeyringError(f"key file {path}: expected a JSON object")
    return data


def _key(path: Path, data: dict[str, Any]) -> bytes:
    try:
        key = base64.b64decode(str(data["key"]), validate=True)
    except (KeyError, ValueError):
        key = b""
    if len(key) != 32:
        raise KeyringError(f"key file {path}: expected \"key\", 32 bytes in base64")
    return key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _write(path: Path, data: dict[str, Any]) -> None:
    """Write a key file only its owner reads, never over an existing one, and whole: it is
    written aside and linked into place, so no reader meets it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        raise KeyringError(f"key file {path} exists; a key is never overwritten")
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(data, file)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(aside, path)
        except FileExistsError:
            raise KeyringError(f"key file {path} exists; a key is never overwritten") from None
    finally:
        aside.unlink()


def _destroy(path: Path) -> None:
    """Overwrite a key file before unlinking it (on a copy-on-write or journalled file
    system the old blocks may survive: the key's other copies must go too)."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.write(secrets.token_bytes(size))
        file.flush()
        os.fsync(file.fileno())
    path.unlink()
