"""The periods a phrase can name — a day, month, quarter, half-year or part of a year, a year — and the
months they span. A month, quarter, half-year or year means its last day; a day means that day."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from events.deadlines.refusals import fail
from events.deadlines.schedule import day_in
from events.deadlines.tokens import read_day, read_month, read_quarter, read_year

# A year, after "/", "-", ".", "năm" or a space.
_YEAR_TAIL = r"(?:(?:\s*(?:[/.-]|năm)\s*|\s+)(?P<year>\d+))?"
_DAY_LONG = re.compile(rf"ngày\s*(?P<day>\d{{1,2}})\s*tháng\s*(?P<month>\d{{1,2}}){_YEAR_TAIL}")
_DAY_SHORT = re.compile(rf"(?:ngày\s*)?(?P<day>\d{{1,2}})\s*[/.-]\s*(?P<month>\d{{1,2}}){_YEAR_TAIL}")
_PART_OF_YEAR = re.compile(
    r"(?:(?P<n>\d{1,2}|sáu)\s*tháng\s*(?P<side>đầu|cuối)\s*năm"
    r"|nửa\s*(?P<side2>đầu|cuối)\s*năm|nửa\s*năm\s*(?P<side3>đầu|cuối))" + _YEAR_TAIL
)
_MONTH = re.compile(rf"tháng\s*(?P<month>\d{{1,2}}){_YEAR_TAIL}")
_QUARTER = re.compile(rf"quý\s*(?P<quarter>[ivxlcdm]+|\d+){_YEAR_TAIL}")
_YEAR = re.compile(r"năm(?:\s*(?P<year>\d+))?")


@dataclass(frozen=True)
class Period:
    """A day, month, quarter, half-year or year: the months it spans, and its day if it is one."""

    unit: Literal["day", "month", "quarter", "part of year", "year"]
    first_month: int
    last_month: int
    year: int | None
    day: int | None = None

    def start(self, year: int) -> date:
        return day_in(year, self.first_month, self.day or 1)

    def end(self, year: int) -> date:
        return day_in(year, self.last_month, self.day)


def match_period(s: str, text: str) -> Period | None:
    if m := _DAY_LONG.fullmatch(s) or _DAY_SHORT.fullmatch(s):
        year = read_year(m["year"], text)
        month = read_month(m["month"], text)
        return Period("day", month, month, year, read_day(m["day"], month, year, text))
    if m := _PART_OF_YEAR.fullmatch(s):
        year = read_year(m["year"], text)
        months = 6 if m["n"] in (None, "sáu") else int(m["n"])
        if not 1 <= months <= 12:
            fail(text, f"A year has no {months} months", f"Một năm không có {months} tháng")
        if (m["side"] or m["side2"] or m["side3"]) == "đầu":
            return Period("part of year", 1, months, year)
        return Period("part of year", 13 - months, 12, year)
    if m := _MONTH.fullmatch(s):
        month = read_month(m["month"], text)
        return Period("month", month, month, read_year(m["year"], text))
    if m := _QUARTER.fullmatch(s):
        quarter = read_quarter(m["quarter"], text)
        return Period("quarter", 3 * quarter - 2, 3 * quarter, read_year(m["year"], text))
    if m := _YEAR.fullmatch(s):
        return Period("year", 1, 12, read_year(m["year"], text))
    return None
