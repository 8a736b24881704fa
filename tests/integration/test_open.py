"""Opening a ledger: URLs, defaults, encryption keys from the environment or a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import bearing, released_bearing

import thread
from thread.bootstrap import persistence_env
from thread.storage.encryption import KEY_FILE_VARIABLE, KEY_VARIABLE, write_key_file


def test_default_is_thread_db_in_the_working_directory(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With no URL and no THREAD_DB, the ledger is ./thread.db."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THREAD_DB", raising=False)
    thread.open().close()
    assert (tmp_path / "thread.db").exists()


def test_thread_db_variable_names_the_ledger(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """THREAD_DB is used when no URL is given; sqlite:/// URLs are understood."""
    monkeypatch.setenv("THREAD_DB", f"sqlite:///{tmp_path}/named.db")
    thread.open().close()
    assert (tmp_path / "named.db").exists()


def test_urls_map_to_their_stores() -> None:
    """Paths and sqlite URLs go to SQLite, postgresql URLs to PostgreSQL with their parts."""
    assert persistence_env("plant.db")["SQLITE_DBNAME"] == "plant.db"
    assert persistence_env("sqlite:///plant.db")["SQLITE_DBNAME"] == "plant.db"
    assert persistence_env("sqlite:////tmp/x.db")["SQLITE_DBNAME"] == "/tmp/x.db"
    env = persistence_env("postgresql://alice:s%40cret@db.plant:6543/ledger?schema=site7")
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.plant", "6543", "ledger")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_SCHEMA"]) == (
        "alice", "s@cret", "site7")


def test_bad_urls_are_refused_clearly(tmp_path: Path) -> None:
    """An unknown scheme or a missing directory is a configuration error, not a stack trace."""
    with pytest.raises(thread.ConfigurationError, match="expected a file path"):
        thread.open("mysql://root@localhost/x")
    with pytest.raises(thread.ConfigurationError, match="does not exist"):
        thread.open(str(tmp_path / "no" / "such" / "dir.db"))


def test_key_from_environment_and_from_key_file(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The key comes from THREAD_ENCRYPTION_KEY or a 0600 key file named by the environment."""
    key_file = tmp_path / "ledger.key"
    key = write_key_file(key_file)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_key_file(key_file)
    url = str(tmp_path / "secret.db")
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(key_file))
    ledger = thread.open(url)
    ledger.record(released_bearing())
    ledger.record(bearing("SN-1"))
    ledger.close()
    monkeypatch.delenv(KEY_FILE_VARIABLE)
    monkeypatch.setenv(KEY_VARIABLE, key)
    assert len(thread.open(url).history("SN-1")) == 1


def test_malformed_keys_are_refused(tmp_path: Path) -> None:
    """A key that is not base64 or not an AES key size says so."""
    with pytest.raises(thread.EncryptionKeyError, match="not base64"):
        thread.open(str(tmp_path / "a.db"), encryption_key="not a key!")
    with pytest.raises(thread.EncryptionKeyError, match="decodes to 5 bytes"):
        thread.open(str(tmp_path / "a.db"), encryption_key="aGVsbG8=")
    with pytest.raises(thread.EncryptionKeyError, match="cannot read key file"):
        thread.open(str(tmp_path / "a.db"), encryption_key_file=tmp_path / "missing.key")


def test_plain_ledger_refuses_a_key(tmp_path: Path) -> None:
    """A ledger written without encryption is not silently mixed with encrypted rows."""
    url = str(tmp_path / "plain.db")
    thread.open(url).record(released_bearing())
    with pytest.raises(thread.EncryptionKeyError, match="unencrypted"):
        thread.open(url, encryption_key=thread.new_encryption_key())
