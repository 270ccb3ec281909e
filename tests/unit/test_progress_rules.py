"""Rules of the progress service, pure: reminders in working days, lead times, on time, who may write."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from events.clock import VN_TZ
from events.workdays import WorkingCalendar
from services.progress.domain import (
    OPEN,
    is_on_time,
    lead_days_for,
    overdue_at,
    reminder_times,
    require_assigner,
    require_involved,
    require_lead,
    require_status,
)
from services.runtime.refusals import Refused
from tests.fakes.progress import a_task

CAL = WorkingCalendar()
TASK = a_task(
    "t-1",
    lead_agency_id="bd-sgddt",
    coordinating_agency_ids=("bd-stc",),
    assigning_agency_id="ubnd-bd",
    status="in_progress",
)


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=VN_TZ)


def test_reminders_default_to_7_3_and_1_working_days_at_8_in_the_morning() -> None:
    # 30/11/2022 is a Wednesday: 7 working days back is Monday 21/11 (a weekend between).
    assert reminder_times(date(2022, 11, 30), at(2022, 11, 4, 9), CAL, (7, 3, 1)) == [
        (7, at(2022, 11, 21, 8)),
        (3, at(2022, 11, 25, 8)),
        (1, at(2022, 11, 29, 8)),
    ]


def test_reminders_skip_tet_and_public_holidays() -> None:
    # Tuesday 31/1/2023: Tết (20–26/1/2023) is not counted, so 3 working days back is Thursday 19/1.
    assert reminder_times(date(2023, 1, 31), at(2023, 1, 2, 9), CAL, (3,)) == [(3, at(2023, 1, 19, 8))]


def test_reminders_already_in_the_past_are_not_planned() -> None:
    assert [n for n, _ in reminder_times(date(2022, 11, 30), at(2022, 11, 28, 9), CAL, (7, 3, 1))] == [1]


def test_key_tasks_use_their_shorter_lead_times_and_a_task_override_wins() -> None:
    assert lead_days_for(TASK, (7, 3, 1), (3, 2, 1)) == (7, 3, 1)
    assert lead_days_for(replace(TASK, key_task=True), (7, 3, 1), (3, 2, 1)) == (3, 2, 1)
    assert lead_days_for(replace(TASK, key_task=True, lead_days=(10, 5)), (7, 3, 1), (3, 2, 1)) == (10, 5)


def test_a_task_is_overdue_from_the_first_instant_after_its_due_day_in_vietnam() -> None:
    assert overdue_at(date(2022, 11, 30)) == at(2022, 12, 1, 0)


def test_on_time_compares_the_report_date_with_the_deadline_in_force() -> None:
    assert is_on_time(date(2022, 11, 30), date(2022, 11, 30)) is True
    assert is_on_time(date(2022, 12, 1), date(2022, 11, 30)) is False
    assert is_on_time(date(2022, 12, 1), None) is None  # no fixed deadline: counted apart


def test_only_the_lead_agency_reports_and_a_coordinator_is_told_it_may_only_add_a_note() -> None:
    require_lead(TASK, "bd-sgddt")
    with pytest.raises(Refused) as coordinator:
        require_lead(TASK, "bd-stc")
    assert (coordinator.value.status_code, coordinator.value.code) == (403, "coordinator-cannot-report")
    assert "ghi chú" in coordinator.value.message_vi
    with pytest.raises(Refused) as other:
        require_lead(TASK, "bd-syt")
    assert other.value.code == "not-lead-agency"


def test_the_lead_and_coordinators_may_add_notes_others_may_not() -> None:
    require_involved(TASK, "bd-stc")
    require_involved(TASK, "bd-sgddt")
    with pytest.raises(Refused, match="lead or a coordinating"):
        require_involved(TASK, "bd-syt")


def test_only_the_assigning_agency_confirms_or_returns_a_completion() -> None:
    require_assigner(TASK, "ubnd-bd")
    with pytest.raises(Refused) as rejected:
        require_assigner(TASK, "bd-sgddt")
    assert rejected.value.code == "not-assigning-agency"


def test_a_completed_or_withdrawn_task_takes_no_more_progress() -> None:
    require_status(TASK, OPEN, "báo cáo tiến độ")
    for status in ("completion_reported", "completed", "withdrawn"):
        with pytest.raises(Refused) as rejected:
            require_status(replace(TASK, status=status), OPEN, "báo cáo tiến độ")
        assert rejected.value.status_code == 409
        assert rejected.value.code == f"task-{status.replace('_', '-')}"
