"""The one place that wires a ledger together from a URL, a key and settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import uuid4

from thread.errors import ConfigurationError, EncryptionKeyError
from thread.ledger import Ledger
from thread.storage.encryption import cipher_for, key_check, load_key

if TYPE_CHECKING:
    from thread.read.queries import Queries

#: Environment variable with the ledger URL, used when none is given.
DB_VARIABLE = "THREAD_DB"
#: Environment variable with a separate database for the read models.
READ_DB_VARIABLE = "THREAD_READ_DB"
#: The ledger file in the working directory when nothing else is said.
DEFAULT_FILE = "thread.db"


def open(
    url: str | None = None,
    *,
    encryption_key: str | None = None,
    encryption_key_file: str | Path | None = None,
    actor: str | None = None,
    clock: Callable[[], datetime] | None = None,
    create: bool = True,
    checkpoint_key: str | None = None,
    checkpoint_every: int | None = None,
    checkpoint_seconds: float | None = None,
    read_url: str | None = None,
) -> Ledger:
    """Open (creating if needed, unless ``create=False``) the ledger at ``url``.

    ``url`` is a SQLite file path or ``sqlite:///path``, or a
    ``postgresql://user@host:port/db`` URL; by default ``$THREAD_DB`` or
    ``thread.db`` in the working directory. An encryption key (base64 AES,
    or ``$THREAD_ENCRYPTION_KEY`` / ``$THREAD_ENCRYPTION_KEY_FILE``) encrypts
    stored events at rest; hashes stay over the plaintext. With a
    ``checkpoint_key`` (a C2SP signer key, see ``thread keygen``) the ledger
    signs a checkpoint every ``checkpoint_every`` events and/or every
    ``checkpoint_seconds`` seconds while there are new events.

    Read models (trace, genealogy, recall scope) live in the ledger's own
    database unless ``read_url`` (or ``$THREAD_READ_DB``) names another one:
    a SQLite path or URL, or a PostgreSQL URL.
    """
    url = url or os.environ.get(DB_VARIABLE) or DEFAULT_FILE
    env = persistence_env(url)
    database = env.get("SQLITE_DBNAME")
    if (not create and database is not None and not database.startswith("file:")
            and not Path(database).exists()):
        raise ConfigurationError(f"there is no ledger at {database}")
    raw_key = load_key(encryption_key, encryption_key_file)
    cipher = cipher_for(raw_key) if raw_key is not None else None
    try:
        ledger = Ledger(env, cipher=cipher, actor=actor, clock=clock,
                        checkpoint_key=checkpoint_key, checkpoint_every=checkpoint_every,
                        checkpoint_seconds=checkpoint_seconds,
                        open_read_side=_read_side(
                            _read_url(read_url or os.environ.get(READ_DB_VARIABLE))))
    except ConfigurationError:
        raise
    except Exception as error:  # the drivers' errors differ; say what could not be opened
        raise ConfigurationError(f"cannot open ledger at {_redact(url)}: {error}") from error
    _check_encryption(ledger, raw_key)
    return ledger


def persistence_env(url: str) -> dict[str, str]:
    """eventsourcing settings for a ledger URL."""
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        return {
            "PERSISTENCE_MODULE": "thread.storage.postgres:Factory",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_LOCK_TIMEOUT": "30",
            "POSTGRES_CONNECT_TIMEOUT": "5",
        }
    if parts.scheme == "sqlite":
        if not url.startswith("sqlite:///"):
            raise ConfigurationError(f"ledger URL {url!r}: expected sqlite:///PATH")
        path = unquote(url[len("sqlite:///") :])
    elif parts.scheme in ("", "file") or len(parts.scheme) == 1:  # a path (or C:\\)
        path = url
    else:
        raise ConfigurationError(
            f"ledger URL {_redact(url)!r}: expected a file path, sqlite:///PATH or "
            f"postgresql://USER@HOST:PORT/DB"
        )
    if path != ":memory:":
        directory = Path(path).resolve().parent
        if not directory.is_dir():
            raise ConfigurationError(f"ledger file {path}: directory {directory} does not exist")
    return {
        "PERSISTENCE_MODULE": "thread.storage.sqlite:Factory",
        "SQLITE_DBNAME": (
            path if path != ":memory:" else f"file:{uuid4().hex}?mode=memory&cache=shared"
        ),
        "SQLITE_LOCK_TIMEOUT": "60",
    }


def _check_encryption(ledger: Ledger, raw_key: bytes | None) -> None:
    store = ledger.store
    empty = store.count_events() == 0
    wanted = key_check(raw_key) if raw_key is not None else "none"
    stored = store.get_meta("encryption")
    if stored is None:
        # A ledger with events but no setting was written unencrypted by an earlier version.
        stored = "none" if not empty else store.put_meta("encryption", wanted)
    if stored == wanted:
        return
    ledger.close()
    if stored == "none":
        raise EncryptionKeyError(
            "this ledger stores events unencrypted; open it without an encryption key"
        )
    if raw_key is None:
        raise EncryptionKeyError(
            "this ledger's events are encrypted; give the key (THREAD_ENCRYPTION_KEY or "
            "THREAD_ENCRYPTION_KEY_FILE)"
        )
    raise EncryptionKeyError("the encryption key given is not the key this ledger was written with")


def _read_side(url: str | None) -> Callable[[Ledger], Queries]:
    """How the ledger opens its read side on first use: read models over its stored log."""

    def open_read_side(ledger: Ledger) -> Queries:
        from thread.read.models import ReadModels
        from thread.read.queries import Queries
        from thread.read.urls import sqlalchemy_url
        from thread.storage.reading import StoredLog

        log = StoredLog(ledger.store, ledger.mapper)
        return Queries(ReadModels(log, url or sqlalchemy_url(ledger.env)))

    return open_read_side


def _read_url(url: str | None) -> str | None:
    if url is None:
        return None
    from thread.read.urls import read_url

    return read_url(url)


def _redact(url: str | None) -> str:
    if url is None:
        return "(default)"
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
