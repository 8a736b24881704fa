"""The hub's own log: a log of logs.

Each site checkpoint the mirror has cosigned is recorded in the hub's own ledger as a
:class:`~thread.domain.facts.sites.SiteCheckpointMirrored` fact on the site's subject,
with the cosigned note, and each refusal as a :class:`~thread.domain.facts.sites.SiteRefused`
fact; the hub then signs a checkpoint of its own log. A hub checkpoint thus commits to the
head of every site log it mirrors, and a site event can be proved to an auditor in two
steps: in the site's log up to a cosigned site checkpoint, and that checkpoint in the
hub's log (:mod:`thread.sites.hub_dossier`).

The mirror's tables are the truth of what is held; this log catches up with them after
each batch, and on start. A hub killed between the two loses nothing: the next catch-up
records the latest checkpoint (sizes in between may then be skipped, which the hub's log
does not need) and every refusal, each once (the refusal's number is its source record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from thread import facts as f
from thread.log.checkpoint import Checkpoint

if TYPE_CHECKING:
    from thread.ledger import Ledger
    from thread.sites.mirror import Mirror

#: The source the hub's log names for what it records.
SOURCE = "hub-mirror"


@dataclass(frozen=True)
class CaughtUp:
    """What one catch-up recorded: site checkpoints, refusals, and the hub checkpoint
    signed after them (None: nothing new, or no key)."""

    checkpoints: int
    refusals: int
    hub_checkpoint: str | None


class HubLog:
    """Records what the mirror holds and refuses in the hub's own ledger."""

    def __init__(self, ledger: Ledger, mirror: Mirror, *, signer_key: str | None = None
                 ) -> None:
        self.ledger = ledger
        self.mirror = mirror
        self.signer_key = signer_key
        self._refusals_seen = 0  # refusals below this number are in the log already

    def catch_up(self) -> CaughtUp:
        """Record each site's latest cosigned checkpoint the log lacks and each refusal not
        yet recorded, in one batch; then sign a hub checkpoint if anything was."""
        recorded: list[f.Fact] = []
        with self.ledger.batch() as batch:
            for origin in self.mirror.origins:
                state = self.mirror.state(origin)
                if state.mirror_note is None or state.mirror_size <= self._logged(origin):
                    continue
                body = state.mirror_note[:state.mirror_note.rfind("\n\n") + 1]
                checkpoint = Checkpoint.parse(body)
                recorded.append(f.SiteCheckpointMirrored(
                    site=origin, size=checkpoint.size, root=checkpoint.root.hex(),
                    checkpoint=state.mirror_note))
                batch.record(recorded[-1], source=SOURCE,
                             source_record_id=f"{origin}@{checkpoint.size}")
            for number, refusal, note in self.mirror.refusals_after(self._refusals_seen):
                recorded.append(f.SiteRefused(site=refusal.origin, what=refusal.what,
                                              detail=refusal.detail[:4000], checkpoint=note))
                batch.record(recorded[-1], source=SOURCE, source_record_id=f"refusal/{number}")
                self._refusals_seen = number
        landed = [fact for fact, receipt in zip(recorded, batch.receipts, strict=True)
                  if not receipt.duplicate]
        checkpoints = sum(isinstance(fact, f.SiteCheckpointMirrored) for fact in landed)
        signed = None
        if landed and self.signer_key is not None:
            signed = self.ledger.checkpoint(self.signer_key)
        return CaughtUp(checkpoints, len(landed) - checkpoints, signed)

    def _logged(self, origin: str) -> int:
        """The size of the latest checkpoint of ``origin`` in the hub's log (0: none)."""
        from thread.errors import UnknownSubject

        try:
            return self.ledger.site(origin).mirrored
        except UnknownSubject:
            return 0
