"""Property tests: every accepted form, written every tolerated way, gives the date an independent
computation (``calendar.monthrange``, plain date arithmetic, day-by-day scans) gives."""

from __future__ import annotations

import calendar
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.deadlines import ACCEPTED_FORMS, DeadlineParseError, parse_deadline

# Enough examples to cover every variant many times over, few enough for a unit-test run of seconds.
fast = settings(max_examples=120, deadline=None)

ONE_DAY = timedelta(days=1)
ROMAN = ["I", "II", "III", "IV"]

dates = st.dates(min_value=date(1901, 1, 1), max_value=date(2198, 12, 31))
issued_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
years = st.integers(1901, 2198)
months = st.integers(1, 12)


def last_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def number(draw: st.DrawFn, n: int) -> str:
    return f"{n:02d}" if draw(st.booleans()) else str(n)


def space(draw: st.DrawFn) -> str:
    return draw(st.sampled_from([" ", "  ", "\t", " \n", "\u00a0"]))


def date_separator(draw: st.DrawFn) -> str:
    sep = draw(st.sampled_from(["/", "-", "."]))
    return draw(st.sampled_from([sep, f" {sep} ", f"{sep} "]))


def year_tail(draw: st.DrawFn, year: int) -> str:
    """How a year follows a month, quarter or half-year: "/2023", " năm 2023", " Năm 2023", " 2023"."""
    return draw(
        st.sampled_from(
            [
                f"/{year}",
                f"-{year}",
                f".{year}",
                f"{space(draw)}năm{space(draw)}{year}",
                f" Năm {year}",
                f" {year}",
            ]
        )
    )


@st.composite
def written(draw: st.DrawFn, text: str) -> str:
    """``text`` in a random case, with edge punctuation, and NFC or NFD."""
    case: Callable[[str], str] = draw(st.sampled_from([str.lower, str.upper, str.title, str.capitalize, lambda s: s]))
    text = case(text)
    text = draw(st.sampled_from(["", " ", "- ", "(", "“", "* "])) + text
    text += draw(st.sampled_from(["", ".", ";", " .", ")", "”", "  "]))
    return unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), text)


@st.composite
def day_texts(draw: st.DrawFn) -> tuple[str, date]:
    day = draw(dates)
    d, m = number(draw, day.day), number(draw, day.month)
    if draw(st.booleans()):
        sep = date_separator(draw)
        body = draw(st.sampled_from(["", "ngày ", "Ngày"])) + f"{d}{sep}{m}{sep}{day.year}"
    else:
        year = draw(st.sampled_from([f" năm {day.year}", f" Năm {day.year}", f" {day.year}", f"/{day.year}"]))
        body = f"ngày{space(draw)}{d}{space(draw)}tháng{space(draw)}{m}{year}"
    relation = draw(
        st.sampled_from(
            ["", "trước ", "Trước ", "chậm nhất ", "đến ", "vào ", "hoàn thành trước ", "chậm nhất là ", "Thời hạn: "]
        )
    )
    due = day - ONE_DAY if "rước" in relation else day
    return draw(written(relation + body)), due


MONTH_RELATIONS = [
    "",
    "trong ",
    "Trong ",
    "hoàn thành trong ",
    "trước ",
    "chậm nhất trước ",
    "cuối ",
    "đến hết ",
]
TARGET_RELATIONS = tuple(r for r in MONTH_RELATIONS if "chậm nhất" not in r)


@st.composite
def month_texts(
    draw: st.DrawFn, relations: tuple[str, ...] = (*MONTH_RELATIONS, "Phấn đấu hoàn thành trong ")
) -> tuple[str, date]:
    year, month = draw(years), draw(months)
    body = f"tháng{space(draw)}{number(draw, month)}{year_tail(draw, year)}"
    relation = draw(st.sampled_from(relations))
    due = date(year, month, 1) - ONE_DAY if "trước" in relation else last_of_month(year, month)
    return draw(written(relation + body)), due


@st.composite
def quarter_texts(draw: st.DrawFn) -> tuple[str, date]:
    year, quarter = draw(years), draw(st.integers(1, 4))
    q = draw(st.sampled_from([ROMAN[quarter - 1], ROMAN[quarter - 1].lower(), str(quarter), f"0{quarter}"]))
    body = f"{draw(st.sampled_from(['quý', 'Quý', 'quí']))}{space(draw)}{q}{year_tail(draw, year)}"
    relation = draw(st.sampled_from(["", "trong ", "chậm nhất trong ", "trước ", "muộn nhất "]))
    if "trước" in relation:
        due = date(year, 3 * quarter - 2, 1) - ONE_DAY
    else:
        due = last_of_month(year, 3 * quarter)
    return draw(written(relation + body)), due


@st.composite
def half_year_texts(draw: st.DrawFn) -> tuple[str, date]:
    year, first = draw(years), draw(st.booleans())
    side = "đầu" if first else "cuối"
    body = draw(
        st.sampled_from([f"6 tháng {side} năm", f"sáu tháng {side} năm", f"nửa {side} năm", f"nửa năm {side} năm"])
    )
    relation = draw(st.sampled_from(["", "trong ", "chậm nhất trong "]))
    due = date(year, 6, 30) if first else date(year, 12, 31)
    return draw(written(f"{relation}{body} {year}")), due


@st.composite
def year_texts(draw: st.DrawFn) -> tuple[str, date]:
    year = draw(years)
    relation = draw(st.sampled_from(["", "trong ", "cuối ", "hết ", "trước "]))
    due = date(year - 1, 12, 31) if relation == "trước " else date(year, 12, 31)
    return draw(written(f"{relation}năm {year}")), due


@fast
@given(st.one_of(day_texts(), month_texts(), quarter_texts(), half_year_texts(), year_texts()), issued_dates)
def test_every_dated_form_gives_the_independent_date(case: tuple[str, date], issued: date) -> None:
    text, due = case
    deadline = parse_deadline(text, issued)
    assert (deadline.kind, deadline.due, deadline.target) == ("fixed", due, None)
    assert deadline.text == unicodedata.normalize("NFC", text)


@fast
@given(month_texts(TARGET_RELATIONS), month_texts(tuple(MONTH_RELATIONS)))
def test_target_and_latest(target_case: tuple[str, date], due_case: tuple[str, date]) -> None:
    (target_text, target), (due_text, due) = target_case, due_case
    text = f"Phấn đấu {target_text.strip(' -(*“”).;')}, chậm nhất {due_text.strip(' -(*“”).;')}"
    if target <= due:
        deadline = parse_deadline(text, date(2022, 1, 1))
        assert (deadline.target, deadline.due) == (target, due)
    else:
        with pytest.raises(DeadlineParseError, match="after the latest date"):
            parse_deadline(text, date(2022, 1, 1))


def first_on_or_after(issued: date, matches: Callable[[date], bool]) -> date:
    day = issued
    while not matches(day):
        day += ONE_DAY
    return day


@fast
@given(issued_dates, st.dates(min_value=date(2001, 1, 1), max_value=date(2001, 12, 31)), st.booleans())
def test_a_missing_year_is_the_first_such_day_on_or_after_issued(issued: date, day: date, before: bool) -> None:
    # 2001 is not a leap year, so 29/2 (an error without a year) is never drawn.
    text = f"{'trước ' if before else ''}ngày {day.day}/{day.month}"
    shift = ONE_DAY if before else timedelta(0)
    expected = first_on_or_after(issued, lambda d: ((d + shift).month, (d + shift).day) == (day.month, day.day))
    assert parse_deadline(text, issued).due == expected


@fast
@given(issued_dates, months, st.booleans())
def test_a_month_without_a_year(issued: date, month: int, before: bool) -> None:
    text = f"{'trước' if before else 'trong'} tháng {month}"
    if before:  # the last day of the month before
        expected = first_on_or_after(issued, lambda d: (d + ONE_DAY).month == month and (d + ONE_DAY).day == 1)
    else:
        expected = first_on_or_after(issued, lambda d: d.month == month and (d + ONE_DAY).month != month)
    assert parse_deadline(text, issued).due == expected


def scan(lo: date, hi: date, matches: Callable[[date], bool]) -> list[date]:
    found, day = [], lo
    while day <= hi:
        if matches(day):
            found.append(day)
        day += ONE_DAY
    return found


PERIOD_ENDS = {
    "hằng tháng": ("monthly", 1),
    "định kỳ hàng tháng": ("monthly", 1),
    "hằng quý": ("quarterly", 3),
    "Định kỳ hàng quý": ("quarterly", 3),
    "6 tháng một lần": ("half-yearly", 6),
    "định kỳ 6 tháng": ("half-yearly", 6),
    "hằng năm": ("yearly", 12),
    "Hàng năm": ("yearly", 12),
}


@fast
@given(st.sampled_from(sorted(PERIOD_ENDS)), issued_dates, st.integers(0, 800), st.integers(0, 800))
def test_recurring_period_ends(text: str, issued: date, offset: int, length: int) -> None:
    recurrence, months_per_period = PERIOD_ENDS[text]
    deadline = parse_deadline(text, issued)

    def is_period_end(d: date) -> bool:
        return (d + ONE_DAY).day == 1 and d.month % months_per_period == 0

    assert deadline.recurrence == recurrence
    assert deadline.due == first_on_or_after(issued, is_period_end)
    lo = issued + timedelta(days=offset - 400)
    hi = lo + timedelta(days=length)
    assert deadline.occurrences(lo, hi) == scan(max(lo, deadline.due), hi, is_period_end)


@fast
@given(months, st.integers(1, 28), st.booleans(), issued_dates, st.integers(0, 1500))
def test_recurring_yearly_on_a_day(month: int, day: int, before: bool, issued: date, length: int) -> None:
    text = f"{'trước ' if before else ''}ngày {day} tháng {month} hằng năm"
    shift = ONE_DAY if before else timedelta(0)

    def matches(d: date) -> bool:
        return ((d + shift).month, (d + shift).day) == (month, day)

    deadline = parse_deadline(text, issued)
    assert (deadline.kind, deadline.recurrence) == ("recurring", "yearly")
    assert deadline.due == first_on_or_after(issued, matches)
    assert deadline.occurrences(issued, issued + timedelta(days=length)) == scan(
        issued, issued + timedelta(days=length), matches
    )


@fast
@given(st.integers(1, 28), st.booleans(), issued_dates, st.integers(0, 400))
def test_recurring_monthly_on_a_day(day: int, before: bool, issued: date, length: int) -> None:
    text = f"{'trước ' if before else ''}ngày {day} hằng tháng"
    shift = ONE_DAY if before else timedelta(0)
    deadline = parse_deadline(text, issued)
    assert deadline.recurrence == "monthly"
    assert deadline.occurrences(issued, issued + timedelta(days=length)) == scan(
        issued, issued + timedelta(days=length), lambda d: (d + shift).day == day
    )


def assert_rejected(text: str, what: str) -> None:
    with pytest.raises(DeadlineParseError) as caught:
        parse_deadline(text, date(2022, 1, 1))
    assert what in caught.value.message_en
    assert all(form in str(caught.value) for form in ACCEPTED_FORMS)


@fast
@given(years, months, st.integers(29, 31))
def test_days_past_the_end_of_the_month_are_rejected(year: int, month: int, day: int) -> None:
    if day <= calendar.monthrange(year, month)[1]:
        return
    assert_rejected(f"ngày {day}/{month}/{year}", "not a calendar date")


@fast
@given(years, st.integers(13, 99), st.booleans())
def test_months_past_12_are_rejected(year: int, month: int, long_form: bool) -> None:
    assert_rejected(f"tháng {month} năm {year}" if long_form else f"Tháng {month}/{year}", f"Month {month}")


@fast
@given(years, st.sampled_from(["V", "VI", "X", "5", "9", "0"]))
def test_quarters_past_iv_are_rejected(year: int, quarter: str) -> None:
    assert_rejected(f"Quý {quarter} năm {year}", f"Quarter {quarter} does not exist")


@fast
@given(
    st.integers(0, 99),
    months,
    st.integers(1, 28),
    st.sampled_from(
        [
            "Tháng {m}/{y}",
            "tháng {m} năm {y}",
            "trước ngày {d}/{m}/{y}",
            "ngày {d} tháng {m} năm {y}",
            "{d}-{m}-{y}",
            "Quý I/{y}",
            "quý 2 năm {y}",
            "6 tháng đầu năm {y}",
            "năm {y}",
        ]
    ),
)
def test_two_digit_years_are_rejected(year: int, month: int, day: int, template: str) -> None:
    assert_rejected(template.format(d=day, m=month, y=f"{year:02d}"), "two-digit year")
