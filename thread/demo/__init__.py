"""A simulated bearing plant that fills a ledger with a deterministic digital thread: the
closed-loop quality story a reliability engineer investigates.

**Production** (``shifts``, ``grinding``, ``machines``). From START (Monday 2 March 2026)
three internal grinders make BRG-6204 deep-groove ball bearings from lots of 100Cr6 steel,
five a working day in the early and late shifts, taking turns: the default 300 bearings
take the 13 weeks to 29 May. Every bearing's process record summarises its grinding cycle
(spindle speed, infeed, coolant temperature, vibration), and every bearing is gauged on
five characteristics; failures become non-conformances with signed dispositions (rework,
use-as-is or scrap). The grinders record their condition shift by shift.

**The fault.** From RISE (30 March, week 5) GR-02's spindle bearing fails: its spindle
vibration steps up and climbs, shift after shift, crossing the alarm limit more and more
often (VIB-HIGH alarms); bearings ground in a shift that crossed it are quarantined,
reviewed and released, since they gauge fine. A vibration analysis (17 April) finds the
fault and the spindle bearing is replaced at REPAIR (25 April, end of week 8); vibration is
back to normal. The bearings ground on GR-02 in those four weeks carry the raised
vibration in their own process records, and chatter marks on their raceways.

**The field** (``field``, ``failures``). Good bearings go two by two into WH-3100 wheel
hubs, which are tested, shipped to three customers and installed in their fleets; most
report their operating hours every month. Bearings with chatter marks spall after a few
thousand operating hours; others fail now and then of ordinary fatigue, on every grinder;
a few hubs leak grease from a seal cut at installation. A failure is the customer's
warranty claim on the hub, the failure lab's teardown and, when a bearing caused it, a
failure reported on that bearing under the same claim. The story ends at TODAY (2 November
2026, eight months after START): most hubs are still running.

**Signatures** (``quality``). The plant signs as a plant does: an inspector verifies each
inspection and test report, the quality manager approves each release with a certificate of
conformance and each first article's report, the MRB signs its dispositions.

Every simulated subject (bearing, hub, bearing life, machine shift, order) draws from its
own ``random.Random`` seeded by the demo seed and its name, and a bearing's time depends
only on its number, so a bearing's story does not depend on how many bearings are
simulated. Each fact carries source ``demo`` and a record id naming the seed, so filling
the same ledger again with the same seed is a no-op, and filling it with more bearings
extends the same story (up to the plant's capacity before its today).

The plant's master data and dates are in ``catalogue``; ``plant`` runs it, all parts
queuing their facts in one ``journal``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from thread.demo.catalogue import GRINDERS, LOTS, NOISY, REPAIR, SIGNERS
from thread.demo.journal import Countersignature, Entry, Journal
from thread.demo.plant import Plant
from thread.demo.shifts import due
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
    failures: int  # warranty claims on hubs
    bearing_failures: int  # failures the failure lab attributed to a bearing
    maintenance: int  # maintenance work orders on the grinders
    signatures: int  # electronic signatures: releases, dispositions, reports, first articles,
    #                  watched charts and closed drift alerts
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
    due(bearings - 1)  # refuses more bearings than the plant grinds before its today
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
    closed = _check_drift(ledger, plant)
    return _summary(plant, bearings, written, closed)


def _check_drift(ledger: Ledger, plant: Plant) -> int:
    """Judge the watched vibration charts, as a watcher following the plant would have, and
    close the alerts of the noisy grinder with its repair, signed by the quality manager
    (needs the analytics extra; without it the alerts wait for ``thread alerts check``)."""
    from importlib.util import find_spec

    if find_spec("scipy") is None or find_spec("numpy") is None:
        return 0
    from thread.analytics import drift

    drift.check_drift(ledger)
    closed = 0
    for alert in ledger.drift().alerts:
        if alert.key == NOISY and alert.raised_at < REPAIR:
            closed += 1
        if alert.key == NOISY and alert.status != "closed" and alert.raised_at < REPAIR:
            drift.close(ledger, alert.alert, signer=plant.manager, reference="MWO-26-0419",
                        resolution="spindle rear bearing worn; replaced on "
                                   f"{REPAIR:%d %B} (vibration back to normal)",
                        at=REPAIR)
    return closed


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


def _summary(plant: Plant, bearings: int, written: int, closed: int) -> DemoSummary:
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
        bearing_failures=c["bearing failures"], maintenance=c["maintenance"],
        signatures=c["signatures"] + closed, facts=c["facts"],
        written=written, example=journal.example or "BRG-000001",
    )
