"""The one deterministic byte encoding that the ledger hashes.

Canonical bytes are ``PREFIX`` followed by a msgpack array. Maps have their
keys sorted, floats are always 64-bit with negative zero folded to zero,
times are UTC msgpack timestamps, and sequences are arrays. Anything else
(sets, NaN, naive datetimes, integers beyond 64 bits) is refused, because
two encoders could disagree about it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgpack
from pydantic import BaseModel

from thread.domain.envelope import PREFIX
from thread.errors import LedgerError

__all__ = ["PREFIX", "CanonicalError", "model_payload", "normalise", "pack", "unpack"]

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


class CanonicalError(LedgerError):
    """A value has no canonical encoding."""


def normalise(value: Any, path: str = "$") -> Any:
    """Return ``value`` in the canonical shape: sorted maps, UTC times, plain floats."""
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise CanonicalError(f"{path}: integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalError(f"{path}: {value!r} is not a finite number")
        return value + 0.0  # folds -0.0 to 0.0
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise CanonicalError(f"{path}: datetime {value.isoformat()} has no time zone")
        return value.astimezone(UTC)
    if isinstance(value, Mapping):
        items = []
        for key in value:
            if not isinstance(key, str):
                raise CanonicalError(f"{path}: map key {key!r} is not a string")
            items.append(key)
        items.sort()
        return {key: normalise(value[key], f"{path}.{key}") for key in items}
    if isinstance(value, Sequence):
        return [normalise(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise CanonicalError(f"{path}: {type(value).__name__} has no canonical encoding")


def model_payload(model: BaseModel) -> dict[str, Any]:
    """The canonical map of a validated pydantic model: what ``normalise(model.model_dump())``
    gives, computed straight from the fields.

    Facts are validated on construction (finite floats, UTC times), so only the
    key order, negative zero and nested models need handling here.
    """
    names = _FIELD_ORDER.get(type(model))
    if names is None:
        names = _FIELD_ORDER[type(model)] = tuple(sorted(type(model).model_fields))
    values = model.__dict__
    payload: dict[str, Any] = {}
    for name in names:
        value = values[name]
        kind = type(value)
        if kind in _PLAIN:
            pass
        elif kind is float:
            value = value + 0.0
        elif kind is int:
            if not _INT_MIN <= value <= _INT_MAX:
                value = normalise(value, name)
        elif kind is tuple or kind is list:
            value = [_item(item, name) for item in value]
        elif isinstance(value, BaseModel):
            value = model_payload(value)
        else:
            value = normalise(value, name)
        payload[name] = value
    return payload


def _item(value: Any, path: str) -> Any:
    if isinstance(value, BaseModel):
        return model_payload(value)
    return normalise(value, path)


_FIELD_ORDER: dict[type[BaseModel], tuple[str, ...]] = {}
_PLAIN = frozenset({str, bool, bytes, type(None)})


def utc(value: datetime, path: str) -> datetime:
    """``value`` in UTC; a naive time is refused."""
    if value.tzinfo is UTC:
        return value
    return normalise(value, path)  # type: ignore[no-any-return]


def pack(value: Any) -> bytes:
    """Canonical bytes of ``value`` (already normalised or not)."""
    return PREFIX + msgpack.packb(normalise(value), datetime=True, use_bin_type=True)


def pack_normalised(value: Any) -> bytes:
    """Canonical bytes of a value that :func:`normalise` has already produced."""
    return PREFIX + msgpack.packb(value, datetime=True, use_bin_type=True)


def unpack(data: bytes) -> Any:
    """Decode canonical bytes; refuses anything that is not in canonical form."""
    if not data.startswith(PREFIX):
        raise CanonicalError(f"unknown encoding prefix {data[:4]!r}, expected {PREFIX!r}")
    try:
        value = msgpack.unpackb(
            data[len(PREFIX) :],
            timestamp=3,
            raw=False,
            strict_map_key=True,
            use_list=True,
        )
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as error:
        raise CanonicalError(f"bytes are not valid msgpack: {error}") from None
    return value


def is_canonical(data: bytes) -> bool:
    """True when ``data`` decodes and re-encodes to exactly the same bytes."""
    try:
        return pack(unpack(data)) == data
    except CanonicalError:
        return False
