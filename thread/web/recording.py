"""Recording over HTTP: one fact, or a batch that lands whole or not at all."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ValidationError

from thread.domain.facts.base import Fact, UnknownTopic, fact_class
from thread.errors import InvalidFact, LedgerError
from thread.ledger import Ledger, Receipt
from thread.web.access import AskersLedger
from thread.web.models import BatchIn, FactIn, ReceiptOut

router = APIRouter(tags=["record"])


@router.post("/facts", response_model=ReceiptOut, status_code=201)
def record_fact(body: FactIn, ledger: AskersLedger) -> ReceiptOut:
    """Record one fact; the same source record again is a no-op (``duplicate``)."""
    return _receipt(_record(ledger, [body])[0])


@router.post("/batches", response_model=list[ReceiptOut], status_code=201)
def record_batch(body: BatchIn, ledger: AskersLedger) -> list[ReceiptOut]:
    """Record facts in one transaction: all land, or none and the first problem is named."""
    return [_receipt(receipt) for receipt in _record(ledger, body.facts)]


def _record(ledger: Ledger, facts: list[FactIn]) -> list[Receipt]:
    parsed = [(_fact(item, number), item) for number, item in enumerate(facts, start=1)]
    with ledger.batch() as batch:
        for fact, item in parsed:
            batch.record(fact, occurred_at=item.occurred_at, source=item.source,
                         source_record_id=item.source_record_id)
    return batch.receipts


def _fact(item: FactIn, number: int) -> Fact:
    """The fact a request names, validated as the library validates it."""
    try:
        cls = fact_class(item.topic)
    except UnknownTopic:
        raise LedgerError(f"fact {number}: unknown topic {item.topic!r}; GET /topics lists "
                          f"them") from None
    try:
        return cls(**item.fact)
    except InvalidFact:
        raise
    except (ValidationError, TypeError, ValueError) as error:
        raise LedgerError(f"fact {number} ({item.topic}): {error}") from None


def _receipt(receipt: Receipt) -> ReceiptOut:
    return ReceiptOut(kind=receipt.kind, key=receipt.key, version=receipt.version,
                      hash=receipt.hash, duplicate=receipt.duplicate)


@router.get("/topics", response_model=list[str], tags=["record"])
def topics() -> list[str]:
    """Every topic a fact may have."""
    from thread.domain.facts.base import fact_classes

    return sorted(fact_classes())
