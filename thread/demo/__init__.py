"""A simulated bearing plant that fills a ledger with a deterministic digital thread.

Three internal grinders make BRG-6204 deep-groove ball bearings from four lots
of 100Cr6 steel. Every bearing is gauged on five characteristics; failures
become non-conformances with signed dispositions (rework, use-as-is or scrap).
One grinder's spindle vibrates now and then: bearings ground while it exceeded
its limit are quarantined, reviewed and released, and a share of them fail in
the field later. Good bearings go two by two into WH-3100 wheel hubs, which
are tested, shipped to three customers, installed in their fleets and report
from the field. The plant signs as a plant does (``quality``): an inspector
verifies each inspection and test report, the quality manager approves each
release with a certificate of conformance and each first article's report.

Every simulated subject (bearing, hub, machine window, order) draws from its
own ``random.Random`` seeded by the demo seed and its name, so a bearing's
story does not depend on how many bearings are simulated. Each fact carries
source ``demo`` and a record id naming the seed, so filling the same ledger
again with the same seed is a no-op, and filling it with more bearings
extends the same story.

The plant's master data is in ``catalogue``; ``plant`` runs it, with the
grinders' condition in ``machines``, bearings in ``grinding``, wheel hubs in
``field`` and the signatures of ``quality``, all queuing their facts in one
``journal``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from thread.demo.catalogue import GRINDERS, LOTS, SIGNERS
from thread.demo.journal import Countersignature, Entry, Journal
from thread.demo.plant import Plant
from thread.domain.chain import Recorded
from thread.errors import AlreadyRegistered, LedgerError
from thread.ledger import Ledger, Receipt

__all__ = ["DemoSummary", "fill", "signer_keys"]

#: The source every demo fact names.
SOURCE = "demo"
#: Bearings written per transaction.
BATCH = 25


@dataclass(frozen=True)
class DemoSummary:
    """What one fill of the demo plant simulated, and how many of its events were new."""

    seed: int
    designs: int
    machines: int
    material_lots: int
    bearings: int
    scrapped: int
    quarantined: int
    inspections: int
    failed_inspections: int
    non_conformances: int
    hubs: int
    shipped: int
    condition_windows: int
    alarms: int
    field_reports: int
    failures: int
    signatures: int  # electronic signatures: releases, dispositions, reports, first articles
    facts: int  # facts the simulation produced (signatures apart)
    written: int  # of which this fill recorded (the rest were already in the ledger)
    example: str  # a serial with a story worth reading


def fill(
    ledger: Ledger,
    *,
    seed: int = 7,
    bearings: int = 300,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Record a simulated plant's design, production, quality and field history.

    ``progress`` is called with the number of bearings written after each
    transaction. The same seed always produces the same facts.
    """
    if bearings < 1:
        raise LedgerError(f"the demo plant needs at least one bearing, not {bearings}")
    plant = Plant(seed)
    try:
        written = _write(ledger, plant.setup())
    except AlreadyRegistered as error:
        raise AlreadyRegistered(
            f"the demo plant (seed {seed}) cannot fill this ledger: it already holds "
            f"records that this seed did not write ({error}); fill an empty ledger, or "
            f"the one this seed filled before"
        ) from error
    for first in range(0, bearings, BATCH):
        count = min(BATCH, bearings - first)
        written += _write(ledger, plant.produce(first, count))
        if progress is not None:
            progress(count)
    return _summary(plant, bearings, written)


def signer_keys(seed: int = 7) -> dict[str, bytes]:
    """The Ed25519 public key of each person who signs in the demo plant of ``seed``, by signer
    id: the keys a reader pins to see the demo's signatures VERIFIED."""
    journal = Journal(seed)
    return {signer: journal.signer(signer, name).public_key
            for signer, (name, _) in SIGNERS.items()}


def _write(ledger: Ledger, entries: list[Entry | Countersignature]) -> int:
    """Record the entries in one transaction, then the countersignatures on their events;
    return how many of the entries' facts were new."""
    facts = [entry for entry in entries if isinstance(entry, Entry)]
    with ledger.batch(actor="demo-plant", source=SOURCE) as batch:
        for entry in facts:
            batch.record(entry.fact, occurred_at=entry.at, actor=entry.actor,
                         source_record_id=entry.record_id, sign=entry.sign,
                         meaning=entry.meaning)
    receipts = {entry.record_id: receipt for entry, receipt in zip(facts, batch.receipts,
                                                                   strict=True)}
    countersignatures = [c for c in entries if isinstance(c, Countersignature)]
    if countersignatures:
        with ledger.batch(actor="demo-plant", source=SOURCE) as signing:
            for item in countersignatures:
                receipt = receipts[item.record_id]
                signature = item.signer.sign(_event(ledger, receipt), receipt.kind, receipt.key,
                                             item.meaning, item.at)
                signing.record(signature, occurred_at=item.at, actor=item.signer.signer,
                               source_record_id=f"{item.record_id}/signed/{item.signer.signer}"
                                                f"/{item.meaning}")
    return sum(not receipt.duplicate for receipt in batch.receipts)


def _event(ledger: Ledger, receipt: Receipt) -> Recorded:
    """The recorded event a receipt names (a signature signs its hash)."""
    for event in ledger.history_of(receipt.kind, receipt.key):
        if event.originator_version == receipt.version:
            return event
    raise LedgerError(f"demo plant: {receipt.kind} {receipt.key} has no version "
                      f"{receipt.version} to countersign")


def _summary(plant: Plant, bearings: int, written: int) -> DemoSummary:
    """Counts of everything simulated so far."""
    journal = plant.journal
    c = journal.counts
    return DemoSummary(
        seed=journal.seed, designs=2, machines=len(GRINDERS), material_lots=len(LOTS),
        bearings=bearings, scrapped=c["scrapped"], quarantined=c["quarantined"],
        inspections=c["inspections"], failed_inspections=c["failed inspections"],
        non_conformances=plant.grinding.non_conformances, hubs=plant.hubs.hubs,
        shipped=c["shipped"], condition_windows=c["windows"], alarms=c["alarms"],
        field_reports=c["field reports"], failures=c["failures"],
        signatures=c["signatures"], facts=c["facts"],
        written=written, example=journal.example or "BRG-000001",
    )
