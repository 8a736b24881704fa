"""How a characteristic of a released revision is verified on a unit: one rule, which the
DHR's acceptance records and the FAIR's Form 3 both apply.

A characteristic is verified by three kinds of evidence, all facts of the unit itself:

- **inspection**: an ``InspectionRecorded`` naming its balloon. The latest current result
  decides; a failed result is accepted only by a use-as-is or accept disposition of its
  non-conformance (the one the result names, else one opened against the balloon).
- **functional test**: a ``TestRecorded`` reading named for the characteristic: by its
  balloon, or by its name in any case with spaces, hyphens or underscores between the words
  (the reading ``rolling_torque`` names "Rolling torque"). The reading conforms when its
  value, converted exactly to the characteristic's unit, lies in the tolerance band, ends
  included: the rule inspections are held to (:mod:`thread.domain.conformance`). A
  characteristic stated as text takes the test's verdict. The latest test naming it decides.
- **installed component**: a characteristic whose requirement text names a part number (one
  released in this ledger, or one of the unit's installed components), as in "two BRG-6204
  rev A, inboard and outboard", is verified by the components installed in the unit and not
  removed: as many as the text says (a numeral or a number word just before the part number;
  one when it says none), of that part number, of the revision the text names after it
  ("rev A"), each acceptable itself (not scrapped, not on hold, no open non-conformance).

The characteristic is accepted when it has evidence and the deciding result of every kind it
has conforms: a failed test is not outweighed by a passed inspection. Without evidence it is
not verified, and the record says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.domain.conformance import Requirement, UnitError, convert, verdict
from thread.domain.facts.quality import Verdict
from thread.domain.part import Part
from thread.records.evidence import EventRef, Model, Reader, Stream
from thread.records.units import quantity

__all__ = ["Verification", "VerificationResult", "Verifier"]

Kind = Literal["inspection", "test", "component"]
#: Decisions that accept a failed result as it is.
ACCEPTING = ("use-as-is", "accept")
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]|[A-Za-z0-9]")
_REVISION = re.compile(r"\s*,?\s*rev(?:ision)?\.?\s+([A-Za-z0-9][A-Za-z0-9._-]*)", re.IGNORECASE)


class VerificationResult(Model):
    """One result that verifies (or fails to verify) a characteristic on the unit."""

    kind: Kind
    measured: str | None  # the value, or the component and its position
    verdict: Verdict
    method: str  # cmm, gauge, ... for an inspection; "functional test"; "installed"
    gauge: str | None
    program: str | None  # the CMM program, or the test procedure and its revision
    report: str | None
    non_conformance: str | None
    note: str | None = None  # why a test reading or a component does not conform
    occurred_at: datetime
    event: EventRef

    @property
    def tooling(self) -> str:
        """How the result was obtained, as Form 3 field 10 prints it."""
        if self.kind == "test":
            return f"functional test {self.program}"
        if self.kind == "component":
            return "assembly: installed components"
        return (" ".join(x for x in (self.method, self.gauge) if x)
                + (f", program {self.program} (revision not recorded)" if self.program else ""))


@dataclass(frozen=True)
class Verification:
    """Whether one characteristic is verified on the unit, how, and by which results."""

    balloon: str
    results: tuple[VerificationResult, ...]  # every result of every kind, oldest first
    kinds: tuple[str, ...]  # how it was verified: "inspection", "functional test TP-9 rev B"
    final: str | None  # the deciding results
    accepted: bool
    status: str
    disposition: tuple[Recorded, f.DispositionRecorded] | None  # accepting or refusing a failure
    evidence: tuple[EventRef, ...]

    @property
    def verified_by(self) -> str:
        """How the characteristic was verified, in a few words."""
        return " and ".join(self.kinds) or "nothing recorded"


@dataclass(frozen=True)
class _Outcome:
    """The deciding result of one kind of evidence."""

    kind: str
    final: str | None
    accepted: bool
    status: str
    refs: tuple[EventRef, ...] = ()
    disposition: tuple[Recorded, f.DispositionRecorded] | None = None


class Verifier:
    """Applies the rule to the characteristics of one unit, from its facts as of the cutoff."""

    def __init__(self, reader: Reader, stream: Stream) -> None:
        self.reader = reader
        self.stream = stream
        self.inspections = sorted(stream.facts(f.InspectionRecorded),
                                  key=lambda pair: pair[0].occurred_at)
        self.tests = sorted(stream.facts(f.TestRecorded), key=lambda pair: pair[0].occurred_at)
        self.opened = stream.facts(f.NonConformanceOpened)
        self.decided = {d.non_conformance: (e, d)
                        for e, d in stream.facts(f.DispositionRecorded)}
        self._components: list[_Component] | None = None

    def verify(self, char: f.Characteristic) -> Verification:
        """Whether ``char`` is verified on the unit, by the rule in this module's docstring."""
        results: list[VerificationResult] = []
        outcomes: list[_Outcome] = []
        for kind in (self._inspection, self._test, self._component):
            found = kind(char)
            if found is not None:
                outcome, kind_results = found
                outcomes.append(outcome)
                results += kind_results
        results.sort(key=lambda r: r.occurred_at)
        refs = [r.event for r in results] + [ref for o in outcomes for ref in o.refs]
        if not outcomes:
            return Verification(
                balloon=char.balloon, results=(), kinds=(), final=None, accepted=False,
                status="not inspected: no result recorded", disposition=None, evidence=())
        refused = [o for o in outcomes if not o.accepted]
        status = ("; ".join(o.status for o in refused) if refused
                  else "; ".join(dict.fromkeys(o.status for o in outcomes)))
        return Verification(
            balloon=char.balloon, results=tuple(results),
            kinds=tuple(o.kind for o in outcomes),
            final="; ".join(o.final for o in outcomes if o.final) or None,
            accepted=not refused, status=status,
            disposition=next((o.disposition for o in outcomes if o.disposition), None),
            evidence=tuple(dict.fromkeys(refs)))

    def ref(self, event: Recorded) -> EventRef:
        return self.reader.ref(self.stream, event)

    # Inspection

    def _inspection(self, char: f.Characteristic
                    ) -> tuple[_Outcome, list[VerificationResult]] | None:
        found = [(e, r) for e, r in self.inspections if r.characteristic == char.balloon]
        if not found:
            return None
        results = [VerificationResult(
            kind="inspection", measured=quantity(r.measured, r.unit)
            if r.measured is not None else None, verdict=r.verdict, method=r.method,
            gauge=r.gauge, program=r.program, report=r.report,
            non_conformance=r.non_conformance, occurred_at=e.occurred_at, event=self.ref(e),
            note=None if r.verdict_reason is None else f"verdict kept: {r.verdict_reason}")
            for e, r in found]
        last = results[-1]
        final = last.measured or last.verdict
        if last.verdict == "pass":
            return _Outcome("inspection", final, True, "accepted"), results
        nc = last.non_conformance or next(
            (o.non_conformance for _, o in self.opened if o.characteristic == char.balloon), None)
        disposition = self.decided.get(nc) if nc else None
        decision = disposition[1].decision if disposition else None
        accepted = decision in ACCEPTING
        status = (f"accepted under {nc} ({decision}, signed MRB disposition)" if accepted
                  else f"rejected: {nc} dispositioned {decision}" if decision
                  else f"rejected: {nc} open" if nc
                  else "rejected: failed with no non-conformance recorded")
        refs = (self.ref(disposition[0]),) if disposition else ()
        return _Outcome("inspection", final, accepted, status, refs, disposition), results

    # Functional test

    def _test(self, char: f.Characteristic) -> tuple[_Outcome, list[VerificationResult]] | None:
        wanted = {_name(char.balloon), _name(char.name)}
        results: list[VerificationResult] = []
        deciding: list[VerificationResult] = []
        for event, test in self.tests:
            readings = [r for r in test.values if _name(r.name) in wanted]
            if not readings:
                continue
            procedure = test.procedure + (f" rev {test.procedure_revision}"
                                          if test.procedure_revision else "")
            deciding = []
            for reading in readings:
                conforms, note = _reading_conforms(reading, char, test.verdict)
                deciding.append(VerificationResult(
                    kind="test", measured=quantity(reading.value, reading.unit),
                    verdict=conforms, method="functional test", gauge=None, program=procedure,
                    report=test.report, non_conformance=None, note=note,
                    occurred_at=event.occurred_at, event=self.ref(event)))
            results += deciding
        if not deciding:
            return None
        failed = [r for r in deciding if r.verdict == "fail"]
        latest = deciding[-1].program
        final = ", ".join(r.measured or "" for r in deciding)
        status = ("accepted" if not failed else f"rejected: functional test {latest} "
                  + "; ".join(r.note or f"{r.measured} outside the requirement" for r in failed))
        return _Outcome(f"functional test {latest}", final, not failed, status), results

    # Installed components

    def _component(self, char: f.Characteristic
                   ) -> tuple[_Outcome, list[VerificationResult]] | None:
        if char.requirement is None:
            return None
        wanted = self._required_part(char.requirement)
        if wanted is None:
            return None
        part_number, revision, count = wanted
        label = part_number + (f" rev {revision}" if revision else "")
        matching = [c for c in self.components() if c.part_number == part_number]
        results = []
        for c in matching:
            problems = list(c.problems)
            if revision is not None and c.revision != revision:
                problems.insert(0, f"revision {c.revision}, not {revision}")
            results.append(VerificationResult(
                kind="component", measured=c.serial + (f" ({c.position})" if c.position else ""),
                verdict="fail" if problems else "pass", method="installed", gauge=None,
                program=None, report=None, non_conformance=None,
                note="; ".join(problems) or None, occurred_at=c.event.occurred_at,
                event=self.ref(c.event)))
        good = [r for r in results if r.verdict == "pass"]
        refs = tuple(ref for c in matching for ref in c.refs)
        final = f"{len(good)} {label} installed"
        if len(good) == count and len(results) == count:
            return _Outcome("installed components", final, True, "accepted", refs), results
        problems = [f"{r.measured}: {r.note}" for r in results if r.note]
        status = (f"rejected: {len(good)} acceptable {label} installed, the requirement asks "
                  f"for {count}" + (f" ({'; '.join(problems)})" if problems else ""))
        return _Outcome("installed components", final, False, status, refs), results

    def _required_part(self, text: str) -> tuple[str, str | None, int] | None:
        """The part number a requirement text names, the revision after it and the count
        before it."""
        installed = {c.part_number for c in self.components()}
        tokens = list(_TOKEN.finditer(text))
        for index, token in enumerate(tokens):
            part_number = token.group()
            if not any(ch.isdigit() for ch in part_number):
                continue  # words, not part numbers: spares a lookup per word
            if part_number not in installed and self.reader.stream("design", part_number) is None:
                continue
            before = tokens[index - 1].group().lower() if index else ""
            count = int(before) if before.isdigit() else _WORDS.get(before, 1)
            after = _REVISION.match(text, token.end())
            return part_number, after.group(1) if after else None, count
        return None

    def components(self) -> list[_Component]:
        """The components installed in the unit and not removed, each with its own state."""
        if self._components is None:
            self._components = []
            removed = {fact.component for _, fact in self.stream.facts(f.ComponentRemoved)}
            for event, installed in self.stream.facts(f.ComponentInstalled):
                if installed.component not in removed:
                    self._components.append(_Component.of(self.reader, event, installed))
        return self._components


@dataclass(frozen=True)
class _Component:
    """A component installed in the unit: what it is and what keeps it from counting."""

    serial: str
    position: str | None
    part_number: str | None
    revision: str | None
    problems: tuple[str, ...]
    event: Recorded
    refs: tuple[EventRef, ...]

    @classmethod
    def of(cls, reader: Reader, event: Recorded, installed: f.ComponentInstalled
           ) -> _Component:
        stream = reader.stream("part", installed.component)
        registration = stream.first(f.PartRegistered) if stream else None
        if stream is None or registration is None:
            return cls(installed.component, installed.position, None, None,
                       ("not registered in this copy",), event, ())
        state = cast(Part, Part.replay(installed.component, stream.events))
        problems = (["scrapped"] if state.scrapped else []) + (
            ["on hold (quarantined)"] if state.quarantined else []) + (
            [f"open non-conformance {', '.join(state.open_non_conformances)}"]
            if state.open_non_conformances else [])
        reg = registration[1]
        return cls(installed.component, installed.position, reg.part_number, reg.revision,
                   tuple(problems), event, (reader.ref(stream, registration[0]),))


def _name(text: str) -> str:
    """A name compared without case or word separators: "Rolling torque" ~ "rolling_torque"."""
    return "_".join(re.split(r"[\s_-]+", text.strip().lower()))


def _reading_conforms(reading: f.Reading, char: f.Characteristic,
                      test_verdict: Verdict) -> tuple[Verdict, str | None]:
    """A test reading against the characteristic's band, or the test's verdict for a
    characteristic stated as text."""
    if char.nominal is None or char.unit is None:
        return test_verdict, None if test_verdict == "pass" else "the test failed"
    band = Requirement(char.unit, char.nominal, float(char.lower_tolerance or 0),
                       float(char.upper_tolerance or 0))
    try:
        value = convert(reading.value, reading.unit, char.unit)
    except UnitError:
        return "fail", (f"{reading.name} is in {reading.unit}, which cannot measure a "
                        f"characteristic in {char.unit}")
    found = verdict(value, band)
    return found, None if found == "pass" else (
        f"{quantity(reading.value, reading.unit)} outside {quantity(band.low, band.unit)} to "
        f"{quantity(band.high, band.unit)}")
