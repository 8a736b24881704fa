"""The hub's tables: each site log it mirrors, the entries, the refusals on record, and
what lets it serve a proof without reading a site's whole log (:mod:`thread.sites.mirror_index`):
every perfect subtree of a site's tree from level 4 up, and the site's subject map at each
size the hub cosigned, stored the way the ledger stores its own (:mod:`thread.storage.log`,
:mod:`thread.storage.map_store`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()
SITE_LOGS = Table(
    "hub_site_logs", metadata,
    Column("origin", String(255), primary_key=True),
    Column("mirror_size", BigInteger, nullable=False),
    Column("mirror_note", Text, nullable=True),
    Column("mirror_range", LargeBinary, nullable=False),
    Column("pending_note", Text, nullable=True),
    Column("next_range", LargeBinary, nullable=False),
)
SITE_ENTRIES = Table(
    "hub_site_entries", metadata,
    Column("origin", String(255), primary_key=True),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("canonical", LargeBinary, nullable=False),
    # What the hub's queries find entries by (empty for bytes that are not an event).
    Column("subject", LargeBinary, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("topic", String(128), nullable=False),
    Index("hub_site_entries_subject", "origin", "subject", "version"),
)
SITE_REFUSALS = Table(
    "hub_site_refusals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("origin", String(255), nullable=False),
    Column("at", String(40), nullable=False),
    Column("what", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("note", Text, nullable=True),
)
SITE_NODES = Table(
    "hub_site_nodes", metadata,
    Column("origin", String(255), primary_key=True),
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)
#: The sizes of a site's log at which the hub derived its subject map.
SITE_MAPS = Table(
    "hub_site_maps", metadata,
    Column("origin", String(255), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
)
#: The heads that changed at each mapped size (the map at a size: each key's latest row).
SITE_MAP_HEADS = Table(
    "hub_site_map_heads", metadata,
    Column("origin", String(255), primary_key=True),
    # The key's first 20 bits (its bucket in the map): a bucket's heads are read together.
    Column("bucket", Integer, primary_key=True, autoincrement=False),
    Column("key", LargeBinary, primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    Column("head", LargeBinary, nullable=False),
)
#: The stored subtrees that changed at each mapped size.
SITE_MAP_NODES = Table(
    "hub_site_map_nodes", metadata,
    Column("origin", String(255), primary_key=True),
    Column("depth", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
    Column("subjects", BigInteger, nullable=False),
)
