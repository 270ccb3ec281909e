"""Recurring deadlines: the day of each period a recurrence falls on, and the first one to track.

``due`` is the first occurrence on or after the document's date; every later one is tracked too. A yearly
obligation may name several points a year ("tháng 6 và tháng 12 hằng năm", "quý I và quý III hằng năm"):
each is an occurrence of its own. Within a programme period ("hằng năm, giai đoạn 2021-2025") the
occurrences run from the period's start to its end and no further.
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
from events.deadlines.text import EDGE, strip_fillers
from events.deadlines.tokens import read_day

_DAY_OF_MONTH = re.compile(r"ngày\s*(?P<day>\d{1,2})")
_DAY_OF_LAST_MONTH = re.compile(r"ngày\s*(?P<day>\d{1,2})\s*(?:của\s*)?tháng\s*cuối\s*(?P<of>quý|kỳ)")
# "tháng 6 và tháng 12", "quý I, quý III": the points of a yearly obligation.
_POINT_SEPARATOR = re.compile(r"\s*(?:,|;|\bvà\b)\s*")
_LATEST = date.max - timedelta(days=62)

Anchor = tuple[int | None, int | None, bool]  # (month, day, day before)


def parse_recurring(
    recurrence: Recurrence,
    rest: str,
    text: str,
    issued: date,
    *,
    period_start: date | None = None,
    until: date | None = None,
) -> Deadline:
    months, day, before = _anchors(recurrence, rest, text)
    month = months[0] if len(months) == 1 else None
    start = max(issued, period_start) if period_start else issued
    deadline_rule = [occurrences(recurrence, m, day, before, start, until or _LATEST) for m in months]
    found = [d for rule in deadline_rule if (d := next(rule, None)) is not None]
    if not found:
        fail(
            text,
            "The period ends before the document's date: no occurrence is left to track",
            "Giai đoạn đã kết thúc trước ngày ban hành văn bản: không còn kỳ nào để theo dõi",
        )
    return Deadline(
        kind="recurring",
        due=min(found),
        recurrence=recurrence,
        anchor_month=month,
        anchor_months=[m for m in months if m is not None] if len(months) > 1 else None,
        anchor_day=day,
        anchor_day_before=before,
        period_start=period_start,
        until=until,
        text=text,
    )


def _anchors(recurrence: Recurrence, rest: str, text: str) -> tuple[list[int | None], int | None, bool]:
    """The months of each occurrence (one None: the period's own), their day, and "the day before"."""
    s = strip_fillers(rest)
    if recurrence == "yearly" and _POINT_SEPARATOR.search(s) and not TARGET_MARK.search(s):
        return _several(s, text)
    month, day, before = _anchor(recurrence, s, text)
    return [month], day, before


def _several(s: str, text: str) -> tuple[list[int | None], int | None, bool]:
    relation, first = take_relation(s)
    anchors = []
    for part in _POINT_SEPARATOR.split(first):
        part = part.strip(EDGE)
        if not part:
            continue
        own, body = take_relation(strip_fillers(part))
        if own != "bare" and own != relation:
            fail(
                text,
                "The points of the yearly deadline are not all 'trong' or all 'trước'",
                "Các mốc trong năm không cùng là 'trong' hoặc cùng là 'trước'",
            )
        anchors.append(_anchor("yearly", f"{'trước ' if relation == 'before' else ''}{body}", text))
    months = [m for m, _, _ in anchors]
    if len({(d, b) for _, d, b in anchors}) != 1:
        fail(
            text,
            "The points of the yearly deadline fall on different days of their months; give each its own task",
            "Các mốc trong năm rơi vào những ngày khác nhau của tháng; hãy tách thành từng nhiệm vụ",
        )
    if len(set(months)) != len(months):
        fail(text, "The same month is named twice", "Một tháng được ghi hai lần")
    _, day, before = anchors[0]
    named = sorted(m for m in months if m is not None)
    if len(named) != len(months):  # a point without a month: the end of the year, beside named months
        fail(text, "Every point of the yearly deadline needs its month", "Mỗi mốc trong năm cần ghi rõ tháng")
    return list[int | None](named), day, before


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
