"""What each kind of fact means beyond its fields, declared once per topic.

Every fact type has an entry here: which subject it is about, its one-line
summary, how it moves its subject (:mod:`thread.domain.whereabouts`), the
story section it belongs to, and the facts it causes on other subjects. The
write side, the read side, the records, the CLI and the offline verifier read
them from here and nowhere else; a test fails when a registered fact class has
no entry, or an entry no fact class.

Entries work on payload maps (what the canonical bytes hold), so that the
offline verifier can use them without pydantic: this module needs only the
standard library.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from thread.domain import whereabouts as w

Payload = Mapping[str, Any]
Move = w.Move
Section = Literal["registration", "design", "production", "environment", "materials",
                  "genealogy", "quality", "certifications", "service", "actions", "record",
                  "machine", "signers", "sites"]


@dataclass(frozen=True)
class Subject:
    """Which payload fields name a fact's subject."""

    kinds: str  # how a message names the rule, e.g. "part or lot"

    def of(self, payload: Payload) -> tuple[str, str]:
        """(kind, key) of the subject; KeyError or TypeError when the payload lacks it."""
        if self is ITEM:
            serial = payload.get("serial")
            return ("part", serial) if serial is not None else ("lot", payload["lot"])
        if self is ANY:
            return str(payload["kind"]), str(payload["key"])
        kind, field = _FIELDS[self.kinds]
        return kind, payload[field]


ITEM = Subject("part or lot")
LOT = Subject("lot")
MACHINE = Subject("machine")
DESIGN = Subject("design")
SIGNER = Subject("signer")
SITE = Subject("site")
ANY = Subject("any subject")
_FIELDS = {"lot": ("lot", "lot"), "machine": ("machine", "machine"),
           "design": ("design", "part_number"), "signer": ("signer", "signer"),
           "site": ("site", "site")}
#: Payload fields that name the subject; summaries leave them out.
SUBJECT_FIELDS = frozenset({"serial", "lot", "machine", "part_number", "kind", "key"})


@dataclass(frozen=True)
class Effect:
    """A fact this one causes on another subject, in the same transaction.

    ``derive`` takes the subject's key and the payload and gives the topic and
    payload of the fact recorded on the other subject.
    """

    derive: Callable[[str, Payload], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Topic:
    """Everything the ledger's views need to know about one kind of fact."""

    name: str
    subject: Subject
    summary: Callable[[Payload], str]
    whereabouts: Move | None  # None: the fact does not move its subject
    section: Section
    effects: tuple[Effect, ...]


# -- summaries ------------------------------------------------------------------

def _g(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _at(position: str | None) -> str:
    return f" at {position}" if position else ""


def _signed(value: float | None) -> str:
    return "?" if value is None else f"{value:+g}"


def tolerance(lower: float | None, upper: float | None) -> str:
    """``+/-0.01`` for a symmetric tolerance, else ``+0/-0.01``."""
    if lower is not None and upper is not None and lower == -upper:
        return f"+/-{upper:g}"
    return f"{_signed(upper)}/{_signed(lower)}"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"({len(value)} bytes)"
    return value


def fields(p: Payload) -> str:
    """The payload's fields as ``name=value``, for facts whose fields say it best."""
    shown = []
    for name, value in sorted(p.items()):
        if value is None or name in SUBJECT_FIELDS:
            continue
        plain = _plain(value)
        shown.append(f"{name}={plain if isinstance(plain, str) else json.dumps(plain)}")
    return ", ".join(shown)


def _revision(p: Payload) -> str:
    drawing = p["drawing"] + (f" rev {p['drawing_revision']}" if p.get("drawing_revision")
                              else "")
    return (f"rev {p['revision']} {p['part_name']}, drawing {drawing}, "
            f"{len(p.get('characteristics') or ())} characteristics")


def _machine(p: Payload) -> str:
    where = "/".join(part for part in (p.get("site"), p.get("line")) if part)
    return f"{p['name']}, {p['kind']}" + (f" at {where}" if where else "")


def _registered(p: Payload) -> str:
    text = f"{p['part_number']} rev {p['revision']}"
    if p.get("work_order"):
        text += f", work order {p['work_order']}"
    return text + (" (undocumented)" if p.get("undocumented") else "")


def _lot(p: Payload) -> str:
    return (f"{p['quantity']:g} {p['unit']} {p['material']} from {p['supplier']}"
            + (f", certificate {p['certificate_number']}" if p.get("certificate_number")
               else ""))


def _operation(p: Payload) -> str:
    where = p.get("machine") or p["station"]
    return (f"{p['operation']} on {where} by {p['operator']}"
            + (f", program {p['program']}" if p.get("program") else "")
            + f", {p['cycle_time_s']:g} s")


def _process(p: Payload) -> str:
    return "; ".join(f"{q['name']} {q['mean']:g} {q['unit']} (sd {q['sd']:g}, n {q['n']})"
                     for q in p["parameters"])


def _readings(values: Any) -> str:
    return ", ".join(f"{r['name']} {r['value']:g} {r['unit']}" for r in values or ())


def _inspection(p: Payload) -> str:
    text = f"{p['verdict'].upper()} {p['characteristic']}"
    if p.get("name"):
        text += f" {p['name']}"
    if p.get("measured") is not None:
        text += f": {p['measured']:g} {p.get('unit') or ''}".rstrip()
    if p.get("nominal") is not None:
        text += (f" (nominal {p['nominal']:g} "
                 f"{tolerance(p.get('lower_tolerance'), p.get('upper_tolerance'))})")
    text += f", {p['non_conformance']}" if p.get("non_conformance") else ""
    return text + (f"; verdict kept: {p['verdict_reason']}" if p.get("verdict_reason") else "")


def _report(p: Payload) -> str:
    return (f"report {p['report']}: {p['measurements']} measurements, {p['failures']} failed"
            + (f", by {p['preparer']}" if p.get("preparer") else ""))


def _test(p: Payload) -> str:
    values = _readings(p.get("values"))
    return f"{p['verdict'].upper()} {p['procedure']}" + (f": {values}" if values else "")


def _hold(p: Payload) -> str:
    return (f"{p['reference']}: " if p.get("reference") else "") + str(p["reason"])


def _performance(p: Payload) -> str:
    readings = _readings(p.get("readings"))
    return f"{p['operating_hours']:g} h" + (f": {readings}" if readings else "")


def _failure(p: Payload) -> str:
    hours = p.get("operating_hours")
    return f"claim {p['claim']}: {p['failure_mode']}" + (
        f" after {hours:g} h" if hours is not None else "")


def _condition(p: Payload) -> str:
    exceeded = [m["name"] for m in p.get("metrics") or ()
                if m.get("threshold") is not None and m["max"] > m["threshold"]]
    text = f"{p['window_start']:%H:%M}-{p['window_end']:%H:%M}"
    factors = [p.get("availability"), p.get("performance"), p.get("quality")]
    if None not in factors:
        text += f", OEE {factors[0] * factors[1] * factors[2]:.0%}"  # type: ignore[operator]
    return text + (f", exceeded: {', '.join(exceeded)}" if exceeded else "")


def _gap(p: Payload) -> str:
    lost = p.get("lost_messages")
    return (f"{p['gap_start']:%H:%M:%S}-{p['gap_end']:%H:%M:%S} over {p['protocol']}: "
            f"{p['reason']}" + (f" ({lost} messages lost)" if lost is not None else ""))


def _chart(p: Payload) -> str:
    scope = ", ".join(f"{name} {p[name]}" for name in ("part_number", "machine", "operation")
                      if p.get(name))
    limits = (f"phase I of {p['phase1']} points" if p.get("center") is None
              or p.get("sigma") is None else f"center {p['center']:g}, sigma {p['sigma']:g}")
    return (f"chart {p['chart']}: {p['chart_kind']} of {p['metric']}"
            + (f" for {scope}" if scope else "") + f", {limits}, rules "
            + ", ".join(p.get("rules") or ()))


def _alert(p: Payload) -> str:
    last = (p.get("points") or [{}])[-1]
    where = f" at {last['value']:g}" if "value" in last else ""
    return (f"drift alert {p['alert']}: {p['rule']} ({p['description']}) on chart "
            f"{p['chart']}, {p['metric']}{where}"
            + (f", part {last['serial']}" if last.get("serial") else ""))


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)


def _signature(p: Payload) -> str:
    return (f"{p['meaning']} of version {p['signed_version']} by {p['printed_name']} "
            f"({p['signer']})")


def _correction(p: Payload) -> str:
    return (f"version {p['corrects_version']} corrected by version "
            f"{p['replaced_by_version']}: {p['reason']}")


def _classified(p: Payload) -> str:
    what = f"version {p['version']}" if p.get("version") is not None else "the subject"
    labels = ", ".join(p["labels"]) or "not export-controlled"
    return f"{what} classified {labels}" + (f": {p['reason']}" if p.get("reason") else "")


# -- effects on other subjects ----------------------------------------------------

def _installed_into(assembly: str, p: Payload) -> tuple[str, dict[str, Any]]:
    return "manufacturing.installed-into", {
        "serial": p["component"], "assembly": assembly, "position": p.get("position")}


def _removed_from(assembly: str, p: Payload) -> tuple[str, dict[str, Any]]:
    return "manufacturing.removed-from", {
        "serial": p["component"], "assembly": assembly, "reason": p["reason"]}


# -- the registry -------------------------------------------------------------------

def _entries() -> list[Topic]:
    T = Topic  # noqa: N806 - one letter keeps the table readable
    return [
        T("design.revision-released", DESIGN, _revision, None, "design", ()),
        T("design.change-order-issued", DESIGN,
          lambda p: f"{p['change_order']}: {p['title']} (affects "
                    f"{', '.join(p['affected_revisions'])})", None, "design", ()),
        T("design.simulation-recorded", DESIGN,
          lambda p: f"{p['kind']} for rev {p['revision']}: {p['summary']}", None, "design", ()),
        T("machine.registered", MACHINE, _machine, None, "machine", ()),
        T("machine.condition-recorded", MACHINE, _condition, None, "machine", ()),
        T("machine.alarm-raised", MACHINE,
          lambda p: f"{p['severity']} {p['code']}: {p['text']}", None, "machine", ()),
        T("machine.maintenance-performed", MACHINE,
          lambda p: f"{p['kind']}: {p['description']}", None, "machine", ()),
        T("machine.condition-limit-changed", MACHINE,
          lambda p: f"{p['metric']} limit "
                    + (f"{p['previous']:g} -> " if p.get("previous") is not None else "")
                    + f"{p['threshold']:g} {p['unit']}: {p['reason']}"
                    + (f" ({p['reference']})" if p.get("reference") else ""), None,
          "machine", ()),
        T("machine.maintenance-scheduled", MACHINE,
          lambda p: f"{p['kind']} due {p['due']:%Y-%m-%d}: {p['description']}"
                    + (f" ({p['work_order']})" if p.get("work_order") else ""), None,
          "machine", ()),
        T("machine.calibration-recorded", MACHINE,
          lambda p: (f"{p['instrument']} " if p.get("instrument") else "") + str(p["result"])
          + (f", due {p['due']:%Y-%m-%d}" if p.get("due") else ""), None, "machine", ()),
        T("machine.collection-gap-recorded", MACHINE, _gap, None, "machine", ()),
        T("manufacturing.part-registered", ITEM, _registered, w.registered, "registration",
          ()),
        T("manufacturing.material-lot-received", LOT, _lot, w.received, "registration", ()),
        T("manufacturing.material-consumed", ITEM,
          lambda p: f"{p['quantity']:g} {p['unit']} from lot {p['material_lot']}", None,
          "materials", ()),
        T("manufacturing.component-installed", ITEM,
          lambda p: f"installed {p['component']}" + _at(p.get("position")), None,
          "genealogy", (Effect(_installed_into),)),
        T("manufacturing.component-removed", ITEM,
          lambda p: f"removed {p['component']}: {p['reason']}", None, "genealogy",
          (Effect(_removed_from),)),
        T("manufacturing.installed-into", ITEM,
          lambda p: f"into {p['assembly']}" + _at(p.get("position")), w.installed_into,
          "genealogy", ()),
        T("manufacturing.removed-from", ITEM,
          lambda p: f"out of {p['assembly']}: {p['reason']}", w.removed_from, "genealogy", ()),
        T("manufacturing.operation-performed", ITEM, _operation, None, "production", ()),
        T("manufacturing.process-recorded", ITEM, _process, None, "production", ()),
        T("manufacturing.environment-recorded", ITEM,
          lambda p: f"{p['area']}: {_readings(p['readings'])}", None, "environment", ()),
        T("quality.inspection-recorded", ITEM, _inspection, None, "quality", ()),
        T("quality.inspection-reported", ITEM, _report, None, "certifications", ()),
        T("quality.test-recorded", ITEM, _test, None, "quality", ()),
        T("quality.non-conformance-opened", ITEM,
          lambda p: f"{p['non_conformance']} ({p['severity']}): {p['description']}", None,
          "quality", ()),
        T("quality.disposition-recorded", ITEM,
          lambda p: f"{p['non_conformance']} -> {p['decision']}: {p['rationale']}",
          w.dispositioned, "quality", ()),
        T("quality.chart-subscribed", ANY, _chart, None, "quality", ()),
        T("quality.chart-unsubscribed", ANY,
          lambda p: f"chart {p['chart']} no longer watched: {p['reason']}", None, "quality", ()),
        T("quality.drift-alert-raised", ANY, _alert, None, "quality", ()),
        T("quality.drift-alert-noted", ITEM,
          lambda p: f"drift alert {p['alert']}: {p['rule']} on chart {p['chart']} "
                    f"({p['watched']}) at {p['value']:g}", None, "quality", ()),
        T("quality.drift-alert-acknowledged", ANY,
          lambda p: f"drift alert {p['alert']} acknowledged: {p['note']}", None, "quality", ()),
        T("quality.drift-alert-closed", ANY,
          lambda p: f"drift alert {p['alert']} closed ({p['outcome']}): {p['resolution']}"
                    + (f" ({p['reference']})" if p.get("reference") else ""), None,
          "quality", ()),
        T("quality.prediction-recorded", ITEM,
          lambda p: f"{p['target']} score {p['score']:.3f} by {p['model']} "
                    f"v{p['model_version']}"
                    + (f" within {p['horizon_hours']:g} h" if p.get("horizon_hours") else "")
                    + ("" if p.get("predicted") is None
                       else " (predicted: fail)" if p["predicted"] else " (predicted: pass)"),
          None, "quality", ()),
        T("quality.certification-attached", ITEM,
          lambda p: f"{p['document']} certificate {p['number']}"
                    + (f" from {p['issuer']}" if p.get("issuer") else ""), None,
          "certifications", ()),
        T("record.signature-applied", ANY, _signature, None, "record", ()),
        T("record.correction-recorded", ANY, _correction, None, "record", ()),
        T("record.export-classified", ANY, _classified, None, "record", ()),
        T("record.withheld", ANY,
          lambda p: f"{p['withheld_topic']} withheld ({', '.join(p['labels'])})", None,
          "record", ()),
        T("signer.registered", SIGNER,
          lambda p: f"{p['printed_name']} as {', '.join(p['roles'])}, key "
                    f"{p['public_key'][:16]}... from {_when(p['valid_from'])}", None,
          "signers", ()),
        T("signer.key-rotated", SIGNER,
          lambda p: f"new key {p['public_key'][:16]}... from {_when(p['valid_from'])}", None,
          "signers", ()),
        T("signer.key-revoked", SIGNER,
          lambda p: f"key {p['public_key'][:16]}... revoked ({p['reason']})"
                    + (f": {p['note']}" if p.get("note") else ""), None, "signers", ()),
        T("signer.roles-changed", SIGNER,
          lambda p: f"roles {', '.join(p['roles'])}"
                    + (f": {p['reason']}" if p.get("reason") else ""), None, "signers", ()),
        T("signer.session-opened", SIGNER,
          lambda p: f"signing session opened with key {p['public_key'][:16]}...", None,
          "signers", ()),
        T("signer.signing-failed", SIGNER,
          lambda p: f"signing refused: {p['reason']}"
                    + (f" ({p['detail']})" if p.get("detail") else ""), None, "signers", ()),
        T("signer.locked", SIGNER,
          lambda p: f"locked after {p['failures']} failed signing attempts", None,
          "signers", ()),
        T("signer.unlocked", SIGNER, lambda p: f"unlocked: {p['reason']}", None, "signers",
          ()),
        T("signer.controlled-data-read", SIGNER,
          lambda p: f"read {p['kind']} {p['key']} ({', '.join(p['labels'])}) through "
                    f"{p['view']}", None, "signers", ()),
        T("signer.access-refused", SIGNER,
          lambda p: f"refused {p['action']} {p['what']} on {p['kind']} {p['key']}"
                    + (f" by rule {', '.join(p['rules'])}" if p.get("rules") else ""), None,
          "signers", ()),
        T("site.checkpoint-mirrored", SITE,
          lambda p: f"mirrored whole to {p['size']} entries (root {p['root'][:16]}...) and "
                    f"cosigned", None, "sites", ()),
        T("site.refused", SITE, lambda p: f"refused: {p['what']}: {p['detail']}", None,
          "sites", ()),
        T("service.shipped", ITEM,
          lambda p: f"to {p['customer']}, order {p['order']}"
                    + (f", {p['destination']}" if p.get("destination") else "")
                    + (f", {p['carrier']}" if p.get("carrier") else ""), w.shipped, "service",
          ()),
        T("service.installed-at-site", ITEM,
          lambda p: f"at {p['site']}" + (f", {p['equipment']}" if p.get("equipment") else ""),
          w.installed_at_site, "service", ()),
        T("service.maintenance-performed", ITEM,
          lambda p: f"{p['kind']}: {p['description']}", None, "service", ()),
        T("service.performance-reported", ITEM, _performance, None, "service", ()),
        T("service.failure-reported", ITEM, _failure, None, "service", ()),
        T("service.failure-analysis-recorded", ITEM,
          lambda p: f"root cause: {p['root_cause']}; {p['conclusion']}", None, "service", ()),
        T("service.partner-event-received", ITEM,
          lambda p: f"{p['event_type']}"
                    + "".join(f" {p[k]}" for k in ("action", "biz_step", "disposition")
                              if p.get(k))
                    + (f" at {p['read_point']}" if p.get("read_point") else "")
                    + f" ({p['event_id'][:30]}...)", None, "service", ()),
        T("service.customer-feedback-received", ITEM,
          lambda p: f"{p['customer']}: {p['text']}"
                    + (f" ({p['rating']}/5)" if p.get("rating") else ""), None, "service", ()),
        T("action.quarantined", ITEM, _hold, w.quarantined, "actions", ()),
        T("action.released-from-quarantine", ITEM, _hold, w.released, "actions", ()),
        T("action.recalled", ITEM, lambda p: f"{p['recall']}: {p['reason']}", w.recalled,
          "actions", ()),
        T("action.corrective-action-opened", ITEM,
          lambda p: f"{p['capa']}: {p['problem']}"
                    + (f" (finding {p['finding']})" if p.get("finding") else ""), None,
          "actions", ()),
        T("action.corrective-action-closed", ITEM,
          lambda p: f"{p['capa']}: {p['resolution']}"
                    + ("" if p.get("effective") else " (not effective)"), None, "actions", ()),
    ]


TOPICS: dict[str, Topic] = {entry.name: entry for entry in _entries()}


def topic(name: str) -> Topic | None:
    """The entry for a topic, or None for a topic this library does not know."""
    return TOPICS.get(name)


def register(entry: Topic) -> None:
    """Describe a fact kind defined outside the catalogue (by its class, when defined)."""
    TOPICS[entry.name] = entry
    if entry.whereabouts is not None:
        _MOVES[entry.name] = entry.whereabouts


_SEGMENTS: dict[str, Section] = {
    "design": "design", "manufacturing": "production", "quality": "quality",
    "service": "service", "action": "actions", "machine": "machine", "record": "record",
    "signer": "signers", "site": "sites"}


def section_of(name: str) -> Section:
    """The story section of a topic outside the catalogue, from its segment."""
    return _SEGMENTS.get(name.split(".", 1)[0], "record")


def moves() -> dict[str, Move]:
    """Topic -> how it moves its subject, for the topics that do."""
    return _MOVES


_MOVES: dict[str, Move] = {name: entry.whereabouts for name, entry in TOPICS.items()
                           if entry.whereabouts is not None}


def fold(facts: Iterable[tuple[str, Payload]], start: w.Whereabouts = w.NOWHERE
         ) -> w.Whereabouts:
    """Where a part or lot is after ``facts`` (topic, payload) of it, in log order: the one
    whereabouts fold every view uses."""
    here = start
    for name, payload in facts:
        move = _MOVES.get(name)
        if move is not None:
            here = move(here, payload)
    return here


def subject_of(name: str, payload: Payload) -> tuple[str, str]:
    """(kind, key) of the subject of a payload of topic ``name``."""
    entry = TOPICS.get(name)
    if entry is None:
        raise KeyError(f"no fact kind is registered for topic {name!r}")
    return entry.subject.of(payload)


def subject_label(name: str, payload: object) -> str:
    """How a message names the subject of a payload (``part SN-1``); empty when it cannot."""
    entry = TOPICS.get(name)
    if entry is None or not isinstance(payload, Mapping):
        return ""
    try:
        kind, key = entry.subject.of(payload)
    except (KeyError, TypeError):
        return ""
    return f"{kind} {printable(key)}" if isinstance(key, str) and key else ""


def printable(text: str) -> str:
    """``text`` safe to echo on one line: control and format characters as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode()
                   for c in text)


def summarize(name: str, payload: Payload) -> str:
    """One line saying what a fact records, without naming its subject again.

    A payload an older class version wrote, which the summary cannot read, is
    shown by its fields; sealed content (:mod:`thread.domain.sealing`) by its labels.
    """
    sealed = payload.get("$sealed")
    if isinstance(sealed, Mapping):
        return f"sealed ({', '.join(sealed.get('labels', ()))})"
    if any(isinstance(value, Mapping) and "$sealed" in value for value in payload.values()):
        payload = {key: "(sealed)" if isinstance(value, Mapping) and "$sealed" in value
                   else value for key, value in payload.items()}
    entry = TOPICS.get(name)
    if entry is not None:
        try:
            return entry.summary(payload)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            pass
    return fields(payload)


def in_words(name: str) -> str:
    """A topic as a story names it: ``service.shipped`` -> ``shipped``."""
    return name.split(".", 1)[-1]
