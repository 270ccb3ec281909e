"""The numbers of a phrase — year, month, day, quarter — read and checked against the calendar.

Nothing is guessed: a two-digit year could be any century, so it is refused with the full form to write.
"""

from __future__ import annotations

from events.deadlines.refusals import fail
from events.deadlines.schedule import last_day

_ROMAN_QUARTERS = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


def read_year(token: str | None, text: str) -> int | None:
    if token is None:
        return None
    if len(token) == 2:
        fail(
            text,
            f"The two-digit year '{token}' is ambiguous; write the year in full (e.g. 20{token})",
            f"Năm viết bằng hai chữ số ('{token}') không rõ ràng; hãy ghi đủ bốn chữ số (ví dụ 20{token})",
        )
    year = int(token)
    if len(token) != 4 or not 1900 <= year <= 2199:
        fail(text, f"'{token}' is not a plausible year (1900-2199)", f"'{token}' không phải là năm hợp lệ (1900-2199)")
    return year


def read_month(token: str, text: str) -> int:
    month = int(token)
    if not 1 <= month <= 12:
        fail(text, f"Month {month} does not exist", f"Không có tháng {month}")
    return month


def read_day(day_token: str, month: int, year: int | None, text: str) -> int:
    day = int(day_token)
    when = f"{day}/{month}" + ("" if year is None else f"/{year}")
    # Without a year, 29/2 passes here; the caller decides (error when fixed, clamped when yearly).
    if not 1 <= day <= last_day(2000 if year is None else year, month):
        fail(text, f"{when} is not a calendar date", f"Ngày {when} không có trên lịch")
    return day


def read_quarter(token: str, text: str) -> int:
    quarter = int(token) if token.isdigit() else _ROMAN_QUARTERS.get(token, 0)
    if not 1 <= quarter <= 4:
        shown = token.upper()
        fail(
            text,
            f"Quarter {shown} does not exist (a year has quarters I to IV)",
            f"Không có quý {shown} (một năm có quý I đến quý IV)",
        )
    return quarter
