"""The one mapping layer between protocol adapters and the ledger.

Adapters deliver raw readings (:mod:`thread_adapters.readings`); the
:class:`MappingLayer` turns them into process records per part and
operation, condition blocks per machine and window, alarms and collection
gaps, as the machine's :mod:`tag map <thread_adapters.tagmap>` says.
"""

from __future__ import annotations

from thread_adapters.mapping.errors import (
    MachineNotRegistered,
    MappingError,
    ReadingRefused,
    RecordsRefused,
    UnitMismatch,
)
from thread_adapters.mapping.layer import MappingLayer
from thread_adapters.mapping.units import source_unit
from thread_adapters.mapping.writer import CollectionStats

__all__ = [
    "CollectionStats",
    "MachineNotRegistered",
    "MappingError",
    "MappingLayer",
    "ReadingRefused",
    "RecordsRefused",
    "UnitMismatch",
    "source_unit",
]
