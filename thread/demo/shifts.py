"""The plant's working time: working days, the grinders' two shifts, and when each bearing is
ground.

The grinding cell runs an early (06-14 UTC) and a late shift (14-22 UTC) on weekdays that
are not public holidays. BRG-6204 is one job among the cell's others: the cell grinds
``DAILY`` of them a working day, at fixed slots spread over both shifts, the three grinders
taking turns. So the default 300 bearings take the 60 working days of the 13 weeks from
START, and a bearing's time depends only on its number, which is what lets more bearings
extend the same story.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta

from thread.demo.catalogue import OPERATORS, START, TODAY
from thread.errors import LedgerError

#: Bearings the cell grinds a working day.
DAILY = 5
#: When each of the day's bearings is due, from the start of the early shift.
SLOTS = tuple(timedelta(minutes=minutes) for minutes in (30, 220, 410, 600, 790))
#: The first shift starts at 06:00 UTC; the grinders run two shifts of eight hours.
FIRST_SHIFT = time(6, 0, tzinfo=START.tzinfo)
SHIFT = timedelta(hours=8)
SHIFTS = 2
#: Public holidays on weekdays before TODAY, when the plant is closed: Good Friday, Easter
#: Monday, Labour Day, Ascension Day and Whit Monday 2026.
HOLIDAYS = frozenset({date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 1), date(2026, 5, 14),
                      date(2026, 5, 25)})
#: The last bearing is ground this long before TODAY, so its hub can be shipped and installed.
LEAD = timedelta(weeks=3)


def _working_days() -> tuple[date, ...]:
    days, day = [], START.date()
    while day < TODAY.date():
        if day.weekday() < 5 and day not in HOLIDAYS:
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


#: Every working day from START to TODAY, in order.
WORKING_DAYS = _working_days()
_NUMBER = {day: number for number, day in enumerate(WORKING_DAYS)}
#: The most bearings the plant grinds by LEAD before TODAY.
CAPACITY = DAILY * sum(day < (TODAY - LEAD).date() for day in WORKING_DAYS)


def due(index: int) -> datetime:
    """When bearing number ``index`` (from 0) is due on its grinder."""
    if not 0 <= index < CAPACITY:
        raise LedgerError(
            f"the demo plant grinds {DAILY} bearings a working day from {START:%Y-%m-%d}, "
            f"{CAPACITY} in all by {LEAD.days // 7} weeks before its today "
            f"({TODAY:%Y-%m-%d}); ask for at most {CAPACITY} bearings, not {index + 1}")
    day = WORKING_DAYS[index // DAILY]
    return datetime.combine(day, FIRST_SHIFT) + SLOTS[index % DAILY]


def shift_number(at: datetime) -> int:
    """The number of the shift ``at`` falls in, counted from START's early shift."""
    day = _NUMBER.get(at.date())
    offset = at - datetime.combine(at.date(), FIRST_SHIFT)
    if day is None or not timedelta(0) <= offset < SHIFTS * SHIFT:
        raise LedgerError(f"demo plant: {at:%Y-%m-%d %H:%M} is not in a shift")
    return day * SHIFTS + offset // SHIFT


def shift_start(number: int) -> datetime:
    """When shift ``number`` starts (it ends SHIFT later)."""
    return datetime.combine(WORKING_DAYS[number // SHIFTS], FIRST_SHIFT) + (
        number % SHIFTS) * SHIFT


def on_shift(at: datetime, *, within: timedelta = timedelta(minutes=15)) -> datetime:
    """``at`` if a job of ``within`` fits in a shift from then, else a quarter of an hour
    (to set up) into the next shift."""
    first = bisect.bisect_left(WORKING_DAYS, at.date()) * SHIFTS
    for number in range(first, len(WORKING_DAYS) * SHIFTS):
        start = shift_start(number)
        if at < start:
            return start + timedelta(minutes=15)
        if at + within <= start + SHIFT:
            return at
    raise LedgerError(f"demo plant: no shift after {at:%Y-%m-%d %H:%M} before its today")


def next_working_day(at: datetime) -> date:
    """The first working day after the day of ``at``."""
    following = bisect.bisect_right(WORKING_DAYS, at.date())
    if following == len(WORKING_DAYS):
        raise LedgerError(f"demo plant: no working day after {at:%Y-%m-%d} before its today")
    return WORKING_DAYS[following]


def operator(machine: str, at: datetime) -> str:
    """Who runs ``machine`` in the shift of ``at``."""
    return OPERATORS[machine][shift_number(at) % SHIFTS]
