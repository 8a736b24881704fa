"""The domain: facts, canonical bytes, hash-chained aggregates. No infrastructure here."""

from thread.domain.chain import GENESIS, Aggregate, Recorded, aggregate_id
from thread.domain.design import DesignItem
from thread.domain.machine import Machine
from thread.domain.part import Item, Lot, Part

__all__ = [
    "GENESIS",
    "Aggregate",
    "DesignItem",
    "Item",
    "Lot",
    "Machine",
    "Part",
    "Recorded",
    "aggregate_id",
]
