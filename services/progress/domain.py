"""Progress rules: the status workflow, who may do what, when reminders fire. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from events.clock import VN_TZ
from events.deadlines import Deadline
from events.progress import Evidence
from events.workdays import WorkingCalendar
from services.runtime.refusals import Refused

Status = Literal["assigned", "in_progress", "completion_reported", "completed", "withdrawn"]
# Statuses in which the lead agency still owes work: only these are reminded and can become overdue.
OPEN: frozenset[str] = frozenset({"assigned", "in_progress"})
FIRST_PLAN = 1
"""A new task's plan number (adapters.insert_tasks, planning.plan_new); every re-plan bumps it."""

# Reminders arrive at the start of the working day, not at midnight.
REMINDER_TIME = time(8, 0)

APPROACHING = "deadline-approaching"
OVERDUE = "task-overdue"


@dataclass(frozen=True)
class Task:
    """A row of ``progress.tasks`` as the repository (adapters.py) reads it: a renamed column is a type
    error in every reader, not a KeyError at run time. Changes go through ``dataclasses.replace``."""

    task_id: str
    code: str
    title: str
    assigning_agency_id: str
    lead_agency_id: str
    officer_in_charge_id: str | None
    key_task: bool
    deadline: Deadline
    original_due: date | None
    due: date | None
    status: str
    percent: int
    completed_on: date | None
    on_time: bool | None
    product: str | None
    updated_at: datetime | None
    coordinating_agency_ids: tuple[str, ...]
    parent_task_id: str | None
    lead_days: tuple[int, ...] | None
    plan: int
    note: str
    reported_on: date | None
    evidence: Evidence | None
    open_children_override: str | None
    return_reason: str | None
    classification: str | None
    assigned_on: date | None


def overdue_at(due: date) -> datetime:
    """A due date ends at midnight, Asia/Ho_Chi_Minh: overdue from the next day's first instant."""
    return datetime.combine(due + timedelta(days=1), time(0, 0), tzinfo=VN_TZ)


def reminder_times(
    due: date, now: datetime, calendar: WorkingCalendar, lead_days: tuple[int, ...]
) -> list[tuple[int, datetime]]:
    """(working days left, when to remind) for each lead time still ahead of ``now``."""
    times = []
    for n in sorted({d for d in lead_days if d > 0}, reverse=True):
        at = datetime.combine(calendar.subtract_working_days(due, n), REMINDER_TIME, tzinfo=VN_TZ)
        if at > now:
            times.append((n, at))
    return times


def lead_days_for(task: Task, default: tuple[int, ...], key_task: tuple[int, ...]) -> tuple[int, ...]:
    """A per-task override wins; otherwise key tasks follow their own, shorter lead times."""
    if task.lead_days is not None:
        return task.lead_days
    return key_task if task.key_task else default


def is_on_time(reported_on: date, due: date | None) -> bool | None:
    """On time compares the day completion was *reported* with the deadline in force (DESIGN §4)."""
    return None if due is None else reported_on <= due


def require_lead(task: Task, agency_id: str) -> None:
    """Progress and completion come from the lead agency only; a coordinator is told what it may do."""
    if agency_id == task.lead_agency_id:
        return
    if agency_id in task.coordinating_agency_ids:
        raise Refused(
            "coordinator-cannot-report",
            f"{agency_id} coordinates this task: it may add a note on its part (POST …/notes), but only the "
            f"lead agency {task.lead_agency_id} reports progress or completion",
            f"Cơ quan phối hợp ({agency_id}) chỉ được ghi chú phần việc của mình; chỉ cơ quan chủ trì "
            f"({task.lead_agency_id}) được báo cáo tiến độ, kết quả thực hiện nhiệm vụ",
            403,
        )
    raise Refused(
        "not-lead-agency",
        f"only the lead agency ({task.lead_agency_id}) reports progress or completion of this task",
        f"Chỉ cơ quan chủ trì ({task.lead_agency_id}) được báo cáo tiến độ, kết quả nhiệm vụ này",
        403,
    )


def require_assigner(task: Task, agency_id: str) -> None:
    if agency_id != task.assigning_agency_id:
        raise Refused(
            "not-assigning-agency",
            f"only the assigning agency ({task.assigning_agency_id}) confirms or returns a completion report",
            f"Chỉ cơ quan giao nhiệm vụ ({task.assigning_agency_id}) được xác nhận hoặc trả lại báo cáo hoàn thành",
            403,
        )


def require_involved(task: Task, agency_id: str) -> None:
    if agency_id != task.lead_agency_id and agency_id not in task.coordinating_agency_ids:
        raise Refused(
            "not-involved",
            "only the lead or a coordinating agency of this task adds notes to it",
            "Chỉ cơ quan chủ trì hoặc cơ quan phối hợp của nhiệm vụ được ghi chú tiến độ",
            403,
        )


def require_status(task: Task, allowed: frozenset[str], action_vi: str) -> None:
    if task.status not in allowed:
        raise Refused(
            f"task-{task.status.replace('_', '-')}",
            f"the task is {task.status}; this needs it to be one of: {', '.join(sorted(allowed))}",
            f"Không thể {action_vi}: nhiệm vụ đang ở trạng thái «{STATUS_VI[task.status]}»",
            409,
        )


STATUS_VI = {
    "assigned": "đã giao",
    "in_progress": "đang thực hiện",
    "completion_reported": "đã báo cáo hoàn thành, chờ xác nhận",
    "completed": "đã hoàn thành",
    "withdrawn": "đã rút",
}


@dataclass(frozen=True)
class Rollup:
    """A delegated task's children at a glance (DESIGN: parent roll-up)."""

    children: int
    completed: int
    earliest_open_due: date | None
    any_overdue: bool

    @property
    def open(self) -> int:
        return self.children - self.completed
