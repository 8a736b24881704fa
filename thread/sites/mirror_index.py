"""What lets the hub prove a site's entries without reading the site's whole log.

The hub keeps, beside each site's mirrored entries, what the ledger keeps beside
its own log: every perfect subtree of the site's tree from level 4 up
(:mod:`thread.storage.log`), written as entries arrive, and the site's subject map
at each size it cosigns, advanced from the map at the size before by the heads the
new entries moved (:func:`~thread.log.subject_map.advance`, rows as
:mod:`thread.storage.map_store` keeps them). An inclusion or consistency proof then
reads about 2 log2 n rows, and a part's map proof a bucket and the subtrees above it,
however long the site's log. Nothing here is trusted: a proof served from these rows
is checked against the root the site signed before a dossier carries it, and
``thread verify --policy`` derives the subtrees again from the entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    union_all,
)

from thread.log.merkle import CompactRange, Subtree
from thread.log.subject_map import (
    BUCKET_DEPTH,
    EMPTY_SUB,
    STRIDE,
    Head,
    MapProof,
    Sub,
    advance,
    index_at,
    subject_key,
)
from thread.sites.mirror_tables import (
    SITE_ENTRIES,
    SITE_MAP_HEADS,
    SITE_MAP_NODES,
    SITE_MAPS,
    SITE_NODES,
)
from thread.storage.log import NODE_FLOOR, TreeLog, from_leaves, node_rows, stored_as_node
from thread.storage.map_store import MapCache, stored_proof

#: Keys or ranges asked for in one statement.
_CHUNK = 200
#: Entries read at a time when subtrees or heads are derived from many entries.
_PAGE = 20_000


_NODE = SITE_MAP_NODES.c
_LATEST_NODE = (select(_NODE.hash, _NODE.subjects)
                .where(_NODE.origin == bindparam("origin"), _NODE.depth == bindparam("depth"),
                       _NODE.idx == bindparam("idx"), _NODE.size <= bindparam("size"))
                .order_by(_NODE.size.desc()).limit(1))


class SiteRows:
    """One site's stored subtrees and subject map in the hub's database, read on ``conn``."""

    def __init__(self, conn: Connection, origin: str) -> None:
        self._conn = conn
        self._origin = origin

    # The tree

    def select_subtrees(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Hashes of the subtrees ``(level, index)``: stored from level 4 up, hashed from the
        entries' leaves below (missing ones left out)."""
        nodes = SITE_NODES.c
        found: dict[tuple[int, int], bytes] = {
            (int(level), int(idx)): bytes(digest) for level, idx, digest in _by_level(
                self._conn, lambda level, indexes: select(nodes.level, nodes.idx, nodes.hash)
                .where(nodes.origin == self._origin, nodes.level == level,
                       nodes.idx.in_(indexes)),
                [key for key in keys if stored_as_node(key[0])], ())}
        below = [(level, index) for level, index in keys if not stored_as_node(level)]
        positions = sorted({position for level, index in below
                            for position in range(index << level, (index + 1) << level)})
        leaves: dict[int, bytes] = {}
        entries = SITE_ENTRIES.c
        for start in range(0, len(positions), _CHUNK):
            leaves.update((int(idx), bytes(leaf)) for idx, leaf in self._conn.execute(
                select(entries.idx, entries.leaf).where(
                    entries.origin == self._origin,
                    entries.idx.in_(positions[start:start + _CHUNK]))))
        for level, index in below:
            run = [leaves.get(position) for position in range(index << level, (index + 1) << level)]
            if all(leaf is not None for leaf in run):
                found[(level, index)] = from_leaves(level, index, run)  # type: ignore[arg-type]
        return found

    # The subject map (thread.storage.map_store.MapRows)

    def mapped_at_or_before(self, size: int) -> int | None:
        """The largest size at or below ``size`` at which the map is stored."""
        found = self._conn.execute(select(func.max(SITE_MAPS.c.size)).where(
            SITE_MAPS.c.origin == self._origin, SITE_MAPS.c.size <= size)).scalar()
        return None if found is None else int(found)

    def select_map_bucket(self, index: int, size: int) -> list[Head]:
        return self.select_map_buckets([index], size).get(index, [])

    def select_map_buckets(self, indexes: Sequence[int], size: int) -> dict[int, list[Head]]:
        heads = SITE_MAP_HEADS.c
        found: dict[int, dict[bytes, Head]] = {}
        for start in range(0, len(indexes), _CHUNK):
            for bucket, key, version, head in self._conn.execute(
                    select(heads.bucket, heads.key, heads.version, heads.head)
                    .where(heads.origin == self._origin,
                           heads.bucket.in_(indexes[start:start + _CHUNK]), heads.size <= size)
                    .order_by(heads.bucket, heads.key, heads.size)):
                key = bytes(key)
                found.setdefault(int(bucket), {})[key] = Head(key, int(version), bytes(head))
        return {index: sorted(heads.values()) for index, heads in found.items()}

    def select_map_nodes(self, keys: Sequence[tuple[int, int]], size: int
                         ) -> dict[tuple[int, int], Sub]:
        # The subtrees at the buckets' depth change seldom: each one's rows are read and the
        # last at or before ``size`` kept. Those above change at nearly every checkpoint:
        # each one's latest row is asked for alone.
        nodes = SITE_MAP_NODES.c
        found: dict[tuple[int, int], Sub] = {}
        deep = [key for key in keys if key[0] == BUCKET_DEPTH]
        for depth, index, digest, subjects, _ in _by_level(
                self._conn, lambda depth, indexes: select(
                    nodes.depth, nodes.idx, nodes.hash, nodes.subjects, nodes.size)
                .where(nodes.origin == self._origin, nodes.depth == depth,
                       nodes.idx.in_(indexes), nodes.size <= size),
                deep, ("depth", "idx", "size")):
            found[(int(depth), int(index))] = Sub(bytes(digest), int(subjects))
        for depth, index in keys:
            if depth != BUCKET_DEPTH:
                row = self._conn.execute(_LATEST_NODE, {"origin": self._origin, "depth": depth,
                                                        "idx": index, "size": size}).first()
                if row is not None:
                    found[(depth, index)] = Sub(bytes(row[0]), int(row[1]))
        return {key: sub for key, sub in found.items() if sub.subjects}

    def select_map_groups(self, depth: int, groups: Sequence[int], size: int
                          ) -> dict[int, Sub]:
        wanted = [(group << STRIDE) + offset for group in groups
                  for offset in range(1 << STRIDE)]
        return {index: sub for (_, index), sub in
                self.select_map_nodes([(depth, index) for index in wanted], size).items()}

    def changed_heads(self, start: int, end: int) -> list[Head]:
        """Each subject's latest head among the entries from ``start`` to ``end``."""
        entries = SITE_ENTRIES.c
        latest: dict[bytes, tuple[int, bytes]] = {}
        for low in range(start, end, _PAGE):
            for subject, version, leaf in self._conn.execute(
                    select(entries.subject, entries.version, entries.leaf)
                    .where(entries.origin == self._origin, entries.idx >= low,
                           entries.idx < min(end, low + _PAGE), entries.subject != b"")
                    .order_by(entries.idx)):
                latest[bytes(subject)] = (int(version), bytes(leaf))
        return [Head(subject_key(subject), version, leaf)
                for subject, (version, leaf) in latest.items()]


def _by_level(conn: Connection, rows_at: Callable[[int, list[int]], Select[Any]],
              keys: Sequence[tuple[int, int]], order: Sequence[str]) -> Iterator[Any]:
    """The rows at the (level, index) ``keys``, ``rows_at`` giving the query of one level's
    indexes: one statement for several levels (a UNION ALL, so that each part is found by
    the primary key: SQLite scans the site's rows for an OR or a row-value IN)."""
    by_level: dict[int, list[int]] = {}
    for key_level, key_index in keys:
        by_level.setdefault(key_level, []).append(key_index)
    parts = [rows_at(key_level, indexes[start:start + _CHUNK])
             for key_level, indexes in sorted(by_level.items())
             for start in range(0, len(indexes), _CHUNK)]
    for start in range(0, len(parts), 8):
        yield from conn.execute(union_all(*parts[start:start + 8]).order_by(*order))


def insert_rows(conn: Connection, table: Table, rows: Sequence[tuple[object, ...]]) -> None:
    """Store ``rows`` (values in the table's column order) in the transaction of ``conn``:
    with COPY on PostgreSQL, else one executemany INSERT straight to the driver (several
    times faster than either database's INSERT through SQLAlchemy, per row)."""
    if not rows:
        return
    columns = ", ".join(column.name for column in table.columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    markers = ", ".join("?" for _ in table.columns)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) VALUES ({markers})",  # noqa: S608 - our table's own names
                         list(rows))


def store_subtrees(conn: Connection, origin: str, completed: Iterable[Subtree]) -> None:
    """Store the perfect subtrees (from level 4 up) that entries just added complete."""
    insert_rows(conn, SITE_NODES, [(origin, level, index, digest)
                                   for level, index, digest in node_rows(list(completed))])


def drop_subtrees_after(conn: Connection, origin: str, size: int) -> None:
    """Forget the stored subtrees that reach past the first ``size`` entries (entries that
    were dropped)."""
    nodes = SITE_NODES.c
    conn.execute(delete(SITE_NODES).where(nodes.origin == origin, or_(*(
        and_(nodes.level == level, nodes.idx >= size >> level)
        for level in range(NODE_FLOOR, 64)))))


def backfill_subtrees(conn: Connection, origin: str, size: int) -> None:
    """Store the subtrees of a site's first ``size`` entries, for a hub database written
    before the hub kept them (read once, a page at a time)."""
    tree = CompactRange()
    entries = SITE_ENTRIES.c
    for low in range(0, size, _PAGE):
        leaves = [bytes(leaf) for leaf, in conn.execute(
            select(entries.leaf).where(entries.origin == origin, entries.idx >= low,
                                       entries.idx < min(size, low + _PAGE))
            .order_by(entries.idx))]
        if len(leaves) != min(size, low + _PAGE) - low:
            return  # entries missing: the mirror check names it; proofs will fail to verify
        store_subtrees(conn, origin, tree.extend(leaves, from_level=NODE_FLOOR))


def has_subtrees(conn: Connection, origin: str) -> bool:
    """Whether any subtree of the site is stored."""
    return conn.execute(select(SITE_NODES.c.idx).where(SITE_NODES.c.origin == origin)
                        .limit(1)).first() is not None


def advance_map(conn: Connection, origin: str, size: int, cache: MapCache,
                moved: TreeLog | None = None) -> Sub:
    """Derive and store the site's subject map at ``size`` (its first ``size`` entries, all
    held): from the map at the latest size stored below it and the heads the entries in
    between moved, or from the empty map and every entry when none is stored (a hub
    database written before the hub kept maps). ``cache`` holds what is known of the map
    between calls (as a ledger's writer keeps it): the caller tells it the new size once
    the transaction commits, or forgets it. ``moved`` has the heads the entries since the
    map's size moved, if the caller kept them as it stored the entries (else they are read).
    Returns its root."""
    rows = SiteRows(conn, origin)
    base = rows.mapped_at_or_before(size) or 0
    view = cache.view(rows, base)
    if base == size:
        return view.nodes(0, [0]).get(0, EMPTY_SUB)
    kept = None if moved is None else moved.moved(base, size)
    changes = rows.changed_heads(base, size) if kept is None else [
        Head(subject_key(subject), version, leaf) for subject, (version, leaf) in kept.items()]
    update = advance(view, changes)
    insert_rows(conn, SITE_MAP_HEADS, [
        (origin, index_at(head.key, BUCKET_DEPTH), head.key, size, head.version, head.head)
        for head in update.heads])
    insert_rows(conn, SITE_MAP_NODES, [
        (origin, depth, index, size, sub.hash, sub.subjects)
        for (depth, index), sub in update.nodes.items()])
    insert_rows(conn, SITE_MAPS, [(origin, size)])
    return update.root


def stored_map_proof(conn: Connection, origin: str, size: int, aggregate_id: bytes
                     ) -> tuple[Sub, MapProof] | None:
    """The site's map root at ``size`` and the proof of a subject in it, from the stored map
    (None if the hub did not store the map at exactly that size)."""
    rows = SiteRows(conn, origin)
    if rows.mapped_at_or_before(size) != size:
        return None
    root = rows.select_map_nodes([(0, 0)], size).get((0, 0), EMPTY_SUB)
    return root, stored_proof(rows, size, aggregate_id)

