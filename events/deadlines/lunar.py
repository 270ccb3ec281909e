"""Deadlines anchored to the Vietnamese lunar calendar: "trước Tết Nguyên đán Giáp Thìn", "Rằm tháng Giêng
năm 2024", "ngày 15 tháng 8 âm lịch", "trong tháng Chạp năm Quý Mão", "chậm nhất 10 ngày sau Tết Nguyên đán".

The conversion is the maintained ``lunar-vn`` library's (Hồ Ngọc Đức's algorithm on UTC+7, the Vietnamese
calendar, which differs from the Chinese one in some years); nothing here is a table of dates. A holiday
name only says which lunar day it is.

The year is the lunar year, numbered as the Gregorian year in which it begins ("Tết năm 2024" is 10/2/2024,
"tháng Chạp năm 2023" runs into January 2024), or named in the sexagenary cycle (Can Chi: "Giáp Thìn"); both
may be given and must agree. With neither, the first such date on or after the document's date (DESIGN §4).
A relation works as with Gregorian dates: a day is that day, a month its last day, "trước" the day before
it starts; "N ngày sau …" counts calendar days. "sau Tết" alone is a start, not a deadline, and is refused.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import lunar_vn
from lunar_vn import can_chi

from events.deadlines.model import Deadline, LunarDate
from events.deadlines.refusals import fail
from events.deadlines.text import strip_fillers

# What each name means in the lunar calendar: (month, day).
_NAMED_DAYS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("tết nguyên đán", (1, 1)),
    ("tết nguyên tiêu", (1, 15)),
    ("rằm tháng giêng", (1, 15)),
    ("giỗ tổ hùng vương", (3, 10)),
    ("tết đoan ngọ", (5, 5)),
    ("rằm tháng bảy", (7, 15)),
    ("tết trung thu", (8, 15)),
    ("tết ông công ông táo", (12, 23)),
    ("ông công ông táo", (12, 23)),
    ("tết", (1, 1)),  # last: "Tết" alone is Tết Nguyên đán
)
_NAMED_MONTHS = {"giêng": 1, "chạp": 12}
_CAN = "|".join(c.lower() for c in can_chi.CAN)
_CHI = "|".join(c.lower() for c in can_chi.CHI) + "|tị"
_CAN_CHI = rf"(?P<can>{_CAN})\s+(?P<chi>{_CHI})"
_LUNAR_WORD = re.compile(rf"\bâm lịch\b|\b(?:tết|rằm|giỗ tổ|ông công)\b|\btháng (?:giêng|chạp)\b|\b{_CAN_CHI}\b")
_MARK = re.compile(r"\s*\(?\s*(?:theo\s+)?âm lịch\s*\)?\s*")
_YEAR = rf"(?:\s*,?\s*\(?\s*(?:năm\s+)?(?:{_CAN_CHI})?\s*\)?\s*\(?\s*(?:năm\s+)?(?P<year>\d+)?\s*\)?)?"
_DAY = re.compile(
    rf"(?:ngày|mùng|mồng)?\s*(?P<day>\d{{1,2}})\s*(?:tháng\s*|/\s*)(?P<month>\d{{1,2}}|giêng|chạp){_YEAR}"
)
_MONTH = re.compile(rf"tháng\s*(?P<month>\d{{1,2}}|giêng|chạp){_YEAR}")
_AFTER = re.compile(r"(?:trong vòng\s+|trong\s+)?(?P<n>\d{1,3})\s+ngày\s+(?:sau|kể từ|tính từ)\s+(?:ngày\s+)?")


def looks_lunar(s: str) -> bool:
    return _LUNAR_WORD.search(s) is not None


def parse_lunar(s: str, text: str, issued: date) -> Deadline:
    marked = _MARK.search(s) is not None
    body = strip_fillers(_MARK.sub(" ", s).strip())
    if "," in body.replace(", năm", " năm") or ";" in body:
        fail(text, "One lunar date per deadline", "Mỗi thời hạn chỉ ghi một mốc âm lịch")
    offset = 0
    relation = "bare"
    if m := _AFTER.match(body):
        offset, body = int(m["n"]), body[m.end() :]
        relation = "after"
    elif m := re.match(r"(?:trước|trong|vào|đến)\s+", body):
        relation, body = m[0].strip(), body[m.end() :]
    elif re.match(r"(?:sau|từ|kể từ)\b", body):
        fail(
            text,
            "'sau Tết …' (after) gives a start, not a deadline; write 'trong vòng N ngày sau Tết …' or a date",
            "'Sau Tết …' là thời điểm bắt đầu, không phải thời hạn; hãy ghi 'trong vòng N ngày sau Tết …' "
            "hoặc ngày cụ thể",
        )
    body = strip_fillers(body)
    month, day, rest = _anchor(body, marked, text)
    if month is None:
        fail(
            text,
            "The lunar date is not in a recognised form (e.g. 'trước Tết Nguyên đán Giáp Thìn', "
            "'ngày 15 tháng 8 âm lịch năm 2024')",
            "Không đọc được mốc âm lịch (ví dụ 'trước Tết Nguyên đán Giáp Thìn', 'ngày 15 tháng 8 âm lịch năm 2024')",
        )
    if relation == "đến" and day is None:
        fail(text, "'đến tháng …' is ambiguous (the start or the end?)", "'Đến tháng …' không rõ là đầu hay cuối tháng")
    if offset and day is None:
        fail(
            text,
            "'N ngày sau' needs a lunar day, not a month",
            "'N ngày sau' cần một ngày âm lịch, không phải cả tháng",
        )

    def due_in(year: int) -> date:
        start, end = _solar_span(year, month, day, text)
        if relation == "trước":
            return start - timedelta(days=1)
        return end + timedelta(days=offset)

    year = _year(rest, text)
    if isinstance(year, int):
        chosen = year
    else:
        candidates = range(issued.year - 1, issued.year + 61) if year else range(issued.year - 1, issued.year + 2)
        wanted = year
        chosen = next(y for y in candidates if (not wanted or _can_chi(y) == wanted) and due_in(y) >= issued)
    lunar = LunarDate(year=chosen, month=month, day=day, can_chi=_can_chi(chosen, display=True))
    return Deadline(kind="fixed", due=due_in(chosen), lunar=lunar, text=text)


def _anchor(body: str, marked: bool, text: str) -> tuple[int | None, int | None, str]:
    """(lunar month, lunar day or None for the whole month, the words that name the year)."""
    for name, (month, day) in _NAMED_DAYS:
        if body == name or body.startswith(name + " "):
            return month, day, body[len(name) :]
    m = _DAY.fullmatch(body) or _MONTH.fullmatch(body)
    if m is None:
        return None, None, body
    named = m["month"] in _NAMED_MONTHS
    if not (marked or named or m["can"]):
        return None, None, body  # a Gregorian date: not this parser's
    month = _NAMED_MONTHS.get(m["month"]) or int(m["month"])
    if not 1 <= month <= 12:
        fail(text, f"Lunar month {month} does not exist", f"Không có tháng {month} âm lịch")
    lunar_day = int(m["day"]) if "day" in m.re.groupindex and m["day"] else None
    if lunar_day is not None and not 1 <= lunar_day <= 30:
        fail(text, f"Lunar day {lunar_day} does not exist", f"Không có ngày {lunar_day} âm lịch")
    return month, lunar_day, body[m.start("month") + len(m["month"]) :]


def _year(rest: str, text: str) -> int | str | None:
    """The year as a number, the Can Chi name alone (to be placed in its cycle), or None."""
    m = re.fullmatch(_YEAR, rest)
    if m is None or not rest.strip():
        if rest.strip():
            fail(
                text,
                "The lunar date is followed by words that are not a year",
                "Sau mốc âm lịch có nội dung không phải là năm",
            )
        return None
    named = f"{m['can']} {m['chi']}".replace("tị", "tỵ") if m["can"] else None
    if m["year"] is None:
        return named
    year = int(m["year"])
    if len(m["year"]) != 4:
        fail(text, f"'{m['year']}' is not a year in full", f"'{m['year']}' không phải năm viết đủ bốn chữ số")
    if named and _can_chi(year) != named:
        fail(
            text,
            f"The lunar year {year} is {_can_chi(year, display=True)}, not {named.title()}",
            f"Năm âm lịch {year} là năm {_can_chi(year, display=True)}, không phải {named.title()}",
        )
    return year


def _can_chi(year: int, *, display: bool = False) -> str:
    name = can_chi.get_year_can_chi(year)
    return name if display else name.lower()


def _solar_span(year: int, month: int, day: int | None, text: str) -> tuple[date, date]:
    """The Gregorian first and last day of a lunar day or month (the regular month, not a leap one)."""
    low, high = lunar_vn.SUPPORTED_YEAR_RANGE
    if not low <= year < high:
        fail(
            text,
            f"Lunar dates are computed for {low}-{high - 1} only",
            f"Chỉ tính được ngày âm lịch cho các năm {low}-{high - 1}",
        )
    first = _solar(year, month, day or 1, text)
    last = first if day is not None else _solar(year, month, 30, None) or _solar(year, month, 29, text)
    assert first is not None and last is not None
    return first, last


def _solar(year: int, month: int, day: int, text: str | None) -> date | None:
    """A lunar day in Gregorian; when the month is short of it, an error (``text`` given) or None."""
    solar = lunar_vn.lunar_to_solar(lunar_vn.LunarDate(day, month, year))
    back = lunar_vn.solar_to_lunar(solar)
    if (back.day, back.month, back.year, back.leap) == (day, month, year, False):
        return solar
    if text is not None:
        fail(
            text,
            f"Lunar month {month} of {year} has no day {day}",
            f"Tháng {month} âm lịch năm {year} không có ngày {day}",
        )
    return None
