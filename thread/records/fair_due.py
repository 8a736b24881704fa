"""When a new FAI is due: design change, process, program or location change, lapse.

AS9102 asks for a new (full or partial) FAI after a design change; a change
of manufacturing process, NC program, tooling or location; or a production
lapse of more than two years. Each is visible in the ledger, so each is a
check here with the events that show it.
"""

from __future__ import annotations

import itertools

from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.records.evidence import moment
from thread.records.fair_context import FirstArticle, add_years
from thread.records.fair_record import DueKind, DueReason, FaiDue, Form3
from thread.records.units import requirement

#: Operation attributes whose change in later production makes a new FAI due.
_WATCHED = ("station", "machine", "program", "program_revision")


class DueAnalysis(FirstArticle):
    """Judges whether a new FAI is due for the first article."""

    def fai_due(self, form3: Form3) -> FaiDue:
        self.derive("FAI due", "RevisionReleased and ChangeOrderIssued after the first article "
                    "(design); OperationPerformed and PartRegistered.site of later serials "
                    "against the first article's (process, program, location); production "
                    "dates of every serial of the revision (lapse over two years)")
        reasons: list[DueReason] = []
        checked: list[str] = []
        reasons += self.design_changes(checked)
        reasons += self.process_changes(checked)
        reasons += self.lapses(checked)
        incomplete = [row for row in form3.rows if row.on_drawing and not row.conforms]
        if incomplete:
            reasons.append(DueReason(
                kind="incomplete", finding="the first article has no conforming result for "
                "characteristic(s) " + ", ".join(row.balloon for row in incomplete)
                + ": the FAI stays open until a partial FAI verifies them",
                first_serial=self.serial, at=None, serials=1,
                evidence=tuple(ref for row in incomplete for fld in row.fields
                               if fld.number == "9" for ref in fld.evidence)))
        checked.append(f"first article: {len(form3.rows)} Form 3 rows, "
                       f"{len(incomplete)} without a conforming result")
        return FaiDue(due=bool(reasons), evaluated_at=self.evaluated_at, reasons=tuple(reasons),
                      checked=tuple(checked))

    def design_changes(self, checked: list[str]) -> list[DueReason]:
        reasons = []
        later = [(e, r) for e, r in self.design.facts(f.RevisionReleased)
                 if e.originator_version > self.release_event.originator_version]
        for event, release in later:
            changes = _characteristic_changes(self.release, release)
            reasons.append(DueReason(
                kind="design", finding=f"revision {release.revision} released "
                f"{moment(event.occurred_at)}" + (f" under {release.change_order}"
                                                   if release.change_order else "")
                + f": a new FAI is due for revision {release.revision}"
                + (f" (changed characteristics: {changes})" if changes else ""),
                first_serial=None, at=event.occurred_at, serials=0,
                evidence=(self.reader.ref(self.design, event),)))
        orders = [(e, o) for e, o in self.design.facts(f.ChangeOrderIssued)
                  if self.revision in o.affected_revisions and e.occurred_at > self.produced]
        for event, order in orders:
            reasons.append(DueReason(
                kind="design", finding=f"change order {order.change_order} ({order.title}) "
                f"affects revision {self.revision}, issued {moment(event.occurred_at)} after "
                "the first article" + (f"; new revision {order.new_revision}"
                                       if order.new_revision else ""),
                first_serial=None, at=event.occurred_at, serials=0,
                evidence=(self.reader.ref(self.design, event),)))
        checked.append(f"design: revision {self.revision} released "
                       f"{moment(self.release_event.occurred_at)}; {len(later)} later "
                       f"revision(s); {len(orders)} change order(s) on revision "
                       f"{self.revision} after the first article")
        return reasons

    def process_changes(self, checked: list[str]) -> list[DueReason]:
        baseline: dict[str, tuple[Recorded, f.OperationPerformed]] = {}
        for event, operation in self.stream.facts(f.OperationPerformed):
            baseline.setdefault(operation.operation, (event, operation))
        site = self.registration.site
        later = [s for s in self.production.serials
                 if s != self.serial and self.production.produced[s] > self.produced]
        found: dict[tuple[str, str, str], list[tuple[str, Recorded]]] = {}
        for serial in later:
            stream = self.production.streams[serial]
            registration = stream.first(f.PartRegistered)
            if registration is not None and registration[1].site != site:
                found.setdefault(("", "site", str(registration[1].site)), []).append(
                    (serial, registration[0]))
            mrb = [e.occurred_at for e, d in stream.facts(f.DispositionRecorded)
                   if d.decision in ("rework", "repair")]
            for event, operation in stream.facts(f.OperationPerformed):
                base = baseline.get(operation.operation)
                if base is None:
                    if any(at <= operation.started_at for at in mrb):
                        continue  # rework or repair under a signed disposition, not a process
                    found.setdefault((operation.operation, "added", ""), []).append(
                        (serial, event))
                    continue
                for attribute in _WATCHED:
                    now, then = getattr(operation, attribute), getattr(base[1], attribute)
                    if now != then:
                        found.setdefault((operation.operation, attribute, str(now)), []).append(
                            (serial, event))
        reasons = []
        for (name, attribute, value), hits in found.items():
            first_serial, event = hits[0]
            stream = self.production.streams[first_serial]
            refs = [self.reader.ref(stream, event)]
            if attribute == "site":
                kind: DueKind = "location"
                finding = f"made at site {value} (first article: {site or 'not recorded'})"
            elif attribute == "added":
                kind = "process"
                finding = f"operation {name} was not part of the first article"
            else:
                base_event, first_operation = baseline[name]
                refs.insert(0, self.ref(base_event))
                kind = "program" if attribute.startswith("program") else "process"
                label = attribute.replace("_", " ")
                finding = (f"{name} ran with {label} {value} (first article: "
                           f"{getattr(first_operation, attribute) or 'not recorded'})")
            reasons.append(DueReason(
                kind=kind, finding=f"{finding}, first on {first_serial} "
                f"{moment(self.production.produced[first_serial])}; {len(hits)} serial(s)",
                first_serial=first_serial, at=self.production.produced[first_serial],
                serials=len({s for s, _ in hits}), evidence=tuple(refs)))
        reasons.sort(key=lambda r: (r.at or self.produced, r.kind, r.finding))
        checked.append(f"process: {len(later)} later serial(s) compared with the first article "
                       f"on {', '.join(a.replace('_', ' ') for a in _WATCHED)} of "
                       f"{len(baseline)} operation(s), and on site")
        return reasons

    def lapses(self, checked: list[str]) -> list[DueReason]:
        produced = self.production.produced
        order = sorted((s for s in self.production.serials if produced[s] >= self.produced),
                       key=lambda s: (produced[s], s))
        reasons = []
        longest = 0
        for before, after in itertools.pairwise(order):
            gap = produced[after] - produced[before]
            longest = max(longest, gap.days)
            if produced[after] > add_years(produced[before], 2):
                stream = self.production.streams[after]
                reasons.append(DueReason(
                    kind="lapse", finding=f"production resumed with {after} "
                    f"{moment(produced[after])} after {gap.days} days without production "
                    f"(previous: {before} {moment(produced[before])}); a new FAI was due "
                    "before it", first_serial=after, at=produced[after], serials=1,
                    evidence=(self.reader.ref(stream, stream.events[0]),)))
        last = order[-1]
        idle = self.evaluated_at - produced[last]
        if self.evaluated_at > add_years(produced[last], 2):
            stream = self.production.streams[last]
            reasons.append(DueReason(
                kind="lapse", finding=f"no production since {last} {moment(produced[last])}, "
                f"{idle.days} days before {moment(self.evaluated_at)}: the next production "
                "needs a new FAI", first_serial=None, at=produced[last], serials=0,
                evidence=(self.reader.ref(stream, stream.events[0]),)))
        checked.append(f"lapse: {len(order)} serial(s) produced from {moment(self.produced)} to "
                       f"{moment(produced[last])}; longest gap {longest} days; evaluated at "
                       f"{moment(self.evaluated_at)} ({max(idle.days, 0)} days after the last)")
        return reasons


def _characteristic_changes(old: f.RevisionReleased, new: f.RevisionReleased) -> str:
    """Which balloons a new revision adds, removes or changes, for a partial FAI."""
    before = {c.balloon: c for c in old.characteristics}
    after = {c.balloon: c for c in new.characteristics}
    notes = [f"{b} added" for b in after if b not in before]
    notes += [f"{b} removed" for b in before if b not in after]
    for balloon, char in after.items():
        previous = before.get(balloon)
        if previous is not None and previous != char:
            was = requirement(previous.nominal, previous.lower_tolerance,
                              previous.upper_tolerance, previous.unit, previous.requirement,
                              previous.name)
            now = requirement(char.nominal, char.lower_tolerance, char.upper_tolerance,
                              char.unit, char.requirement, char.name)
            notes.append(f"{balloon}: {was} -> {now}" if was != now else f"{balloon} changed")
    return ", ".join(notes)

