"""A simulated bearing plant that fills a ledger with a deterministic digital thread.

Three internal grinders make BRG-6204 deep-groove ball bearings from four lots
of 100Cr6 steel. Every bearing is gauged on five characteristics; failures
become non-conformances with signed dispositions (rework, use-as-is or scrap).
One grinder's spindle vibrates now and then: bearings ground while it exceeded
its limit are quarantined, reviewed and released, and a share of them fail in
the field later. Good bearings go two by two into WH-3100 wheel hubs, which
are tested, shipped to three customers, installed in their fleets and report
from the field.

Every simulated subject (bearing, hub, machine window, order) draws from its
own ``random.Random`` seeded by the demo seed and its name, so a bearing's
story does not depend on how many bearings are simulated. Each fact carries
source ``demo`` and a record id naming the seed, so filling the same ledger
again with the same seed is a no-op, and filling it with more bearings
extends the same story.
"""

from __future__ import annotations

import hashlib
import random
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from thread.domain import facts as f
from thread.domain.facts.measures import Designator
from thread.domain.facts.quality import Decision, Verdict
from thread.domain.signature import Signer
from thread.errors import AlreadyRegistered, LedgerError
from thread.ledger import Ledger

#: When the first bearing is ground; every simulated time is an offset from here.
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
#: The source every demo fact names.
SOURCE = "demo"
#: Bearings written per transaction.
BATCH = 25

BEARING = "BRG-6204"
HUB = "WH-3100"
REVISION = "A"
SITE = "PLANT-1"
GRINDERS = ("GR-01", "GR-02", "GR-03")
#: The grinder whose spindle bearing is wearing out.
NOISY = "GR-02"
#: Spindle vibration alarm limit, mm/s.
VIBRATION_LIMIT = 4.5
#: Length of a machine condition block.
WINDOW = timedelta(minutes=30)
#: Each grinder starts one bearing per slot.
SLOT = timedelta(seconds=150)

Method = Literal["cmm", "vision", "manual", "gauge", "test-rig", "other"]
Side = Literal["below", "above"]
Severity = Literal["info", "warning", "fault"]


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
    facts: int  # facts the simulation produced
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
    plant = _Plant(seed)
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
    return plant.summary(bearings, written)


@dataclass(frozen=True)
class _Entry:
    """One fact of the simulation with its envelope."""

    fact: f.Fact
    at: datetime
    actor: str
    record_id: str
    sign: Signer | None


def _write(ledger: Ledger, entries: list[_Entry]) -> int:
    with ledger.batch(actor="demo-plant", source=SOURCE) as batch:
        for entry in entries:
            batch.record(entry.fact, occurred_at=entry.at, actor=entry.actor,
                         source_record_id=entry.record_id, sign=entry.sign)
    return sum(not receipt.duplicate for receipt in batch.receipts)


@dataclass(frozen=True)
class _Gauging:
    """How a characteristic is measured and how the grinding process scatters around it."""

    characteristic: f.Characteristic
    low: float
    high: float
    method: Method
    gauge: str
    mean: float
    sd: float
    digits: int
    rework: Side | None  # the side of the limits that more grinding can fix

    def side(self, measured: float) -> Side:
        """Which limit ``measured`` passed."""
        return "below" if measured < self.low else "above"

    def slightly_out(self, measured: float) -> bool:
        """Out by at most a quarter of the tolerance band."""
        return max(self.low - measured, measured - self.high) <= (self.high - self.low) / 4

    def deviation(self, measured: float) -> str:
        """A non-conformance description of ``measured``."""
        name, unit = self.characteristic.name, self.characteristic.unit
        return (f"{name} (balloon {self.characteristic.balloon}) measured {measured:g} {unit}, "
                f"limits {self.low:g} to {self.high:g} {unit}")


def _gauging(balloon: str, name: str, nominal: float, unit: str, tolerance: tuple[float, float],
             designator: Designator, method: Method, gauge: str, scatter: tuple[float, float],
             digits: int, rework: Side | None) -> _Gauging:
    lower, upper = tolerance
    characteristic = f.Characteristic(
        balloon=balloon, name=name, nominal=nominal, unit=unit, lower_tolerance=lower,
        upper_tolerance=upper, designator=designator, location=f"sheet 1, zone B{balloon}",
    )
    return _Gauging(characteristic, nominal + lower, nominal + upper, method, gauge,
                    scatter[0], scatter[1], digits, rework)


GAUGINGS = (
    _gauging("1", "Bore diameter", 20.0, "mm", (-0.010, 0.0), "key", "gauge", "AIR-20",
             (19.995, 0.0019), 4, "below"),
    _gauging("2", "Outside diameter", 47.0, "mm", (-0.011, 0.0), "none", "gauge", "AIR-47",
             (46.9945, 0.0021), 4, "above"),
    _gauging("3", "Ring width", 14.0, "mm", (-0.120, 0.0), "none", "cmm", "CMM-02",
             (13.94, 0.02), 3, "above"),
    _gauging("4", "Inner raceway roughness Ra", 0.0, "um", (0.0, 0.2), "critical", "gauge",
             "PROFILO-1", (0.11, 0.025), 3, None),
    _gauging("5", "Radial internal clearance", 12.5, "um", (-7.5, 7.5), "none", "test-rig",
             "RIC-3", (12.5, 2.6), 1, None),
)


@dataclass(frozen=True)
class _Lot:
    lot: str
    supplier: str
    heat: str
    quantity: float


LOTS = (
    _Lot("ML-2602-101", "Ovako Hofors", "H48213", 480.0),
    _Lot("ML-2602-102", "Ovako Hofors", "H48377", 495.0),
    _Lot("ML-2602-117", "Saarstahl Voelklingen", "S7-11842", 510.0),
    _Lot("ML-2602-125", "Saarstahl Voelklingen", "S7-11903", 470.0),
)
#: Bearings made from one lot before the next lot is opened.
BEARINGS_PER_LOT = 100
#: Steel going into one bearing's rings, kg.
STEEL_PER_BEARING = 0.16

#: Operators per grinder, by shift (06-14, 14-22, 22-06).
OPERATORS = {
    "GR-01": ("op-1042", "op-1187", "op-1215"),
    "GR-02": ("op-1063", "op-1190", "op-1233"),
    "GR-03": ("op-1071", "op-1194", "op-1248"),
}


@dataclass(frozen=True)
class _Customer:
    name: str
    destination: str
    site: str
    fleet: str
    installer: str
    carrier: str


CUSTOMERS = (
    _Customer("Nordwind Trucks GmbH", "Ulm, DE", "Nordwind assembly plant Ulm", "NWT",
              "Nordwind line 2", "DB Schenker"),
    _Customer("Cascade Trailer Co.", "Portland OR, US", "Cascade trailer works Portland",
              "CTC", "Cascade axle shop", "Kuehne+Nagel"),
    _Customer("Aurora Agri Machines Oy", "Tampere, FI", "Aurora harvester plant Tampere",
              "AAM", "Aurora final assembly", "DSV"),
)
#: Hubs per customer order.
HUBS_PER_ORDER = 8


@dataclass(frozen=True)
class _Window:
    """A grinder's condition over one window, decided before any part is made in it."""

    machine: str
    index: int
    start: datetime
    end: datetime
    exceeded: bool

    @property
    def hold(self) -> str:
        """The quarantine reference for parts ground in this window."""
        return f"QH-{self.machine}-{self.index:04d}"


@dataclass(frozen=True)
class _Ready:
    """A bearing that passed (or was dispositioned fit for use), waiting for a hub."""

    serial: str
    at: datetime
    vibrated: bool  # ground while its grinder exceeded the vibration limit


class _Plant:
    """The simulation: turns bearing indexes into facts, in an order the ledger accepts."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.engineer = _signer(seed, "r.okafor", "Ruth Okafor")
        self.mrb = _signer(seed, "d.lindqvist", "Dana Lindqvist")
        self.counts: Counter[str] = Counter()
        self.entries: list[_Entry] = []
        self.windows: dict[tuple[str, int], _Window] = {}
        self.emitted = dict.fromkeys(GRINDERS, -1)
        self.waiting: list[_Ready] = []
        self.certificates = {
            lot.lot: _digest(_certificate(lot, self.rng("lot", lot.lot))) for lot in LOTS
        }
        self.non_conformances = 0
        self.hubs = 0
        self.example = ""
        self._ids: set[str] = set()

    def rng(self, *names: object) -> random.Random:
        """The random generator of one simulated subject."""
        return random.Random("/".join(str(name) for name in (self.seed, *names)))

    def add(self, fact: f.Fact, at: datetime, actor: str, tag: str = "",
            sign: Signer | None = None) -> None:
        """Queue ``fact`` with a record id unique to this seed, subject, topic and tag."""
        kind, key = fact.subject
        record_id = f"seed-{self.seed}/{kind}/{key}/{fact.topic}" + (f"/{tag}" if tag else "")
        if record_id in self._ids:
            raise LedgerError(f"demo plant: record id {record_id} was produced twice")
        self._ids.add(record_id)
        self.entries.append(_Entry(fact, at, actor, record_id, sign))
        self.counts["facts"] += 1

    def take(self) -> list[_Entry]:
        """The facts queued since the last call."""
        entries, self.entries = self.entries, []
        return entries

    def summary(self, bearings: int, written: int) -> DemoSummary:
        """Counts of everything simulated so far."""
        c = self.counts
        return DemoSummary(
            seed=self.seed, designs=2, machines=len(GRINDERS), material_lots=len(LOTS),
            bearings=bearings, scrapped=c["scrapped"], quarantined=c["quarantined"],
            inspections=c["inspections"], failed_inspections=c["failed inspections"],
            non_conformances=self.non_conformances, hubs=self.hubs, shipped=c["shipped"],
            condition_windows=c["windows"], alarms=c["alarms"],
            field_reports=c["field reports"], failures=c["failures"], facts=c["facts"],
            written=written, example=self.example or "BRG-000001",
        )

    # The plant before production: designs, machines, material

    def setup(self) -> list[_Entry]:
        """Released designs, registered grinders and received material lots."""
        released = START - timedelta(days=14)
        self.add(f.RevisionReleased(
            part_number=BEARING, revision=REVISION, part_name="Deep groove ball bearing 6204",
            drawing="DWG-6204", drawing_revision="C",
            cad_digest=_digest(f"CAD model {BEARING} revision {REVISION}"),
            material_spec="100Cr6 (EN ISO 683-17), through-hardened 60-64 HRC",
            characteristics=tuple(gauging.characteristic for gauging in GAUGINGS),
        ), released, self.engineer.signer, sign=self.engineer)
        self.add(f.RevisionReleased(
            part_number=HUB, revision=REVISION, part_name="Wheel-hub assembly",
            drawing="DWG-3100", drawing_revision="A",
            cad_digest=_digest(f"CAD model {HUB} revision {REVISION}"),
            characteristics=(
                f.Characteristic(balloon="1", name="Rolling torque", nominal=1.2, unit="N.m",
                                 lower_tolerance=-0.4, upper_tolerance=0.4, designator="key"),
                f.Characteristic(balloon="2", name="Bearing complement",
                                 requirement=f"two {BEARING} rev {REVISION}, inboard and "
                                             "outboard"),
            ),
        ), released + timedelta(hours=2), self.engineer.signer, sign=self.engineer)
        for number, machine in enumerate(GRINDERS, start=1):
            self.add(f.MachineRegistered(
                machine=machine, name=f"Internal grinder {number} (Studer S121)",
                kind="internal-grinder", site=SITE, line="LINE-BRG",
            ), START - timedelta(days=10), "maintenance")
        for number, lot in enumerate(LOTS):
            self.add(f.MaterialLotReceived(
                lot=lot.lot, material="100Cr6 bearing steel tube 52x38 mm",
                specification="EN ISO 683-17", supplier=lot.supplier, heat=lot.heat,
                quantity=lot.quantity, unit="kg", certificate_number=f"3.1-{lot.heat}",
                certificate_digest=self.certificates[lot.lot],
            ), START - timedelta(days=7 - number), "receiving")
        return self.take()

    # Production: bearings, then the hubs they complete, then the machine windows they span

    def produce(self, first: int, count: int) -> list[_Entry]:
        """The facts of bearings ``first`` to ``first + count - 1`` and what they complete."""
        until = START
        for index in range(first, first + count):
            until = max(until, self.bearing(index))
        while len(self.waiting) >= 2:
            self.hub(self.waiting.pop(0), self.waiting.pop(0))
        last = _window_index(until)
        for machine in GRINDERS:
            for index in range(self.emitted[machine] + 1, last + 1):
                self.condition(self.window(machine, index))
            self.emitted[machine] = max(self.emitted[machine], last)
        return self.take()

    def window(self, machine: str, index: int) -> _Window:
        """A grinder's condition window, the same whenever it is asked for."""
        key = (machine, index)
        if key not in self.windows:
            start = START + index * WINDOW
            exceeded = machine == NOISY and self.rng("window", machine, index).random() < 0.25
            self.windows[key] = _Window(machine, index, start, start + WINDOW, exceeded)
        return self.windows[key]

    def bearing(self, index: int) -> datetime:
        """Make, gauge and disposition one bearing; return when it ended grinding."""
        serial = f"BRG-{index + 1:06d}"
        rng = self.rng("bearing", serial)
        machine = GRINDERS[index % len(GRINDERS)]
        start = START + (index // len(GRINDERS)) * SLOT + timedelta(
            seconds=40 * (index % len(GRINDERS)) + rng.randint(0, 20))
        cycle = round(rng.gauss(96.0, 3.0), 1)
        end = start + timedelta(seconds=cycle)
        window = self.window(machine, _window_index(start))
        operator = _operator(machine, start)
        lot = LOTS[(index // BEARINGS_PER_LOT) % len(LOTS)]

        self.add(f.PartRegistered(serial=serial, part_number=BEARING, revision=REVISION,
                                  work_order=f"WO-{start:%y%m%d}-BRG", site=SITE),
                 start - timedelta(minutes=20), "mes")
        self.add(f.MaterialConsumed(
            serial=serial, material_lot=lot.lot, quantity=STEEL_PER_BEARING, unit="kg",
            certificate_digest=self.certificates[lot.lot],
        ), start - timedelta(minutes=15), operator)
        self.add(f.OperationPerformed(
            serial=serial, operation="OP30-grind-bore-raceway", station="GRIND-CELL-1",
            machine=machine, operator=operator, program="BRG6204-IG", program_revision="7",
            started_at=start, ended_at=end, cycle_time_s=cycle,
        ), end, operator)
        self.add(f.ProcessRecorded(
            serial=serial, operation="OP30-grind-bore-raceway", machine=machine,
            started_at=start, ended_at=end,
            parameters=_process(rng, machine, window.exceeded, n=int(cycle // 2)),
        ), end, machine)

        if window.exceeded:
            self.counts["quarantined"] += 1
            self.add(f.Quarantined(
                serial=serial, reference=window.hold,
                reason=f"ground on {machine} while spindle vibration exceeded "
                       f"{VIBRATION_LIMIT} mm/s ({window.start:%H:%M}-{window.end:%H:%M} UTC)",
            ), window.end + timedelta(minutes=5), "quality")
        at = end + timedelta(minutes=15)
        failures = self.gauge(serial, rng, at, "first", vibrated=window.exceeded)
        scrapped, at = self.review(serial, rng, machine, failures, at)
        if window.exceeded and not scrapped:
            at = max(at, window.end) + timedelta(hours=4)
            self.add(f.ReleasedFromQuarantine(
                serial=serial, reference=window.hold,
                reason="inspection results reviewed against the vibration event; "
                       "fit for use",
            ), at, "quality")
        if not scrapped:
            self.waiting.append(_Ready(serial, at + timedelta(minutes=30), window.exceeded))
        return end

    def gauge(self, serial: str, rng: random.Random, at: datetime, tag: str, *,
              vibrated: bool = False, reground: tuple[_Gauging, ...] = ()
              ) -> list[tuple[_Gauging, float]]:
        """Measure the characteristics (only the reground ones after a rework); return the
        ones out of tolerance with their values."""
        failures: list[tuple[_Gauging, float]] = []
        for gauging in reground or GAUGINGS:
            char = gauging.characteristic
            mean, sd = gauging.mean, gauging.sd
            if reground:  # regrinding aims at the middle of the limits
                mean, sd = (gauging.low + gauging.high) / 2, sd / 2
            elif vibrated and char.balloon == "4":  # chatter roughens the raceway
                mean += 0.06
            measured = round(max(rng.gauss(mean, sd), 10.0 ** -gauging.digits), gauging.digits)
            verdict: Verdict = "pass" if char.conforms(measured) else "fail"
            if verdict == "fail":
                failures.append((gauging, measured))
            self.counts["inspections"] += 1
            self.counts["failed inspections"] += verdict == "fail"
            self.add(f.InspectionRecorded(
                serial=serial, characteristic=char.balloon, name=char.name,
                method=gauging.method, gauge=gauging.gauge, measured=measured, unit=char.unit,
                nominal=char.nominal, lower_tolerance=char.lower_tolerance,
                upper_tolerance=char.upper_tolerance, verdict=verdict,
                report=f"IR-{serial}-{tag}",
                non_conformance=self.next_nc() if verdict == "fail" else None,
            ), at, "inspector", tag=f"{tag}/{char.balloon}")
            at += timedelta(minutes=1)
        return failures

    def next_nc(self) -> str:
        """The number the next non-conformance will get."""
        return f"NC-26-{self.non_conformances + 1:04d}"

    def review(self, serial: str, rng: random.Random, machine: str,
               failures: list[tuple[_Gauging, float]], at: datetime) -> tuple[bool, datetime]:
        """Open a non-conformance for failed gauging and disposition it; True if scrapped."""
        rounds = 0
        while failures:
            rounds += 1
            nc = self.next_nc()
            self.non_conformances += 1
            decision = _decide(failures) if rounds == 1 else "scrap"
            gauging, _ = failures[0]
            at += timedelta(minutes=10)
            self.add(f.NonConformanceOpened(
                serial=serial, non_conformance=nc, characteristic=gauging.characteristic.balloon,
                description="; ".join(g.deviation(value) for g, value in failures),
                severity=_severity(failures),
            ), at, "inspector")
            at += timedelta(hours=4)
            self.add(f.DispositionRecorded(
                serial=serial, non_conformance=nc, decision=decision,
                rationale=_rationale(decision, failures), reference=f"MRB-{at:%y%m%d}",
            ), at, self.mrb.signer, sign=self.mrb)
            self.example = self.example or serial
            if decision == "scrap":
                self.counts["scrapped"] += 1
                return True, at
            if decision != "rework":
                return False, at
            at += timedelta(hours=1)
            cycle = round(rng.gauss(58.0, 3.0), 1)
            operator = _operator(machine, at)
            self.add(f.OperationPerformed(
                serial=serial, operation="OP35-rework-grind", station="GRIND-CELL-1",
                machine=machine, operator=operator, program="BRG6204-RW",
                program_revision="3", started_at=at, ended_at=at + timedelta(seconds=cycle),
                cycle_time_s=cycle,
            ), at + timedelta(seconds=cycle), operator, tag=nc)
            at += timedelta(minutes=20)
            failures = self.gauge(serial, rng, at, f"recheck-{rounds}",
                                  reground=tuple(g for g, _ in failures))
        return False, at

    # Assembly and the field

    def hub(self, inboard: _Ready, outboard: _Ready) -> None:
        """Assemble, test, ship and install one wheel hub; let it report from the field."""
        self.hubs += 1
        serial = f"HUB-{self.hubs:06d}"
        rng = self.rng("hub", serial)
        at = max(inboard.at, outboard.at) + timedelta(minutes=45)
        self.add(f.PartRegistered(serial=serial, part_number=HUB, revision=REVISION,
                                  work_order=f"WO-{at:%y%m%d}-HUB", site=SITE), at, "mes")
        for position, bearing in (("inboard", inboard), ("outboard", outboard)):
            at += timedelta(minutes=4)
            self.add(f.ComponentInstalled(serial=serial, component=bearing.serial,
                                          position=position), at, "assembler", tag=position)
        torque = round(rng.gauss(1.2, 0.08), 3)
        at += timedelta(minutes=6)
        verdict: Verdict = "pass" if 0.8 <= torque <= 1.6 else "fail"
        self.add(f.TestRecorded(
            serial=serial, procedure="TP-3100-ROT", procedure_revision="2", verdict=verdict,
            values=(f.Reading(name="rolling_torque", value=torque, unit="N.m"),
                    f.Reading(name="axial_play", value=round(rng.gauss(22.0, 3.0), 1),
                              unit="um")),
            report=f"TR-{serial}",
        ), at, "tester")
        if verdict == "fail":
            self.add(f.Quarantined(serial=serial, reason=f"rolling torque {torque} N.m outside "
                                   "0.8-1.6 N.m; held for teardown"), at, "quality")
            return

        order_number = (self.hubs - 1) // HUBS_PER_ORDER + 1
        customer = CUSTOMERS[self.rng("order", order_number).randrange(len(CUSTOMERS))]
        shipped = datetime.combine(at.date() + timedelta(days=1), datetime.min.time(), UTC)
        shipped += timedelta(hours=15)
        self.counts["shipped"] += 1
        self.add(f.Shipped(
            serial=serial, customer=customer.name, order=f"SO-26-{order_number:04d}",
            destination=customer.destination, carrier=customer.carrier,
            tracking=f"{customer.fleet}{order_number:05d}{shipped:%m%d}",
        ), shipped, "shipping")
        installed = shipped + timedelta(days=rng.randint(4, 12), hours=rng.randint(0, 8))
        self.add(f.InstalledAtSite(
            serial=serial, site=customer.site, installer=customer.installer,
            equipment=f"{customer.fleet}-{rng.randint(10000, 99999)}",
        ), installed, "field-service")
        self.field(serial, rng, installed, inboard.vibrated or outboard.vibrated)

    def field(self, serial: str, rng: random.Random, installed: datetime, vibrated: bool) -> None:
        """Performance reports and, for some hubs, a failure with its analysis."""
        failed_after = None
        if rng.random() < (0.25 if vibrated else 0.015):
            failed_after = rng.uniform(20.0, 110.0)
        hours_per_day = rng.uniform(7.0, 11.0)
        if rng.random() < 0.35:
            for days in (30, 90):
                if failed_after is not None and days >= failed_after:
                    break
                self.counts["field reports"] += 1
                self.add(f.FieldPerformanceReported(
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
        self.counts["failures"] += 1
        if vibrated and not self.example.startswith("HUB"):
            self.example = serial
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
        self.add(f.FailureReported(
            serial=serial, claim=claim, failure_mode=mode,
            operating_hours=round(failed_after * hours_per_day, 1), warranty=True,
            description=f"returned by the customer's service centre after {failed_after:.0f} days",
        ), failed, "warranty-desk")
        self.add(f.FailureAnalysisRecorded(
            serial=serial, claim=claim, method="teardown, raceway profilometry, metallography",
            root_cause=cause, conclusion=conclusion,
        ), failed + timedelta(days=14), "failure-lab")

    # The machines' own stream

    def condition(self, window: _Window) -> None:
        """A grinder's condition block for one window, with the alarms it raised."""
        rng = self.rng("condition", window.machine, window.index)
        alarms: list[tuple[str, str, Severity]] = []
        if window.exceeded:
            vibration = rng.uniform(2.8, 3.4)
            peak = VIBRATION_LIMIT + rng.uniform(0.2, 1.5)
            alarms.append(("VIB-HIGH", f"spindle vibration above {VIBRATION_LIMIT} mm/s",
                           "warning"))
        else:
            vibration = rng.uniform(1.3, 1.9)
            peak = vibration + rng.uniform(0.8, 1.8)
        if rng.random() < 0.04:
            alarms.append(("COOLANT-LVL", "coolant tank level low", "info"))
        spindle, coolant = rng.uniform(29.0, 33.0), rng.uniform(20.2, 21.0)
        samples = int(WINDOW.total_seconds())
        self.counts["windows"] += 1
        self.add(f.ConditionRecorded(
            machine=window.machine, window_start=window.start, window_end=window.end,
            metrics=(
                f.ConditionMetric(name="spindle_vibration", unit="mm/s", n=samples,
                                  min=round(vibration - rng.uniform(0.5, 0.9), 2),
                                  max=round(peak, 2), mean=round(vibration, 2),
                                  threshold=VIBRATION_LIMIT),
                f.ConditionMetric(name="spindle_temperature", unit="Cel", n=samples,
                                  min=round(spindle - 1.5, 1), max=round(spindle + 1.5, 1),
                                  mean=round(spindle, 1), threshold=45.0),
                f.ConditionMetric(name="coolant_temperature", unit="Cel", n=samples,
                                  min=round(coolant - 0.6, 1), max=round(coolant + 0.6, 1),
                                  mean=round(coolant, 1), threshold=24.0),
            ),
            alarms_active=tuple(code for code, _, _ in alarms),
            availability=round(rng.uniform(0.78, 0.88) if window.exceeded
                               else rng.uniform(0.86, 0.97), 3),
            performance=round(rng.uniform(0.90, 0.98), 3),
            quality=round(rng.uniform(0.85, 0.93) if window.exceeded
                          else rng.uniform(0.97, 1.0), 3),
        ), window.end, window.machine, tag=str(window.index))
        for code, text, severity in alarms:
            raised = window.start + timedelta(seconds=rng.randint(60, 1500))
            self.counts["alarms"] += 1
            self.add(f.AlarmRaised(
                machine=window.machine, code=code, text=text,
                severity=severity,
                raised_at=raised, cleared_at=raised + timedelta(seconds=rng.randint(120, 600)),
            ), raised, window.machine, tag=f"{window.index}/{code}")


def _window_index(at: datetime) -> int:
    return int((at - START) / WINDOW)


def _operator(machine: str, at: datetime) -> str:
    """Who runs ``machine`` in the shift of ``at`` (shifts start at 06, 14 and 22)."""
    return OPERATORS[machine][((at.hour - 6) % 24) // 8]


def _signer(seed: int, signer: str, printed_name: str) -> Signer:
    secret = hashlib.sha256(f"thread demo plant {seed} {signer}".encode()).digest()
    return Signer(signer, printed_name, Ed25519PrivateKey.from_private_bytes(secret))


def _digest(document: str) -> str:
    return "sha256:" + hashlib.sha256(document.encode()).hexdigest()


def _certificate(lot: _Lot, rng: random.Random) -> str:
    """The text of a lot's EN 10204 3.1 mill certificate (its digest is what is recorded)."""
    chemistry = {"C": (0.93, 1.05), "Si": (0.15, 0.35), "Mn": (0.25, 0.45),
                 "Cr": (1.35, 1.60), "Mo": (0.0, 0.10), "S": (0.0, 0.015)}
    lines = [
        "INSPECTION CERTIFICATE EN 10204 3.1",
        f"Certificate: 3.1-{lot.heat}",
        f"Supplier: {lot.supplier}",
        f"Heat: {lot.heat}",
        "Material: 100Cr6 / EN ISO 683-17",
        f"Quantity: {lot.quantity:.1f} kg",
        *(f"{element}: {rng.uniform(low, high):.3f} %" for element, (low, high)
          in chemistry.items()),
    ]
    return "\n".join(lines) + "\n"


def _process(rng: random.Random, machine: str, vibrated: bool, n: int) -> tuple[
        f.ParameterSummary, ...]:
    """Grinding parameters sampled every two seconds of one cycle."""
    offset = GRINDERS.index(machine) * 0.2
    series: tuple[tuple[str, str, float, float, int], ...] = (
        ("spindle_speed", "rpm", 24000.0, 35.0, 1),
        ("infeed_rate", "mm/min", 0.8, 0.01, 4),
        ("coolant_temperature", "Cel", 20.4 + offset, 0.15, 2),
        ("vibration", "mm/s", 3.2 if vibrated else 1.5 + offset, 0.5 if vibrated else 0.2, 3),
    )
    summaries = []
    for name, unit, mean, sd, digits in series:
        values = [abs(rng.gauss(mean, sd)) for _ in range(n)]
        summaries.append(f.ParameterSummary(
            name=name, unit=unit, n=n, min=round(min(values), digits),
            max=round(max(values), digits), mean=round(statistics.fmean(values), digits),
            sd=round(statistics.stdev(values), digits + 1),
        ))
    return tuple(summaries)


def _decide(failures: list[tuple[_Gauging, float]]) -> Decision:
    if all(g.rework == g.side(value) for g, value in failures):
        return "rework"
    if all(g.characteristic.designator == "none" and g.slightly_out(value)
           for g, value in failures):
        return "use-as-is"
    return "scrap"


def _severity(failures: list[tuple[_Gauging, float]]) -> Literal["minor", "major", "critical"]:
    designators = {g.characteristic.designator for g, _ in failures}
    if "critical" in designators:
        return "critical"
    return "major" if "key" in designators else "minor"


def _rationale(decision: Decision, failures: list[tuple[_Gauging, float]]) -> str:
    names = ", ".join(g.characteristic.name for g, _ in failures)
    if decision == "rework":
        return f"{names}: material left on the ground surface; regrind to mid-tolerance"
    if decision == "use-as-is":
        return f"{names}: deviation within a quarter of the tolerance band on a minor feature"
    return f"{names}: cannot be recovered by regrinding"
