"""The one place that wires a ledger together from a URL, a key and settings."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import uuid4

from thread.errors import ConfigurationError, EncryptionKeyError, LedgerError, NotALedger
from thread.ledger import DEFAULT_CLOCK_SKEW, Ledger
from thread.storage.encryption import cipher_for, identifier_key, key_check, load_key
from thread.storage.keyring import Keyring, keyring_from
from thread.storage.recorder import NAME_SETTING, READ_ONLY_SETTING, new_origin

if TYPE_CHECKING:
    from thread.access.policy import Identity, Policy
    from thread.read.queries import Queries

#: Environment variable with the ledger URL, used when none is given.
DB_VARIABLE = "THREAD_DB"
#: Environment variable with a separate database for the read models.
READ_DB_VARIABLE = "THREAD_READ_DB"
#: The log name a ledger being created takes (``<organisation>/<site>``).
ORIGIN_VARIABLE = "THREAD_ORIGIN"
#: The ledger file in the working directory when nothing else is said.
DEFAULT_FILE = "thread.db"
#: The ledger file's path among its settings, beside SQLITE_DBNAME (maybe a read-only URI).
PATH_SETTING = "THREAD_LEDGER_PATH"


_log = logging.getLogger(__name__)

def open(
    url: str | os.PathLike[str] | None = None,
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
    max_clock_skew: timedelta | None = None,
    policy: Policy | None = None,
    identity: Identity | None = None,
    keyring: str | Path | Keyring | None = None,
    origin: str | None = None,
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

    Reading never writes to the ledger. Without ``create``, a file or schema that
    holds no ledger (an empty file, say) is refused. A ledger this process may
    only read (a read-only file, directory or mount, a PostgreSQL role without
    INSERT, a standby) opens for reading; any write then raises
    :class:`~thread.errors.ReadOnlyLedger` naming the ledger and why.

    Read models (trace, genealogy, recall scope) live in ``read_url`` (or
    ``$THREAD_READ_DB``): a SQLite path or URL, or a PostgreSQL URL. By default
    they live beside a ledger file in ``<name>.reads.db`` (``plant.db`` ->
    ``plant.reads.db``), in a PostgreSQL ledger's own schema, or in the memory
    database of a ``:memory:`` ledger; when that default place cannot be written
    they go to a temporary file for the session, said once in a warning (see
    :attr:`thread.read.models.ReadModels.notice`).

    An event may say it happened at most ``max_clock_skew`` (default five
    minutes) ahead of the ledger's clock; a later ``occurred_at`` is refused, as
    a source clock running fast or a typo, not recorded as the future.

    With a role ``policy`` (:class:`~thread.access.policy.Policy`, a Cedar file) every
    write, signature and read of this ledger is decided for ``identity`` (who is asking:
    id, roles, export-control attributes); a refusal raises
    :class:`~thread.access.policy.AccessRefused` naming the rule and writes nothing.

    With a ``keyring`` (a folder of key files, or ``$THREAD_KEYRING``; see
    :mod:`thread.storage.keyring`) personal names are sealed under each person's key and
    the content of facts on export-controlled subjects under their labels' keys, inside
    the canonical bytes: verification needs no key, and read models never hold them.

    ``origin`` (or ``$THREAD_ORIGIN``) names the log of a ledger being created, as its
    checkpoints say (``<organisation>/<site>``, such as ``acme.example/plant-7``; by
    default ``thread-ledger/<uuid>``); a ledger already named otherwise is refused.
    """
    url = os.fspath(url) if url is not None else None  # a pathlib.Path names a file too
    url = url or os.environ.get(DB_VARIABLE) or DEFAULT_FILE
    env = persistence_env(url)
    env.update(_access(env, url, create=create))
    if not create:
        env["CREATE_TABLE"] = "false"  # not even a missing trigger is put back by a reader
    origin = _origin(origin or os.environ.get(ORIGIN_VARIABLE) or None)
    raw_key = load_key(encryption_key, encryption_key_file)
    cipher = cipher_for(raw_key) if raw_key is not None else None
    try:
        ledger = Ledger(env, cipher=cipher, actor=actor, clock=clock,
                        checkpoint_key=checkpoint_key, checkpoint_every=checkpoint_every,
                        checkpoint_seconds=checkpoint_seconds,
                        max_clock_skew=(DEFAULT_CLOCK_SKEW if max_clock_skew is None
                                        else max_clock_skew),
                        policy=policy, identity=identity,
                        keyring=(keyring if isinstance(keyring, Keyring)
                                 else keyring_from(keyring)),
                        identifier_key=identifier_key(raw_key) if raw_key is not None else None,
                        open_read_side=_read_side(
                            _read_url(read_url or os.environ.get(READ_DB_VARIABLE)),
                            default_read_url(env)))
    except LedgerError:
        raise
    except Exception as error:  # the drivers' errors differ; say what could not be opened
        raise ConfigurationError(f"cannot open ledger at {_redact(url)}: {error}") from error
    try:
        _settle(ledger, raw_key, create=create, origin=origin)
    except BaseException:
        ledger.close()
        raise
    if not env.get("SQLITE_DBNAME", "").startswith("file:"):  # :memory: is one process's
        ledger.reader = Reader(url, None if raw_key is None else
                               base64.b64encode(raw_key).decode("ascii"))
    return ledger


@dataclass(frozen=True)
class Reader:
    """How another process opens the same ledger to read it (verification's second worker)."""

    url: str
    encryption_key: str | None

    def open(self) -> Ledger:
        """The ledger, opened for reading in this process."""
        return open(self.url, encryption_key=self.encryption_key, create=False)


def default_read_url(ledger_env: dict[str, str]) -> str:
    """Where a ledger's read models live unless told otherwise (a SQLAlchemy URL).

    Beside a ledger file, in a file of its own, so that reading never changes the
    ledger's bytes; in a PostgreSQL ledger's own schema (tables named ``read_*``,
    which the ledger's tables and verification never touch); in the same memory
    database as a ``:memory:`` ledger.
    """
    from thread.read.urls import read_url, sqlalchemy_url

    path = ledger_env.get(PATH_SETTING)
    if path is None:
        return sqlalchemy_url(ledger_env)
    return read_url(str(read_models_file(path)))


def read_models_file(ledger_file: str | Path) -> Path:
    """The file beside a ledger file that holds its read models: plant.db -> plant.reads.db."""
    return Path(ledger_file).with_suffix(".reads.db")


def _access(env: dict[str, str], url: str, *, create: bool) -> dict[str, str]:
    """Settings that say how this process may use the ledger: its name in messages, whether
    it may write (and why not), and for a read-only file how to read it without writing."""
    if env["PERSISTENCE_MODULE"].startswith("thread.storage.postgres"):
        from thread.storage.postgres import check_server

        name = _redact(url)
        reason = check_server({**env, NAME_SETTING: name}, create=create)
        settings = {NAME_SETTING: name}
        if reason is not None:
            settings.update({READ_ONLY_SETTING: reason, "CREATE_TABLE": "false"})
        return settings
    from thread.storage.sqlite import check_ledger_file, read_only_database, read_only_reason

    database = env["SQLITE_DBNAME"]
    if database.startswith("file:"):  # a :memory: ledger
        return {NAME_SETTING: ":memory:"}
    path = Path(database)
    name = str(path.resolve())
    settings = {NAME_SETTING: name, PATH_SETTING: database}
    exists = path.exists()
    if not exists and not create:
        raise NotALedger(f"there is no ledger at {database}")
    reason = read_only_reason(database)
    if reason is not None and not exists:
        raise ConfigurationError(f"cannot create ledger {name}: {reason}")
    if reason is not None:
        settings.update({"SQLITE_DBNAME": read_only_database(database),
                         READ_ONLY_SETTING: reason, "CREATE_TABLE": "false"})
    if exists and (not create or reason is not None):
        check_ledger_file(database, settings.get("SQLITE_DBNAME", database))
    return settings


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


def _origin(origin: str | None) -> str | None:
    """A log name as given, checked: one line a checkpoint and a key name can carry."""
    if origin is not None and (not origin or "+" in origin
                               or any(c.isspace() or not c.isprintable() for c in origin)):
        raise ConfigurationError(
            f"origin {origin!r}: expected a log name such as acme.example/plant-7, without "
            f"spaces, '+' or control characters")
    return origin


def _settle(ledger: Ledger, raw_key: bytes | None, *, create: bool,
            origin: str | None = None) -> None:
    """Fix a new ledger's settings and origin when it is created; check the key given and
    the origin asked for."""
    store = ledger.store
    empty = store.count_events() == 0
    wanted = key_check(raw_key) if raw_key is not None else "none"
    stored = store.get_meta("encryption")
    if empty and create and store.read_only is None:
        # Created now (or created empty by an earlier version): settled once, here, so
        # byte-identical copies of the ledger agree on them and reading never writes.
        if stored is None:
            stored = store.put_meta("encryption", wanted)
            if raw_key is not None:
                store.put_meta("identifiers", "hmac")
        if store.get_meta("origin") is None:
            store.put_meta("origin", origin or new_origin())
    named = store.get_meta("origin") or (None if empty else ledger.origin)
    if origin is not None and named is not None and named != origin:
        raise ConfigurationError(f"this ledger's log is named {named}; it cannot be named "
                                 f"{origin} (an origin is fixed when the ledger is created)")
    if stored is None:
        # A ledger with events but no setting was written unencrypted by an earlier version.
        stored = "none" if not empty else wanted
    if stored == wanted:
        if raw_key is not None and store.get_meta("identifiers") != "hmac":
            ledger.mapper.plain_identifiers()  # written before identifiers were keyed
        return
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


def _read_side(url: str | None, default: str) -> Callable[[Ledger], Queries]:
    """How the ledger opens its read side on first use: read models over its stored log,
    where ``url`` says, else in the ``default`` place or, if that cannot be written, a
    temporary one."""

    def open_read_side(ledger: Ledger) -> Queries:
        from thread.read.location import open_read_models
        from thread.read.queries import Queries
        from thread.storage.reading import StoredLog

        log = StoredLog(ledger.store, ledger.mapper)
        # The ledger lends the read side its tree head and proofs, nothing more.
        queries = Queries(open_read_models(log, url, tree=ledger, default=default,
                                           ledger=ledger.store.name))
        if ledger.mapper.cipher is not None:
            models = queries.models
            models.notice = (
                f"{ledger.store.name}'s events are encrypted at rest, but its read models "
                f"in {models.location} are not: serials, part numbers and values are "
                f"readable there. Keep them on encrypted storage, or seal names and "
                f"controlled content with a keyring (THREAD_KEYRING)"
                + ("" if ledger.keyring is None else "; names and labelled content are sealed"))
            _log.warning("%s", models.notice)
        return queries

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
