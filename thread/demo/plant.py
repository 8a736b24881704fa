"""The demo plant: its designs, grinders and steel first, then bearings and what they complete."""

from __future__ import annotations

from datetime import timedelta

from thread.demo.catalogue import (
    BEARING,
    GAUGINGS,
    GRINDERS,
    HUB,
    LOTS,
    REVISION,
    SIGNERS,
    SITE,
    START,
    WATCH_BASELINE,
    certificate,
    digest,
)
from thread.demo.field import HubLine
from thread.demo.grinding import GrindingLine
from thread.demo.journal import Countersignature, Entry, Journal
from thread.demo.machines import Grinders
from thread.demo.quality import Quality
from thread.domain import facts as f


class Plant:
    """The simulation: turns bearing indexes into facts, in an order the ledger accepts."""

    def __init__(self, seed: int) -> None:
        self.journal = Journal(seed)
        signers = {signer: self.journal.signer(signer, name)
                   for signer, (name, _) in SIGNERS.items()}
        self.engineer = signers["r.okafor"]
        self.manager = signers["a.mensah"]
        quality = Quality(inspector=signers["k.nakamura"], manager=signers["a.mensah"],
                          mrb=signers["d.lindqvist"])
        self.certificates = {
            lot.lot: digest(certificate(lot, self.journal.rng("lot", lot.lot))) for lot in LOTS
        }
        self.grinders = Grinders(self.journal)
        self.grinding = GrindingLine(self.journal, self.grinders, self.certificates, quality)
        self.hubs = HubLine(self.journal, quality)

    def setup(self) -> list[Entry | Countersignature]:
        """Released designs, registered grinders and received material lots."""
        journal = self.journal
        released = START - timedelta(days=14)
        journal.add(f.RevisionReleased(
            part_number=BEARING, revision=REVISION, part_name="Deep groove ball bearing 6204",
            drawing="DWG-6204", drawing_revision="C",
            cad_digest=digest(f"CAD model {BEARING} revision {REVISION}"),
            material_spec="100Cr6 (EN ISO 683-17), through-hardened 60-64 HRC",
            characteristics=tuple(gauging.characteristic for gauging in GAUGINGS),
        ), released, self.engineer.signer, sign=self.engineer)
        journal.add(f.RevisionReleased(
            part_number=HUB, revision=REVISION, part_name="Wheel-hub assembly",
            drawing="DWG-3100", drawing_revision="A",
            cad_digest=digest(f"CAD model {HUB} revision {REVISION}"),
            characteristics=(
                # Verified by the functional test's rolling_torque reading and by the two
                # bearings installed (thread.records.verification).
                f.Characteristic(balloon="1", name="Rolling torque", nominal=1.2, unit="N.m",
                                 lower_tolerance=-0.4, upper_tolerance=0.4, designator="key",
                                 location="sheet 1, zone D4"),
                f.Characteristic(balloon="2", name="Bearing complement",
                                 requirement=f"two {BEARING} rev {REVISION}, inboard and "
                                             "outboard", location="sheet 1, zone B2"),
            ),
        ), released + timedelta(hours=2), self.engineer.signer, sign=self.engineer)
        for number, machine in enumerate(GRINDERS, start=1):
            journal.add(f.MachineRegistered(
                machine=machine, name=f"Internal grinder {number} (Studer S121)",
                kind="internal-grinder", site=SITE, line="LINE-BRG",
            ), START - timedelta(days=10), "maintenance")
        for number, lot in enumerate(LOTS):
            journal.add(f.MaterialLotReceived(
                lot=lot.lot, material="100Cr6 bearing steel tube 52x38 mm",
                specification="EN ISO 683-17", supplier=lot.supplier, heat=lot.heat,
                quantity=lot.quantity, unit="kg", certificate_number=f"3.1-{lot.heat}",
                certificate_digest=self.certificates[lot.lot],
            ), START - timedelta(days=7 - number), "receiving")
        for machine in GRINDERS:
            # The quality manager watches each grinder's spindle vibration: limits from its
            # first two weeks of shifts, the Western Electric rules (thread.analytics.drift).
            journal.add(f.ChartSubscribed(
                kind="machine", key=machine, chart=f"{machine}-VIBRATION",
                metric="condition.spindle_vibration.mean", chart_kind="i-mr", machine=machine,
                phase1=WATCH_BASELINE, rules=("WE1", "WE2", "WE3", "WE4"), since=START,
                notify=("maintenance", "quality"),
            ), START - timedelta(days=1), self.manager.signer, sign=self.manager,
                meaning="authorship")
        # And each bearing's own grinding vibration, on every grinder: an alert names the
        # bearing whose value completed the pattern, in that bearing's story.
        journal.add(f.ChartSubscribed(
            kind="design", key=BEARING, chart=f"{BEARING}-OP30-VIBRATION",
            metric="process.vibration.mean", chart_kind="i-mr", part_number=BEARING,
            operation="OP30-grind-bore-raceway", phase1=WATCH_BASELINE * 2,
            rules=("WE1",), since=START, notify=("quality",),
        ), START - timedelta(days=1), self.manager.signer, sign=self.manager,
            meaning="authorship")
        return journal.take()

    def produce(self, first: int, count: int) -> list[Entry | Countersignature]:
        """The facts of bearings ``first`` to ``first + count - 1`` and what they complete:
        the hubs they pair into (and their service up to the simulation's today), then the
        grinders' shifts and maintenance they span."""
        until = START
        for index in range(first, first + count):
            until = max(until, self.grinding.bearing(index))
        ready = self.grinding.ready
        while len(ready) >= 2:
            self.hubs.hub(ready.pop(0), ready.pop(0))
        self.grinders.record_until(until)
        return self.journal.take()
