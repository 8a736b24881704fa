"""A query's time bounds: a moment outside what a ledger can hold bounds as its first or last
moment, never as a number the read models' 64-bit columns refuse (the HTTP fuzzer found a
year-401 ``until`` answered with a server error)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thread.errors import LedgerError
from thread.read.clock import ns
from thread.times import EARLIEST, LATEST

pytestmark = pytest.mark.unit


@given(st.datetimes(timezones=st.just(UTC)))
def test_every_aware_moment_is_a_bound_a_64_bit_column_takes(moment: datetime) -> None:
    """Any moment from year 1 to 9999 gives nanoseconds from 0 to the last a column holds."""
    assert 0 <= ns(moment) <= ns(LATEST) < 2**63


def test_moments_outside_the_ledger_s_range_bound_at_its_ends() -> None:
    """Before 1970 is the start, after 2262 the end; inside, the moment itself."""
    assert ns(datetime(401, 2, 2, tzinfo=UTC)) == ns(EARLIEST) == 0
    assert ns(datetime(9999, 1, 1, tzinfo=timezone(timedelta(hours=5)))) == ns(LATEST)
    assert ns(datetime(2026, 3, 2, tzinfo=UTC)) == 1_772_409_600 * 10**9


def test_a_moment_without_a_zone_is_refused() -> None:
    """A naive moment is one line naming it."""
    with pytest.raises(LedgerError, match="2026-03-02T00:00:00 needs a time zone"):
        ns(datetime(2026, 3, 2))
