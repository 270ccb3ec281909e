"""Calendar arithmetic of deadlines: a month's last day, and the occurrences of a recurrence."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Literal

Recurrence = Literal["yearly", "half-yearly", "quarterly", "monthly"]


def last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def day_in(year: int, month: int, day: int | None) -> date:
    """``day`` of the month, its last day when ``day`` is None or past the month's end."""
    last = last_day(year, month)
    return date(year, month, last if day is None else min(day, last))


_STEP: dict[str, int] = {"monthly": 1, "quarterly": 3, "half-yearly": 6, "yearly": 12}


def occurrences(
    recurrence: Recurrence, anchor_month: int | None, anchor_day: int | None, day_before: bool, lo: date, hi: date
) -> Iterator[date]:
    """Occurrences in [lo, hi], in order.

    Each period (month, quarter, half-year, year) has one reference month: its last month, or
    ``anchor_month`` for a yearly deadline. The occurrence is ``anchor_day`` of that month (its last
    day when None or past the month's end), or the day before it when ``day_before`` (the last day
    when the month has no such day: all of it comes before).
    """
    step = _STEP[recurrence]
    ref = (anchor_month or 12) if recurrence == "yearly" else step
    # One period early: "trước ngày 1 …" puts an occurrence in the month before its reference month.
    m = lo.year * 12 + lo.month - 1 - step
    m += ((ref - 1) - m) % step
    while True:
        year, month = divmod(m, 12)
        occurrence = day_in(year, month + 1, anchor_day)
        # "trước ngày 31" in a 30-day month: every day of the month is before the 31st.
        if day_before and (anchor_day is None or anchor_day <= last_day(year, month + 1)):
            occurrence -= timedelta(days=1)
        if occurrence > hi:
            return
        if occurrence >= lo:
            yield occurrence
        m += step
