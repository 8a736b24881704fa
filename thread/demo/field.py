"""Wheel hubs after the grinding line: assembled, tested, shipped, installed, heard from."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from thread.demo.catalogue import CUSTOMERS, HUB, HUBS_PER_ORDER, NOISY, REVISION, SITE
from thread.demo.grinding import Ready
from thread.demo.journal import Journal
from thread.demo.quality import Quality
from thread.domain import facts as f
from thread.domain.facts.quality import Verdict
from thread.domain.udi import UDI, gtin_check_digit
from thread.records.units import quantity

#: The hub's GS1 device identifier (a GTIN-14 under a made-up company prefix).
HUB_GTIN = "0761234567001" + str(gtin_check_digit("0761234567001"))


class HubLine:
    """Builds a wheel hub from each pair of bearings and follows it into a customer's fleet."""

    def __init__(self, journal: Journal, quality: Quality) -> None:
        self.journal = journal
        self.quality = quality
        self.hubs = 0

    def hub(self, inboard: Ready, outboard: Ready) -> None:
        """Assemble, test, ship and install one wheel hub; let it report from the field."""
        journal = self.journal
        self.hubs += 1
        serial = f"HUB-{self.hubs:06d}"
        rng = journal.rng("hub", serial)
        at = max(inboard.at, outboard.at) + timedelta(minutes=45)
        registered = at
        label = UDI(gtin=HUB_GTIN, serial=serial, production_date=f"{at:%y%m%d}")
        journal.add(f.PartRegistered(serial=serial, part_number=HUB, revision=REVISION,
                                     work_order=f"WO-{at:%y%m%d}-HUB", site=SITE,
                                     udi=label.hri()), at, "mes")
        for position, bearing in (("inboard", inboard), ("outboard", outboard)):
            at += timedelta(minutes=4)
            journal.add(f.ComponentInstalled(serial=serial, component=bearing.serial,
                                             position=position), at, "assembler", tag=position)
        torque = round(rng.gauss(1.2, 0.08), 3)
        at += timedelta(minutes=6)
        verdict: Verdict = "pass" if 0.8 <= torque <= 1.6 else "fail"
        values = (f.Reading(name="rolling_torque", value=torque, unit="N.m"),
                  f.Reading(name="axial_play", value=round(rng.gauss(22.0, 3.0), 1), unit="um"))
        journal.add(f.TestRecorded(
            serial=serial, procedure="TP-3100-ROT", procedure_revision="2", verdict=verdict,
            values=values, report=f"TR-{serial}",
        ), at, "tester")
        self.quality.report(journal, serial, HUB, f"TR-{serial}", measurements=len(values),
                            failures=int(verdict == "fail"), at=at + timedelta(minutes=2),
                            produced=registered)
        if verdict == "fail":
            journal.add(f.Quarantined(
                serial=serial, reason=f"rolling torque {quantity(torque, 'N.m')} outside "
                                      f"0.8 to {quantity(1.6, 'N.m')}; held for teardown",
            ), at, "quality")
            return
        self.quality.release(journal, serial, at + timedelta(minutes=30))

        order_number = (self.hubs - 1) // HUBS_PER_ORDER + 1
        customer = CUSTOMERS[journal.rng("order", order_number).randrange(len(CUSTOMERS))]
        shipped = datetime.combine(at.date() + timedelta(days=1), datetime.min.time(), UTC)
        shipped += timedelta(hours=15)
        journal.counts["shipped"] += 1
        journal.add(f.Shipped(
            serial=serial, customer=customer.name, order=f"SO-26-{order_number:04d}",
            destination=customer.destination, carrier=customer.carrier,
            tracking=f"{customer.fleet}{order_number:05d}{shipped:%m%d}",
        ), shipped, "shipping")
        installed = shipped + timedelta(days=rng.randint(4, 12), hours=rng.randint(0, 8))
        journal.add(f.InstalledAtSite(
            serial=serial, site=customer.site, installer=customer.installer,
            equipment=f"{customer.fleet}-{rng.randint(10000, 99999)}",
        ), installed, "field-service")
        self.field(serial, rng, installed, inboard.vibrated or outboard.vibrated)

    def field(self, serial: str, rng: random.Random, installed: datetime, vibrated: bool) -> None:
        """Performance reports and, for some hubs, a failure with its analysis."""
        journal = self.journal
        failed_after = None
        if rng.random() < (0.25 if vibrated else 0.015):
            failed_after = rng.uniform(20.0, 110.0)
        hours_per_day = rng.uniform(7.0, 11.0)
        if rng.random() < 0.35:
            for days in (30, 90):
                if failed_after is not None and days >= failed_after:
                    break
                journal.counts["field reports"] += 1
                journal.add(f.FieldPerformanceReported(
                    serial=serial, operating_hours=round(days * hours_per_day, 1),
                    readings=(
                        f.Reading(name="hub_temperature", value=round(rng.gauss(48.0, 4.0), 1),
                                  unit="Cel"),
                        f.Reading(name="vibration", unit="mm/s", value=round(
                            rng.gauss(1.6 if vibrated else 1.1, 0.15), 2)),
                    ),
                ), installed + timedelta(days=days), "telematics", tag=f"day-{days}")
        if failed_after is None:
            return
        journal.counts["failures"] += 1
        if vibrated and not journal.example.startswith("HUB"):
            journal.example = serial
        claim = f"WC-{serial}"
        failed = installed + timedelta(days=failed_after)
        mode, cause, conclusion = (
            ("inner raceway spalling, rising noise",
             f"chatter marks on the inner raceway from grinding on {NOISY} above the "
             "spindle vibration limit",
             "manufacturing defect; CAPA on spindle condition monitoring")
            if vibrated else
            ("seal lip leakage, grease loss",
             "seal lip cut during hub installation",
             "installation damage; not a manufacturing defect")
        )
        journal.add(f.FailureReported(
            serial=serial, claim=claim, failure_mode=mode,
            operating_hours=round(failed_after * hours_per_day, 1), warranty=True,
            description=f"returned by the customer's service centre after {failed_after:.0f} days",
        ), failed, "warranty-desk")
        journal.add(f.FailureAnalysisRecorded(
            serial=serial, claim=claim, method="teardown, raceway profilometry, metallography",
            root_cause=cause, conclusion=conclusion,
        ), failed + timedelta(days=14), "failure-lab")
