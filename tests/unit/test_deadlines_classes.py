"""The three deadline classes issue 15 item 3 asked for, which the parser used to refuse: programme periods,
lunar-calendar anchors and yearly obligations at several named points — and what in them stays refused.

Independent oracles: ``holidays`` (its own lunar computation of Tết) and ``lunar_vn`` read backwards
(Gregorian → lunar) for the lunar dates; plain ``calendar`` arithmetic for the periods and anchors.
"""

from __future__ import annotations

import calendar
import json
from datetime import date, timedelta

import holidays
import lunar_vn
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.deadlines import Deadline, DeadlineParseError, parse_deadline

fast = settings(max_examples=60, deadline=None)
ISSUED_33 = date(2022, 1, 28)  # Decision 33/QĐ-VPCP, seed 003
ISSUED = date(2022, 10, 6)
ROMAN = ["I", "II", "III", "IV"]


def last_of(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def tet(year: int) -> date:
    """Mùng một Tết by the holidays library, which computes the lunar calendar on its own."""
    (day,) = [
        d for d, name in holidays.country_holidays("VN", years=year, language="vi").items() if name == "Tết Nguyên Đán"
    ]
    return day


# ---------------------------------------------------------------------------------------------
# Programme periods


def test_the_seed_programme_period_means_its_end() -> None:
    deadline = parse_deadline("giai đoạn 2020 – 2025", ISSUED_33)  # 003: Nghị quyết 68/NQ-CP's programme
    assert (deadline.kind, deadline.due, deadline.period_start) == ("fixed", date(2025, 12, 31), date(2020, 1, 1))


@fast
@given(
    first=st.integers(1990, 2150),
    length=st.integers(1, 30),
    form=st.sampled_from(
        [
            "giai đoạn {a}-{b}",
            "Giai đoạn {a} – {b}",
            "trong giai đoạn {a} - {b}",
            "giai đoạn từ năm {a} đến năm {b}",
            "từ năm {a} đến hết năm {b}",
            "thời kỳ {a}–{b}",
        ]
    ),
)
def test_a_programme_period_is_due_at_the_end_of_its_last_year(first: int, length: int, form: str) -> None:
    last = first + length
    if last > 2199:
        return
    deadline = parse_deadline(form.format(a=first, b=last), ISSUED)
    assert deadline.kind == "fixed" and deadline.recurrence is None
    assert deadline.due == date(last, 12, 31)
    assert deadline.period_start == date(first, 1, 1)


@fast
@given(
    first=st.integers(2000, 2060),
    length=st.integers(1, 10),
    issued=st.dates(date(1999, 1, 1), date(2070, 1, 1)),
    day_month=st.one_of(st.none(), st.tuples(st.integers(1, 28), st.integers(1, 12))),
)
def test_yearly_within_a_programme_tracks_each_year_of_it_left_after_the_document(
    first: int, length: int, issued: date, day_month: tuple[int, int] | None
) -> None:
    last = first + length
    point = "" if day_month is None else f"trước ngày {day_month[0]}/{day_month[1]} "
    text = f"{point}hằng năm, giai đoạn {first}-{last}"
    expected = [
        date(y, 12, 31) if day_month is None else date(y, day_month[1], day_month[0]) - timedelta(days=1)
        for y in range(first, last + 2)  # "trước ngày 1/1" of the year after still falls inside
    ]
    expected = [d for d in expected if max(issued, date(first, 1, 1)) <= d <= date(last, 12, 31)]
    if not expected:
        with pytest.raises(DeadlineParseError, match="no occurrence is left"):
            parse_deadline(text, issued)
        return
    deadline = parse_deadline(text, issued)
    assert (deadline.kind, deadline.recurrence, deadline.until) == ("recurring", "yearly", date(last, 12, 31))
    assert deadline.occurrences(date(1990, 1, 1), date(2199, 12, 31)) == expected
    assert deadline.occurrence_on_or_after(expected[-1] + timedelta(days=1)) is None  # the programme is over


def test_quarterly_within_a_programme_stops_at_its_end() -> None:
    deadline = parse_deadline("định kỳ hằng quý trong giai đoạn 2022-2023", ISSUED)
    assert deadline.due == date(2022, 12, 31) and deadline.until == date(2023, 12, 31)
    assert deadline.occurrences(date(2022, 1, 1), date(2030, 1, 1)) == [
        date(2022, 12, 31),
        date(2023, 3, 31),
        date(2023, 6, 30),
        date(2023, 9, 30),
        date(2023, 12, 31),
    ]


# ---------------------------------------------------------------------------------------------
# Lunar-calendar anchors


@fast
@given(
    year=st.integers(1990, 2090),
    form=st.sampled_from(["năm {y}", "{y}", "{cc}", "năm {cc}", "{cc} {y}", "{cc} năm {y}", "({cc}) {y}"]),
)
def test_before_tet_is_the_day_before_mung_mot_in_the_named_year(year: int, form: str) -> None:
    can_chi = lunar_vn.can_chi.get_year_can_chi(year)
    issued = tet(year) - timedelta(days=200)  # a Can Chi name alone is placed in the next 60 years
    deadline = parse_deadline("Hoàn thành trước Tết Nguyên đán " + form.format(y=year, cc=can_chi), issued)
    assert deadline.due == tet(year) - timedelta(days=1)
    assert deadline.lunar is not None and (deadline.lunar.year, deadline.lunar.can_chi) == (year, can_chi)


@fast
@given(
    year=st.integers(1950, 2090),
    month=st.integers(1, 12),
    day=st.integers(1, 29),
    form=st.sampled_from(
        [
            "ngày {d} tháng {m} âm lịch năm {y}",
            "ngày {d}/{m} âm lịch năm {y}",
            "mùng {d} tháng {m} năm {y} âm lịch",
            "ngày {d} tháng {m} (âm lịch) {y}",
        ]
    ),
)
def test_a_lunar_day_is_the_gregorian_day_that_reads_back_as_it(year: int, month: int, day: int, form: str) -> None:
    deadline = parse_deadline(form.format(d=day, m=month, y=year), date(1949, 1, 1))
    back = lunar_vn.solar_to_lunar(deadline.due)
    assert (back.day, back.month, back.year, back.leap) == (day, month, year, False)


@fast
@given(year=st.integers(1950, 2090), month=st.integers(1, 12))
def test_a_lunar_month_is_due_on_its_last_day(year: int, month: int) -> None:
    deadline = parse_deadline(f"trong tháng {month} âm lịch năm {year}", date(1949, 1, 1))
    last, after = lunar_vn.solar_to_lunar(deadline.due), lunar_vn.solar_to_lunar(deadline.due + timedelta(days=1))
    assert (last.month, last.year, last.leap) == (month, year, False)
    assert (after.month, after.day) != (month, last.day + 1) and after.day == 1


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("trước Tết Nguyên đán Giáp Thìn", date(2024, 2, 9)),
        ("Rằm tháng Giêng năm 2024", date(2024, 2, 24)),
        ("trước Rằm tháng Giêng năm Quý Mão", date(2023, 2, 4)),
        ("Tết Trung thu năm 2023", date(2023, 9, 29)),
        ("trong tháng Chạp năm Quý Mão", date(2024, 2, 9)),  # lunar 2023's last month ends in 2024
        ("chậm nhất 10 ngày sau Tết Nguyên đán năm 2023", date(2023, 2, 1)),
        ("trong vòng 7 ngày sau Tết Nguyên đán Ất Tỵ", date(2025, 2, 5)),
        ("trước Tết", date(2023, 1, 21)),  # the first on or after the document's date
        ("ngày 15 tháng 8 âm lịch", date(2023, 9, 29)),
    ],
)
def test_lunar_anchors(text: str, due: date) -> None:
    deadline = parse_deadline(text, ISSUED)
    assert (deadline.kind, deadline.due) == ("fixed", due)


# ---------------------------------------------------------------------------------------------
# Yearly obligations at several points


def test_the_seed_meetings_of_june_and_december_are_two_tracked_occurrences_a_year() -> None:
    deadline = parse_deadline("thường kỳ tháng 6 và tháng 12", ISSUED_33)  # 003: report at the Government's meetings
    assert (deadline.recurrence, deadline.anchor_months, deadline.due) == ("yearly", [6, 12], date(2022, 6, 30))
    assert deadline.occurrences(ISSUED_33, date(2023, 12, 31)) == [
        date(2022, 6, 30),
        date(2022, 12, 31),
        date(2023, 6, 30),
        date(2023, 12, 31),
    ]


@fast
@given(
    points=st.sets(st.integers(1, 12), min_size=2, max_size=5),
    issued=st.dates(date(2000, 1, 1), date(2090, 1, 1)),
    quarters=st.booleans(),
    before_day=st.one_of(st.none(), st.integers(1, 28)),
)
def test_each_named_point_is_an_occurrence_and_progress_steps_through_them_all(
    points: set[int], issued: date, quarters: bool, before_day: int | None
) -> None:
    if quarters:
        points = {q for q in points if q <= 4}
        if len(points) < 2:
            return
        names = [f"quý {ROMAN[q - 1]}" for q in sorted(points)]
        months = [3 * q for q in sorted(points)]
        before_day = None
    elif before_day is not None:
        names = [f"{before_day}/{m}" for m in sorted(points)]
        months = sorted(points)
    else:
        names = [f"tháng {m}" for m in sorted(points)]
        months = sorted(points)
    listed = ", ".join(names[:-1]) + " và " + names[-1]
    text = f"trước ngày {listed} hằng năm" if before_day is not None else f"trong {listed} hằng năm"
    deadline = parse_deadline(text, issued)
    assert deadline.anchor_months == months
    expected = sorted(
        (last_of(y, m) if before_day is None else date(y, m, before_day) - timedelta(days=1))
        for y in range(issued.year - 1, issued.year + 3)
        for m in months
    )
    expected = [d for d in expected if issued <= d <= date(issued.year + 1, 12, 31)]
    assert deadline.due == expected[0]
    # What progress does on each confirmed completion (services/progress/command_handlers._next_occurrence).
    walked, due = [], deadline.due
    while due is not None and due <= expected[-1]:
        walked.append(due)
        due = deadline.occurrence_on_or_after(due + timedelta(days=1))
    assert walked == expected


# ---------------------------------------------------------------------------------------------
# Still refused: what would need a guess


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("sau Tết Nguyên đán", "gives a start"),
        ("Tết Nguyên đán Quý Mão 2024", "is Giáp Thìn, not Quý Mão"),
        ("ngày 30 tháng Giêng âm lịch năm 2023", "has no day 30"),
        ("trước Tết hằng năm", "lunar calendar are not tracked yet"),
        ("Tết Nguyên đán năm 24", "not a year in full"),
        ("giai đoạn 2025-2021", "does not run forward"),
        ("giai đoạn 2021-25", "two-digit year"),
        ("giai đoạn 2021-2025, tháng 6/2023", "together with another date"),
        ("giai đoạn 2016-2020 và giai đoạn 2021-2025", "More than one programme period"),
        ("hằng năm giai đoạn 2016-2020", "no occurrence is left"),
        ("tháng 6 và tháng 6 hằng năm", "named twice"),
        ("trước ngày 15/6 và 20/12 hằng năm", "different days"),
        ("thường kỳ", "without a frequency"),
    ],
)
def test_still_refused_with_a_reason_in_both_languages(text: str, what: str) -> None:
    with pytest.raises(DeadlineParseError) as caught:
        parse_deadline(text, ISSUED)
    assert what in caught.value.message_en
    assert caught.value.message_vi and caught.value.message_vi != caught.value.message_en


# ---------------------------------------------------------------------------------------------
# The contract: extended compatibly


def test_a_deadline_of_the_earlier_classes_serialises_exactly_as_before() -> None:
    """Readers built before the new fields (extra="forbid") still read what the earlier classes produce."""
    before = {
        "kind": "recurring",
        "due": "2023-09-29",
        "target": None,
        "recurrence": "yearly",
        "anchor_month": 9,
        "anchor_day": 30,
        "anchor_day_before": True,
        "text": "trước ngày 30 tháng 9 hàng năm",
    }
    deadline = parse_deadline("trước ngày 30 tháng 9 hàng năm", ISSUED)
    assert deadline.model_dump(mode="json") == before
    assert Deadline.model_validate(before) == deadline


@pytest.mark.parametrize(
    "text",
    [
        "hằng năm, giai đoạn 2021-2025",
        "tháng 6 và tháng 12 hằng năm",
        "trước Tết Nguyên đán Giáp Thìn",
        "giai đoạn 2021-2025",
    ],
)
def test_the_new_classes_round_trip_through_json(text: str) -> None:
    deadline = parse_deadline(text, ISSUED)
    assert Deadline.model_validate_json(json.dumps(deadline.model_dump(mode="json"))) == deadline


def test_the_model_refuses_inconsistent_new_fields() -> None:
    base = parse_deadline("tháng 6 và tháng 12 hằng năm", ISSUED).model_dump()
    for change in (
        {"anchor_months": [6]},
        {"anchor_months": [12, 6]},
        {"anchor_month": 6},
        {"recurrence": "quarterly"},
        {"until": date(2022, 1, 1)},
    ):
        with pytest.raises(ValueError):
            Deadline(**{**base, **change})
    with pytest.raises(ValueError):
        Deadline(kind="fixed", due=date(2023, 1, 1), until=date(2023, 1, 1), text="x")
