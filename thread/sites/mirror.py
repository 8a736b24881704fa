"""The hub's mirror of each site's log: every entry exactly once, with its original bytes,
accepted only as an extension of what it already holds, and cosigned.

It follows c2sp.org/tlog-mirror's update in three stages, whatever carries the
messages:

1. ``add_checkpoint``: a site checkpoint signed by the site's key, with a consistency
   proof from the mirror's size, becomes the *pending checkpoint*. One that contradicts
   what the hub holds is a fork (a site showing two histories, such as one restored from
   an older backup that wrote on): refused, recorded, and raised as an alert. A site
   that is merely behind the hub (restored, not yet written to) is the forwarder's to
   notice: it refuses to forward (:class:`~thread.sites.forward.SiteBehindHub`).
2. ``add_entries``: entries from the mirror's *next entry* on are stored as pending; an
   entry already held must have the same bytes (else a fork); a gap is not filled, the
   caller resumes from ``next``. The hub checks contiguity by index itself: the broker's
   de-duplication is never relied on.
3. When the pending entries reach the pending checkpoint and their Merkle root is its
   root, the mirror checkpoint moves there and the hub cosigns it with a
   cosignature/v1 line meaning "I hold every entry of this log up to N". Entries that do
   not make the signed root are dropped and the refusal recorded.

Each stage is one database transaction, so a hub killed at any point resumes from what
it committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from thread.domain.envelope import heading
from thread.errors import IntegrityFailure, LedgerError
from thread.log.checkpoint import Checkpoint, CheckpointError, open_note, verify_checkpoint
from thread.log.cosignature import cosign
from thread.log.merkle import (
    CompactRange,
    MemoryTree,
    ProofError,
    Subtree,
    SubtreeHash,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_root,
)
from thread.log.subject_map import Head, MapProof, Sub, subject_key
from thread.log.verify import verify_consistency, verify_inclusion
from thread.read.models import engine_for
from thread.read.urls import read_url
from thread.sites.mirror_index import (
    SiteRows,
    advance_map,
    backfill_subtrees,
    drop_subtrees_after,
    has_subtrees,
    insert_rows,
    store_subtrees,
    stored_map_proof,
)
from thread.sites.mirror_tables import (
    SITE_ENTRIES,
    SITE_LOGS,
    SITE_NODES,
    SITE_REFUSALS,
    metadata,
)
from thread.storage.log import NODE_FLOOR, T, TreeLog, with_subtrees
from thread.storage.map_store import MapCache

if TYPE_CHECKING:
    from thread.ledger import Ledger

_log = logging.getLogger(__name__)

__all__ = ["SITE_ENTRIES", "Mirror", "Refusal", "SiteRefused", "SiteState"]


class SiteRefused(LedgerError):  # noqa: N818 - the words an operator reads
    """The hub refused a site's checkpoint or entries (recorded, and raised as an alert)."""

    def __init__(self, message: str, *, what: str) -> None:
        self.what = what
        super().__init__(message)


@dataclass(frozen=True)
class SiteState:
    """Where the hub is with one site: the size it mirrors and cosigned, the next entry it
    needs, and the size of the pending checkpoint (0: none)."""

    origin: str
    mirror_size: int
    next: int
    pending_size: int
    mirror_note: str | None


@dataclass(frozen=True)
class Refusal:
    """A refusal on record."""

    origin: str
    at: str
    what: str
    detail: str


class Mirror:
    """The hub's mirrors of the configured sites, in the hub's database."""

    def __init__(self, url: str, *, cosigner_key: str, sites: dict[str, str],
                 clock: Callable[[], float] = time.time,
                 alert: Callable[[Refusal], None] | None = None,
                 witnesses: Sequence[str] = (), create: bool = True) -> None:
        self.engine = engine_for(read_url(url))
        #: Whether the database holds a hub's tables; a reader (``create=False``) of a
        #: database that is no hub's sees no site and writes nothing.
        self.held = create or inspect(self.engine).has_table(SITE_LOGS.name)
        #: Whether it keeps the sites' subtrees and maps (a hub database an earlier version
        #: wrote has none until the hub opens it to mirror again; read, it is proved from
        #: the entries alone, as that version did).
        self.indexed = create or (self.held and inspect(self.engine).has_table(SITE_NODES.name))
        if create:
            try:
                metadata.create_all(self.engine)
            except (OperationalError, ProgrammingError, IntegrityError):
                metadata.create_all(self.engine)  # another process made them meanwhile
            self._backfill()
        self._cosigner = cosigner_key
        self._sites = dict(sites)  # origin -> the site's checkpoint verifier key
        self._clock = clock
        self._alert = alert
        #: Witnesses (tlog-witness submission prefixes) asked to cosign each mirrored
        #: checkpoint, their lines added to the hub's mirror note.
        self.witnesses = tuple(witnesses)
        self._witnessed: dict[tuple[str, str], int] = {}
        #: What is known of each site's subject map between checkpoints, the heads its
        #: entries moved since (as they were stored), and the maps the stage in progress
        #: advanced (known from the commit on).
        self._maps: dict[str, MapCache] = {}
        self._moved: dict[str, TreeLog] = {}
        self._advancing: list[tuple[str, MapCache, int]] = []

    @classmethod
    def beside(cls, ledger: Ledger, *, cosigner_key: str = "",
               sites: dict[str, str] | None = None, witnesses: Sequence[str] = ()) -> Mirror:
        """The mirror in ``ledger``'s own database (a hub's), for cosigning with
        ``cosigner_key`` the ``sites`` given, or for reading with none."""
        from thread.read.urls import sqlalchemy_url

        url = ledger.env.get("SQLITE_DBNAME") or sqlalchemy_url(ledger.env)
        return cls(url, cosigner_key=cosigner_key, sites=sites or {}, witnesses=witnesses,
                   create=bool(cosigner_key))

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def on_refusal(self, alert: Callable[[Refusal], None]) -> None:
        """Call ``alert`` with each refusal once it is on record."""
        self._alert = alert

    # The three stages

    def add_checkpoint(self, note: str, proof: Sequence[bytes] = (),
                       proof_from: int | None = None) -> SiteState:
        """Make a site's signed checkpoint pending (see the module). ``proof`` is the
        consistency proof from ``proof_from`` entries (the mirror's size as the sender
        knew it; by default the mirror's size now). A checkpoint the hub already holds, or
        a proof from a size the mirror has since left (a message sent again late), changes
        nothing; one that contradicts what the hub holds is a fork: refused, recorded,
        alerted."""
        checkpoint = self._verified(note)
        before = self.state(checkpoint.origin).mirror_size if self.witnesses else 0
        state = self._add_checkpoint(checkpoint, note, proof, proof_from)
        if self.witnesses and state.mirror_size > before:
            return self._witness(state)
        return state

    def _add_checkpoint(self, checkpoint: Checkpoint, note: str, proof: Sequence[bytes],
                        proof_from: int | None) -> SiteState:
        origin = checkpoint.origin
        with self._stage() as conn:
            row = self._row(conn, origin)
            mirror = CompactRange.from_bytes(row.mirror_range)
            if checkpoint.size <= mirror.size:
                held = self._root_at(conn, origin, checkpoint.size)
                if held != checkpoint.root:
                    self._refuse(conn, origin, "fork", note,
                                 f"its checkpoint of {checkpoint.size} entries has root "
                                 f"{checkpoint.root.hex()[:16]}, but the {checkpoint.size} "
                                 f"entries the hub holds have root {held.hex()[:16]}: the "
                                 f"site shows another history (restored from an older "
                                 f"backup and written on?)")
                return self._state(conn, origin)  # held already
            if mirror.size and (proof_from is None or proof_from == mirror.size):
                try:
                    verify_consistency(mirror.size, checkpoint.size, mirror.root(),
                                       checkpoint.root, list(proof))
                except ProofError as error:
                    self._refuse(conn, origin, "fork", note,
                                 f"its checkpoint of {checkpoint.size} entries does not extend "
                                 f"the {mirror.size} the hub mirrors: {error}")
            elif mirror.size:
                return self._state(conn, origin)  # a proof from an older size: sent late
            pending = self._pending(row)
            if pending is None or checkpoint.size > pending.size:
                conn.execute(update(SITE_LOGS).where(SITE_LOGS.c.origin == origin)
                             .values(pending_note=note))
            self._commit_if_complete(conn, origin)
            return self._state(conn, origin)

    def add_entries(self, origin: str, start: int, entries: Sequence[bytes]) -> SiteState:
        """Store entries ``start`` onwards up to the pending checkpoint (see the module)."""
        before = self.state(origin).mirror_size if self.witnesses else 0
        state = self._add_entries(origin, start, entries)
        if self.witnesses and state.mirror_size > before:
            return self._witness(state)
        return state

    def _add_entries(self, origin: str, start: int, entries: Sequence[bytes]) -> SiteState:
        if origin not in self._sites:
            raise SiteRefused(f"{origin!r} is not a site this hub mirrors", what="unknown")
        with self._stage() as conn:
            row = self._row(conn, origin)
            pending = self._pending(row)
            following = CompactRange.from_bytes(row.next_range)
            if start > following.size:
                return self._state(conn, origin)  # a gap: the sender resumes from next
            held = {int(idx): bytes(leaf) for idx, leaf in conn.execute(
                select(SITE_ENTRIES.c.idx, SITE_ENTRIES.c.leaf)
                .where(SITE_ENTRIES.c.origin == origin, SITE_ENTRIES.c.idx >= start,
                       SITE_ENTRIES.c.idx < min(following.size, start + len(entries))))}
            rows: list[tuple[object, ...]] = []
            heads: list[tuple[bytes, int]] = []  # each entry's subject and version
            leaves: list[bytes] = []
            completed: list[Subtree] = []
            for idx, canonical in enumerate(entries, start=start):
                leaf = leaf_hash(canonical)
                if idx < following.size:
                    if held.get(idx) != leaf:
                        self._refuse(conn, origin, "fork", None,
                                     f"entry {idx} arrived with bytes other than the entry "
                                     f"{idx} the hub holds: the site shows another history")
                    continue
                if pending is None or idx >= pending.size:
                    break  # nothing signed covers it yet
                completed += following.append(leaf)
                subject, version, topic = heading(canonical) or (b"", 0, "")
                rows.append((origin, idx, leaf, canonical, subject, version, topic))
                heads.append((subject, version))
                leaves.append(leaf)
            if rows:
                insert_rows(conn, SITE_ENTRIES, rows)
                store_subtrees(conn, origin, completed)
                moved = self._moved.setdefault(origin, TreeLog())
                if all(subject for subject, _ in heads):  # every entry an event
                    moved.appended(following.size - len(leaves), heads, leaves)
                else:
                    moved.forget()
                conn.execute(update(SITE_LOGS).where(SITE_LOGS.c.origin == origin)
                             .values(next_range=following.to_bytes()))
            self._commit_if_complete(conn, origin)
            return self._state(conn, origin)

    def _commit_if_complete(self, conn: Connection, origin: str) -> None:
        """Stage 3: the pending entries reached the pending checkpoint; cosign it if their
        root is its root, else drop them and record why."""
        row = self._row(conn, origin)
        pending = self._pending(row)
        following = CompactRange.from_bytes(row.next_range)
        if pending is None or following.size < pending.size:
            return
        if following.root() != pending.root:
            mirror_size = CompactRange.from_bytes(row.mirror_range).size
            conn.execute(delete(SITE_ENTRIES).where(SITE_ENTRIES.c.origin == origin,
                                                    SITE_ENTRIES.c.idx >= mirror_size))
            drop_subtrees_after(conn, origin, mirror_size)
            self._moved.pop(origin, None)
            conn.execute(update(SITE_LOGS).where(SITE_LOGS.c.origin == origin)
                         .values(next_range=row.mirror_range, pending_note=None))
            self._record(conn, origin, "forged entries", row.pending_note,
                         f"the entries {mirror_size} to {pending.size - 1} do not make the "
                         f"root {pending.root.hex()[:16]} the site signed; they were dropped")
            return
        note = row.pending_note
        assert note is not None  # a pending checkpoint was read from it
        body = note[:note.rfind("\n\n") + 1]
        cosigned = note + cosign(body, self._cosigner, int(self._clock()))
        conn.execute(update(SITE_LOGS).where(SITE_LOGS.c.origin == origin).values(
            mirror_size=pending.size, mirror_note=cosigned, mirror_range=row.next_range,
            pending_note=None))
        cache = self._maps.setdefault(origin, MapCache())
        advance_map(conn, origin, pending.size, cache, self._moved.get(origin))
        self._advancing.append((origin, cache, pending.size))

    def _witness(self, state: SiteState) -> SiteState:
        """Ask each witness to cosign the checkpoint just mirrored and add its lines to the
        mirror note; a witness that is down or refuses is logged, and asked again next
        time (from the size it says it holds)."""
        from thread.sites.witness import WitnessError, cosignature_of

        note = state.mirror_note
        assert note is not None
        lines = ""
        for url in self.witnesses:
            old = self._witnessed.get((state.origin, url), 0)
            try:
                cosigned, size = cosignature_of(url, note, old,
                                                lambda held: self._proof(state, held))
            except (OSError, WitnessError) as error:
                _log.warning("witness %s did not cosign %s at %d: %s", url, state.origin,
                             state.mirror_size, error)
                continue
            self._witnessed[(state.origin, url)] = size
            lines += cosigned
        if not lines:
            return state
        with self.engine.begin() as conn:
            conn.execute(update(SITE_LOGS).where(SITE_LOGS.c.origin == state.origin,
                                                 SITE_LOGS.c.mirror_note == note)
                         .values(mirror_note=note + lines))
            return self._state(conn, state.origin)

    def _proof(self, state: SiteState, held: int) -> list[bytes]:
        """The consistency proof from ``held`` entries to the mirror, from the entries the
        hub holds (none from 0 or to the same size)."""
        if held in (0, state.mirror_size):
            return []
        return self.from_subtrees(state.origin, lambda subtree: consistency_proof(
            held, state.mirror_size, subtree))

    # Reading

    def state(self, origin: str) -> SiteState:
        """Where the hub is with ``origin``."""
        if not self.held:
            return SiteState(origin, 0, 0, 0, None)
        with self.engine.connect() as conn:
            return self._state(conn, origin, create=False)

    def entries(self, origin: str, start: int = 0, stop: int | None = None) -> list[bytes]:
        """The mirrored entries of ``origin`` from ``start`` (committed and pending)."""
        query = (select(SITE_ENTRIES.c.canonical)
                 .where(SITE_ENTRIES.c.origin == origin, SITE_ENTRIES.c.idx >= start)
                 .order_by(SITE_ENTRIES.c.idx))
        if stop is not None:
            query = query.where(SITE_ENTRIES.c.idx < stop)
        with self.engine.connect() as conn:
            return [bytes(value) for value, in conn.execute(query)]

    def refusals(self, origin: str | None = None) -> list[Refusal]:
        """The refusals on record, oldest first."""
        if not self.held:
            return []
        query = select(SITE_REFUSALS).order_by(SITE_REFUSALS.c.id)
        if origin is not None:
            query = query.where(SITE_REFUSALS.c.origin == origin)
        with self.engine.connect() as conn:
            return [Refusal(r.origin, r.at, r.what, r.detail) for r in conn.execute(query)]

    def refusals_after(self, after: int) -> list[tuple[int, Refusal, str | None]]:
        """The refusals on record after number ``after``, oldest first, each with its
        number and the checkpoint note it concerned (None: entries, not a checkpoint)."""
        query = (select(SITE_REFUSALS).where(SITE_REFUSALS.c.id > after)
                 .order_by(SITE_REFUSALS.c.id))
        with self.engine.connect() as conn:
            return [(int(r.id), Refusal(r.origin, r.at, r.what, r.detail), r.note)
                    for r in conn.execute(query)]

    def known(self) -> list[str]:
        """Every site log the hub's database holds, by origin."""
        if not self.held:
            return []
        with self.engine.connect() as conn:
            return [str(origin) for origin, in conn.execute(
                select(SITE_LOGS.c.origin).order_by(SITE_LOGS.c.origin))]

    def subject_entries(self, origin: str, subject: bytes, size: int
                        ) -> list[tuple[int, bytes]]:
        """The mirrored entries of ``origin`` below ``size`` that are events of
        ``subject`` (an aggregate id), with their indexes, in version order."""
        # By the subject's index alone: with a bound on idx in the query too, SQLite reads
        # the site's entries up to the bound by the primary key instead.
        with self.engine.connect() as conn:
            return [(int(idx), bytes(canonical)) for idx, canonical in conn.execute(
                select(SITE_ENTRIES.c.idx, SITE_ENTRIES.c.canonical)
                .where(SITE_ENTRIES.c.origin == origin, SITE_ENTRIES.c.subject == subject)
                .order_by(SITE_ENTRIES.c.version)) if idx < size]

    def heads(self, origin: str, size: int) -> list[Head]:
        """Every subject's head in the first ``size`` mirrored entries of ``origin`` (its
        latest version there and that entry's leaf hash), keyed as the subject map is."""
        latest: dict[bytes, tuple[int, bytes]] = {}
        with self.engine.connect() as conn:
            for subject, version, leaf in conn.execute(
                    select(SITE_ENTRIES.c.subject, SITE_ENTRIES.c.version, SITE_ENTRIES.c.leaf)
                    .where(SITE_ENTRIES.c.origin == origin, SITE_ENTRIES.c.idx < size)
                    .order_by(SITE_ENTRIES.c.idx)):
                latest[bytes(subject)] = (int(version), bytes(leaf))
        return [Head(subject_key(subject), version, leaf)
                for subject, (version, leaf) in latest.items()]

    def inclusion_proofs(self, origin: str, entries: Sequence[tuple[int, bytes]], size: int,
                         root: bytes) -> list[list[bytes]]:
        """The audit paths of ``entries`` (index, bytes) of ``origin`` in its tree of
        ``size``, each checked against ``root`` (the site's signed one) before it is
        given: read from the stored subtrees, a few dozen rows whatever the log's size."""
        try:
            paths = self.from_subtrees(origin, lambda subtree: [
                inclusion_proof(index, size, subtree) for index, _ in entries])
            for (index, entry), path in zip(entries, paths, strict=True):
                verify_inclusion(leaf_hash(entry), index, size, path, root)
        except (IntegrityFailure, ProofError) as error:
            raise IntegrityFailure(f"{origin}: the entries and subtrees the hub holds do not "
                                   f"prove its entries under the root of {size} it "
                                   f"cosigned ({error}); check the mirror (thread verify "
                                   f"--policy POLICY)") from None
        return paths

    def from_subtrees(self, origin: str, compute: Callable[[SubtreeHash], T]) -> T:
        """Run a proof computation over ``origin``'s tree, on the subtrees the hub stored
        (read in one go; a missing one raises)."""
        with self.engine.connect() as conn:
            if not self.indexed:
                return compute(MemoryTree(bytes(leaf) for leaf, in conn.execute(
                    select(SITE_ENTRIES.c.leaf).where(SITE_ENTRIES.c.origin == origin)
                    .order_by(SITE_ENTRIES.c.idx))).subtree)
            return with_subtrees(compute, SiteRows(conn, origin).select_subtrees)

    def map_proof(self, origin: str, size: int, aggregate_id: bytes
                  ) -> tuple[Sub, MapProof] | None:
        """The root of ``origin``'s subject map at ``size`` and a subject's proof in it, from
        the map the hub stored when it cosigned that size (None if it did not)."""
        if not self.indexed:
            return None
        with self.engine.connect() as conn:
            return stored_map_proof(conn, origin, size, aggregate_id)

    @property
    def origins(self) -> list[str]:
        """The site logs this hub mirrors, by origin."""
        return sorted(self._sites)

    # Inside

    def _verified(self, note: str) -> Checkpoint:
        try:
            body = note[:note.rfind("\n\n") + 1]
            origin = Checkpoint.parse(body).origin
        except CheckpointError as error:
            raise SiteRefused(f"not a checkpoint: {error}", what="malformed") from None
        verifier = self._sites.get(origin)
        if verifier is None:
            raise SiteRefused(f"{origin!r} is not a site this hub mirrors", what="unknown")
        try:
            open_note(note, [verifier])
            return verify_checkpoint(note, verifier, origin=origin)
        except CheckpointError as error:
            with self.engine.begin() as conn:
                self._row(conn, origin)
                self._record(conn, origin, "bad signature", note, str(error))
            raise SiteRefused(f"checkpoint of {origin}: {error}", what="bad signature") from None

    def _row(self, conn: Connection, origin: str, *, create: bool = True) -> _Row:
        """The site's row (made empty when missing, unless only reading)."""
        row = conn.execute(select(SITE_LOGS).where(SITE_LOGS.c.origin == origin)).first()
        if row is None:
            empty = CompactRange().to_bytes()
            if create:
                conn.execute(insert(SITE_LOGS).values(
                    origin=origin, mirror_size=0, mirror_note=None, mirror_range=empty,
                    pending_note=None, next_range=empty))
            return _Row(None, empty, None, empty)
        return _Row(row.mirror_note, bytes(row.mirror_range), row.pending_note,
                    bytes(row.next_range))

    def _pending(self, row: _Row) -> Checkpoint | None:
        if row.pending_note is None:
            return None
        return Checkpoint.parse(row.pending_note[:row.pending_note.rfind("\n\n") + 1])

    def _state(self, conn: Connection, origin: str, *, create: bool = True) -> SiteState:
        row = self._row(conn, origin, create=create)
        pending = self._pending(row)
        return SiteState(origin, CompactRange.from_bytes(row.mirror_range).size,
                         CompactRange.from_bytes(row.next_range).size,
                         pending.size if pending is not None else 0, row.mirror_note)

    def _root_at(self, conn: Connection, origin: str, size: int) -> bytes:
        try:
            return with_subtrees(lambda subtree: tree_root(size, subtree),
                                 SiteRows(conn, origin).select_subtrees)
        except IntegrityFailure:
            return b""  # the hub's own rows are damaged: not the site's root either

    def _backfill(self) -> None:
        """Store the subtrees of sites mirrored before the hub kept them (once)."""
        with self.engine.begin() as conn:
            for origin, following in conn.execute(select(SITE_LOGS.c.origin,
                                                         SITE_LOGS.c.next_range)):
                size = CompactRange.from_bytes(following).size
                if size >> NODE_FLOOR and not has_subtrees(conn, origin):
                    _log.info("storing the subtrees of %s's %d mirrored entries", origin, size)
                    backfill_subtrees(conn, origin, size)

    def _refuse(self, conn: Connection, origin: str, what: str, note: str | None,
                detail: str) -> None:
        """End the stage: its transaction rolls back, and :meth:`_stage` records why."""
        raise _Refusing(origin, what, note, detail)

    @contextmanager
    def _stage(self) -> Iterator[Connection]:
        """One stage's transaction; a refusal in it rolls it back, is recorded in a
        transaction of its own, and raised as :class:`SiteRefused`."""
        advancing: list[tuple[str, MapCache, int]] = []
        self._advancing = advancing
        try:
            with self.engine.begin() as conn:
                yield conn
        except BaseException as error:
            for _, cache, _ in advancing:
                cache.forget()
            for moved in self._moved.values():
                moved.forget()
            if not isinstance(error, _Refusing):
                raise
            refusing = error
            with self.engine.begin() as conn:
                self._row(conn, refusing.origin)
                self._record(conn, refusing.origin, refusing.what, refusing.note,
                             refusing.detail)
            raise SiteRefused(f"{refusing.origin}: {refusing.detail}",
                              what=refusing.what) from None
        for origin, cache, size in advancing:
            cache.advanced(size)
            self._moved.setdefault(origin, TreeLog()).mapped(size)

    def _record(self, conn: Connection, origin: str, what: str, note: str | None,
                detail: str) -> None:
        at = datetime.fromtimestamp(self._clock(), UTC).isoformat()
        conn.execute(insert(SITE_REFUSALS).values(origin=origin, at=at, what=what,
                                                  detail=detail, note=note))
        if self._alert is not None:
            self._alert(Refusal(origin, at, what, detail))


@dataclass(frozen=True)
class _Row:
    mirror_note: str | None
    mirror_range: bytes
    pending_note: str | None
    next_range: bytes


class _Refusing(Exception):  # noqa: N818 - internal: carries a refusal out of a transaction
    def __init__(self, origin: str, what: str, note: str | None, detail: str) -> None:
        super().__init__(detail)
        self.origin, self.what, self.note, self.detail = origin, what, note, detail
