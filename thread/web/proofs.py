"""The log over HTTP: its signed checkpoint, inclusion and consistency proofs, a part's
dossier, and the C2SP tlog-tiles layout (``/checkpoint``, ``/tile/<L>/<N>``,
``/tile/entries/<N>``) that third-party transparency-log tools and witnesses read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response

from thread.domain.facts.base import SubjectKind
from thread.errors import LedgerError, UnknownSubject
from thread.web.access import AskersLedger
from thread.web.models import ConsistencyOut, InclusionOut

router = APIRouter(tags=["log"])

Key = Annotated[str, Path(min_length=1, max_length=128)]


@router.get("/checkpoint", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {}}}})
def checkpoint(ledger: AskersLedger) -> PlainTextResponse:
    """The latest signed checkpoint (a C2SP signed note), as tlog-tiles serves it."""
    stored = ledger.checkpoints()
    if not stored:
        raise UnknownSubject("the ledger has no signed checkpoint yet (thread checkpoint "
                             "--key KEY signs one)")
    return PlainTextResponse(stored[-1][1], headers={"Cache-Control": "no-store"})


@router.get("/proofs/inclusion", response_model=InclusionOut)
def inclusion(kind: SubjectKind, key: Annotated[str, Query(min_length=1, max_length=128)],
              version: Annotated[int, Query(ge=1, le=2**62)], ledger: AskersLedger,
              size: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> InclusionOut:
    """Where version ``version`` of a subject sits in the tree of ``size`` leaves, proved."""
    proof = ledger.inclusion_proof(kind, key, version, size=size)
    return InclusionOut(index=proof.index, tree_size=proof.tree_size,
                        leaf_hash=proof.leaf_hash.hex(), path=[h.hex() for h in proof.path],
                        root=proof.root.hex())


@router.get("/proofs/consistency", response_model=ConsistencyOut)
def consistency(size1: Annotated[int, Query(ge=1, le=2**62)],
                size2: Annotated[int, Query(ge=1, le=2**62)],
                ledger: AskersLedger) -> ConsistencyOut:
    """Proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2``."""
    head = ledger.tree_head()[0]
    if not size1 <= size2 <= head:
        raise LedgerError(f"sizes {size1} and {size2}: expected 1 <= size1 <= size2 <= {head} "
                          f"(the log's size)")
    return ConsistencyOut(size1=size1, size2=size2,
                          path=[h.hex() for h in ledger.consistency_proof(size1, size2)])


@router.get("/parts/{serial}/dossier", response_model=None,
            responses={200: {"content": {"application/json": {}}}})
def dossier(serial: Key, ledger: AskersLedger) -> Response:
    """The part's self-contained dossier (thread-dossier/v2), proved against the latest
    signed checkpoint; ``thread verify-dossier`` checks it offline."""
    from thread.log.dossier import NotCheckpointed, dossier_of

    try:
        written = dossier_of(ledger, serial)
    except NotCheckpointed as error:
        raise LedgerError(str(error)) from None
    return Response(written.dossier.to_bytes(), media_type="application/json")


@router.get("/tile/{path:path}", response_model=None,
            responses={200: {"content": {"application/octet-stream": {}}}})
def tile(path: Annotated[str, Path(max_length=200)], ledger: AskersLedger) -> Response:
    """A C2SP tlog-tiles tile (``<L>/<N>[.p/<W>]``) or entry bundle (``entries/<N>[.p/<W>]``):
    hashes of the tree, or the log's entries (the events' canonical bytes)."""
    from thread.log.tiles import (
        TileError,
        entry_bundle,
        parse_entries_path,
        parse_tile_path,
        tile_hashes,
        tile_width,
    )
    from thread.sites.site import log_entries

    size = ledger.tree_head()[0]
    try:
        if path.startswith("entries/"):
            index, width = parse_entries_path(f"tile/{path}")
            level = 0
        else:
            level, index, width = parse_tile_path(f"tile/{path}")
        available = tile_width(level, index, size)
        if width > available or (width == 256 and available < 256):
            raise UnknownSubject(f"tile/{path}: the log of {size} entries has "
                                 f"{available} hashes there")
        if path.startswith("entries/"):
            data = entry_bundle(log_entries(ledger, index * 256, index * 256 + width))
        else:
            data = tile_hashes(level, index, width, ledger.store.subtree_hash)
    except TileError as error:
        raise LedgerError(str(error)) from None
    cache = "public, max-age=31536000, immutable" if width == 256 else "public, max-age=60"
    return Response(data, media_type="application/octet-stream",
                    headers={"Cache-Control": cache})
