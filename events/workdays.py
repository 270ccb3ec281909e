"""Vietnamese working days (DESIGN §4 "Working days").

Lead times ("remind 7, 3 and 1 working days before the deadline") and "within N working days" rules
count working days: Monday to Friday, minus public holidays, plus the Saturdays the Government swaps
in as working days. Holidays come from the maintained ``holidays`` package (``holidays.Vietnam``):
Tết by the lunar calendar with its observed days, Giỗ Tổ Hùng Vương (10/3 âm lịch), 30/4, 1/5, Quốc
khánh 2/9 with its adjoining day, and the day swaps ("hoán đổi ngày làm việc") it records for public
servants, e.g. Monday 29/4/2024 off and Saturday 4/5/2024 worked.

Known limits:

* Day swaps are announced by the Government each year, often a few months ahead; the library knows
  only those published before its release (it had 2024, 2025 and 2026 at 0.109, and no swap for
  2022 or 2023). Keep ``holidays`` current, or pass ``extra_holidays``/``extra_workdays``.
* Lunar holidays of years the library has no official data for are computed astronomically; the
  Government's announcement wins when they differ.
* Provincial holidays and a body's own days off are not in it (``extra_holidays`` again).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import holidays

__all__ = ["WorkingCalendar", "default_calendar"]

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


@dataclass(frozen=True)
class _Year:
    holidays: dict[date, str]
    worked_weekend_days: frozenset[date]


class WorkingCalendar:
    """Vietnamese working days; holiday years are computed once, on first use, and cached."""

    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()) -> None:
        self._extra_holidays = frozenset(extra_holidays)
        self._extra_workdays = frozenset(extra_workdays)
        both = self._extra_holidays & self._extra_workdays
        if both:
            raise ValueError(f"days both off and worked: {sorted(both)}")
        self._years: dict[int, _Year] = {}

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is None:
            calendar = holidays.country_holidays("VN", years=year, language="vi")
            # weekend_workdays also lists swaps of other years (a swap can cross New Year): keep this one's.
            worked = frozenset(d for d in calendar.weekend_workdays if d.year == year)
            cached = self._years[year] = _Year(dict(calendar.items()), worked)
        return cached

    def holiday_name(self, d: date) -> str | None:
        """The Vietnamese name of the public holiday on ``d``, None on any other day."""
        if d in self._extra_holidays:
            return "Ngày nghỉ"
        return self._year(d.year).holidays.get(d)

    def is_working_day(self, d: date) -> bool:
        if d in self._extra_workdays:
            return True
        if d in self._extra_holidays:
            return False
        year = self._year(d.year)
        if d.weekday() >= _SATURDAY:
            return d in year.worked_weekend_days
        return d not in year.holidays

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (``d`` itself when n is 0; before it when n < 0).

        ``working_days_between(d, add_working_days(d, n)) == n`` for every ``d`` and n ≥ 0.
        """
        return self._step(d, n, _ONE_DAY) if n >= 0 else self._step(d, -n, -_ONE_DAY)

    def subtract_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day before ``d``: the day of the n-working-days reminder for a deadline ``d``.

        Saturday 4/3/2023 minus 1 is Friday 3/3; Tuesday 31/1/2023 minus 3 is Thursday 19/1 (Tết between).
        """
        return self.add_working_days(d, -n)

    def _step(self, d: date, n: int, step: timedelta) -> date:
        while n > 0:
            d += step
            if self.is_working_day(d):
                n -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Working days after ``a`` up to and including ``b``; negative when ``b`` is before ``a``.

        Counting starts the day after ``a``, as "within N working days of receipt" does.
        """
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        d = a
        while d < b:
            d += _ONE_DAY
            count += self.is_working_day(d)
        return count


@functools.cache
def default_calendar() -> WorkingCalendar:
    """The shared calendar with the library's holidays only; building it does no work until first use."""
    return WorkingCalendar()
