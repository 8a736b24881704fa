"""Wheel hubs after the grinding line: assembled, tested, shipped and installed in a
customer's fleet, then followed in service (``failures``)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from thread.demo.catalogue import CUSTOMERS, HUB, HUBS_PER_ORDER, REVISION, SITE, TODAY
from thread.demo.failures import Service
from thread.demo.grinding import Ready
from thread.demo.journal import Journal
from thread.demo.quality import Quality
from thread.demo.shifts import next_working_day
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
        self.service = Service(journal)
        self.hubs = 0

    def hub(self, inboard: Ready, outboard: Ready) -> None:
        """Assemble, test, ship and install one wheel hub, and follow it in service (as far
        as the simulation's today)."""
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
        shipped = datetime.combine(next_working_day(at), time(15, 0, tzinfo=UTC))
        if shipped > TODAY:
            return
        journal.counts["shipped"] += 1
        journal.add(f.Shipped(
            serial=serial, customer=customer.name, order=f"SO-26-{order_number:04d}",
            destination=customer.destination, carrier=customer.carrier,
            tracking=f"{customer.fleet}{order_number:05d}{shipped:%m%d}",
        ), shipped, "shipping")
        installed = shipped + timedelta(days=rng.randint(4, 12), hours=rng.randint(0, 8))
        equipment = f"{customer.fleet}-{rng.randint(10000, 99999)}"
        if installed > TODAY:
            return
        journal.add(f.InstalledAtSite(
            serial=serial, site=customer.site, installer=customer.installer,
            equipment=equipment,
        ), installed, "field-service")
        self.service.follow(serial, rng, customer, equipment, installed,
                            {"inboard": inboard, "outboard": outboard})
