"""The fact catalogue: validation errors that say what is wrong, units, topics, versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import pytest
from conftest import bearing

import thread
from thread import facts as f
from thread.domain.facts.base import DuplicateTopic, PartFact, fact_classes


def test_every_segment_of_the_design_table_is_catalogued() -> None:
    """Design, manufacturing, quality, service, action and machine facts all have topics."""
    segments = {topic.split(".")[0] for topic in fact_classes()}
    assert {"design", "manufacturing", "quality", "service", "action", "machine",
            "record"} <= segments
    assert len(fact_classes()) >= 35


def test_facts_are_frozen_and_refuse_unknown_fields() -> None:
    """A recorded fact cannot be edited in memory, and typos in field names are errors."""
    fact = bearing("SN-1")
    with pytest.raises(Exception, match="frozen"):
        fact.serial = "SN-2"  # type: ignore[misc]
    with pytest.raises(thread.InvalidFact) as raised:
        # The misspelt field is the point of the test: it must be refused at run time.
        f.PartRegistered(serial="SN-1", part_number="P", revision="A",
                         revison="B")  # type: ignore[call-arg]
    assert raised.value.field == "revison"
    assert "no such field" in str(raised.value)


def test_missing_field_is_named() -> None:
    """A missing required field is reported by name with the subject."""
    with pytest.raises(thread.InvalidFact) as raised:
        # 'order' is left out on purpose, to check the error names it.
        f.Shipped(serial="SN-9", customer="ACME")  # type: ignore[call-arg]
    assert str(raised.value).startswith("Shipped for part SN-9: field 'order' = None")


def test_unknown_unit_is_refused_with_the_accepted_codes() -> None:
    """A value in an unknown unit cannot be compared later, so it is refused."""
    with pytest.raises(thread.InvalidFact) as raised:
        f.ParameterSummary(name="barrel_temp", unit="degrees", n=3, min=1, max=2, mean=1.5, sd=0.1)
    message = str(raised.value)
    assert "ParameterSummary barrel_temp" in message
    assert "'degrees'" in message and "Cel" in message


def test_part_fact_needs_exactly_one_of_serial_or_lot() -> None:
    """A part fact is about one serial or one lot, never both or neither."""
    with pytest.raises(thread.InvalidFact, match="exactly one of 'serial' or 'lot'"):
        f.Quarantined(serial="SN-1", lot="L-1", reason="x")
    with pytest.raises(thread.InvalidFact, match="exactly one of 'serial' or 'lot'"):
        f.Quarantined(reason="x")
    assert f.Quarantined(lot="L-1", reason="x").subject == ("lot", "L-1")


def test_value_rules_inside_facts() -> None:
    """Ordering rules: min <= mean <= max, end after start, tolerances in order."""
    with pytest.raises(thread.InvalidFact, match="min <= mean <= max"):
        f.ParameterSummary(name="speed", unit="rpm", n=3, min=5, max=4, mean=4.5, sd=0)
    with pytest.raises(thread.InvalidFact, match="ended_at at or after started_at"):
        f.OperationPerformed(serial="S", operation="OP10", station="ST1", operator="op",
                             started_at=datetime(2026, 1, 2, tzinfo=UTC),
                             ended_at=datetime(2026, 1, 1, tzinfo=UTC), cycle_time_s=1)
    with pytest.raises(thread.InvalidFact, match="lower_tolerance <= upper_tolerance"):
        f.Characteristic(balloon="1", name="bore", nominal=20, unit="mm",
                         lower_tolerance=0.1, upper_tolerance=-0.1)
    with pytest.raises(thread.InvalidFact, match=r"finite|valid number"):
        f.InspectionRecorded(serial="S", characteristic="1", method="cmm",
                             measured=float("nan"), verdict="pass")


def test_times_without_zone_are_refused_and_zones_normalised_to_utc() -> None:
    """Floor times must carry a zone; the fact holds them in UTC."""
    with pytest.raises(thread.InvalidFact, match="started_at"):
        f.ProcessRecorded(serial="S", operation="OP", started_at=datetime(2026, 1, 1),
                          ended_at=datetime(2026, 1, 1),
                          parameters=[f.ParameterSummary(name="s", unit="rpm", n=1, min=1,
                                                         max=1, mean=1, sd=0)])
    fact = f.AlarmRaised(machine="M1", code="E1", text="spindle overload",
                         raised_at="2026-01-01T08:00:00+02:00")
    assert fact.raised_at == datetime(2026, 1, 1, 6, tzinfo=UTC)


def test_a_topic_cannot_be_claimed_twice_at_the_same_version() -> None:
    """Two classes for one topic would make stored events ambiguous."""
    with pytest.raises(DuplicateTopic):
        class Impostor(PartFact):
            topic: ClassVar[str] = "quality.inspection-recorded"
