"""Progress rules: when reminders fire, what counts as on time. Pure, no I/O."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from pydantic import Field

from events.clock import VN_TZ
from events.envelope import Frozen
from events.text import NFCStr
from events.workdays import WorkingCalendar

DEFAULT_LEAD_DAYS: tuple[int, ...] = (7, 3, 1)
# Reminders arrive at the start of the working day, not at midnight.
REMINDER_TIME = time(8, 0)

APPROACHING = "deadline-approaching"
OVERDUE = "task-overdue"


def overdue_at(due: date) -> datetime:
    """A due date ends at midnight, Asia/Ho_Chi_Minh: the task is overdue from the next day's first instant."""
    return datetime.combine(due + timedelta(days=1), time(0, 0), tzinfo=VN_TZ)


def reminder_times(
    due: date, now: datetime, calendar: WorkingCalendar, lead_days: tuple[int, ...] = DEFAULT_LEAD_DAYS
) -> list[tuple[int, datetime]]:
    """(working days left, when to remind) for each lead time still ahead of ``now``."""
    times = []
    for n in sorted(set(lead_days), reverse=True):
        at = datetime.combine(calendar.subtract_working_days(due, n), REMINDER_TIME, tzinfo=VN_TZ)
        if at > now:
            times.append((n, at))
    return times


def is_on_time(reported_on: date, due: date | None) -> bool | None:
    return None if due is None else reported_on <= due


class ReportProgress(Frozen):
    agency_id: str = Field(min_length=1, description="The reporting agency: must be the lead agency")
    percent: int = Field(ge=0, le=100)
    note: NFCStr = ""
    idempotency_key: NFCStr | None = None


class ReportCompletion(Frozen):
    agency_id: str = Field(min_length=1, description="The reporting agency: must be the lead agency")
    product: NFCStr = Field(min_length=1, description="Sản phẩm: document number and date, or a link")
    idempotency_key: NFCStr | None = None


class ProgressRejected(ValueError):
    def __init__(self, status_code: int, code: str, message_en: str, message_vi: str) -> None:
        super().__init__(message_en)
        self.status_code, self.code, self.message_en, self.message_vi = status_code, code, message_en, message_vi
