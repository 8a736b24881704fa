"""The ledger's facts as a GS1 EPCIS 2.0 JSON-LD document, with CBV 2.0 vocabulary.

- a part or lot registered: ObjectEvent ADD, bizStep ``commissioning``, disposition
  ``active``;
- a component installed or removed (the assembly's fact): AggregationEvent ADD or DELETE,
  bizStep ``assembling`` or ``disassembling``;
- material consumed: TransformationEvent, the material lot's class in, the part out;
- process recorded: ObjectEvent OBSERVE, bizStep ``sensor_reporting``, the parameters as a
  ``sensorElementList``;
- inspection recorded: ObjectEvent OBSERVE, bizStep ``inspecting``, disposition
  ``conformant`` or ``non_conformant``, the measure as a sensor report;
- shipped: ObjectEvent OBSERVE, bizStep ``shipping``, disposition ``in_transit``, the order
  as a ``po`` business transaction; installed at a site: bizStep ``installing``;
- quarantined, released, recalled: ObjectEvent OBSERVE, dispositions
  ``non_sellable_other``, ``active``, ``recalled``;
- any other fact: ObjectEvent OBSERVE, bizStep ``other``.

A corrected event is sent again with an ``errorDeclaration`` (reason ``incorrect_data``)
naming its correction's event as the corrective event, under the corrected event's own
eventID, as EPCIS 2.0 declares an error. Every other event carries its CBV 2.0 event hash
as ``eventID``, and the
ledger's own record of it under the ``dtl:`` extension namespace (topic, summary, hash in
its chain, version), so nothing the ledger holds is dropped. A part with a GTIN (in its UDI)
is named by its GS1 Digital Link (``https://id.gs1.org/01/<GTIN>/21/<serial>``); other parts
and lots by the ledger's URN scheme (``urn:dtl:part:<serial>``, ``urn:dtl:lot:<lot>``, with
the serial percent-encoded).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from uuid import UUID

from thread import facts as f
from thread.domain.udi import InvalidUDI, parse_udi
from thread.errors import LedgerError
from thread.presentation import summarize
from thread_adapters.epcis.event_hash import event_hash

if TYPE_CHECKING:
    from thread.domain.chain import Recorded
    from thread.ledger import Ledger

#: The ledger's extension namespace in exported events.
NAMESPACE = "https://digital-thread-ledger.org/epcis/"
CONTEXT: list[Any] = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
                      {"dtl": NAMESPACE}]


def epcis_document(ledger: Ledger, *, serial: str | None = None, since: datetime | None = None,
                   created: datetime | None = None) -> dict[str, Any]:
    """An EPCISDocument of one part's events (``serial``, with the events on its assemblies
    that concern it) or of every event recorded since ``since`` (all without either)."""
    names = _Names(ledger)
    events: list[dict[str, Any]] = []
    exported: dict[tuple[UUID, int], dict[str, Any]] = {}
    corrections: list[Recorded] = []
    for recorded in _recorded(ledger, serial, since):
        if isinstance(recorded.fact, f.CorrectionRecorded):
            corrections.append(recorded)
            continue
        for event in _events(recorded, names):
            events.append(event)
            exported[(recorded.originator_id, recorded.originator_version)] = event
    events += [declared for correction in corrections
               if (declared := _declaration(correction, exported)) is not None]
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": _time(created or datetime.now(UTC)),
            "epcisBody": {"eventList": events}}


def matching(events: Iterable[dict[str, Any]], *, epcs: Sequence[str] = (),
             biz_steps: Sequence[str] = (), dispositions: Sequence[str] = (),
             from_time: datetime | None = None, before: datetime | None = None
             ) -> list[dict[str, Any]]:
    """The events an EPCIS 2.0 query selects: ``MATCH_epc`` (any EPC the event names),
    ``EQ_bizStep``, ``EQ_disposition`` (short names or CBV URIs), ``GE_eventTime`` and
    ``LT_eventTime``."""
    steps = {short(step) for step in biz_steps}
    kept = {short(disposition) for disposition in dispositions}
    wanted = set(epcs)
    chosen = []
    for event in events:
        named = {*event.get("epcList", ()), *event.get("childEPCs", ()),
                 *event.get("inputEPCList", ()), *event.get("outputEPCList", ()),
                 event.get("parentID")}
        moment = datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00"))
        if ((not wanted or wanted & named) and (not steps or event.get("bizStep") in steps)
                and (not kept or event.get("disposition") in kept)
                and (from_time is None or moment >= from_time)
                and (before is None or moment < before)):
            chosen.append(event)
    return chosen


def short(value: str | None) -> str | None:
    """A CBV value in its short form (``shipping`` for any of its URI forms)."""
    if not value:
        return None
    for prefix in ("https://ref.gs1.org/cbv/BizStep-", "https://ref.gs1.org/cbv/Disp-",
                   "https://ref.gs1.org/cbv/BTT-", "https://ref.gs1.org/cbv/SDT-",
                   "urn:epcglobal:cbv:bizstep:", "urn:epcglobal:cbv:disp:",
                   "urn:epcglobal:cbv:btt:", "urn:epcglobal:cbv:sdt:", "cbv:BizStep-",
                   "cbv:Disp-", "cbv:BTT-", "cbv:SDT-"):
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


def _declaration(correction: Recorded, exported: dict[tuple[UUID, int], dict[str, Any]]
                 ) -> dict[str, Any] | None:
    """The corrected event sent again with an ``errorDeclaration`` naming its correction's
    event, under the corrected event's own eventID, as EPCIS 2.0 declares an error."""
    fact = correction.fact
    assert isinstance(fact, f.CorrectionRecorded)
    wrong = exported.get((correction.originator_id, fact.corrects_version))
    right = exported.get((correction.originator_id, fact.replaced_by_version))
    if wrong is None:
        return None  # the corrected event is not in this document
    return {**wrong, "errorDeclaration": {
        "declarationTime": _time(correction.recorded_at), "reason": "incorrect_data",
        **({"correctiveEventIDs": [right["eventID"]]} if right is not None else {}),
        "dtl:reason": fact.reason}}


def _recorded(ledger: Ledger, serial: str | None, since: datetime | None
              ) -> Iterator[Recorded]:
    if serial is None:
        for _, event in ledger.scan():
            if since is None or event.recorded_at >= since:
                yield event
        return
    history = ledger.history(serial)
    yield from history
    for event in history:  # the assembly's side of each installation (a fact on it)
        fact = event.fact
        if isinstance(fact, f.InstalledInto | f.RemovedFrom):
            wanted = f.ComponentInstalled if isinstance(fact, f.InstalledInto) \
                else f.ComponentRemoved
            yield from (other for other in ledger.history(fact.assembly)
                        if isinstance(other.fact, wanted)
                        and other.fact.component == serial)


class _Names:
    """The EPC of each serial and lot: its GS1 Digital Link where its UDI gives a GTIN."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._known: dict[str, str] = {}

    def part(self, serial: str) -> str:
        if serial not in self._known:
            self._known[serial] = self._digital_link(serial) or \
                f"urn:dtl:part:{quote(serial, safe='')}"
        return self._known[serial]

    def _digital_link(self, serial: str) -> str | None:
        try:
            first = self.ledger.history(serial)[0].fact
        except LedgerError:  # a part this reader cannot see: the URN names it
            return None
        udi = getattr(first, "udi", None)
        if not udi:
            return None
        try:
            gtin = parse_udi(udi).gtin
        except InvalidUDI:
            return None
        return f"https://id.gs1.org/01/{gtin}/21/{quote(serial, safe='')}"


#: The ledger's units as UN/ECE Recommendation 20 codes, which EPCIS's ``uom`` takes; a unit
#: not here goes as ``dtl:unit`` instead.
REC20 = {"mm": "MMT", "um": "4H", "µm": "4H", "Cel": "CEL", "rpm": "RPM", "mm/s": "C16",
         "mm/min": "H81", "kg": "KGM", "g": "GRM", "s": "SEC", "N": "NEW", "N.m": "NU",
         "Nm": "NU", "bar": "BAR", "Pa": "PAL", "kPa": "KPA", "%": "P1", "A": "AMP",
         "V": "VLT", "W": "WTT", "Hz": "HTZ", "L/min": "L2", "l/min": "L2"}


def unit(name: str | None) -> dict[str, str]:
    """A unit as an EPCIS sensor report or quantity says it."""
    if not name:
        return {}
    code = REC20.get(name)
    return {"uom": code} if code else {"dtl:unit": name}


def lot_class(lot: str) -> str:
    """The EPC class of a lot: the ledger's URN."""
    return f"urn:dtl:lot:{quote(lot, safe='')}"


def _events(recorded: Recorded, names: _Names) -> Iterable[dict[str, Any]]:
    fact = recorded.fact
    if isinstance(fact, f.InstalledInto | f.RemovedFrom | f.SignatureApplied | f.Withheld):
        return []  # the assembly's fact carries it; signatures and withheld facts are not
    kind, key = fact.subject
    what = [names.part(key)] if kind == "part" else []
    quantity = [{"epcClass": lot_class(key), "quantity": 1.0}] if kind == "lot" else []
    common: dict[str, Any] = {"eventTime": _time(recorded.occurred_at),
                              "eventTimeZoneOffset": "+00:00",
                              "recordTime": _time(recorded.recorded_at)}
    event: dict[str, Any]
    if isinstance(fact, f.PartRegistered):
        event = _object("ADD", what, quantity, "commissioning", "active")
    elif isinstance(fact, f.ComponentInstalled | f.ComponentRemoved):
        adding = isinstance(fact, f.ComponentInstalled)
        event = {"type": "AggregationEvent", "action": "ADD" if adding else "DELETE",
                 "parentID": names.part(key), "childEPCs": [names.part(fact.component)],
                 "bizStep": "assembling" if adding else "disassembling",
                 "disposition": "in_progress"}
    elif isinstance(fact, f.MaterialConsumed):
        event = {"type": "TransformationEvent",
                 "inputQuantityList": [{"epcClass": lot_class(fact.material_lot),
                                        "quantity": fact.quantity, **unit(fact.unit)}],
                 "outputEPCList": what, "bizStep": "commissioning"}
    elif isinstance(fact, f.ProcessRecorded):
        event = _object("OBSERVE", what, quantity, "sensor_reporting", None)
        event["sensorElementList"] = [{
            "sensorMetadata": {"startTime": _time(fact.started_at),
                               "endTime": _time(fact.ended_at)},
            "sensorReport": [_report(p.name, p.unit, p.min, p.max, p.mean, p.sd)
                             for p in fact.parameters]}]
        if fact.machine:
            event["readPoint"] = {"id": f"urn:dtl:machine:{quote(fact.machine, safe='')}"}
    elif isinstance(fact, f.InspectionRecorded):
        verdict = getattr(fact, "verdict", None)
        event = _object("OBSERVE", what, quantity, "inspecting",
                        "conformant" if verdict == "pass" else "non_conformant"
                        if verdict == "fail" else None)
        measured = getattr(fact, "measured", None)
        if measured is not None:
            event["sensorElementList"] = [{"sensorReport": [
                {"type": f"dtl:characteristic/{quote(fact.characteristic, safe='')}",
                 "value": measured, **unit(getattr(fact, "unit", None))}]}]
    elif isinstance(fact, f.Shipped):
        event = _object("OBSERVE", what, quantity, "shipping", "in_transit")
        event["bizTransactionList"] = [{"type": "po", "bizTransaction":
                                        f"urn:dtl:order:{quote(fact.order, safe='')}"}]
    elif isinstance(fact, f.InstalledAtSite):
        event = _object("OBSERVE", what, quantity, "installing", "active")
    elif isinstance(fact, f.Quarantined):
        event = _object("OBSERVE", what, quantity, "holding", "non_sellable_other")
    elif isinstance(fact, f.ReleasedFromQuarantine):
        event = _object("OBSERVE", what, quantity, "other", "active")
    elif isinstance(fact, f.Recalled):
        event = _object("OBSERVE", what, quantity, "holding", "recalled")
    else:
        event = _object("OBSERVE", what, quantity, "other", None)
    event.update(common)
    event["dtl:topic"] = recorded.topic
    event["dtl:summary"] = summarize(fact)
    event["dtl:hash"] = recorded.hash.hex()
    event["dtl:version"] = recorded.originator_version
    event = {"type": event.pop("type"), **event}
    event["eventID"] = event_hash(event, CONTEXT)
    return [event]


def _object(action: str, what: list[str], quantity: list[dict[str, Any]], step: str,
            disposition: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "ObjectEvent", "action": action, "epcList": what}
    if quantity:
        event["quantityList"] = quantity
    event["bizStep"] = step
    if disposition is not None:
        event["disposition"] = disposition
    return event


def _report(name: str, unit_name: str, low: float, high: float, mean: float, sd: float
            ) -> dict[str, Any]:
    return {"type": f"dtl:parameter/{quote(name, safe='')}", "minValue": low,
            "maxValue": high, "meanValue": mean, "sDev": sd, **unit(unit_name)}


def _time(moment: datetime) -> str:
    """A time as EPCIS writes it: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
