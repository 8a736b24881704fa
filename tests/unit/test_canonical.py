"""Canonical bytes and event hashes: deterministic and injective, one form per value."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thread import facts as f
from thread.domain import canonical
from thread.domain.chain import GENESIS, Recorded

identifiers = st.from_regex(r"[A-Z0-9][A-Z0-9\-/.]{0,20}[A-Z0-9]", fullmatch=True)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]),
)
units = st.sampled_from(["mm", "um", "Cel", "rpm", "mm/min", "mm/s", "bar", "%"])


@st.composite
def inspections(draw: st.DrawFn) -> f.InspectionRecorded:
    """Inspection facts with every optional field sometimes present."""
    return f.InspectionRecorded(
        serial=draw(identifiers),
        characteristic=draw(identifiers),
        name=draw(st.none() | st.text(max_size=40)),
        method=draw(st.sampled_from(["cmm", "vision", "manual", "gauge"])),
        gauge=draw(st.none() | identifiers),
        measured=draw(st.none() | finite),
        unit=draw(st.none() | units),
        nominal=draw(st.none() | finite),
        verdict=draw(st.sampled_from(["pass", "fail"])),
    )


@st.composite
def process_records(draw: st.DrawFn) -> f.ProcessRecorded:
    """Process records with nested parameter summaries and raw sample blocks."""
    start = draw(instants)
    parameters = []
    for index in range(draw(st.integers(1, 4))):
        low, middle, high = sorted(draw(st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3)))
        samples = draw(st.none() | st.binary(min_size=1, max_size=64))
        parameters.append(f.ParameterSummary(
            name=f"p{index}", unit=draw(units), n=draw(st.integers(1, 10**6)),
            min=low, mean=middle, max=high, sd=middle - low,
            samples=samples, samples_encoding=None if samples is None else "raw-f64",
        ))
    return f.ProcessRecorded(
        lot=draw(identifiers), operation=draw(identifiers), machine=draw(st.none() | identifiers),
        started_at=start, ended_at=start + timedelta(seconds=draw(st.integers(0, 10**6))),
        parameters=tuple(parameters),
    )


facts = st.one_of(inspections(), process_records())


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """Everything besides the fact that an event's hash commits to."""
    return {
        "originator_id": uuid.UUID(bytes=draw(st.binary(min_size=16, max_size=16))),
        "version": draw(st.integers(1, 2**40)),
        "occurred_at": draw(instants),
        "recorded_at": draw(instants),
        "actor": draw(st.text(min_size=1, max_size=20)),
        "source": draw(st.text(min_size=1, max_size=20)),
        "source_record_id": draw(st.none() | st.text(max_size=20)),
        "prev_hash": draw(st.binary(min_size=32, max_size=32)),
    }


def event(fact: f.Fact, envelope: dict[str, Any]) -> Recorded:
    """An event built the way an aggregate builds it."""
    return Recorded.create(fact=fact, **envelope)


@settings(max_examples=300)
@given(facts, envelopes())
def test_encode_decode_encode_is_byte_identical(fact: f.Fact, envelope: dict[str, Any]) -> None:
    """Decoding canonical bytes and encoding the result again gives the same bytes."""
    first = event(fact, envelope)
    decoded = Recorded.decode(first.canonical)
    assert decoded.fact == fact
    again = event(decoded.fact, {
        "originator_id": decoded.originator_id, "version": decoded.originator_version,
        "occurred_at": decoded.occurred_at, "recorded_at": decoded.recorded_at,
        "actor": decoded.actor, "source": decoded.source,
        "source_record_id": decoded.source_record_id, "prev_hash": decoded.prev_hash,
    })
    assert again.canonical == first.canonical
    assert again.hash == first.hash
    assert canonical.is_canonical(first.canonical)


@settings(max_examples=300)
@given(facts, facts, envelopes())
def test_different_facts_never_share_bytes(a: f.Fact, b: f.Fact, envelope: dict[str, Any]) -> None:
    """Two facts that differ in any field have different canonical bytes and hashes."""
    if a == b:
        return
    assert event(a, envelope).hash != event(b, envelope).hash


@settings(max_examples=200)
@given(facts, envelopes(), envelopes(), st.sampled_from([
    "originator_id", "version", "occurred_at", "recorded_at", "actor", "source",
    "source_record_id", "prev_hash"]))
def test_changing_any_envelope_field_changes_the_hash(
    fact: f.Fact, envelope: dict[str, Any], other: dict[str, Any], name: str
) -> None:
    """The hash commits to aggregate id, version, both times, actor, source and predecessor."""
    changed = {**envelope, name: other[name]}
    same = envelope[name] == other[name]
    assert (event(fact, changed).hash == event(fact, envelope).hash) == same


@given(inspections(), envelopes())
def test_changing_any_payload_field_changes_the_hash(fact: f.InspectionRecorded,
                                                      envelope: dict[str, Any]) -> None:
    """Editing any single payload field of a fact changes its event's hash."""
    base = event(fact, envelope).hash
    assert fact.serial is not None  # inspections() always names a serial
    replacements: dict[str, Any] = {
        "serial": fact.serial + "X", "characteristic": fact.characteristic + "X",
        "name": (fact.name or "") + "x", "method": "manual" if fact.method != "manual" else "cmm",
        "gauge": (fact.gauge or "") + "G", "measured": (fact.measured or 0.0) + 1.0,
        "unit": "um" if fact.unit != "um" else "mm", "nominal": (fact.nominal or 0.0) + 1.0,
        "verdict": "fail" if fact.verdict == "pass" else "pass",
    }
    for field, value in replacements.items():
        if fact.measured is not None and field == "measured" and value == fact.measured:
            continue  # +1.0 is absorbed by very large floats
        if fact.nominal is not None and field == "nominal" and value == fact.nominal:
            continue
        changed = f.InspectionRecorded(**{**fact.model_dump(), field: value})
        assert event(changed, envelope).hash != base, field


def test_equal_instants_in_other_zones_and_signed_zero_encode_alike() -> None:
    """Normalisation: UTC times and -0.0 folded to 0.0, so equal values hash equal."""
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    envelope = {"originator_id": uuid.UUID(int=1), "version": 1, "occurred_at": at,
                "recorded_at": at.astimezone(timezone(timedelta(hours=2))), "actor": "a",
                "source": "s", "source_record_id": None, "prev_hash": GENESIS}
    one = f.InspectionRecorded(serial="S", characteristic="1", method="cmm", measured=0.0,
                               verdict="pass")
    other = f.InspectionRecorded(serial="S", characteristic="1", method="cmm", measured=-0.0,
                                 verdict="pass")
    assert event(one, envelope).canonical == event(other, {**envelope, "recorded_at": at}).canonical


@pytest.mark.parametrize("value", [math.nan, math.inf, datetime(2026, 1, 1), 2**64, {1, 2}])
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    """NaN, infinities, naive times, oversized integers and sets cannot be hashed reliably."""
    with pytest.raises(canonical.CanonicalError):
        canonical.pack({"value": value})


def test_non_canonical_bytes_are_recognised() -> None:
    """Maps with unsorted keys or a foreign prefix are not canonical."""
    import msgpack

    assert not canonical.is_canonical(canonical.PREFIX + msgpack.packb({"b": 1, "a": 2}))
    assert not canonical.is_canonical(b"XXXX" + msgpack.packb([1]))
    assert canonical.is_canonical(canonical.pack({"b": 1, "a": 2}))
