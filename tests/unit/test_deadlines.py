"""Every deadline written in the seeds, parsed as DESIGN §4 says, plus the errors for what cannot be read.

Issued dates (the "document's date" that fills a missing year and starts a recurrence):
* 000: Resolution 03/NQ-CP, 08/01/2022.
* 001, Danh mục: annexed to Công văn 6958/UBND-KSTT of UBND tỉnh Bình Định, 21/11/2022 (the annex
  itself leaves "ngày tháng" blank; the date is in the Sở GDĐT letter 2384/SGDĐT-VP that cites it).
* 001, Resolution 131/NQ-CP: 06/10/2022.
* 003: Decision 33/QĐ-VPCP, 28/01/2022.
"""

from __future__ import annotations

import os
import pickle
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from events.deadlines import (
    ACCEPTED_FORMS,
    Deadline,
    DeadlineParseError,
    parse_deadline,
    parse_deadline_or_date,
)

ISSUED_03 = date(2022, 1, 8)
ISSUED_DANH_MUC = date(2022, 11, 21)
ISSUED_131 = date(2022, 10, 6)
ISSUED_33 = date(2022, 1, 28)


def fixed(text: str, issued: date, due: date, target: date | None = None, *, id: str) -> object:
    return pytest.param(text, issued, "fixed", due, target, None, id=id)


def recurring(text: str, issued: date, recurrence: str, first: date, *, id: str) -> object:
    return pytest.param(text, issued, "recurring", first, None, recurrence, id=id)


def none(text: str, issued: date, *, id: str) -> object:
    return pytest.param(text, issued, "none", None, None, None, id=id)


# The "Thời hạn Hoàn thành" column of the Danh mục (001), row by row.
DANH_MUC: dict[int, tuple[str, date | None]] = {
    1: ("Tháng 11/2022", date(2022, 11, 30)),
    2: ("Theo tiến độ Kế hoạch của UBND tỉnh", None),
    3: ("Tháng 01/2023", date(2023, 1, 31)),
    4: ("Trước ngày 15/9/2023", date(2023, 9, 14)),
    5: ("Tháng 12/2022", date(2022, 12, 31)),
    6: ("Tháng 12/2022", date(2022, 12, 31)),
    7: ("Tháng 8/2023", date(2023, 8, 31)),
    8: ("Tháng 4/2023", date(2023, 4, 30)),
    9: ("Tháng 12/2022", date(2022, 12, 31)),
    10: ("Tháng 7/2023", date(2023, 7, 31)),
    11: ("Tháng 01/2023", date(2023, 1, 31)),
    12: ("Tháng 01/2023", date(2023, 1, 31)),
    13: ("Tháng 3/2023", date(2023, 3, 31)),
    14: ("Tháng 4/2023", date(2023, 4, 30)),
    15: ("Tháng 4/2023", date(2023, 4, 30)),
    16: ("Tháng 3/2023", date(2023, 3, 31)),
    17: ("Tháng 9/2023", date(2023, 9, 30)),
}

SEED_DEADLINES = [
    *(
        none(text, ISSUED_DANH_MUC, id=f"001-danh-muc-{row}")
        if due is None
        else fixed(text, ISSUED_DANH_MUC, due, id=f"001-danh-muc-{row}")
        for row, (text, due) in DANH_MUC.items()
    ),
    # Danh mục, "Mô tả sản phẩm" column.
    fixed("trước ngày 30/11/2022", ISSUED_DANH_MUC, date(2022, 11, 29), id="001-danh-muc-9-product"),
    fixed("trước ngày 30/3/2023", ISSUED_DANH_MUC, date(2023, 3, 29), id="001-danh-muc-15-product"),
    # Resolution 131/NQ-CP, part II.
    recurring("trước ngày 30 tháng 9 hàng năm", ISSUED_131, "yearly", date(2023, 9, 29), id="131-1a-yearly"),
    fixed("trong tháng 11 năm 2022", ISSUED_131, date(2022, 11, 30), id="131-1b"),
    fixed("trong tháng 10 năm 2022", ISSUED_131, date(2022, 10, 31), id="131-2a-standardise"),
    fixed("thời gian hoàn thành trong tháng 12 năm 2022.", ISSUED_131, date(2022, 12, 31), id="131-2a-one-stop"),
    fixed(
        "Phần đầu hoàn thành trong tháng 11 năm 2022, chậm nhất trong quý I năm 2023.",
        ISSUED_131,
        date(2023, 3, 31),
        date(2022, 11, 30),
        id="131-2a-digitise-typo-phan-dau",
    ),
    fixed(
        "Phấn đấu hoàn thành trong tháng 11 năm 2022, chậm nhất trong quý I năm 2023.",
        ISSUED_131,
        date(2023, 3, 31),
        date(2022, 11, 30),
        id="131-2a-ministries",
    ),
    recurring("định kỳ hàng tháng", ISSUED_131, "monthly", date(2022, 10, 31), id="131-2a-publish-late-list"),
    fixed("Thời gian hoàn thành trong tháng 10 năm 2022.", ISSUED_131, date(2022, 10, 31), id="131-2b"),
    fixed("thời hạn hoàn thành trong tháng 11 năm 2022.", ISSUED_131, date(2022, 11, 30), id="131-2c"),
    fixed("Hoàn thành trong tháng 12 năm 2022.", ISSUED_131, date(2022, 12, 31), id="131-2d"),
    none("thường xuyên, liên tục", ISSUED_131, id="131-2dd-continuous"),
    fixed("Hoàn thành trong tháng 10 năm 2022.", ISSUED_131, date(2022, 10, 31), id="131-2dd"),
    fixed("Thời gian hoàn thành trong tháng 10 năm 2022.", ISSUED_131, date(2022, 10, 31), id="131-2e-security"),
    fixed("Thời gian hoàn thành trong tháng 6 năm 2023.", ISSUED_131, date(2023, 6, 30), id="131-2e-population"),
    fixed("chậm nhất trước tháng 12 năm 2023", ISSUED_131, date(2023, 11, 30), id="131-3a-commune"),
    fixed("thời gian hoàn thành trước tháng 6 năm 2023.", ISSUED_131, date(2023, 5, 31), id="131-3a-reports"),
    fixed("Thời gian hoàn thành trong tháng 6 năm 2023.", ISSUED_131, date(2023, 6, 30), id="131-3a-tracking"),
    none(
        "theo tiến độ được giao tại Nghị quyết số 63/NQ-CP ngày 03 tháng 5 năm 2022 của Chính phủ",
        ISSUED_131,
        id="131-3b-per-schedule-with-a-date-inside",
    ),
    none("thường xuyên", ISSUED_131, id="131-3c-monitor"),
    fixed("Thời hạn hoàn thành trong tháng 11 năm 2022.", ISSUED_131, date(2022, 11, 30), id="131-3g-decision"),
    fixed("thời hạn hoàn thành trong tháng 6 năm 2023", ISSUED_131, date(2023, 6, 30), id="131-3g-system"),
    recurring("thường kỳ hàng tháng", ISSUED_131, "monthly", date(2022, 10, 31), id="131-3g-monthly-meeting"),
    recurring("hàng năm", ISSUED_131, "yearly", date(2022, 12, 31), id="131-III5-annual-budget"),
    recurring("định kỳ hàng quý hoặc đột xuất", ISSUED_131, "quarterly", date(2022, 12, 31), id="131-III6-report"),
    # 000: press summary of Resolution 03/NQ-CP (the text is wrapped, so are some deadlines).
    fixed("trước ngày 20/01/2022.", ISSUED_03, date(2022, 1, 19), id="000-action-plans"),
    fixed("hoàn thành trong tháng 5/2022.", ISSUED_03, date(2022, 5, 31), id="000-value-added-services"),
    fixed("chậm nhất trong 6 tháng đầu năm 2022", ISSUED_03, date(2022, 6, 30), id="000-first-half"),
    fixed("trước\nngày 30/9/2022.", ISSUED_03, date(2022, 9, 29), id="000-cut-regulations-wrapped"),
    fixed("Trong năm 2022", ISSUED_03, date(2022, 12, 31), id="000-in-2022"),
    none("theo tiến độ Chính phủ giao tại Nghị định số\n107/2021/NĐ-CP..", ISSUED_03, id="000-per-decree-107"),
    none("thường xuyên", ISSUED_03, id="000-follow-up"),
    # 003: Decision 33/QĐ-VPCP.
    recurring("định kỳ hàng quý", ISSUED_33, "quarterly", date(2022, 3, 31), id="003-quarterly-report"),
]


@pytest.mark.parametrize(("text", "issued", "kind", "due", "target", "recurrence"), SEED_DEADLINES)
def test_every_seed_deadline_parses_as_design_4_says(
    text: str, issued: date, kind: str, due: date | None, target: date | None, recurrence: str | None
) -> None:
    deadline = parse_deadline(text, issued)
    got = (deadline.kind, deadline.due, deadline.target, deadline.recurrence)
    assert got == (kind, due, target, recurrence)
    assert deadline.text == text


def _seed_file(prefix: str) -> Path | None:
    seeds = Path(os.environ.get("DONDOC_SEEDS_DIR", Path(__file__).resolve().parents[3] / "shared" / "seeds"))
    found = sorted(seeds.glob(f"{prefix}_*.txt")) if seeds.is_dir() else []
    return found[0] if found else None


def test_the_danh_muc_table_above_is_every_row_of_the_seed() -> None:
    seed = _seed_file("001")
    if seed is None:
        pytest.skip("seeds not found; set DONDOC_SEEDS_DIR")
    rows = {}
    for line in seed.read_text(encoding="utf-8").splitlines():
        cells = line.split("\t")
        if len(cells) >= 5 and cells[0].isdigit() and cells[4].strip():
            rows[int(cells[0])] = cells[4].strip()
    assert rows == {row: text for row, (text, _) in DANH_MUC.items()}


# ---------------------------------------------------------------------------------------------
# Rules


def test_recurring_yearly_before_30_9_falls_on_29_9_each_year() -> None:
    deadline = parse_deadline("trước ngày 30 tháng 9 hàng năm", ISSUED_131)
    assert deadline.occurrences(date(2022, 1, 1), date(2025, 12, 31)) == [
        date(2023, 9, 29),
        date(2024, 9, 29),
        date(2025, 9, 29),
    ]


def test_recurring_yearly_issued_before_the_anchor_starts_the_same_year() -> None:
    assert parse_deadline("trước ngày 30 tháng 9 hằng năm", date(2022, 9, 1)).due == date(2022, 9, 29)
    assert parse_deadline("trước ngày 30 tháng 9 hằng năm", date(2022, 9, 29)).due == date(2022, 9, 29)
    assert parse_deadline("trước ngày 30 tháng 9 hằng năm", date(2022, 9, 30)).due == date(2023, 9, 29)


def test_bare_yearly_is_31_december() -> None:
    deadline = parse_deadline("Hằng năm", date(2023, 12, 31))
    assert (deadline.due, deadline.anchor_month, deadline.anchor_day) == (date(2023, 12, 31), None, None)
    assert deadline.occurrences(date(2023, 1, 1), date(2025, 12, 31)) == [
        date(2023, 12, 31),
        date(2024, 12, 31),
        date(2025, 12, 31),
    ]


QUARTER_ENDS_2023 = [date(2023, 3, 31), date(2023, 6, 30), date(2023, 9, 30), date(2023, 12, 31)]


@pytest.mark.parametrize(
    ("text", "recurrence", "occurrences"),
    [
        ("hằng quý", "quarterly", QUARTER_ENDS_2023),
        ("định kỳ hàng quý", "quarterly", QUARTER_ENDS_2023),
        ("6 tháng một lần", "half-yearly", [date(2023, 6, 30), date(2023, 12, 31)]),
        ("định kỳ 6 tháng", "half-yearly", [date(2023, 6, 30), date(2023, 12, 31)]),
        ("hàng tháng", "monthly", [date(2023, 1, 31), date(2023, 2, 28), date(2023, 3, 31)]),
        (
            "trước ngày 20 của tháng cuối quý, định kỳ hằng quý",
            "quarterly",
            [date(2023, 3, 19), date(2023, 6, 19), date(2023, 9, 19), date(2023, 12, 19)],
        ),
        ("trước ngày 5 hằng tháng", "monthly", [date(2023, 1, 4), date(2023, 2, 4), date(2023, 3, 4)]),
        ("ngày 31 hằng tháng", "monthly", [date(2023, 1, 31), date(2023, 2, 28), date(2023, 3, 31)]),
        ("trước ngày 1 tháng 3 hàng năm", "yearly", [date(2023, 2, 28), date(2024, 2, 29)]),
        ("trong quý I hàng năm", "yearly", [date(2023, 3, 31), date(2024, 3, 31)]),
        ("trước tháng 6 hằng năm", "yearly", [date(2023, 5, 31), date(2024, 5, 31)]),
    ],
)
def test_recurring_occurrences(text: str, recurrence: str, occurrences: list[date]) -> None:
    deadline = parse_deadline(text, date(2023, 1, 1))
    assert deadline.recurrence == recurrence
    assert deadline.due == occurrences[0]
    assert deadline.occurrences(date(2022, 1, 1), occurrences[-1]) == occurrences


def test_occurrences_never_precede_the_first_due() -> None:
    deadline = parse_deadline("hằng tháng", date(2023, 5, 10))
    assert deadline.occurrences(date(2023, 1, 1), date(2023, 6, 30)) == [date(2023, 5, 31), date(2023, 6, 30)]


def test_fixed_and_none_occurrences() -> None:
    deadline = parse_deadline("Tháng 11/2022", ISSUED_DANH_MUC)
    assert deadline.occurrences(date(2022, 1, 1), date(2022, 12, 31)) == [date(2022, 11, 30)]
    assert deadline.occurrences(date(2022, 12, 1), date(2022, 12, 31)) == []
    ongoing = parse_deadline("thường xuyên", ISSUED_DANH_MUC)
    assert ongoing.occurrences(date(2000, 1, 1), date(2100, 1, 1)) == []


@pytest.mark.parametrize(
    ("text", "issued", "due"),
    [
        ("trước ngày 30/9", date(2022, 10, 6), date(2023, 9, 29)),
        ("trước ngày 30/9", date(2022, 9, 29), date(2022, 9, 29)),
        ("ngày 15 tháng 1", date(2022, 12, 20), date(2023, 1, 15)),
        ("tháng 12", date(2022, 12, 31), date(2022, 12, 31)),
        ("tháng 11", date(2022, 12, 1), date(2023, 11, 30)),
        ("trước tháng 1", date(2022, 6, 1), date(2022, 12, 31)),
        ("quý I", date(2022, 4, 1), date(2023, 3, 31)),
        ("6 tháng cuối năm", date(2022, 4, 1), date(2022, 12, 31)),
        ("trước ngày 1/1", date(2022, 12, 31), date(2022, 12, 31)),
        ("trước ngày 1/1", date(2023, 1, 1), date(2023, 12, 31)),
        ("cuối năm", date(2023, 5, 5), date(2023, 12, 31)),
    ],
)
def test_a_missing_year_is_the_next_such_date_on_or_after_the_document(text: str, issued: date, due: date) -> None:
    assert parse_deadline(text, issued).due == due


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("trước tháng 6 năm 2023", date(2023, 5, 31)),
        ("trước tháng 1/2023", date(2022, 12, 31)),
        ("trước quý II năm 2023", date(2023, 3, 31)),
        ("trước năm 2024", date(2023, 12, 31)),
        ("trước ngày 1/3/2024", date(2024, 2, 29)),
        ("Trước ngày 15/9/2023", date(2023, 9, 14)),
    ],
)
def test_before_means_the_day_before_the_period_starts(text: str, due: date) -> None:
    assert parse_deadline(text, ISSUED_131).due == due


@pytest.mark.parametrize(
    "text",
    [
        "Tháng 11/2022",
        "THÁNG 11/2022",
        "tháng   11 / 2022",
        "  - Tháng 11-2022 ;",
        "tháng 11.2022",
        "Tháng 11 năm 2022",
        "tháng 11 Năm 2022",
        "tháng 11 2022",
        "trong tháng 11 năm 2022.",
        "hoàn thành trong tháng 11/2022",
        "(Tháng 11/2022)",
        "“Tháng 11/2022”",
        "đến hết tháng 11/2022",
        "cuối tháng 11/2022",
        "Tháng\u00a011/2022",
        "Tháng 11/2022\u200b",
        unicodedata.normalize("NFD", "Thời hạn hoàn thành: trong tháng 11 năm 2022"),
    ],
)
def test_tolerant_input_all_mean_30_11_2022(text: str) -> None:
    deadline = parse_deadline(text, ISSUED_131)
    assert (deadline.kind, deadline.due) == ("fixed", date(2022, 11, 30))
    assert deadline.text == unicodedata.normalize("NFC", text)


@pytest.mark.parametrize(
    "text",
    [
        "Quý I năm 2023",
        "quý i năm 2023",
        "Quý 1/2023",
        "quý 1 2023",
        "Quý I/2023",
        "quý I - 2023",
        "Quí I năm 2023",
        "chậm nhất trong quý I năm 2023",
        "Quý Ⅰ năm 2023",
        "quý 01 năm 2023",
        "3 tháng đầu năm 2023",
        "muộn nhất quý 1 năm 2023",
    ],
)
def test_quarter_i_2023_in_roman_and_arabic(text: str) -> None:
    assert parse_deadline(text, ISSUED_131).due == date(2023, 3, 31)


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("6 tháng đầu năm 2022", date(2022, 6, 30)),
        ("sáu tháng đầu năm 2022", date(2022, 6, 30)),
        ("nửa đầu năm 2022", date(2022, 6, 30)),
        ("nửa năm đầu năm 2022", date(2022, 6, 30)),
        ("6 tháng cuối năm 2022", date(2022, 12, 31)),
        ("nửa cuối năm 2022", date(2022, 12, 31)),
        ("9 tháng đầu năm 2022", date(2022, 9, 30)),
    ],
)
def test_half_years(text: str, due: date) -> None:
    assert parse_deadline(text, ISSUED_03).due == due


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("ngày 30 tháng 9 năm 2022", date(2022, 9, 30)),
        ("chậm nhất ngày 30/9/2022", date(2022, 9, 30)),
        ("chậm nhất là ngày 30.09.2022", date(2022, 9, 30)),
        ("đến ngày 30-9-2022", date(2022, 9, 30)),
        ("vào ngày 30/9/2022", date(2022, 9, 30)),
        ("Hạn: 30/9/2022", date(2022, 9, 30)),
        ("năm 2023", date(2023, 12, 31)),
        ("trong năm 2023", date(2023, 12, 31)),
    ],
)
def test_days_and_years(text: str, due: date) -> None:
    assert parse_deadline(text, ISSUED_03).due == due


def test_target_and_due_in_either_order() -> None:
    reverse = parse_deadline("chậm nhất trong quý I năm 2023; phấn đấu trong tháng 11/2022", ISSUED_131)
    no_comma = parse_deadline("Phấn đấu hoàn thành tháng 11/2022 chậm nhất quý I/2023", ISSUED_131)
    only_target_marked = parse_deadline("Phấn đấu tháng 11/2022, tháng 3/2023", ISSUED_131)
    for deadline in (reverse, no_comma, only_target_marked):
        assert (deadline.target, deadline.due) == (date(2022, 11, 30), date(2023, 3, 31))


def test_due_at_is_the_end_of_the_day_in_vietnam() -> None:
    due_at = parse_deadline("Trước ngày 15/9/2023", ISSUED_DANH_MUC).due_at()
    vietnam = ZoneInfo("Asia/Ho_Chi_Minh")
    assert due_at == datetime.combine(date(2023, 9, 14), time(23, 59, 59, 999999), vietnam)
    assert due_at is not None and due_at.tzinfo == vietnam
    assert due_at.utcoffset() == timedelta(hours=7)
    assert parse_deadline("thường xuyên", ISSUED_DANH_MUC).due_at() is None


def test_every_accepted_form_parses() -> None:
    for form in ACCEPTED_FORMS:
        parse_deadline(form, ISSUED_131)


def test_round_trips_through_json_with_its_recurrence_anchor() -> None:
    for text in (
        "trước ngày 30 tháng 9 hàng năm",
        "Phấn đấu tháng 11/2022, chậm nhất quý I/2023",
        "thường xuyên",
        "trước ngày 5 hằng tháng",
    ):
        deadline = parse_deadline(text, ISSUED_131)
        again = Deadline.model_validate_json(deadline.model_dump_json())
        assert again == deadline
        assert again.occurrences(date(2022, 1, 1), date(2024, 12, 31)) == deadline.occurrences(
            date(2022, 1, 1), date(2024, 12, 31)
        )


def test_the_model_is_frozen_and_refuses_inconsistent_deadlines() -> None:
    deadline = parse_deadline("Tháng 11/2022", ISSUED_131)
    with pytest.raises(ValidationError):
        deadline.due = date(2023, 1, 1)  # type: ignore[misc]  # frozen: the assignment itself is the test
    bad: list[dict[str, object]] = [
        {"kind": "fixed", "text": "x"},
        {"kind": "fixed", "due": date(2023, 1, 1), "target": date(2023, 2, 1), "text": "x"},
        {"kind": "none", "due": date(2023, 1, 1), "text": "x"},
        {"kind": "recurring", "due": date(2023, 1, 30), "recurrence": "monthly", "text": "x"},
        {"kind": "recurring", "due": date(2023, 1, 31), "recurrence": "monthly", "anchor_month": 1, "text": "x"},
        {
            "kind": "recurring",
            "due": date(2023, 1, 31),
            "recurrence": "monthly",
            "anchor_day_before": True,
            "text": "x",
        },
        {
            "kind": "recurring",
            "due": date(2023, 2, 28),
            "recurrence": "yearly",
            "anchor_month": 2,
            "anchor_day": 30,
            "text": "x",
        },
    ]
    for fields in bad:
        with pytest.raises(ValidationError):
            Deadline.model_validate(fields)


def test_an_issued_datetime_is_refused() -> None:
    with pytest.raises(TypeError):
        parse_deadline("Tháng 11/2022", datetime(2022, 11, 21, 9, 0))


# ---------------------------------------------------------------------------------------------
# parse_deadline_or_date


def test_iso_date_is_a_fixed_deadline() -> None:
    deadline = parse_deadline_or_date(" 2023-03-31 ", ISSUED_131)
    assert (deadline.kind, deadline.due, deadline.text) == ("fixed", date(2023, 3, 31), " 2023-03-31 ")


def test_anything_else_goes_to_the_text_parser() -> None:
    assert parse_deadline_or_date("Quý I năm 2023", ISSUED_131).due == date(2023, 3, 31)


def test_an_impossible_iso_date_is_an_error() -> None:
    with pytest.raises(DeadlineParseError, match="2023-02-31 is not a calendar date"):
        parse_deadline_or_date("2023-02-31", ISSUED_131)


# ---------------------------------------------------------------------------------------------
# Errors: never a guess, always the accepted forms


ERRORS = [
    # From the seeds: words that carry no date of their own.
    pytest.param("trước ngày Nghị quyết này có hiệu lực thi hành", "not followed by a day", id="131-until-in-force"),
    pytest.param("Định kỳ", "without a frequency", id="131-periodic-no-frequency"),
    pytest.param("ngay", "Urgency", id="131-immediately"),
    pytest.param("khẩn trương", "Urgency", id="131-urgently"),
    pytest.param("kịp thời", "Urgency", id="131-timely"),
    pytest.param("ngay sau khi được ban hành", "Urgency", id="000-right-after-issue"),
    pytest.param("từ ngày 1/6/2022", "start date", id="000-from-1-6"),
    pytest.param("từ\nngày 1/12/2022", "start date", id="000-from-1-12-wrapped"),
    pytest.param("kể từ ngày 01/01/2023", "start date", id="001-danh-muc-15-from"),
    # Invalid dates.
    pytest.param("31/02/2023", "31/2/2023 is not a calendar date", id="31-feb"),
    pytest.param("ngày 29 tháng 2 năm 2023", "29/2/2023 is not a calendar date", id="29-feb-not-leap"),
    pytest.param("ngày 31/4", "31/4 is not a calendar date", id="31-apr-no-year"),
    pytest.param("tháng 13/2023", "Month 13 does not exist", id="month-13"),
    pytest.param("Tháng 0/2023", "Month 0 does not exist", id="month-0"),
    pytest.param("Quý V năm 2023", "Quarter V does not exist", id="quarter-v"),
    pytest.param("quý 5/2023", "Quarter 5 does not exist", id="quarter-5"),
    pytest.param("13 tháng đầu năm 2023", "no 13 months", id="13-months"),
    # Ambiguous.
    pytest.param("Tháng 11/22", "two-digit year", id="two-digit-year"),
    pytest.param("trước ngày 15/9/23", "two-digit year", id="two-digit-year-day"),
    pytest.param("Tháng 11/202", "not a plausible year", id="three-digit-year"),
    pytest.param("29/2", "29/2 without a year", id="29-feb-no-year"),
    pytest.param("đến tháng 6/2023", "ambiguous", id="until-a-month"),
    pytest.param("đầu tháng 11/2022", "not a precise date", id="early-november"),
    pytest.param("giữa năm 2023", "not a precise date", id="mid-year"),
    pytest.param("Tháng 11/2022, Tháng 12/2022", "Several dates", id="two-unmarked-dates"),
    pytest.param("Phấn đấu tháng 3/2023, chậm nhất tháng 1/2023", "after the latest date", id="target-after-due"),
    pytest.param("trong vòng 30 ngày", "counted from an event", id="relative-days"),
    pytest.param("10 ngày làm việc kể từ ngày nhận", "counted from an event", id="relative-working-days"),
    pytest.param("hằng ngày", "Daily and weekly", id="daily"),
    pytest.param("hàng quý, hàng năm", "More than one recurrence", id="two-recurrences"),
    pytest.param("trước ngày 30/9/2023 hằng năm", "cannot name a year", id="yearly-with-a-year"),
    pytest.param("theo tiến độ, chậm nhất tháng 12/2023", "keep one", id="none-and-a-latest-date"),
    pytest.param("Theo kế hoạch, trong tháng 12/2023", "keep one", id="none-and-a-month"),
    pytest.param("theo lộ trình, trước ngày 15/12/2023", "keep one", id="none-and-a-day"),
    pytest.param("năm", "needs a year", id="year-without-number"),
    # Unreadable.
    pytest.param("", "empty", id="empty"),
    pytest.param(" . ", "empty", id="punctuation-only"),
    pytest.param("sớm nhất có thể", "Urgency", id="asap"),
    pytest.param("Tháng mười một", "not in a recognised form", id="month-in-words"),
    pytest.param("11/2022", "not in a recognised form", id="month-without-thang"),
    pytest.param("sau ngày 30/9/2022", "after", id="after"),
    pytest.param("2023-03-31", "not in a recognised form", id="iso-only-through-parse_deadline_or_date"),
]


@pytest.mark.parametrize(("text", "what"), ERRORS)
def test_unreadable_deadlines_name_what_is_wrong_and_the_accepted_forms(text: str, what: str) -> None:
    with pytest.raises(DeadlineParseError) as caught:
        parse_deadline(text, ISSUED_131)
    error = caught.value
    assert isinstance(error, ValueError)
    assert what in error.message_en
    assert error.text == unicodedata.normalize("NFC", text)
    assert error.message_vi and error.message_vi != error.message_en
    assert error.accepted_forms == ACCEPTED_FORMS
    message = str(error)
    assert error.message_en in message and "Accepted forms" in message
    assert all(form in message for form in ACCEPTED_FORMS)


def test_the_error_survives_pickling() -> None:
    with pytest.raises(DeadlineParseError) as caught:
        parse_deadline("Quý V năm 2023", ISSUED_131)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (again.text, again.message_en, again.message_vi, again.accepted_forms) == (
        caught.value.text,
        caught.value.message_en,
        caught.value.message_vi,
        caught.value.accepted_forms,
    )
    assert str(again) == str(caught.value)


def test_vietnamese_messages_are_vietnamese() -> None:
    with pytest.raises(DeadlineParseError) as caught:
        parse_deadline("Tháng 13/2023", ISSUED_131)
    assert caught.value.message_vi == "Không có tháng 13"
    assert re.search(r"[ăâđêôơư]", caught.value.message_vi)
