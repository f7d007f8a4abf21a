"""The two charging rules of issue 16 as pure functions: the agreement's
minimum billable time, and the split of an entry by the business-hours calendar."""

import datetime
from decimal import Decimal

import pytest

from agreements.domain import CalendarSplit, charge_split, charged_minutes, split_by_calendar

T = datetime.time
WEEKDAYS_8_TO_5 = {day: (T(8, 0), T(17, 0)) for day in range(5)} | {5: None, 6: None}
MONDAY = datetime.date(2026, 11, 30)
FRIDAY = MONDAY + datetime.timedelta(days=4)
SATURDAY = MONDAY + datetime.timedelta(days=5)
SUNDAY = MONDAY + datetime.timedelta(days=6)


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(1, 15), (5, 15), (15, 18), (12, 15), (13, 18), (20, 24), (24, 24), (25, 30)],
)
def test_it_rounds_to_the_increment_then_raises_to_the_minimum(minutes, expected):
    # 15-minute minimum, 6-minute increments rounding up: 5 min → 15, 20 min → 24.
    assert charged_minutes(minutes=minutes, increment=6, rounding_mode="up", multiplier=Decimal(1), minimum=15) == (
        expected
    )


def test_it_applies_the_multiplier_after_the_minimum():
    assert charged_minutes(minutes=5, increment=6, rounding_mode="up", multiplier=Decimal("1.5"), minimum=15) == 23
    assert charged_minutes(minutes=3, increment=6, rounding_mode="down", multiplier=Decimal(1), minimum=15) == 15


def test_zero_rate_work_stays_zero_whatever_the_minimum():
    assert charged_minutes(minutes=5, increment=6, rounding_mode="up", multiplier=Decimal(0), minimum=15) == 0


def test_no_minimum_charges_as_before():
    assert charged_minutes(minutes=5, increment=6, rounding_mode="up", multiplier=Decimal(1)) == 6


def split(day, start, minutes, *, holidays=(), closed_after_hours=True):
    return split_by_calendar(
        work_date=day,
        started_at=start,
        minutes=minutes,
        opening_hours=WEEKDAYS_8_TO_5,
        holidays=set(holidays),
        closed_days_after_hours=closed_after_hours,
    )


@pytest.mark.parametrize(
    ("day", "start", "minutes", "expected"),
    [
        (MONDAY, T(16, 30), 90, CalendarSplit(30, 60, True)),  # the issue's example
        (MONDAY, T(9, 0), 60, CalendarSplit(60, 0, False)),
        (MONDAY, T(7, 30), 60, CalendarSplit(30, 30, False)),  # starts before opening
        (MONDAY, T(6, 0), 12 * 60, CalendarSplit(9 * 60, 3 * 60, True)),  # around the whole day
        (MONDAY, T(17, 0), 30, CalendarSplit(0, 30, True)),  # closing time is after-hours
        (MONDAY, T(16, 59), 1, CalendarSplit(1, 0, False)),
        (MONDAY, T(23, 0), 10 * 60, CalendarSplit(60, 9 * 60, False)),  # past midnight into Tuesday 08:00–09:00
        (FRIDAY, T(23, 0), 10 * 60, CalendarSplit(0, 10 * 60, True)),  # into Saturday: closed
        (SATURDAY, T(10, 0), 60, CalendarSplit(0, 60, True)),
        (SUNDAY, T(23, 30), 60, CalendarSplit(0, 60, True)),  # Sunday night to Monday 00:30, before opening
        (SUNDAY, T(0, 0), 24 * 60, CalendarSplit(0, 24 * 60, True)),
    ],
)
def test_it_splits_an_entry_by_the_business_hours(day, start, minutes, expected):
    assert split(day, start, minutes) == expected


def test_holidays_are_after_hours():
    assert split(MONDAY, T(9, 0), 60, holidays=[MONDAY]) == CalendarSplit(0, 60, True)
    # Tuesday's holiday: the night into it stays after-hours.
    assert split(MONDAY, T(16, 0), 18 * 60, holidays=[MONDAY + datetime.timedelta(days=1)]) == CalendarSplit(
        60, 17 * 60, True
    )


def test_closed_days_and_holidays_count_as_normal_time_when_the_agreement_says_so():
    assert split(SATURDAY, T(10, 0), 60, closed_after_hours=False) == CalendarSplit(60, 0, False)
    assert split(MONDAY, T(20, 0), 60, holidays=[MONDAY], closed_after_hours=False) == CalendarSplit(60, 0, False)
    # An open weekday keeps its business hours: its evening is still after-hours.
    assert split(MONDAY, T(16, 30), 90, closed_after_hours=False) == CalendarSplit(30, 60, True)
    # Friday evening into Saturday: the evening is after-hours, Saturday normal.
    assert split(FRIDAY, T(23, 0), 120, closed_after_hours=False) == CalendarSplit(60, 60, False)


def charge(split, *, increment=15, mode="up", minimum=0, multiplier="1.00", after="1.50"):
    return charge_split(
        split=split,
        increment=increment,
        rounding_mode=mode,
        minimum=minimum,
        multiplier=Decimal(multiplier),
        after_hours_multiplier=Decimal(after),
    )


def test_the_issue_example_charges_30_normal_and_60_after_hours_as_120():
    result = charge(CalendarSplit(30, 60, True))
    assert (result.business_billable, result.after_hours_billable) == (30, 60)
    assert (result.business_charged, result.after_hours_charged, result.charged) == (30, 90, 120)


def test_the_rounding_goes_to_the_part_the_entry_ends_in():
    # 16:50 for 17 min: 10 business + 7 after-hours, rounded up to 30: the 13 extra are after-hours.
    result = charge(CalendarSplit(10, 7, True))
    assert (result.business_billable, result.after_hours_billable, result.charged) == (10, 20, 40)
    # 07:50 for 17 min: 10 after-hours + 7 business: the extra minutes are business time.
    result = charge(CalendarSplit(7, 10, False))
    assert (result.business_billable, result.after_hours_billable, result.charged) == (20, 10, 35)


def test_the_minimum_applies_to_the_whole_entry():
    result = charge(CalendarSplit(3, 2, True), increment=6, minimum=15)
    assert (result.business_billable, result.after_hours_billable) == (3, 12)
    assert result.charged == 3 + 18


def test_rounding_down_takes_from_the_other_part_when_the_last_is_too_short():
    # 16:52 for 10 min, rounded down to 15-min increments: nothing is charged in either part.
    result = charge(CalendarSplit(8, 2, True), mode="down")
    assert (result.billable, result.business_billable, result.after_hours_billable, result.charged) == (0, 0, 0, 0)
    result = charge(CalendarSplit(10, 10, True), mode="down")
    assert (result.business_billable, result.after_hours_billable, result.charged) == (10, 5, 18)  # 7.5 → 8


def test_a_higher_work_type_keeps_its_rate_after_hours_and_zero_rate_stays_zero():
    emergency = charge(CalendarSplit(30, 60, True), multiplier="2.00")
    assert (emergency.business_charged, emergency.after_hours_charged) == (60, 120)
    free = charge(CalendarSplit(30, 60, True), multiplier="0.00", minimum=120)
    assert (free.charged, free.after_hours_charged) == (0, 0)


def test_each_part_is_rounded_half_up():
    result = charge(CalendarSplit(0, 5, True), increment=1, after="1.50")
    assert result.after_hours_charged == 8  # 7.5 → 8
