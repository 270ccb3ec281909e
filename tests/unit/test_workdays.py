"""Vietnamese working days: weekends, Tết by the lunar calendar, Hùng Kings, 2/9 and the Government's
day swaps."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.workdays import WorkingCalendar, default_calendar

ONE_DAY = timedelta(days=1)
fast = settings(max_examples=60, deadline=None)
some_days = st.dates(min_value=date(2020, 1, 1), max_value=date(2027, 12, 31))


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar()


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_tet_2023_is_20_to_26_january(cal: WorkingCalendar) -> None:
    assert not any(cal.is_working_day(d) for d in days(date(2023, 1, 20), date(2023, 1, 26)))
    assert cal.is_working_day(date(2023, 1, 19))  # Thursday before: the last working day of the lunar year
    assert cal.is_working_day(date(2023, 1, 27))  # Friday after: back to work
    assert cal.holiday_name(date(2023, 1, 22)) == "Tết Nguyên Đán"
    assert cal.holiday_name(date(2023, 1, 20)) == "29 Tết"


def test_tet_follows_the_lunar_calendar(cal: WorkingCalendar) -> None:
    # Mùng một Tết: 1/2/2022, 22/1/2023, 10/2/2024, 29/1/2025.
    for new_year in (date(2022, 2, 1), date(2023, 1, 22), date(2024, 2, 10), date(2025, 1, 29)):
        assert cal.holiday_name(new_year) == "Tết Nguyên Đán"
        assert not cal.is_working_day(new_year)


def test_hung_kings_day_and_its_observed_day(cal: WorkingCalendar) -> None:
    assert cal.holiday_name(date(2024, 4, 18)) == "Ngày Giỗ Tổ Hùng Vương"
    assert not cal.is_working_day(date(2024, 4, 18))
    # 10/3 âm lịch fell on Saturday 29/4/2023; the day off moved to Tuesday 2/5.
    assert not cal.is_working_day(date(2023, 5, 2))


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2022, 9, 1), False),
        (date(2022, 9, 2), False),
        (date(2023, 9, 1), False),
        (date(2023, 9, 2), False),
        (date(2023, 9, 4), False),
        (date(2023, 9, 5), True),
        (date(2024, 9, 2), False),
        (date(2024, 9, 3), False),
        (date(2024, 9, 4), True),
    ],
)
def test_national_day_2_9(cal: WorkingCalendar, day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


def test_weekends_are_off(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2023, 3, 4))  # Saturday
    assert not cal.is_working_day(date(2023, 3, 5))  # Sunday
    assert cal.is_working_day(date(2023, 3, 6))  # Monday


def test_a_swapped_saturday_is_worked_and_its_monday_is_off(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2024, 5, 4))  # Saturday worked ...
    assert not cal.is_working_day(date(2024, 4, 29))  # ... for Monday 29/4/2024 off
    assert cal.is_working_day(date(2014, 12, 27))  # a swap across New Year (for Friday 2/1/2015)
    assert not cal.is_working_day(date(2015, 1, 2))


def test_subtract_7_working_days_over_a_weekend(cal: WorkingCalendar) -> None:
    # Thursday 16/3/2023: Wed 15, Tue 14, Mon 13, (weekend), Fri 10, Thu 9, Wed 8, Tue 7.
    assert cal.subtract_working_days(date(2023, 3, 16), 7) == date(2023, 3, 7)


def test_reminders_7_3_1_working_days_before_a_deadline_across_tet(cal: WorkingCalendar) -> None:
    deadline = date(2023, 1, 31)  # "Tháng 01/2023"
    reminders = [cal.subtract_working_days(deadline, n) for n in (7, 3, 1)]
    assert reminders == [date(2023, 1, 13), date(2023, 1, 19), date(2023, 1, 30)]


def test_subtract_from_a_weekend_day_counts_from_friday(cal: WorkingCalendar) -> None:
    assert cal.subtract_working_days(date(2023, 3, 4), 1) == date(2023, 3, 3)
    assert cal.subtract_working_days(date(2023, 3, 5), 0) == date(2023, 3, 5)


def test_add_working_days(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(date(2023, 3, 3), 1) == date(2023, 3, 6)  # Friday + 1 is Monday
    assert cal.add_working_days(date(2023, 1, 19), 1) == date(2023, 1, 27)  # over Tết
    assert cal.add_working_days(date(2023, 1, 27), -1) == date(2023, 1, 19)


def test_working_days_between(cal: WorkingCalendar) -> None:
    assert cal.working_days_between(date(2023, 3, 3), date(2023, 3, 6)) == 1  # Fri → Mon
    assert cal.working_days_between(date(2023, 1, 19), date(2023, 1, 27)) == 1  # over Tết
    assert cal.working_days_between(date(2023, 3, 6), date(2023, 3, 3)) == -1
    assert cal.working_days_between(date(2023, 3, 6), date(2023, 3, 6)) == 0
    # 2023: 365 days, 105 weekend days, 11 holidays on weekdays (2/1, 20/1, 23-26/1, 2/5, 3/5, 1/5, 1/9, 4/9).
    assert cal.working_days_between(date(2022, 12, 31), date(2023, 12, 31)) == 365 - 105 - 11


def test_extra_holidays_and_workdays() -> None:
    local = WorkingCalendar(extra_holidays=[date(2023, 3, 6)], extra_workdays=[date(2023, 3, 4)])
    assert not local.is_working_day(date(2023, 3, 6))
    assert local.holiday_name(date(2023, 3, 6)) == "Ngày nghỉ"
    assert local.is_working_day(date(2023, 3, 4))
    with pytest.raises(ValueError, match="both off and worked"):
        WorkingCalendar(extra_holidays=[date(2023, 3, 6)], extra_workdays=[date(2023, 3, 6)])


def test_holiday_years_are_cached() -> None:
    calendar = WorkingCalendar()
    calendar.is_working_day(date(2023, 1, 1))
    first = calendar._year(2023)
    calendar.add_working_days(date(2023, 1, 1), 200)
    assert calendar._year(2023) is first


def test_default_calendar_is_shared() -> None:
    assert default_calendar() is default_calendar()


@fast
@given(some_days, st.integers(0, 40))
def test_add_then_count_gives_n(day: date, n: int) -> None:
    cal = default_calendar()
    later = cal.add_working_days(day, n)
    assert cal.working_days_between(day, later) == n
    assert n == 0 or cal.is_working_day(later)


@fast
@given(some_days, st.integers(0, 40))
def test_subtract_lands_on_a_working_day_n_before(day: date, n: int) -> None:
    cal = default_calendar()
    earlier = cal.subtract_working_days(day, n)
    if n:
        # (earlier, day] holds the n - 1 working days stepped over, and day itself when it is one.
        assert cal.is_working_day(earlier)
        assert cal.working_days_between(earlier, day) == n - 1 + cal.is_working_day(day)
    assert cal.subtract_working_days(day, n) == cal.add_working_days(day, -n)


@fast
@given(some_days, some_days)
def test_between_counts_weekdays_that_are_not_holidays(a: date, b: date) -> None:
    cal = default_calendar()
    lo, hi = min(a, b), max(a, b)
    hi = min(hi, lo + timedelta(days=120))
    expected = sum(1 for d in days(lo + ONE_DAY, hi) if cal.is_working_day(d)) if hi > lo else 0
    assert cal.working_days_between(lo, hi) == expected == -cal.working_days_between(hi, lo)
