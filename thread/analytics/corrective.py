"""The corrective loop, from a finding: quarantine, CAPA, recall, machine changes, the check
that it worked, and the CAPA's closure, each a signed fact.

Every step is a separate call, so a quality engineer (or ``thread investigate --act``)
decides each one; every fact is signed with the given signer (who, when, meaning).

- :func:`quarantine` holds each serial of the finding's scope still in the plant;
- :func:`open_capa` opens a CAPA on each serial of the finding, naming the finding and
  the SHA-256 of its evidence;
- :func:`recall` computes the scope with :meth:`~thread.ledger.Ledger.recall_scope`
  (so the two always agree) and records the recall on each shipped serial and on
  its top assembly;
- :func:`change_limit` and :func:`schedule_maintenance` record what changes on the
  machine;
- :func:`effectiveness` measures, with the same statistics as the finding, whether
  the parts the machine made after the action fail in line with the rest;
- :func:`close_capa` closes the CAPA on each serial with that check's verdict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import computed_field

from thread.analytics.patterns import Finding, service_lives
from thread.analytics.rates import PER, elevated_p, ratio_interval
from thread.domain import facts as f
from thread.errors import LedgerError
from thread.read.result import Model

if TYPE_CHECKING:
    from thread.domain.facts.base import Fact
    from thread.domain.facts.records import Meaning
    from thread.domain.signature import Signer
    from thread.ledger import Ledger, Receipt
    from thread.read.clock import TimeAxis
    from thread.read.recall import RecallScope

#: Source every corrective-loop fact names; record ids make each step idempotent.
SOURCE = "investigation"


class Effectiveness(Model):
    """Whether the parts ``machine`` made since the action fail in line with the rest.

    ``p_value``: that their rate is still higher than the rest's; ``p_improved``: that the
    finding's rate was higher than theirs (both the finding's exact conditional test).
    """

    finding: str
    machine: str
    since: datetime
    at: datetime
    units: int
    failures: int
    unit_hours: float
    rate: float | None
    rest_units: int
    rest_failures: int
    rest_unit_hours: float
    rest_rate: float | None
    rate_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float
    before_failures: int
    before_unit_hours: float
    p_improved: float
    alpha: float
    verdict: Literal["effective", "not effective", "not yet known"]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def evidence_digest(self) -> str:
        """SHA-256 of the check's evidence, recorded when the CAPA closes."""
        body = self.model_dump_json(exclude={"evidence_digest"})
        return hashlib.sha256(body.encode()).hexdigest()


def _record(ledger: Ledger, facts: Sequence[Fact], signer: Signer, meaning: Meaning,
            record: str, at: datetime | None) -> list[Receipt]:
    """Record and sign ``facts`` in one batch; the same step again writes nothing."""
    with ledger.batch(actor=signer.signer, source=SOURCE) as batch:
        for fact in facts:
            kind, key = fact.subject
            batch.record(fact, occurred_at=at, sign=signer, meaning=meaning,
                         source_record_id=f"{record}/{kind}/{key}")
    return batch.receipts


def _window(finding: Finding) -> tuple[str, datetime, datetime]:
    if finding.machine is None or finding.start is None or finding.end is None:
        raise LedgerError(f"finding {finding.id} is not a machine window; the corrective loop "
                          f"acts on a machine and a production window")
    return finding.machine, finding.start, finding.end


def quarantine(ledger: Ledger, finding: Finding, *, signer: Signer, capa: str | None = None,
               where: str | None = None, at: datetime | None = None) -> list[Receipt]:
    """Hold every serial of the finding's scope that is still in the plant (and not held)."""
    machine, start, end = _window(finding)
    scope = ledger.recall_scope(machine=machine, start=start, end=end, where=where)
    held = [f.Quarantined(serial=item.key, reference=capa,
                          reason=f"finding {finding.id}: made on {machine} in the window "
                                 f"whose field-failure rate is {_times(finding)} the rest")
            for item in scope.affected
            if item.kind == "part" and item.in_plant and not item.quarantined]
    return _record(ledger, held, signer, "approval", f"quarantine/{finding.id}", at)


def open_capa(ledger: Ledger, finding: Finding, *, capa: str, signer: Signer,
              owner: str | None = None, problem: str | None = None,
              at: datetime | None = None) -> list[Receipt]:
    """Open ``capa`` on every serial of the finding, naming it and its evidence digest."""
    text = problem or (
        f"field-failure rate {finding.rate:.0f} per million unit-hours, {_times(finding)} the "
        f"rest (q = {finding.q_value:.2g}), for parts made on {finding.machine or finding.id}")
    opened = [f.CorrectiveActionOpened(serial=serial, capa=capa, problem=text, owner=owner,
                                       finding=finding.id,
                                       evidence_digest=f"sha256:{finding.evidence_digest}")
              for serial in finding.serials]
    return _record(ledger, opened, signer, "responsibility", f"capa/{capa}/opened", at)


def recall(ledger: Ledger, finding: Finding, *, recall_id: str, signer: Signer,
           where: str | None = None, reason: str | None = None,
           at: datetime | None = None) -> tuple[RecallScope, list[Receipt]]:
    """Record ``recall_id`` on every shipped serial in scope and on its top assembly."""
    machine, start, end = _window(finding)
    scope = ledger.recall_scope(machine=machine, start=start, end=end, where=where)
    text = reason or f"finding {finding.id}: made on {machine} from {start:%Y-%m-%d} to " \
                     f"{end:%Y-%m-%d}" + (f" where {where}" if where else "")
    keys: dict[str, None] = {}
    for item in scope.affected:
        if item.kind == "part" and item.state in ("shipped", "installed at site"):
            keys[item.key] = None
            if item.contained_in:
                keys[item.contained_in[-1]] = None
    recalled = [f.Recalled(serial=key, recall=recall_id, reason=text) for key in keys]
    return scope, _record(ledger, recalled, signer, "approval", f"recall/{recall_id}", at)


def change_limit(ledger: Ledger, *, machine: str, metric: str, threshold: float, unit: str,
                 reason: str, signer: Signer, capa: str | None = None,
                 previous: float | None = None, at: datetime | None = None) -> list[Receipt]:
    """Record a new alarm limit for a machine's condition metric."""
    fact = f.ConditionLimitChanged(machine=machine, metric=metric, threshold=threshold,
                                   unit=unit, previous=previous, reason=reason, reference=capa)
    return _record(ledger, [fact], signer, "approval",
                   f"limit/{machine}/{metric}/{capa or threshold}", at)


def schedule_maintenance(ledger: Ledger, *, machine: str, due: datetime, description: str,
                         signer: Signer, work_order: str | None = None,
                         capa: str | None = None, at: datetime | None = None
                         ) -> list[Receipt]:
    """Record maintenance planned on a machine."""
    fact = f.MaintenanceScheduled(machine=machine, kind="corrective", due=due,
                                  description=description, work_order=work_order,
                                  reference=capa)
    return _record(ledger, [fact], signer, "approval",
                   f"maintenance/{machine}/{work_order or due.isoformat()}", at)


def effectiveness(ledger: Ledger, finding: Finding, *, part_number: str, since: datetime,
                  alpha: float = 0.05, confidence: float = 0.95,
                  as_of: datetime | None = None, by: TimeAxis = "recorded") -> Effectiveness:
    """The machine's parts made since ``since`` against the others made since then, per
    unit-hour, by the finding's test: *not effective* while their rate is still higher than
    the rest's at ``alpha``; *effective* when it is not, and it is lower than the finding's
    rate at ``alpha`` (the action changed something); otherwise *not yet known* (too few
    hours in service since to tell)."""
    machine, _, _ = _window(finding)
    units, now = ledger.unit_records(part_number=part_number, since=since,
                                      as_of=as_of, by=by)
    inside = [0, 0, 0.0]
    rest = [0, 0, 0.0]
    for unit, life in service_lives(units, now):
        side = inside if any(run.machine == machine for run in unit.runs) else rest
        side[0] += 1
        side[1] += int(life.failed)
        side[2] += life.hours
    x, e = int(inside[1]), float(inside[2])
    rx, re = int(rest[1]), float(rest[2])
    p = float(elevated_p(np.array([float(x)]), np.array([e]), x + rx, e + re)[0])
    low, high = ratio_interval(x, e, rx, re, confidence)
    rate = x / e * PER if e else None
    rest_rate = rx / re * PER if re else None
    bx, be = finding.failures, finding.unit_hours
    improved = float(elevated_p(np.array([float(bx)]), np.array([be]), bx + x, be + e)[0])
    verdict: Literal["effective", "not effective", "not yet known"]
    if not e:
        verdict = "not yet known"
    elif p < alpha:
        verdict = "not effective"
    elif improved < alpha:
        verdict = "effective"
    else:
        verdict = "not yet known"
    return Effectiveness(
        finding=finding.id, machine=machine, since=since, at=now, units=int(inside[0]),
        failures=x, unit_hours=e, rate=rate, rest_units=int(rest[0]), rest_failures=rx,
        rest_unit_hours=re, rest_rate=rest_rate,
        rate_ratio=rate / rest_rate if rate is not None and rest_rate else None,
        ci_low=low, ci_high=high, p_value=p, before_failures=bx, before_unit_hours=be,
        p_improved=improved, alpha=alpha, verdict=verdict)


def close_capa(ledger: Ledger, finding: Finding, *, capa: str, check: Effectiveness,
               signer: Signer, resolution: str | None = None,
               at: datetime | None = None) -> list[Receipt]:
    """Close ``capa`` on every serial of the finding with the effectiveness check's verdict."""
    if check.verdict == "not yet known":
        raise LedgerError(f"CAPA {capa}: the effectiveness check is not yet known (too few "
                          f"hours in service since {check.since:%Y-%m-%d} to tell the rate "
                          f"from the finding's); close it when the field has spoken")
    done = _machine_actions(ledger, check.machine, capa)
    text = resolution or (
        (f"on {check.machine}: {'; '.join(done)}. " if done else "")
        + f"effectiveness check: parts made on {check.machine} since {check.since:%Y-%m-%d} "
        f"fail at {check.rate or 0:.0f} per million unit-hours against "
        f"{check.rest_rate or 0:.0f} for the rest (p = {check.p_value:.2g}) and "
        f"{check.before_failures / check.before_unit_hours * PER:.0f} in the finding "
        f"(p = {check.p_improved:.2g}): {check.verdict}")
    closed = [f.CorrectiveActionClosed(serial=serial, capa=capa, resolution=text,
                                       effective=check.verdict == "effective",
                                       evidence_digest=f"sha256:{check.evidence_digest}")
              for serial in finding.serials]
    return _record(ledger, closed, signer, "approval", f"capa/{capa}/closed", at)


def _machine_actions(ledger: Ledger, machine: str, capa: str) -> list[str]:
    """What was recorded on the machine under ``capa``, in words (the serials' CAPA closure
    carries it, so their trace and DHR show it)."""
    done = []
    for event in ledger.history_of("machine", machine):
        fact = event.fact
        if isinstance(fact, f.ConditionLimitChanged) and fact.reference == capa:
            done.append(f"{fact.metric} limit "
                        + (f"{fact.previous:g} -> " if fact.previous is not None else "")
                        + f"{fact.threshold:g} {fact.unit}")
        elif isinstance(fact, f.MaintenanceScheduled) and fact.reference == capa:
            done.append(f"{fact.kind} maintenance due {fact.due:%Y-%m-%d}: {fact.description}")
    return done


def _times(finding: Finding) -> str:
    return f"{finding.rate_ratio:.1f} times" if finding.rate_ratio else "above"
