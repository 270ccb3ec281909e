"""Vietnamese deadline text → a typed deadline (DESIGN §4 "Deadlines").

Deadlines are parsed from the words of the source document ("Tháng 11/2022", "Trước ngày 15/9/2023",
"chậm nhất trong quý I năm 2023", "trước ngày 30 tháng 9 hàng năm", "Theo tiến độ …"), never retyped
by hand. The parser is pure: no clock and no I/O; the document's own date (``issued``) is the only
context, used to fill in a missing year.

Rules, each taken from DESIGN §4 or from how the seeds write deadlines:

* A month, quarter, half-year or year means its last day; a day means that day. The deadline is the
  end of that day in Asia/Ho_Chi_Minh (:meth:`Deadline.due_at`).
* "trước <X>" (before X) means done by the end of the day before X starts: "trước ngày 15/9/2023" is
  14/9/2023, "trước tháng 6 năm 2023" is 31/5/2023, "trước quý II" the end of quarter I.
* A missing year is filled with the first year that puts the deadline on or after ``issued``.
* "Phấn đấu … , chậm nhất …": the "chậm nhất" (at the latest) date is the due date, the other one
  an earlier target.
* Recurring ("hằng năm", "định kỳ hằng quý", "hằng tháng", "6 tháng một lần"): every occurrence is
  tracked; ``due`` is the first one on or after ``issued``. A bare "hằng năm" with no date is taken as
  31 December each year: annual tasks are reported by year end, so that is the last day the year's
  work can still count; write the day when it is earlier ("trước ngày 30 tháng 9 hằng năm").
* No fixed deadline ("Theo tiến độ …", "thường xuyên", "liên tục", "đột xuất"): ``kind="none"``,
  counted apart in reports.
* Anything else — a two-digit year, 31/02, "quý V", "đầu tháng 11", "ngay", "từ ngày …" — raises
  :class:`DeadlineParseError` naming what was wrong and the accepted forms. Nothing is guessed.

Day numbers that a short month lacks in a recurring deadline ("ngày 31 hằng tháng", "ngày 29/2 hằng
năm") fall on that month's last day, as the Civil Code (Bộ luật Dân sự 2015, Art. 148) ends a period
counted in months.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, NoReturn
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ACCEPTED_FORMS",
    "DOMAIN_TZ",
    "Deadline",
    "DeadlineParseError",
    "parse_deadline",
    "parse_deadline_or_date",
]

DOMAIN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

Kind = Literal["fixed", "recurring", "none"]
Recurrence = Literal["yearly", "half-yearly", "quarterly", "monthly"]

ACCEPTED_FORMS: list[str] = [
    "Tháng 11/2022",
    "tháng 01/2023",
    "trong tháng 10 năm 2022",
    "hoàn thành trong tháng 5/2022",
    "Trước ngày 15/9/2023",
    "trước ngày 20/01/2022",
    "ngày 30 tháng 9 năm 2022",
    "chậm nhất ngày 30-9-2023",
    "đến ngày 15.9.2023",
    "trước tháng 6 năm 2023",
    "Quý I năm 2023",
    "chậm nhất trong quý 1/2023",
    "6 tháng đầu năm 2022",
    "nửa cuối năm 2023",
    "9 tháng đầu năm 2023",
    "năm 2023",
    "trước ngày 30/9",
    "Phấn đấu hoàn thành trong tháng 11 năm 2022, chậm nhất trong quý I năm 2023",
    "trước ngày 30 tháng 9 hàng năm",
    "hằng năm",
    "định kỳ hằng quý",
    "trước ngày 20 của tháng cuối quý, định kỳ hằng quý",
    "định kỳ 6 tháng",
    "hằng tháng",
    "trước ngày 5 hằng tháng",
    "Theo tiến độ Kế hoạch của UBND tỉnh",
    "thường xuyên",
    "liên tục",
]


class DeadlineParseError(ValueError):
    """A deadline text that cannot be read without guessing.

    ``message_vi`` is the user-facing message (agencies see it in intake rejections);
    ``message_en`` and ``str()`` are for logs and developers.
    """

    def __init__(self, text: str, message_en: str, message_vi: str,
                 accepted_forms: list[str] | None = None) -> None:
        self.text = text
        self.message_en = message_en
        self.message_vi = message_vi
        self.accepted_forms = list(ACCEPTED_FORMS if accepted_forms is None else accepted_forms)
        super().__init__(
            f"{message_en} (in deadline {text!r}). Accepted forms: {'; '.join(self.accepted_forms)}"
        )

    def __reduce__(self) -> tuple[type[DeadlineParseError], tuple[str, str, str, list[str]]]:
        # The default reduce would call __init__ with the formatted message only.
        return (type(self), (self.text, self.message_en, self.message_vi, self.accepted_forms))


def _fail(text: str, message_en: str, message_vi: str) -> NoReturn:
    raise DeadlineParseError(text, message_en, message_vi)


# --------------------------------------------------------------------------------------------
# The parsed deadline


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _day_in(year: int, month: int, day: int | None) -> date:
    """``day`` of the month, its last day when ``day`` is None or past the month's end."""
    last = _last_day(year, month)
    return date(year, month, last if day is None else min(day, last))


_STEP: dict[str, int] = {"monthly": 1, "quarterly": 3, "half-yearly": 6, "yearly": 12}


def _occurrences(recurrence: Recurrence, anchor_month: int | None, anchor_day: int | None,
                 day_before: bool, lo: date, hi: date) -> Iterator[date]:
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
        occurrence = _day_in(year, month + 1, anchor_day)
        # "trước ngày 31" in a 30-day month: every day of the month is before the 31st.
        if day_before and (anchor_day is None or anchor_day <= _last_day(year, month + 1)):
            occurrence -= timedelta(days=1)
        if occurrence > hi:
            return
        if occurrence >= lo:
            yield occurrence
        m += step


class Deadline(BaseModel):
    """A parsed deadline. Serialisable as is: recurring ones carry their anchor, not just ``due``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    due: date | None = Field(
        default=None,
        description="fixed: the due date; recurring: the first occurrence on or after the document date; "
        "none: null. Due at the end of that day, Asia/Ho_Chi_Minh.",
    )
    target: date | None = Field(
        default=None, description="An earlier target date ('Phấn đấu …'), fixed deadlines only."
    )
    recurrence: Recurrence | None = None
    anchor_month: int | None = Field(
        default=None, ge=1, le=12,
        description="Yearly deadlines: the month of each occurrence (default December).",
    )
    anchor_day: int | None = Field(
        default=None, ge=1, le=31,
        description="Recurring deadlines: the day of the reference month (its last month for a quarter or "
        "half-year); null means the last day. A day a month lacks falls on its last day.",
    )
    anchor_day_before: bool = Field(
        default=False,
        description="Recurring deadlines: the occurrence is the day before anchor_day ('trước ngày').",
    )
    text: str = Field(description="The deadline as written in the document (NFC).")

    @field_validator("text")
    @classmethod
    def _nfc(cls, value: str) -> str:
        return unicodedata.normalize("NFC", value)

    @model_validator(mode="after")
    def _consistent(self) -> Deadline:
        anchored = self.anchor_month is not None or self.anchor_day is not None or self.anchor_day_before
        if self.kind == "none":
            if self.due is not None or self.target is not None or self.recurrence or anchored:
                raise ValueError("a deadline of kind 'none' has no dates, recurrence or anchor")
        elif self.kind == "fixed":
            if self.due is None:
                raise ValueError("a fixed deadline needs a due date")
            if self.recurrence or anchored:
                raise ValueError("a fixed deadline has no recurrence or anchor")
            if self.target is not None and self.target > self.due:
                raise ValueError("the target date is after the due date")
        else:
            self._check_recurring()
        return self

    def _check_recurring(self) -> None:
        if self.due is None or self.recurrence is None:
            raise ValueError("a recurring deadline needs a recurrence and its first due date")
        if self.target is not None:
            raise ValueError("a recurring deadline has no target date")
        if self.anchor_month is not None and self.recurrence != "yearly":
            raise ValueError("anchor_month is for yearly deadlines only")
        if self.anchor_day_before and self.anchor_day is None:
            raise ValueError("anchor_day_before needs anchor_day")
        if self.anchor_day is not None and self.anchor_month is not None:
            if self.anchor_day > _last_day(2000, self.anchor_month):  # 2000: a leap year, so 29/2 passes
                raise ValueError(f"day {self.anchor_day} does not exist in month {self.anchor_month}")
        if self.occurrence_on_or_after(self.due) != self.due:
            raise ValueError("due is not an occurrence of the recurrence")

    def due_at(self) -> datetime | None:
        """The end of the due day (23:59:59.999999) in Asia/Ho_Chi_Minh, None when there is no due date."""
        if self.due is None:
            return None
        return datetime.combine(self.due, time.max, tzinfo=DOMAIN_TZ)

    def occurrences(self, start: date, end: date) -> list[date]:
        """Due dates in [start, end], inclusive.

        Recurring: every occurrence from the first one (``due``) on. Fixed: ``[due]`` when inside, so a
        scheduler can treat every kind alike. None: always empty.
        """
        if self.due is None:
            return []
        if self.recurrence is None:
            return [self.due] if start <= self.due <= end else []
        return list(self._rule(max(start, self.due), end))

    def occurrence_on_or_after(self, day: date) -> date | None:
        """The first due date on or after ``day`` (the next one to track), None when there is none."""
        if self.due is None:
            return None
        if self.recurrence is None:
            return self.due if self.due >= day else None
        return next(self._rule(day, date.max - timedelta(days=62)), None)

    def _rule(self, lo: date, hi: date) -> Iterator[date]:
        assert self.recurrence is not None
        return _occurrences(self.recurrence, self.anchor_month, self.anchor_day,
                            self.anchor_day_before, lo, hi)


# --------------------------------------------------------------------------------------------
# Reading the text

# Characters a copy from a PDF or a spreadsheet drags along that carry no meaning.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))
_EDGE = " .,;:!?\"'“”‘’«»()[]{}*•·-_"


def _canonical(text: str) -> str:
    """Lower case, NFC, single spaces, common spelling variants folded; edges trimmed."""
    # NFKC first: it composes NFD input and folds full-width digits and "Ⅳ" to plain characters.
    s = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_DASHES).lower()
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFC", s))
    s = re.sub(r"\bhằng\b", "hàng", s)  # "hằng năm" and "hàng năm" are both in use
    s = re.sub(r"\b(?:quí|qúy)\b", "quý", s)  # older spellings
    s = re.sub(r"\bmuộn nhất\b", "chậm nhất", s)
    return s.strip(_EDGE)


_FILLER = re.compile(
    r"^(?:phấn đấu|phần đầu|thời hạn hoàn thành|thời gian hoàn thành|thời hạn|thời gian|hạn chót|hạn"
    r"|phải hoàn thành|hoàn thành|xong|chậm nhất là|chậm nhất|không quá|không muộn hơn|không chậm hơn|là)"
    r"(?=[\s:,]|$)"
)
_TRAILING_FILLER = re.compile(r"(?:^|\s)(?:phải hoàn thành|hoàn thành|là xong|xong)$")


def _strip_fillers(s: str) -> str:
    while True:
        before = s
        s = _TRAILING_FILLER.sub("", _FILLER.sub("", s.strip(_EDGE))).strip(_EDGE)
        if s == before:
            return s


_NONE = re.compile(
    r"theo (?:tiến độ|kế hoạch|lộ trình|quy định|yêu cầu|chỉ đạo|hướng dẫn)\b.*"
    r"|(?:thường xuyên|liên tục|đột xuất|khi có yêu cầu)(?:\s*(?:,|;|và|hoặc)?\s*"
    r"(?:thường xuyên|liên tục|đột xuất|khi có yêu cầu))*"
)

def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})\b")


_RECURRENCES: tuple[tuple[Recurrence, re.Pattern[str]], ...] = (
    # Half-yearly first: "6 tháng một lần" contains the monthly "tháng một lần", and "nửa năm một
    # lần" the yearly "năm một lần".
    ("half-yearly", _words(
        r"(?:(?:định|thường) kỳ\s+)?(?:(?:hàng|mỗi)\s+)?(?:(?:6|sáu)\s+tháng|nửa\s+năm)"
        r"\s*(?:(?:một|1)\s+lần|/\s*lần)"
        r"|(?:(?:định|thường) kỳ\s+)?(?:hàng|mỗi)\s+(?:(?:6|sáu)\s+tháng|nửa\s+năm)"
        r"|(?:định|thường) kỳ\s+(?:(?:6|sáu)\s+tháng|nửa\s+năm)(?!\s*(?:đầu|cuối))"
    )),
    ("yearly", _words(
        r"(?:(?:định|thường) kỳ\s+)?(?:(?:hàng|mỗi)\s+năm(?:\s+(?:một|1)\s+lần)?"
        r"|(?:(?:một|1)\s+)?năm\s+(?:một|1)\s+lần)"
    )),
    ("quarterly", _words(
        r"(?:(?:định|thường) kỳ\s+)?(?:(?:hàng|mỗi)\s+quý|quý\s+(?:một|1)\s+lần)"
    )),
    ("monthly", _words(
        r"(?:(?:định|thường) kỳ\s+)?(?:(?:hàng|mỗi)\s+tháng|tháng\s+(?:một|1)\s+lần)"
    )),
)
_AD_HOC = re.compile(r"(?:,\s*|\s+)?(?:hoặc|và)?\s*đột xuất")
_UNTRACKED_RECURRENCE = re.compile(r"\b(?:hàng|mỗi)\s+(?:ngày|tuần)\b")
_PERIODIC_WORD = re.compile(r"\b(?:định|thường) kỳ\b")

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
_DAY_OF_MONTH = re.compile(r"ngày\s*(?P<day>\d{1,2})")
_DAY_OF_LAST_MONTH = re.compile(r"ngày\s*(?P<day>\d{1,2})\s*(?:của\s*)?tháng\s*cuối\s*(?P<of>quý|kỳ)")

_ROMAN_QUARTERS = {"i": 1, "ii": 2, "iii": 3, "iv": 4}

_Relation = Literal["bare", "in", "before", "until"]
_RELATIONS: tuple[tuple[str, _Relation], ...] = (
    ("đến hết", "in"), ("vào cuối", "in"), ("cuối", "in"), ("hết", "in"),
    ("trong", "in"), ("vào", "in"), ("trước", "before"), ("đến", "until"),
)


@dataclass(frozen=True)
class _Period:
    """A day, month, quarter, half-year or year: the months it spans, and its day if it is one."""

    unit: Literal["day", "month", "quarter", "part of year", "year"]
    first_month: int
    last_month: int
    year: int | None
    day: int | None = None

    def start(self, year: int) -> date:
        return _day_in(year, self.first_month, self.day or 1)

    def end(self, year: int) -> date:
        return _day_in(year, self.last_month, self.day)


def _year(token: str | None, text: str) -> int | None:
    if token is None:
        return None
    if len(token) == 2:
        _fail(text, f"The two-digit year '{token}' is ambiguous; write the year in full (e.g. 20{token})",
              f"Năm viết bằng hai chữ số ('{token}') không rõ ràng; hãy ghi đủ bốn chữ số (ví dụ 20{token})")
    year = int(token)
    if len(token) != 4 or not 1900 <= year <= 2199:
        _fail(text, f"'{token}' is not a plausible year (1900-2199)",
              f"'{token}' không phải là năm hợp lệ (1900-2199)")
    return year


def _month(token: str, text: str) -> int:
    month = int(token)
    if not 1 <= month <= 12:
        _fail(text, f"Month {month} does not exist", f"Không có tháng {month}")
    return month


def _day(day_token: str, month: int, year: int | None, text: str) -> int:
    day = int(day_token)
    when = f"{day}/{month}" + ("" if year is None else f"/{year}")
    # Without a year, 29/2 passes here; the caller decides (error when fixed, clamped when yearly).
    if not 1 <= day <= _last_day(2000 if year is None else year, month):
        _fail(text, f"{when} is not a calendar date", f"Ngày {when} không có trên lịch")
    return day


def _quarter(token: str, text: str) -> int:
    quarter = int(token) if token.isdigit() else _ROMAN_QUARTERS.get(token, 0)
    if not 1 <= quarter <= 4:
        shown = token.upper()
        _fail(text, f"Quarter {shown} does not exist (a year has quarters I to IV)",
              f"Không có quý {shown} (một năm có quý I đến quý IV)")
    return quarter


def _match_period(s: str, text: str) -> _Period | None:
    if m := _DAY_LONG.fullmatch(s) or _DAY_SHORT.fullmatch(s):
        year = _year(m["year"], text)
        month = _month(m["month"], text)
        return _Period("day", month, month, year, _day(m["day"], month, year, text))
    if m := _PART_OF_YEAR.fullmatch(s):
        year = _year(m["year"], text)
        months = 6 if m["n"] in (None, "sáu") else int(m["n"])
        if not 1 <= months <= 12:
            _fail(text, f"A year has no {months} months", f"Một năm không có {months} tháng")
        if (m["side"] or m["side2"] or m["side3"]) == "đầu":
            return _Period("part of year", 1, months, year)
        return _Period("part of year", 13 - months, 12, year)
    if m := _MONTH.fullmatch(s):
        month = _month(m["month"], text)
        return _Period("month", month, month, _year(m["year"], text))
    if m := _QUARTER.fullmatch(s):
        quarter = _quarter(m["quarter"], text)
        return _Period("quarter", 3 * quarter - 2, 3 * quarter, _year(m["year"], text))
    if m := _YEAR.fullmatch(s):
        return _Period("year", 1, 12, _year(m["year"], text))
    return None


def _take_relation(s: str) -> tuple[_Relation, str]:
    for word, relation in _RELATIONS:
        if s == word or s.startswith(word + " "):
            return relation, s[len(word):].strip()
    return "bare", s


def _reject_known_non_deadlines(s: str, text: str) -> None:
    """Specific messages for the forms people write that carry no date of their own."""
    if re.match(r"(?:kể từ|bắt đầu từ|từ)\b", s):
        _fail(text, "'từ …' (from) gives a start date, not a deadline",
              "'Từ …' là thời điểm bắt đầu, không phải thời hạn hoàn thành")
    if re.match(r"sau\b", s):
        _fail(text, "'sau …' (after) gives no deadline", "'Sau …' không xác định thời hạn hoàn thành")
    if re.search(r"trong vòng|\d+\s*(?:ngày|tuần|tháng|năm)\s*(?:làm việc\s*)?(?:kể từ|từ|sau)\b", s):
        _fail(text, "A deadline counted from an event ('trong vòng 30 ngày', 'N ngày làm việc kể từ …') "
              "needs that event's date; write the date",
              "Thời hạn tính từ một sự kiện ('trong vòng 30 ngày', 'N ngày làm việc kể từ …') chưa có "
              "ngày cụ thể; hãy ghi rõ ngày")
    if re.fullmatch(r"(?:ngay|khẩn trương|kịp thời|sớm|càng sớm càng tốt)\b.*", s):
        _fail(text, "Urgency words ('ngay', 'khẩn trương', 'kịp thời') give no date; write the date",
              "Các từ chỉ sự khẩn trương ('ngay', 'khẩn trương', 'kịp thời') không xác định ngày; "
              "hãy ghi rõ ngày")
    if re.match(r"(?:đầu|giữa)\s+(?:tháng|quý|năm)\b", s):
        _fail(text, "'đầu …'/'giữa …' (early/mid …) is not a precise date; write the day or the month",
              "'Đầu …'/'giữa …' không phải ngày cụ thể; hãy ghi rõ ngày hoặc tháng")
    if re.match(r"ngày(?!\s*\d)", s):
        _fail(text, "'ngày …' is not followed by a day and month", "Sau 'ngày' không có ngày tháng cụ thể")


def _parse_point(clause: str, text: str) -> tuple[_Period, _Relation]:
    s = _strip_fillers(clause)
    _reject_known_non_deadlines(s, text)
    relation, rest = _take_relation(s)
    rest = _strip_fillers(rest)
    _reject_known_non_deadlines(rest, text)
    period = _match_period(rest, text)
    if period is None:
        _fail(text, "The deadline is not in a recognised form",
              "Không đọc được thời hạn theo các mẫu được chấp nhận")
    if relation == "until" and period.unit != "day":
        _fail(text, f"'đến {rest}' is ambiguous (the start or the end?); write 'trong {rest}' "
              f"or 'trước {rest}'",
              f"'Đến {rest}' không rõ là đầu hay cuối kỳ; hãy ghi 'trong {rest}' hoặc 'trước {rest}'")
    if period.unit == "year" and period.year is None and relation != "in":
        _fail(text, "'năm' needs a year number (e.g. 'năm 2023')", "Thiếu số năm (ví dụ 'năm 2023')")
    return period, relation


def _resolve(period: _Period, relation: _Relation, issued: date, text: str) -> date:
    def on(year: int) -> date:
        return period.start(year) - timedelta(days=1) if relation == "before" else period.end(year)

    if period.year is not None:
        return on(period.year)
    if period.unit == "day" and (period.first_month, period.day) == (2, 29):
        _fail(text, "29/2 without a year is ambiguous (leap years only); write the year",
              "Ngày 29/2 không ghi năm là không rõ ràng (chỉ có trong năm nhuận); hãy ghi năm")
    # The first such date on or after the document's date (DESIGN §4). "trước ngày 1/1" lands in
    # the year before its own, hence the window of one year each side.
    return next(d for year in range(issued.year - 1, issued.year + 2) if (d := on(year)) >= issued)


_CLAUSE_SPLIT = re.compile(r"\s*[,;]\s*|\s+(?=(?:chậm nhất|phấn đấu|phần đầu)\b)")
_DUE_MARK = re.compile(r"(?:chậm nhất|không quá|không muộn hơn|không chậm hơn)\b")
# In a "theo tiến độ …" text, a date that reads as a deadline rather than a cited document's date.
_DEADLINE_WORDS = re.compile(
    r"\b(?:chậm nhất|không quá|không muộn hơn|không chậm hơn|hạn chót|trước (?:ngày|tháng|quý|năm)"
    r"|(?:trong|cuối|hết) (?:tháng|quý|năm) \S*\d|(?:6|sáu) tháng (?:đầu|cuối))"
)
_TARGET_MARK = re.compile(r"(?:phấn đấu|phần đầu)\b")


def _parse_fixed(s: str, text: str, issued: date) -> Deadline:
    clauses = [c.strip(_EDGE) for c in _CLAUSE_SPLIT.split(s)]
    clauses = [c for c in clauses if _strip_fillers(c)]
    if len(clauses) == 1:
        period, relation = _parse_point(clauses[0], text)
        return Deadline(kind="fixed", due=_resolve(period, relation, issued, text), text=text)
    due_marked = [bool(_DUE_MARK.match(c)) for c in clauses]
    target_marked = [bool(_TARGET_MARK.match(c)) for c in clauses]
    both_marked = any(t and d for t, d in zip(target_marked, due_marked, strict=True))
    if len(clauses) == 2 and sum(due_marked) == 1 and not both_marked:
        due_clause = clauses[due_marked.index(True)]
        target_clause = clauses[due_marked.index(False)]
    elif len(clauses) == 2 and sum(due_marked) == 0 and sum(target_marked) == 1:
        due_clause = clauses[target_marked.index(False)]
        target_clause = clauses[target_marked.index(True)]
    else:
        _fail(text, "Several dates and no way to tell the binding one; mark it with 'chậm nhất' "
              "(e.g. 'Phấn đấu … , chậm nhất …')",
              "Có nhiều mốc thời gian mà không rõ mốc nào là thời hạn; hãy ghi 'chậm nhất' trước "
              "thời hạn (ví dụ 'Phấn đấu … , chậm nhất …')")
    due = _resolve(*_parse_point(due_clause, text), issued, text)
    target = _resolve(*_parse_point(target_clause, text), issued, text)
    if target > due:
        _fail(text, f"The target ({target:%d/%m/%Y}) is after the latest date ({due:%d/%m/%Y})",
              f"Mốc phấn đấu ({target:%d/%m/%Y}) sau thời hạn chậm nhất ({due:%d/%m/%Y})")
    return Deadline(kind="fixed", due=due, target=target, text=text)


def _find_recurrence(s: str, text: str) -> tuple[Recurrence, str] | None:
    found: list[Recurrence] = []
    rest = s
    for recurrence, pattern in _RECURRENCES:
        rest, n = pattern.subn(" ", rest)
        if n:
            found.append(recurrence)
    if len(found) > 1:
        _fail(text, "More than one recurrence (" + ", ".join(found) + ")",
              "Có nhiều hơn một chu kỳ lặp lại trong cùng thời hạn")
    if not found:
        if _UNTRACKED_RECURRENCE.search(s):
            _fail(text, "Daily and weekly recurrences are not tracked; write 'thường xuyên' or a monthly, "
                  "quarterly, half-yearly or yearly one",
                  "Không theo dõi chu kỳ hằng ngày, hằng tuần; hãy ghi 'thường xuyên' hoặc chu kỳ "
                  "hằng tháng, hằng quý, 6 tháng, hằng năm")
        if _PERIODIC_WORD.search(s):
            _fail(text, "'định kỳ' (periodic) without a frequency; write e.g. 'định kỳ hằng quý'",
                  "'Định kỳ' nhưng không ghi chu kỳ; hãy ghi ví dụ 'định kỳ hằng quý'")
        return None
    # The ad-hoc part of "định kỳ hằng quý hoặc đột xuất" has no date to track.
    rest = _PERIODIC_WORD.sub(" ", _AD_HOC.sub(" ", rest))
    return found[0], re.sub(r"\s+", " ", rest).strip(_EDGE)


def _parse_recurring(recurrence: Recurrence, rest: str, text: str, issued: date) -> Deadline:
    month, day, before = _anchor(recurrence, rest, text)
    first = next(_occurrences(recurrence, month, day, before, issued, date.max - timedelta(days=62)))
    return Deadline(kind="recurring", due=first, recurrence=recurrence, anchor_month=month,
                    anchor_day=day, anchor_day_before=before, text=text)


def _anchor(recurrence: Recurrence, rest: str, text: str) -> tuple[int | None, int | None, bool]:
    """(anchor_month, anchor_day, anchor_day_before) from what the text says besides the recurrence."""
    s = _strip_fillers(rest)
    if not s:
        return None, None, False  # the end of each period
    if "," in s or ";" in s or _TARGET_MARK.search(s):
        _fail(text, "A recurring deadline has a single date per period, no target",
              "Thời hạn định kỳ chỉ có một mốc trong mỗi kỳ, không có mốc phấn đấu")
    _reject_known_non_deadlines(s, text)
    relation, body = _take_relation(s)
    body = _strip_fillers(body)
    before = relation == "before"
    if recurrence == "monthly" and (m := _DAY_OF_MONTH.fullmatch(body)):
        return None, _day(m["day"], 1, None, text), before
    if (m := _DAY_OF_LAST_MONTH.fullmatch(body)) and (
            recurrence == "quarterly" or (recurrence == "half-yearly" and m["of"] == "kỳ")):
        return None, _day(m["day"], 1, None, text), before
    if recurrence == "yearly" and (period := _match_period(body, text)) is not None:
        if period.year is not None:
            _fail(text, f"A yearly deadline cannot name a year ({period.year})",
                  f"Thời hạn hằng năm không ghi năm cụ thể ({period.year})")
        if period.unit == "day":
            return period.first_month, period.day, before
        if relation == "until" or (period.unit == "year" and relation != "in"):
            _fail(text, "The date in the yearly deadline is ambiguous",
                  "Mốc thời gian trong thời hạn hằng năm không rõ ràng")
        if before:  # the end of the month before the period starts
            return (period.first_month - 2) % 12 + 1, None, False
        return period.last_month, None, False
    _fail(text, f"The date of the {recurrence} deadline is not in a recognised form",
          "Không đọc được mốc thời gian của thời hạn định kỳ")


def parse_deadline(text: str, issued: date) -> Deadline:
    """Parse a Vietnamese deadline as written in a document issued on ``issued``.

    Raises :class:`DeadlineParseError` for text that cannot be read without guessing.
    """
    if isinstance(issued, datetime):
        # Its date depends on a time zone we would have to guess.
        raise TypeError("issued must be a date, not a datetime")
    original = unicodedata.normalize("NFC", text)
    s = _canonical(text)
    if not _strip_fillers(s):
        _fail(original, "The deadline is empty", "Thời hạn đang để trống")
    if _NONE.fullmatch(_strip_fillers(s)):
        if _DEADLINE_WORDS.search(s):
            _fail(original, "'theo tiến độ …' together with a deadline; keep one",
                  "Vừa 'theo tiến độ …' vừa có thời hạn; hãy giữ một")
        return Deadline(kind="none", text=original)
    if (found := _find_recurrence(s, original)) is not None:
        return _parse_recurring(found[0], found[1], original, issued)
    return _parse_fixed(s, original, issued)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_deadline_or_date(value: str, issued: date) -> Deadline:
    """An ISO date ("2023-03-31") as a fixed deadline, anything else through :func:`parse_deadline`."""
    iso = unicodedata.normalize("NFKC", value).strip()
    if _ISO_DATE.fullmatch(iso):
        try:
            due = date.fromisoformat(iso)
        except ValueError:
            _fail(unicodedata.normalize("NFC", value), f"{iso} is not a calendar date",
                  f"Ngày {iso} không có trên lịch")
        return Deadline(kind="fixed", due=due, text=value)
    return parse_deadline(value, issued)
