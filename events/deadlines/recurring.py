"""Recurring deadlines: the day of each period a recurrence falls on, and the first one to track.

``due`` is the first occurrence on or after the document's date; every later one is tracked too.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from events.deadlines.fixed import TARGET_MARK
from events.deadlines.model import Deadline
from events.deadlines.periods import match_period
from events.deadlines.points import take_relation
from events.deadlines.refusals import fail, reject_known_non_deadlines
from events.deadlines.schedule import Recurrence, occurrences
from events.deadlines.text import strip_fillers
from events.deadlines.tokens import read_day

_DAY_OF_MONTH = re.compile(r"ngày\s*(?P<day>\d{1,2})")
_DAY_OF_LAST_MONTH = re.compile(r"ngày\s*(?P<day>\d{1,2})\s*(?:của\s*)?tháng\s*cuối\s*(?P<of>quý|kỳ)")


def parse_recurring(recurrence: Recurrence, rest: str, text: str, issued: date) -> Deadline:
    month, day, before = _anchor(recurrence, rest, text)
    first = next(occurrences(recurrence, month, day, before, issued, date.max - timedelta(days=62)))
    return Deadline(
        kind="recurring",
        due=first,
        recurrence=recurrence,
        anchor_month=month,
        anchor_day=day,
        anchor_day_before=before,
        text=text,
    )


def _anchor(recurrence: Recurrence, rest: str, text: str) -> tuple[int | None, int | None, bool]:
    """(anchor_month, anchor_day, anchor_day_before) from what the text says besides the recurrence."""
    s = strip_fillers(rest)
    if not s:
        return None, None, False  # the end of each period
    if "," in s or ";" in s or TARGET_MARK.search(s):
        fail(
            text,
            "A recurring deadline has a single date per period, no target",
            "Thời hạn định kỳ chỉ có một mốc trong mỗi kỳ, không có mốc phấn đấu",
        )
    reject_known_non_deadlines(s, text)
    relation, body = take_relation(s)
    body = strip_fillers(body)
    before = relation == "before"
    if recurrence == "monthly" and (m := _DAY_OF_MONTH.fullmatch(body)):
        return None, read_day(m["day"], 1, None, text), before
    if (m := _DAY_OF_LAST_MONTH.fullmatch(body)) and (
        recurrence == "quarterly" or (recurrence == "half-yearly" and m["of"] == "kỳ")
    ):
        return None, read_day(m["day"], 1, None, text), before
    if recurrence == "yearly" and (period := match_period(body, text)) is not None:
        if period.year is not None:
            fail(
                text,
                f"A yearly deadline cannot name a year ({period.year})",
                f"Thời hạn hằng năm không ghi năm cụ thể ({period.year})",
            )
        if period.unit == "day":
            return period.first_month, period.day, before
        if relation == "until" or (period.unit == "year" and relation != "in"):
            fail(
                text,
                "The date in the yearly deadline is ambiguous",
                "Mốc thời gian trong thời hạn hằng năm không rõ ràng",
            )
        if before:  # the end of the month before the period starts
            return (period.first_month - 2) % 12 + 1, None, False
        return period.last_month, None, False
    fail(
        text,
        f"The date of the {recurrence} deadline is not in a recognised form",
        "Không đọc được mốc thời gian của thời hạn định kỳ",
    )
