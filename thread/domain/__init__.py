"""The domain: facts, canonical bytes, hash-chained aggregates, and the concepts every view
shares (whereabouts, machine condition during an interval, subjects, summaries).

No infrastructure here. Nothing is imported eagerly, so that the pure modules
(:mod:`thread.domain.envelope`, :mod:`thread.domain.topics`) load without pydantic
for the offline verifier.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thread.domain.chain import GENESIS, Aggregate, Recorded, aggregate_id
    from thread.domain.design import DesignItem
    from thread.domain.machine import Machine
    from thread.domain.part import Item, Lot, Part

_LAZY = {
    "GENESIS": "thread.domain.chain",
    "Aggregate": "thread.domain.chain",
    "Recorded": "thread.domain.chain",
    "aggregate_id": "thread.domain.chain",
    "DesignItem": "thread.domain.design",
    "Machine": "thread.domain.machine",
    "Item": "thread.domain.part",
    "Lot": "thread.domain.part",
    "Part": "thread.domain.part",
}


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'thread.domain' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
