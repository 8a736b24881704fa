"""Writing a part's dossier: its events, their inclusion proofs and a signed checkpoint, one file.

The file format and its verification are in :mod:`thread.log.offline`, which an
auditor runs without the ledger. A dossier is proved against the ledger's
latest signed checkpoint, so it holds the part's events that were in the log
when that checkpoint was signed (all of them, as the checkpoint's subject map
proves); later ones wait for the next checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from thread.access.reading import whole
from thread.errors import IntegrityFailure, LedgerError
from thread.ledger import Ledger
from thread.log.checkpoint import Checkpoint
from thread.log.merkle import leaf_hash
from thread.log.offline import Dossier, DossierEvent
from thread.log.subject_map import find_map_line
from thread.storage.map_store import stored_proof


class NotCheckpointed(LedgerError):  # noqa: N818 - reads as the state of the part
    """No signed checkpoint covers any event of the part yet, so nothing can be proved."""


@dataclass(frozen=True)
class PartDossier:
    """A part's dossier and what it leaves out: the part's events after its checkpoint."""

    dossier: Dossier
    later_events: int

    @property
    def last_version(self) -> int:
        """The part's last version in the dossier."""
        return self.dossier.events[-1].version


def dossier_of(ledger: Ledger, serial: str) -> PartDossier:
    """The dossier of part ``serial``, proved against the ledger's latest signed checkpoint.

    Raises :class:`~thread.errors.UnknownSubject` for a serial the ledger
    does not hold and :class:`NotCheckpointed` when no checkpoint covers the
    part's first event yet.
    """
    events = whole(ledger.history(serial), "part", serial, "dossier")  # chain-verified
    stored = ledger.checkpoints()
    if not stored:
        raise NotCheckpointed(
            f"part {serial}: the ledger has no signed checkpoint yet, so none of its "
            f"{len(events)} events can be proved to an auditor"
        )
    size, note = stored[-1]
    checkpoint = Checkpoint.from_note(note)
    if checkpoint.size != size or checkpoint.origin != ledger.origin:
        raise IntegrityFailure(
            f"the latest stored checkpoint (size {size}) signs a tree of {checkpoint.size} "
            f"leaves of log {checkpoint.origin!r}; this ledger is {ledger.origin!r}"
        )
    ident = ledger.mapper.subject_id("part", serial)
    covered: list[DossierEvent] = []
    for event in events:
        version = event.originator_version
        position = ledger.store.leaf_position(ident, version)
        if position is None:
            raise IntegrityFailure(f"part {serial} version {version} has no leaf in the log",
                                   subject=f"part {serial}", version=version)
        if position >= checkpoint.size:
            break  # a part's leaves are in version order, so the rest are later too
        proof = ledger.inclusion_proof("part", serial, version, size=checkpoint.size)
        if proof.leaf_hash != leaf_hash(event.canonical) or proof.root != checkpoint.root:
            raise IntegrityFailure(
                f"part {serial} version {version}: the log's leaf or tree of "
                f"{checkpoint.size} leaves does not match the event and the signed checkpoint; "
                "run thread verify", subject=f"part {serial}", version=version,
            )
        covered.append(DossierEvent(version=version, index=proof.index,
                                    canonical=event.canonical, path=tuple(proof.path)))
    if not covered:
        first = ledger.store.leaf_position(ident, 1)
        raise NotCheckpointed(
            f"part {serial} was recorded after the latest signed checkpoint (its first event "
            f"is leaf {first}; the checkpoint covers {checkpoint.size} leaves)"
        )
    head = None
    if find_map_line(checkpoint.extensions) is not None:
        head = stored_proof(ledger.store, checkpoint.size, ident.bytes)
        if head.version != covered[-1].version or head.head != leaf_hash(
                events[len(covered) - 1].canonical):
            raise IntegrityFailure(
                f"part {serial}: the subject map of the checkpoint at {checkpoint.size} leaves "
                f"says version {head.version}, but the log holds versions 1-"
                f"{covered[-1].version} there; run thread verify", subject=f"part {serial}")
    dossier = Dossier(serial=serial, origin=checkpoint.origin, tree_size=checkpoint.size,
                      checkpoint=note, events=tuple(covered), map=head)
    return PartDossier(dossier, later_events=len(events) - len(covered))
