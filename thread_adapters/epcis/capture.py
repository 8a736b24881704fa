"""A trading partner's GS1 EPCIS 2.0 document into the ledger (``thread epcis import``,
``POST /epcis/capture``).

Each event is kept under its CBV 2.0 event hash as its source record id, so capturing the
same document again writes nothing. An AggregationEvent ADD or DELETE between two parts the
ledger holds becomes ComponentInstalled or ComponentRemoved; a shipping ObjectEvent with a
purchase order and an owning party becomes Shipped; an event the ledger exported itself
(its ``dtl:hash`` is the hash of the ledger's own event) is already there. Every other
event about a part or lot the ledger holds is kept as a PartnerEventReceived fact on it,
shown in its story: none is dropped. Events whose identifiers name nothing in this ledger
are listed in the result, not recorded. A document with one invalid event is refused
whole, naming the event; everything it records lands in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from thread import facts as f
from thread.errors import LedgerError, UnknownSubject
from thread_adapters.epcis.event_hash import EventHashError, document_hashes
from thread_adapters.epcis.export import short

if TYPE_CHECKING:
    from thread.ledger import Ledger

SOURCE = "epcis"
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransformationEvent", "AssociationEvent",
               "TransactionEvent")
_SGTIN = re.compile(r"^urn:epc:id:sgtin:[0-9]+\.[0-9]+\.(.+)$")


class CaptureError(LedgerError):
    """An EPCIS document the ledger refuses whole: which event, which field, why."""


@dataclass(frozen=True)
class Captured:
    """What a capture did: facts recorded, events already held, and the events (by their
    eventID) about nothing this ledger holds, which it did not record."""

    events: int
    recorded: int
    already: int
    about_nothing_here: tuple[str, ...]


def events_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The event list of an EPCISDocument or an EPCISQueryDocument."""
    body = document.get("epcisBody")
    if not isinstance(body, Mapping):
        raise CaptureError("not an EPCIS 2.0 document: no epcisBody object")
    found = body.get("eventList")
    if found is None and isinstance(body.get("queryResults"), Mapping):
        results = body["queryResults"].get("resultsBody", {})
        found = results.get("eventList") if isinstance(results, Mapping) else None
    if not isinstance(found, list) or not all(isinstance(e, Mapping) for e in found):
        raise CaptureError("not an EPCIS 2.0 document: epcisBody has no eventList of events")
    return found


def capture(ledger: Ledger, document: Mapping[str, Any]) -> Captured:
    """Record what ``document`` says about the ledger's parts and lots (see the module)."""
    events = events_of(document)
    try:
        hashes = document_hashes(document)
    except EventHashError as error:
        raise CaptureError(str(error)) from None
    planned: list[tuple[f.Fact, str, datetime]] = []
    already, nowhere = 0, []
    for number, (event, event_id) in enumerate(zip(events, hashes, strict=True)):
        kind = event.get("type")
        if kind not in EVENT_TYPES:
            raise CaptureError(f"eventList[{number}]: type {kind!r}; expected one of "
                               f"{', '.join(EVENT_TYPES)}")
        when = _time(event.get("eventTime"), number, kind)
        if _exported_here(ledger, event):
            already += 1
            continue
        facts = list(_facts(ledger, event, event_id, when, number))
        if not facts:
            nowhere.append(event_id)
        planned += [(fact, record_id, when) for fact, record_id in facts]
    recorded = 0
    if planned:
        with ledger.batch(source=SOURCE) as batch:
            for fact, record_id, when in planned:
                batch.record(fact, occurred_at=when, source=SOURCE, source_record_id=record_id)
        recorded = sum(not receipt.duplicate for receipt in batch.receipts)
        already += len(planned) - recorded
    return Captured(len(events), recorded, already, tuple(nowhere))


def _facts(ledger: Ledger, event: Mapping[str, Any], event_id: str, when: datetime,
           number: int) -> Iterator[tuple[f.Fact, str]]:
    kind, action = event["type"], event.get("action")
    step = _short(event.get("bizStep"))
    if kind == "AggregationEvent" and action in ("ADD", "DELETE"):
        parent = _serial(ledger, event.get("parentID"))
        children = [_serial(ledger, epc) for epc in _list(event, "childEPCs", number)]
        if parent is not None and children and all(child is not None for child in children):
            for child in children:
                assert child is not None
                fact: f.Fact = (
                    f.ComponentInstalled(serial=parent, component=child) if action == "ADD"
                    else f.ComponentRemoved(serial=parent, component=child,
                                            reason=f"EPCIS AggregationEvent DELETE {step or ''}"
                                            .strip()))
                yield fact, f"{event_id}#{child}"
            return
    if kind == "ObjectEvent" and step == "shipping":
        order = next((_short(t.get("bizTransaction")) for t in
                      _list(event, "bizTransactionList", number) if isinstance(t, Mapping)
                      and _short(t.get("type")) == "po"), None)
        owner = next((_short(d.get("destination")) for d in
                      _list(event, "destinationList", number) if isinstance(d, Mapping)
                      and _short(d.get("type")) == "owning_party"), None)
        serials = [s for s in (_serial(ledger, epc) for epc in _list(event, "epcList", number))
                   if s is not None]
        if order and owner and serials:
            for serial in serials:
                yield (f.Shipped(serial=serial, customer=owner, order=order[-128:]),
                       f"{event_id}#{serial}")
            return
    for subject_kind, key in _subjects(ledger, event, number):
        received = f.PartnerEventReceived(
            **{subject_kind: key}, event_type=kind, event_id=event_id, event_time=when,
            action=action if isinstance(action, str) else None, biz_step=step,
            disposition=_short(event.get("disposition")),
            read_point=_id(event.get("readPoint")), biz_location=_id(event.get("bizLocation")))
        yield received, f"{event_id}#{subject_kind}:{key}"


def _subjects(ledger: Ledger, event: Mapping[str, Any], number: int
              ) -> Iterator[tuple[str, str]]:
    """The parts and lots the ledger holds that the event names."""
    seen = set()
    epcs = [*_list(event, "epcList", number), *_list(event, "childEPCs", number),
            *_list(event, "inputEPCList", number), *_list(event, "outputEPCList", number)]
    if isinstance(event.get("parentID"), str):
        epcs.append(event["parentID"])
    for epc in epcs:
        serial = _serial(ledger, epc)
        if serial is not None and ("serial", serial) not in seen:
            seen.add(("serial", serial))
            yield "serial", serial
    for name in ("quantityList", "childQuantityList", "inputQuantityList",
                 "outputQuantityList"):
        for item in _list(event, name, number):
            lot = _lot(ledger, item.get("epcClass") if isinstance(item, Mapping) else None)
            if lot is not None and ("lot", lot) not in seen:
                seen.add(("lot", lot))
                yield "lot", lot


def _serial(ledger: Ledger, epc: object) -> str | None:
    """The serial an EPC names, if the ledger holds that part."""
    if not isinstance(epc, str):
        return None
    serial = None
    if epc.startswith("urn:dtl:part:"):
        serial = unquote(epc[len("urn:dtl:part:"):])
    elif (found := _SGTIN.match(epc)) is not None:
        serial = unquote(found.group(1))
    elif epc.startswith(("https://", "http://")):
        parts = urlsplit(epc).path.split("/")
        if "21" in parts[:-1]:
            serial = unquote(parts[parts.index("21") + 1])
    if not serial:
        return None
    return serial if _holds(ledger, "part", serial) else None


def _lot(ledger: Ledger, epc_class: object) -> str | None:
    if isinstance(epc_class, str) and epc_class.startswith("urn:dtl:lot:"):
        lot = unquote(epc_class[len("urn:dtl:lot:"):])
        return lot if _holds(ledger, "lot", lot) else None
    return None


def _holds(ledger: Ledger, kind: str, key: str) -> bool:
    try:
        ledger.history_of(kind, key)  # type: ignore[arg-type]
    except (UnknownSubject, ValueError):
        return False
    return True


def _exported_here(ledger: Ledger, event: Mapping[str, Any]) -> bool:
    """Whether the event is one this ledger exported: its ``dtl:hash`` is the hash of the
    ledger's own event at ``dtl:version`` of a part it names."""
    digest, version = event.get("dtl:hash"), event.get("dtl:version")
    if not isinstance(digest, str) or not isinstance(version, int):
        return False
    names = [*(event.get("epcList") or []), event.get("parentID")]
    for epc in names:
        serial = _serial(ledger, epc)
        if serial is None:
            continue
        history = ledger.history(serial)
        if 0 < version <= len(history) and history[version - 1].hash.hex() == digest:
            return True
        parent = event.get("parentID")
        if parent == epc:
            return any(e.hash.hex() == digest for e in history)
    return False


def _time(value: object, number: int, kind: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise CaptureError(f"eventList[{number}] ({kind}): eventTime {value!r}; expected a time "
                           f"such as 2026-03-02T06:00:00.000Z") from None
    if moment.tzinfo is None:
        raise CaptureError(f"eventList[{number}] ({kind}): eventTime {value!r} has no time "
                           f"zone")
    return moment


def _list(event: Mapping[str, Any], name: str, number: int) -> Sequence[Any]:
    value = event.get(name) or []
    if not isinstance(value, list):
        raise CaptureError(f"eventList[{number}] ({event.get('type')}): {name} is "
                           f"{type(value).__name__}; expected a list")
    return value


def _short(value: object) -> str | None:
    """A CBV value in its short form, at most 200 characters."""
    found = short(value) if isinstance(value, str) else None
    return found[:200] if found else None


def _id(value: object) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])[:400]
    return None
