"""One point in time of a phrase: the period it names, how the deadline relates to it ("trong",
"trước", "đến"), and the day that makes, its year taken from the document's date when missing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from events.deadlines.periods import Period, match_period
from events.deadlines.refusals import fail, reject_known_non_deadlines
from events.deadlines.text import strip_fillers

Relation = Literal["bare", "in", "before", "until"]
_RELATIONS: tuple[tuple[str, Relation], ...] = (
    ("đến hết", "in"),
    ("vào cuối", "in"),
    ("cuối", "in"),
    ("hết", "in"),
    ("trong", "in"),
    ("vào", "in"),
    ("trước", "before"),
    ("đến", "until"),
)


def take_relation(s: str) -> tuple[Relation, str]:
    for word, relation in _RELATIONS:
        if s == word or s.startswith(word + " "):
            return relation, s[len(word) :].strip()
    return "bare", s


def parse_point(clause: str, text: str) -> tuple[Period, Relation]:
    s = strip_fillers(clause)
    reject_known_non_deadlines(s, text)
    relation, rest = take_relation(s)
    rest = strip_fillers(rest)
    reject_known_non_deadlines(rest, text)
    period = match_period(rest, text)
    if period is None:
        fail(text, "The deadline is not in a recognised form", "Không đọc được thời hạn theo các mẫu được chấp nhận")
    if relation == "until" and period.unit != "day":
        fail(
            text,
            f"'đến {rest}' is ambiguous (the start or the end?); write 'trong {rest}' or 'trước {rest}'",
            f"'Đến {rest}' không rõ là đầu hay cuối kỳ; hãy ghi 'trong {rest}' hoặc 'trước {rest}'",
        )
    if period.unit == "year" and period.year is None and relation != "in":
        fail(text, "'năm' needs a year number (e.g. 'năm 2023')", "Thiếu số năm (ví dụ 'năm 2023')")
    return period, relation


def resolve(period: Period, relation: Relation, issued: date, text: str) -> date:
    def on(year: int) -> date:
        return period.start(year) - timedelta(days=1) if relation == "before" else period.end(year)

    if period.year is not None:
        return on(period.year)
    if period.unit == "day" and (period.first_month, period.day) == (2, 29):
        fail(
            text,
            "29/2 without a year is ambiguous (leap years only); write the year",
            "Ngày 29/2 không ghi năm là không rõ ràng (chỉ có trong năm nhuận); hãy ghi năm",
        )
    # The first such date on or after the document's date (DESIGN §4). "trước ngày 1/1" lands in
    # the year before its own, hence the window of one year each side.
    return next(d for year in range(issued.year - 1, issued.year + 2) if (d := on(year)) >= issued)
