"""Wheel hubs in service until the simulation's today: operating hours from the field, the
lives of their bearings and seals, warranty claims and what the failure lab finds.

Each bearing has a life in operating hours, drawn from its own generator. A sound bearing
dies of rolling-contact fatigue, rarely in the first months (a Weibull life of some 40,000
hours), on every grinder alike. A bearing ground on GR-02 while its spindle bearing failed
carries chatter marks on its raceway and spalls after a few thousand hours, the sooner the
worse the vibration was. A few hubs have their seal lip cut at installation and leak
grease. The first of these to run out ends a hub's service, if it does before TODAY; the
other hubs are still running (right-censored).

A failure is the customer's warranty claim on the hub (FailureReported with operating
hours), then the failure lab's teardown (FailureAnalysisRecorded on the hub) and, when a
bearing caused it, a FailureReported on that bearing under the same claim, with the hub's
hours and the moment it failed: how the failure is attributed to the bearing, and so to
its grinder, shift and steel. A teardown not finished by TODAY leaves the claim open.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from thread.demo.catalogue import TODAY, Customer
from thread.demo.grinding import Ready
from thread.demo.journal import Journal
from thread.domain import facts as f

#: Weibull shape and scale (operating hours) of a sound bearing's fatigue life.
FATIGUE = (1.5, 30_000.0)
#: Weibull shape of a bearing with chatter marks, and its scale when ground as the spindle
#: bearing began to fail and just before it was replaced.
CHATTER = (2.0, 6_500.0, 3_500.0)
#: Share of hubs whose seal lip is cut at installation; operating hours until they leak.
SEAL_CUT = 0.03
SEAL_LEAK = (150.0, 1_200.0)
#: Share of hubs whose vehicle reports over telematics, and how often.
TELEMATICS = 0.85
REPORTING = timedelta(days=30)
TEARDOWN = "teardown, raceway profilometry, metallography"


@dataclass(frozen=True)
class Failure:
    """What ends a hub's service, after how many operating hours, and what the lab finds."""

    hours: float
    position: str  # inboard, outboard (a bearing) or seal
    bearing: Ready | None
    mode: str  # the failure mode the lab names
    root_cause: str
    conclusion: str


def bearing_life(journal: Journal, position: str, bearing: Ready) -> Failure:
    """How long ``bearing`` lasts in service, and how it fails."""
    rng = journal.rng("life", bearing.serial)
    if bearing.chatter is None:
        shape, scale = FATIGUE
        mode = rng.choice(("inner raceway spalling", "outer raceway spalling"))
        cause = ("subsurface-initiated rolling contact fatigue; raceway geometry, roughness "
                 "and hardness as specified")
        conclusion = "fatigue within the expected life distribution; not a manufacturing defect"
    else:
        shape, first, last = CHATTER
        scale = first + (last - first) * bearing.chatter
        mode = "inner raceway spalling"
        cause = ("spalling started at regularly spaced chatter marks (waviness) on the inner "
                 "raceway, left by grinding")
        conclusion = "manufacturing defect (grinding chatter); grinding records to be reviewed"
    return Failure(rng.weibullvariate(scale, shape), position, bearing, mode,
                   f"{position} bearing {bearing.serial}: {cause}", conclusion)


class Service:
    """Follows installed hubs through the field up to TODAY."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.example_rank = 0

    def follow(self, hub: str, rng: random.Random, customer: Customer, equipment: str,
               installed: datetime, bearings: dict[str, Ready]) -> None:
        """Field reports of an installed hub and, if it fails by TODAY, its claim."""
        per_day = rng.uniform(*customer.hours_per_day)
        ends = [bearing_life(self.journal, position, bearing)
                for position, bearing in bearings.items()]
        if rng.random() < SEAL_CUT:
            ends.append(Failure(rng.uniform(*SEAL_LEAK), "seal", None,
                                "seal lip cut, grease loss",
                                "seal lip cut during hub installation; bearings sound apart "
                                "from grease loss",
                                "installation damage; not a manufacturing defect"))
        end = min(ends, key=lambda failure: failure.hours)
        failed = installed + timedelta(days=end.hours / per_day)
        if rng.random() < TELEMATICS:
            chatter = any(bearing.chatter is not None for bearing in bearings.values())
            self.reports(hub, rng, installed, per_day, end, min(failed, TODAY), chatter)
        if failed <= TODAY:
            self.claim(hub, rng, customer, equipment, installed, failed, end)

    def reports(self, hub: str, rng: random.Random, installed: datetime, per_day: float,
                end: Failure, until: datetime, chatter: bool) -> None:
        """Monthly operating hours and readings until ``until``; a bearing near the end of
        its life runs hotter and rougher."""
        for month in itertools.count(1):
            at = installed + month * REPORTING
            if at >= until:
                return
            hours = month * REPORTING.days * per_day
            distress = 0.0 if end.bearing is None else max(0.0, hours / end.hours - 0.8) / 0.2
            self.journal.counts["field reports"] += 1
            self.journal.add(f.FieldPerformanceReported(
                serial=hub, operating_hours=round(hours, 1),
                readings=(
                    f.Reading(name="hub_temperature", unit="Cel",
                              value=round(rng.gauss(48.0, 4.0) + 12.0 * distress, 1)),
                    f.Reading(name="vibration", unit="mm/s", value=round(
                        rng.gauss(1.1, 0.15) + 0.3 * chatter + 2.5 * distress, 2)),
                ),
            ), at, "telematics", tag=f"month-{month}")

    def claim(self, hub: str, rng: random.Random, customer: Customer, equipment: str,
              installed: datetime, failed: datetime, end: Failure) -> None:
        """The customer's warranty claim, and the failure lab's teardown if done by TODAY."""
        journal = self.journal
        claim = f"WC-{hub}"
        hours = round(end.hours, 1)
        journal.counts["failures"] += 1
        journal.add(f.FailureReported(
            serial=hub, claim=claim, operating_hours=hours, warranty=True,
            failure_mode=("grease leak at the hub seal" if end.bearing is None
                          else "wheel-end noise and rising hub temperature"),
            description=f"{customer.name}: removed from {equipment} after "
                        f"{(failed - installed).days} days in service",
        ), failed, "warranty-desk")
        analysed = failed + timedelta(days=rng.randint(10, 21))
        if analysed > TODAY:
            return
        journal.add(f.FailureAnalysisRecorded(
            serial=hub, claim=claim, method=TEARDOWN, root_cause=end.root_cause,
            conclusion=end.conclusion,
        ), analysed, "failure-lab")
        if end.bearing is None:
            return
        # The bearing failed when the hub did; the lab's teardown is what tells which one.
        journal.counts["bearing failures"] += 1
        journal.add(f.FailureReported(
            serial=end.bearing.serial, claim=claim, failure_mode=end.mode,
            operating_hours=hours, warranty=True,
            description=f"found in the teardown of {hub} ({end.position} position) on "
                        f"{analysed:%Y-%m-%d}",
        ), failed, "failure-lab")
        # The example: a hub whose bearing failed from chatter, best one that was held after
        # a vibration alarm and released (the whole loop in one story).
        rank = 0 if end.bearing.chatter is None else 1 + end.bearing.held
        if rank > self.example_rank:
            self.example_rank = rank
            journal.example = hub
