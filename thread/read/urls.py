"""Where read models live: SQLAlchemy URLs from ledger settings or from what a user types."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit


def sqlalchemy_url(ledger_env: dict[str, str]) -> str:
    """The SQLAlchemy URL of the database a ledger's persistence settings name."""
    if ledger_env["PERSISTENCE_MODULE"].startswith("thread.storage.postgres"):
        user = quote(ledger_env["POSTGRES_USER"])
        password = ledger_env.get("POSTGRES_PASSWORD")
        auth = f"{user}:{quote(password)}" if password else user
        url = (f"postgresql+psycopg://{auth}@{ledger_env['POSTGRES_HOST']}:"
               f"{ledger_env['POSTGRES_PORT']}/{quote(ledger_env['POSTGRES_DBNAME'])}")
        schema = ledger_env.get("POSTGRES_SCHEMA", "public")
        return url if schema == "public" else f"{url}?schema={quote(schema)}"
    database = ledger_env["SQLITE_DBNAME"]
    if database.startswith("file:"):
        return f"sqlite+pysqlite:///{database}&uri=true"
    return f"sqlite+pysqlite:///{database}"


def read_url(url: str) -> str:
    """A read-model URL as a user writes it (a path or a ledger-style URL) in SQLAlchemy form."""
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "+" in parts.scheme:
        return url
    if parts.scheme == "sqlite":
        return "sqlite+pysqlite:///" + unquote(url[len("sqlite:///"):])
    return f"sqlite+pysqlite:///{url}"


def shown(url: str) -> str:
    """A read-model URL as a message shows it: a file's path, a URL without its password."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return url.split(":///", 1)[1] if ":///" in url else url
    if parts.password:
        url = url.replace(f":{parts.password}@", ":***@")
    return url.replace("postgresql+psycopg://", "postgresql://")
