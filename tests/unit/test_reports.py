"""Rules of the reporting domain, each named for the rule (no broker, no database)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from rich.console import Console

from services.reporting.domain import (
    STATES,
    BucketCount,
    Figures,
    ageing_from,
    ageing_of,
    bucket_of,
    change_between,
    empty_tally,
    figures_from,
    figures_of,
    state_of,
)
from services.reporting.export import to_csv, to_rich
from services.reporting.paragraph import working_group_paragraph
from services.reporting.responses import ReportBody
from services.reporting.vietnamese import sort_key_vi, vn_number

TODAY = date(2021, 2, 28)


def working_group_figures(overdue: int = 343) -> Figures:
    """Seed 004: 10.527 assigned; 6.954 completed (6.185 on time, 769 late); 3.230 within; 343 overdue."""
    return Figures(
        assigned=6185 + 769 + 3230 + overdue,
        completed_on_time=6185,
        completed_late=769,
        unfinished_within_deadline=3230,
        unfinished_overdue=overdue,
    )


OVERDUE_ITEM: dict[str, Any] = {
    "task_id": "t-1",
    "code": "X#1",
    "title": "Nhiệm vụ",
    "document": "131/NQ-CP",
    "lead_agency_id": "btp",
    "lead_agency_name": None,
    "assigning_agency_id": "cp",
    "assigning_agency_name": None,
    "key_task": False,
    "percent": 0,
    "original_due": None,
    "due": "2020-10-31",
    "days_overdue": 1,
    "not_started": True,
    "person_id": None,
    "person_name": None,
    "person_title": None,
    "person_role": None,
}


def report_body(**parts: Any) -> ReportBody:
    """A whole report body (GET /v1/reports/summary) around the parts a test is about: the rows it lists
    need only the fields it reads (the others take the values of an unremarkable row)."""
    f = working_group_figures().model_dump()
    body: dict[str, Any] = {
        "as_of": "2021-02-28T23:59:59.999999+07:00",
        "date": "2021-02-28",
        "live": False,
        "scope": "Chính phủ",
        "filters": {"agency_id": None, "lead_only": False, "document": None, "from": None, "to": None},
        "figures": f,
        "key_tasks": f,
        "previous": {
            "basis": "month",
            "as_of": "2021-01-28T23:59:59.999999+07:00",
            "from": None,
            "to": None,
            "figures": f,
            "key_tasks": f,
        },
        "change": change_between(working_group_figures(), working_group_figures()).model_dump(),
        "ageing": [],
        "by_agency": {"parent": {"agency_id": None, "name": "Chính phủ"}, "rows": []},
        "by_document": [],
        "overdue": {"total": 0, "shown": 0, "items": []},
        "withdrawn": {"total": 0, "items": []},
        "paragraph_vi": "…",
        "labels_vi": {},
        "colours": {},
        **parts,
    }
    body["filters"].setdefault("as_recorded", body.get("as_recorded", False))
    body["by_agency"] = {"parent": {"agency_id": None, "name": body["scope"]}, **body["by_agency"]}
    body["by_agency"]["rows"] = [
        {"agency_id": r["name"], "short_name": r["name"], "head": None, **r} for r in body["by_agency"]["rows"]
    ]
    body["by_document"] = [
        {"issued_on": None, "issuer": "", "rows_listed": 0, "lead_assignments": 0, "completed_percent": 0.0, **d}
        for d in body["by_document"]
    ]
    overdue = {"shown": len(body["overdue"]["items"]), **body["overdue"]}
    overdue.setdefault("total", overdue["shown"])
    overdue["items"] = [{**OVERDUE_ITEM, **item} for item in overdue["items"]]
    body["overdue"] = overdue
    return ReportBody.model_validate(body)


def test_numbers_are_written_the_vietnamese_way() -> None:
    assert (vn_number(10527), vn_number(3.2, 1), vn_number(1234567.5, 1), vn_number(0)) == (
        "10.527",
        "3,2",
        "1.234.567,5",
        "0",
    )


def test_overdue_share_is_cut_to_one_decimal_as_the_working_group_prints_it() -> None:
    share = working_group_figures().overdue_share
    assert (share.percent, share.text, share.base, share.base_count) == (3.2, "3,2%", "assigned", 10527)


def test_overdue_share_of_nothing_assigned_is_zero() -> None:
    assert Figures().overdue_share.percent == 0.0


def test_the_paragraph_reproduces_the_working_groups_report() -> None:
    now, before = working_group_figures(), working_group_figures(overdue=330)  # 330 / 10.514 = 3,1%
    text = working_group_paragraph(
        now, as_of=TODAY, scope="Chính phủ, Thủ tướng Chính phủ", change=change_between(now, before)
    )
    assert text == (
        "Chính phủ, Thủ tướng Chính phủ, lũy kế đến ngày 28/02/2021: 10.527 nhiệm vụ được giao; "
        "6.954 nhiệm vụ đã hoàn thành (đúng hạn: 6.185, quá hạn: 769); 3.230 nhiệm vụ đang thực hiện "
        "trong hạn; 343 nhiệm vụ quá hạn chưa hoàn thành (chiếm 3,2%, tăng 0,1% so với tháng trước)."
    )


def test_a_falling_share_reads_giam() -> None:
    now, before = working_group_figures(overdue=330), working_group_figures()
    text = working_group_paragraph(now, as_of=TODAY, scope="X", change=change_between(now, before))
    assert "giảm 0,1% so với tháng trước" in text


def test_a_task_due_today_is_within_its_deadline_until_the_day_ends() -> None:
    rows = [BucketCount("started", TODAY, False, 1)]
    assert figures_of(rows, TODAY).unfinished_within_deadline == 1
    assert figures_of(rows, date(2021, 3, 1)).unfinished_overdue == 1


def test_no_fixed_deadline_and_withdrawn_are_counted_apart_from_assigned() -> None:
    rows = [
        BucketCount("nodl_open", None, False, 2),
        BucketCount("withdrawn", None, False, 3),
        BucketCount("on_time", None, False, 1),
    ]
    f = figures_of(rows, TODAY)
    assert (f.assigned, f.no_fixed_deadline, f.withdrawn, f.completed) == (1, 2, 3, 1)


def test_not_started_is_the_grey_part_of_within_deadline_only() -> None:
    rows = [
        BucketCount("new", TODAY, False, 2),
        BucketCount("new", date(2020, 1, 1), False, 5),
        BucketCount("started", TODAY, False, 1),
    ]
    f = figures_of(rows, TODAY)
    assert (f.not_started, f.in_progress, f.unfinished_overdue) == (2, 1, 5)


def test_key_tasks_are_counted_apart() -> None:
    rows = [BucketCount("new", TODAY, True, 2), BucketCount("new", TODAY, False, 5)]
    assert figures_of(rows, TODAY, key_only=True).assigned == 2


def test_overdue_ageing_bands_are_30_90_120_days() -> None:
    rows = [
        BucketCount("new", date.fromordinal(TODAY.toordinal() - days), False, 1)
        for days in (1, 30, 31, 90, 91, 120, 121, 400)
    ]
    assert [b.count for b in ageing_of(rows, TODAY)] == [2, 2, 2, 2]


def test_completion_on_time_or_late_follows_the_verdict_and_withdrawal_wins() -> None:
    assert bucket_of(withdrawn=False, has_deadline=True, completed=True, on_time=False, started=True) == "late"
    assert bucket_of(withdrawn=False, has_deadline=True, completed=True, on_time=True, started=True) == "on_time"
    assert bucket_of(withdrawn=False, has_deadline=False, completed=True, on_time=None, started=True) == "nodl_done"
    assert bucket_of(withdrawn=True, has_deadline=True, completed=False, on_time=None, started=True) == "withdrawn"


def test_agency_names_sort_in_vietnamese_order_not_code_points() -> None:
    names = [
        "Văn phòng UBND tỉnh",
        "Ủy ban nhân dân huyện",
        "Sở Tư pháp",
        "Đài Phát thanh",
        "Bộ Y tế",
        "Ban Dân tộc",
        "Sở Tài chính",
        "Trường số 10",
        "Trường số 2",
        "Ủy ban Dân tộc",
    ]
    assert sorted(names, key=sort_key_vi) == [
        "Ban Dân tộc",
        "Bộ Y tế",
        "Đài Phát thanh",
        "Sở Tài chính",
        "Sở Tư pháp",
        "Trường số 2",
        "Trường số 10",
        "Ủy ban Dân tộc",
        "Ủy ban nhân dân huyện",
        "Văn phòng UBND tỉnh",
    ]


def test_tones_order_after_base_letters_ngang_huyen_hoi_nga_sac_nang() -> None:
    words = ["má", "mạ", "mà", "ma", "mả", "mã"]
    assert sorted(words, key=sort_key_vi) == ["ma", "mà", "mả", "mã", "má", "mạ"]


def test_csv_uses_vietnamese_numbers() -> None:
    text = to_csv(report_body())
    assert "Nhiệm vụ được giao,10.527" in text and '"3,2%"' in text


def test_a_tally_of_states_gives_the_figures_and_ageing_of_the_categories() -> None:
    """The read models count tasks per state on a day (``state_of``); the figures and ageing bands of
    such a tally are those the categories give for the same tasks (random tasks, random days)."""
    rng = random.Random(131)
    buckets = ("new", "started", "on_time", "late", "nodl_open", "nodl_done", "withdrawn")
    for _ in range(200):
        today = TODAY + timedelta(days=rng.randint(-400, 400))
        rows = []
        for _ in range(rng.randint(0, 30)):
            bucket = rng.choice(buckets)
            due = today + timedelta(days=rng.randint(-200, 60)) if bucket in ("new", "started") else None
            rows.append(BucketCount(bucket, due, rng.random() < 0.2, rng.randint(1, 5)))
        tally, key = empty_tally(), empty_tally()
        for row in rows:
            tally[state_of(row.bucket, row.due, today)] += row.n
            if row.key_task:
                key[state_of(row.bucket, row.due, today)] += row.n
        assert figures_from(tally) == figures_of(rows, today)
        assert figures_from(key) == figures_of(rows, today, key_only=True)
        assert ageing_from(tally) == ageing_of(rows, today)


def test_states_around_a_deadline() -> None:
    due = TODAY
    names = [STATES[state_of("new", due, due + timedelta(days=d))] for d in (0, 1, 30, 31, 90, 91, 120, 121)]
    assert names == [
        "new_within",
        "overdue_1_30",
        "overdue_1_30",
        "overdue_31_90",
        "overdue_31_90",
        "overdue_91_120",
        "overdue_91_120",
        "overdue_over_120",
    ]
    assert STATES[state_of("started", due, due)] == "started_within"


def test_the_table_writes_numbers_the_vietnamese_way() -> None:
    f = working_group_figures()
    body = report_body(
        change=change_between(f, working_group_figures(overdue=330)).model_dump(),
        by_agency={"rows": [{"name": "Bộ Tư pháp", "own": False, "head": None, "figures": f.model_dump()}]},
        overdue={
            "total": 1,
            "items": [
                {
                    "code": "X#1",
                    "title": "Nhiệm vụ",
                    "lead_agency_id": "btp",
                    "lead_agency_name": "Bộ Tư pháp",
                    "person_name": "Nguyễn Văn A",
                    "person_role": "head",
                    "due": "2020-10-31",
                    "days_overdue": 1210,
                }
            ],
        },
    )
    console = Console(width=200, record=True)
    console.print(to_rich(body))
    text = console.export_text()
    assert "10.527" in text and "6.185" in text and "3,2%" in text and "+13" in text
    assert "31/10/2020" in text and "1.210" in text and "Nguyễn Văn A (người đứng đầu)" in text
    assert "10,527" not in text and "3.2%" not in text
